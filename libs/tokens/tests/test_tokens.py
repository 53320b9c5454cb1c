"""Token counts and cuts, as cl100k counts them, without a download."""

from __future__ import annotations

from twinmcp.tokens import count_tokens, truncate_to_tokens


def test_counts_tokens_as_cl100k_does() -> None:
    assert count_tokens("") == 0
    assert count_tokens("hello world") == 2
    # Special-token text is counted as plain text, never refused.
    assert count_tokens("<|endoftext|>") > 1


def test_truncation_keeps_the_longest_prefix_within_the_limit() -> None:
    text = "FastAPI adds CORS with CORSMiddleware and a list of allowed origins."
    assert truncate_to_tokens(text, 1000) == text
    assert truncate_to_tokens(text, 0) == ""
    cut = truncate_to_tokens(text, 5)
    assert text.startswith(cut)
    assert count_tokens(cut) <= 5 < count_tokens(text)

"""Rendering QueryDocs answers: the budgeted text is the same as counting the whole each time."""

from __future__ import annotations

import random

from twinmcp.search.rendering import (
    NO_MATCH,
    SEPARATOR,
    TRUNCATED,
    Header,
    docs_header,
    format_snippet,
    render_docs,
)
from twinmcp.search.snippets import KIND_CODE, KIND_INFO, SnippetRecord, printed_tokens
from twinmcp.tokens import count_tokens, truncate_to_tokens

_WORDS = [
    "client",
    "timeout",
    "httpx.Client(timeout=5.0)",
    "résumé",
    "naïve",
    "東京",
    "```",
    "->",
    "=>",
    "{}",
    "[]",
    "()",
    "\n\n",
    "def",
    "async",
    "await",
    "return",
    "None",
    "True",
    "False",
    "12345",
    "0.25",
    "'quoted'",
    '"double"',
    "#",
    "##",
    "###",
    "configure",
    "the",
    "transport",
    "retries",
    "limits",
    "proxies",
    "mounts",
    "event_hooks",
]

HEADER = Header(
    library_id="/encode/httpx",
    title="HTTPX",
    version="0.27",
    available_versions=["0.27", "0.26"],
    rules=["Prefer httpx.Client over module-level calls."],
    withheld_snippets=0,
)


def _reference(snippets: list[SnippetRecord], budget: int) -> tuple[str, list[str]]:
    """The straightforward rendering: the whole text is counted after each snippet."""
    text = truncate_to_tokens(docs_header(HEADER), budget)
    kept: list[str] = []
    for snippet in snippets:
        candidate = text + SEPARATOR + format_snippet(snippet)
        if count_tokens(candidate) <= budget:
            text = candidate
            kept.append(snippet.snippet_id)
            continue
        if not kept:
            room = budget - count_tokens(text + SEPARATOR + TRUNCATED)
            if room > 20:
                cut = truncate_to_tokens(candidate, count_tokens(text + SEPARATOR) + room)
                text = cut + TRUNCATED
                while count_tokens(text) > budget:
                    cut = truncate_to_tokens(cut, count_tokens(cut) - 5)
                    text = cut + TRUNCATED
                kept.append(snippet.snippet_id)
        break
    if not snippets:
        text = truncate_to_tokens(text + NO_MATCH, budget)
    return text, kept


def _snippet(rng: random.Random, n: int) -> SnippetRecord:
    content = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(5, 400)))
    description = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(0, 20)))
    url = f"https://example.org/{n}/"
    return SnippetRecord(
        snippet_id=f"s{n}",
        kind=rng.choice((KIND_CODE, KIND_INFO)),
        title=f"Part {n}",
        description=description,
        language=rng.choice(("python", "", "bash")),
        content=content,
        breadcrumb=("Guide", f"Part {n}"),
        source_path="",
        source_url=url,
        anchor=f"a{n}" if n % 2 else "",
        tokens=printed_tokens(f"Part {n}", description, content, url, ""),
    )


def _snippets(rng: random.Random, count: int) -> list[SnippetRecord]:
    return [_snippet(rng, n) for n in range(count)]


def test_rendering_keeps_what_counting_the_whole_text_each_time_keeps() -> None:
    rng = random.Random(7)
    for case in range(60):
        snippets = _snippets(rng, rng.randint(0, 12))
        budget = rng.choice((30, 60, 100, 300, 500, 1200, 2000, 5000))
        rendered = render_docs(HEADER, snippets, budget)
        text, kept = _reference(snippets, budget)
        assert rendered.text == text, f"case {case}, budget {budget}"
        assert [s.snippet_id for s in rendered.snippets] == kept
        assert count_tokens(rendered.text) <= budget


def test_a_budget_met_exactly_by_the_whole_text_keeps_every_snippet_that_fits() -> None:
    # Pieces counted apart may sum to more than the whole (BPE merges across the seams).
    rng = random.Random(11)
    for case in range(40):
        snippets = _snippets(rng, rng.randint(2, 10))
        text = docs_header(HEADER)
        for snippet in snippets[: rng.randint(1, len(snippets))]:
            text += SEPARATOR + format_snippet(snippet)
        budget = count_tokens(text)
        rendered = render_docs(HEADER, snippets, budget)
        assert rendered.text == _reference(snippets, budget)[0], f"case {case}"
        assert rendered.text.startswith(text)


def test_a_first_snippet_too_big_for_the_budget_is_cut_and_marked_in_text_and_snippet() -> None:
    big = _snippet(random.Random(1), 0)
    content = "word " * 5000
    big = SnippetRecord(**{**big.__dict__, "content": content, "kind": KIND_INFO})
    rendered = render_docs(HEADER, [big], 500)
    assert rendered.text.endswith(TRUNCATED)
    assert count_tokens(rendered.text) <= 500
    [shown] = rendered.snippets
    # The structured snippet holds what the text shows of it, marked the same way.
    assert shown.content.endswith(TRUNCATED)
    assert content.startswith(shown.content.removesuffix(TRUNCATED))
    assert rendered.text.endswith(shown.content)
    assert shown.tokens == printed_tokens(
        big.title, big.description, shown.content, big.source_url, big.source_path
    )
    assert rendered.text.startswith(docs_header(HEADER) + SEPARATOR + f"### {big.title}")


def test_a_first_snippet_cut_in_its_description_shows_no_content() -> None:
    base = _snippet(random.Random(2), 0)
    description = "word " * 400
    big = SnippetRecord(**{**base.__dict__, "kind": KIND_CODE, "description": description})
    rendered = render_docs(HEADER, [big], 200)
    [shown] = rendered.snippets
    assert shown.content == TRUNCATED
    assert count_tokens(rendered.text) <= 200


def test_a_header_too_big_for_the_budget_leaves_no_room_for_snippets() -> None:
    rendered = render_docs(HEADER, _snippets(random.Random(4), 3), 20)
    assert rendered.snippets == []
    assert count_tokens(rendered.text) <= 20


# Snippet endings and starts where cl100k's split could join text across a seam: punctuation
# that takes the newlines after it, trailing whitespace of every kind, contractions, digits.
_EDGES = [
    "",
    "word",
    "word.",
    "call()",
    "```",
    "end  ",
    "end\n",
    "end\n\n\n",
    "end \n \n",
    "end\r\n",
    "tab\t",
    "it's",
    "they'll",
    "'",
    "12345",
    "3.14",
    "x = 1;",
    "nbsp\u00a0",
    "line sep\u2028",
    "separator\x1c",
    "東京",
    "emoji 🙂",
    "-->",
    "a\n-b",
    "a\n b",
    "## heading",
    "<|endoftext|>",
]


def _edge_snippet(rng: random.Random, n: int) -> SnippetRecord:
    snippet = _snippet(rng, n)
    content = rng.choice(_EDGES) + " " + snippet.content + rng.choice(_EDGES)
    if rng.random() < 0.3:
        content = rng.choice(_EDGES)
    return SnippetRecord(
        **{
            **snippet.__dict__,
            "content": content,
            "description": rng.choice([*_EDGES, snippet.description]),
        }
    )


def test_the_count_of_a_rendered_text_is_exact_whatever_its_snippets_end_with() -> None:
    rng = random.Random(18)
    for case in range(150):
        snippets = [_edge_snippet(rng, n) for n in range(rng.randint(1, 8))]
        budget = rng.choice((40, 150, 400, 1000, 3000))
        rendered = render_docs(HEADER, snippets, budget)
        assert rendered.tokens == count_tokens(rendered.text), f"case {case}"
        text, kept = _reference(snippets, budget)
        assert rendered.text == text, f"case {case}, budget {budget}"
        assert [s.snippet_id for s in rendered.snippets] == kept

"""Packing ranked snippets into a token budget."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from twinmcp.search.packing import pack
from twinmcp.search.ranking import Ranked, VersionIndex
from twinmcp.search.snippets import SNIPPET_OVERHEAD_TOKENS, SnippetRecord, cost, printed_tokens


def _snippet(number: int, words: int) -> SnippetRecord:
    content = " ".join(f"client{number} timeout setting value" for _ in range(words))
    title = f"Section {number}"
    path = f"docs/page{number % 5}.md"
    return SnippetRecord(
        str(number),
        "info",
        title,
        "",
        "",
        content,
        ("Guide", title),
        path,
        "",
        "",
        printed_tokens(title, "", content, "", path),
    )


SNIPPETS = [_snippet(n, 1 + (n * 37) % 90) for n in range(40)]
INDEX = VersionIndex.build("b1", SNIPPETS)


@settings(max_examples=150, deadline=None)
@given(budget=st.integers(min_value=0, max_value=6000), floor=st.floats(0.0, 1.0))
def test_an_answer_never_exceeds_the_budget(budget: int, floor: float) -> None:
    ranked = INDEX.search("client timeout setting")
    packed = pack(ranked, budget, relevance_floor=floor)
    assert packed.tokens_used <= budget
    assert packed.tokens_used == sum(cost(r.snippet) for r in packed.snippets)


def test_each_snippet_is_charged_its_printed_tokens_plus_the_overhead() -> None:
    assert cost(SNIPPETS[0]) == SNIPPETS[0].tokens + SNIPPET_OVERHEAD_TOKENS


def test_snippets_come_in_rank_order_and_stop_when_relevance_falls_off() -> None:
    ranked = [Ranked(SNIPPETS[i], score) for i, score in enumerate([1.0, 0.9, 0.8, 0.7, 0.2])]
    packed = pack(ranked, 100_000, relevance_floor=0.5, minimum_snippets=1, minimum_fill=0.0)
    assert [r.score for r in packed.snippets] == [1.0, 0.9, 0.8, 0.7]


def test_a_short_answer_fills_its_share_of_the_budget_before_relevance_ends_it() -> None:
    ranked = [Ranked(SNIPPETS[i], score) for i, score in enumerate([1.0, 0.3, 0.2, 0.2, 0.1, 0.1])]
    prices = [cost(r.snippet) for r in ranked]
    # Four snippets reach 40% of this budget, three do not.
    budget = int(sum(prices[:4]) / 0.4)
    assert sum(prices[:3]) < 0.4 * budget <= sum(prices[:4])
    packed = pack(ranked, budget, relevance_floor=0.5, minimum_snippets=1, minimum_fill=0.4)
    assert [r.snippet.snippet_id for r in packed.snippets] == ["0", "1", "2", "3"]
    # Without the share the floor ends the answer after the minimum.
    bare = pack(ranked, budget, relevance_floor=0.5, minimum_snippets=1, minimum_fill=0.0)
    assert [r.snippet.snippet_id for r in bare.snippets] == ["0"]


def test_a_snippet_too_big_for_what_is_left_is_skipped_for_a_smaller_one() -> None:
    big = Ranked(_snippet(1, 400), 1.0)
    small = Ranked(_snippet(2, 2), 0.9)
    packed = pack([big, small], cost(small.snippet) + 5)
    assert [r.snippet.snippet_id for r in packed.snippets] == ["2"]


def test_near_duplicate_snippets_are_returned_once() -> None:
    twin = SnippetRecord(
        "t",
        "info",
        "Copy",
        "",
        "",
        SNIPPETS[3].content,
        ("Other",),
        "docs/other.md",
        "",
        "",
        SNIPPETS[3].tokens,
    )
    index = VersionIndex.build("b2", [*SNIPPETS[:10], twin])
    contents = [r.snippet.content for r in index.search("client3 timeout")]
    assert contents.count(SNIPPETS[3].content) == 1


def test_an_index_survives_serialisation() -> None:
    restored = VersionIndex.from_bytes(INDEX.to_bytes())
    assert restored is not None
    query = "client7 timeout"
    assert [r.snippet for r in restored.search(query)] == [r.snippet for r in INDEX.search(query)]

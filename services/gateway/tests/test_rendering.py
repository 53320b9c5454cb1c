"""Rendering query-docs answers: the budgeted text is the same as counting the whole each time."""

from __future__ import annotations

import random

from twinmcp.gateway.rendering import (
    _TRUNCATED,
    SEPARATOR,
    Rendered,
    RenderedTexts,
    docs_header,
    format_snippet,
    render_docs,
)
from twinmcp.runtime.tokens import count_tokens, truncate_to_tokens
from twinmcp.search.v1 import search_pb2

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


def _reference(answer: search_pb2.QueryDocsResponse, budget: int) -> Rendered:
    """The straightforward rendering: the whole text is counted after each snippet."""
    text = truncate_to_tokens(docs_header(answer), budget)
    kept: list[search_pb2.Snippet] = []
    for snippet in answer.snippets:
        candidate = text + SEPARATOR + format_snippet(snippet)
        if count_tokens(candidate) <= budget:
            text = candidate
            kept.append(snippet)
            continue
        if not kept:
            room = budget - count_tokens(text + SEPARATOR + _TRUNCATED)
            if room > 20:
                cut = truncate_to_tokens(candidate, count_tokens(text + SEPARATOR) + room)
                text = cut + _TRUNCATED
                while count_tokens(text) > budget:
                    cut = truncate_to_tokens(cut, count_tokens(cut) - 5)
                    text = cut + _TRUNCATED
                kept.append(snippet)
        break
    if not answer.snippets:
        text += (
            "\n\nNo snippets matched this question. Ask about one concept, in the words the "
            "docs would use."
        )
        text = truncate_to_tokens(text, budget)
    return Rendered(text, kept)


def _answer(rng: random.Random, count: int) -> search_pb2.QueryDocsResponse:
    snippets = []
    for n in range(count):
        content = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(5, 400)))
        snippets.append(
            search_pb2.Snippet(
                snippet_id=f"s{n}",
                kind=rng.choice((search_pb2.SNIPPET_KIND_CODE, search_pb2.SNIPPET_KIND_INFO)),
                title=f"Part {n}",
                description=" ".join(rng.choice(_WORDS) for _ in range(rng.randint(0, 20))),
                language=rng.choice(("python", "", "bash")),
                content=content,
                breadcrumb=["Guide", f"Part {n}"],
                source_url=f"https://example.org/{n}/",
                anchor=f"a{n}" if n % 2 else "",
            )
        )
    return search_pb2.QueryDocsResponse(
        library_id="/encode/httpx",
        title="HTTPX",
        version="0.27",
        available_versions=["0.27", "0.26"],
        rules=["Prefer httpx.Client over module-level calls."],
        snippets=snippets,
    )


def test_rendering_keeps_what_counting_the_whole_text_each_time_keeps() -> None:
    rng = random.Random(7)
    for case in range(60):
        answer = _answer(rng, rng.randint(0, 12))
        budget = rng.choice((30, 60, 100, 300, 500, 1200, 2000, 5000))
        rendered = render_docs(answer, budget)
        expected = _reference(answer, budget)
        assert rendered.text == expected.text, f"case {case}, budget {budget}"
        assert [s.snippet_id for s in rendered.snippets] == [
            s.snippet_id for s in expected.snippets
        ]
        assert count_tokens(rendered.text) <= budget


def test_a_budget_met_exactly_by_the_whole_text_keeps_every_snippet_that_fits() -> None:
    # Pieces counted apart may sum to more than the whole (BPE merges across the seams).
    rng = random.Random(11)
    for case in range(40):
        answer = _answer(rng, rng.randint(2, 10))
        text = docs_header(answer)
        for snippet in answer.snippets[: rng.randint(1, len(answer.snippets))]:
            text += SEPARATOR + format_snippet(snippet)
        budget = count_tokens(text)
        rendered = render_docs(answer, budget)
        assert rendered.text == _reference(answer, budget).text, f"case {case}"
        assert rendered.text.startswith(text)


def test_a_first_snippet_too_big_for_the_budget_is_cut_and_marked() -> None:
    answer = _answer(random.Random(1), 1)
    answer.snippets[0].content = "word " * 5000
    rendered = render_docs(answer, 500)
    assert rendered.text.endswith(_TRUNCATED)
    assert count_tokens(rendered.text) <= 500
    assert len(rendered.snippets) == 1


def test_a_remembered_text_is_reused_only_for_the_very_same_answer_and_budget() -> None:
    texts = RenderedTexts()
    answer = _answer(random.Random(3), 6)
    first = texts.render(answer, 2000)
    assert first == render_docs(answer, 2000).text
    assert texts.render(search_pb2.QueryDocsResponse.FromString(answer.SerializeToString()), 2000)
    assert len(texts) == 1
    assert texts.render(answer, 500) == render_docs(answer, 500).text
    newer = search_pb2.QueryDocsResponse()
    newer.CopyFrom(answer)
    newer.version = "0.28"
    newer.snippets[0].content = "A newly published version says something else."
    assert texts.render(newer, 2000) == render_docs(newer, 2000).text
    assert texts.render(newer, 2000) != first
    assert len(texts) == 3


def test_remembered_texts_stay_within_their_character_bound() -> None:
    rng = random.Random(5)
    texts = RenderedTexts(max_chars=20_000)
    for _ in range(30):
        answer = _answer(rng, 5)
        assert texts.render(answer, 1000) == render_docs(answer, 1000).text
    assert 0 < len(texts) < 30
    assert 0 < texts.chars <= 20_000

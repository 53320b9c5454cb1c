"""What an empty query answers: a library's pages in the order a newcomer reads them."""

from __future__ import annotations

from twinmcp.search.overview import overview
from twinmcp.search.snippets import KIND_CODE, KIND_INFO, SnippetRecord


def _page(path: str, *kinds: str) -> list[SnippetRecord]:
    return [
        SnippetRecord(
            snippet_id=f"{path}#{number}",
            kind=kind,
            title=path,
            description="",
            language="python" if kind == KIND_CODE else "",
            content=f"{kind} {number} of {path}",
            breadcrumb=(path,),
            source_path=path,
            source_url="",
            anchor="",
            tokens=10,
        )
        for number, kind in enumerate(kinds)
    ]


def _pages_in_order(snippets: list[SnippetRecord]) -> list[str]:
    order: list[str] = []
    for ranked in overview(snippets):
        if ranked.snippet.source_path not in order:
            order.append(ranked.snippet.source_path)
    return order


def test_pages_come_landing_first_then_getting_started_guides_reference_and_back_matter() -> None:
    snippets = [
        *_page("docs/en/docs/_llm-test.md", KIND_CODE),
        *_page("docs/en/docs/about/index.md", KIND_INFO),
        *_page("docs/en/docs/advanced/index.md", KIND_INFO, KIND_CODE),
        *_page("docs/en/docs/changelog.md", KIND_INFO),
        *_page("docs/en/docs/concepts.md", KIND_INFO),
        *_page("docs/en/docs/index.md", KIND_INFO, KIND_CODE),
        *_page("docs/en/docs/reference/app.md", KIND_CODE),
        *_page("docs/en/docs/routing.md", KIND_INFO, KIND_CODE),
        *_page("docs/en/docs/tutorial/first-steps.md", KIND_INFO, KIND_CODE),
        *_page("README.md", KIND_INFO),
    ]
    assert _pages_in_order(snippets) == [
        "README.md",
        "docs/en/docs/index.md",
        "docs/en/docs/tutorial/first-steps.md",
        "docs/en/docs/routing.md",  # guides with examples before those without
        "docs/en/docs/advanced/index.md",  # a section's index is a guide, not a landing page
        "docs/en/docs/concepts.md",
        "docs/en/docs/reference/app.md",
        "docs/en/docs/_llm-test.md",
        "docs/en/docs/changelog.md",
        "docs/en/docs/about/index.md",
    ]


def test_each_page_opens_with_its_lead_then_its_examples_and_scores_fall_in_order() -> None:
    snippets = [
        *_page("docs/index.md", KIND_INFO, KIND_INFO, KIND_CODE, KIND_INFO, KIND_CODE),
        *_page("docs/guide.md", KIND_INFO, KIND_CODE),
    ]
    ranked = overview(snippets)
    assert [r.snippet.snippet_id for r in ranked] == [
        "docs/index.md#0",
        "docs/index.md#2",
        "docs/index.md#4",
        "docs/guide.md#0",
        "docs/guide.md#1",
        "docs/index.md#1",
        "docs/index.md#3",
    ]
    scores = [r.score for r in ranked]
    assert scores[0] == 1.0 and scores == sorted(scores, reverse=True)
    assert overview(snippets) == ranked

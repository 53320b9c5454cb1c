"""SearchDocs's text: its header names exactly the libraries whose hits it shows."""

from __future__ import annotations

from twinmcp.search.crosslib import CrossAnswer, Hit, Searched, render_answer
from twinmcp.search.snippets import SnippetRecord
from twinmcp.tokens import count_tokens


def _hit(library_id: str, number: int, words: int) -> Hit:
    content = " ".join(f"{library_id.rsplit('/', 1)[-1]}word{n}" for n in range(words))
    snippet = SnippetRecord(
        snippet_id=f"{library_id}-{number}",
        kind="info",
        title=f"Section {number}",
        description="",
        language="",
        content=content,
        breadcrumb=(f"Section {number}",),
        source_path=f"docs/page{number}.md",
        source_url="",
        anchor="",
        tokens=count_tokens(content),
    )
    return Hit(snippet, 1.0 / (number + 1), library_id, "1.0")


def _searched(library_id: str, rules: list[str]) -> Searched:
    title = library_id.rsplit("/", 1)[-1].title()
    return Searched(library_id, "1.0", title, 1.0, "content", ["1.0"], rules)


def _answer() -> CrossAnswer:
    return CrossAnswer(
        hits=[
            _hit("/acme/webkit", 0, 60),
            _hit("/acme/webkit", 1, 60),
            _hit("/acme/fetcher", 2, 60),
        ],
        libraries=[
            _searched("/acme/webkit", []),
            _searched("/acme/fetcher", ["Always pass a timeout to fetcher calls."]),
        ],
        tokens_used=0,
    )


def test_a_library_whose_hits_the_budget_leaves_out_is_not_named_as_answering() -> None:
    whole = render_answer(_answer(), 5000)
    assert {hit.library_id for hit in whole.hits} == {"/acme/webkit", "/acme/fetcher"}
    assert "Fetcher (/acme/fetcher, version 1.0)" in whole.text
    assert "Always pass a timeout" in whole.text

    # Room for the two webkit hits, not the third: fetcher answers nothing, so its name, its
    # rules and its line are not in the text, and the shown hits still fit.
    budget = whole.tokens_used - 40
    cut = render_answer(_answer(), budget)
    assert [hit.library_id for hit in cut.hits] == ["/acme/webkit", "/acme/webkit"]
    assert "From: Webkit (/acme/webkit, version 1.0)\n" in cut.text
    assert "Also searched: /acme/fetcher" in cut.text
    assert "Always pass a timeout" not in cut.text
    assert "Library: /acme/fetcher" not in cut.text
    assert cut.tokens_used <= budget
    assert cut.tokens_used == count_tokens(cut.text)

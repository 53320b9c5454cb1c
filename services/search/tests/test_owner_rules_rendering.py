"""How a library owner's rules and withheld snippets are framed in the text agents read."""

from __future__ import annotations

from twinmcp.search.rendering import Header, render_docs
from twinmcp.search.snippets import KIND_CODE, SnippetRecord
from twinmcp.tokens import count_tokens

SNIPPET = SnippetRecord(
    snippet_id="a-1",
    kind=KIND_CODE,
    title="Build it",
    description="",
    language="python",
    content="build_widget(pinned=True)",
    breadcrumb=(),
    source_path="docs/widgets.md",
    source_url="",
    anchor="",
    tokens=12,
)


def _header(rules: list[str], withheld: int = 0) -> Header:
    return Header("/owner/widgets", "Widgets", "1.0", ["1.0"], rules, withheld)


def test_rules_are_framed_as_the_maintainers_words_not_the_users() -> None:
    text = render_docs(_header(["Pin the version."]), [SNIPPET], 5000).text
    heading = "## Rules from the library's maintainers (not instructions from the user)"
    assert heading in text
    assert "Rules of this library" not in text
    assert text.index(heading) < text.index("- Pin the version.") < text.index("build_widget")


def test_an_answer_says_how_many_snippets_were_withheld_as_suspected_prompt_injection() -> None:
    text = render_docs(_header([], withheld=2), [SNIPPET], 5000).text
    assert "2 matching snippets were withheld" in text
    assert "suspected prompt injection" in text
    assert "was withheld" in render_docs(_header([], withheld=1), [SNIPPET], 5000).text
    assert "withheld" not in render_docs(_header([]), [SNIPPET], 5000).text


def test_rules_search_fitted_into_a_fifth_of_the_budget_leave_the_snippet_in_the_answer() -> None:
    # Rules are kept, with their heading, within a fifth of the budget (50 tokens of it for
    # the heading): the snippet still fits at a small budget.
    rules = ["Always pin the widget version before you build anything."] * 3
    budget = 500
    assert sum(count_tokens(rule) + 3 for rule in rules) + 50 <= budget // 5
    rendered = render_docs(_header(rules), [SNIPPET], budget)
    assert [s.snippet_id for s in rendered.snippets] == ["a-1"]
    assert count_tokens(rendered.text) <= budget

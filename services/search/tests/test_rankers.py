"""The product's hybrid ranking beside the plain BM25 baseline (`ranker="bm25"`)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st
from twinmcp.search.packing import pack
from twinmcp.search.ranking import (
    RankingParams,
    VersionIndex,
    is_generated_reference,
    is_migration_guide,
)
from twinmcp.search.snippets import SnippetRecord, printed_tokens


def _snippet(number: int, title: str, content: str, path: str) -> SnippetRecord:
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


# The timeout page answers the question; the FAQ only repeats its filler words.
TIMEOUTS = _snippet(1, "Configure timeouts", "Pass timeout=5.0 to the Client.", "docs/timeouts.md")
FAQ = _snippet(
    2, "FAQ", "How do I do it? How do I get the thing? Do the thing. The timeout.", "docs/faq.md"
)
FILLER = [
    _snippet(10 + n, f"Topic {n}", f"Streaming responses part {n} " * (1 + n % 9), f"docs/t{n}.md")
    for n in range(30)
]
INDEX = VersionIndex.build("b1", [FAQ, TIMEOUTS, *FILLER])
QUESTION = "How do I configure the timeouts?"


def test_the_two_rankers_order_the_same_snippets_differently() -> None:
    hybrid = [r.snippet.snippet_id for r in INDEX.search(QUESTION)]
    baseline = [r.snippet.snippet_id for r in INDEX.search_bm25(QUESTION)]
    assert hybrid[0] == TIMEOUTS.snippet_id
    assert baseline[0] == FAQ.snippet_id


def test_the_baseline_scores_are_relative_to_its_best_and_in_rank_order() -> None:
    ranked = INDEX.search_bm25("streaming responses")
    scores = [r.score for r in ranked]
    assert scores[0] == 1.0
    assert scores == sorted(scores, reverse=True)
    assert INDEX.search_bm25("nothing matches zzz") == []


@settings(max_examples=100, deadline=None)
@given(budget=st.integers(min_value=0, max_value=3000))
def test_the_baseline_never_exceeds_the_budget(budget: int) -> None:
    packed = pack(INDEX.search_bm25("streaming responses timeout"), budget, relevance_floor=0.0)
    assert packed.tokens_used <= budget


def test_a_snippet_holding_the_query_phrase_outranks_one_with_the_words_scattered() -> None:
    phrase = _snippet(
        3, "Errors", "The handshake operation timed out behind a proxy.", "docs/errors.md"
    )
    scattered = _snippet(
        4, "Errors", "Out of the proxy: the operation timed a handshake.", "docs/other.md"
    )
    index = VersionIndex.build("b2", [scattered, phrase, *FILLER])
    ranked = index.search("The handshake operation timed out")
    assert ranked[0].snippet.snippet_id == phrase.snippet_id


def _part(number: int, section: str, content: str, path: str) -> SnippetRecord:
    return SnippetRecord(
        str(number),
        "code",
        section,
        "",
        "python",
        content,
        ("Guide", section),
        path,
        "",
        "",
        printed_tokens(section, "", content, "", path),
    )


def test_the_best_section_keeps_all_its_parts_while_other_sections_are_capped_at_two() -> None:
    best = [
        _part(40 + n, "Proxy handshake", f"proxy handshake timeout fix step{n}", "docs/a.md")
        for n in range(3)
    ]
    other = [
        _part(50 + n, "Proxy setup", f"proxy handshake setup example{n}", "docs/b.md")
        for n in range(3)
    ]
    index = VersionIndex.build("b3", [*best, *other, *FILLER])
    ranked = index.search("proxy handshake timeout fix")
    sections = [r.snippet.title for r in ranked]
    assert sections.count("Proxy handshake") == 3
    assert sections.count("Proxy setup") == 2


def test_a_sections_code_is_kept_beside_two_prose_snippets_of_it() -> None:
    best = _part(60, "Forwarded headers", "forwarded headers proxy fix proxy fix", "docs/c.md")
    prose = [
        replace(
            _part(61 + n, "Behind a proxy", f"proxy fix forwarded text{n}", "docs/d.md"),
            kind="info",
        )
        for n in range(2)
    ]
    code = _part(63, "Behind a proxy", "app.wsgi_app = ProxyFix(app.wsgi_app)", "docs/d.md")
    index = VersionIndex.build("b4", [best, *prose, code, *FILLER])
    ranked = [r.snippet.snippet_id for r in index.search("forwarded proxy fix")]
    assert ranked[0] == best.snippet_id
    assert {p.snippet_id for p in prose} <= set(ranked)
    assert code.snippet_id in ranked


# Matches part of the question below: it ranks under the prose about it, above mere page-mates.
PARTLY = replace(
    _part(74, "Server", "serving concurrent requests with workers", "docs/g.md"), kind="info"
)


def test_prose_brings_the_code_example_just_before_it_in_its_section() -> None:
    # The example has none of the question's words: only the prose after it explains it.
    example = _part(
        70, "Async views", "@app.route('/data')\nasync def get_data(): ...", "docs/e.md"
    )
    prose = replace(
        _part(
            71, "Async views", "views written as coroutines serve concurrent requests", "docs/e.md"
        ),
        kind="info",
    )
    index = VersionIndex.build("b5", [example, prose, PARTLY, *FILLER])
    ranked = [r.snippet.snippet_id for r in index.search("coroutine views concurrent requests")]
    assert ranked[:3] == [prose.snippet_id, example.snippet_id, PARTLY.snippet_id]


def test_code_of_another_section_is_not_brought_by_the_prose_after_it() -> None:
    example = _part(72, "Setup", "@app.route('/data')\ndef get_data(): ...", "docs/f.md")
    prose = replace(
        _part(
            73, "Async views", "views written as coroutines serve concurrent requests", "docs/f.md"
        ),
        kind="info",
    )
    index = VersionIndex.build("b6", [example, prose, PARTLY, *FILLER])
    ranked = [r.snippet.snippet_id for r in index.search("coroutine views concurrent requests")]
    assert ranked[:2] == [prose.snippet_id, PARTLY.snippet_id]


def test_a_long_reference_page_gives_more_snippets_than_a_short_page_may() -> None:
    # One API page of 54 sections, each about another function that parses dates.
    api = [
        _snippet(100 + n, f"parse_date variant {n}", f"parse date format{n} option", "docs/api.md")
        for n in range(54)
    ]
    index = VersionIndex.build("b-long", [*api, *FILLER])
    from_page = [
        r for r in index.search("parse date option") if r.snippet.source_path == "docs/api.md"
    ]
    # 54 snippets / long_page_share 9: six, where a short page stops at four.
    assert len(from_page) == 6
    short = VersionIndex.build("b-short", [*api[:12], *FILLER])
    assert (
        len(
            [r for r in short.search("parse date option") if r.snippet.source_path == "docs/api.md"]
        )
        == 4
    )


def _guide(number: int, page: str, path: str, more: str = "") -> SnippetRecord:
    content = "Set the default value of a field with load_default when the key is missing." + more
    return SnippetRecord(
        str(number), "info", "Defaults", "", "", content, (page, "Defaults"), path, "", "",
        printed_tokens("Defaults", "", content, "", path),
    )  # fmt: skip


def test_a_migration_guide_yields_to_the_guide_unless_the_question_is_about_upgrading() -> None:
    # The upgrade guide's copy says a little more on the subject, so it wins on words alone.
    upgrading = _guide(1, "Upgrading to newer releases", "docs/upgrading.rst", " A default value.")
    quickstart = _guide(2, "Quickstart", "docs/quickstart.rst")
    index = VersionIndex.build("b-mig", [upgrading, quickstart, *FILLER])
    neutral = RankingParams(migration_factor=1.0)
    on_words = index.search("default value when the key is missing", params=neutral)
    assert on_words[0].snippet.source_path == "docs/upgrading.rst"
    plain = index.search("default value when the key is missing")
    assert plain[0].snippet.source_path == "docs/quickstart.rst"
    for question in (
        "after upgrading, the default value when the key is missing changed",
        "default value when the key is missing: what changed in version 4",
        "missing key default value now that `missing=` is deprecated",
    ):
        assert index.search(question)[0].snippet.source_path == "docs/upgrading.rst", question


def test_migration_guides_are_told_by_file_name_or_page_title() -> None:
    assert is_migration_guide(_guide(1, "Guide", "docs/migration.md"))
    assert is_migration_guide(_guide(2, "Guide", "docs/how-to/migrate-from-v1.md"))
    assert is_migration_guide(_guide(3, "Upgrading to 4.0", "docs/notes.rst"))
    assert is_migration_guide(_guide(4, "What's new in 2.0", "docs/index.md"))
    assert not is_migration_guide(_guide(5, "Quickstart", "docs/quickstart.rst"))
    assert not is_migration_guide(_guide(6, "Migrations with Alembic", "docs/db.md"))


def test_a_generated_api_page_yields_to_the_written_guide_beside_it() -> None:
    # The generated page's docstring says a little more on the subject: it wins on words alone.
    reference = _guide(
        1,
        "API reference: shapes.fields",
        "api/shapes.fields.md",
        " The default value, missing key.",
    )
    guide = _guide(2, "Quickstart", "docs/quickstart.rst")
    index = VersionIndex.build("b-ref", [reference, guide, *FILLER])
    question = "default value when the key is missing"
    on_words = index.search(question, params=RankingParams(reference_factor=1.0))
    assert on_words[0].snippet.source_path == "api/shapes.fields.md"
    assert index.search(question)[0].snippet.source_path == "docs/quickstart.rst"


def test_with_only_a_readme_beside_them_generated_api_pages_count_in_full() -> None:
    reference = _guide(
        1,
        "API reference: shapes.fields",
        "api/shapes.fields.md",
        " The default value, missing key.",
    )
    readme = _guide(2, "shapes", "README.md")
    index = VersionIndex.build("b-readme", [reference, readme])
    assert index.search("default value when the key is missing")[0].snippet.source_path == (
        "api/shapes.fields.md"
    )


def test_generated_api_pages_are_told_by_their_page_title() -> None:
    assert is_generated_reference(_guide(1, "API reference: shapes", "api/shapes.md"))
    assert is_generated_reference(_guide(2, "API reference: types/errors", "x/errors.md"))
    assert not is_generated_reference(_guide(3, "API", "docs/api.rst"))
    assert not is_generated_reference(_guide(4, "Reference", "docs/reference.md"))

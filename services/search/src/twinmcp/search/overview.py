"""A library's overview: what an empty query answers (its landing pages and first examples)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from twinmcp.search.ranking import Ranked
from twinmcp.search.snippets import KIND_CODE, SnippetRecord

# Page names (file stem or first heading, words joined by "-") that introduce a library, in
# the order a newcomer reads them. README and index pages count only near the top of the tree:
# a deep `api/foo/index.md` is a section's index, not the library's landing page.
_LANDING = ("readme", "index", "introduction", "intro", "overview", "about", "welcome")
_STARTING = (
    "getting-started", "get-started", "quickstart", "quick-start", "start-here", "first-steps",
    "tutorial", "installation", "install", "setup", "usage", "basics",
)  # fmt: skip
# Pages a newcomer reads last, if at all.
_BACK_MATTER = (
    "changelog", "changes", "history", "release-notes", "releases", "news", "license",
    "contributing", "code-of-conduct", "security", "authors", "migration", "upgrading",
)  # fmt: skip
_LANDING_MAX_DEPTH = 2
# Snippets of one page taken before the next page gets its turn: its lead and first examples.
_PER_PAGE_FIRST = 3
_WORDS = re.compile(r"[a-z0-9]+")


def _slug(text: str) -> str:
    return "-".join(_WORDS.findall(text.lower()))


def _tier(path: str, heading: str) -> int:
    """0 landing, 1 getting started, 2 any other page, 3 back matter."""
    parts = path.lower().split("/")
    stem = _slug(parts[-1].rsplit(".", 1)[0])
    depth = len(parts) - 1
    names: tuple[str, ...] = (stem, _slug(heading))
    if stem in ("readme", "index") and depth > _LANDING_MAX_DEPTH:
        names = (_slug(heading),)
    if any(name in _LANDING for name in names):
        return 0
    if any(name in _STARTING or name.startswith(_STARTING) for name in names):
        return 1
    if any(name in _BACK_MATTER for name in names):
        return 3
    return 2


def _page_order(snippets: Sequence[SnippetRecord]) -> list[list[SnippetRecord]]:
    """The pages, landing pages first, then by depth and path; each page's snippets in order."""
    pages: dict[str, list[SnippetRecord]] = {}
    for snippet in snippets:
        pages.setdefault(snippet.source_path, []).append(snippet)

    def key(path: str) -> tuple[int, int, str]:
        first = pages[path][0]
        heading = first.breadcrumb[0] if first.breadcrumb else first.title
        return _tier(path, heading), path.count("/"), path

    return [pages[path] for path in sorted(pages, key=key)]


def _lead_then_examples(page: list[SnippetRecord]) -> list[SnippetRecord]:
    """The page's opening prose, then its code examples, then the rest, each in page order."""
    lead = [page[0]] if page[0].kind != KIND_CODE else []
    rest = page[len(lead) :]
    return (
        lead + [s for s in rest if s.kind == KIND_CODE] + [s for s in rest if s.kind != KIND_CODE]
    )


def overview(snippets: Sequence[SnippetRecord]) -> list[Ranked]:
    """Every snippet, ordered as a library's general documentation reads (deterministic).

    First each page's lead and first examples, landing and getting-started pages first; then
    what those pages left, in the same page order. Scores fall from 1.0 in that order.
    """
    pages = [_lead_then_examples(page) for page in _page_order(snippets)]
    ordered = [s for page in pages for s in page[:_PER_PAGE_FIRST]]
    ordered += [s for page in pages for s in page[_PER_PAGE_FIRST:]]
    count = len(ordered)
    return [Ranked(snippet, 1.0 - number / count) for number, snippet in enumerate(ordered)]

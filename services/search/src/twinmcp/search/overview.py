"""A library's overview: what an empty query answers (its landing pages and first examples)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from twinmcp.search.ranking import Ranked
from twinmcp.search.snippets import KIND_CODE, SnippetRecord

# Page names (file stem or first heading, words joined by "-") that introduce a library, in
# the order a newcomer reads them. A README or index page is the landing page only at the top
# of the tree or at the shallowest depth any index has (`docs/en/docs/index.md` when the site
# is under `docs/en/docs`): a deeper one is a section's index.
_LANDING = ("introduction", "intro", "overview", "welcome")
_INDEX = ("readme", "index")
_STARTING = (
    "getting-started", "get-started", "quickstart", "quick-start", "start-here", "first-steps",
    "tutorial", "installation", "install", "setup", "usage", "basics",
)  # fmt: skip
# Reference pages: complete, but no way in for a newcomer.
_REFERENCE = ("api", "reference", "api-reference", "api-docs", "apidocs")
# Pages a newcomer reads last, if at all, by file name ("help" also names "help-with-x").
_BACK_MATTER = (
    "changelog", "changes", "history", "release-notes", "releases", "news", "license",
    "licence", "contributing", "contributors", "code-of-conduct", "security", "authors",
    "migration", "upgrading", "about", "people", "sponsors", "help", "external-links",
    "benchmarks", "alternatives",
)  # fmt: skip
# Snippets of one page taken before the next page gets its turn: its lead and first examples.
_PER_PAGE_FIRST = 3
_GUIDES = 2  # the tier of pages that neither introduce the library nor are reference
_WORDS = re.compile(r"[a-z0-9]+")


def _slug(text: str) -> str:
    return "-".join(_WORDS.findall(text.lower()))


def _stem(path: str) -> str:
    return _slug(path.rsplit("/", 1)[-1].rsplit(".", 1)[0])


def _tier(path: str, heading: str, landing_depth: int) -> int:
    """0 landing, 1 getting started, 2 guides, 3 reference, 4 back matter."""
    stem, depth = _stem(path), path.count("/")
    if _is_reference(path):
        return 4 if path.rsplit("/", 1)[-1].startswith("_") else 3
    if stem in _INDEX and depth in (0, landing_depth):
        return 0
    if stem in _INDEX:
        stem = _stem(path.rsplit("/", 1)[0])  # a section's index is named by its folder
    names = (stem, _slug(heading))
    if any(name in _LANDING for name in names):
        return 0
    if any(name.startswith(_STARTING) for name in names):
        return 1
    if path.rsplit("/", 1)[-1].startswith("_") or any(
        stem == name or stem.startswith(name + "-") for name in _BACK_MATTER
    ):
        return 4
    return 2


def _is_reference(path: str) -> bool:
    return any(_slug(part.rsplit(".", 1)[0]) in _REFERENCE for part in path.lower().split("/"))


def _page_order(snippets: Sequence[SnippetRecord]) -> list[list[SnippetRecord]]:
    """The pages in reading order for a newcomer; each page's snippets in order.

    By tier (landing, getting started, guides, reference, back matter), then (from guides on)
    pages with code examples before pages without, then shallower pages first, then by path.
    """
    pages: dict[str, list[SnippetRecord]] = {}
    for snippet in snippets:
        pages.setdefault(snippet.source_path, []).append(snippet)
    index_depths = [
        p.count("/") for p in pages if p.count("/") and _stem(p) in _INDEX and not _is_reference(p)
    ]
    landing_depth = min(index_depths, default=0)

    def key(path: str) -> tuple[int, bool, int, str]:
        page = pages[path]
        heading = page[0].breadcrumb[0] if page[0].breadcrumb else page[0].title
        has_code = any(s.kind == KIND_CODE for s in page)
        tier = _tier(path, heading, landing_depth)
        return tier, tier >= _GUIDES and not has_code, path.count("/"), path

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

"""Pages saved by a website crawl: the main content, without site chrome, as Markdown blocks."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, Tag
from bs4.element import NavigableString
from markdownify import MarkdownConverter
from twinmcp.ingest.parsing import ParsedDocument
from twinmcp.ingest.parsing.hidden import hides_text
from twinmcp.ingest.parsing.includes import normalise_language
from twinmcp.ingest.parsing.markdown import parse_markdown

CHROME_TAGS = (
    "script",
    "style",
    "noscript",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "svg",
    "iframe",
    "button",
    "template",
    "link",
    "meta",
)
CHROME_HINT = re.compile(
    r"(^|[\s_-])(nav|navbar|sidebar|side-bar|toc|breadcrumbs?|footer|header|menu|cookie|banner|"
    r"skip-link|headerlink|edit-this-page|pagination|search)($|[\s_-])",
    re.IGNORECASE,
)
# markdownify's whitespace regex reads a run of blanks again from each of its positions (7.3 s
# for one run of 40 KB, growing with the square); it turns a run into one space anyway.
_BLANK_RUN = re.compile(r"[\t ]{2,}")
# A decimal character reference of thousands of digits made BeautifulSoup raise ValueError
# (int() refuses strings over 4,300 digits). Shortened, it reads the same: leading zeros go,
# and a value past U+10FFFF stays one (a replacement character).
_HUGE_DECIMAL_REFERENCE = re.compile(r"&#([0-9]{4000,})")
MAIN_SELECTORS = (
    "main",
    "article",
    "[role=main]",
    "div.document",
    "div.content",
    "div.md-content",
    "div.theme-doc-markdown",
    "div#content",
    "div.body",
)


def _language_of(element: Tag) -> str:
    for candidate in (element, element.find("code"), element.parent):
        if not isinstance(candidate, Tag):
            continue
        classes: list[str] | str = candidate.get("class") or []
        for cls in classes if isinstance(classes, list) else [classes]:
            match = re.match(r"(?:language|lang|highlight)-([\w+-]+)", str(cls))
            if match and match.group(1) not in ("default", "none"):
                return normalise_language(match.group(1))
    return ""


# markdownify converts an element by recursion, three frames a level: 400 nested <div>s (2 KB)
# raised RecursionError. An element this deep is replaced by its text (bs4's unwrap() would
# walk up the ancestors for each element moved, quadratic in a deep chain).
MAX_NESTING = 100


def _flatten_deep_elements(main: Tag) -> None:
    deep: list[Tag] = []
    stack = [(main, 0)]
    while stack:
        tag, depth = stack.pop()
        for child in tag.children:
            if isinstance(child, Tag):
                if depth + 1 >= MAX_NESTING:
                    deep.append(child)
                else:
                    stack.append((child, depth + 1))
    for tag in deep:
        tag.replace_with(NavigableString(tag.get_text(" ")))


def _is_decomposed(tag: Tag) -> bool:
    """`tag.decomposed` without its cost: on a live tag, bs4 reads `_decomposed` through
    `Tag.__getattr__`, a search of the whole subtree for a child tag of that name (8 s for
    2,000 nested <div>s, growing with the square). decompose() sets it on the instance."""
    return bool(vars(tag).get("_decomposed", False))


def _shortened_reference(match: re.Match[str]) -> str:
    digits = match.group(1).lstrip("0") or "0"
    return "&#" + (digits if len(digits) <= 7 else "99999999")


def parse_html(text: str, path: str) -> ParsedDocument:
    if "&#" in text:
        text = _HUGE_DECIMAL_REFERENCE.sub(_shortened_reference, text)
    soup = BeautifulSoup(text, "html.parser")
    title_tag = soup.find("title")
    page_title = title_tag.get_text(" ", strip=True) if isinstance(title_tag, Tag) else ""
    main: Tag | None = None
    for selector in MAIN_SELECTORS:
        found = soup.select_one(selector)
        if isinstance(found, Tag):
            main = found
            break
    if main is None:
        body = soup.find("body")
        main = body if isinstance(body, Tag) else soup
    for tag in main.find_all(CHROME_TAGS):
        tag.decompose()
    # Text people cannot see is what hidden prompt injection hides in (see parsing.hidden).
    for tag in main.find_all(True):
        if not _is_decomposed(tag) and isinstance(tag.attrs, dict) and hides_text(tag.attrs):
            tag.decompose()
    for tag in main.find_all(True):
        if _is_decomposed(tag) or not isinstance(tag.attrs, dict):
            continue
        hints = " ".join(
            [*(tag.get("class") or []), str(tag.get("id") or ""), str(tag.get("role") or "")]
        )
        if (
            hints.strip()
            and CHROME_HINT.search(hints)
            and tag.name not in ("main", "article", "body")
        ):
            tag.decompose()
    for text in main.find_all(string=_BLANK_RUN):
        if type(text) is NavigableString and text.find_parent("pre") is None:
            text.replace_with(_BLANK_RUN.sub(" ", text))
    _flatten_deep_elements(main)
    markdown = MarkdownConverter(
        heading_style="ATX",
        code_language_callback=_language_of,
        strip=["img"],
        bullets="-",
    ).convert_soup(main)
    document = parse_markdown(markdown, path, None, is_mdx=False)
    h1 = next((b for b in document.blocks if b.kind == "heading" and b.level == 1), None)
    if h1 is not None:
        document.title = h1.text
    elif page_title:
        document.title = page_title
    return document

"""Markdown and MDX pages to blocks: front matter, pass one (`expand`), then CommonMark blocks."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from markdown_it import MarkdownIt
from twinmcp.ingest.parsing import Block, ParsedDocument
from twinmcp.ingest.parsing.expand import FENCE_OPEN, Expander, dedent
from twinmcp.ingest.parsing.front_matter import split_front_matter
from twinmcp.ingest.parsing.includes import IncludeResolver, normalise_language
from twinmcp.ingest.parsing.inline import (
    clean_inline,
    heading_id,
    is_link_definition,
    plain_heading,
    slugify_github,
    slugify_markdown,
)

_NUMBERED_ITEM = re.compile(r"^\d+[.)]\s")
# Both tried only where a run (of blanks, of name characters) starts: from each position of a
# long run they read the rest of it again (1.4 s for 40 KB of spaces in a code block, 7 s for
# a 40 KB word after a fence, growing with the square).
_CODE_ANNOTATION = re.compile(r"(?<![ \t])[ \t]*#[ \t]*\(\d+\)!?[ \t]*$", re.MULTILINE)
_INFO_ATTR = re.compile(r"(?<![\w-])([\w-]+)=(?:\"([^\"]*)\"|'([^']*)'|(\S+))")
# CommonMark block structure only: inline markup is read by `clean_inline`, and raw HTML lines
# stay paragraphs (a tag line must not swallow the fence after it, as an HTML block would).
# Deeper nesting than `maxNesting` is dropped by markdown-it; 100 levels of lists or quotes is
# more than any page has and still far within Python's recursion limit.
_OPTIONS = {"html": False, "maxNesting": 100}
_COMMONMARK = MarkdownIt("commonmark", _OPTIONS).disable("inline")
# Token types that hold a page's text; containers (lists, quotes) only group them.
_LEAVES = frozenset(
    {"paragraph_open", "heading_open", "fence", "code_block", "hr", "table_open", "html_block"}
)
# What a line that only opens containers is made of: list markers and quote marks.
_LIST_MARKS = re.compile(r"^(?:\s*(?:[-*+]|\d+[.)]|>)(?=\s|$))+")
_COMMONMARK_NO_INDENTED_CODE = MarkdownIt("commonmark", _OPTIONS).disable("inline").disable("code")


def _parse_info(info: str) -> tuple[str, str, str]:
    """(language, title, included_from) from a fence info string."""
    attrs = {
        m.group(1): next(g for g in m.groups()[1:] if g is not None)
        for m in _INFO_ATTR.finditer(info)
    }
    language = normalise_language(info)
    return language, attrs.get("title", ""), attrs.get("included_from", "")


def _code_block(body: str, info: str) -> Block | None:
    """A code block from a fence's (or an indented block's) body and info string."""
    body = body.strip("\n")
    annotated = False
    if "# (" in body:
        body, count = _CODE_ANNOTATION.subn("", body)
        annotated = count > 0
    if not body.strip():
        return None
    language, title, included_from = _parse_info(info)
    return Block(
        "code",
        body,
        language=language,
        caption=title,
        included_from=included_from,
        has_annotations=annotated,
    )


def _is_indented_prose(first_line: str, blocks: list[Block]) -> bool:
    """Whether an indented block is prose left indented by pass one or by Python-Markdown.

    HTML lines whose wrapping tags pass one dropped (`<p align="center">` around an indented
    `<em>`), and the numbered notes under annotated code, indented into a list item as
    mkdocs-material writes them.
    """
    line = first_line.strip()
    if line.startswith("<"):
        return True
    after_annotated = bool(blocks) and blocks[-1].kind == "code" and blocks[-1].has_annotations
    return after_annotated and _NUMBERED_ITEM.match(line) is not None


def markdown_blocks(
    lines: list[str], *, github_slugs: bool = False, has_indented_code: bool = True
) -> list[Block]:
    """Pass two: headings, code and prose paragraphs from expanded Markdown lines (CommonMark).

    markdown-it finds the blocks; prose keeps its Markdown source lines (lists, emphasis), read
    through `clean_inline`. Headings count at the top level only: one inside a list or a quote
    stays in its prose. `has_indented_code` is off for MDX, which has no indented code blocks
    (JSX components indent their children).
    """
    parser = _COMMONMARK if has_indented_code else _COMMONMARK_NO_INDENTED_CODE
    blocks: list[Block] = []
    para: list[str] = []
    para_end = -1
    slugify = slugify_github if github_slugs else slugify_markdown

    def flush() -> None:
        if not para:
            return
        text = clean_inline("\n".join(dedent(para))).strip()
        para.clear()
        if text:
            blocks.append(Block("prose", text))

    def prose(start: int, end: int) -> None:
        nonlocal para_end
        if start != para_end:
            flush()  # a blank line or another block came between: a new paragraph
        para.extend(lines[start:end])
        para_end = end

    def heading(raw: str, level: int) -> None:
        text = plain_heading(raw)
        if not text:
            return
        anchor = heading_id(raw) or slugify(text)
        blocks.append(Block("heading", text, level=level, anchor=anchor))

    tokens = parser.parse("\n".join(lines))
    i = 0
    while i < len(tokens):
        token = tokens[i]
        kind = token.type
        if kind in ("fence", "code_block"):
            flush()
            lines_of = token.content.split("\n")
            first = next((line for line in lines_of if line.strip()), "")
            if kind == "code_block" and token.map and _is_indented_prose(first, blocks):
                prose(*token.map)
                i += 1
                continue
            if kind == "code_block" and FENCE_OPEN.match(first):
                # A fence indented past the list or admonition it belonged to (Python-Markdown
                # nests by four spaces): read the block as Markdown again.
                blocks.extend(markdown_blocks(dedent(lines_of), github_slugs=github_slugs))
            else:
                # An indented block's common indent beyond CommonMark's four spaces is the
                # list nesting of Python-Markdown (eight spaces under "1. "), not code.
                body = "\n".join(dedent(lines_of)) if kind == "code_block" else token.content
                block = _code_block(body, token.info)
                if block is not None:
                    blocks.append(block)
        elif kind == "heading_open" and token.level == 0:
            flush()
            heading(tokens[i + 1].content, int(token.tag[1:]))
        elif kind in ("paragraph_open", "heading_open", "table_open") and token.map:
            prose(*token.map)
        elif kind == "hr":
            flush()
        if token.nesting == 1 and kind in ("paragraph_open", "heading_open", "table_open"):
            # Their content is taken whole: skip to the matching close.
            depth = 1
            while depth:
                i += 1
                depth += tokens[i].nesting
        i += 1
    flush()
    # Text nested deeper than markdown-it's limit is in no block: keep it, as prose at the end.
    read = bytearray(len(lines))
    for token in tokens:
        if token.map and token.type in _LEAVES:
            read[token.map[0] : token.map[1]] = b"\x01" * (token.map[1] - token.map[0])
    unread = [
        line
        for line, was_read in zip(lines, read, strict=True)
        if not was_read
        and _LIST_MARKS.sub("", line).strip()
        and not is_link_definition(line.lstrip())
    ]
    text = clean_inline("\n".join(dedent(unread))).strip()
    if text:
        blocks.append(Block("prose", text))
    return blocks


def parse_markdown(
    text: str,
    path: str,
    resolver: IncludeResolver | None = None,
    *,
    is_mdx: bool | None = None,
) -> ParsedDocument:
    """A Markdown/MDX page as blocks; includes read through `resolver` (None: not resolved)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    title, text = split_front_matter(text)
    if is_mdx is None:
        is_mdx = PurePosixPath(path).suffix.lower() == ".mdx"
    lines = Expander(resolver).expand(text.split("\n"), path)
    blocks = markdown_blocks(lines, github_slugs=is_mdx, has_indented_code=not is_mdx)
    if not title:
        first_heading = next((b for b in blocks if b.kind == "heading"), None)
        if first_heading is not None and first_heading.level == 1:
            title = first_heading.text
    return ParsedDocument(title=title, blocks=blocks)

"""Markdown inline markup read as plain text: links, images, MyST roles, attributes, tags, ids."""

from __future__ import annotations

import html
import re
import unicodedata

from twinmcp.ingest.parsing.rst import role_text

# Tried only where a run of spaces starts, and ended at the next "{": from each position of a
# long run, or each unclosed "{#", it otherwise read the rest of the heading again.
_HEADING_ID = re.compile(r"(?<!\s)\s*\{\s*#([\w:.-]+)[^{}]*\}\s*$")
# A role starts a word: `/items/{item_id}` inside a code span is not one.
_MYST_ROLE = re.compile(r"(?<![^\s(\[\"'*_])\{([A-Za-z][\w:.+-]*)\}`([^`]+)`")
# Each span also ends at the next "![" (or a definition's at the next "["): a regex tried from
# each unclosed mark otherwise reads the rest of the text again, quadratic in the marks.
_IMAGE = re.compile(r"!\[(?:[^\]!]|!(?!\[))*\](?:\((?:[^)!]|!(?!\[))*\)|\[[^\[\]]*\])")
_LINK = re.compile(r"\[((?:[^\[\]]|\[[^\[\]]*\])+)\]\((?:[^()\s]|\([^()]*\))*(?:\s+\"[^\"]*\")?\)")
_REF_LINK = re.compile(r"\[((?:[^\[\]]|\[[^\[\]]*\])+)\]\[[^\[\]]*\]")
_LINK_DEFINITION = re.compile(r"^ {0,3}\[[^\[\]]+\]:\s+\S+.*$", re.MULTILINE)
_FOOTNOTE_REF = re.compile(r"\[\^[^\[\]]+\]")
_ATTR_LIST = re.compile(r"\{\s*(?:[#.:][^{}\n]*|[\w-]+=[^{}\n]*)\}")
_MACRO = re.compile(r"\{\{(?:(?!\{\{).)*?\}\}|\{%(?:(?!\{%).)*?%\}", re.DOTALL)
_HTML_TAGS = (
    "a|abbr|b|br|big|center|cite|code|dd|del|details|dfn|div|dl|dt|em|figcaption|figure|font|"
    "h[1-6]|hr|i|iframe|img|ins|kbd|li|mark|nav|ol|p|picture|pre|q|s|samp|section|small|source|"
    "span|strike|strong|sub|summary|sup|table|tbody|td|tfoot|th|thead|tr|tt|u|ul|var|video|wbr|"
    "button|input|label|svg|path|style|script"
)
_HTML_TAG = re.compile(r"</?(?:" + _HTML_TAGS + r")\b[^<>]*>", re.IGNORECASE)
_JSX_TAG = re.compile(r"</?[A-Z][\w.]*(?:\s[^<>]*)?/?>")


# A decimal character reference of thousands of digits made html.unescape raise ValueError
# (int() refuses strings over 4,300 digits): one above U+10FFFF reads as U+FFFD anyway.
_DECIMAL_REFERENCE = re.compile(r"&#([0-9]{8,})(;?)")


def _bounded_reference(match: re.Match[str]) -> str:
    digits = match.group(1).lstrip("0") or "0"
    return "\ufffd" if len(digits) > 7 else f"&#{digits}{match.group(2)}"


def slugify_markdown(text: str) -> str:
    """The id Python-Markdown's toc extension (MkDocs) gives a heading."""
    value = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    value = re.sub(r"[^\w\s-]", "", value).strip().lower()
    return re.sub(r"[-\s]+", "-", value)


def slugify_github(text: str) -> str:
    """The id GitHub and Docusaurus (github-slugger) give a heading."""
    value = text.strip().lower()
    value = re.sub(r"[^\w\- ]", "", value)
    return value.replace(" ", "-")


def clean_inline(text: str) -> str:
    """Markup an agent does not need: links' targets, images, attribute lists, HTML tags, macros."""
    if "}`" in text:
        text = _MYST_ROLE.sub(lambda m: role_text(m.group(1).split(":")[-1], m.group(2)), text)
    if "[" in text:
        text = _IMAGE.sub("", text)
        text = _LINK.sub(r"\1", text)
        text = _REF_LINK.sub(r"\1", text)
        text = _LINK_DEFINITION.sub("", text)
        text = _FOOTNOTE_REF.sub("", text)
    if "{" in text:
        text = _MACRO.sub("", text)
        text = _ATTR_LIST.sub("", text)
    if "<" in text:
        text = _HTML_TAG.sub("", text)
        text = _JSX_TAG.sub("", text)
    if "&" in text:
        if "&#" in text:
            text = _DECIMAL_REFERENCE.sub(_bounded_reference, text)
        text = html.unescape(text)
    return text


def plain_heading(text: str) -> str:
    """Heading text as read: no emphasis, code ticks, links or attribute lists."""
    text = clean_inline(_HEADING_ID.sub("", text))
    text = re.sub(r"`+", "", text)
    text = re.sub(r"(\*\*|__|\*|(?<!\w)_(?=\S))", "", text)
    return re.sub(r"\s+", " ", text).strip().rstrip("#").strip()


def heading_id(text: str) -> str:
    """The id a heading's attribute list gives it (`## Title {#the-id}`), or ""."""
    explicit = _HEADING_ID.search(text)
    return explicit.group(1) if explicit else ""


def is_link_definition(line: str) -> bool:
    """Whether a line is a reference link's definition (`[name]: https://...`)."""
    return _LINK_DEFINITION.match(line) is not None

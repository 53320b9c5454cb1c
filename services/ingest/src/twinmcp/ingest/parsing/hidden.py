"""HTML elements a page hides from people (display:none, hidden, aria-hidden): never indexed.

Text that people reading the page cannot see but an agent reading the index would is the
vehicle of hidden prompt injection ("<div style='display:none'>ignore previous
instructions</div>"). A tab panel is hidden only until its tab is clicked, so it is kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_OPEN_TAG = re.compile(r"<([A-Za-z][\w-]*)(\s[^<>]*?)?(/?)>")
_ATTRIBUTE = re.compile(r"([^\s=/>\"']+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+)))?")
_HIDING_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?:px|em|rem|%)?\s*(?:;|$)",
    re.IGNORECASE,
)
_VOID = frozenset(
    ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"]
)
# How far a hidden element's end is looked for before the rest of the paragraph is dropped.
_MAX_ELEMENT_LINES = 400


def hides_text(attributes: Mapping[str, object]) -> bool:
    """Whether an element with these attributes is hidden from people reading the page."""
    lowered = {str(k).lower(): v for k, v in attributes.items()}
    if str(lowered.get("role", "")).lower() == "tabpanel":
        return False
    style = lowered.get("style", "")
    return (
        "hidden" in lowered
        or str(lowered.get("aria-hidden", "")).lower() == "true"
        or bool(_HIDING_STYLE.search(str(style)))
    )


def parse_attributes(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for match in _ATTRIBUTE.finditer(text):
        value = next((g for g in match.groups()[1:] if g is not None), "")
        found[match.group(1).lower()] = value
    return found


def _hidden_start(text: str, start: int = 0) -> re.Match[str] | None:
    """The first start tag from `start` that hides its element, outside inline code."""
    for match in _OPEN_TAG.finditer(text, start):
        if match.group(2) and hides_text(parse_attributes(match.group(2))):
            line_start = text.rfind("\n", 0, match.start()) + 1
            if text.count("`", line_start, match.start()) % 2 == 0:
                return match
    return None


def has_hidden_element(line: str) -> bool:
    return "<" in line and _hidden_start(line) is not None


def _element_end(text: str, tag: str, after: int, depth: int = 1) -> tuple[int | None, int, int]:
    """Where the element open `depth` times at `after` ends (nesting counted), or None.

    Also the depth reached and where to go on from once more lines are appended: the last "<"
    not yet read as a tag, since no tag holds one. Reading the grown text again from the start
    tag for each appended line was quadratic (0.9 s for 200 KB of long lines, 3.5 s at 400 KB).
    """
    pattern = re.compile(rf"<(/?){re.escape(tag)}\b[^<>]*?(/?)>", re.IGNORECASE)
    resume = after
    for match in pattern.finditer(text, after):
        if match.group(1):
            depth -= 1
            if depth == 0:
                return match.end(), depth, match.end()
        elif not match.group(2):
            depth += 1
        resume = match.end()
    last_open = text.rfind("<", resume)
    return None, depth, len(text) if last_open < 0 else last_open


def drop_hidden_elements(lines: list[str], i: int) -> int:
    """Removes the hidden elements that start on line `i` (with everything inside them) from
    `lines` in place; returns the line to read next, as the expander's comment dropping does."""
    j = i
    text = lines[i]
    start = 0
    while (match := _hidden_start(text, start)) is not None:
        tag = match.group(1).lower()
        end: int | None = None
        depth, resume = 1, match.end()
        if not (match.group(3) or tag in _VOID):
            end, depth, resume = _element_end(text, tag, match.end())
        while end is None and not (match.group(3) or tag in _VOID):
            if j + 1 >= len(lines) or j - i >= _MAX_ELEMENT_LINES:
                break
            j += 1
            text += "\n" + lines[j]
            end, depth, resume = _element_end(text, tag, resume, depth)
        if match.group(3) or tag in _VOID:
            end = match.end()
        elif end is None:
            # Never closed: the paragraph it opened is dropped.
            blank = text.find("\n\n", match.end())
            end = len(text) if blank < 0 else blank
        text = text[: match.start()] + text[end:]
        start = match.start()
    lines[i : j + 1] = text.split("\n") if text.strip() else [""]
    return i if text.strip() else i + 1

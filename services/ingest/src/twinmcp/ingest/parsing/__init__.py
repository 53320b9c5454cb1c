"""Turning one documentation file into a flat list of blocks (headings, prose, code)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class Block:
    """A heading, a prose paragraph (Markdown) or a code block, in reading order."""

    kind: Literal["heading", "prose", "code"]
    text: str
    level: int = 0
    language: str = ""
    anchor: str = ""
    # For code: a file name the page shows above the block (title="main.py", :caption:).
    caption: str = ""
    # For code pulled in by an include directive: the included file, relative to the root.
    included_from: str = ""
    # Code whose "# (1)!" markers were removed: the numbered list after it explains them.
    has_annotations: bool = False


@dataclass
class ParsedDocument:
    title: str
    blocks: list[Block] = field(default_factory=list)

"""Parsing library ids: `/owner/repo`, `/owner/repo/<version>`, `/owner/repo@<version>`,
`/websites/<name>`, `/llmstxt/<name>`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from twinmcp.search.errors import InvalidInputError
from twinmcp.search.versionrange import is_range, is_selector_text

_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-+/]*$")
MAX_ID_LENGTH = 300


@dataclass(frozen=True)
class LibraryRef:
    library_id: str  # canonical, without version
    version: str  # empty: the default version


def parse_library_id(raw: str, explicit_version: str = "") -> LibraryRef:
    """The canonical id and the version asked for; `explicit_version` wins over one in the id."""
    text = raw.strip()
    if not text:
        raise InvalidInputError(
            "library_id is empty; pass an id such as /fastapi/fastapi (find it with ResolveLibrary)"
        )
    if len(text) > MAX_ID_LENGTH:
        raise InvalidInputError(f"library_id is longer than {MAX_ID_LENGTH} characters")
    if not text.startswith("/"):
        text = "/" + text
    version = ""
    if "@" in text:
        text, _, version = text.partition("@")
    parts = [p for p in text.split("/") if p]
    if len(parts) < 2:
        raise InvalidInputError(
            f"library_id {raw!r} is not of the form /owner/repo, /websites/<name> or "
            "/llmstxt/<name>; find the id with ResolveLibrary"
        )
    for part in parts[:2]:
        if not _SEGMENT.match(part):
            raise InvalidInputError(
                f"library_id {raw!r} has an invalid segment {part!r}; use letters, digits, "
                "'.', '_' and '-'"
            )
    if len(parts) > 2:
        if version:
            raise InvalidInputError(
                f"library_id {raw!r} names a version twice; use /owner/repo@<version>"
            )
        version = "/".join(parts[2:])
    library_id = "/" + "/".join(parts[:2])
    chosen = explicit_version.strip() or version.strip()
    if chosen and not _VERSION.match(chosen):
        # A range or specifier (`^4.2`, `>=1.4,<2`) is resolved against the indexed versions.
        if is_range(chosen) and is_selector_text(chosen):
            return LibraryRef(library_id, chosen)
        raise InvalidInputError(
            f"version {chosen!r} is not a valid version name; use letters, digits, '.', '_', "
            "'-', '+' and '/', or a range such as ^4.2, 4.x or >=1.4,<2"
        )
    return LibraryRef(library_id, chosen)


def canonical_library_id(raw: str) -> str:
    """A library id as stored; refuses one that carries a version."""
    ref = parse_library_id(raw)
    if ref.version:
        raise InvalidInputError(
            f"library_id {raw!r} carries a version; give the version in its own field"
        )
    return ref.library_id

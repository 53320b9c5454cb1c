"""The types documents become (snippet drafts) and a source's own configuration file."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

logger = logging.getLogger(__name__)

CONFIG_FILE_NAMES = ("twinmcp.json", "context7.json")
MAX_CONFIG_BYTES = 256 * 1024
# Owner text reaches coding agents verbatim, so it is capped here as search caps it again when
# it stores and serves it (search's ownertext.py, which also screens it for instructions aimed
# at agents): at most MAX_RULES rules of MAX_RULE_CHARS characters, a short description.
MAX_RULES = 20
MAX_RULE_CHARS = 500
MAX_DESCRIPTION_CHARS = 500
MAX_TITLE_CHARS = 200
# Characters that show nothing (or reorder what is shown) yet reach a model: zero-width and
# bidirectional controls, word joiners, the BOM, variation selectors, the Unicode tag block
# ("ASCII smuggling"), C0/C1 controls but tab and newline.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5"
    "\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff"
    "\uffa0\ufff9-\ufffb\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)


@dataclass(frozen=True)
class SnippetDraft:
    """One unit an agent reads: a code block with the prose introducing it, or a prose section."""

    kind: Literal["code", "info"]
    title: str
    description: str
    language: str
    content: str
    breadcrumb: tuple[str, ...]
    source_path: str
    anchor: str
    tokens: int
    # The file a code include pulled in (e.g. docs_src/cors/tutorial001_py310.py), relative to
    # the source root; "" when the code is written in the page itself.
    included_from: str = ""
    # Full page URL with anchor when the caller passed a base_url, else "".
    url: str = ""


class DocumentError(ValueError):
    """A file that cannot be read as documentation: binary, undecodable, too large, outside."""


@dataclass(frozen=True)
class VersionConfig:
    """An older version the owner wants indexed: a git tag (or branch) and a display title."""

    tag: str
    title: str = ""


@dataclass(frozen=True)
class SourceConfig:
    """twinmcp.json / context7.json at a source root (the context7.json schema, all optional)."""

    project_title: str = ""
    description: str = ""
    folders: tuple[str, ...] = ()
    exclude_folders: tuple[str, ...] = ()
    exclude_files: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    versions: tuple[VersionConfig, ...] = ()
    branch: str = ""
    # The file it was read from ("" when the root has none), for messages.
    origin: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


def _strings(data: dict[str, Any], key: str, origin: str) -> tuple[str, ...]:
    value = data.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise DocumentError(f"{origin}: '{key}' must be a list of strings")
    return tuple(item.strip() for item in value if item.strip())


def owner_text(text: str, limit: int) -> str:
    """Owner prose on one line, without invisible characters, cut to `limit` characters."""
    text = " ".join(_INVISIBLE.sub("", text.replace("\r", "\n")).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _rules(data: dict[str, Any], origin: str) -> tuple[str, ...]:
    found = [owner_text(rule, MAX_RULE_CHARS) for rule in _strings(data, "rules", origin)]
    rules = tuple(rule for rule in found if rule)
    if len(rules) > MAX_RULES:
        logger.warning(
            "%s: %d rules, only the first %d are kept; keep rules few and short",
            origin,
            len(rules),
            MAX_RULES,
        )
    return rules[:MAX_RULES]


def _versions(data: dict[str, Any], origin: str) -> tuple[VersionConfig, ...]:
    found: list[VersionConfig] = []
    for key in ("previousVersions", "versions"):
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, list):
            raise DocumentError(f"{origin}: '{key}' must be a list of {{\"tag\": ...}} objects")
        for item in value:
            if isinstance(item, str) and item.strip():
                found.append(VersionConfig(tag=item.strip()))
            elif isinstance(item, dict) and isinstance(item.get("tag"), str) and item["tag"]:
                title = item.get("title")
                found.append(
                    VersionConfig(tag=item["tag"], title=title if isinstance(title, str) else "")
                )
            else:
                raise DocumentError(f"{origin}: each entry of '{key}' needs a string 'tag'")
    return tuple(found)


_KNOWN_KEYS = {
    "$schema",
    "projectTitle",
    "description",
    "folders",
    "excludeFolders",
    "excludeFiles",
    "rules",
    "previousVersions",
    "versions",
    "branch",
}


def parse_source_config(text: str, origin: str = "twinmcp.json") -> SourceConfig:
    """Reads the JSON text of a config file; DocumentError says which key is wrong."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise DocumentError(f"{origin} is not valid JSON: {error}") from error
    except RecursionError as error:
        raise DocumentError(f"{origin} is not valid JSON: nested too deeply") from error
    if not isinstance(data, dict):
        raise DocumentError(f"{origin} must hold a JSON object")
    for key in ("projectTitle", "description", "branch"):
        if key in data and not isinstance(data[key], str):
            raise DocumentError(f"{origin}: '{key}' must be a string")
    return SourceConfig(
        project_title=owner_text(str(data.get("projectTitle", "")), MAX_TITLE_CHARS),
        description=owner_text(str(data.get("description", "")), MAX_DESCRIPTION_CHARS),
        folders=_strings(data, "folders", origin),
        exclude_folders=_strings(data, "excludeFolders", origin),
        exclude_files=_strings(data, "excludeFiles", origin),
        rules=_rules(data, origin),
        versions=_versions(data, origin),
        branch=str(data.get("branch", "")).strip(),
        origin=origin,
        extra={key: value for key, value in data.items() if key not in _KNOWN_KEYS},
    )


def load_source_config(root: Path) -> SourceConfig:
    """The config at `root` (twinmcp.json wins over context7.json), or defaults when none."""
    for name in CONFIG_FILE_NAMES:
        path = root / name
        if not path.is_file():
            continue
        if path.is_symlink() and not path.resolve().is_relative_to(root.resolve()):
            logger.warning("ignoring %s: it links outside the source", name)
            continue
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise DocumentError(f"{name} is larger than {MAX_CONFIG_BYTES} bytes")
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as error:
            raise DocumentError(f"{name} is not UTF-8 text") from error
        return parse_source_config(text, name)
    return SourceConfig()

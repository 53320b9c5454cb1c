"""YAML or TOML front matter at the top of a Markdown page: its title, and the page without it."""

from __future__ import annotations

import re
import tomllib

import yaml


def split_front_matter(text: str) -> tuple[str, str]:
    """(title from YAML/TOML front matter or "", the text without it)."""
    for marker, loader in (("---", "yaml"), ("+++", "toml")):
        if not text.startswith(marker + "\n"):
            continue
        end = re.search(r"^(?:" + re.escape(marker) + r"|\.\.\.)[ \t]*$", text[4:], re.MULTILINE)
        if not end:
            return "", text
        raw = text[4 : 4 + end.start()]
        rest = text[4 + end.end() :]
        title = ""
        try:
            data = yaml.safe_load(raw) if loader == "yaml" else tomllib.loads(raw)
        except (yaml.YAMLError, tomllib.TOMLDecodeError, ValueError, RecursionError):
            # RecursionError: front matter nested thousands deep ("[[[[..."), which both
            # parsers follow recursively; the page is read without its front matter.
            data = None
        if isinstance(data, dict):
            for key in ("title", "sidebar_label", "name"):
                value = data.get(key)
                if isinstance(value, str) and value.strip():
                    title = value.strip()
                    break
        return title, rest
    return "", text

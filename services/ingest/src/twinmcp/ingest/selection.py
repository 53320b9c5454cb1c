"""Which files of a source tree are documentation worth reading (defaults like Context7's)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from pathspec import GitIgnoreSpec
from twinmcp.ingest.documents import DocumentError, SourceConfig

DOC_EXTENSIONS = frozenset({".md", ".mdx", ".markdown", ".rst", ".txt", ".ipynb", ".html", ".htm"})

# Folders never worth reading, whatever their depth: tooling, dependencies, build output,
# test fixtures, and places where old or superseded docs are kept.
EXCLUDED_DIR_NAMES = frozenset(
    {
        "node_modules",
        "bower_components",
        "vendor",
        "third_party",
        "third-party",
        "site-packages",
        "__pycache__",
        "venv",
        "build",
        "_build",
        "dist",
        "out",
        "target",
        "coverage",
        "htmlcov",
        "tests",
        "test",
        "__tests__",
        "testdata",
        "test-data",
        "test_data",
        "fixtures",
        "__fixtures__",
        "__snapshots__",
        "archive",
        "archived",
        "deprecated",
        "legacy",
        "old",
        "outdated",
        "superseded",
        "previous",
        "v1",
        "versioned_docs",
        "versioned_sidebars",
        "i18n",
        "l10n",
        "locale",
        "locales",
        "translations",
        "changelog",
        "changelogs",
        "changes",
        "changelog.d",
        "newsfragments",
        "release-notes",
        "release_notes",
        "releasenotes",
    }
)

# File stems (lower-cased, extension removed) that describe the project rather than how to use
# it. CONTRIBUTING is excluded too: it explains how to hack on the library itself, which is
# almost never what an agent writing code *with* the library needs, and it is long.
EXCLUDED_FILE_STEMS = frozenset(
    {
        "changelog",
        "changes",
        "history",
        "news",
        "release-notes",
        "release_notes",
        "releasenotes",
        "releases",
        "license",
        "licence",
        "license-mit",
        "license-apache",
        "copying",
        "copyright",
        "notice",
        "authors",
        "contributors",
        "maintainers",
        "code_of_conduct",
        "code-of-conduct",
        "contributing",
        "security",
        "support",
        "funding",
        "governance",
        "codeowners",
        "pull_request_template",
        "issue_template",
        "requirements",
        "constraints",
        "robots",
        "cmakelists",
        "llms-full",
    }
)

# Translation folder names and file suffixes. Codes that are also common English words or
# folder names (id, it, no, hi...) count only when an English sibling folder exists.
_LANGS_SAFE = frozenset(
    [
        "ar",
        "az",
        "bg",
        "bn",
        "ca",
        "cs",
        "da",
        "de",
        "el",
        "es",
        "et",
        "fa",
        "fi",
        "fr",
        "he",
        "hu",
        "hy",
        "ja",
        "ka",
        "kk",
        "ko",
        "lt",
        "lv",
        "nb",
        "nl",
        "pl",
        "pt",
        "ro",
        "ru",
        "sk",
        "sl",
        "sr",
        "sv",
        "th",
        "tr",
        "uk",
        "ur",
        "uz",
        "vi",
        "zh",
        "yo",
        "em",
    ]
)
_LANGS_AMBIGUOUS = frozenset(["id", "it", "hi", "no", "ta", "ms", "is", "be"])
_LANG_DIR = re.compile(r"^([a-z]{2})(?:[-_]([a-z]{2,4}))?$", re.IGNORECASE)
_LANG_FILE_SUFFIX = re.compile(r"[._-]([a-z]{2})(?:[-_]([a-z]{2,4}))?$", re.IGNORECASE)
_ENGLISH = re.compile(r"^en(?:[-_][a-z]{2,4})?$", re.IGNORECASE)
_ROOT_README = re.compile(r"^readme(\.(md|mdx|markdown|rst|txt))?$", re.IGNORECASE)
_REQUIREMENTS = re.compile(r"^(requirements|constraints)([-_.].*)?$", re.IGNORECASE)


def _is_translation_dir(name: str, siblings: set[str]) -> bool:
    match = _LANG_DIR.match(name)
    if not match or _ENGLISH.match(name):
        return False
    code = match.group(1).lower()
    has_english_sibling = any(_ENGLISH.match(sibling) for sibling in siblings)
    if code in _LANGS_SAFE:
        return has_english_sibling or match.group(2) is not None or len(name) == 2
    return code in _LANGS_AMBIGUOUS and has_english_sibling


def _is_translation_file(stem: str) -> bool:
    match = _LANG_FILE_SUFFIX.search(stem)
    if not match or match.start() == 0:
        return False
    code = match.group(1).lower()
    if code == "en":
        return False
    separator = stem[match.start()]
    if separator == ".":
        return code in _LANGS_SAFE or code in _LANGS_AMBIGUOUS
    # README_zh.md, README-ja.md, index_zh-CN.md: only unambiguous codes after - or _.
    return code in _LANGS_SAFE and (match.group(2) is not None or stem.lower().startswith("readme"))


def _normalise_pattern(pattern: str) -> str:
    """The pattern as gitignore reads it: `/` separators, `./x` anchored at the root as `/x`."""
    pattern = pattern.strip().replace("\\", "/")
    if pattern.startswith("./"):
        while pattern.startswith("./"):
            pattern = pattern[2:]
        pattern = "/" + pattern
    return pattern if pattern.strip("/") else ""


def _spec(key: str, patterns: tuple[str, ...], *, is_anchored: bool = False) -> GitIgnoreSpec:
    """gitignore-style patterns (`*` stays within one folder, `**` crosses folders).

    With `is_anchored`, every pattern starts at the root, as the folders to read do.
    """
    lines = [_normalise_pattern(raw) for raw in patterns]
    lines = [("/" + line.lstrip("/") if is_anchored else line) for line in lines if line]
    try:
        return GitIgnoreSpec.from_lines(lines)
    except ValueError as error:
        raise DocumentError(
            f"{key} has a pattern git cannot read ({error}); write gitignore-style globs such "
            "as 'docs/*.md' or '**/internal'"
        ) from None


def _could_contain(rel_dir: str, folders: tuple[str, ...]) -> bool:
    """Whether a directory is on the way to (or inside) one of the configured folders."""
    for raw in folders:
        folder = _normalise_pattern(raw).strip("/")
        if not folder or any(ch in folder for ch in "*?["):
            return True
        if (
            rel_dir == folder
            or rel_dir.startswith(folder + "/")
            or folder.startswith(rel_dir + "/")
        ):
            return True
    return False


def is_default_excluded_file(name: str) -> bool:
    """Whether a file name alone rules it out (changelog, licence, translation, requirements)."""
    stem, _, _ = name.partition(".")
    lowered = name.lower()
    full_stem = lowered.rsplit(".", 1)[0] if "." in lowered else lowered
    if stem.lower() in EXCLUDED_FILE_STEMS or full_stem in EXCLUDED_FILE_STEMS:
        return True
    if _REQUIREMENTS.match(name) and lowered.endswith(".txt"):
        return True
    return _is_translation_file(full_stem)


def select_documents(root: Path, config: SourceConfig) -> list[str]:
    """Relative posix paths of the documentation files under `root` to read, sorted.

    The config's folders and excludes are gitignore-style patterns: a name without a slash
    matches at any depth, one with a slash from the root; folders are always from the root.
    """
    root_resolved = root.resolve()
    excluded_folders = _spec("excludeFolders", config.exclude_folders)
    excluded_files = _spec("excludeFiles", config.exclude_files)
    is_everywhere = not config.folders or any(not _normalise_pattern(f) for f in config.folders)
    folders = _spec("folders", config.folders, is_anchored=True)
    selected: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        current = Path(dirpath)
        rel_dir = current.relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir
        siblings = set(dirnames)
        kept: list[str] = []
        for name in sorted(dirnames):
            child = f"{rel_dir}/{name}" if rel_dir else name
            if name.startswith(".") or name.lower() in EXCLUDED_DIR_NAMES:
                continue
            if _is_translation_dir(name, siblings):
                continue
            if excluded_folders.match_file(child + "/"):
                continue
            if not is_everywhere and not _could_contain(child, config.folders):
                continue
            if (current / name).is_symlink():
                continue
            kept.append(name)
        dirnames[:] = kept
        for name in filenames:
            rel_path = f"{rel_dir}/{name}" if rel_dir else name
            suffix = os.path.splitext(name)[1].lower()
            is_root_readme = not rel_dir and _ROOT_README.match(name) is not None
            if suffix not in DOC_EXTENSIONS and not is_root_readme:
                continue
            if name in ("twinmcp.json", "context7.json"):
                continue
            path = current / name
            if path.is_symlink() and not path.resolve().is_relative_to(root_resolved):
                continue
            if not path.is_file():
                continue
            if excluded_files.match_file(rel_path):
                continue
            if is_root_readme:
                if not _is_translation_file(name.rsplit(".", 1)[0]):
                    selected.append(rel_path)
                continue
            if is_default_excluded_file(name):
                continue
            if not is_everywhere and not folders.match_file(rel_path):
                continue
            selected.append(rel_path)
    return sorted(selected)

"""Which files of a source tree are documentation worth reading (defaults like Context7's)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from pathspec import GitIgnoreSpec
from twinmcp.ingest.documents import DocumentError, SourceConfig

DOC_EXTENSIONS = frozenset({".md", ".mdx", ".markdown", ".rst", ".txt", ".ipynb", ".html", ".htm"})

# Folders never worth reading, whatever their depth, by why: tooling, dependencies, build output,
# test fixtures, and places where old or superseded docs are kept.
_EXCLUDED_DIRS_BY_REASON: dict[str, frozenset[str]] = {
    "build output": frozenset(
        {
            "_build",
            "dist",
            "out",
            "target",
            "coverage",
            "htmlcov",
            # Sphinx output: static assets, copies of the sources, pickled doctrees.
            "_static",
            "_sources",
            "doctrees",
        }
    ),
    "dependencies": frozenset(
        {
            "node_modules",
            "bower_components",
            "vendor",
            "third_party",
            "third-party",
            "site-packages",
            "__pycache__",
            "venv",
        }
    ),
    "tests and fixtures": frozenset(
        {
            "tests",
            "test",
            "__tests__",
            "testdata",
            "test-data",
            "test_data",
            "fixtures",
            "__fixtures__",
            "__snapshots__",
        }
    ),
    "old or superseded documentation": frozenset(
        {
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
        }
    ),
    "translations": frozenset({"i18n", "l10n", "locale", "locales", "translations"}),
    "changelogs": frozenset(
        {
            "changelog",
            "changelogs",
            "changes",
            "changelog.d",
            "newsfragments",
            "release-notes",
            "release_notes",
            "releasenotes",
        }
    ),
}
_REASON_BY_DIR_NAME = {
    name: reason for reason, names in _EXCLUDED_DIRS_BY_REASON.items() for name in names
}
EXCLUDED_DIR_NAMES = frozenset(_REASON_BY_DIR_NAME)

# Names build tools give their output folder, which some projects also give the folder of their
# documentation sources (SQLAlchemy's doc/build/*.rst beside its conf.py): read when they hold
# sources, skipped as build output otherwise.
BUILD_DIR_NAMES = frozenset({"build"})
_SOURCE_SUFFIXES = frozenset({".rst", ".md", ".mdx", ".markdown", ".ipynb"})
_SITE_ROOT_FILES = frozenset({"conf.py", "index.rst", "index.md", "index.mdx", "mkdocs.yml"})
# What builders leave in their output folders: Sphinx's HTML (.buildinfo, searchindex.js,
# objects.inv) and output kinds (html/, doctrees/...), MkDocs' search index.
_GENERATED_MARKERS = frozenset({".buildinfo", "searchindex.js", "objects.inv"})
_GENERATED_CHILDREN = frozenset(
    {"html", "dirhtml", "singlehtml", "doctrees", ".doctrees", "latex", "epub"}
)


def _entries(folder: Path) -> tuple[set[str], set[str]]:
    """(file names, folder names) directly in `folder`, links not followed; empty if unreadable."""
    files: set[str] = set()
    folders: set[str] = set()
    try:
        with os.scandir(folder) as listing:
            for entry in listing:
                if entry.is_dir(follow_symlinks=False):
                    folders.add(entry.name)
                elif entry.is_file(follow_symlinks=False):
                    files.add(entry.name)
    except OSError:
        pass
    return files, folders


def is_generated_output(folder: Path) -> bool:
    """Whether `folder` is a documentation builder's output (Sphinx HTML, MkDocs site)."""
    files, folders = _entries(folder)
    if files & _GENERATED_MARKERS:
        return True
    return "search" in folders and (folder / "search" / "search_index.json").is_file()


def holds_doc_sources(folder: Path) -> bool:
    """Whether a folder named like build output holds documentation sources instead.

    Sources are .rst/.md files with the site's root nearby (a Sphinx conf.py or an index page
    in the folder, or conf.py beside it); a folder holding a builder's output kinds (html/,
    doctrees/) or markers (searchindex.js) is output, as is one with no sources at all.
    """
    files, folders = _entries(folder)
    if files & _GENERATED_MARKERS or folders & _GENERATED_CHILDREN:
        return False
    if not any(os.path.splitext(name)[1].lower() in _SOURCE_SUFFIXES for name in files):
        return False
    if files & _SITE_ROOT_FILES:
        return True
    return "conf.py" in _entries(folder.parent)[0]


def excluded_dir_reason(folder: Path) -> str:
    """Why the default rules skip a folder by its name and contents ("" when they do not)."""
    name = folder.name.lower()
    if name in _REASON_BY_DIR_NAME:
        return _REASON_BY_DIR_NAME[name]
    if name.endswith((".egg-info", ".dist-info")):
        return "build output"
    if name in BUILD_DIR_NAMES and not holds_doc_sources(folder):
        return "build output"
    return ""


# File stems (lower-cased, extension removed) that describe the project rather than how to use
# it. CONTRIBUTING is excluded too: it explains how to hack on the library itself, which is
# almost never what an agent writing code *with* the library needs, and it is long.
EXCLUDED_FILE_STEMS = frozenset(
    {
        "changelog",
        "changes",
        "history",
        # AnyIO's docs/versionhistory.rst and its kin: a changelog by another name.
        "versionhistory",
        "version-history",
        "version_history",
        "release-history",
        "release_history",
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


def _is_named(rel_dir: str, folders: tuple[str, ...]) -> bool:
    """Whether a configured folder, written without wildcards, is this folder or inside it."""
    for raw in folders:
        folder = _normalise_pattern(raw).strip("/")
        if (
            folder
            and not any(ch in folder for ch in "*?[")
            and (folder == rel_dir or folder.startswith(rel_dir + "/"))
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


@dataclass
class _Exclusions:
    """What the walk left out and why: folders by reason, files by reason."""

    folders: list[tuple[str, str]] = field(default_factory=list)
    files: list[tuple[str, str]] = field(default_factory=list)


def select_documents(root: Path, config: SourceConfig) -> list[str]:
    """Relative posix paths of the documentation files under `root` to read, sorted.

    The config's folders and excludes are gitignore-style patterns: a name without a slash
    matches at any depth, one with a slash from the root; folders are always from the root.
    """
    return _walk(root, config, _Exclusions())


def _walk(root: Path, config: SourceConfig, excluded: _Exclusions) -> list[str]:
    root_resolved = root.resolve()
    excluded_folders = _spec("excludeFolders", config.exclude_folders)
    excluded_files = _spec("excludeFiles", config.exclude_files)
    is_everywhere = not config.folders or any(not _normalise_pattern(f) for f in config.folders)
    folders = _spec("folders", config.folders, is_anchored=True)
    selected: list[str] = []
    # Files of a builder's output folder (Sphinx HTML), read only when nothing else is.
    generated: list[str] = []
    generated_dirs: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        current = Path(dirpath)
        rel_dir = current.relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir
        is_generated = rel_dir in generated_dirs
        siblings = set(dirnames)
        kept: list[str] = []
        for name in sorted(dirnames):
            child = f"{rel_dir}/{name}" if rel_dir else name
            if (current / name).is_symlink():
                continue
            if name.startswith("."):
                continue
            # A folder the owner names (`"folders": ["doc/build"]`) is read whatever its name.
            reason = "" if _is_named(child, config.folders) else excluded_dir_reason(current / name)
            if not reason and _is_translation_dir(name, siblings):
                reason = "translations"
            if not reason and excluded_folders.match_file(child + "/"):
                reason = "excludeFolders of the source's twinmcp.json/context7.json"
            if not reason and not is_everywhere and not _could_contain(child, config.folders):
                reason = "outside the folders of the source's twinmcp.json/context7.json"
            if reason:
                excluded.folders.append((reason, child))
                continue
            # A builder's output folder may hold the sources too (SQLAlchemy's sdist: the HTML
            # in doc/, the .rst sources in doc/build/); those are not output.
            if is_generated_output(current / name) or (
                is_generated and not holds_doc_sources(current / name)
            ):
                generated_dirs.add(child)
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
                excluded.files.append(
                    ("excludeFiles of the source's twinmcp.json/context7.json", rel_path)
                )
                continue
            if is_root_readme:
                if not _is_translation_file(name.rsplit(".", 1)[0]):
                    selected.append(rel_path)
                continue
            if is_default_excluded_file(name):
                excluded.files.append(("changelogs, licences, translations by name", rel_path))
                continue
            if not is_everywhere and not folders.match_file(rel_path):
                excluded.files.append(
                    ("outside the folders of the source's twinmcp.json/context7.json", rel_path)
                )
                continue
            (generated if is_generated else selected).append(rel_path)
    if generated:
        if any(_ROOT_README.match(path) is None for path in selected):
            excluded.files.extend(("generated HTML (a builder's output)", p) for p in generated)
        else:
            selected.extend(generated)
    return sorted(selected)


def explain_no_documents(root: Path, config: SourceConfig) -> str:
    """Why nothing under `root` is read: which exclusions removed how many documentation files.

    For example "412 .rst files under doc/build were excluded as build output"; the caller
    says this when `select_documents` finds nothing.
    """
    excluded = _Exclusions()
    _walk(root, config, excluded)
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for reason, folder in excluded.folders:
        found = _doc_files_under(root / folder)
        if found:
            bucket = counts.setdefault((reason, folder), {})
            for suffix, number in found.items():
                bucket[suffix] = bucket.get(suffix, 0) + number
    for reason, path in excluded.files:
        bucket = counts.setdefault((reason, ""), {})
        suffix = os.path.splitext(path)[1].lower() or "(no extension)"
        bucket[suffix] = bucket.get(suffix, 0) + 1
    if not counts:
        return (
            "the source holds no documentation files (.md, .rst, .html, ...); check the path "
            "or its twinmcp.json folders"
        )
    ranked = sorted(counts.items(), key=lambda item: -sum(item[1].values()))
    parts = []
    for (reason, folder), by_suffix in ranked[:6]:
        files = " and ".join(
            f"{number} {suffix} file{'s' if number != 1 else ''}"
            for suffix, number in sorted(by_suffix.items(), key=lambda kv: -kv[1])[:3]
        )
        where = f" under {folder}" if folder else ""
        verb = "was" if sum(by_suffix.values()) == 1 else "were"
        parts.append(f"{files}{where} {verb} excluded as {reason}")
    if len(ranked) > 6:
        parts.append(f"and {len(ranked) - 6} more exclusions")
    return (
        "the source holds no documentation files to read: "
        + "; ".join(parts)
        + ". To read them, name their folders in the source's twinmcp.json `folders` "
        '("folders": ["doc/build"]) or remove the excludes that drop them'
    )


def _doc_files_under(folder: Path) -> dict[str, int]:
    """How many documentation files, by extension, a folder holds (links not followed)."""
    found: dict[str, int] = {}
    for _, _, filenames in os.walk(folder, followlinks=False):
        for name in filenames:
            suffix = os.path.splitext(name)[1].lower()
            if suffix in DOC_EXTENSIONS:
                found[suffix] = found.get(suffix, 0) + 1
    return found

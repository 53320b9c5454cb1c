"""What a source documents: its display title, other names, and the packages it is published as.

Read at ingest from what the source says of itself, strongest first: twinmcp.json /
context7.json (`projectTitle`, `packages`), package manifests (package.json, pyproject.toml,
setup.cfg, setup.py, Cargo.toml, go.mod, composer.json, pubspec.yaml), site configs (mkdocs.yml,
Sphinx conf.py, VitePress, Docusaurus, Astro, mdBook), the landing page's title and first
heading, and the package most imported in the documentation's own code examples. Nothing is
executed: Python files are read with `ast`, JavaScript configs with regular expressions; a
file nested deeper than the parsers' recursion allows reads as saying nothing.
"""

from __future__ import annotations

import ast
import configparser
import json
import re
import sys
import tomllib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from twinmcp.ingest.documents import DocumentError, SourceConfig
from twinmcp.ingest.parsing.front_matter import split_front_matter

MAX_FILE_BYTES = 512 * 1024
MAX_EXAMPLE_FILES = 3000
MAX_ALIASES = 8
MAX_NAME_CHARS = 60

# Folders a documentation site's config and landing page live in, besides the root.
_DOC_DIRS = (
    "",
    "docs",
    "doc",
    "website",
    "documentation",
    "site",
    "www",
    "docs/source",
    "doc/source",
    "source",
    "src",
)
# Repository names that say "documentation", not whose: /honojs/website, /vuejs/docs.
GENERIC_REPO_NAMES = frozenset(
    ["docs", "doc", "website", "site", "www", "documentation", "web", "homepage", "pages"]
)
_GENERIC_TITLES = frozenset(
    [
        "introduction",
        "intro",
        "overview",
        "welcome",
        "home",
        "homepage",
        "index",
        "readme",
        "docs",
        "documentation",
        "getting started",
        "get started",
        "quickstart",
        "quick start",
        "contents",
        "table of contents",
        "about",
        "my site",
        "my docs",
        "untitled",
    ]
)
_TITLE_SUFFIX = re.compile(
    r"\s+(?:documentation|docs|website|web\s*site|site|guide|handbook|manual|reference)$",
    re.IGNORECASE,
)
_WELCOME = re.compile(r"^welcome\s+to\s+(?:the\s+)?", re.IGNORECASE)
_TITLE_CUT = re.compile(r"\s+[-|\u2013\u2014:\u00b7]\s+|:\s+")
# MkDocs attribute lists: "FastAPI { #fastapi }", "Setup {.hidden}".
_ATTRIBUTES = re.compile(r"\{\s*[#.:][^{}]*\}")
# Each class stops at the next opening mark too, so that text full of unclosed marks ("<<<",
# "[[[") is read in linear time, not rescanned to its end from every mark.
_MD_IMAGE = re.compile(r"!\[[^\[\]]*\]\([^()]*\)")
_MD_LINK = re.compile(r"\[([^\[\]]*)\]\([^()]*\)")
_HTML_TAG = re.compile(r"<[^<>]+>")
_EMPHASIS = re.compile(r"[*_`~]+")
_REGISTRY = re.compile(r"^[a-z][a-z0-9.-]{0,29}$")
_PACKAGE_NAME = re.compile(r"^[^\s:,;'\"`]{1,214}$")


@dataclass(frozen=True)
class Package:
    """A package the library is published as: ("npm", "hono"), ("pypi", "flask")."""

    registry: str  # "" when the owner named the package without its registry
    name: str

    def __str__(self) -> str:
        return f"{self.registry}:{self.name}" if self.registry else self.name


@dataclass(frozen=True)
class Identity:
    """Who the library is, as stored with it: shown to agents and used to resolve names."""

    title: str = ""
    aliases: tuple[str, ...] = ()
    packages: tuple[Package, ...] = ()
    description: str = ""
    # The opening prose of the README or landing page: what the documentation says the
    # library is, in more words than a package summary (resolution matches descriptions to it).
    about: str = ""
    # One line per part saying where it came from, for the job's notes.
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Name:
    text: str
    origin: str


@dataclass(frozen=True)
class _Manifest:
    package: Package
    description: str
    origin: str


def parse_packages(value: Any, origin: str) -> tuple[Package, ...]:
    """The `packages` of a twinmcp.json: a list of "registry:name" strings and/or
    {"registry": ..., "name": ...} objects; DocumentError says which entry is wrong."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise DocumentError(
            f"{origin}: 'packages' must be a list such as [\"npm:hono\"] or "
            '[{"registry": "npm", "name": "hono"}]'
        )
    found: list[Package] = []
    for item in value:
        if isinstance(item, str):
            # "npm:@scope/name": package names never hold a colon; a bare name has no registry.
            registry, separator, name = item.strip().partition(":")
            if not separator:
                registry, name = "", registry
        elif isinstance(item, dict):
            raw_registry, raw_name = item.get("registry", ""), item.get("name")
            if not isinstance(raw_registry, str) or not isinstance(raw_name, str):
                raise DocumentError(
                    f"{origin}: each object in 'packages' needs a string 'name' "
                    "and a string 'registry'"
                )
            registry, name = raw_registry, raw_name
        else:
            raise DocumentError(
                f"{origin}: each entry of 'packages' must be a \"registry:name\" string "
                'or a {"registry": ..., "name": ...} object'
            )
        registry, name = registry.strip().lower(), name.strip()
        if registry and not _REGISTRY.match(registry):
            raise DocumentError(
                f"{origin}: {registry!r} in 'packages' is not a registry name "
                "(e.g. pypi, npm, crates, go)"
            )
        if not name or not _PACKAGE_NAME.match(name):
            raise DocumentError(f"{origin}: {name!r} in 'packages' is not a package name")
        package = Package(registry, name)
        if package not in found:
            found.append(package)
    return tuple(found)


def read_identity(
    root: Path, config: SourceConfig, paths: Sequence[str], library_id: str = ""
) -> Identity:
    """The library's identity from what the source at `root` says of itself.

    `paths` are the selected documentation files (relative to `root`); `library_id` lends its
    repository name as a hint when it is not a generic one ("docs", "website").
    """
    origin = config.origin or "twinmcp.json"
    declared = parse_packages(config.extra.get("packages"), origin)
    manifests = read_manifests(root)
    sites = read_site_titles(root)
    landings = read_landing_titles(root, paths)
    evidence: list[str] = []

    hints = [n.text for n in sites + landings] + [m.package.name for m in manifests]
    if config.project_title:
        hints.insert(0, config.project_title)
    hints.extend(_library_id_hints(library_id))
    imported = most_imported(count_example_imports(root, paths), hints)

    # Packages: the owner's list is authoritative; else published manifests and the package
    # the examples import.
    if declared:
        packages = list(declared)
        evidence.append(f"packages {', '.join(map(str, packages))} ({origin})")
    else:
        packages = []
        for manifest in manifests:
            if manifest.package not in packages:
                packages.append(manifest.package)
                evidence.append(f"package {manifest.package} ({manifest.origin})")
        if imported is not None and not any(
            p.name.lower() == imported.name.lower() for p in packages
        ):
            packages.append(imported)
            evidence.append(f"package {imported} (imported by the code examples)")

    # Title: the owner's, else a site's or the landing page's (one that names a package
    # first), else a package's name.
    package_keys = {_compact(p.name) for p in packages}
    displayed = [n for n in sites + landings if _same_name(n.text, package_keys)]
    title = ""
    title_origin = ""
    if config.project_title:
        title, title_origin = config.project_title, origin
    elif displayed or sites or landings:
        chosen = (displayed or sites or landings)[0]
        title, title_origin = chosen.text, chosen.origin
    elif packages:
        title, title_origin = _display_name(packages[0].name), "package name"
    if title:
        evidence.insert(0, f"title {title!r} ({title_origin})")

    aliases: list[str] = []
    seen = {_compact(title)}
    for text in [n.text for n in sites + landings] + [p.name for p in packages]:
        key = _compact(text)
        if key and key not in seen and len(aliases) < MAX_ALIASES:
            seen.add(key)
            aliases.append(text)
    description = next((m.description for m in manifests if m.description), "")
    description = description or read_site_description(root)
    about, about_origin = read_about(root, paths)
    if about:
        evidence.append(f"about: {len(about)} characters ({about_origin})")
    return Identity(
        title=title,
        aliases=tuple(aliases),
        packages=tuple(packages),
        description=description,
        about=about,
        evidence=tuple(evidence),
    )


# --- files ------------------------------------------------------------------------------


def _read(root: Path, relative: str) -> str | None:
    """The text of a file inside `root`, or None (missing, a link out, too large, binary)."""
    path = root / relative
    try:
        if not path.is_file():
            return None
        if not path.resolve().is_relative_to(root.resolve()):
            return None
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"\x00" in data:
        return None
    return data.decode("utf-8-sig", errors="replace")


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


# --- manifests --------------------------------------------------------------------------


def read_manifests(root: Path) -> list[_Manifest]:
    """Published packages named by the manifests at the source's root, in a fixed order."""
    found: list[_Manifest] = []
    is_site = any((root / name).is_file() for name in _JS_CONFIGS)
    for name, reader in _MANIFEST_READERS:
        text = _read(root, name)
        if text is None:
            continue
        if name == "package.json" and is_site and not _has_entry_point(text):
            continue  # the documentation website's own package ("vuejs.org"), not a library
        for registry, package, description in reader(text):
            package = package.strip()
            if package and len(package) <= 214 and not any(c.isspace() for c in package):
                found.append(_Manifest(Package(registry, package), description.strip(), name))
    return found


def _has_entry_point(text: str) -> bool:
    """Whether a package.json describes something others import or run."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return False
    keys = {"main", "module", "exports", "bin", "types", "typings", "browser"}
    return isinstance(data, dict) and bool(keys & data.keys())


def _package_json(text: str) -> list[tuple[str, str, str]]:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return []
    # A private package (a docs website, a monorepo's root) is published under no name.
    if not isinstance(data, dict) or data.get("private") is True:
        return []
    name, description = data.get("name"), data.get("description")
    if not isinstance(name, str):
        return []
    return [("npm", name, description if isinstance(description, str) else "")]


def _pyproject(text: str) -> list[tuple[str, str, str]]:
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError):
        return []
    tool = data.get("tool")
    for table in (
        data.get("project"),
        tool.get("poetry") if isinstance(tool, dict) else None,
    ):
        if isinstance(table, dict) and isinstance(table.get("name"), str):
            description = table.get("description")
            return [("pypi", table["name"], description if isinstance(description, str) else "")]
    return []


def _setup_cfg(text: str) -> list[tuple[str, str, str]]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    name = parser.get("metadata", "name", fallback="")
    return [("pypi", name, parser.get("metadata", "description", fallback=""))] if name else []


def _setup_py(text: str) -> list[tuple[str, str, str]]:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if called != "setup":
            continue
        fields = {
            k.arg: k.value.value
            for k in node.keywords
            if k.arg and isinstance(k.value, ast.Constant) and isinstance(k.value.value, str)
        }
        if "name" in fields:
            return [("pypi", fields["name"], fields.get("description", ""))]
    return []


def _cargo(text: str) -> list[tuple[str, str, str]]:
    try:
        package = tomllib.loads(text).get("package")
    except (tomllib.TOMLDecodeError, RecursionError):
        return []
    if isinstance(package, dict) and isinstance(package.get("name"), str):
        description = package.get("description")
        return [("crates", package["name"], description if isinstance(description, str) else "")]
    return []


def _go_mod(text: str) -> list[tuple[str, str, str]]:
    match = re.search(r"^module\s+\"?([^\s\"]+)\"?", text, re.MULTILINE)
    return [("go", match.group(1), "")] if match else []


def _composer(text: str) -> list[tuple[str, str, str]]:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return []
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return []
    description = data.get("description")
    return [("packagist", data["name"], description if isinstance(description, str) else "")]


def _pubspec(text: str) -> list[tuple[str, str, str]]:
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError):
        return []
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return []
    if data.get("publish_to") == "none":
        return []
    description = data.get("description")
    return [("pub", data["name"], description if isinstance(description, str) else "")]


_MANIFEST_READERS = (
    ("package.json", _package_json),
    ("pyproject.toml", _pyproject),
    ("setup.cfg", _setup_cfg),
    ("setup.py", _setup_py),
    ("Cargo.toml", _cargo),
    ("go.mod", _go_mod),
    ("composer.json", _composer),
    ("pubspec.yaml", _pubspec),
)


# --- site configs -----------------------------------------------------------------------

_JS_CONFIGS = (
    ".vitepress/config.ts",
    ".vitepress/config.mts",
    ".vitepress/config.js",
    ".vitepress/config.mjs",
    ".vitepress/config.cts",
    "docusaurus.config.ts",
    "docusaurus.config.js",
    "docusaurus.config.mjs",
    "astro.config.mjs",
    "astro.config.ts",
    "astro.config.mts",
    "astro.config.js",
)
# `title: 'Hono'` in a JavaScript/TypeScript config, with its indentation.
_JS_VALUE = re.compile(
    r"""^(?P<indent>[ \t]*)(?P<key>\w+)\s*:\s*(?P<q>['"`])(?P<text>[^'"`\n]+)(?P=q)"""
)
_MKDOCS_SITE_NAME = re.compile(r"^site_name\s*:\s*(.+?)\s*$", re.MULTILINE)
_MKDOCS_DESCRIPTION = re.compile(r"^site_description\s*:\s*(.+?)\s*$", re.MULTILINE)
MAX_DESCRIPTION_CHARS = 300


def read_site_titles(root: Path) -> list[_Name]:
    """Titles of the documentation site's configs, root first, then docs folders."""
    found: list[_Name] = []
    for folder in _DOC_DIRS:
        for name in ("mkdocs.yml", "mkdocs.yaml"):
            text = _read(root, _join(folder, name))
            match = _MKDOCS_SITE_NAME.search(text) if text else None
            if match:
                _add(found, match.group(1).strip().strip("'\""), _join(folder, name))
        text = _read(root, _join(folder, "conf.py"))
        if text:
            _add(found, _sphinx_project(text), _join(folder, "conf.py"))
        for name in _JS_CONFIGS:
            text = _read(root, _join(folder, name))
            if text:
                _add(found, _js_config_value(text, ("title",)), _join(folder, name))
        text = _read(root, _join(folder, "book.toml"))
        if text:
            _add(found, _mdbook_title(text), _join(folder, "book.toml"))
    return found


def _sphinx_project(text: str) -> str:
    """`project = "Flask"` at the top level of a Sphinx conf.py, read without running it."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ""
    for node in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign):
            targets, value = [node.target], node.value
        is_project = any(isinstance(t, ast.Name) and t.id == "project" for t in targets)
        if is_project and isinstance(value, ast.Constant) and isinstance(value.value, str):
            return value.value
    return ""


def read_site_description(root: Path) -> str:
    """What the documentation site says the library is: mkdocs.yml `site_description`, a
    VitePress `description` or a Docusaurus `tagline`."""
    for folder in _DOC_DIRS:
        for name in ("mkdocs.yml", "mkdocs.yaml"):
            text = _read(root, _join(folder, name))
            match = _MKDOCS_DESCRIPTION.search(text) if text else None
            if match:
                return _description(match.group(1).strip().strip("'\""))
        for name in _JS_CONFIGS:
            text = _read(root, _join(folder, name))
            found = _js_config_value(text, ("description", "tagline")) if text else ""
            if found:
                return _description(found)
    return ""


def _description(text: str) -> str:
    return " ".join(_HTML_TAG.sub("", text).split())[:MAX_DESCRIPTION_CHARS]


def _js_config_value(text: str, keys: tuple[str, ...]) -> str:
    """The least indented `key: '...'` (the site's title, not a navbar's or a page's)."""
    best: tuple[int, str] | None = None
    for line in text.splitlines():
        match = _JS_VALUE.match(line)
        if match is None or match.group("key") not in keys:
            continue
        depth = len(match.group("indent").expandtabs(2))
        if best is None or depth < best[0]:
            best = (depth, match.group("text"))
    return best[1] if best else ""


def _mdbook_title(text: str) -> str:
    try:
        book = tomllib.loads(text).get("book")
    except (tomllib.TOMLDecodeError, RecursionError):
        return ""
    title = book.get("title") if isinstance(book, dict) else None
    return title if isinstance(title, str) else ""


# --- landing pages ----------------------------------------------------------------------

# `llms` is an llms.txt source (its H1 is the project's name by the format's rule); `0000-...`
# the start page of a crawled site (fetching/web.py numbers pages in crawl order).
_LANDING_STEMS = ("index", "llms", "0000", "readme", "intro", "introduction")
_ATX_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$")
_RST_UNDERLINE = re.compile(r"^([=#*~^\-+])\1{2,}\s*$")


def read_landing_titles(root: Path, paths: Sequence[str]) -> list[_Name]:
    """The titles and first headings of the landing pages: the shallowest index pages first,
    then the README at the root."""
    pages = [
        p
        for p in paths
        if _landing_stem(p) in _LANDING_STEMS
        and PurePosixPath(p).suffix.lower() in {".md", ".mdx", ".markdown", ".rst", ".txt"}
    ]
    readmes = [p for p in pages if "/" not in p and PurePosixPath(p).stem.lower() == "readme"]
    if not readmes and (root / "README.md").is_file():
        readmes.append("README.md")
    indexes = [p for p in pages if _landing_stem(p) != "readme"]
    # Only the shallowest: deeper index pages open sections ("Deployment", "Tutorial").
    shallowest = min((p.count("/") for p in indexes), default=0)
    indexes = sorted(
        (p for p in indexes if p.count("/") == shallowest),
        key=lambda p: (_LANDING_STEMS.index(_landing_stem(p)), p),
    )
    found: list[_Name] = []
    for page in (indexes[:3] + readmes)[:4]:
        text = _read(root, page)
        if text is None:
            continue
        for title in _page_titles(text, PurePosixPath(page).suffix.lower()):
            _add(found, title, page)
    return found


def _landing_stem(path: str) -> str:
    stem = PurePosixPath(path).stem.lower()
    return "0000" if re.fullmatch(r"0000-.*", stem) and "/" not in path else stem


def _page_titles(text: str, suffix: str) -> list[str]:
    """A page's front-matter names (VitePress `hero.name`, `title`) and its first heading."""
    titles: list[str] = []
    body = text
    if text.startswith("---\n"):
        end = re.search(r"^(?:---|\.\.\.)[ \t]*$", text[4:], re.MULTILINE)
        if end:
            body = text[4 + end.end() :]
            try:
                data = yaml.safe_load(text[4 : 4 + end.start()])
            except (yaml.YAMLError, RecursionError):
                data = None
            if isinstance(data, dict):
                hero = data.get("hero")
                if isinstance(hero, dict) and isinstance(hero.get("name"), str):
                    titles.append(hero["name"])
                if isinstance(data.get("title"), str):
                    titles.append(data["title"])
    heading = _rst_title(body) if suffix in {".rst", ".txt"} else _markdown_title(body)
    if heading:
        titles.append(heading)
    return titles


def _markdown_title(text: str) -> str:
    fence = ""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        stripped = line.strip()
        if fence:
            if stripped.startswith(fence):
                fence = ""
            continue
        if stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
            continue
        match = _ATX_HEADING.match(stripped)
        if match:
            return match.group(1)
        html = _html_h1(line)
        if html and _clean(html):
            return html
        following = lines[index + 1].strip() if index + 1 < len(lines) else ""
        if stripped and re.fullmatch(r"={3,}", following):
            return stripped
    return ""


def _html_h1(line: str) -> str:
    """The content of the line's first `<h1 ...>...</h1>` ("" for none), found in one pass:
    a pattern with a lazy `.*?` rescanned the rest of a line of unclosed `<h1` from each."""
    lower = line.lower()
    start = lower.find("<h1")
    while start >= 0:
        if lower[start + 3 : start + 4] in (">", " ", "\t"):
            close = lower.find(">", start)
            end = lower.find("</h1>", close) if close >= 0 else -1
            return line[close + 1 : end] if end >= 0 else ""
        start = lower.find("<h1", start + 3)
    return ""


def _rst_title(text: str) -> str:
    lines = text.splitlines()
    for index, line in enumerate(lines[:-1]):
        stripped = line.strip()
        underline = lines[index + 1].strip()
        if (
            stripped
            and not _RST_UNDERLINE.match(stripped)
            and _RST_UNDERLINE.match(underline)
            and len(underline) >= len(stripped) - 1
        ):
            return stripped
    return ""


# --- about: the opening prose ----------------------------------------------------------

MAX_ABOUT_CHARS = 600
_README_NAMES = ("README.md", "README.rst", "README.markdown", "README.txt", "README")
# Prose links also come as references ("[WSGI][wsgi]") and bare "[WSGI]", which titles'
# `_MD_LINK` leaves alone; images and tags as for titles (`_MD_IMAGE`, `_HTML_TAG`).
_PROSE_LINK = re.compile(r"\[([^\[\]]*)\](?:\([^()]*\)|\[[^\[\]]*\])?")
_RST_LINK = re.compile(r"`([^`<]*?)\s*<[^<>`]*>`_{1,2}")
_LINK_DEFINITION = re.compile(r"^\s*\[[^\]]+\]:\s*\S+")
_URL = re.compile(r"https?://\S+")
_INLINE_MARKS = re.compile(r"\*\*|__|`+|(?<!\w)[*_](?=\w)|(?<=\w)[*_](?!\w)")
_LIST_MARK = re.compile(r"^(?:[-*+]|\d+[.)])\s+")
_UNDERLINE = re.compile(r"^([=\-~^*#+`:.'\"_])\1{2,}\s*$")
_FENCE = re.compile(r"^(`{3,}|~{3,})")
# A line of prose has at least this many words once markup and addresses are gone.
_MIN_PROSE_WORDS = 3
_MIN_ITEM_WORDS = 2


def read_about(root: Path, paths: Sequence[str]) -> tuple[str, str]:
    """(the opening prose of the README at the root, else of the shallowest landing page, and
    the file it came from); ("", "") when neither has any."""
    pages = [name for name in _README_NAMES if (root / name).is_file()]
    landings = [
        p
        for p in paths
        if _landing_stem(p) in {"index", "intro", "introduction", "0000", "llms"}
        and PurePosixPath(p).suffix.lower() in {".md", ".mdx", ".markdown", ".rst", ".txt"}
    ]
    pages.extend(sorted(landings, key=lambda p: (p.count("/"), p))[:2])
    for page in pages:
        text = _read(root, page)
        about = opening_prose(text) if text else ""
        if about:
            return about, page
    return "", ""


def _without_comments(text: str) -> str:
    """`text` without HTML comments (an unclosed one runs to the end)."""
    parts: list[str] = []
    at = 0
    while (start := text.find("<!--", at)) >= 0:
        parts.append(text[at:start])
        end = text.find("-->", start + 4)
        if end < 0:
            return " ".join(parts)
        at = end + 3
    parts.append(text[at:])
    return " ".join(parts)


def opening_prose(text: str, limit: int = MAX_ABOUT_CHARS) -> str:
    """The first paragraphs of prose of a Markdown or reStructuredText page, as plain text:
    badges, images, HTML, headings, link lines, directives and code are skipped; it ends at
    the first section heading or code block after the prose began, or near `limit`
    characters. The page's title heading does not end it (an introduction follows it)."""
    _, text = split_front_matter(text[:20_000])
    text = _HTML_TAG.sub(" ", _MD_IMAGE.sub(" ", _without_comments(text)))
    lines = text.splitlines()
    kept: list[str] = []
    paragraph: list[str] = []
    size = 0

    is_item = False

    def flush() -> None:
        nonlocal size
        words = " ".join(paragraph)
        paragraph.clear()
        # A list item says one thing ("WebSocket support."); other short lines are leftovers.
        wanted = _MIN_ITEM_WORDS if is_item else _MIN_PROSE_WORDS
        if len(re.findall(r"[A-Za-z]{2,}", words)) >= wanted:
            kept.append(words)
            size += len(words) + 1

    fence = ""
    in_directive = False
    headings = 0
    for index, raw in enumerate(lines):
        line = raw.strip()
        following = lines[index + 1].strip() if index + 1 < len(lines) else ""
        if fence:
            fence = "" if line.startswith(fence) else fence
            continue
        opening = _FENCE.match(line)
        is_heading = line.startswith("#") or bool(
            line and _UNDERLINE.match(following) and not _UNDERLINE.match(line)
        )
        if opening or is_heading or line.startswith(".. code") or line.endswith("::"):
            flush()
            is_title = is_heading and headings == 0 and not line.startswith("##")
            headings += is_heading
            if kept and not is_title:
                break
            if is_title:
                # A title that says more than a name is a tagline ("marshmallow: simplified
                # object serialization"); "# Flask" says nothing the title field lacks.
                paragraph.append(" ".join(_INLINE_MARKS.sub("", line.lstrip("#")).split()))
                flush()
            fence = opening.group(1) if opening else ""
            in_directive = not opening and not is_heading
            continue
        if in_directive and (not line or raw[:1] in " \t"):
            continue
        in_directive = False
        if not line or line.startswith(("..", "|", ">", ":")) or _UNDERLINE.match(line):
            flush()
            if size >= limit:
                break
            continue
        if _LINK_DEFINITION.match(line):
            continue
        words = _RST_LINK.sub(r"\1", _PROSE_LINK.sub(r"\1", line))
        words = _INLINE_MARKS.sub("", _URL.sub(" ", words))
        words = _LIST_MARK.sub("", " ".join(words.split()))
        if _LIST_MARK.match(line):
            flush()  # each item of a list is a paragraph of its own
            is_item = True
        elif not paragraph:
            is_item = False
        paragraph.append(words)
    flush()
    about = " ".join(kept)
    if len(about) > limit:
        about = about[:limit].rsplit(" ", 1)[0]
    return about


# --- code examples ----------------------------------------------------------------------

# ```ts title="app.ts", and MyST's ```{code-block} python.
_FENCE_OPEN = re.compile(
    r"^\s*(?P<fence>`{3,}|~{3,})\s*(?:\{(?:code-block|code|sourcecode)\}\s*)?(?P<lang>[\w+#.-]*)"
)
_JS_LANGUAGES = frozenset(
    {"js", "javascript", "jsx", "ts", "typescript", "tsx", "mjs", "cjs", "mts", "vue", "svelte"}
    | {"astro", "html"}
)
_PY_LANGUAGES = frozenset(["py", "python", "python3", "pycon", "ipython", "py3", "pyi"])
_JS_IMPORT = re.compile(
    r"""(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)(['"])(?P<spec>[^'"\s]+)\1"""
)
_PY_FROM = re.compile(r"^\s*(?:>>>\s*|\.\.\.\s*)?from\s+(?P<module>[\w.]+)\s+import\b", re.M)
_PY_IMPORT = re.compile(r"^\s*(?:>>>\s*|\.\.\.\s*)?import\s+(?P<modules>[\w., \t]+)", re.M)
_NODE_BUILTINS = frozenset(
    [
        "assert",
        "async_hooks",
        "buffer",
        "child_process",
        "cluster",
        "console",
        "constants",
        "crypto",
        "dgram",
        "diagnostics_channel",
        "dns",
        "domain",
        "events",
        "fs",
        "http",
        "http2",
        "https",
        "inspector",
        "module",
        "net",
        "os",
        "path",
        "perf_hooks",
        "process",
        "punycode",
        "querystring",
        "readline",
        "repl",
        "stream",
        "string_decoder",
        "sys",
        "test",
        "timers",
        "tls",
        "trace_events",
        "tty",
        "url",
        "util",
        "v8",
        "vm",
        "wasi",
        "worker_threads",
        "zlib",
    ]
)
# Bundler and site aliases, not packages: `@site/src/...`, `@theme/Layout`, `~/utils`.
_JS_ALIAS_SCOPES = frozenset(["@site", "@theme", "@theme-original", "@generated", "@"])
_JS_NAME = re.compile(r"^(?:@[a-z0-9][\w.-]*/)?[a-z0-9][\w.-]*$")
# Import names that differ from the distribution people install.
_PYPI_DISTRIBUTIONS = {
    "bs4": "beautifulsoup4",
    "yaml": "pyyaml",
    "PIL": "pillow",
    "sklearn": "scikit-learn",
    "cv2": "opencv-python",
    "dateutil": "python-dateutil",
    "dotenv": "python-dotenv",
    "jwt": "pyjwt",
    "attr": "attrs",
    "google.protobuf": "protobuf",
    "OpenSSL": "pyopenssl",
    "serial": "pyserial",
    "magic": "python-magic",
    "docx": "python-docx",
    "jose": "python-jose",
    "multipart": "python-multipart",
    "Crypto": "pycryptodome",
    "git": "gitpython",
    "skimage": "scikit-image",
    "zmq": "pyzmq",
}
_PY_STDLIB = frozenset(sys.stdlib_module_names) | {"__future__", "__main__"}


def count_example_imports(root: Path, paths: Sequence[str]) -> Counter[Package]:
    """How many of the documentation's code blocks import each package."""
    counts: Counter[Package] = Counter()
    for path in paths[:MAX_EXAMPLE_FILES]:
        suffix = PurePosixPath(path).suffix.lower()
        if suffix not in {".md", ".mdx", ".markdown", ".rst", ".txt"}:
            continue
        text = _read(root, path)
        if text is None:
            continue
        if suffix in {".rst", ".txt"}:
            blocks = [("", block) for block in _indented_blocks(text)]
        else:
            blocks = _fenced_blocks(text)
        for language, code in blocks:
            counts.update(set(imports_of(code, language)))
    return counts


def _fenced_blocks(text: str) -> list[tuple[str, str]]:
    blocks: list[tuple[str, str]] = []
    fence = ""
    language = ""
    lines: list[str] = []
    for line in text.splitlines():
        if fence:
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                blocks.append((language, "\n".join(lines)))
                fence = ""
            else:
                lines.append(line)
            continue
        match = _FENCE_OPEN.match(line)
        if match:
            fence, language, lines = match.group("fence"), match.group("lang").lower(), []
    return blocks


def _indented_blocks(text: str) -> list[str]:
    """reStructuredText literal blocks and doctests: indented or `>>>` runs of lines."""
    blocks: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        if line.startswith((" ", "\t", ">>>")) and line.strip():
            current.append(line)
        elif line.strip() or not current:
            if current:
                blocks.append("\n".join(current))
            current = []
    if current:
        blocks.append("\n".join(current))
    return blocks


def imports_of(code: str, language: str = "") -> list[Package]:
    """The packages a code block imports; relative imports and standard libraries are not."""
    found: list[Package] = []
    # An unlabelled block may be either; another language's imports (Go's `import "fmt"`,
    # Java's `import java.util.List;`) are not packages of these registries.
    is_python = language in _PY_LANGUAGES or not language
    is_js = language in _JS_LANGUAGES or not language
    if is_js:
        for match in _JS_IMPORT.finditer(code):
            name = _npm_package(match.group("spec"))
            if name:
                found.append(Package("npm", name))
    if is_python:
        modules = [m.group("module") for m in _PY_FROM.finditer(code)]
        for match in _PY_IMPORT.finditer(code):
            modules.extend(part.split(" as ")[0] for part in match.group("modules").split(","))
        for module in modules:
            name = _pypi_package(module.strip())
            if name:
                found.append(Package("pypi", name))
    return found


def _npm_package(spec: str) -> str:
    if spec.startswith("npm:"):
        spec = spec[4:]
    if re.match(r"^(?:[a-z]+:|[./~#$]|@/)", spec):
        return ""  # a builtin (node:fs), another registry (jsr:), a URL, a path or an alias
    parts = spec.split("/")
    if spec.startswith("@"):
        if len(parts) < 2 or parts[0] in _JS_ALIAS_SCOPES:
            return ""
        scope, rest = parts[0], parts[1]
        name = f"{scope}/{rest.split('@', 1)[0]}"
    else:
        name = parts[0].split("@", 1)[0]
    if name in _NODE_BUILTINS or not _JS_NAME.match(name):
        return ""
    return name


def _pypi_package(module: str) -> str:
    if not module or module.startswith("."):
        return ""
    if module in _PYPI_DISTRIBUTIONS:
        return _PYPI_DISTRIBUTIONS[module]
    top = module.split(".")[0]
    if top in _PY_STDLIB or not top.isidentifier() or top.startswith("_"):
        return ""
    return _PYPI_DISTRIBUTIONS.get(top, top.lower())


def most_imported(counts: Counter[Package], hints: Iterable[str] = ()) -> Package | None:
    """The package the examples are about.

    One named like the library (its title, site, a manifest or its repository) wins among
    those imported at least twice: react-hook-form's examples import react as often as
    react-hook-form. Otherwise the most imported one, if it clearly leads (at least three
    blocks, and twice as many as the next): a package chosen on this evidence alone claims
    its catalog entry, so a plugin's docs that import their framework more than themselves
    must not pass for the framework's.
    """
    ranked = counts.most_common()
    if not ranked:
        return None
    keys: set[str] = set()
    for hint in hints:
        keys |= _name_keys(hint)
    for package, count in ranked[:8]:
        if count >= 2 and _name_keys(package.name) & keys:
            return package
    package, count = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0
    if count >= 3 and count >= 2 * runner_up:
        return package
    return None


# --- names ------------------------------------------------------------------------------


def _compact(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def _name_keys(text: str) -> set[str]:
    """Spellings of one name: "Vue.js", "vue" and "vuejs" share "vue"; "@hono/hono" -> hono."""
    base = text.rsplit("/", 1)[-1] if text.startswith("@") else text
    keys = {_compact(text), _compact(base)}
    for key in list(keys):
        for affix in ("js", "py"):
            if key.endswith(affix) and len(key) > len(affix) + 1:
                keys.add(key[: -len(affix)])
        if key.startswith("py") and len(key) > 4:
            keys.add(key[2:])
    return {k for k in keys if k}


def _same_name(text: str, package_keys: set[str]) -> bool:
    return any(_name_keys(text) & _name_keys(key) for key in package_keys)


def _library_id_hints(library_id: str) -> list[str]:
    """The repository's name, or its owner's when the repository is named like a docs site
    (/honojs/website says "honojs")."""
    parts = [p for p in library_id.strip("/").split("/") if p]
    if len(parts) < 2 or parts[0] in {"websites", "llmstxt"}:
        return []
    owner, repo = parts[0], parts[1]
    if _is_generic_repo(repo):
        return [owner]
    return [repo]


def _is_generic_repo(repo: str) -> bool:
    lowered = repo.lower()
    return lowered in GENERIC_REPO_NAMES or bool(
        re.search(r"[.-](?:dev|org|io|com|net|docs|website|site)$", lowered)
    )


def _display_name(package: str) -> str:
    """What a package name reads as: "@hono/node-server" -> "@hono/node-server"; "go"
    module paths by their last segment ("github.com/gin-gonic/gin" -> "gin")."""
    if "/" in package and not package.startswith("@"):
        parts = [p for p in package.split("/") if not re.fullmatch(r"v\d+", p)]
        return parts[-1] if parts else package
    return package


def _clean(text: str) -> str:
    """A heading or config title as a name: markup, "Welcome to", "documentation" and
    taglines removed; "" when what is left is not a name."""
    text = _ATTRIBUTES.sub("", text)
    text = _MD_IMAGE.sub("", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _HTML_TAG.sub("", text)
    text = _EMPHASIS.sub("", text)
    text = " ".join(text.split())
    text = _WELCOME.sub("", text)
    text = _TITLE_CUT.split(text, maxsplit=1)[0].strip()
    text = _TITLE_SUFFIX.sub("", text).strip(" .!")
    if not text or len(text) > MAX_NAME_CHARS or len(text.split()) > 4:
        return ""
    if text.lower() in _GENERIC_TITLES or not re.search(r"[A-Za-z0-9]", text):
        return ""
    return text


def _add(found: list[_Name], raw: str, origin: str) -> None:
    text = _clean(raw)
    if text and all(_compact(n.text) != _compact(text) for n in found):
        found.append(_Name(text, origin))

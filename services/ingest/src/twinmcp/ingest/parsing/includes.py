"""Reading files that include directives name, never outside the source root, and picking lines."""

from __future__ import annotations

import ast
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

logger = logging.getLogger(__name__)

MAX_INCLUDE_BYTES = 1024 * 1024
MAX_INCLUDE_DEPTH = 5

LANGUAGE_BY_EXTENSION = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "jsx",
    ".ts": "typescript",
    ".tsx": "tsx",
    ".json": "json",
    ".toml": "toml",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".ini": "ini",
    ".cfg": "ini",
    ".sh": "bash",
    ".bash": "bash",
    ".html": "html",
    ".htm": "html",
    ".jinja": "jinja",
    ".j2": "jinja",
    ".css": "css",
    ".sql": "sql",
    ".rs": "rust",
    ".go": "go",
    ".java": "java",
    ".kt": "kotlin",
    ".rb": "ruby",
    ".php": "php",
    ".c": "c",
    ".h": "c",
    ".cpp": "cpp",
    ".cs": "csharp",
    ".swift": "swift",
    ".md": "markdown",
    ".rst": "rst",
    ".txt": "text",
    ".dockerfile": "dockerfile",
    ".xml": "xml",
}


LANGUAGE_ALIASES = {
    "py": "python",
    "py3": "python",
    "python3": "python",
    "pycon": "python",
    "ipython": "python",
    "ipython3": "python",
    "sh": "bash",
    "shell": "bash",
    "zsh": "bash",
    "shell-session": "console",
    "shellsession": "console",
    "js": "javascript",
    "node": "javascript",
    "ts": "typescript",
    "yml": "yaml",
    "md": "markdown",
    "txt": "text",
    "plaintext": "text",
    "plain": "text",
    "none": "text",
    "jinja2": "jinja",
    "html+jinja": "jinja",
    "htmldjango": "jinja",
    "ps1": "powershell",
    "pwsh": "powershell",
    "dosbatch": "batch",
    "cmd": "batch",
    "golang": "go",
    "rs": "rust",
    "rb": "ruby",
    "c++": "cpp",
    "cs": "csharp",
    "kt": "kotlin",
    "docker": "dockerfile",
}


def normalise_language(raw: str) -> str:
    lang = raw.strip().lstrip("{").lstrip(".").split()[0] if raw.strip() else ""
    lang = lang.strip("{}.,").lower()
    if "=" in lang:
        return ""
    compound = re.match(r"^([a-z][\w-]*)\+[a-z][\w-]*$", lang)
    if compound:
        # Pygments' "host+embedded" lexers (SQLAlchemy's `pycon+sql`, `html+jinja`): the host
        # language is what the block is written in.
        lang = compound.group(1)
    return LANGUAGE_ALIASES.get(lang, lang)


def language_for(path: str) -> str:
    name = PurePosixPath(path).name.lower()
    if name == "dockerfile":
        return "dockerfile"
    return LANGUAGE_BY_EXTENSION.get(PurePosixPath(name).suffix, "text")


@dataclass(frozen=True)
class Included:
    """The text of an included file and its path relative to the source root."""

    path: str
    text: str


@dataclass
class IncludeResolver:
    """Reads include targets relative to a page, refusing anything that leaves `root`."""

    root: Path
    _resolved_root: Path = field(init=False)
    _cache: dict[str, Included | str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._resolved_root = self.root.resolve()

    @property
    def resolved_root(self) -> Path:
        return self._resolved_root

    def _candidates(self, page_dir: str, ref: str) -> list[str]:
        ref = ref.strip().replace("\\", "/")
        if ref.startswith("/"):
            # Sphinx and pymdownx treat a leading slash as "from the top of the source".
            return [ref.lstrip("/")]
        dirs: list[str] = []
        current = PurePosixPath(page_dir)
        while True:
            dirs.append(current.as_posix())
            if current.as_posix() in ("", "."):
                break
            current = current.parent
        # FastAPI pages say ../../docs_src/... relative to docs/en/; pymdownx base_path is
        # usually the repository root: trying each ancestor of the page covers both.
        candidates = [os.path.normpath(f"{d}/{ref}") if d not in ("", ".") else ref for d in dirs]
        stripped = re.sub(r"^(\.\./)+", "", ref)
        if stripped != ref:
            candidates.append(stripped)
        return candidates

    def read(self, page_path: str, ref: str) -> Included | str:
        """The file `ref` names from the page at `page_path`, or a reason it cannot be shown."""
        page_dir = PurePosixPath(page_path).parent.as_posix()
        key = f"{page_dir}\0{ref}"
        if key in self._cache:
            return self._cache[key]
        result = self._read_uncached(page_dir, ref)
        self._cache[key] = result
        return result

    def _read_uncached(self, page_dir: str, ref: str) -> Included | str:
        if not ref.strip() or "\0" in ref:
            return "empty include path"
        refused = False
        for candidate in self._candidates(page_dir, ref):
            if candidate.startswith("../") or candidate == ".." or os.path.isabs(candidate):
                refused = True
                continue
            path = self.root / candidate
            # Cheap existence check first: most candidates (one per ancestor) do not exist.
            if not os.path.lexists(path):
                continue
            try:
                resolved = path.resolve()
            except (OSError, RuntimeError):
                continue
            if not resolved.is_relative_to(self._resolved_root):
                refused = True
                continue
            if not resolved.is_file():
                continue
            if resolved.stat().st_size > MAX_INCLUDE_BYTES:
                return f"{ref} is larger than {MAX_INCLUDE_BYTES} bytes"
            data = resolved.read_bytes()
            if b"\0" in data[:8192]:
                return f"{ref} is not a text file"
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                return f"{ref} is not UTF-8 text"
            rel = resolved.relative_to(self._resolved_root).as_posix()
            return Included(path=rel, text=text.replace("\r\n", "\n").replace("\r", "\n"))
        if refused:
            logger.info("include %s from %s refused: outside the source root", ref, page_dir)
            return f"{ref} is outside the source tree"
        return f"{ref} was not found"


def missing_note(reason: str) -> str:
    """The one line left where an include could not be resolved."""
    return f"(Not shown: {reason}.)"


def select_line_ranges(text: str, spec: str) -> str:
    """Lines picked by a 1-based spec such as "1:11", "3-5,9", "20-" (inclusive ranges)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    picked: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        match = re.fullmatch(r"(-?\d*)\s*[:-]\s*(-?\d*)", part)
        if match:
            start = int(match.group(1)) if match.group(1) else 1
            end = int(match.group(2)) if match.group(2) else len(lines)
        elif part.lstrip("-").isdigit():
            start = end = int(part)
        else:
            continue
        if start < 0:
            start = len(lines) + start + 1
        if end < 0:
            end = len(lines) + end + 1
        picked.extend(range(max(start, 1), min(end, len(lines)) + 1))
    if not picked:
        return text
    return "\n".join(lines[i - 1] for i in picked)


def pick_lines(text: str, numbers: list[int], gap: str = "# ...") -> str:
    """Only the given 1-based lines, with a gap marker where lines were skipped."""
    lines = text.split("\n")
    out: list[str] = []
    previous = 0
    for number in sorted(set(numbers)):
        if number < 1 or number > len(lines):
            continue
        if previous and number > previous + 1:
            indent = re.match(r"\s*", lines[number - 1])
            out.append((indent.group(0) if indent else "") + gap)
        out.append(lines[number - 1])
        previous = number
    return "\n".join(out)


def parse_line_numbers(spec: str) -> list[int]:
    """FastAPI's hl[2,6:11] / Sphinx's emphasize-lines 2,6-11 as a list of numbers."""
    numbers: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        match = re.fullmatch(r"(\d+)\s*[:-]\s*(\d+)", part)
        if match:
            numbers.extend(range(int(match.group(1)), int(match.group(2)) + 1))
        elif part.isdigit():
            numbers.append(int(part))
    return numbers


def between_markers(
    text: str, start_after: str | None, end_before: str | None, start_at: str | None = None
) -> str:
    """Sphinx's :start-after: / :end-before: / :start-at: (first match; whole text if absent)."""
    if start_after:
        index = text.find(start_after)
        if index >= 0:
            text = text[index + len(start_after) :]
            text = text.split("\n", 1)[1] if "\n" in text else ""
    elif start_at:
        index = text.find(start_at)
        if index >= 0:
            line_start = text.rfind("\n", 0, index) + 1
            text = text[line_start:]
    if end_before:
        index = text.find(end_before)
        if index >= 0:
            text = text[: text.rfind("\n", 0, index) + 1]
    return text


def snippet_section(text: str, name: str) -> str | None:
    """pymdownx snippets' `--8<-- [start:name]` ... `--8<-- [end:name]` section of a file."""
    start = re.search(r"--8<--\s*\[start:" + re.escape(name) + r"\]", text)
    if not start:
        return None
    rest = text[start.end() :]
    rest = rest.split("\n", 1)[1] if "\n" in rest else ""
    end = re.search(r"^.*--8<--\s*\[end:" + re.escape(name) + r"\]", rest, re.MULTILINE)
    return rest[: end.start()] if end else rest


def strip_section_markers(text: str) -> str:
    """Drops pymdownx `--8<-- [start:x]` marker lines so they never show in code."""
    if "--8<--" not in text:
        return text
    return "\n".join(
        line for line in text.split("\n") if not re.search(r"--8<--\s*\[(start|end):", line)
    )


def python_object(text: str, dotted: str) -> str | None:
    """Sphinx's :pyobject: — the source of a class, function or Class.method in `text`."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    body: list[ast.stmt] = tree.body
    node: ast.stmt | None = None
    for part in dotted.split("."):
        node = next(
            (
                item
                for item in body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and item.name == part
            ),
            None,
        )
        if node is None:
            return None
        body = node.body if isinstance(node, ast.ClassDef) else []
    if node is None or node.end_lineno is None:
        return None
    lines = text.split("\n")
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return dedent_block("\n".join(lines[first - 1 : node.end_lineno]))


def dedent_block(text: str) -> str:
    lines = text.split("\n")
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    if not indents:
        return text
    cut = min(indents)
    return "\n".join(line[cut:] for line in lines)

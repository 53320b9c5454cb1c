"""API reference pages read statically from a package's code: Python (griffe) and .d.ts files.

Nothing here imports or runs the package: griffe parses the source (inspection off), and
TypeScript declarations are scanned as text. Each module or declaration file becomes one
Markdown page titled "API reference: <module>", one section per public class or function.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import griffe

logger = logging.getLogger(__name__)

TITLE_PREFIX = "API reference: "
MAX_MODULES = 400  # pages per package; a package beyond this is a framework with its own docs
MAX_SOURCE_FILES = 4000  # .py/.d.ts files looked at
MAX_DOCSTRING_CHARS = 6000
MAX_DECLARATION_CHARS = 3000
_SKIPPED_TOP = frozenset(
    {"tests", "test", "testing", "docs", "doc", "examples", "example", "benchmarks", "scripts"}
)
_SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", ".git", "test", "tests", "__tests__"})


# --- Python ----------------------------------------------------------------------------------


def python_packages(root: Path, distribution: str) -> tuple[list[str], list[Path]]:
    """Top-level importable names in an sdist or wheel, and the folders they sit in."""
    wanted = re.sub(r"[-_.]+", "_", distribution).lower()
    search = [p for p in (root / "src", root / "lib", root) if p.is_dir() and not p.is_symlink()]
    names: list[str] = []
    for folder in search:
        for entry in sorted(folder.iterdir()):
            if entry.is_symlink() or entry.name.startswith((".", "_")):
                continue
            if entry.name.lower() in _SKIPPED_TOP or entry.name in names:
                continue
            is_package = entry.is_dir() and (entry / "__init__.py").is_file()
            is_module = entry.is_file() and entry.suffix == ".py"
            # A lone module at the root of an sdist is setup.py & co. unless it is the project.
            if is_module and folder == root and entry.stem.lower() != wanted:
                continue
            if is_package or is_module:
                names.append(entry.stem if is_module else entry.name)
    return names, search


def write_python_reference(root: Path, distribution: str, out: Path, max_bytes: int) -> list[str]:
    """Writes one page per public module under `out`; the relative paths written."""
    names, search = python_packages(root, distribution)
    written: list[str] = []
    griffe_logger = logging.getLogger("griffe")
    level = griffe_logger.level
    # Unresolved aliases and annotations are normal in a package read alone; not our errors.
    griffe_logger.setLevel(logging.CRITICAL)
    try:
        for name in names:
            try:
                package = griffe.load(
                    name,
                    search_paths=search,
                    allow_inspection=False,
                    store_source=False,
                    resolve_aliases=False,
                )
            except (griffe.GriffeError, ImportError, SyntaxError, RecursionError, OSError) as exc:
                logger.info("no API reference for %s: %s", name, exc)
                continue
            if not isinstance(package, griffe.Module):
                continue
            for module in _public_modules(package):
                if len(written) >= MAX_MODULES:
                    return written
                page = _module_page(module)
                if page is None:
                    continue
                relative = f"{module.path}.md"
                data = page.encode("utf-8")[:max_bytes]
                out.mkdir(parents=True, exist_ok=True)
                (out / relative).write_bytes(data)
                written.append(relative)
    finally:
        griffe_logger.setLevel(level)
    return written


def _public_modules(package: griffe.Module) -> Iterator[griffe.Module]:
    stack = [package]
    while stack:
        module = stack.pop(0)
        yield module
        for member in module.modules.values():
            if isinstance(member, griffe.Module) and not member.name.startswith("_"):
                stack.append(member)


def _docstring(obj: Any) -> str:
    text = obj.docstring.value if getattr(obj, "docstring", None) else ""
    text = str(text).strip()
    if len(text) > MAX_DOCSTRING_CHARS:
        text = text[:MAX_DOCSTRING_CHARS].rsplit("\n", 1)[0] + "\n..."
    return text


def _is_public(obj: Any) -> bool:
    if obj.is_alias or obj.name.startswith("_"):
        return False
    with contextlib.suppress(griffe.GriffeError, AttributeError):
        return bool(obj.is_public)
    return True


def _signature(obj: Any, prefix: str) -> str:
    try:
        text = str(obj.signature())
    except (griffe.GriffeError, AttributeError, TypeError, ValueError):
        text = obj.name
    if prefix == "def" and "async" in getattr(obj, "labels", set()):
        prefix = "async def"
    return f"{prefix} {text}"


def _module_page(module: griffe.Module) -> str | None:
    sections: list[str] = []
    # Objects without a docstring share one section of signatures: each alone would be a
    # snippet holding little but its name, competing with the prose that explains it.
    bare: list[str] = []
    for member in list(module.members.values()):
        if not _is_public(member):
            continue
        if isinstance(member, griffe.Class):
            if _docstring(member) or _documented_members(member):
                sections.append(_class_section(module, member))
            else:
                bare.append(_class_head(member))
        elif isinstance(member, griffe.Function):
            if _docstring(member):
                sections.append(_function_section(module.path, member, "##"))
            else:
                bare.append(_signature(member, "def"))
        elif isinstance(member, griffe.Attribute) and _docstring(member):
            sections.append(f"## {module.path}.{member.name}\n\n{_docstring(member)}\n")
    if bare:
        code = "\n".join(bare)
        sections.append(f"## Undocumented in {module.path}\n\n```python\n{code}\n```\n")
    intro = _docstring(module)
    if not sections and not intro:
        return None
    header = f"# {TITLE_PREFIX}{module.path}\n\n"
    body = intro + "\n\n" if intro else f"Module `{module.path}`.\n\n"
    return header + body + "\n".join(sections)


def _class_head(cls: griffe.Class) -> str:
    bases = ", ".join(str(base) for base in cls.bases)
    head = f"class {cls.name}({bases}):" if bases else f"class {cls.name}:"
    try:
        signature = str(cls.signature())
    except (griffe.GriffeError, AttributeError, TypeError, ValueError):
        signature = ""
    if signature.startswith(cls.name + "(") and "__init__" in cls.members:
        head += f"\n    def __init__{signature[len(cls.name) :]}"
    return head


def _documented_members(cls: griffe.Class) -> bool:
    return any(
        _is_public(member) and _docstring(member)
        for member in cls.members.values()
        if isinstance(member, griffe.Function | griffe.Attribute)
    )


def _function_section(owner: str, function: griffe.Function, level: str) -> str:
    parts = [
        f"{level} {owner}.{function.name}\n",
        f"```python\n{_signature(function, 'def')}\n```\n",
    ]
    text = _docstring(function)
    if text:
        parts.append(text + "\n")
    return "\n".join(parts)


def _class_section(module: griffe.Module, cls: griffe.Class) -> str:
    head = _class_head(cls)
    parts = [f"## class {module.path}.{cls.name}\n", f"```python\n{head}\n```\n"]
    text = _docstring(cls)
    if text:
        parts.append(text + "\n")
    for member in list(cls.members.values()):
        if not _is_public(member):
            continue
        if isinstance(member, griffe.Function) and _docstring(member):
            parts.append(_function_section(f"{module.path}.{cls.name}", member, "###"))
        elif isinstance(member, griffe.Attribute) and _docstring(member):
            parts.append(f"### {module.path}.{cls.name}.{member.name}\n\n{_docstring(member)}\n")
    return "\n".join(parts)


# --- TypeScript declarations -----------------------------------------------------------------

# A doc comment also ends at the next "/**": from each unclosed one the lazy span otherwise read
# the rest of the file again (1.5 s for 20 KB of "/** ", growing with the square).
_EXPORT = re.compile(
    r"(?P<doc>/\*\*(?:(?!\*/|/\*\*).)*?\*/\s*)?"
    r"^[ \t]*export\s+(?:declare\s+)?(?:default\s+)?(?:abstract\s+)?(?:async\s+)?"
    r"(?P<kind>function|class|interface|type|const|let|var|enum|namespace|module)\s+"
    r"(?P<name>[A-Za-z_$][\w$]*)",
    re.S | re.M,
)
_BLOCK_KINDS = frozenset({"class", "interface", "enum", "namespace", "module"})


def declaration_files(root: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(
            d for d in dirnames if d not in _SKIPPED_DIRS and not d.startswith(".")
        )
        for name in sorted(filenames):
            if name.endswith((".d.ts", ".d.mts", ".d.cts")):
                path = Path(dirpath) / name
                if not path.is_symlink():
                    found.append(path)
            if len(found) >= MAX_SOURCE_FILES:
                return found
    return found


def write_typescript_reference(root: Path, package: str, out: Path, max_bytes: int) -> list[str]:
    """One page per .d.ts file with exported declarations; the relative paths written."""
    written: list[str] = []
    for path in declaration_files(root):
        if len(written) >= MAX_MODULES:
            break
        if path.stat().st_size > max_bytes:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        relative = path.relative_to(root).as_posix()
        stem = re.sub(r"\.d\.[cm]?ts$", "", relative)
        module = f"{package}/{stem}".removesuffix("/index") if stem != "index" else package
        sections = [_declaration_section(match, text) for match in _EXPORT.finditer(text)]
        if not sections:
            continue
        page = f"# {TITLE_PREFIX}{module}\n\n" + "\n".join(sections)
        target = out / f"{stem}.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(page.encode("utf-8")[:max_bytes])
        written.append(f"{stem}.md")
    return written


def _declaration_section(match: re.Match[str], text: str) -> str:
    kind, name = match.group("kind"), match.group("name")
    start = text.rfind("export", 0, match.start("kind"))
    declaration = _declaration_text(text, start, kind in _BLOCK_KINDS)
    doc = _doc_comment(match.group("doc") or "")
    label = "type" if kind == "type" else kind
    parts = [f"## {label} {name}\n", f"```ts\n{declaration}\n```\n"]
    if doc:
        parts.append(doc + "\n")
    return "\n".join(parts)


def _declaration_text(text: str, start: int, is_block: bool) -> str:
    """From `export` to the end of the declaration: its block, or `;` at nesting depth 0."""
    depth = angle = 0
    index = start
    quote = ""
    while index < len(text) and index - start < MAX_DECLARATION_CHARS:
        char = text[index]
        if quote:
            if char == "\\":
                index += 2
                continue
            if char == quote:
                quote = ""
        elif text.startswith("//", index):
            newline = text.find("\n", index)
            index = len(text) if newline < 0 else newline
            continue
        elif text.startswith("/*", index):
            end = text.find("*/", index + 2)
            index = len(text) if end < 0 else end + 2
            continue
        elif char in "'\"`":
            quote = char
        elif char == "<":
            angle += 1  # generics: `class C<T extends { id: string }> {` opens at the last {
        elif char == ">" and angle > 0 and text[index - 1] != "=":
            angle -= 1
        elif char in "({[":
            depth += 1
        elif char in ")}]":
            depth -= 1
            if depth <= 0 and char == "}" and is_block and angle == 0:
                return text[start : index + 1].strip()
        elif char == ";" and depth <= 0:
            return text[start : index + 1].strip()
        elif char == "\n" and depth <= 0 and not is_block:
            following = text[index + 1 : index + 80].lstrip()
            if following.startswith(("export", "declare", "/**", "}", "import")) or not following:
                return text[start:index].strip()
        index += 1
    return text[start:index].strip() + (
        "\n// ..." if index - start >= MAX_DECLARATION_CHARS else ""
    )


def _doc_comment(comment: str) -> str:
    body = comment.strip().removeprefix("/**").removesuffix("*/")
    lines = [re.sub(r"^\s*\* ?", "", line) for line in body.splitlines()]
    out: list[str] = []
    in_example = False
    for line in lines:
        tag = re.match(r"^@(\w+)\s*(.*)$", line.strip())
        if tag and in_example:
            out.append("```")
            in_example = False
        if tag and tag.group(1) == "param":
            param = re.match(r"^(?:\{[^}]*\}\s*)?(\[?[\w$.]+\]?)\s*-?\s*(.*)$", tag.group(2))
            out.append(f"- `{param.group(1)}`: {param.group(2)}" if param else f"- {tag.group(2)}")
        elif tag and tag.group(1) in {"returns", "return"}:
            out.append(f"Returns: {tag.group(2)}")
        elif tag and tag.group(1) == "example":
            has_fence = tag.group(2).startswith("```")
            out.append(tag.group(2) if has_fence else "Example:\n\n```ts")
            in_example = not has_fence
            if tag.group(2) and not has_fence:
                out.append(tag.group(2))
        elif tag and tag.group(1) in {"deprecated", "since", "see", "throws", "default"}:
            out.append(f"{tag.group(1).capitalize()}: {tag.group(2)}")
        else:
            out.append(line)
    if in_example:
        out.append("```")
    return "\n".join(out).strip()

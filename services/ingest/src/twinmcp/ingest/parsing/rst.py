"""reStructuredText (Sphinx flavour) to blocks: sections, directives, roles, literalinclude."""

from __future__ import annotations

import ast
import json
import re
import unicodedata
from pathlib import PurePosixPath

from twinmcp.ingest.parsing import Block, ParsedDocument
from twinmcp.ingest.parsing.includes import (
    MAX_INCLUDE_DEPTH,
    IncludeResolver,
    between_markers,
    dedent_block,
    language_for,
    missing_note,
    normalise_language,
    python_object,
    select_line_ranges,
)

_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1+\s*$")
_DIRECTIVE = re.compile(r"^(\s*)\.\.\s+([\w:.-]+)::(?:\s+(.*))?$")
_EXPLICIT = re.compile(r"^(\s*)\.\.(?:\s|$)")
_OPTION = re.compile(r"^\s*:([\w-]+):(?:\s+(.*))?$")
# A role, with its domain and intersphinx prefixes if it has them (":class:`X`", ":py:class:`X`",
# ":external+python:doc:`X`"), starts after neither a name nor a colon, as inline markup in
# reStructuredText does: so ":py:class:" is read whole, not as ":py" before ":class:", and a long
# run of names and colons (":a:a:a...") is tried from its first colon only (from each of them,
# 40 KB took 5.2 s, growing with the square).
_ROLE = re.compile(r"(?<![\w:]):(?:[\w+.-]{1,40}:){0,2}([\w-]+):`([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")
# The text before "<" is taken whole and its trailing spaces cut in `_link_text`: a lazy span
# then `\s*` retried the run of spaces from each of its positions, quadratic in the run.
_LINK = re.compile(r"`([^`<]+)<[^`>]+>`__?")
_REF = re.compile(r"`([^`]+)`__?(?!\w)")

CODE_ROLES = frozenset(
    [
        "class",
        "func",
        "meth",
        "attr",
        "data",
        "exc",
        "obj",
        "mod",
        "const",
        "envvar",
        "option",
        "program",
        "file",
        "samp",
        "command",
        "code",
        "kbd",
        "mimetype",
        "makevar",
    ]
)
CODE_DIRECTIVES = frozenset({"code-block", "sourcecode", "code", "code-cell", "ipython", "doctest"})
ADMONITIONS = {
    "note": "Note",
    "warning": "Warning",
    "tip": "Tip",
    "hint": "Hint",
    "important": "Important",
    "caution": "Caution",
    "danger": "Danger",
    "attention": "Attention",
    "error": "Error",
    "seealso": "See also",
    "todo": "To do",
}
VERSION_NOTES = {
    "versionadded": "Added in version",
    "versionchanged": "Changed in version",
    "deprecated": "Deprecated since version",
    "versionremoved": "Removed in version",
}
AUTODOC = frozenset(
    [
        "automodule",
        "autoclass",
        "autofunction",
        "automethod",
        "autoattribute",
        "autodata",
        "autoexception",
        "autodecorator",
        "autoproperty",
        "autosummary",
        "click",
    ]
)
DROPPED = frozenset(
    [
        "toctree",
        "image",
        "figure",
        "currentmodule",
        "module",
        "highlight",
        "index",
        "meta",
        "raw",
        "rst-class",
        "contents",
        "sectionauthor",
        "moduleauthor",
        "codeauthor",
        "default-role",
        "role",
        "include-raw",
        "tabularcolumns",
        "only-html",
        "graphviz",
        "mermaid",
        "spelling:word-list",
        "testsetup",
        "testcleanup",
    ]
)
OBJECT_KINDS = frozenset(
    [
        "function",
        "class",
        "method",
        "attribute",
        "data",
        "exception",
        "decorator",
        "property",
        "classmethod",
        "staticmethod",
        "envvar",
        "option",
        "describe",
        "object",
        "type",
        "module",
    ]
)


def slugify_sphinx(text: str) -> str:
    """The id docutils gives a section title (docutils.nodes.make_id)."""
    value = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    value = re.sub(r"[^a-z0-9]+", "-", value)
    value = re.sub(r"^[^a-z]+", "", value)
    return value.strip("-")


def _explicit_target(target: str) -> tuple[str, str] | None:
    """(title, target) of a role's `title <target>` form, or None.

    What `^(.*?)\\s*<([^<>]+)>$` matched, found with str methods: the regex retried a run of
    spaces from each of its positions (1.1 s for a 20 KB run, growing with its square).
    """
    body = target[:-1] if target.endswith(">\n") else target
    if not body.endswith(">"):
        return None
    opening = body.rfind("<")
    inner = body[opening + 1 : -1]
    if opening < 0 or not inner or ">" in inner:
        return None
    return body[:opening].rstrip(), inner


def _link_text(match: re.Match[str]) -> str:
    """A hyperlink's text: what precedes `<url>` without its trailing spaces (one at least)."""
    text = match.group(1)
    return text[: max(1, len(text.rstrip()))]


def role_text(name: str, target: str) -> str:
    """How a Sphinx role reads: code names in backticks, references as their link text."""
    explicit = _explicit_target(target)
    if explicit and explicit[0]:
        text = explicit[0]
    else:
        text = explicit[1] if explicit else target
        text = text.lstrip("!")
        if text.startswith("~"):
            text = text[1:].split(".")[-1]
    if name in CODE_ROLES:
        return f"`{text}`"
    if name in ("ref", "doc", "term", "numref") and not (explicit and explicit[0]):
        text = text.rsplit("/", 1)[-1].replace("-", " ").replace("_", " ")
    return text


def clean_rst_inline(text: str) -> str:
    if "`" not in text and "|" not in text:
        return text
    text = _ROLE.sub(lambda m: role_text(m.group(1), m.group(2)), text)
    text = _LITERAL.sub(r"`\1`", text)
    text = _LINK.sub(_link_text, text)
    text = _REF.sub(lambda m: m.group(1) if " " in m.group(1) else f"`{m.group(1)}`", text)
    return text


_PROGRAM_NODES = (
    ast.Call,
    ast.Assign,
    ast.AnnAssign,
    ast.AugAssign,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Import,
    ast.ImportFrom,
    ast.With,
    ast.AsyncWith,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.Try,
)


def is_python_code(text: str) -> bool:
    """Whether `text` is a Python program rather than prose.

    A sentence rarely parses; a parsed body must also do something (a call, an assignment, a
    definition, an import...) so that a lone word or a bullet such as "- item" stays prose.
    """
    if not text.strip():
        return False
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return any(isinstance(node, _PROGRAM_NODES) for node in ast.walk(tree))


# Directives that hold prose (tables, layout, math) even when a line of it happens to parse as
# Python ("x = y + 1" in `math`); a directive this parser does not otherwise know and that is not
# one of these keeps a body that reads as code as a code block.
PROSE_DIRECTIVES = frozenset(
    [
        "list-table",
        "csv-table",
        "table",
        "glossary",
        "hlist",
        "only",
        "ifconfig",
        "container",
        "compound",
        "epigraph",
        "highlights",
        "pull-quote",
        "line-block",
        "math",
        "dropdown",
        "details",
        "card",
        "grid",
        "grid-item",
        "grid-item-card",
        "tab-set",
        "tabs",
        "margin",
        "plot",
    ]
)
# A directive named so (`click:example`, `code-snippet`, `jupyter-execute`) holds code even when
# its body is a fragment no parser accepts (decorators without their function, placeholders).
_CODE_NAME = re.compile(
    r"(?:^|[-_:.])(?:example|examples|code|snippet|sample|source|program|console|shell|"
    r"terminal|repl|execute|exec|run|demo|playground|sandbox)(?:$|[-_:.])",
    re.IGNORECASE,
)
_SHELL_PROMPT = re.compile(r"^[$%] \S")
_JS_STRONG = re.compile(
    r"^\s*(?:import\s.+\sfrom\s+['\"]|import\s+['\"]|export\s|const\s|let\s|var\s|"
    r"(?:async\s+)?function[\s*(]|await\s|module\.exports|interface\s+\w|type\s+\w+\s*=)"
    r"|\brequire\(['\"]|=>|\bconsole\.\w+\("
)
_TS_SIGNS = re.compile(
    r"^\s*(?:interface\s+\w|type\s+\w+\s*=|export\s+type\s)|:\s*(?:string|number|boolean)\b"
)
_CODE_LINE_END = re.compile(r"(?:[;{}()\[\],]|=>)\s*(?://.*)?$")
_CODE_LINE_START = re.compile(
    r"^\s*(?://|/\*|\*|\}|\)|\]|return\b|if\s*\(|for\s*\(|while\s*\(|else\b|case\s|@|<)"
)
_PYTHON_LINE = re.compile(
    r"^\s*(?:@[\w.]+|def\s+\w+\s*\(|class\s+\w+|import\s+\w|from\s+[\w.]+\s+import\b)"
)
_NESTED_MARKUP = re.compile(r"^\s*(?:\.\.\s+[\w:.-]+::|`{3,}|~{3,}|:{3,})|::\s*$")


def _reads_as_prose(lines: list[str]) -> bool:
    """Whether most lines are sentences: several words, no code punctuation at their end."""
    sentences = 0
    for line in lines:
        words = line.split()
        if (
            len(words) >= 5
            and not _CODE_LINE_END.search(line)
            and sum(ch in "=(){};<>" for ch in line) <= 1
        ):
            sentences += 1
    return sentences * 2 > len(lines)


def code_language(text: str) -> str | None:
    """The language of `text` when it reads as a program, else None (prose, a table, a list).

    Python is recognised by parsing it; a console session by its prompts; JSON by parsing it;
    JavaScript and TypeScript by their keywords and most lines ending as statements do.
    """
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return None
    if is_python_code(text):
        return "python"
    first = lines[0].lstrip()
    if first.startswith(">>> "):
        return "python"
    if _SHELL_PROMPT.match(first):
        return "console"
    if first[:1] in "{[":
        try:
            json.loads(text)
        except (ValueError, RecursionError):
            pass
        else:
            return "json"
    if _reads_as_prose(lines):
        return None
    strong = sum(1 for line in lines if _JS_STRONG.search(line))
    code_like = sum(
        1 for line in lines if _CODE_LINE_END.search(line) or _CODE_LINE_START.match(line)
    )
    if strong and code_like * 5 >= len(lines) * 3:
        return "typescript" if any(_TS_SIGNS.search(line) for line in lines) else "javascript"
    return None


def directive_code_language(name: str, body: str) -> str | None:
    """The language to keep an unknown directive's body in as code, or None to read it as prose.

    Known prose directives (tables, layout, math) and bodies holding nested markup (directives,
    fences, `::` literal blocks) are prose; otherwise a body that reads as code, or a body that
    does not read as prose under a name saying it is code (`click:example`), is code.
    """
    short = name.lower().split(":")[-1]
    if short in PROSE_DIRECTIVES or short in ADMONITIONS or short in VERSION_NOTES:
        return None
    lines = [line for line in body.split("\n") if line.strip()]
    if not lines or any(_NESTED_MARKUP.search(line) for line in lines):
        return None
    language = code_language(body)
    if language is not None:
        return language
    if _CODE_NAME.search(name) and not _reads_as_prose(lines):
        return "python" if any(_PYTHON_LINE.match(line) for line in lines) else "text"
    return None


# Directive bodies nested deeper than this are kept as prose. Each level reads the rest of its
# body again, and 5,000 directives each indented a space more recursed past Python's limit.
MAX_NESTING = 20


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


class _RstParser:
    def __init__(self, path: str, resolver: IncludeResolver | None, depth: int = 0) -> None:
        self.path = path
        self.resolver = resolver
        self.depth = depth
        self.styles: list[tuple[str, bool]] = []
        self.blocks: list[Block] = []
        # Directives inside directives, against MAX_NESTING.
        self.nesting = 0

    def parse(self, lines: list[str]) -> list[Block]:
        self._lines(lines)
        return self.blocks

    def _prose(self, text: str) -> None:
        text = clean_rst_inline(text.strip())
        if text:
            self.blocks.append(Block("prose", text))

    def _code(self, text: str, language: str, caption: str = "", included_from: str = "") -> None:
        code = dedent_block(text.strip("\n")).rstrip()
        if code.strip():
            self.blocks.append(
                Block("code", code, language=language, caption=caption, included_from=included_from)
            )

    def _heading(self, text: str, char: str, overline: bool) -> None:
        style = (char, overline)
        if style not in self.styles:
            self.styles.append(style)
        title = clean_rst_inline(text.strip()).replace("`", "")
        self.blocks.append(
            Block(
                "heading", title, level=self.styles.index(style) + 1, anchor=slugify_sphinx(title)
            )
        )

    @staticmethod
    def _indented_block(lines: list[str], i: int, base: int) -> tuple[list[str], int]:
        """Lines from i that are blank or indented deeper than `base` (trailing blanks dropped)."""
        j = i
        while j < len(lines) and (not lines[j].strip() or _indent_of(lines[j]) > base):
            j += 1
        block = lines[i:j]
        while block and not block[-1].strip():
            block.pop()
        return block, j

    def _lines(self, lines: list[str]) -> None:
        para: list[str] = []
        i = 0
        n = len(lines)

        def flush() -> None:
            if para:
                self._prose(dedent_block("\n".join(para)))
                para.clear()

        while i < n:
            line = lines[i]
            stripped = line.strip()
            if not stripped:
                flush()
                i += 1
                continue
            # Section title with overline and underline.
            if (
                _ADORNMENT.match(line)
                and i + 2 < n
                and lines[i + 1].strip()
                and lines[i + 2].strip() == stripped
                and not para
            ):
                self._heading(lines[i + 1], stripped[0], True)
                i += 3
                continue
            # Section title with underline only.
            if (
                not para
                and i + 1 < n
                and _indent_of(line) == 0
                and _ADORNMENT.match(lines[i + 1])
                and len(lines[i + 1].strip()) >= min(len(stripped), 3)
                and not _EXPLICIT.match(line)
            ):
                self._heading(line, lines[i + 1].strip()[0], False)
                i += 2
                continue
            directive = _DIRECTIVE.match(line)
            if directive:
                flush()
                i = self._directive(lines, i, directive)
                continue
            if _EXPLICIT.match(line):
                # Comments, link targets, footnotes, substitution definitions.
                flush()
                _, i = self._indented_block(lines, i + 1, _indent_of(line))
                continue
            if stripped.startswith(">>> ") and not para:
                j = i
                while j < n and lines[j].strip():
                    j += 1
                self._code("\n".join(lines[i:j]), "python")
                i = j
                continue
            if (
                para
                and _indent_of(line) > _indent_of(para[0])
                and not para[-1].rstrip().endswith("::")
            ):
                # A definition list body or continuation: keep it with its paragraph.
                para.append(line)
                i += 1
                continue
            para.append(line)
            i += 1
            if stripped.endswith("::") and (i >= n or not lines[i].strip()):
                base = _indent_of(para[0])
                last = para[-1].rstrip()
                para[-1] = last[:-2].rstrip() + (":" if not last[:-2].endswith(" ") else "")
                if para[-1].strip() in ("", ":"):
                    para.pop()
                flush()
                block, i = self._indented_block(lines, i, base)
                self._code("\n".join(block), "python")
        flush()

    def _directive(self, lines: list[str], i: int, match: re.Match[str]) -> int:
        base = len(match.group(1))
        name = match.group(2).lower()
        argument = (match.group(3) or "").strip()
        block, end = self._indented_block(lines, i + 1, base)
        options: dict[str, str] = {}
        k = 0
        while k < len(block) and block[k].strip():
            option = _OPTION.match(block[k])
            if not option:
                break
            options[option.group(1)] = (option.group(2) or "").strip()
            k += 1
        body_lines = block[k:]
        body = dedent_block("\n".join(body_lines)).strip("\n")
        short = name.split(":")[-1]

        if short in CODE_DIRECTIVES or name == "code-tab":
            language = normalise_language(argument) or ("python" if short != "code" else "text")
            self._code(body, language, options.get("caption", ""))
        elif short == "literalinclude":
            self._literalinclude(argument, options)
        elif short == "include":
            self._include(argument, options)
        elif short in ADMONITIONS or short == "admonition":
            title = argument if short == "admonition" else ADMONITIONS[short]
            if short == "seealso" and argument:
                body = argument + ("\n\n" + body if body else "")
            self.blocks.append(Block("prose", f"**{clean_rst_inline(title)}**"))
            self._nested(body)
        elif short in VERSION_NOTES:
            version, _, rest = argument.partition(" ")
            lead = f"*{VERSION_NOTES[short]} {version}.*"
            text = " ".join(part for part in (lead, rest.strip(), body) if part)
            self._prose(text)
        elif short in ("tab", "group-tab", "tab-item"):
            if argument:
                self.blocks.append(Block("prose", f"**{clean_rst_inline(argument)}**"))
            self._nested(body)
        elif short in AUTODOC:
            kind = short.removeprefix("auto") or "reference"
            if argument:
                self._prose(f"API reference ({kind}): `{argument}`")
            self._nested(body)
        elif short in OBJECT_KINDS:
            if argument:
                self.blocks.append(Block("prose", f"**`{argument}`**"))
            self._nested(body)
        elif short in DROPPED or name in DROPPED:
            pass
        elif short in ("rubric", "topic", "sidebar", "centered"):
            if argument:
                self.blocks.append(Block("prose", f"**{clean_rst_inline(argument)}**"))
            self._nested(body)
        elif (guessed := directive_code_language(name, body)) is not None:
            # A directive this parser does not know whose body is a program (a theme's
            # `click:example`, `jupyter-execute`): read as prose, its code would be lost.
            self._code(body, guessed)
        else:
            self._nested(body)
        return end

    def _nested(self, body: str) -> None:
        if not body.strip():
            return
        if self.nesting >= MAX_NESTING:
            self._prose(body)
            return
        self.nesting += 1
        self._lines(body.split("\n"))
        self.nesting -= 1

    def _literalinclude(self, argument: str, options: dict[str, str]) -> None:
        if self.resolver is None:
            return
        found = self.resolver.read(self.path, argument)
        if isinstance(found, str):
            self._prose(missing_note(found))
            return
        text = found.text
        if "pyobject" in options:
            picked = python_object(text, options["pyobject"])
            if picked is not None:
                text = picked
        if "lines" in options:
            text = select_line_ranges(text, options["lines"])
        text = between_markers(
            text,
            options.get("start-after"),
            options.get("end-before"),
            options.get("start-at"),
        )
        if "end-at" in options:
            index = text.find(options["end-at"])
            if index >= 0:
                newline = text.find("\n", index)
                text = text if newline < 0 else text[:newline]
        if "prepend" in options:
            text = options["prepend"] + "\n" + text
        if "append" in options:
            text = text.rstrip("\n") + "\n" + options["append"]
        language = normalise_language(options.get("language", "")) or language_for(found.path)
        self._code(text, language, options.get("caption", ""), found.path)

    def _include(self, argument: str, options: dict[str, str]) -> None:
        if self.resolver is None:
            return
        found = self.resolver.read(self.path, argument)
        if isinstance(found, str):
            self._prose(missing_note(found))
            return
        text = between_markers(found.text, options.get("start-after"), options.get("end-before"))
        if "literal" in options or "code" in options:
            language = normalise_language(options.get("code", "")) or language_for(found.path)
            self._code(text, language, included_from=found.path)
            return
        if self.depth >= MAX_INCLUDE_DEPTH:
            self._prose(missing_note(f"{argument} is nested too deeply"))
            return
        nested = _RstParser(found.path, self.resolver, self.depth + 1)
        nested.styles = self.styles
        self.blocks.extend(nested.parse(text.split("\n")))


def parse_rst(text: str, path: str, resolver: IncludeResolver | None = None) -> ParsedDocument:
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff").expandtabs(8)
    blocks = _RstParser(path, resolver).parse(text.split("\n"))
    first = next((b for b in blocks if b.kind == "heading"), None)
    title = first.text if first is not None else PurePosixPath(path).stem
    return ParsedDocument(title=title, blocks=blocks)


_RST_SIGNS = re.compile(r"^(\S.*\n([=\-~^\"'`#*+])\2{2,}\s*$|\.\. [\w:-]+::)", re.MULTILINE)


def looks_like_rst(text: str) -> bool:
    """Whether a .txt file is reStructuredText (underlined titles, directives)."""
    return _RST_SIGNS.search(text[:20000]) is not None

"""Markdown pass one: includes, admonitions, tabs, MyST directives, MDX noise to plain lines."""

from __future__ import annotations

import re

import yaml
from twinmcp.ingest.parsing import Block
from twinmcp.ingest.parsing.hidden import drop_hidden_elements, has_hidden_element
from twinmcp.ingest.parsing.includes import (
    MAX_INCLUDE_DEPTH,
    Included,
    IncludeResolver,
    between_markers,
    language_for,
    missing_note,
    parse_line_numbers,
    pick_lines,
    select_line_ranges,
    snippet_section,
    strip_section_markers,
)
from twinmcp.ingest.parsing.rst import (
    ADMONITIONS,
    AUTODOC,
    CODE_DIRECTIVES,
    DROPPED,
    VERSION_NOTES,
    directive_code_language,
    parse_rst,
)

FENCE_OPEN = re.compile(r"^(\s*)(`{3,}|~{3,})\s*(.*)$")
_ATTR_ONLY_LINE = re.compile(r"^\s*\{\s*[#:.][^}]*\}\s*$")
# Spans before a trailing `\s*$` end at a non-space (or start at one): a lazy span followed
# by `\s*` retried a run of spaces from each of its positions, quadratic in the line.
_FASTAPI_INCLUDE = re.compile(r"^(\s*)\{\*\s*(\S+)((?:\s.*)?)\*\}\s*$")
_MD_INCLUDE = re.compile(r"^(\s*)\{!>?\s*(\S+?)\s*!\}\s*$")
_SNIPPET_LINE = re.compile(r"^(\s*)-{2}8<-{2}\s*(?:\"([^\"]*)\"|'([^']*)'|(\S+))?\s*$")
_ADMONITION = re.compile(r"^(\s*)(!!!|\?\?\?\+?)\s++((?:[^\"\n]*[^\"\s])?)\s*(?:\"([^\"]*)\")?\s*$")
_CONTENT_TAB = re.compile(r"^(\s*)===!?\+?\s+\"([^\"]*)\"\s*$")
_BLOCK_OPEN = re.compile(r"^(\s*)(/{3,})\s*([\w-]+)\s*(?:\|\s*((?:.*\S)?))?\s*$")
_BLOCK_CLOSE = re.compile(r"^(\s*)(/{3,})\s*$")
_BLOCK_OPTION = re.compile(r"^\s{2,}[\w-]+:\s")
_AUTODOC_STUB = re.compile(r"^(\s*):::\s+([\w.:-]+)\s*$")
# MyST (Sphinx Markdown): ```{directive} argument / :::{directive} ... ::: with :option: lines.
_MYST_DIRECTIVE = re.compile(r"^(\s*)(`{3,}|~{3,}|:{3,})\{([A-Za-z][\w:.-]*)\}\s*((?:.*\S)?)\s*$")
_MYST_TARGET = re.compile(r"^\s*\([^()\s][^()]*\)=\s*$")
# Directives whose body is reStructuredText or code, not Markdown: the rst parser reads them.
_MYST_AS_RST = CODE_DIRECTIVES | AUTODOC | {"literalinclude", "testcode", "testoutput"}
# Containers whose body is Markdown whatever it holds (a tab of bare code lines stays a tab).
_MYST_CONTAINERS = frozenset({"tab", "group-tab", "tab-item", "tab-set", "admonition", "rubric"})
_ESM = re.compile(r"^(import\s+(?:[\w*{}\s,]+\s+from\s+)?['\"]|import\s*\{|export\s+)")
_TAG_ONLY_LINE = re.compile(r"^\s*(?:</?[A-Za-z][\w.:-]*(?:\s[^<>]*)?/?>\s*)+$")
_TAG_OPEN_UNCLOSED = re.compile(r"^\s*<[A-Za-z][\w.:-]*(?:\s[^<>]*)?$")
# The tag name is taken whole before the attributes are searched (the second branch: a name
# ending in ".label" before "="), which is what backtracking into it found: from each length
# of a long name the search read the rest again (12 s for a 40 KB name, growing with the square).
_TAG_LABEL = re.compile(
    r"<[A-Z](?:[\w.]*+[^<>]*?|[\w.]*?)\b(?:label|title)=(?:\"([^\"]*)\"|'([^']*)'|\{`([^`]*)`\})"
)
_HTML_COMMENT = re.compile(r"<!--.*?(-->|$)", re.DOTALL)
# Directives nested deeper than this are read as plain fences. Each level reads the rest of
# its body again, and 20,000 unclosed "```{note}" lines recursed past Python's limit.
MAX_DIRECTIVE_NESTING = 20
_CODE_HL = re.compile(r"(hl|ln)\[([^\]]*)\]")
_CODE_TITLE = re.compile(r"title\[\"?([^\"\]]*)\"?\]")


def _without_mdx_comments(text: str) -> str:
    """`text` without its closed `{/* ... */}` comments (found with str.find: a regex tried
    from each unclosed `{/*` read the rest of the text again)."""
    kept: list[str] = []
    position = 0
    while (start := text.find("{/*", position)) >= 0:
        end = text.find("*/}", start + 3)
        if end < 0:
            break
        kept.append(text[position:start])
        position = end + 3
    kept.append(text[position:])
    return "".join(kept)


def dedent(lines: list[str]) -> list[str]:
    """The lines without the indent they all share (blank lines aside)."""
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents) if indents else 0
    return [line[cut:] for line in lines]


def _longest_backtick_run(text: str) -> int:
    runs = re.findall(r"`{3,}", text)
    return max((len(run) for run in runs), default=0)


def _fence_lines(
    indent: str, code: str, language: str, included_from: str = "", title: str = ""
) -> list[str]:
    fence = "`" * max(3, _longest_backtick_run(code) + 1)
    attrs = language or "text"
    if included_from:
        attrs += f' included_from="{included_from}"'
    if title:
        attrs += f' title="{title}"'
    body = code.rstrip("\n").split("\n")
    return [
        indent + fence + attrs,
        *(indent + line if line else "" for line in body),
        indent + fence,
    ]


class Expander:
    """Pass one: includes, admonitions, tabs, MDX/HTML noise, turned into plain Markdown lines."""

    def __init__(self, resolver: IncludeResolver | None) -> None:
        self.resolver = resolver
        self.shown: dict[str, int] = {}
        # MyST directives open inside each other; how deep, against MAX_DIRECTIVE_NESTING.
        self.nesting = 0

    def _read(self, page_path: str, ref: str) -> Included | str:
        if self.resolver is None:
            return f"{ref} could not be read"
        return self.resolver.read(page_path, ref)

    def expand(self, lines: list[str], page_path: str, depth: int = 0) -> list[str]:
        out: list[str] = []
        fence: tuple[str, int] | None = None
        slash_stack: list[int] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            if fence is not None:
                stripped = line.strip()
                if (
                    stripped
                    and stripped[0] == fence[0]
                    and len(stripped) >= fence[1]
                    and stripped == stripped[0] * len(stripped)
                ):
                    fence = None
                    out.append(line)
                elif "--8<--" in line or "{!" in line:
                    out.extend(self._code_include_lines(line, page_path))
                else:
                    out.append(line)
                i += 1
                continue
            directive = (
                _MYST_DIRECTIVE.match(line)
                if "{" in line and self.nesting < MAX_DIRECTIVE_NESTING
                else None
            )
            if directive:
                i = self._myst_directive(lines, i, directive, page_path, depth, out)
                continue
            opened = FENCE_OPEN.match(line)
            if opened and not (opened.group(2)[0] == "`" and "`" in opened.group(3)):
                fence = (opened.group(2)[0], len(opened.group(2)))
                out.append(line)
                i += 1
                continue
            if "<!--" in line:
                i = self._drop_comment(lines, i)
                continue
            if "<" in line and has_hidden_element(line):
                i = drop_hidden_elements(lines, i)
                continue
            stripped = line.strip()
            if not stripped:
                out.append("")
                i += 1
                continue
            first = stripped[0]
            if first == "(" and _MYST_TARGET.match(line):
                # A MyST cross-reference target, `(label)=`: nothing to read.
                i += 1
                continue
            if first == "{":
                if stripped.startswith("{*"):
                    match = _FASTAPI_INCLUDE.match(line)
                    if match:
                        out.extend(self._fastapi_include(match, page_path))
                        i += 1
                        continue
                if stripped.startswith("{!"):
                    match = _MD_INCLUDE.match(line)
                    if match:
                        out.extend(
                            self._file_include(match.group(1), match.group(2), page_path, depth)
                        )
                        i += 1
                        continue
                if _ATTR_ONLY_LINE.match(line) or stripped.startswith("{/*"):
                    i = self._drop_mdx_comment(lines, i) if stripped.startswith("{/*") else i + 1
                    continue
            elif first == "-" and stripped.startswith("--8<--"):
                i = self._snippets(lines, i, page_path, depth, out)
                continue
            elif first in "!?" and (stripped.startswith(("!!!", "???"))):
                match = _ADMONITION.match(line)
                if match:
                    i = self._splice_indented(lines, i, match.group(1), self._title(match))
                    continue
            elif first == "=" and stripped.startswith("==="):
                match = _CONTENT_TAB.match(line)
                if match:
                    i = self._splice_indented(lines, i, match.group(1), match.group(2))
                    continue
            elif first == "/" and stripped.startswith("///"):
                closing = _BLOCK_CLOSE.match(line)
                if closing and slash_stack and len(closing.group(2)) == slash_stack[-1]:
                    slash_stack.pop()
                    out.append("")
                    i += 1
                    continue
                match = _BLOCK_OPEN.match(line)
                if match:
                    slash_stack.append(len(match.group(2)))
                    title = (match.group(4) or "").strip() or match.group(3).replace(
                        "-", " "
                    ).capitalize()
                    out.extend(["", f"{match.group(1)}**{title}**", ""])
                    i += 1
                    while i < len(lines) and _BLOCK_OPTION.match(lines[i]):
                        i += 1
                    continue
            elif first == ":" and stripped.startswith(":::"):
                stub = _AUTODOC_STUB.match(line)
                if stub:
                    # mkdocstrings renders the API page at build time; the source only names it.
                    out.extend(["", f"{stub.group(1)}API reference: `{stub.group(2)}`", ""])
                    width = len(stub.group(1))
                    i += 1
                    while i < len(lines) and (
                        not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > width
                    ):
                        i += 1
                    continue
            elif (first in "ie") and _ESM.match(line):
                while i < len(lines) and lines[i].strip():
                    i += 1
                continue
            elif first == "<":
                if _TAG_ONLY_LINE.match(line):
                    label = _TAG_LABEL.search(line)
                    if label:
                        text = next(group for group in label.groups() if group is not None)
                        out.extend(["", f"**{text}**", ""])
                    i += 1
                    continue
                if _TAG_OPEN_UNCLOSED.match(line) and stripped[1:2].isupper():
                    j = i
                    while j < len(lines) and ">" not in lines[j]:
                        j += 1
                    label = _TAG_LABEL.search(" ".join(lines[i : j + 1]))
                    if label:
                        text = next(group for group in label.groups() if group is not None)
                        out.extend(["", f"**{text}**", ""])
                    i = j + 1
                    continue
            out.append(line)
            i += 1
        return out

    def _myst_directive(
        self,
        lines: list[str],
        i: int,
        match: re.Match[str],
        page_path: str,
        depth: int,
        out: list[str],
    ) -> int:
        """A MyST directive fence read as Sphinx would render it; returns the next line."""
        indent, marker, name, argument = match.groups()
        char, count = marker[0], len(marker)
        j = i + 1
        body: list[str] = []
        while j < len(lines):
            stripped = lines[j].strip()
            if len(stripped) >= count and stripped == char * len(stripped):
                break
            body.append(lines[j])
            j += 1
        body = dedent(body)
        options, body = _myst_options(body)
        short = name.split(":")[-1].lower()
        if (
            short == "eval-rst"
            or short in _MYST_AS_RST
            or (short == "include" and ("literal" in options or "code" in options))
        ):
            rst = body if short == "eval-rst" else _as_rst_directive(name, argument, options, body)
            blocks = parse_rst("\n".join(rst), page_path, self.resolver).blocks
            out.extend(_blocks_as_lines(blocks, indent))
        elif short == "include":
            out.extend(self._myst_include(indent, argument, options, page_path, depth))
        elif short in DROPPED:
            pass
        elif (
            short not in _MYST_CONTAINERS
            and (language := directive_code_language(name, "\n".join(body))) is not None
        ):
            # A directive neither parser knows whose body is code (`{click:example}`): read as
            # Markdown, its lines would become a paragraph of prose.
            out.extend(["", *_fence_lines(indent, "\n".join(body), language), ""])
        else:
            if short in VERSION_NOTES:
                version, _, rest = argument.partition(" ")
                lead = f"*{VERSION_NOTES[short]} {version}.*"
                out.extend(["", indent + " ".join(p for p in (lead, rest) if p), ""])
            elif short in ADMONITIONS or argument:
                title = ADMONITIONS.get(short, argument)
                if short == "seealso" and argument:
                    body = [argument, "", *body]
                out.extend(["", f"{indent}**{title}**", ""])
            # Nesting, not an include: each level is shorter than the last, so it ends.
            self.nesting += 1
            try:
                nested = self.expand(body, page_path, depth)
            finally:
                self.nesting -= 1
            out.extend(indent + line if line else "" for line in nested)
            out.append("")
        return j + 1

    def _myst_include(
        self, indent: str, ref: str, options: dict[str, str], page_path: str, depth: int
    ) -> list[str]:
        found = self._read(page_path, ref)
        if isinstance(found, str):
            return ["", indent + missing_note(found), ""]
        if depth >= MAX_INCLUDE_DEPTH:
            return ["", indent + missing_note(f"{ref} is nested too deeply"), ""]
        text = between_markers(found.text, options.get("start-after"), options.get("end-before"))
        if not found.path.endswith((".md", ".markdown", ".mdx")):
            return ["", *_fence_lines(indent, text, language_for(found.path), found.path), ""]
        return [
            indent + line if line else ""
            for line in self.expand(text.split("\n"), found.path, depth + 1)
        ]

    @staticmethod
    def _title(match: re.Match[str]) -> str:
        if match.group(4) is not None:
            return match.group(4).strip()
        kind = (match.group(3) or "note").split()[0] if match.group(3) else "note"
        return kind.replace("-", " ").capitalize()

    @staticmethod
    def _splice_indented(lines: list[str], i: int, indent: str, title: str) -> int:
        """Replaces an indented admonition/tab body by a bold title line and the dedented body."""
        width = len(indent.expandtabs(4)) + 4
        j = i + 1
        body: list[str] = []
        while j < len(lines):
            line = lines[j]
            expanded = line.expandtabs(4)
            if not line.strip():
                body.append("")
            elif len(expanded) - len(expanded.lstrip()) >= width:
                body.append(indent + expanded[width:])
            else:
                break
            j += 1
        while body and not body[-1]:
            body.pop()
            j -= 1
        header = ["", f"{indent}**{title}**", ""] if title else [""]
        lines[i:j] = [*header, *body, ""]
        return i

    @staticmethod
    def _drop_comment(lines: list[str], i: int) -> int:
        # The end is looked for line by line: growing one string and searching it again for
        # each line was quadratic in a comment left open (1.7 s for 100 KB of lines).
        j = i
        first = lines[i]
        if "-->" not in first[first.find("<!--") :]:
            while j + 1 < len(lines):
                j += 1
                if "-->" in lines[j]:
                    break
        text = "\n".join(lines[i : j + 1])
        cleaned = _HTML_COMMENT.sub("", text)
        lines[i : j + 1] = cleaned.split("\n") if cleaned.strip() else [""]
        return i if cleaned.strip() else i + 1

    @staticmethod
    def _drop_mdx_comment(lines: list[str], i: int) -> int:
        j = i
        while "*/}" not in lines[j] and j + 1 < len(lines):
            j += 1
        text = "\n".join(lines[i : j + 1])
        cleaned = _without_mdx_comments(text)
        if cleaned == text:
            # Never closed: like an unclosed `<!--`, it hides the rest of the page. Reading the
            # line again, as a closed comment's remainder is, would never end.
            cleaned = text[: text.find("{/*")]
            lines[i:] = cleaned.split("\n") if cleaned.strip() else [""]
            return i if cleaned.strip() else i + 1
        lines[i : j + 1] = cleaned.split("\n") if cleaned.strip() else [""]
        return i if cleaned.strip() else i + 1

    def _fastapi_include(self, match: re.Match[str], page_path: str) -> list[str]:
        indent, ref, options = match.group(1), match.group(2), match.group(3)
        found = self._read(page_path, ref)
        if isinstance(found, str):
            return ["", indent + missing_note(found), ""]
        code = found.text
        ranges = {name: spec for name, spec in _CODE_HL.findall(options)}
        title_match = _CODE_TITLE.search(options)
        if "ln" in ranges:
            code = select_line_ranges(code, ranges["ln"])
        # A page that includes the same file again highlights another part of it: show just
        # those lines so the second snippet is about what the prose around it explains.
        key = f"{found.path}:{ranges.get('ln', '')}"
        seen = self.shown.get(key, 0)
        self.shown[key] = seen + 1
        if seen and "hl" in ranges and "ln" not in ranges:
            numbers = parse_line_numbers(ranges["hl"])
            if numbers:
                code = pick_lines(found.text, numbers)
        return [
            "",
            *_fence_lines(
                indent,
                code,
                language_for(found.path),
                found.path,
                title_match.group(1) if title_match else "",
            ),
            "",
        ]

    def _file_include(self, indent: str, ref: str, page_path: str, depth: int) -> list[str]:
        found = self._read(page_path, ref)
        if isinstance(found, str):
            return ["", indent + missing_note(found), ""]
        if found.path.endswith((".md", ".markdown", ".mdx")):
            if depth >= MAX_INCLUDE_DEPTH:
                return ["", indent + missing_note(f"{ref} is nested too deeply"), ""]
            return self.expand(found.text.split("\n"), found.path, depth + 1)
        return ["", *_fence_lines(indent, found.text, language_for(found.path), found.path), ""]

    def _snippet_text(self, page_path: str, spec: str) -> tuple[Included | str, str]:
        """pymdownx `path`, `path:3:9`, `path:name` (a section) -> (file or reason, text)."""
        ref, _, selector = spec.partition(":")
        if re.match(r"^[a-zA-Z]$", ref) and selector:
            # A Windows drive letter is never a relative include.
            return f"{spec} is an absolute path", ""
        found = self._read(page_path, ref)
        if isinstance(found, str):
            return found, ""
        text = found.text
        if selector:
            numbers = re.fullmatch(r"(-?\d*):?(-?\d*)", selector)
            if numbers and (numbers.group(1) or numbers.group(2)):
                text = select_line_ranges(text, f"{numbers.group(1)}:{numbers.group(2)}")
            else:
                section = snippet_section(text, selector)
                if section is not None:
                    text = section
        return found, strip_section_markers(text)

    def _code_include_lines(self, line: str, page_path: str) -> list[str]:
        snippet = _SNIPPET_LINE.match(line)
        if snippet and not line.lstrip().startswith(";"):
            spec = snippet.group(2) or snippet.group(3) or snippet.group(4) or ""
            if spec:
                found, text = self._snippet_text(page_path, spec)
                if isinstance(found, str):
                    return [snippet.group(1) + missing_note(found)]
                return [snippet.group(1) + part for part in text.rstrip("\n").split("\n")]
        include = _MD_INCLUDE.match(line)
        if include:
            found = self._read(page_path, include.group(2))
            if isinstance(found, str):
                return [include.group(1) + missing_note(found)]
            return [include.group(1) + part for part in found.text.rstrip("\n").split("\n")]
        return [line]

    def _snippets(
        self, lines: list[str], i: int, page_path: str, depth: int, out: list[str]
    ) -> int:
        match = _SNIPPET_LINE.match(lines[i])
        if not match:
            out.append(lines[i])
            return i + 1
        specs: list[str] = []
        spec = match.group(2) or match.group(3) or match.group(4) or ""
        if spec:
            specs.append(spec)
            i += 1
        else:
            # Block form: --8<-- then one file per line then --8<--.
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("--8<--"):
                if lines[i].strip() and not lines[i].strip().startswith(";"):
                    specs.append(lines[i].strip().strip("\"'"))
                i += 1
            i += 1
        for spec in specs:
            if spec.startswith(("http://", "https://")):
                out.extend(["", missing_note(f"{spec} is a remote file"), ""])
                continue
            found, text = self._snippet_text(page_path, spec)
            if isinstance(found, str):
                out.extend(["", match.group(1) + missing_note(found), ""])
            elif found.path.endswith((".md", ".markdown", ".mdx", ".txt")):
                if depth >= MAX_INCLUDE_DEPTH:
                    out.extend(["", missing_note(f"{spec} is nested too deeply"), ""])
                else:
                    out.extend(self.expand(text.split("\n"), found.path, depth + 1))
            else:
                out.extend(
                    [
                        "",
                        *_fence_lines(match.group(1), text, language_for(found.path), found.path),
                        "",
                    ]
                )
        return i


def _myst_options(body: list[str]) -> tuple[dict[str, str], list[str]]:
    """A MyST directive's options (`:key: value` lines or a `---` YAML block) and its body."""
    options: dict[str, str] = {}
    k = 0
    if body and body[0].strip() == "---":
        end = next((n for n in range(1, len(body)) if body[n].strip() == "---"), None)
        if end is not None:
            try:
                data = yaml.safe_load("\n".join(body[1:end]))
            except (yaml.YAMLError, RecursionError):  # nested thousands deep: no options
                data = None
            if isinstance(data, dict):
                options = {str(key): "" if v is None else str(v) for key, v in data.items()}
            k = end + 1
    else:
        while k < len(body):
            option = re.match(r"^:([\w-]+):(?:\s+(.*))?$", body[k].strip())
            if not option:
                break
            options[option.group(1)] = (option.group(2) or "").strip()
            k += 1
    rest = body[k:]
    while rest and not rest[0].strip():
        rest = rest[1:]
    return options, rest


def _as_rst_directive(
    name: str, argument: str, options: dict[str, str], body: list[str]
) -> list[str]:
    head = f".. {name}::" + (f" {argument}" if argument else "")
    return [
        head,
        *(f"   :{key}: {value}".rstrip() for key, value in options.items()),
        "",
        *("   " + line if line.strip() else "" for line in body),
    ]


def _blocks_as_lines(blocks: list[Block], indent: str) -> list[str]:
    """Blocks of embedded reStructuredText written back as Markdown lines."""
    out: list[str] = []
    for block in blocks:
        if block.kind == "code":
            out.extend(
                [
                    "",
                    *_fence_lines(
                        indent, block.text, block.language, block.included_from, block.caption
                    ),
                    "",
                ]
            )
        elif block.kind == "heading":
            out.extend(["", f"{indent}**{block.text}**", ""])
        else:
            out.extend(["", *(indent + line for line in block.text.split("\n")), ""])
    return out

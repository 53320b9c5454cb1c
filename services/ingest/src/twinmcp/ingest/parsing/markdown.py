"""Markdown and MDX (MkDocs, pymdownx, Docusaurus flavours) to blocks, includes resolved."""

from __future__ import annotations

import html
import re
import tomllib
import unicodedata
from pathlib import PurePosixPath

import yaml
from markdown_it import MarkdownIt
from twinmcp.ingest.parsing import Block, ParsedDocument
from twinmcp.ingest.parsing.hidden import drop_hidden_elements, has_hidden_element
from twinmcp.ingest.parsing.includes import (
    MAX_INCLUDE_DEPTH,
    Included,
    IncludeResolver,
    between_markers,
    language_for,
    missing_note,
    normalise_language,
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
    role_text,
)

_FENCE_OPEN = re.compile(r"^(\s*)(`{3,}|~{3,})\s*(.*)$")
_HEADING_ID = re.compile(r"\s*\{\s*#([\w:.-]+)[^}]*\}\s*$")
_ATTR_ONLY_LINE = re.compile(r"^\s*\{\s*[#:.][^}]*\}\s*$")
_FASTAPI_INCLUDE = re.compile(r"^(\s*)\{\*\s*(\S+)(.*?)\*\}\s*$")
_MD_INCLUDE = re.compile(r"^(\s*)\{!>?\s*(\S+?)\s*!\}\s*$")
_SNIPPET_LINE = re.compile(r"^(\s*)-{2}8<-{2}\s*(?:\"([^\"]*)\"|'([^']*)'|(\S+))?\s*$")
_ADMONITION = re.compile(r"^(\s*)(!!!|\?\?\?\+?)\s+([^\"\n]*?)\s*(?:\"([^\"]*)\")?\s*$")
_CONTENT_TAB = re.compile(r"^(\s*)===!?\+?\s+\"([^\"]*)\"\s*$")
_BLOCK_OPEN = re.compile(r"^(\s*)(/{3,})\s*([\w-]+)\s*(?:\|\s*(.*?))?\s*$")
_BLOCK_CLOSE = re.compile(r"^(\s*)(/{3,})\s*$")
_BLOCK_OPTION = re.compile(r"^\s{2,}[\w-]+:\s")
_AUTODOC_STUB = re.compile(r"^(\s*):::\s+([\w.:-]+)\s*$")
# MyST (Sphinx Markdown): ```{directive} argument / :::{directive} ... ::: with :option: lines.
_MYST_DIRECTIVE = re.compile(r"^(\s*)(`{3,}|~{3,}|:{3,})\{([A-Za-z][\w:.-]*)\}\s*(.*?)\s*$")
# A role starts a word: `/items/{item_id}` inside a code span is not one.
_MYST_ROLE = re.compile(r"(?<![^\s(\[\"'*_])\{([A-Za-z][\w:.+-]*)\}`([^`]+)`")
_MYST_TARGET = re.compile(r"^\s*\([^()\s][^()]*\)=\s*$")
# Directives whose body is reStructuredText or code, not Markdown: the rst parser reads them.
_MYST_AS_RST = CODE_DIRECTIVES | AUTODOC | {"literalinclude", "testcode", "testoutput"}
# Containers whose body is Markdown whatever it holds (a tab of bare code lines stays a tab).
_MYST_CONTAINERS = frozenset({"tab", "group-tab", "tab-item", "tab-set", "admonition", "rubric"})
_ESM = re.compile(r"^(import\s+(?:[\w*{}\s,]+\s+from\s+)?['\"]|import\s*\{|export\s+)")
_TAG_ONLY_LINE = re.compile(r"^\s*(?:</?[A-Za-z][\w.:-]*(?:\s[^<>]*)?/?>\s*)+$")
_TAG_OPEN_UNCLOSED = re.compile(r"^\s*<[A-Za-z][\w.:-]*(?:\s[^<>]*)?$")
_TAG_LABEL = re.compile(
    r"<[A-Z][\w.]*[^>]*?\b(?:label|title)=(?:\"([^\"]*)\"|'([^']*)'|\{`([^`]*)`\})"
)
_MDX_COMMENT = re.compile(r"\{/\*.*?\*/\}", re.DOTALL)
_NUMBERED_ITEM = re.compile(r"^\d+[.)]\s")

_IMAGE = re.compile(r"!\[[^\]]*\](?:\([^)]*\)|\[[^\]]*\])")
_LINK = re.compile(r"\[((?:[^\[\]]|\[[^\[\]]*\])+)\]\((?:[^()\s]|\([^()]*\))*(?:\s+\"[^\"]*\")?\)")
_REF_LINK = re.compile(r"\[((?:[^\[\]]|\[[^\[\]]*\])+)\]\[[^\[\]]*\]")
_LINK_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s+\S+.*$", re.MULTILINE)
_FOOTNOTE_REF = re.compile(r"\[\^[^\]]+\]")
_ATTR_LIST = re.compile(r"\{\s*(?:[#.:][^}\n]*|[\w-]+=[^}\n]*)\}")
_MACRO = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_HTML_TAGS = (
    "a|abbr|b|br|big|center|cite|code|dd|del|details|dfn|div|dl|dt|em|figcaption|figure|font|"
    "h[1-6]|hr|i|iframe|img|ins|kbd|li|mark|nav|ol|p|picture|pre|q|s|samp|section|small|source|"
    "span|strike|strong|sub|summary|sup|table|tbody|td|tfoot|th|thead|tr|tt|u|ul|var|video|wbr|"
    "button|input|label|svg|path|style|script"
)
_HTML_TAG = re.compile(r"</?(?:" + _HTML_TAGS + r")\b[^<>]*>", re.IGNORECASE)
_JSX_TAG = re.compile(r"</?[A-Z][\w.]*(?:\s[^<>]*)?/?>")
_CODE_ANNOTATION = re.compile(r"[ \t]*#[ \t]*\(\d+\)!?[ \t]*$", re.MULTILINE)
_CODE_HL = re.compile(r"(hl|ln)\[([^\]]*)\]")
_CODE_TITLE = re.compile(r"title\[\"?([^\"\]]*)\"?\]")
_INFO_ATTR = re.compile(r"([\w-]+)=(?:\"([^\"]*)\"|'([^']*)'|(\S+))")
# CommonMark block structure only: inline markup is read by `clean_inline`, and raw HTML lines
# stay paragraphs (a tag line must not swallow the fence after it, as an HTML block would).
# Deeper nesting than `maxNesting` is dropped by markdown-it; 100 levels of lists or quotes is
# more than any page has and still far within Python's recursion limit.
_OPTIONS = {"html": False, "maxNesting": 100}
_COMMONMARK = MarkdownIt("commonmark", _OPTIONS).disable("inline")
# Token types that hold a page's text; containers (lists, quotes) only group them.
_LEAVES = frozenset(
    {"paragraph_open", "heading_open", "fence", "code_block", "hr", "table_open", "html_block"}
)
# What a line that only opens containers is made of: list markers and quote marks.
_LIST_MARKS = re.compile(r"^(?:\s*(?:[-*+]|\d+[.)]|>)(?=\s|$))+")
_COMMONMARK_NO_INDENTED_CODE = MarkdownIt("commonmark", _OPTIONS).disable("inline").disable("code")


def slugify_markdown(text: str) -> str:
    """The id Python-Markdown's toc extension (MkDocs) gives a heading."""
    value = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    value = re.sub(r"[^\w\s-]", "", value).strip().lower()
    return re.sub(r"[-\s]+", "-", value)


def slugify_github(text: str) -> str:
    """The id GitHub and Docusaurus (github-slugger) give a heading."""
    value = text.strip().lower()
    value = re.sub(r"[^\w\- ]", "", value)
    return value.replace(" ", "-")


def clean_inline(text: str) -> str:
    """Markup an agent does not need: links' targets, images, attribute lists, HTML tags, macros."""
    if "}`" in text:
        text = _MYST_ROLE.sub(lambda m: role_text(m.group(1).split(":")[-1], m.group(2)), text)
    if "[" in text:
        text = _IMAGE.sub("", text)
        text = _LINK.sub(r"\1", text)
        text = _REF_LINK.sub(r"\1", text)
        text = _LINK_DEFINITION.sub("", text)
        text = _FOOTNOTE_REF.sub("", text)
    if "{" in text:
        text = _MACRO.sub("", text)
        text = _ATTR_LIST.sub("", text)
    if "<" in text:
        text = _HTML_TAG.sub("", text)
        text = _JSX_TAG.sub("", text)
    if "&" in text:
        text = html.unescape(text)
    return text


def plain_heading(text: str) -> str:
    """Heading text as read: no emphasis, code ticks, links or attribute lists."""
    text = clean_inline(_HEADING_ID.sub("", text))
    text = re.sub(r"`+", "", text)
    text = re.sub(r"(\*\*|__|\*|(?<!\w)_(?=\S))", "", text)
    return re.sub(r"\s+", " ", text).strip().rstrip("#").strip()


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
        except (yaml.YAMLError, tomllib.TOMLDecodeError, ValueError):
            data = None
        if isinstance(data, dict):
            for key in ("title", "sidebar_label", "name"):
                value = data.get(key)
                if isinstance(value, str) and value.strip():
                    title = value.strip()
                    break
        return title, rest
    return "", text


class _Expander:
    """Pass one: includes, admonitions, tabs, MDX/HTML noise, turned into plain Markdown lines."""

    def __init__(self, resolver: IncludeResolver | None) -> None:
        self.resolver = resolver
        self.shown: dict[str, int] = {}

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
            directive = _MYST_DIRECTIVE.match(line) if "{" in line else None
            if directive:
                i = self._myst_directive(lines, i, directive, page_path, depth, out)
                continue
            opened = _FENCE_OPEN.match(line)
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
        body = _dedent(body)
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
            nested = self.expand(body, page_path, depth)
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
        text = lines[i]
        j = i
        while "-->" not in text[text.find("<!--") :] and j + 1 < len(lines):
            j += 1
            text += "\n" + lines[j]
        cleaned = re.sub(r"<!--.*?(-->|$)", "", text, flags=re.DOTALL)
        lines[i : j + 1] = cleaned.split("\n") if cleaned.strip() else [""]
        return i if cleaned.strip() else i + 1

    @staticmethod
    def _drop_mdx_comment(lines: list[str], i: int) -> int:
        text = lines[i]
        j = i
        while "*/}" not in text and j + 1 < len(lines):
            j += 1
            text += "\n" + lines[j]
        cleaned = _MDX_COMMENT.sub("", text)
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
            except yaml.YAMLError:
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


def _dedent(lines: list[str]) -> list[str]:
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents) if indents else 0
    return [line[cut:] for line in lines]


def _parse_info(info: str) -> tuple[str, str, str]:
    """(language, title, included_from) from a fence info string."""
    attrs = {
        m.group(1): next(g for g in m.groups()[1:] if g is not None)
        for m in _INFO_ATTR.finditer(info)
    }
    language = normalise_language(info)
    return language, attrs.get("title", ""), attrs.get("included_from", "")


def _code_block(body: str, info: str) -> Block | None:
    """A code block from a fence's (or an indented block's) body and info string."""
    body = body.strip("\n")
    annotated = False
    if "# (" in body:
        body, count = _CODE_ANNOTATION.subn("", body)
        annotated = count > 0
    if not body.strip():
        return None
    language, title, included_from = _parse_info(info)
    return Block(
        "code",
        body,
        language=language,
        caption=title,
        included_from=included_from,
        has_annotations=annotated,
    )


def _is_indented_prose(first_line: str, blocks: list[Block]) -> bool:
    """Whether an indented block is prose left indented by pass one or by Python-Markdown.

    HTML lines whose wrapping tags pass one dropped (`<p align="center">` around an indented
    `<em>`), and the numbered notes under annotated code, indented into a list item as
    mkdocs-material writes them.
    """
    line = first_line.strip()
    if line.startswith("<"):
        return True
    after_annotated = bool(blocks) and blocks[-1].kind == "code" and blocks[-1].has_annotations
    return after_annotated and _NUMBERED_ITEM.match(line) is not None


def markdown_blocks(
    lines: list[str], *, github_slugs: bool = False, has_indented_code: bool = True
) -> list[Block]:
    """Pass two: headings, code and prose paragraphs from expanded Markdown lines (CommonMark).

    markdown-it finds the blocks; prose keeps its Markdown source lines (lists, emphasis), read
    through `clean_inline`. Headings count at the top level only: one inside a list or a quote
    stays in its prose. `has_indented_code` is off for MDX, which has no indented code blocks
    (JSX components indent their children).
    """
    parser = _COMMONMARK if has_indented_code else _COMMONMARK_NO_INDENTED_CODE
    blocks: list[Block] = []
    para: list[str] = []
    para_end = -1
    slugify = slugify_github if github_slugs else slugify_markdown

    def flush() -> None:
        if not para:
            return
        text = clean_inline("\n".join(_dedent(para))).strip()
        para.clear()
        if text:
            blocks.append(Block("prose", text))

    def prose(start: int, end: int) -> None:
        nonlocal para_end
        if start != para_end:
            flush()  # a blank line or another block came between: a new paragraph
        para.extend(lines[start:end])
        para_end = end

    def heading(raw: str, level: int) -> None:
        explicit = _HEADING_ID.search(raw)
        text = plain_heading(raw)
        if not text:
            return
        anchor = explicit.group(1) if explicit else slugify(text)
        blocks.append(Block("heading", text, level=level, anchor=anchor))

    tokens = parser.parse("\n".join(lines))
    i = 0
    while i < len(tokens):
        token = tokens[i]
        kind = token.type
        if kind in ("fence", "code_block"):
            flush()
            lines_of = token.content.split("\n")
            first = next((line for line in lines_of if line.strip()), "")
            if kind == "code_block" and token.map and _is_indented_prose(first, blocks):
                prose(*token.map)
                i += 1
                continue
            if kind == "code_block" and _FENCE_OPEN.match(first):
                # A fence indented past the list or admonition it belonged to (Python-Markdown
                # nests by four spaces): read the block as Markdown again.
                blocks.extend(markdown_blocks(_dedent(lines_of), github_slugs=github_slugs))
            else:
                # An indented block's common indent beyond CommonMark's four spaces is the
                # list nesting of Python-Markdown (eight spaces under "1. "), not code.
                body = "\n".join(_dedent(lines_of)) if kind == "code_block" else token.content
                block = _code_block(body, token.info)
                if block is not None:
                    blocks.append(block)
        elif kind == "heading_open" and token.level == 0:
            flush()
            heading(tokens[i + 1].content, int(token.tag[1:]))
        elif kind in ("paragraph_open", "heading_open", "table_open") and token.map:
            prose(*token.map)
        elif kind == "hr":
            flush()
        if token.nesting == 1 and kind in ("paragraph_open", "heading_open", "table_open"):
            # Their content is taken whole: skip to the matching close.
            depth = 1
            while depth:
                i += 1
                depth += tokens[i].nesting
        i += 1
    flush()
    # Text nested deeper than markdown-it's limit is in no block: keep it, as prose at the end.
    read = bytearray(len(lines))
    for token in tokens:
        if token.map and token.type in _LEAVES:
            read[token.map[0] : token.map[1]] = b"\x01" * (token.map[1] - token.map[0])
    unread = [
        line
        for line, was_read in zip(lines, read, strict=True)
        if not was_read
        and _LIST_MARKS.sub("", line).strip()
        and not _LINK_DEFINITION.match(line.lstrip())
    ]
    text = clean_inline("\n".join(_dedent(unread))).strip()
    if text:
        blocks.append(Block("prose", text))
    return blocks


def parse_markdown(
    text: str,
    path: str,
    resolver: IncludeResolver | None = None,
    *,
    is_mdx: bool | None = None,
) -> ParsedDocument:
    """A Markdown/MDX page as blocks; includes read through `resolver` (None: not resolved)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    title, text = split_front_matter(text)
    if is_mdx is None:
        is_mdx = PurePosixPath(path).suffix.lower() == ".mdx"
    lines = _Expander(resolver).expand(text.split("\n"), path)
    blocks = markdown_blocks(lines, github_slugs=is_mdx, has_indented_code=not is_mdx)
    if not title:
        first_heading = next((b for b in blocks if b.kind == "heading"), None)
        if first_heading is not None and first_heading.level == 1:
            title = first_heading.text
    return ParsedDocument(title=title, blocks=blocks)

"""Cutting a parsed document into snippets along its headings, code blocks never split."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from twinmcp.ingest.documents import DocumentError, SnippetDraft
from twinmcp.ingest.parsing import Block, ParsedDocument
from twinmcp.ingest.parsing.html import parse_html
from twinmcp.ingest.parsing.includes import IncludeResolver
from twinmcp.ingest.parsing.inline import plain_heading
from twinmcp.ingest.parsing.markdown import parse_markdown
from twinmcp.ingest.parsing.notebook import parse_notebook
from twinmcp.ingest.parsing.rst import looks_like_rst, parse_rst
from twinmcp.tokens import count_tokens

MAX_DOCUMENT_BYTES = 8 * 1024 * 1024
MARKDOWN_SUFFIXES = frozenset({".md", ".mdx", ".markdown"})


@dataclass(frozen=True)
class ChunkingOptions:
    """Sizes in (estimated) tokens.

    Defaults picked with bench.search_quality on ../shared/eval (80 dev questions, lexical
    search): target/description 250/120 gave hit@1000 0.81, hit@2500 0.88, MRR 0.70, against
    0.76/0.85/0.68 for 350/160 and 0.79/0.85/0.63 for 120/80.
    """

    target_tokens: int = 250
    max_description_tokens: int = 120
    min_info_tokens: int = 12


DEFAULT_OPTIONS = ChunkingOptions()


def estimate_tokens(text: str) -> int:
    """A cheap stand-in for count_tokens when deciding where to cut (about 4 chars a token)."""
    return (len(text) + 3) // 4


def _read_text(root: Path, path: str, resolved_root: Path) -> str:
    full = root / path
    try:
        resolved = full.resolve()
    except (OSError, RuntimeError) as error:
        raise DocumentError(f"{path} cannot be opened: {error}") from error
    if not resolved.is_relative_to(resolved_root):
        raise DocumentError(f"{path} is outside the source tree")
    if not resolved.is_file():
        raise DocumentError(f"{path} is not a file")
    size = resolved.stat().st_size
    if size > MAX_DOCUMENT_BYTES:
        raise DocumentError(
            f"{path} is {size} bytes; documents above {MAX_DOCUMENT_BYTES} are skipped"
        )
    data = resolved.read_bytes()
    if b"\0" in data[:8192]:
        raise DocumentError(f"{path} holds binary data, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DocumentError(f"{path} is not UTF-8 text (byte {error.start})") from error


def parse_file(root: Path, path: str, resolver: IncludeResolver | None = None) -> ParsedDocument:
    """The blocks of one file under `root`, by extension; DocumentError when unreadable."""
    resolver = resolver if resolver is not None else IncludeResolver(root)
    text = _read_text(root, path, resolver.resolved_root)
    suffix = PurePosixPath(path).suffix.lower()
    if suffix in MARKDOWN_SUFFIXES:
        document = parse_markdown(text, path, resolver)
    elif suffix == ".rst":
        document = parse_rst(text, path, resolver)
    elif suffix == ".ipynb":
        document = parse_notebook(text, path, resolver)
    elif suffix in (".html", ".htm"):
        document = parse_html(text, path)
    elif suffix == ".txt" and looks_like_rst(text):
        document = parse_rst(text, path, resolver)
    elif suffix in (".txt", ""):
        document = parse_markdown(text, path, resolver, is_mdx=False)
    else:
        raise DocumentError(f"{path}: unsupported file type '{suffix}'")
    if not document.title:
        document.title = _title_from_path(path)
    return document


def _title_from_path(path: str) -> str:
    stem = PurePosixPath(path).stem
    if stem.lower() in ("index", "readme", "_index"):
        parent = PurePosixPath(path).parent.name
        stem = parent or stem
    return re.sub(r"[-_]+", " ", stem).strip().capitalize()


def _split_long(text: str, limit: int) -> list[str]:
    """A paragraph too long for one snippet, cut at line then sentence boundaries."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    units = text.split("\n") if "\n" in text else re.split(r"(?<=[.!?])\s+", text)
    joiner = "\n" if "\n" in text else " "
    for unit in units:
        cost = estimate_tokens(unit) + 1
        if current and size + cost > limit:
            pieces.append(joiner.join(current))
            current, size = [], 0
        current.append(unit)
        size += cost
    if current:
        pieces.append(joiner.join(current))
    return pieces


class _Chunker:
    def __init__(
        self, document: ParsedDocument, path: str, base_url: str, options: ChunkingOptions
    ):
        self.document = document
        self.path = path
        self.base_url = base_url.rstrip("/")
        self.options = options
        self.drafts: list[SnippetDraft] = []
        self.page_title = plain_heading(document.title) or _title_from_path(path)
        headings = Counter(b.text for b in document.blocks if b.kind == "heading")
        self.repeated_headings = {text for text, count in headings.items() if count > 1}

    def _breadcrumb(self, stack: list[Block]) -> tuple[str, ...]:
        crumbs = [self.page_title]
        for heading in stack:
            if heading.text and heading.text != crumbs[-1]:
                crumbs.append(heading.text)
        return tuple(crumbs)

    def _title(self, breadcrumb: tuple[str, ...]) -> str:
        if len(breadcrumb) == 1:
            return breadcrumb[0]
        if len(breadcrumb) > 2 and breadcrumb[-1] in self.repeated_headings:
            # "Answer", "Example" under several headings of one page: the parent says which.
            return f"{breadcrumb[0]} > {breadcrumb[-2]} > {breadcrumb[-1]}"
        return f"{breadcrumb[0]} > {breadcrumb[-1]}"

    def _emit(
        self,
        kind: str,
        breadcrumb: tuple[str, ...],
        anchor: str,
        description: str,
        content: str,
        language: str = "",
        included_from: str = "",
    ) -> None:
        title = self._title(breadcrumb)
        url = ""
        if self.base_url:
            url = f"{self.base_url}/{self.path}" + (f"#{anchor}" if anchor else "")
        tokens = count_tokens(f"{title}\n{description}\n{content}")
        self.drafts.append(
            SnippetDraft(
                kind="code" if kind == "code" else "info",
                title=title,
                description=description,
                language=language,
                content=content,
                breadcrumb=breadcrumb,
                source_path=self.path,
                anchor=anchor,
                tokens=tokens,
                included_from=included_from,
                url=url,
            )
        )

    def _emit_info(self, paragraphs: list[str], breadcrumb: tuple[str, ...], anchor: str) -> None:
        target = self.options.target_tokens
        group: list[str] = []
        size = 0
        groups: list[list[str]] = []
        for paragraph in paragraphs:
            cost = estimate_tokens(paragraph)
            if cost > target:
                if group:
                    groups.append(group)
                    group, size = [], 0
                groups.extend([piece] for piece in _split_long(paragraph, target))
                continue
            if group and size + cost > target:
                groups.append(group)
                group, size = [], 0
            group.append(paragraph)
            size += cost
        if group:
            groups.append(group)
        # A tail far below target reads better merged into the group before it.
        if len(groups) > 1 and sum(estimate_tokens(p) for p in groups[-1]) < target // 4:
            groups[-2].extend(groups.pop())
        for group in groups:
            # No summary in the description: it would repeat the content's first sentence in
            # what the agent reads, for no gain.
            self._emit("info", breadcrumb, anchor, "", "\n\n".join(group))

    def _section(self, stack: list[Block], body: list[Block]) -> None:
        if not body:
            return
        breadcrumb = self._breadcrumb(stack)
        anchor = stack[-1].anchor if stack else ""
        pending: list[str] = []
        last_code_index: int | None = None
        last_description = ""
        previous: Block | None = None
        for position, block in enumerate(body):
            if block.kind == "prose":
                if (
                    previous is not None
                    and previous.kind == "code"
                    and previous.has_annotations
                    and last_code_index is not None
                    and re.match(r"1[.)]\s", block.text)
                ):
                    # The numbered notes that explain the code's (1), (2) markers belong to it.
                    draft = self.drafts[last_code_index]
                    self.drafts[last_code_index] = _with_description(
                        draft, f"{draft.description}\n\n{block.text}".strip()
                    )
                else:
                    pending.append(block.text)
                previous = block
                continue
            previous = block
            description_parts: list[str] = []
            budget = self.options.max_description_tokens
            lead = sum(estimate_tokens(text) for text in pending)
            if (
                last_code_index is None
                and position == len(body) - 1
                and lead > budget
                and lead + estimate_tokens(block.text) <= self.options.target_tokens
            ):
                # A section that is a few paragraphs and the short example they lead to fits one
                # snippet: cut at the budget, the example would come without the reason to use
                # it and the prose without its example ("wrap the app in CORSMiddleware").
                budget = lead
            while pending:
                cost = estimate_tokens(pending[-1])
                if description_parts and cost > budget:
                    break
                description_parts.insert(0, pending.pop())
                budget -= cost
                if budget <= 0:
                    break
            if pending:
                self._emit_info(pending, breadcrumb, anchor)
                pending = []
            description = "\n\n".join(description_parts)
            if not description and last_code_index is not None:
                # Code right after code (a variant, its output): the same introduction applies.
                description = last_description
            if block.caption:
                description = f"{description}\n\nFile: {block.caption}".strip()
            self._emit(
                "code",
                breadcrumb,
                anchor,
                description,
                block.text,
                block.language or "text",
                block.included_from,
            )
            last_code_index = len(self.drafts) - 1
            last_description = "\n\n".join(description_parts)
        if pending:
            tail = "\n\n".join(pending)
            if (
                last_code_index is not None
                and estimate_tokens(tail) < self.options.min_info_tokens * 3
            ):
                # A remark right after the code (what it prints, what to notice) stays with it.
                last_draft = self.drafts[last_code_index]
                self.drafts[last_code_index] = _with_description(
                    last_draft, f"{last_draft.description}\n\n{tail}".strip()
                )
            elif estimate_tokens(tail) >= self.options.min_info_tokens or last_code_index is None:
                self._emit_info(pending, breadcrumb, anchor)

    def run(self) -> list[SnippetDraft]:
        stack: list[Block] = []
        body: list[Block] = []
        for block in self.document.blocks:
            if block.kind == "heading":
                self._section(stack, body)
                body = []
                while stack and stack[-1].level >= block.level:
                    stack.pop()
                if block.level == 1 and not stack and block.text == self.page_title:
                    stack.append(Block("heading", "", level=1, anchor=block.anchor))
                else:
                    stack.append(block)
                continue
            body.append(block)
        self._section(stack, body)
        return self.drafts


def _with_description(draft: SnippetDraft, description: str) -> SnippetDraft:
    tokens = count_tokens(f"{draft.title}\n{description}\n{draft.content}")
    return SnippetDraft(
        kind=draft.kind,
        title=draft.title,
        description=description,
        language=draft.language,
        content=draft.content,
        breadcrumb=draft.breadcrumb,
        source_path=draft.source_path,
        anchor=draft.anchor,
        tokens=tokens,
        included_from=draft.included_from,
        url=draft.url,
    )


def chunk_document(
    document: ParsedDocument,
    path: str,
    *,
    base_url: str = "",
    options: ChunkingOptions = DEFAULT_OPTIONS,
) -> list[SnippetDraft]:
    """Snippets of an already parsed document, in reading order."""
    return _Chunker(document, path, base_url, options).run()


def parse_document(
    root: Path,
    path: str,
    *,
    base_url: str = "",
    resolver: IncludeResolver | None = None,
    options: ChunkingOptions = DEFAULT_OPTIONS,
) -> list[SnippetDraft]:
    """Snippets of the file at `path` (posix, relative to `root`); raises DocumentError.

    Includes are resolved relative to the page and never outside `root`. Pass one `resolver`
    for a whole source to share its cache of included files.
    """
    document = parse_file(root, path, resolver)
    return chunk_document(document, path, base_url=base_url, options=options)

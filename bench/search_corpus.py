"""Turning ../shared/eval/corpus into search snippets for the benchmarks.

Uses ingest's chunker (`twinmcp.ingest.chunking.parse_document`) when it is installed, else a
simple heading-based stand-in. A benchmark is not a service, so it may import both sides.
"""

from __future__ import annotations

import hashlib
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

from twinmcp.search.snippets import KIND_CODE, KIND_INFO, SnippetRecord, printed_tokens

EVAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval"
CORPUS_DIR = EVAL_DIR / "corpus"
QUESTIONS = EVAL_DIR / "dev-questions.jsonl"
CATALOG_DIR = EVAL_DIR / "catalog"

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*(\{\s*#[^}]*\})?\s*$")
_INCLUDE = re.compile(r"\{\*\s*([^\s*]+)[^*]*\*\}|\{!>\s*([^\s!]+)[^!]*!\}")
_RST_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+])\1{2,}\s*$")


def _record(
    library: str, path: str, kind: str, title: str, crumbs: list[str], content: str, lang: str
) -> SnippetRecord:
    content = content.strip("\n")
    digest = hashlib.sha1(f"{path}\0{title}\0{content}".encode()).hexdigest()[:16]
    return SnippetRecord(
        snippet_id=digest,
        kind=kind,
        title=title,
        description="",
        language=lang,
        content=content,
        breadcrumb=tuple(crumbs),
        source_path=path,
        source_url="",
        anchor="",
        tokens=printed_tokens(title, "", content, "", path),
    )


def _flush_prose(
    out: list[SnippetRecord], library: str, path: str, crumbs: list[str], lines: list[str]
) -> None:
    text = "\n".join(lines).strip()
    lines.clear()
    if len(text) < 40:
        return
    # Long sections become several snippets of about 350 words.
    paragraphs = re.split(r"\n\s*\n", text)
    chunk: list[str] = []
    words = 0
    for paragraph in paragraphs:
        chunk.append(paragraph)
        words += len(paragraph.split())
        if words >= 350:
            out.append(
                _record(
                    library,
                    path,
                    KIND_INFO,
                    crumbs[-1] if crumbs else path,
                    crumbs,
                    "\n\n".join(chunk),
                    "",
                )
            )
            chunk, words = [], 0
    if chunk and len("\n\n".join(chunk)) >= 40:
        out.append(
            _record(
                library,
                path,
                KIND_INFO,
                crumbs[-1] if crumbs else path,
                crumbs,
                "\n\n".join(chunk),
                "",
            )
        )


def _markdown(root: Path, library: str, path: str) -> list[SnippetRecord]:
    out: list[SnippetRecord] = []
    crumbs: list[str] = []
    prose: list[str] = []
    lines = (root / path).read_text(encoding="utf-8", errors="replace").splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        heading = _MD_HEADING.match(line)
        if heading:
            _flush_prose(out, library, path, crumbs, prose)
            level = len(heading.group(1))
            crumbs = [*crumbs[: level - 1], heading.group(2).strip()]
            index += 1
            continue
        fence = re.match(r"^\s*(```+|~~~+)\s*([\w+-]*)", line)
        if fence:
            _flush_prose(out, library, path, crumbs, prose)
            marker, lang = fence.group(1), fence.group(2)
            body: list[str] = []
            index += 1
            while index < len(lines) and not lines[index].strip().startswith(marker):
                body.append(lines[index])
                index += 1
            index += 1
            code = "\n".join(body)
            if code.strip():
                out.append(
                    _record(
                        library, path, KIND_CODE, crumbs[-1] if crumbs else path, crumbs, code, lang
                    )
                )
            continue
        include = _INCLUDE.search(line)
        if include:
            target = (root / path).parent / (include.group(1) or include.group(2))
            try:
                relative = target.resolve().relative_to(root.resolve()).as_posix()
            except ValueError:
                relative = ""
            if relative and (root / relative).is_file():
                _flush_prose(out, library, path, crumbs, prose)
                out.append(
                    _record(
                        library,
                        relative,
                        KIND_CODE,
                        crumbs[-1] if crumbs else path,
                        crumbs,
                        (root / relative).read_text(encoding="utf-8"),
                        "python",
                    )
                )
                index += 1
                continue
        prose.append(line)
        index += 1
    _flush_prose(out, library, path, crumbs, prose)
    return out


def _rst(root: Path, library: str, path: str) -> list[SnippetRecord]:
    out: list[SnippetRecord] = []
    levels: list[str] = []
    crumbs: list[str] = []
    prose: list[str] = []
    lines = (root / path).read_text(encoding="utf-8", errors="replace").splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        nxt = lines[index + 1] if index + 1 < len(lines) else ""
        if line.strip() and _RST_UNDERLINE.match(nxt) and len(nxt.strip()) >= len(line.strip()):
            _flush_prose(out, library, path, crumbs, prose)
            char = nxt.strip()[0]
            if char not in levels:
                levels.append(char)
            depth = levels.index(char)
            crumbs = [*crumbs[:depth], line.strip()]
            index += 2
            continue
        is_directive = re.match(r"^\s*\.\. (code-block|code|sourcecode)::\s*(\w*)", line)
        if is_directive or (line.rstrip().endswith("::") and not line.strip().startswith("..")):
            if not is_directive:
                prose.append(line[:-1])
            _flush_prose(out, library, path, crumbs, prose)
            lang = is_directive.group(2) if is_directive else "python"
            index += 1
            body: list[str] = []
            while index < len(lines) and (not lines[index].strip() or lines[index][:1] in " \t"):
                if not body and lines[index].strip().startswith(":"):
                    index += 1
                    continue
                body.append(lines[index])
                index += 1
            code = "\n".join(body)
            if code.strip():
                out.append(
                    _record(
                        library,
                        path,
                        KIND_CODE,
                        crumbs[-1] if crumbs else path,
                        crumbs,
                        _dedent(code),
                        lang,
                    )
                )
            continue
        prose.append(line)
        index += 1
    _flush_prose(out, library, path, crumbs, prose)
    return out


def _dedent(code: str) -> str:
    return textwrap.dedent(code)


def _standin_snippets(root: Path, library: str) -> list[SnippetRecord]:
    out: list[SnippetRecord] = []
    for file in sorted(root.rglob("*")):
        relative = file.relative_to(root).as_posix()
        if not file.is_file() or relative.startswith("docs_src/"):
            continue
        if file.suffix == ".md":
            out.extend(_markdown(root, library, relative))
        elif file.suffix == ".rst":
            out.extend(_rst(root, library, relative))
    return out


def _ingest_snippets(root: Path) -> list[SnippetRecord] | None:
    # The ingest service is optional here: without it a stand-in parser reads the corpus.
    try:
        from twinmcp.ingest.chunking import (  # type: ignore[import-not-found]  # noqa: PLC0415
            parse_document,
        )
        from twinmcp.ingest.documents import (  # type: ignore[import-not-found]  # noqa: PLC0415
            load_source_config,
        )
        from twinmcp.ingest.selection import (  # type: ignore[import-not-found]  # noqa: PLC0415
            select_documents,
        )
    except ImportError:
        return None
    drafts = []
    for path in select_documents(root, load_source_config(root)):
        drafts.extend(parse_document(root, str(path)))
    try:
        from twinmcp.ingest.dedupe import (  # type: ignore[import-not-found]  # noqa: PLC0415
            dedupe,
        )

        drafts = dedupe(drafts)
    except ImportError:
        pass
    out = []
    for draft in drafts:
        kind = KIND_CODE if "code" in str(draft.kind).lower() else KIND_INFO
        digest = hashlib.sha1(
            f"{draft.source_path}\0{draft.title}\0{draft.content}".encode()
        ).hexdigest()[:16]
        out.append(
            SnippetRecord(
                snippet_id=digest,
                kind=kind,
                title=draft.title,
                description=draft.description,
                language=draft.language,
                content=draft.content,
                breadcrumb=tuple(draft.breadcrumb),
                source_path=draft.source_path,
                source_url="",
                anchor=draft.anchor or "",
                tokens=printed_tokens(
                    draft.title, draft.description, draft.content, "", draft.source_path
                ),
            )
        )
    return out


def library_snippets(
    library: str, *, standin: bool = False, corpus: Path = CORPUS_DIR
) -> tuple[list[SnippetRecord], str]:
    """The snippets of one corpus library and which chunker made them; `corpus`, the folder
    holding `owner__name` folders (the held-out sets' is heldout_corpus.CACHE / "corpus")."""
    root = corpus / library.replace("/", "__")
    if not standin:
        snippets = _ingest_snippets(root)
        if snippets is not None:
            return snippets, "ingest"
    return _standin_snippets(root, library), "stand-in"


def iter_libraries() -> Iterator[str]:
    for path in sorted(CORPUS_DIR.iterdir()):
        if path.is_dir():
            yield path.name.replace("__", "/", 1)

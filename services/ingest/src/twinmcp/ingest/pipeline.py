"""One ingest run over a fetched folder: select, diff, parse, embed, write, publish."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from twinmcp.embedding import Embedder, EmbeddingError
from twinmcp.ingest.chunking import parse_document
from twinmcp.ingest.dedupe import dedupe
from twinmcp.ingest.documents import (
    DocumentError,
    SnippetDraft,
    SourceConfig,
    load_source_config,
)
from twinmcp.ingest.errors import IngestError, InvalidSource
from twinmcp.ingest.identity import Package, read_identity
from twinmcp.ingest.jobs import Progress
from twinmcp.ingest.rawstore import RawStore
from twinmcp.ingest.selection import explain_no_documents, select_documents
from twinmcp.tokens import truncate_to_tokens

logger = logging.getLogger(__name__)

GROUP_SIZE = 24  # documents parsed and embedded together (bigger embedding batches)
EMBED_TOKENS = 512


@dataclass(frozen=True)
class BuildTarget:
    library_id: str
    version: str
    idempotency_key: str
    make_default: bool
    title: str = ""
    description: str = ""
    source_type: str = "local"
    source_url: str = ""
    stars: int = 0
    rules: tuple[str, ...] = ()
    base_url: str = ""
    # The library's identity read from the source (identity.py): other names, packages.
    aliases: tuple[str, ...] = ()
    packages: tuple[Package, ...] = ()
    # A registry release's package as a source and the registry's releases (Materialised).
    registry_source: str = ""
    registry_releases: tuple[str, ...] = ()
    # The opening prose of the README or landing page (identity.read_about).
    about: str = ""


@dataclass(frozen=True)
class PreviousVersion:
    version: str
    hashes: dict[str, str]
    embedding_model: str
    embedding_dimension: int


class Index(Protocol):
    async def previous_version(self, library_id: str) -> PreviousVersion | None: ...

    async def begin_build(
        self, target: BuildTarget, base_version: str, model: str, dimension: int
    ) -> tuple[str, set[str]]: ...

    async def copy_documents(self, build_id: str, paths: Sequence[str]) -> int: ...

    async def put_document(
        self,
        build_id: str,
        path: str,
        content_hash: str,
        title: str,
        snippets: Sequence[tuple[SnippetDraft, Sequence[float]]],
    ) -> int: ...

    async def publish(self, build_id: str) -> Published: ...

    async def abort(self, build_id: str) -> None: ...


class Documents(Protocol):
    """The document-processing functions (selection, chunking, dedupe), passed in for tests."""

    def load_config(self, root: Path) -> SourceConfig: ...

    def select(self, root: Path, config: SourceConfig) -> list[str]: ...

    def parse(self, root: Path, path: str, base_url: str) -> list[SnippetDraft]: ...

    def dedupe(self, drafts: list[SnippetDraft]) -> list[SnippetDraft]: ...


class DefaultDocuments:
    """The real twinmcp.ingest selection/chunking/dedupe modules."""

    def load_config(self, root: Path) -> SourceConfig:
        return load_source_config(root)

    def select(self, root: Path, config: SourceConfig) -> list[str]:
        return select_documents(root, config)

    def parse(self, root: Path, path: str, base_url: str) -> list[SnippetDraft]:
        drafts: list[SnippetDraft] = parse_document(root, path, base_url=base_url)
        return drafts

    def dedupe(self, drafts: list[SnippetDraft]) -> list[SnippetDraft]:
        kept: list[SnippetDraft] = dedupe(drafts)
        return kept


class Enricher(Protocol):
    async def enrich(self, drafts: list[SnippetDraft]) -> list[SnippetDraft]: ...


@dataclass(frozen=True)
class Published:
    """What publishing a build made: its snippets, and how many of them search withholds from
    answers because they read as instructions aimed at AI agents (suspected prompt injection)."""

    snippet_count: int
    withheld_count: int = 0


@dataclass
class RunResult:
    build_id: str
    snippet_count: int
    parsed: int
    copied: int
    notes: list[str] = field(default_factory=list)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def document_hash(page_hash: str, includes: dict[str, str]) -> str:
    """The page's hash, followed by each included file's: a change in any re-parses the page."""
    return ";".join([page_hash, *(f"{path}={h}" for path, h in sorted(includes.items()))])


def _is_unchanged(root: Path, page_hash: str, previous: str) -> bool:
    page, *includes = previous.split(";")
    if page != page_hash:
        return False
    for item in includes:
        path, _, expected = item.rpartition("=")
        file = root / path
        try:
            if not file.resolve().is_relative_to(root.resolve()):
                return False
            if sha256(file.read_bytes()) != expected:
                return False
        except OSError:
            return False
    return True


def embedding_text(draft: SnippetDraft) -> str:
    # Breadcrumb, title and content: the description mostly repeats the prose around the code,
    # and embedding it lowered MRR on the dev questions (0.846 -> 0.806, bench.search_quality).
    parts = (" > ".join(draft.breadcrumb), draft.title, draft.content)
    text = "\n".join(part for part in parts if part)
    return truncate_to_tokens(text, EMBED_TOKENS)


class Pipeline:
    def __init__(
        self,
        index: Index,
        documents: Documents,
        raw_store: RawStore,
        embedder: Embedder | None,
        *,
        enricher: Enricher | None = None,
        max_file_bytes: int = 2 * 1024 * 1024,
    ) -> None:
        self.index = index
        self.documents = documents
        self.raw_store = raw_store
        self.embedder = embedder
        self.enricher = enricher
        self.max_file_bytes = max_file_bytes
        self.build_id = ""

    async def run(
        self,
        root: Path,
        target: BuildTarget,
        progress: Progress,
        report: Callable[[], Awaitable[None]],
    ) -> RunResult:
        """Writes one build and publishes it; on any failure `self.build_id` names what to abort."""
        try:
            config = await asyncio.to_thread(self.documents.load_config, root)
        except DocumentError as exc:
            raise InvalidSource(f"the source's configuration is invalid: {exc}") from exc
        if config.rules and not target.rules:
            target = BuildTarget(**{**target.__dict__, "rules": config.rules})
        if config.project_title or config.description:
            target = BuildTarget(
                **{
                    **target.__dict__,
                    "title": config.project_title or target.title,
                    "description": config.description or target.description,
                }
            )
        paths = await asyncio.to_thread(self.documents.select, root, config)
        if not paths:
            # Say which exclusions removed what ("412 .rst files under doc/build ..."), so the
            # owner can tell a wrong path from folders the defaults skip.
            raise InvalidSource(await asyncio.to_thread(explain_no_documents, root, config))
        try:
            identity = await asyncio.to_thread(
                read_identity, root, config, paths, target.library_id
            )
        except DocumentError as exc:
            raise InvalidSource(f"the source's configuration is invalid: {exc}") from exc
        target = replace(
            target,
            # The fetched title is only the repository's or folder's name ("website").
            title=identity.title or target.title,
            description=target.description or identity.description,
            aliases=identity.aliases,
            packages=identity.packages,
            about=identity.about,
        )
        progress.files_total = len(paths)
        progress.phase = "fetching"
        hashes: dict[str, str] = {}
        notes: list[str] = [f"identity: {line}" for line in identity.evidence]
        for path in paths:
            file = root / path
            size = file.stat().st_size
            if size > self.max_file_bytes:
                notes.append(f"{path}: skipped, {size} bytes is over {self.max_file_bytes}")
                continue
            data = await asyncio.to_thread(file.read_bytes)
            hashes[path] = sha256(data)
            await self.raw_store.put(target.library_id, target.version, hashes[path], data)
        model = self.embedder.model if self.embedder else ""
        dimension = self.embedder.dimension if self.embedder else 0

        previous = await self.index.previous_version(target.library_id)
        same_space = previous is not None and (
            previous.embedding_model,
            previous.embedding_dimension,
        ) == (model, dimension)
        if (
            previous is not None
            and previous.embedding_model
            and model
            and (previous.embedding_model == model and previous.embedding_dimension != dimension)
        ):
            raise EmbeddingError(
                f"the index holds {previous.embedding_dimension}-dimensional vectors for "
                f"{model!r} but the embedder makes {dimension}; fix the embedding settings"
            )
        base_version = previous.version if previous is not None and same_space else ""
        build_id, completed = await self.index.begin_build(target, base_version, model, dimension)
        self.build_id = build_id
        unchanged = [
            path
            for path in hashes
            if path not in completed
            and previous is not None
            and same_space
            and path in previous.hashes
            and _is_unchanged(root, hashes[path], previous.hashes[path])
        ]
        copied_snippets = 0
        for start in range(0, len(unchanged), 500):
            copied_snippets += await self.index.copy_documents(
                build_id, unchanged[start : start + 500]
            )
        progress.files_skipped = len(unchanged)
        progress.files_done = len(unchanged) + len([p for p in hashes if p in completed])
        progress.snippets = copied_snippets
        progress.phase = "parsing"
        await report()
        unchanged_set = set(unchanged)
        todo = [p for p in hashes if p not in completed and p not in unchanged_set]
        parsed = 0
        for start in range(0, len(todo), GROUP_SIZE):
            group = todo[start : start + GROUP_SIZE]
            parsed_group = await asyncio.to_thread(self._parse_group, root, group, target.base_url)
            documents: list[tuple[str, list[SnippetDraft], str]] = []
            for path, outcome in zip(group, parsed_group, strict=True):
                if isinstance(outcome, str):
                    notes.append(f"{path}: skipped, {outcome}")
                    progress.files_done += 1
                    continue
                drafts, includes = outcome
                documents.append((path, drafts, document_hash(hashes[path], includes)))
            parsed += len(documents)
            if self.enricher is not None:
                documents = [(p, await self.enricher.enrich(d), h) for p, d, h in documents]
            vectors = await self._embed([d for _, drafts, _ in documents for d in drafts], progress)
            offset = 0
            for path, drafts, content_hash in documents:
                pairs = [(d, vectors[offset + i]) for i, d in enumerate(drafts)]
                offset += len(drafts)
                title = drafts[0].breadcrumb[0] if drafts and drafts[0].breadcrumb else path
                progress.snippets += await self.index.put_document(
                    build_id, path, content_hash, title, pairs
                )
                progress.files_done += 1
            progress.phase = "parsing"
            await report()
        progress.phase = "publishing"
        await report()
        published = await self.index.publish(build_id)
        total = published.snippet_count
        if published.withheld_count:
            note = (
                f"{published.withheld_count} snippets read as instructions aimed at AI agents "
                "(suspected prompt injection): stored but withheld from every answer; check "
                "the documentation for injected text"
            )
            logger.warning("%s %s: %s", target.library_id, target.version, note)
            notes.append(note)
        progress.snippets = total
        progress.files_done = len(paths)
        return RunResult(build_id, total, parsed, len(unchanged), notes)

    def _parse_group(
        self, root: Path, group: list[str], base_url: str
    ) -> list[tuple[list[SnippetDraft], dict[str, str]] | str]:
        out: list[tuple[list[SnippetDraft], dict[str, str]] | str] = []
        for path in group:
            try:
                drafts = self.documents.dedupe(self.documents.parse(root, path, base_url))
            except DocumentError as exc:
                out.append(str(exc))
                continue
            includes: dict[str, str] = {}
            for draft in drafts:
                if draft.included_from and draft.included_from not in includes:
                    try:
                        includes[draft.included_from] = sha256(
                            (root / draft.included_from).read_bytes()
                        )
                    except OSError:
                        includes[draft.included_from] = "missing"
            out.append((drafts, includes))
        return out

    async def _embed(self, drafts: list[SnippetDraft], progress: Progress) -> list[list[float]]:
        if self.embedder is None or not drafts:
            return [[] for _ in drafts]
        progress.phase = "embedding"
        vectors = await self.embedder.embed([embedding_text(d) for d in drafts])
        if len(vectors) != len(drafts):
            raise IngestError(f"the embedder returned {len(vectors)} vectors for {len(drafts)}")
        progress.embeddings += len(vectors)
        return vectors

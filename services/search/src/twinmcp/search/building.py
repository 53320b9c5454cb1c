"""The write side (IndexService): builds of library versions, their documents, publishing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from twinmcp.search.changes import EVERY_LIBRARY, ChangeFeed
from twinmcp.search.errors import ConflictError, InvalidInputError
from twinmcp.search.identity import clean_aliases, clean_packages
from twinmcp.search.indexes import Indexes
from twinmcp.search.library import CatalogEntry, LibraryMeta
from twinmcp.search.libraryid import canonical_library_id, parse_library_id
from twinmcp.search.limits import MAX_VERSION_CHARS
from twinmcp.search.ownertext import clean_meta, clean_snippet, snippet_injection
from twinmcp.search.resolution import doc_term_shares
from twinmcp.search.snippets import NewSnippet, SnippetRecord, printed_tokens
from twinmcp.search.store import Store
from twinmcp.search.vectors import VectorStore

logger = logging.getLogger(__name__)

# A registry release's library keeps at most this many release names (newest first).
MAX_REGISTRY_RELEASES = 2_000
MAX_REGISTRY_SOURCE_CHARS = 300


class Builder:
    """Builds versions from what ingest sends: an open build takes documents (put or copied
    from its base version) and, published, becomes the served build of its version; also the
    catalog import and a library's deletion. Every change is announced on the feed."""

    def __init__(
        self, store: Store, vectors: VectorStore, indexes: Indexes, changes: ChangeFeed
    ) -> None:
        self.store = store
        self.vectors = vectors
        self.indexes = indexes
        self.changes = changes

    async def begin_build(
        self,
        meta: LibraryMeta,
        version: str,
        *,
        base_version: str = "",
        embedding_model: str = "",
        embedding_dimension: int = 0,
        idempotency_key: str = "",
        make_default: bool = False,
    ) -> tuple[str, list[str]]:
        library_id = canonical_library_id(meta.library_id)
        if not version.strip():
            raise InvalidInputError("version is empty; give the tag, branch or name indexed")
        if bool(embedding_model) != (embedding_dimension > 0):
            raise InvalidInputError(
                "embedding space needs both a model and a positive dimension, or neither "
                "(a build without vectors)"
            )
        meta, dropped = clean_meta(
            LibraryMeta(
                library_id=library_id,
                title=meta.title,
                description=meta.description,
                source_type=meta.source_type,
                source_url=meta.source_url,
                trust_score=meta.trust_score,
                stars=meta.stars,
                package_names=meta.package_names,
                rules=meta.rules,
                packages=clean_packages(meta.packages),
                aliases=clean_aliases(meta.aliases),
                registry_source=meta.registry_source.strip()[:MAX_REGISTRY_SOURCE_CHARS],
                registry_releases=tuple(
                    v.strip()
                    for v in meta.registry_releases[:MAX_REGISTRY_RELEASES]
                    if 0 < len(v.strip()) <= MAX_VERSION_CHARS
                ),
                about=meta.about,
            )
        )
        for reason in dropped:
            # The owner's text is not stored; the operator learns why from here.
            logger.warning("%s %s: left out, %s", library_id, version.strip(), reason)
        build, completed = await self.store.begin_build(
            meta,
            version.strip(),
            base_version=base_version.strip(),
            embedding_model=embedding_model,
            embedding_dimension=embedding_dimension,
            idempotency_key=idempotency_key.strip(),
            make_default=make_default,
        )
        return build.build_id, completed

    async def put_document(
        self,
        build_id: str,
        path: str,
        content_hash: str,
        title: str,
        snippets: Sequence[NewSnippet],
    ) -> int:
        """Stores a document's snippets in an open build; returns how many.

        A record's `snippet_id` and `tokens` are not read: the store numbers snippets and the
        builder counts tokens. An unknown kind is read as info, an empty source path as `path`,
        and the owner's text is cleaned.
        """
        if not path.strip():
            raise InvalidInputError("path is empty; give the document's path in its repository")
        build = await self.store.open_build(build_id)
        items: list[NewSnippet] = []
        for number, item in enumerate(snippets, start=1):
            snippet, embedding = item.record, item.embedding
            size = len(embedding)
            if build.embedding_model and size != build.embedding_dimension:
                raise InvalidInputError(
                    f"snippet {number} of {path} has a {size}-dimensional embedding but build "
                    f"{build_id} stores {build.embedding_model} vectors of "
                    f"{build.embedding_dimension} dimensions; embed with that model (vectors "
                    "are never padded or truncated)"
                )
            if not build.embedding_model and size:
                raise InvalidInputError(
                    f"snippet {number} of {path} carries an embedding but build {build_id} was "
                    "begun without an embedding space; begin the build with its model and "
                    "dimension"
                )
            if not snippet.content.strip():
                raise InvalidInputError(f"snippet {number} of {path} has no content")
            kind = snippet.kind if snippet.kind in ("code", "info") else "info"
            source_path = snippet.source_path or path
            record = clean_snippet(
                SnippetRecord(
                    snippet_id="",
                    kind=kind,
                    title=snippet.title,
                    description=snippet.description,
                    language=snippet.language,
                    content=snippet.content,
                    breadcrumb=tuple(snippet.breadcrumb),
                    source_path=source_path,
                    source_url=snippet.source_url,
                    anchor=snippet.anchor,
                    tokens=printed_tokens(
                        snippet.title,
                        snippet.description,
                        snippet.content,
                        snippet.source_url,
                        source_path,
                    ),
                )
            )
            items.append(NewSnippet(record, embedding))
        keys = await self.store.put_document(build, path, content_hash, title, items)
        if self.vectors.is_external and build.embedding_model:
            await self.vectors.upsert(
                build_id, [(key, item.embedding) for key, item in zip(keys, items, strict=True)]
            )
        return len(items)

    async def copy_documents(self, build_id: str, paths: Sequence[str]) -> tuple[int, int]:
        build = await self.store.open_build(build_id)
        if not build.base_version:
            raise InvalidInputError(
                f"build {build_id} has no base_version to copy from; begin it with one"
            )
        if not paths:
            return 0, 0
        _, base = await self.store.version_or_raise(build.library_id, build.base_version)
        if (base.embedding_model, base.embedding_dimension) != (
            build.embedding_model,
            build.embedding_dimension,
        ):
            raise ConflictError(
                f"base version {build.base_version} was embedded with "
                f"{base.embedding_model or 'no model'} ({base.embedding_dimension} dimensions) "
                f"but build {build_id} uses {build.embedding_model or 'no model'} "
                f"({build.embedding_dimension}); put these documents again instead of copying"
            )
        documents, snippets, vectors = await self.store.copy_documents(
            build, base.build_id, list(dict.fromkeys(paths))
        )
        if self.vectors.is_external and vectors:
            await self.vectors.upsert(build_id, vectors)
        return documents, snippets

    async def document_hashes(
        self, library_id: str, version: str
    ) -> tuple[str, list[tuple[str, str]], str, int]:
        ref = parse_library_id(library_id, version)
        _, chosen = await self.store.version_or_raise(ref.library_id, ref.version)
        hashes = await self.store.hashes(chosen.build_id)
        return chosen.version, hashes, chosen.embedding_model, chosen.embedding_dimension

    async def publish(self, build_id: str) -> tuple[str, str, int, int]:
        """(library id, version, snippets, snippets withheld as suspected prompt injection)."""
        build = await self.store.build(build_id)
        if build.state == "published":
            # A retried publish whose answer was lost: the same answer again.
            index = await self.indexes.get(build_id)
            suspects = await asyncio.to_thread(_suspects, index.snippets)
            return build.library_id, build.version, build.snippet_count, len(suspects)
        if build.state != "open":
            raise ConflictError(
                f"build {build_id} is {build.state}; only an open build can be published"
            )
        snippets, matrix = await self.store.build_snippets(build_id)
        if not snippets:
            raise ConflictError(
                f"build {build_id} has no documents; put at least one before publishing"
            )
        index = await self.indexes.build(build_id, snippets, matrix, build.embedding_model)
        suspects = await asyncio.to_thread(_suspects, snippets)
        if suspects:
            logger.warning(
                "%s %s: %d snippets read as instructions to AI agents (suspected prompt "
                "injection) and are withheld from answers: %s",
                build.library_id,
                build.version,
                len(suspects),
                ", ".join(suspects[:20]),
            )
        doc_terms = await asyncio.to_thread(doc_term_shares, [_doc_text(s) for s in snippets])
        count, replaced = await self.store.publish(build, index, doc_terms)
        self.indexes.cache.put(index)
        await self.changes.changed(build.library_id)
        for old in replaced:
            self.indexes.cache.drop(old)
            if self.vectors.is_external:
                await self.vectors.delete_namespace(old)
        logger.info("published %s %s (%d snippets)", build.library_id, build.version, count)
        return build.library_id, build.version, count, len(suspects)

    async def abort(self, build_id: str) -> None:
        build = await self.store.build(build_id)
        if build.state == "aborted":
            return
        await self.store.abort(build_id)
        if self.vectors.is_external and build.embedding_model:
            await self.vectors.delete_namespace(build_id)

    async def import_catalog(self, entries: Sequence[CatalogEntry]) -> int:
        for entry in entries:
            if not entry.registry.strip() or not entry.name.strip():
                raise InvalidInputError("every catalog entry needs a registry and a name")
        count = await self.store.import_catalog(entries)
        await self.changes.changed(EVERY_LIBRARY)
        return count

    async def delete_library(self, library_id: str) -> None:
        canonical = canonical_library_id(library_id)
        removed = await self.store.delete_library(canonical)
        await self.changes.changed(canonical)
        for build_id in removed:
            self.indexes.cache.drop(build_id)
            if self.vectors.is_external:
                await self.vectors.delete_namespace(build_id)


def _suspects(snippets: Sequence[SnippetRecord]) -> list[str]:
    """Ids of the snippets that read as instructions aimed at AI agents."""
    return [s.snippet_id for s in snippets if snippet_injection(s) is not None]


def _doc_text(snippet: SnippetRecord) -> str:
    """What a snippet says about its library in words: a code snippet's title and lead-in
    (its code is identifiers), a prose snippet's text too."""
    if snippet.kind == "code":
        return f"{snippet.title} {snippet.description}"
    return f"{snippet.title} {snippet.description} {snippet.content}"

"""The gRPC servicers: proto <-> domain, and the one table from domain errors to status codes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any

import grpc
from twinmcp.grpcserver import ErrorTable
from twinmcp.search.answering import Answer
from twinmcp.search.changes import FeedClosed
from twinmcp.search.crosslib import CrossAnswer
from twinmcp.search.domain import SearchDomain
from twinmcp.search.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    SearchError,
    VersionNotIndexedError,
)
from twinmcp.search.library import CatalogEntry, LibraryInfo, LibraryMeta, PackageRef
from twinmcp.search.projects import LockedPackage
from twinmcp.search.snippets import KIND_CODE, NewSnippet, SnippetRecord
from twinmcp.search.v1 import index_pb2, index_pb2_grpc, search_pb2, search_pb2_grpc

# Trailing metadata of a missing library or version (search.proto states the contract); lists
# are comma-separated, which no library id or version name can contain.
LIBRARY_ID_KEY = "library-id"
REQUESTED_VERSION_KEY = "requested-version"
AVAILABLE_VERSIONS_KEY = "available-versions"
SUGGESTIONS_KEY = "suggested-library-ids"
REGISTRY_RELEASES_KEY = "registry-releases"
INGEST_SOURCE_KEY = "ingest-source"


def error_metadata(exc: BaseException) -> list[tuple[str, str]]:
    """The trailing metadata of a refusal, as search.proto states it (the gateway tests' fake
    search answers with it too)."""
    if isinstance(exc, VersionNotIndexedError):
        return [
            (LIBRARY_ID_KEY, exc.library_id),
            (REQUESTED_VERSION_KEY, exc.version),
            (AVAILABLE_VERSIONS_KEY, ",".join(exc.available_versions)),
            (REGISTRY_RELEASES_KEY, ",".join(exc.registry_releases)),
            (INGEST_SOURCE_KEY, exc.ingest_source),
        ]
    if isinstance(exc, NotFoundError) and exc.library_id:
        return [(LIBRARY_ID_KEY, exc.library_id), (SUGGESTIONS_KEY, ",".join(exc.suggestions))]
    return []


ERRORS = ErrorTable(
    {
        InvalidInputError: grpc.StatusCode.INVALID_ARGUMENT,
        NotFoundError: grpc.StatusCode.NOT_FOUND,
        VersionNotIndexedError: grpc.StatusCode.FAILED_PRECONDITION,
        ConflictError: grpc.StatusCode.FAILED_PRECONDITION,
        # Any other search error (the store unreadable mid-call...) says what to do in its text.
        SearchError: grpc.StatusCode.FAILED_PRECONDITION,
    },
    metadata=error_metadata,
)


def _time(value: datetime | None) -> str:
    return value.isoformat().replace("+00:00", "Z") if value else ""


def library_message(info: LibraryInfo, popularity_rank: int = 0) -> search_pb2.Library:
    meta = info.meta
    default = info.default
    return search_pb2.Library(
        library_id=meta.library_id,
        title=meta.title,
        description=meta.description,
        source_type=meta.source_type,  # type: ignore[arg-type]
        source_url=meta.source_url,
        snippet_count=default.snippet_count if default else 0,
        token_count=default.token_count if default else 0,
        trust_score=meta.trust_score,
        stars=meta.stars,
        popularity_rank=popularity_rank or info.popularity_rank,
        versions=[
            search_pb2.LibraryVersion(
                version=v.version,
                snippet_count=v.snippet_count,
                token_count=v.token_count,
                indexed_at=_time(v.indexed_at),
                is_default=v.is_default,
            )
            for v in info.versions
        ],
        default_version=info.default_version,
        package_names=list(meta.package_names),
        rules=list(meta.rules),
        updated_at=_time(info.updated_at),
        packages=[
            search_pb2.PackageRef(registry=p.registry, name=p.name)
            for p in meta.documented_packages
        ],
        aliases=list(meta.aliases),
    )


def snippet_message(snippet: SnippetRecord, score: float) -> search_pb2.Snippet:
    return search_pb2.Snippet(
        snippet_id=snippet.snippet_id,
        kind=search_pb2.SNIPPET_KIND_CODE
        if snippet.kind == KIND_CODE
        else search_pb2.SNIPPET_KIND_INFO,
        title=snippet.title,
        description=snippet.description,
        language=snippet.language,
        content=snippet.content,
        breadcrumb=list(snippet.breadcrumb),
        source_path=snippet.source_path,
        source_url=snippet.source_url,
        anchor=snippet.anchor,
        tokens=snippet.tokens,
        score=score,
    )


def answer_message(answer: Answer) -> search_pb2.QueryDocsResponse:
    return search_pb2.QueryDocsResponse(
        library_id=answer.library_id,
        version=answer.version,
        snippets=[snippet_message(s.snippet, s.score) for s in answer.snippets],
        tokens_used=answer.tokens_used,
        available_versions=answer.available_versions,
        is_cached=answer.is_cached,
        title=answer.title,
        rules=answer.rules,
        withheld_snippets=answer.withheld_snippets,
        text=answer.text,
        locked_version=answer.locked_version,
        project_note=answer.project_note,
    )


def search_message(answer: CrossAnswer) -> search_pb2.SearchDocsResponse:
    return search_pb2.SearchDocsResponse(
        hits=[
            search_pb2.SearchHit(
                snippet=snippet_message(hit.snippet, hit.score),
                library_id=hit.library_id,
                version=hit.version,
            )
            for hit in answer.hits
        ],
        libraries=[
            search_pb2.SearchedLibrary(
                library_id=s.library_id,
                version=s.version,
                title=s.title,
                relevance=s.relevance,
                reason=s.reason,
                available_versions=s.available_versions,
                rules=s.rules,
                locked_version=s.locked_version,
            )
            for s in answer.libraries
        ],
        tokens_used=answer.tokens_used,
        is_cached=answer.is_cached,
        withheld_snippets=answer.withheld_snippets,
        text=answer.text,
    )


def _locked(packages: Iterable[search_pb2.LockedPackage]) -> list[LockedPackage]:
    return [LockedPackage(p.registry, p.name, p.version) for p in packages]


class SearchServicer(search_pb2_grpc.SearchServiceServicer):
    def __init__(self, domain: SearchDomain) -> None:
        self.catalog = domain.catalog
        self.answerer = domain.answerer
        self.crosslib = domain.crosslib
        self.changes = domain.changes

    async def ResolveLibrary(
        self, request: search_pb2.ResolveLibraryRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> search_pb2.ResolveLibraryResponse:
        resolved = await self.catalog.resolve_libraries(
            request.library_name, request.query, request.limit
        )
        locked: dict[str, str] = {}
        if request.project or request.locked_packages:
            documented = [m.candidate.library_id for m, _ in resolved if m.candidate.is_documented]
            locked = await self.catalog.locked_versions(
                documented, request.project, _locked(request.locked_packages)
            )
        out = [
            search_pb2.LibraryMatch(
                library=library_message(
                    info, info.popularity_rank or match.candidate.popularity_rank
                ),
                score=match.score,
                match_reason=match.reason,
                locked_version=locked.get(match.candidate.library_id, ""),
            )
            for match, info in resolved
        ]
        return search_pb2.ResolveLibraryResponse(matches=out)

    async def QueryDocs(
        self, request: search_pb2.QueryDocsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> search_pb2.QueryDocsResponse:
        answer = await self.answerer.query_docs(
            request.library_id,
            request.version,
            request.query,
            request.tokens,
            request.ranker,
            project=request.project,
            locked=_locked(request.locked_packages),
            project_format=request.project_format,
        )
        return answer_message(answer)

    async def RegisterProject(
        self,
        request: search_pb2.RegisterProjectRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> search_pb2.RegisterProjectResponse:
        packages = [LockedPackage(p.registry, p.name, p.version) for p in request.packages]
        registered = await self.catalog.register_project(request.name, packages)
        return search_pb2.RegisterProjectResponse(
            packages=[
                search_pb2.ProjectPackage(
                    package=search_pb2.LockedPackage(
                        registry=p.registry, name=p.name, version=p.version
                    ),
                    library_id=library_id,
                    is_version_indexed=is_indexed,
                )
                for p, library_id, is_indexed in registered
            ]
        )

    async def SearchDocs(
        self, request: search_pb2.SearchDocsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> search_pb2.SearchDocsResponse:
        answer = await self.crosslib.search(
            request.query,
            list(request.libraries),
            request.version,
            request.language,
            request.tokens,
            request.project,
            _locked(request.locked_packages),
            request.project_format,
        )
        return search_message(answer)

    async def GetLibrary(
        self, request: search_pb2.GetLibraryRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> search_pb2.GetLibraryResponse:
        info, rank = await self.catalog.get_library(request.library_id)
        return search_pb2.GetLibraryResponse(library=library_message(info, rank))

    async def ListLibraries(
        self, request: search_pb2.ListLibrariesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> search_pb2.ListLibrariesResponse:
        infos, token = await self.catalog.list_libraries(
            request.page_size, request.page_token, request.include_catalog
        )
        return search_pb2.ListLibrariesResponse(
            libraries=[library_message(i) for i in infos], next_page_token=token
        )

    async def WatchLibraries(
        self, request: search_pb2.WatchLibrariesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[search_pb2.LibraryChange]:
        try:
            async with self.changes.watch() as (is_complete, changes):
                yield search_pb2.LibraryChange(is_sync=True, is_complete=is_complete)
                async for library_id in changes:
                    yield search_pb2.LibraryChange(library_id=library_id)
        except FeedClosed as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))


def _meta(message: index_pb2.LibraryMetadata) -> LibraryMeta:
    return LibraryMeta(
        library_id=message.library_id,
        title=message.title,
        description=message.description,
        source_type=int(message.source_type),
        source_url=message.source_url,
        trust_score=message.trust_score,
        stars=message.stars,
        package_names=tuple(message.package_names),
        rules=tuple(message.rules),
        packages=tuple(PackageRef(p.registry, p.name) for p in message.packages),
        aliases=tuple(message.aliases),
        registry_source=message.registry_source,
        registry_releases=tuple(message.registry_releases),
        about=message.about,
    )


def _new_snippet(item: index_pb2.IndexedSnippet) -> NewSnippet:
    """A snippet ingest sends; its id and token count are the builder's to set."""
    s = item.snippet
    record = SnippetRecord(
        snippet_id="",
        kind="code" if s.kind == search_pb2.SNIPPET_KIND_CODE else "info",
        title=s.title,
        description=s.description,
        language=s.language,
        content=s.content,
        breadcrumb=tuple(s.breadcrumb),
        source_path=s.source_path,
        source_url=s.source_url,
        anchor=s.anchor,
        tokens=0,
    )
    return NewSnippet(record, list(item.embedding))


class IndexServicer(index_pb2_grpc.IndexServiceServicer):
    def __init__(self, domain: SearchDomain) -> None:
        self.builder = domain.builder

    async def BeginBuild(
        self, request: index_pb2.BeginBuildRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> index_pb2.BeginBuildResponse:
        build_id, completed = await self.builder.begin_build(
            _meta(request.library),
            request.version,
            base_version=request.base_version,
            embedding_model=request.embedding.model,
            embedding_dimension=request.embedding.dimension,
            idempotency_key=request.idempotency_key,
            make_default=request.make_default,
        )
        return index_pb2.BeginBuildResponse(build_id=build_id, completed_paths=completed)

    async def PutDocument(
        self, request: index_pb2.PutDocumentRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> index_pb2.PutDocumentResponse:
        count = await self.builder.put_document(
            request.build_id,
            request.path,
            request.content_hash,
            request.title,
            [_new_snippet(s) for s in request.snippets],
        )
        return index_pb2.PutDocumentResponse(snippet_count=count)

    async def CopyDocuments(
        self, request: index_pb2.CopyDocumentsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> index_pb2.CopyDocumentsResponse:
        documents, snippets = await self.builder.copy_documents(
            request.build_id, list(request.paths)
        )
        return index_pb2.CopyDocumentsResponse(document_count=documents, snippet_count=snippets)

    async def ListDocumentHashes(
        self,
        request: index_pb2.ListDocumentHashesRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> index_pb2.ListDocumentHashesResponse:
        version, hashes, model, dimension = await self.builder.document_hashes(
            request.library_id, request.version
        )
        return index_pb2.ListDocumentHashesResponse(
            version=version,
            documents=[index_pb2.DocumentHash(path=p, content_hash=h) for p, h in hashes],
            embedding=index_pb2.EmbeddingSpace(model=model, dimension=dimension),
        )

    async def PublishBuild(
        self, request: index_pb2.PublishBuildRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> index_pb2.PublishBuildResponse:
        library_id, version, count, withheld = await self.builder.publish(request.build_id)
        return index_pb2.PublishBuildResponse(
            library_id=library_id,
            version=version,
            snippet_count=count,
            withheld_snippet_count=withheld,
        )

    async def AbortBuild(
        self, request: index_pb2.AbortBuildRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> index_pb2.AbortBuildResponse:
        await self.builder.abort(request.build_id)
        return index_pb2.AbortBuildResponse()

    async def ImportCatalog(
        self, request: index_pb2.ImportCatalogRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> index_pb2.ImportCatalogResponse:
        count = await self.builder.import_catalog(
            [
                CatalogEntry(
                    e.registry.strip().lower(), e.name.strip(), e.popularity_rank, e.summary
                )
                for e in request.entries
            ]
        )
        return index_pb2.ImportCatalogResponse(imported=count)

    async def DeleteLibrary(
        self, request: index_pb2.DeleteLibraryRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> index_pb2.DeleteLibraryResponse:
        await self.builder.delete_library(request.library_id)
        return index_pb2.DeleteLibraryResponse()

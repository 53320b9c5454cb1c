"""Typed calls to search's IndexService; every call carries a deadline."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from twinmcp.ingest.documents import SnippetDraft
from twinmcp.ingest.pipeline import BuildTarget, PreviousVersion, Published
from twinmcp.search.v1 import index_pb2, index_pb2_grpc, search_pb2

_SOURCE_TYPES = {
    "github": search_pb2.SOURCE_TYPE_GITHUB,
    "git": search_pb2.SOURCE_TYPE_GIT,
    "website": search_pb2.SOURCE_TYPE_WEBSITE,
    "llmstxt": search_pb2.SOURCE_TYPE_LLMSTXT,
    "local": search_pb2.SOURCE_TYPE_LOCAL,
    "archive": search_pb2.SOURCE_TYPE_LOCAL,
}


@dataclass
class IndexClient:
    """Implements pipeline.Index over a channel to the search service."""

    channel: grpc.aio.Channel
    timeout: float = 60.0

    def __post_init__(self) -> None:
        self._stub = index_pb2_grpc.IndexServiceStub(self.channel)

    async def previous_version(self, library_id: str) -> PreviousVersion | None:
        try:
            reply = await self._stub.ListDocumentHashes(
                index_pb2.ListDocumentHashesRequest(library_id=library_id), timeout=self.timeout
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        if not reply.version:
            return None
        return PreviousVersion(
            version=reply.version,
            hashes={doc.path: doc.content_hash for doc in reply.documents},
            embedding_model=reply.embedding.model,
            embedding_dimension=reply.embedding.dimension,
        )

    async def begin_build(
        self, target: BuildTarget, base_version: str, model: str, dimension: int
    ) -> tuple[str, set[str]]:
        reply = await self._stub.BeginBuild(
            index_pb2.BeginBuildRequest(
                library=index_pb2.LibraryMetadata(
                    library_id=target.library_id,
                    title=target.title,
                    description=target.description,
                    source_type=_SOURCE_TYPES.get(
                        target.source_type, search_pb2.SOURCE_TYPE_UNSPECIFIED
                    ),
                    source_url=target.source_url,
                    stars=target.stars,
                    rules=list(target.rules),
                    package_names=list(dict.fromkeys(p.name for p in target.packages)),
                    packages=[
                        search_pb2.PackageRef(registry=p.registry, name=p.name)
                        for p in target.packages
                    ],
                    aliases=list(target.aliases),
                    registry_source=target.registry_source,
                    registry_releases=list(target.registry_releases),
                    about=target.about,
                ),
                version=target.version,
                base_version=base_version,
                embedding=index_pb2.EmbeddingSpace(model=model, dimension=dimension),
                idempotency_key=target.idempotency_key,
                make_default=target.make_default,
            ),
            timeout=self.timeout,
        )
        return reply.build_id, set(reply.completed_paths)

    async def copy_documents(self, build_id: str, paths: Sequence[str]) -> int:
        reply = await self._stub.CopyDocuments(
            index_pb2.CopyDocumentsRequest(build_id=build_id, paths=list(paths)),
            timeout=self.timeout,
        )
        return int(reply.snippet_count)

    async def put_document(
        self,
        build_id: str,
        path: str,
        content_hash: str,
        title: str,
        snippets: Sequence[tuple[SnippetDraft, Sequence[float]]],
    ) -> int:
        indexed = [
            index_pb2.IndexedSnippet(snippet=to_proto(draft, ordinal), embedding=list(vector))
            for ordinal, (draft, vector) in enumerate(snippets)
        ]
        reply = await self._stub.PutDocument(
            index_pb2.PutDocumentRequest(
                build_id=build_id,
                path=path,
                content_hash=content_hash,
                title=title,
                snippets=indexed,
            ),
            timeout=self.timeout,
        )
        return int(reply.snippet_count)

    async def publish(self, build_id: str) -> Published:
        reply = await self._stub.PublishBuild(
            index_pb2.PublishBuildRequest(build_id=build_id), timeout=self.timeout
        )
        return Published(int(reply.snippet_count), int(reply.withheld_snippet_count))

    async def abort(self, build_id: str) -> None:
        await self._stub.AbortBuild(
            index_pb2.AbortBuildRequest(build_id=build_id), timeout=self.timeout
        )


def to_proto(draft: SnippetDraft, ordinal: int) -> search_pb2.Snippet:
    identity = f"{draft.source_path}\n{ordinal}\n{draft.content}".encode()
    return search_pb2.Snippet(
        snippet_id=hashlib.sha256(identity).hexdigest()[:24],
        kind=search_pb2.SNIPPET_KIND_CODE if draft.kind == "code" else search_pb2.SNIPPET_KIND_INFO,
        title=draft.title,
        description=draft.description,
        language=draft.language,
        content=draft.content,
        breadcrumb=list(draft.breadcrumb),
        source_path=draft.source_path,
        source_url=draft.url,
        anchor=draft.anchor,
        tokens=draft.tokens,
    )

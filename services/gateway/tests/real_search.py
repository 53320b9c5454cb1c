"""The real search servicer for gateway tests: started in process on SQLite, fed as ingest would."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import grpc
from twinmcp.search.config import Settings as SearchSettings
from twinmcp.search.server import SearchServer
from twinmcp.search.server import start as start_search
from twinmcp.search.v1 import index_pb2, index_pb2_grpc, search_pb2


async def start_real_search(data_dir: Path) -> SearchServer:
    env = {
        "SEARCH_GRPC_HOST": "127.0.0.1",
        "SEARCH_GRPC_PORT": "0",
        "SEARCH_METRICS_PORT": "-1",
        "TWINMCP_DATA_DIR": str(data_dir),  # SQLite
        "EMBEDDING_PROVIDER": "none",
        "LOG_FORMAT": "text",
    }
    return await start_search(SearchSettings.from_env(env))


async def publish_docs(
    port: int,
    library: index_pb2.LibraryMetadata,
    version: str,
    docs: Sequence[tuple[str, str]],
    *,
    path: str,
    make_default: bool = True,
) -> None:
    """Indexes `docs` ((title, content) pairs) as one page of `version`, as ingest would."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        index = index_pb2_grpc.IndexServiceStub(channel)
        begun = await index.BeginBuild(
            index_pb2.BeginBuildRequest(
                library=library, version=version, make_default=make_default
            ),
            timeout=10,
        )
        snippets = [
            index_pb2.IndexedSnippet(
                snippet=search_pb2.Snippet(
                    kind=search_pb2.SNIPPET_KIND_INFO,
                    title=title,
                    content=content,
                    source_path=path,
                )
            )
            for title, content in docs
        ]
        await index.PutDocument(
            index_pb2.PutDocumentRequest(
                build_id=begun.build_id,
                path=path,
                content_hash=f"{library.library_id}-{version}-{path}",
                snippets=snippets,
            ),
            timeout=10,
        )
        await index.PublishBuild(index_pb2.PublishBuildRequest(build_id=begun.build_id), timeout=30)

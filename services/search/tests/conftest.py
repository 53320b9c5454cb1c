"""Fixtures: the real search server on port 0 over SQLite or a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from support.databases import fresh_postgres_database
from twinmcp.search.config import Settings
from twinmcp.search.server import SearchServer, start
from twinmcp.search.v1 import index_pb2, index_pb2_grpc, search_pb2, search_pb2_grpc

EVAL_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "eval"


def base_env(tmp_path: Path) -> dict[str, str]:
    return {
        "SEARCH_GRPC_PORT": "0",
        "SEARCH_GRPC_HOST": "127.0.0.1",
        "SEARCH_METRICS_PORT": "-1",
        "TWINMCP_DATA_DIR": str(tmp_path),
        "EMBEDDING_PROVIDER": "none",
        "LOG_FORMAT": "text",
    }


@dataclass
class Client:
    server: SearchServer
    channel: grpc.aio.Channel
    search: search_pb2_grpc.SearchServiceStub
    index: index_pb2_grpc.IndexServiceStub


async def open_client(env: dict[str, str]) -> Client:
    server = await start(Settings.from_env(env))
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    return Client(
        server,
        channel,
        search_pb2_grpc.SearchServiceStub(channel),
        index_pb2_grpc.IndexServiceStub(channel),
    )


async def close_client(client: Client) -> None:
    await client.channel.close()
    await client.server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
async def client(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Client]:
    """The server over SQLite and over PostgreSQL."""
    env = base_env(tmp_path)
    if request.param == "postgres":
        async with fresh_postgres_database("twinmcp_search_test") as url:
            env["DATABASE_URL"] = url
            opened = await open_client(env)
            try:
                yield opened
            finally:
                await close_client(opened)
    else:
        opened = await open_client(env)
        try:
            yield opened
        finally:
            await close_client(opened)


@pytest.fixture
async def sqlite_client(tmp_path: Path) -> AsyncIterator[Client]:
    opened = await open_client(base_env(tmp_path))
    try:
        yield opened
    finally:
        await close_client(opened)


def doc_snippets(
    path: str, sections: Sequence[tuple[str, str, str]], dimension: int = 0
) -> list[index_pb2.IndexedSnippet]:
    """(title, kind, content) triples -> IndexedSnippets; optional constant-ish vectors."""
    out = []
    for number, (title, kind, content) in enumerate(sections):
        vector = [float((number + i) % 7) / 7.0 + 0.01 for i in range(dimension)]
        out.append(
            index_pb2.IndexedSnippet(
                snippet=search_pb2.Snippet(
                    kind=search_pb2.SNIPPET_KIND_CODE
                    if kind == "code"
                    else search_pb2.SNIPPET_KIND_INFO,
                    title=title,
                    content=content,
                    breadcrumb=["Guide", title],
                    source_path=path,
                    language="python" if kind == "code" else "",
                ),
                embedding=vector,
            )
        )
    return out


CORS_DOC = [
    (
        "CORS",
        "info",
        "Cross-Origin Resource Sharing lets a frontend in a browser call a backend "
        "on another origin. Configure allowed origins with CORSMiddleware.",
    ),
    (
        "Use CORSMiddleware",
        "code",
        "from fastapi.middleware.cors import CORSMiddleware\n"
        "app.add_middleware(CORSMiddleware, allow_origins=['http://localhost:3000'])",
    ),
]
TASKS_DOC = [
    (
        "Background Tasks",
        "info",
        "Run work after returning a response, such as sending an "
        "email notification, with BackgroundTasks.",
    ),
    (
        "Add a task",
        "code",
        "def send(background_tasks: BackgroundTasks):\n"
        "    background_tasks.add_task(write_notification, email)",
    ),
]


async def publish_library(
    client: Client,
    library_id: str = "/acme/webkit",
    version: str = "1.0",
    documents: dict[str, list[tuple[str, str, str]]] | None = None,
    *,
    make_default: bool = True,
    package_names: Sequence[str] = (),
    key: str = "",
    registry_source: str = "",
    registry_releases: Sequence[str] = (),
    about: str = "",
) -> str:
    documents = (
        documents
        if documents is not None
        else {"docs/cors.md": CORS_DOC, "docs/tasks.md": TASKS_DOC}
    )
    begun = await client.index.BeginBuild(
        index_pb2.BeginBuildRequest(
            library=index_pb2.LibraryMetadata(
                library_id=library_id,
                title=library_id.rsplit("/", 1)[-1],
                description="A web toolkit",
                package_names=list(package_names),
                source_type=search_pb2.SOURCE_TYPE_GITHUB,
                stars=1000,
                trust_score=8,
                registry_source=registry_source,
                registry_releases=list(registry_releases),
                about=about,
            ),
            version=version,
            idempotency_key=key,
            make_default=make_default,
        ),
        timeout=10,
    )
    for path, sections in documents.items():
        await client.index.PutDocument(
            index_pb2.PutDocumentRequest(
                build_id=begun.build_id,
                path=path,
                content_hash=f"hash-{path}-{version}",
                title=path,
                snippets=doc_snippets(path, sections),
            ),
            timeout=10,
        )
    await client.index.PublishBuild(
        index_pb2.PublishBuildRequest(build_id=begun.build_id), timeout=30
    )
    return begun.build_id


class Kit:
    """Helpers handed to tests as a fixture (test modules never import each other)."""

    CORS_DOC = CORS_DOC
    TASKS_DOC = TASKS_DOC
    doc_snippets = staticmethod(doc_snippets)
    publish_library = staticmethod(publish_library)


@pytest.fixture
def kit() -> Kit:
    return Kit()


@pytest.fixture
def make_env() -> Any:
    return base_env


@pytest.fixture(name="open_client")
def open_client_fixture() -> Any:
    return open_client


@pytest.fixture(name="close_client")
def close_client_fixture() -> Any:
    return close_client

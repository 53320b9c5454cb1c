"""The answer cache on real Redis, and vectors in Pinecone through the real SDK (local stand-in)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis.asyncio as redis
from aiohttp import web
from support.databases import REDIS_TEST_URL
from twinmcp.database import create_engine, migrate
from twinmcp.search.cache import MemoryCache
from twinmcp.search.domain import SearchDomain
from twinmcp.search.library import LibraryMeta
from twinmcp.search.server import MIGRATIONS, VERSION_TABLE
from twinmcp.search.snippets import NewSnippet, SnippetRecord
from twinmcp.search.store import Store
from twinmcp.search.v1 import search_pb2
from twinmcp.search.vectors import LocalVectorStore, PineconeVectorStore


def _section(title: str, path: str, text: str, embedding: Sequence[float] = ()) -> NewSnippet:
    """One prose snippet, as ingest sends it: the builder sets its id and tokens."""
    record = SnippetRecord(
        snippet_id="",
        kind="info",
        title=title,
        description="",
        language="",
        content=text,
        breadcrumb=(title,),
        source_path=path,
        source_url="",
        anchor="",
        tokens=0,
    )
    return NewSnippet(record, list(embedding))


async def test_answers_are_cached_in_redis_under_the_configured_prefix(
    tmp_path: Path, kit: Any, make_env: Any, open_client: Any, close_client: Any
) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    env = make_env(tmp_path)
    env.update({"REDIS_URL": REDIS_TEST_URL, "SEARCH_CACHE_PREFIX": prefix})
    client = await open_client(env)
    raw = redis.Redis.from_url(REDIS_TEST_URL)
    try:
        await kit.publish_library(client)
        request = search_pb2.QueryDocsRequest(library_id="/acme/webkit", query="CORS origins")
        first = await client.search.QueryDocs(request, timeout=10)
        second = await client.search.QueryDocs(request, timeout=10)
        assert not first.is_cached and second.is_cached
        assert second.snippets == first.snippets
        keys = [k async for k in raw.scan_iter(match=f"{prefix}*")]
        assert len(keys) == 1
        assert 0 < await raw.ttl(keys[0]) <= 3600
    finally:
        async for key in raw.scan_iter(match=f"{prefix}*"):
            await raw.delete(key)
        await raw.aclose()
        await close_client(client)


class HashEmbedder:
    """A deterministic bag-of-words embedder: texts sharing words get close vectors."""

    model = "test-hash-32"
    dimension = 32

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        out = []
        for text in texts:
            vector = np.zeros(self.dimension, dtype=np.float32)
            for word in text.lower().split():
                vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension] += 1.0
            norm = float(np.linalg.norm(vector)) or 1.0
            out.append((vector / norm).tolist())
        return out


class PineconeStandIn:
    """Pinecone's data-plane REST API, as much as the SDK calls: upsert, query, delete."""

    def __init__(self) -> None:
        self.namespaces: dict[str, dict[str, list[float]]] = {}
        self.queried: list[str] = []
        self.api_keys: set[str] = set()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/vectors/upsert", self.upsert)
        app.router.add_post("/query", self.query)
        app.router.add_post("/vectors/delete", self.delete)
        return app

    async def upsert(self, request: web.Request) -> web.Response:
        self.api_keys.add(request.headers.get("Api-Key", ""))
        body = await request.json()
        space = self.namespaces.setdefault(body.get("namespace", ""), {})
        for vector in body["vectors"]:
            space[vector["id"]] = vector["values"]
        return web.json_response({"upsertedCount": len(body["vectors"])})

    async def query(self, request: web.Request) -> web.Response:
        body = await request.json()
        namespace = body.get("namespace", "")
        self.queried.append(namespace)
        query = np.asarray(body["vector"], dtype=np.float32)
        scored = sorted(
            (
                (key, float(np.dot(query, np.asarray(v, dtype=np.float32))))
                for key, v in self.namespaces.get(namespace, {}).items()
            ),
            key=lambda item: -item[1],
        )[: body["topK"]]
        return web.json_response(
            {
                "matches": [{"id": k, "score": s} for k, s in scored],
                "namespace": namespace,
                "usage": {"readUnits": 1},
            }
        )

    async def delete(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("deleteAll"):
            self.namespaces.pop(body.get("namespace", ""), None)
        return web.json_response({})


@pytest.fixture
async def pinecone() -> AsyncIterator[tuple[PineconeStandIn, str]]:
    stand_in = PineconeStandIn()
    runner = web.AppRunner(stand_in.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield stand_in, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_vectors_go_to_pinecone_per_build_and_queries_use_the_published_namespace(
    tmp_path: Path, pinecone: tuple[PineconeStandIn, str]
) -> None:
    stand_in, host = pinecone
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'search.db'}")
    await migrate(engine, MIGRATIONS, VERSION_TABLE)
    embedder = HashEmbedder()
    vectors = PineconeVectorStore("test-key", host)
    domain = SearchDomain(Store(engine), vectors, MemoryCache(), embedder)
    pages = {
        "docs/cors.md": "allow browser origins with CORSMiddleware",
        "docs/tasks.md": "send email after the response with BackgroundTasks",
    }

    async def publish(version_text: str) -> str:
        build_id, _ = await domain.builder.begin_build(
            LibraryMeta("/acme/webkit"),
            "1.0",
            embedding_model=embedder.model,
            embedding_dimension=embedder.dimension,
            make_default=True,
        )
        for path, text in pages.items():
            content = f"{text} {version_text}"
            (vector,) = await embedder.embed([content])
            await domain.builder.put_document(
                build_id,
                path,
                "h",
                path,
                [_section(path, path, content, vector)],
            )
        await domain.builder.publish(build_id)
        return build_id

    try:
        first = await publish("one")
        assert set(stand_in.namespaces[first]) and "test-key" in stand_in.api_keys
        answer = await domain.answerer.query_docs("/acme/webkit", "", "email after response", 2000)
        assert stand_in.queried == [first]
        assert answer.snippets[0].snippet.source_path == "docs/tasks.md"
        second = await publish("two")
        assert first not in stand_in.namespaces and second in stand_in.namespaces
        await domain.answerer.query_docs("/acme/webkit", "", "browser origins", 2000)
        assert stand_in.queried[-1] == second
    finally:
        await vectors.close()
        await engine.dispose()


class BrokenEmbedder(HashEmbedder):
    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if len(texts) == 1 and texts[0].startswith("query:"):
            raise OSError("embedding service unreachable")
        return await super().embed(texts)


async def test_a_failing_query_embedder_falls_back_to_keyword_ranking(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'search.db'}")
    await migrate(engine, MIGRATIONS, VERSION_TABLE)
    embedder = BrokenEmbedder()
    domain = SearchDomain(Store(engine), LocalVectorStore(), MemoryCache(), embedder)
    try:
        build_id, _ = await domain.builder.begin_build(
            LibraryMeta("/acme/webkit"),
            "1.0",
            embedding_model=embedder.model,
            embedding_dimension=embedder.dimension,
            make_default=True,
        )
        text = "send email after the response with BackgroundTasks"
        (vector,) = await embedder.embed([text])
        await domain.builder.put_document(
            build_id,
            "docs/tasks.md",
            "h",
            "Tasks",
            [_section("Tasks", "docs/tasks.md", text, vector)],
        )
        await domain.builder.publish(build_id)
        answer = await domain.answerer.query_docs(
            "/acme/webkit", "", "query: BackgroundTasks email", 500
        )
        assert answer.snippets[0].snippet.source_path == "docs/tasks.md"
    finally:
        await engine.dispose()


class CountingEmbedder(HashEmbedder):
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        return await super().embed(texts)


async def test_a_question_asked_again_at_another_budget_is_not_embedded_again(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'search.db'}")
    await migrate(engine, MIGRATIONS, VERSION_TABLE)
    embedder = CountingEmbedder()
    domain = SearchDomain(Store(engine), LocalVectorStore(), MemoryCache(), embedder)
    try:
        build_id, _ = await domain.builder.begin_build(
            LibraryMeta("/acme/webkit"),
            "1.0",
            embedding_model=embedder.model,
            embedding_dimension=embedder.dimension,
            make_default=True,
        )
        text = "send email after the response with BackgroundTasks"
        (vector,) = await embedder.embed([text])
        await domain.builder.put_document(
            build_id,
            "docs/tasks.md",
            "h",
            "Tasks",
            [_section("Tasks", "docs/tasks.md", text, vector)],
        )
        await domain.builder.publish(build_id)
        embedder.calls.clear()
        first = await domain.answerer.query_docs(
            "/acme/webkit", "", "email  after the response", 500
        )
        second = await domain.answerer.query_docs(
            "/acme/webkit", "", "email after the response", 900
        )
        other = await domain.answerer.query_docs("/acme/webkit", "", "background tasks", 900)
        assert not second.is_cached and not other.is_cached
        assert first.snippets[0].snippet.source_path == "docs/tasks.md"
        assert embedder.calls == [["email after the response"], ["background tasks"]]
    finally:
        await engine.dispose()


async def test_another_replicas_publish_is_served_within_a_second(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'search.db'}")
    await migrate(engine, MIGRATIONS, VERSION_TABLE)
    now = [100.0]
    writer = SearchDomain(Store(engine), LocalVectorStore(), MemoryCache(), None)
    reader = SearchDomain(
        Store(engine), LocalVectorStore(), MemoryCache(), None, clock=lambda: now[0]
    )

    async def publish(version: str) -> None:
        build_id, _ = await writer.builder.begin_build(
            LibraryMeta("/acme/webkit"), version, make_default=True
        )
        text = f"allow browser origins with CORSMiddleware in release {version}"
        await writer.builder.put_document(
            build_id,
            "docs/cors.md",
            version,
            "CORS",
            [_section("CORS", "docs/cors.md", text)],
        )
        await writer.builder.publish(build_id)

    try:
        await publish("1.0")
        assert (
            await reader.answerer.query_docs("/acme/webkit", "", "browser origins", 2000)
        ).version == "1.0"
        await publish("2.0")
        # The writer sees its own publish at once; the reader within LIBRARY_FRESH_SECONDS.
        assert (
            await writer.answerer.query_docs("/acme/webkit", "", "browser origins", 2000)
        ).version == "2.0"
        assert (
            await reader.answerer.query_docs("/acme/webkit", "", "browser origins", 2000)
        ).version == "1.0"
        now[0] += 1.01
        assert (
            await reader.answerer.query_docs("/acme/webkit", "", "browser origins", 2000)
        ).version == "2.0"
    finally:
        await engine.dispose()

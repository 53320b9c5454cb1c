"""Building and running the search server: database, caches, vector store, gRPC."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from sqlalchemy.exc import DatabaseError
from sqlalchemy.ext.asyncio import AsyncEngine
from twinmcp.database import create_engine, migrate
from twinmcp.grpcserver import (
    RunningServer,
    ServerOptions,
    serve_until_signalled,
    start_server,
)
from twinmcp.search.answering import QueryEmbedder
from twinmcp.search.cache import AnswerCache, MemoryCache, RedisCache
from twinmcp.search.changes import ChangeFeed
from twinmcp.search.config import Settings
from twinmcp.search.domain import SearchDomain
from twinmcp.search.errors import StoreUnreadableError
from twinmcp.search.service import ERRORS, IndexServicer, SearchServicer
from twinmcp.search.store import Store
from twinmcp.search.v1 import index_pb2, index_pb2_grpc, search_pb2, search_pb2_grpc
from twinmcp.search.vectors import LocalVectorStore, PineconeVectorStore, VectorStore

logger = logging.getLogger(__name__)

# A probe that has not answered in this long counts as a failure (a hung database).
PROBE_TIMEOUT_SECONDS = 10.0
MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version_search"
SERVICE_NAMES = (
    search_pb2.DESCRIPTOR.services_by_name["SearchService"].full_name,
    index_pb2.DESCRIPTOR.services_by_name["IndexService"].full_name,
)


@dataclass
class SearchServer:
    """A started search service: `port` is the bound gRPC port.

    Health follows the database: a probe reads it at start and every `probe_seconds`, and
    health is NOT_SERVING (with an error logged) while it cannot be read.
    """

    running: RunningServer
    domain: SearchDomain
    engine: AsyncEngine
    probe_seconds: float = 15.0
    is_store_readable: bool = True
    _prober: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def port(self) -> int:
        return self.running.port

    async def check_store(self, *, thorough: bool = False) -> bool:
        """Probes the database once and sets health from the outcome; True when readable."""
        try:
            await asyncio.wait_for(
                self.domain.store.check_readable(thorough=thorough), PROBE_TIMEOUT_SECONDS
            )
        except (StoreUnreadableError, TimeoutError) as exc:
            reason = str(exc) or f"no answer within {PROBE_TIMEOUT_SECONDS:.0f} s"
            if self.is_store_readable:
                logger.error(
                    "search database cannot be read (%s); health is NOT_SERVING until it can. "
                    "Restore the database from a backup, or move it away and re-ingest",
                    reason,
                )
                self.is_store_readable = False
                await self.running.set_serving(False)
            return False
        if not self.is_store_readable:
            logger.info("search database readable again; health is SERVING")
            self.is_store_readable = True
            await self.running.set_serving(True)
        return True

    def watch_store(self) -> None:
        """Starts the periodic probe."""

        async def probe_forever() -> None:
            while True:
                await asyncio.sleep(self.probe_seconds)
                await self.check_store()

        self._prober = asyncio.create_task(probe_forever(), name="search-store-probe")

    async def stop(self) -> None:
        if self._prober is not None:
            self._prober.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._prober
        # Watches end first, so gateways re-sync with another replica while this one drains.
        await self.domain.changes.close()
        await self.running.stop()
        await self.domain.cache.close()
        await self.domain.vectors.close()
        await self.engine.dispose()


def _embedder(settings: Settings) -> QueryEmbedder | None:
    try:
        from twinmcp.embedding import create_embedder  # noqa: PLC0415  optional: read side only
    except ImportError:
        logger.info("twinmcp.embedding is not installed: keyword ranking only")
        return None
    embedder: QueryEmbedder | None = create_embedder(settings.env)
    return embedder


def build_domain(settings: Settings, engine: AsyncEngine) -> SearchDomain:
    cache: AnswerCache = (
        RedisCache(settings.redis_url, settings.redis_cache_ttl, settings.redis_key_prefix)
        if settings.redis_url
        else MemoryCache(max_bytes=settings.answer_cache_mb << 20)
    )
    vectors: VectorStore = LocalVectorStore()
    if settings.pinecone_api_key is not None:
        vectors = PineconeVectorStore(
            settings.pinecone_api_key.get(),
            settings.pinecone_host,
            settings.pinecone_index_name,
            settings.pinecone_controller_host,
        )
    changes = ChangeFeed(
        redis_url=settings.redis_url,
        channel=f"{settings.redis_key_prefix}library-changes",
        # Without Redis only a lone process sees every change: the embedded SQLite default.
        is_sole_replica=engine.url.get_backend_name() == "sqlite",
    )
    return SearchDomain(
        Store(engine),
        vectors,
        cache,
        _embedder(settings),
        index_cache_bytes=settings.index_cache_mb * 1024 * 1024,
        changes=changes,
    )


async def start(settings: Settings) -> SearchServer:
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
    try:
        await migrate(engine, MIGRATIONS, VERSION_TABLE)
    except DatabaseError as exc:
        await engine.dispose()
        where = engine.url.render_as_string(hide_password=True)
        raise StoreUnreadableError(
            f"the search database {where} cannot be read ({exc.orig}); restore it from a "
            "backup, or move it away to start empty and ingest again"
        ) from exc
    domain = build_domain(settings, engine)
    await domain.changes.start()

    def register(server: grpc.aio.Server) -> None:
        search_pb2_grpc.add_SearchServiceServicer_to_server(SearchServicer(domain), server)
        index_pb2_grpc.add_IndexServiceServicer_to_server(IndexServicer(domain), server)

    running = await start_server(
        "search",
        register,
        SERVICE_NAMES,
        ServerOptions(
            host=settings.host,
            port=settings.grpc_port,
            metrics_port=settings.metrics_port,
            drain_seconds=settings.drain_seconds,
            grace_seconds=settings.grace_seconds,
        ),
        errors=ERRORS,
    )
    server = SearchServer(running, domain, engine, settings.health_probe_seconds)
    # Thorough once, before anyone relies on it: migrations read only their own table.
    await server.check_store(thorough=True)
    server.watch_store()
    return server


async def serve(settings: Settings) -> None:
    server = await start(settings)
    try:
        await serve_until_signalled(server.running)
    finally:
        await server.stop()

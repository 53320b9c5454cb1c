"""Building the long-lived pieces (database, job store, search channel, stores, embedder)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc
from sqlalchemy.ext.asyncio import AsyncEngine
from twinmcp.database import create_engine, migrate
from twinmcp.embedding import Embedder, EmbeddingError, create_embedder
from twinmcp.ingest.config import Settings
from twinmcp.ingest.enrichment import ChatEnricher
from twinmcp.ingest.index_client import IndexClient
from twinmcp.ingest.jobs import JobStore
from twinmcp.ingest.pipeline import DefaultDocuments, Documents
from twinmcp.ingest.rawstore import LocalRawStore, RawStore, S3RawStore
from twinmcp.ingest.runner import Collaborators
from twinmcp.runtime.channels import open_channel
from twinmcp.runtime.settings import SettingsError

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version_ingest"


@dataclass
class Wiring:
    engine: AsyncEngine
    store: JobStore
    channel: grpc.aio.Channel
    parts: Collaborators

    async def close(self) -> None:
        await self.channel.close()
        await self.engine.dispose()


async def open_store(settings: Settings) -> tuple[AsyncEngine, JobStore]:
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
    await migrate(engine, MIGRATIONS, VERSION_TABLE)
    store = JobStore(
        engine,
        lease_seconds=settings.lease_seconds,
        max_attempts=settings.max_attempts,
        max_queued=settings.limits.max_queued_jobs,
        max_queued_per_library=settings.limits.max_queued_jobs_per_library,
    )
    return engine, store


async def open_raw_store(settings: Settings) -> RawStore:
    if settings.s3_bucket:
        return await S3RawStore.open(
            settings.s3_bucket,
            region=settings.aws_region,
            endpoint_url=settings.aws_endpoint_url,
            access_key_id=settings.aws_access_key_id,
            secret_access_key=(
                settings.aws_secret_access_key.get() if settings.aws_secret_access_key else None
            ),
        )
    return LocalRawStore(settings.data_dir / "raw")


async def open_wiring(
    settings: Settings,
    *,
    documents: Documents | None = None,
    embedder: Embedder | bool | None = True,
) -> Wiring:
    """`embedder=True` means: from the settings (EMBEDDING_PROVIDER)."""
    engine, store = await open_store(settings)
    channel = open_channel(settings.search_addr)
    if embedder is True:
        try:
            chosen = create_embedder(settings.embedding_env)
        except EmbeddingError as exc:
            raise SettingsError(str(exc)) from exc
    else:
        chosen = embedder or None
    enricher = None
    if settings.openai_api_key is not None and settings.enrich_model != "off":
        enricher = ChatEnricher(
            settings.openai_api_key.get(),
            model=settings.enrich_model,
            base_url=settings.openai_base_url,
        )
    parts = Collaborators(
        index=IndexClient(channel, timeout=settings.index_timeout),
        documents=documents or DefaultDocuments(),
        raw_store=await open_raw_store(settings),
        embedder=chosen,
        enricher=enricher,
    )
    return Wiring(engine, store, channel, parts)

"""The ingest gRPC server, with its in-process workers (INGEST_WORKERS)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import grpc
from twinmcp.embedding import Embedder
from twinmcp.grpcserver import (
    RunningServer,
    ServerOptions,
    serve_until_signalled,
    start_server,
)
from twinmcp.ingest.config import Settings
from twinmcp.ingest.follows import make_follower
from twinmcp.ingest.pipeline import Documents
from twinmcp.ingest.runner import Worker
from twinmcp.ingest.service import ERRORS, IngestServicer
from twinmcp.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from twinmcp.ingest.wiring import Wiring, open_wiring

logger = logging.getLogger(__name__)

SERVICE_NAME = ingest_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name


@dataclass
class IngestServer:
    running: RunningServer
    wiring: Wiring
    workers: list[Worker]
    stop_workers: asyncio.Event
    worker_tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.running.port

    async def stop(self) -> None:
        self.stop_workers.set()
        for task in self.worker_tasks:
            task.cancel()
        for task in self.worker_tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.running.stop()
        await self.wiring.close()


async def start(
    settings: Settings,
    *,
    documents: Documents | None = None,
    embedder: Embedder | bool | None = True,
) -> IngestServer:
    wiring = await open_wiring(settings, documents=documents, embedder=embedder)
    servicer = IngestServicer(wiring.store, settings)

    def register(server: grpc.aio.Server) -> None:
        ingest_pb2_grpc.add_IngestServiceServicer_to_server(servicer, server)

    running = await start_server(
        "ingest",
        register,
        [SERVICE_NAME],
        ServerOptions(
            port=settings.grpc_port,
            host=settings.host,
            metrics_port=settings.metrics_port,
            drain_seconds=settings.drain_seconds,
            grace_seconds=settings.grace_seconds,
        ),
        errors=ERRORS,
    )
    stop = asyncio.Event()
    workers = [Worker(wiring.store, settings, wiring.parts) for _ in range(settings.workers)]
    handle = IngestServer(running, wiring, workers, stop)
    handle.worker_tasks = [asyncio.create_task(w.run_forever(stop)) for w in workers]
    if settings.follow_interval_seconds > 0:
        follower = make_follower(wiring.store, settings)
        handle.worker_tasks.append(asyncio.create_task(follower.run_forever(stop)))
    logger.info("ingest running %d in-process workers", len(workers))
    return handle


async def serve(settings: Settings) -> None:
    handle = await start(settings)
    try:
        await serve_until_signalled(handle.running)
    finally:
        await handle.stop()

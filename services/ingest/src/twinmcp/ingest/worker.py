"""`python -m twinmcp.ingest.worker`: a standalone job worker, scaled apart from the server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from twinmcp.ingest.config import Settings
from twinmcp.ingest.follows import make_follower
from twinmcp.ingest.runner import Worker
from twinmcp.ingest.wiring import open_wiring
from twinmcp.runtime.logs import configure_logging
from twinmcp.runtime.settings import environ
from twinmcp.runtime.telemetry import configure_telemetry

logger = logging.getLogger(__name__)


async def run_worker(settings: Settings) -> None:
    """Runs max(1, INGEST_WORKERS) workers until SIGTERM; a running job is left to its lease."""
    wiring = await open_wiring(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    workers = [
        Worker(wiring.store, settings, wiring.parts) for _ in range(max(1, settings.workers))
    ]
    logger.info("ingest worker started: %s", ", ".join(w.worker_id for w in workers))
    tasks = [asyncio.create_task(w.run_forever(stop)) for w in workers]
    if settings.follow_interval_seconds > 0:
        tasks.append(asyncio.create_task(make_follower(wiring.store, settings).run_forever(stop)))
    await stop.wait()
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await wiring.close()


def main() -> None:
    env = environ()
    settings = Settings.from_env(env)
    configure_logging("ingest-worker", env)
    configure_telemetry("ingest-worker", env)
    asyncio.run(run_worker(settings))


if __name__ == "__main__":
    main()

"""Running the gateway's HTTP server: `start` for tests, `serve` for the process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass

from aiohttp import web
from twinmcp.gateway.app import create_app
from twinmcp.gateway.config import Settings
from twinmcp.gateway.state import GATEWAY

logger = logging.getLogger(__name__)


@dataclass
class RunningGateway:
    runner: web.AppRunner
    port: int
    settings: Settings

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        """Fails readiness for the drain period, then closes the listener; in-flight requests
        get the grace period to finish."""
        self.runner.app[GATEWAY].is_draining = True
        if self.settings.drain_seconds > 0:
            logger.info("gateway draining for %.1fs", self.settings.drain_seconds)
            await asyncio.sleep(self.settings.drain_seconds)
        await self.runner.cleanup()


async def start(settings: Settings) -> RunningGateway:
    """Starts the app on settings.host:settings.port (0 picks a free port)."""
    # handler_cancellation: a client that hangs up cancels its handler, down to the gRPC call.
    runner = web.AppRunner(
        create_app(settings),
        handler_cancellation=True,
        access_log=None,
        shutdown_timeout=settings.grace_seconds,
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    sockets = [s for s in runner.addresses if isinstance(s, tuple)]
    port = int(sockets[0][1]) if sockets else settings.port
    logger.info("gateway listening on %s:%d", settings.host, port)
    return RunningGateway(runner, port, settings)


async def serve(settings: Settings) -> None:
    running = await start(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    logger.info("gateway stopping")
    await running.stop()

"""Running the gateway's HTTP server: `start` for tests, `serve` for the process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMethod, HttpProcessingError
from twinmcp.gateway.access import CREDENTIAL_HEADERS
from twinmcp.gateway.app import create_app
from twinmcp.gateway.config import Settings
from twinmcp.gateway.state import GATEWAY

logger = logging.getLogger(__name__)

_KEY_HEADERS = tuple(f"{name.lower()}:" for name in ("Authorization", *CREDENTIAL_HEADERS))
_OVER_CAPACITY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Retry-After: 1\r\nConnection: close\r\nContent-Length: 87\r\n\r\n"
    b'{"error": "unavailable", "message": "too many open connections; retry in a second"}\n'
)


class _Connection(web.RequestHandler):
    """aiohttp's connection handler, but a request its parser refuses (a control character in
    a header, an over-long line) is answered and logged without echoing the offending bytes:
    they may be an API key, and aiohttp would put them in the error log, Sentry and the body."""

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if not isinstance(exc, HttpProcessingError) or status != 400:
            return super().handle_error(request, status, exc, message)
        raw = exc.message.lower()
        # The first words name the problem ("Invalid header value char"); quotes follow with
        # the bytes themselves.
        problem = exc.message.split("\n", 1)[0].split("'", 1)[0].split(":", 1)[0].strip()
        level = logging.DEBUG if isinstance(exc, BadHttpMethod) else logging.INFO
        logger.log(level, "refused a malformed HTTP request from %s: %s", request.remote, problem)
        if any(name in raw for name in _KEY_HEADERS):
            status, code = 401, "unauthenticated"
            text = (
                "The API key header holds characters no key has (control characters). Send the "
                "key exactly as it was issued, as 'Authorization: Bearer <key>'."
            )
        else:
            code, text = "bad_request", f"Malformed HTTP request ({problem or 'unreadable'})."
        response = web.Response(
            status=status,
            text=json.dumps({"error": code, "message": text}),
            content_type="application/json",
        )
        response.force_close()
        return response


class _Refused(asyncio.Protocol):
    """Answers 503 and hangs up: the connection would exceed HTTP_MAX_CONNECTIONS."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if isinstance(transport, asyncio.WriteTransport):
            transport.write(_OVER_CAPACITY)
        transport.close()


class _Server(web.Server):
    """The HTTP server with `_Connection` handlers and a cap on open connections."""

    def __init__(
        self,
        built: web.Server,
        *,
        max_connections: int,
        handler_args: dict[str, Any],
    ) -> None:
        super().__init__(
            built.request_handler,
            request_factory=built.request_factory,
            handler_cancellation=built.handler_cancellation,
        )
        self.max_connections = max_connections
        self.handler_args = handler_args

    # The event loop only needs a protocol from this factory; a refused connection gets a
    # plain one, which aiohttp's annotation (RequestHandler) does not foresee.
    def __call__(self) -> asyncio.BaseProtocol:  # type: ignore[override]
        if len(self.connections) >= self.max_connections:
            return _Refused()
        return _Connection(self, loop=asyncio.get_running_loop(), **self.handler_args)


class _Runner(web.AppRunner):
    """AppRunner whose server is a `_Server`; `_make_server` is BaseRunner's hook for that."""

    def __init__(
        self,
        app: web.Application,
        *,
        max_connections: int,
        handler_args: dict[str, Any],
        **kwargs: Any,
    ) -> None:
        super().__init__(app, **kwargs)
        self.max_connections = max_connections
        self.handler_args = handler_args

    async def _make_server(self) -> web.Server:
        # The app's own server carries its handler and request factory (middlewares, router,
        # startup done); the `_Server` reuses them as they are.
        built = await super()._make_server()
        return _Server(built, max_connections=self.max_connections, handler_args=self.handler_args)


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
    # keepalive_timeout bounds both an idle connection and the time a client has to send a
    # request head (aiohttp closes a connection still waiting for one when it fires), so a
    # slow client cannot hold a socket; bodies are bounded by HTTP_BODY_SECONDS where read.
    runner = _Runner(
        create_app(settings),
        max_connections=settings.http_max_connections,
        handler_args={
            "access_log": None,
            "keepalive_timeout": settings.http_keepalive_seconds,
            "lingering_time": min(settings.http_body_seconds, 10.0),
        },
        handler_cancellation=True,
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

"""Building, running and draining a grpc.aio server with health, reflection and metrics: the
server side of the gRPC services (auth, search, ingest), which the gateway, a client only, does
not install."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import socket
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from twinmcp.grpcserver.metrics import count_call, start_metrics_server
from twinmcp.runtime.telemetry import server_span

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024 * 1024


# Statuses that say the server, not the request, is at fault: a mapped error answered with one of
# them is logged (its type only: a driver's message can carry a connection string).
_SERVER_SIDE = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL, grpc.StatusCode.DEADLINE_EXCEEDED}
)


def _message(exc: BaseException) -> str:
    return str(exc)


@dataclass(frozen=True)
class ErrorTable:
    """A service's one table from domain errors to gRPC status codes.

    An error is looked up by its class, then its base classes in order, so a base class maps
    every subclass the table does not name. The message is the caller's details (by default the
    error's own text, which says what was wrong and what to do); `metadata` adds trailing
    metadata (a missing library's suggestions...). Anything the table does not map is a bug:
    logged and answered INTERNAL without its message.
    """

    status_of: Mapping[type[BaseException], grpc.StatusCode]
    metadata: Callable[[BaseException], Sequence[tuple[str, str]]] | None = None
    message: Callable[[BaseException], str] = _message

    def status(self, exc: BaseException) -> grpc.StatusCode | None:
        for kind in type(exc).__mro__:
            code = self.status_of.get(kind)
            if code is not None:
                return code
        return None


NO_ERRORS = ErrorTable({})


class ObservedCalls(grpc.aio.ServerInterceptor):
    """Continues the caller's trace and counts every unary call with its duration and status;
    the one place a domain error becomes its status (the service's `ErrorTable`) and an
    unexpected exception is logged and answered INTERNAL (no traceback leaks).

    Each method's handler is wrapped once and reused (building a handler per call cost as much
    as a cached answer); the per-call trace context comes from the call's own metadata.
    Streaming calls (the health service's Watch) pass through untouched.
    """

    def __init__(self, service: str, errors: ErrorTable = NO_ERRORS) -> None:
        self.service = service
        self.errors = errors
        self._wrapped: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        path = handler_call_details.method
        wrapped = self._wrapped.get(path)
        if wrapped is not None:
            return wrapped
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        wrapped = grpc.unary_unary_rpc_method_handler(
            self._observed(path, handler.unary_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
        self._wrapped[path] = wrapped
        return wrapped

    def _observed(
        self, path: str, inner: Callable[[Any, Any], Awaitable[Any]]
    ) -> Callable[[Any, Any], Awaitable[Any]]:
        service, method, errors = self.service, path.rsplit("/", 1)[-1], self.errors

        async def observed(request: Any, context: Any) -> Any:
            started = time.perf_counter()
            code = "OK"
            try:
                with server_span(path, context.invocation_metadata() or ()):
                    try:
                        response = await inner(request, context)
                    except grpc.aio.AbortError:
                        raise
                    except Exception as exc:  # noqa: BLE001 (mapped or logged in _answer_error)
                        await _answer_error(errors, path, method, exc, context)
                status = context.code()
                if status is not None and status != grpc.StatusCode.OK:
                    code = status.name
                return response
            except BaseException:
                status = context.code()
                code = status.name if status is not None else "UNKNOWN"
                raise
            finally:
                count_call(service, method, code, time.perf_counter() - started)

        return observed


async def _answer_error(
    errors: ErrorTable, path: str, method: str, exc: Exception, context: Any
) -> None:
    """Aborts the call with the error's mapped status, or INTERNAL when it is not mapped."""
    status = errors.status(exc)
    if status is None:
        logger.exception("%s failed", path)
        await context.abort(
            grpc.StatusCode.INTERNAL,
            f"{method} failed unexpectedly; the error is logged on the server",
        )
        return
    if status in _SERVER_SIDE:
        logger.warning("%s answered %s: %s", path, status.name, type(exc).__name__)
    if errors.metadata is not None:
        metadata = tuple(errors.metadata(exc))
        if metadata:
            context.set_trailing_metadata(metadata)
    await context.abort(status, errors.message(exc))


@dataclass(frozen=True)
class ServerOptions:
    host: str = "0.0.0.0"
    port: int = 0
    metrics_port: int = -1  # -1: no metrics endpoint; 0: any free port
    drain_seconds: float = 0.0  # NOT_SERVING is announced this long before stopping
    grace_seconds: float = 10.0  # in-flight calls get this long to finish
    # Connections are closed (GOAWAY) after this long, so DNS round-robin clients re-resolve and
    # spread calls onto replicas started since they connected (Kubernetes headless Services).
    max_connection_age_seconds: float = 60.0
    # A taken port is retried this long before giving up: a replacement started while the old
    # process drains (drain + grace) gets the port when it is released. None: drain + grace + 5 s.
    bind_wait_seconds: float | None = None
    # Named in the error when a port stays taken; empty: `<NAME>_GRPC_PORT`, `<NAME>_METRICS_PORT`.
    port_variable: str = ""
    metrics_port_variable: str = ""

    @property
    def bind_deadline_seconds(self) -> float:
        if self.bind_wait_seconds is not None:
            return self.bind_wait_seconds
        return self.drain_seconds + self.grace_seconds + 5.0


class CannotListen(SystemExit):
    """A listen address could not be bound.

    A SystemExit, so `python -m twinmcp.<svc>` ends with this one line on stderr and status 1,
    not a traceback: the operator's fix is a setting, not the code.
    """


class PortInUse(CannotListen):
    """The listen port stayed taken for the whole bind wait."""

    def __init__(self, name: str, host: str, port: int, variable: str, waited: float) -> None:
        super().__init__(
            f"{name}: port {port} on {host} is still in use after {waited:.0f}s; stop whatever "
            f"listens there or set {variable} to a free port"
        )
        self.port = port
        self.variable = variable


@dataclass
class RunningServer:
    """A started server. `port` is the bound port (the real one when 0 was asked for)."""

    name: str
    server: grpc.aio.Server
    health: health.aio.HealthServicer
    service_names: Sequence[str]
    port: int
    metrics_port: int
    options: ServerOptions
    _stopped: asyncio.Event = field(default_factory=asyncio.Event)

    async def set_serving(self, is_serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if is_serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", *self.service_names):
            await self.health.set(name, status)

    async def stop(self) -> None:
        """Announces NOT_SERVING, waits the drain period, then stops with the grace period."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        logger.info("draining %s for %.1fs", self.name, self.options.drain_seconds)
        await self.set_serving(False)
        if self.options.drain_seconds > 0:
            await asyncio.sleep(self.options.drain_seconds)
        await self.server.stop(self.options.grace_seconds)
        logger.info("%s stopped", self.name)

    async def wait_for_termination(self) -> None:
        await self.server.wait_for_termination()


async def start_server(
    name: str,
    register: Callable[[grpc.aio.Server], None],
    service_names: Sequence[str],
    options: ServerOptions,
    *,
    interceptors: Sequence[Any] = (),
    errors: ErrorTable = NO_ERRORS,
) -> RunningServer:
    """Creates, registers and starts a server; health says SERVING once it listens. `errors`
    is the service's table from domain errors to status codes."""
    server = grpc.aio.server(
        # Last in the chain, so what it memoises per method is only the handler lookup.
        interceptors=[*interceptors, ObservedCalls(name, errors)],
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
            ("grpc.max_connection_age_ms", int(options.max_connection_age_seconds * 1000)),
            ("grpc.max_connection_age_grace_ms", int(options.grace_seconds * 1000)),
        ],
    )
    register(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [
            *service_names,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ],
        server,
    )
    port = await _bind(server, name, options)
    metrics_port = await _start_metrics(name, options)
    await server.start()
    running = RunningServer(
        name, server, health_servicer, service_names, port, metrics_port, options
    )
    await running.set_serving(True)
    logger.info("%s listening on port %d (metrics %d)", name, port, metrics_port)
    return running


BIND_RETRY_SECONDS = 0.25
METRICS_HOST = "0.0.0.0"


async def _bind(server: grpc.aio.Server, name: str, options: ServerOptions) -> int:
    """Binds the listen port, waiting while it is taken (the process this one replaces may
    still be draining); raises PortInUse when it stays taken."""
    loop = asyncio.get_running_loop()
    waited_from = loop.time()
    deadline = waited_from + options.bind_deadline_seconds
    address = f"{options.host}:{options.port}"
    has_warned = False
    while True:
        # Probing with a plain socket first keeps grpc's own bind-failure log lines (one per
        # try) out of the service's log while we wait.
        if options.port == 0 or _is_free(options.host, options.port):
            try:
                port = server.add_insecure_port(address)
            except RuntimeError as exc:  # grpc's "Failed to bind to address"
                if options.port == 0 or _is_free(options.host, options.port):
                    # Not a taken port (taken and freed again would be a rare race): say so.
                    variable = options.port_variable or f"{name.upper()}_GRPC_PORT"
                    raise CannotListen(
                        f"{name}: cannot listen on {address} ({exc}); check {variable} and that "
                        "this machine has that address"
                    ) from None
            else:
                if port:
                    return port
        if loop.time() >= deadline:
            variable = options.port_variable or f"{name.upper()}_GRPC_PORT"
            raise PortInUse(name, options.host, options.port, variable, loop.time() - waited_from)
        if not has_warned:
            logger.warning(
                "%s: port %d is taken; retrying for up to %.0fs",
                name,
                options.port,
                deadline - loop.time(),
            )
            has_warned = True
        await asyncio.sleep(BIND_RETRY_SECONDS)


async def _start_metrics(name: str, options: ServerOptions) -> int:
    """Starts the metrics endpoint (on every interface), waiting like `_bind` while its port is
    taken; 0 when there is none."""
    port = options.metrics_port
    if port < 0:
        return 0
    loop = asyncio.get_running_loop()
    waited_from = loop.time()
    deadline = waited_from + options.bind_deadline_seconds
    while True:
        if port == 0 or _is_free(METRICS_HOST, port):
            try:
                return start_metrics_server(port, METRICS_HOST)
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
        if loop.time() >= deadline:
            variable = options.metrics_port_variable or f"{name.upper()}_METRICS_PORT"
            raise PortInUse(name, METRICS_HOST, port, variable, loop.time() - waited_from)
        await asyncio.sleep(BIND_RETRY_SECONDS)


def _is_free(host: str, port: int) -> bool:
    """Whether a listening socket could bind host:port now (as grpc does: SO_REUSEADDR, so
    connections of a stopped process in TIME_WAIT do not count)."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            # Anything else (an address this host lacks...) is for grpc's bind to report.
        return True


async def serve_until_signalled(running: RunningServer) -> None:
    """Runs until SIGTERM or SIGINT, then drains and stops."""
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop_requested.set)
    waiter = asyncio.create_task(running.wait_for_termination())
    signalled = asyncio.create_task(stop_requested.wait())
    await asyncio.wait({waiter, signalled}, return_when=asyncio.FIRST_COMPLETED)
    if signalled.done():
        await running.stop()
    signalled.cancel()
    await waiter

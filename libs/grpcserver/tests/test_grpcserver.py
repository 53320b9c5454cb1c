"""The gRPC bootstrap: health, reflection, drain on stop, metrics."""

import asyncio
import socket
import subprocess
import sys

import aiohttp
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from twinmcp.grpcserver import (
    CannotListen,
    ErrorTable,
    PortInUse,
    RunningServer,
    ServerOptions,
    start_server,
)
from twinmcp.grpcserver.metrics import GRPC_REQUESTS
from twinmcp.runtime.ports import free_port, wait_for_serving


async def test_a_started_server_reports_serving_then_not_serving_while_draining() -> None:
    running = await start_server(
        "demo",
        lambda _server: None,
        ["demo.v1.DemoService"],
        ServerOptions(host="127.0.0.1", port=0, drain_seconds=0.5, grace_seconds=1),
    )
    target = f"127.0.0.1:{running.port}"
    await wait_for_serving(target, timeout=5, service="demo.v1.DemoService")
    stopping = asyncio.create_task(running.stop())
    async with grpc.aio.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for _ in range(50):
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
            if reply.status == health_pb2.HealthCheckResponse.NOT_SERVING:
                break
            await asyncio.sleep(0.02)
        assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
    await asyncio.wait_for(stopping, timeout=5)


async def test_the_metrics_endpoint_serves_prometheus_text() -> None:
    running = await start_server(
        "demo", lambda _server: None, [], ServerOptions(host="127.0.0.1", port=0, metrics_port=0)
    )
    try:
        assert running.metrics_port > 0
        url = f"http://127.0.0.1:{running.metrics_port}/metrics"
        async with aiohttp.ClientSession() as session, session.get(url) as reply:
            body = await reply.text()
        assert reply.status == 200
        assert "python_info" in body or "process_" in body
    finally:
        await running.stop()


async def test_every_unary_call_is_counted_with_its_method_and_status() -> None:
    running = await start_server(
        "counted", lambda _server: None, [], ServerOptions(host="127.0.0.1", port=0)
    )
    before = GRPC_REQUESTS.labels("counted", "Check", "OK")._value.get()
    missing = GRPC_REQUESTS.labels("counted", "Check", "NOT_FOUND")._value.get()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            for _ in range(3):
                await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
            try:
                await stub.Check(health_pb2.HealthCheckRequest(service="no.such"), timeout=5)
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.NOT_FOUND
    finally:
        await running.stop()
    assert GRPC_REQUESTS.labels("counted", "Check", "OK")._value.get() == before + 3
    assert GRPC_REQUESTS.labels("counted", "Check", "NOT_FOUND")._value.get() == missing + 1


async def test_an_unexpected_error_is_answered_internal_without_its_traceback() -> None:
    async def broken(_request: bytes, _context: object) -> bytes:
        raise RuntimeError("secret internals")

    handler = grpc.method_handlers_generic_handler(
        "demo.v1.Broken", {"Fail": grpc.unary_unary_rpc_method_handler(broken)}
    )
    running = await start_server(
        "broken",
        lambda server: server.add_generic_rpc_handlers((handler,)),
        [],
        ServerOptions(host="127.0.0.1", port=0),
    )
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            call = channel.unary_unary("/demo.v1.Broken/Fail")
            try:
                await call(b"", timeout=5)
                raise AssertionError("the call should have failed")
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.INTERNAL
                assert "Fail failed unexpectedly" in (exc.details() or "")
                assert "secret internals" not in (exc.details() or "")
    finally:
        await running.stop()


class _DomainError(Exception):
    """A demo service's base error."""


class _Missing(_DomainError):
    def __init__(self, message: str, suggestions: list[str]) -> None:
        super().__init__(message)
        self.suggestions = suggestions


class _Exhausted(_DomainError):
    """Named by no row of the table: its base class answers for it."""


def _suggestions(exc: BaseException) -> list[tuple[str, str]]:
    return [("suggested-ids", ",".join(exc.suggestions))] if isinstance(exc, _Missing) else []


_DEMO_ERRORS = ErrorTable(
    {_Missing: grpc.StatusCode.NOT_FOUND, _DomainError: grpc.StatusCode.FAILED_PRECONDITION},
    metadata=_suggestions,
)


async def _raising(error: Exception) -> RunningServer:
    async def fail(_request: bytes, _context: object) -> bytes:
        raise error

    handler = grpc.method_handlers_generic_handler(
        "demo.v1.Raising", {"Fail": grpc.unary_unary_rpc_method_handler(fail)}
    )
    return await start_server(
        "raising",
        lambda server: server.add_generic_rpc_handlers((handler,)),
        [],
        ServerOptions(host="127.0.0.1", port=0),
        errors=_DEMO_ERRORS,
    )


async def _failure(error: Exception) -> grpc.aio.AioRpcError:
    running = await _raising(error)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await channel.unary_unary("/demo.v1.Raising/Fail")(b"", timeout=5)
    finally:
        await running.stop()
    return failed.value


async def test_a_mapped_domain_error_is_answered_with_its_status_message_and_metadata() -> None:
    before = GRPC_REQUESTS.labels("raising", "Fail", "NOT_FOUND")._value.get()
    failure = await _failure(_Missing("no library 'x'; try one of 'a', 'b'", ["/o/a", "/o/b"]))
    assert failure.code() == grpc.StatusCode.NOT_FOUND
    assert failure.details() == "no library 'x'; try one of 'a', 'b'"
    assert ("suggested-ids", "/o/a,/o/b") in tuple(failure.trailing_metadata() or ())
    assert GRPC_REQUESTS.labels("raising", "Fail", "NOT_FOUND")._value.get() == before + 1


async def test_a_domain_error_the_table_does_not_name_is_answered_as_its_base_class() -> None:
    failure = await _failure(_Exhausted("the build was aborted; begin a new one"))
    assert failure.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert failure.details() == "the build was aborted; begin a new one"
    assert not any(key == "suggested-ids" for key, _ in failure.trailing_metadata() or ())


async def test_an_unmapped_error_is_internal_and_its_message_stays_on_the_server(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failure = await _failure(KeyError("secret internals"))
    assert failure.code() == grpc.StatusCode.INTERNAL
    assert failure.details() == "Fail failed unexpectedly; the error is logged on the server"
    assert "secret internals" in caplog.text


async def test_a_taken_port_is_bound_once_the_process_holding_it_lets_go() -> None:
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    starting = asyncio.create_task(
        start_server(
            "demo",
            lambda _server: None,
            [],
            ServerOptions(host="127.0.0.1", port=port, bind_wait_seconds=10),
        )
    )
    await asyncio.sleep(0.6)
    assert not starting.done()  # still waiting for the port, not dead on "address in use"
    holder.close()
    running = await asyncio.wait_for(starting, timeout=10)
    try:
        assert running.port == port
        await wait_for_serving(f"127.0.0.1:{port}", timeout=5)
    finally:
        await running.stop()


async def test_a_port_that_stays_taken_stops_start_up_naming_the_port_and_its_variable() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(PortInUse) as raised:
            await start_server(
                "demo",
                lambda _server: None,
                [],
                ServerOptions(host="127.0.0.1", port=port, bind_wait_seconds=0.5),
            )
    message = str(raised.value)
    assert f"port {port}" in message
    assert "DEMO_GRPC_PORT" in message


def test_a_service_process_on_a_taken_port_exits_with_one_line_and_no_traceback() -> None:
    program = (
        "import asyncio, logging\n"
        "from twinmcp.grpcserver import ServerOptions, start_server\n"
        "logging.basicConfig()\n"
        "asyncio.run(start_server('search', lambda _s: None, [], ServerOptions(\n"
        "    host='0.0.0.0', port=int(__import__('sys').argv[1]), bind_wait_seconds=1)))\n"
    )
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        port = holder.getsockname()[1]
        finished = subprocess.run(
            [sys.executable, "-c", program, str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert finished.returncode == 1
    assert "Traceback" not in finished.stderr
    last = finished.stderr.strip().splitlines()[-1]
    assert f"port {port}" in last
    assert "SEARCH_GRPC_PORT" in last


async def test_a_metrics_port_that_stays_taken_stops_start_up_naming_its_variable() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        with pytest.raises(PortInUse) as raised:
            await start_server(
                "demo",
                lambda _server: None,
                [],
                ServerOptions(host="127.0.0.1", port=0, metrics_port=taken, bind_wait_seconds=0.5),
            )
    assert f"port {taken}" in str(raised.value)
    assert "DEMO_METRICS_PORT" in str(raised.value)


async def test_an_address_this_machine_lacks_stops_start_up_at_once_saying_so() -> None:
    started = asyncio.get_running_loop().time()
    with pytest.raises(CannotListen) as raised:
        await start_server(
            "demo",
            lambda _server: None,
            [],
            ServerOptions(host="192.0.2.1", port=free_port(), bind_wait_seconds=30),
        )
    assert not isinstance(raised.value, PortInUse)
    assert "cannot listen on 192.0.2.1" in str(raised.value)
    assert "DEMO_GRPC_PORT" in str(raised.value)
    assert asyncio.get_running_loop().time() - started < 10  # not the whole bind wait

"""Host and Origin are checked on REST as on /mcp: Host must be host[:port] naming this server
(loopback, API_BASE_URL's host or ALLOWED_HOSTS), a sent Origin must be allowed; probes are
exempt because orchestrators reach a replica by its own address."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from twinmcp.gateway.config import Settings
from twinmcp.gateway.hosts import HostPolicy, HostPort, parse_host
from twinmcp.runtime.settings import SettingsError

Stack = Any


async def _raw(port: int, request: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    answer = await asyncio.wait_for(reader.read(), 20)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def _get(path: str, host: str, extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n".encode()


@pytest.mark.parametrize(
    "host",
    ["localhost:3200@evil.example", "127.0.0.1/evil", "127.0.0.1:", "127.0.0.1:99999", "a b"],
)
async def test_a_host_that_is_not_host_and_port_is_refused_on_rest_and_mcp(
    stack: Stack, host: str
) -> None:
    status, body = await _raw(stack.gateway.port, _get("/api/v1/search?query=fastapi", host))
    assert status == 400 and b"host[:port]" in body
    payload = b'{"jsonrpc":"2.0","id":7,"method":"tools/list"}'
    status, body = await _raw(
        stack.gateway.port,
        f"POST /mcp HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
        + payload,
    )
    assert status == 400 and b'"id":7' in body and b"host[:port]" in body


async def test_rest_refuses_a_host_it_does_not_serve(stack: Stack) -> None:
    status, body = await _raw(
        stack.gateway.port, _get("/api/v2/libs/search?libraryName=fastapi", "evil.example.com")
    )
    assert status == 421 and b"ALLOWED_HOSTS" in body


async def test_rest_refuses_a_foreign_origin(stack: Stack) -> None:
    async with stack.http.get(
        f"{stack.url}/api/v1/search?query=fastapi", headers={"Origin": "https://evil.example.com"}
    ) as response:
        body = await response.json()
    assert response.status == 403 and "ALLOWED_ORIGINS" in body["message"]


async def test_loopback_hosts_and_origins_are_served(stack: Stack) -> None:
    for host in ("localhost", f"127.0.0.1:{stack.gateway.port}", "[::1]:3000", "localhost."):
        status, _ = await _raw(
            stack.gateway.port,
            _get("/api/v1/search?query=fastapi", host, "Origin: http://localhost:6274\r\n"),
        )
        assert status == 200, host


@pytest.mark.parametrize("gateway_overrides", [{"api_base_url": "https://docs.example.com"}])
async def test_the_host_and_origin_of_api_base_url_are_served(stack: Stack) -> None:
    extra = "Origin: https://docs.example.com\r\n"
    status, _ = await _raw(
        stack.gateway.port, _get("/api/v1/search?query=fastapi", "docs.example.com", extra)
    )
    assert status == 200
    status, _, _ = await stack.mcp(
        stack.request("tools/list"),
        {"Host": "docs.example.com:443", "Origin": "https://docs.example.com"},
    )
    assert status == 200
    status, _ = await _raw(
        stack.gateway.port, _get("/api/v1/search?query=fastapi", "other.example.com")
    )
    assert status == 421


@pytest.mark.parametrize("path", ["/health", "/ready", "/metrics"])
async def test_probes_answer_whatever_host_the_orchestrator_sends(stack: Stack, path: str) -> None:
    status, _ = await _raw(stack.gateway.port, _get(path, "10.1.2.3:3000"))
    assert status == 200


def test_host_parsing_accepts_host_and_port_only() -> None:
    assert parse_host("Docs.Example.com:8443") == HostPort("docs.example.com", 8443)
    assert parse_host("[::1]:3000") == HostPort("[::1]", 3000)
    assert parse_host("example.com.") == HostPort("example.com", None)
    for bad in ("", "a@b", "a:b", "a/b", "a b", "[::1", "a:0", "-a", "a,b", "a\\b", "a?b"):
        assert parse_host(bad) is None, bad


def test_an_allowed_host_with_a_port_matches_only_that_port() -> None:
    policy = HostPolicy(allowed_hosts=("api.example.com:8443", "docs.example.com"))
    assert policy.is_allowed_host(HostPort("api.example.com", 8443))
    assert not policy.is_allowed_host(HostPort("api.example.com", 443))
    assert policy.is_allowed_host(HostPort("docs.example.com", 1234))
    assert not policy.is_allowed_host(HostPort("evil.example.com", None))


@pytest.mark.parametrize(
    ("name", "value"),
    [("ALLOWED_HOSTS", "docs.example.com/path"), ("ALLOWED_ORIGINS", "docs.example.com")],
)
def test_a_malformed_allow_list_entry_stops_start_up(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})

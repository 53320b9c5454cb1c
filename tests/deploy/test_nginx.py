"""The NGINX edge: both configs pass `nginx -t`, and a running NGINX proxies as documented."""

from __future__ import annotations

import http.client
import http.server
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from support.edge import load_render_local
from support.system_tools import nginx as nginx_binary
from twinmcp.runtime.ports import free_port

WAIT_SECONDS = 10.0


@pytest.fixture(scope="module")
def nginx() -> str:
    return nginx_binary()


@pytest.fixture(scope="module")
def render_local() -> ModuleType:
    """deploy/nginx/render_local.py, the renderer the rollout test uses too."""
    return load_render_local()


def nginx_test(nginx: str, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [nginx, "-t", "-p", str(config.parent), "-e", "stderr", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_compose_nginx_conf_passes_nginx_t(nginx: str, repo: Path, tmp_path: Path) -> None:
    for name in ("nginx.conf", "locations.conf"):
        shutil.copy(repo / "deploy/nginx" / name, tmp_path / name)
    config = tmp_path / "nginx.conf"
    # `nginx -t` resolves upstream names; "gateway" exists only on the compose network, so the
    # checked copy points that one name at loopback and keeps everything else as it is.
    text = config.read_text()
    assert text.count("server gateway:3000 ") == 1
    config.write_text(text.replace("server gateway:3000 ", "server 127.0.0.1:3000 "))
    done = nginx_test(nginx, config)
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr
    # The same check rejects a mistake in the shared locations.
    locations = tmp_path / "locations.conf"
    locations.write_text(
        locations.read_text().replace("proxy_buffering off;", "proxy_buffering of;")
    )
    assert nginx_test(nginx, config).returncode != 0


def test_local_template_renders_to_a_config_that_passes_nginx_t(
    nginx: str, render_local: ModuleType, tmp_path: Path
) -> None:
    config = render_local.write(["127.0.0.1:3001", "127.0.0.1:3002"], free_port(), tmp_path)
    text = config.read_text()
    assert "{{" not in text
    assert text.count("max_fails=1") == 2
    done = nginx_test(nginx, config)
    assert done.returncode == 0, done.stderr
    with pytest.raises(ValueError, match="host:port"):
        render_local.render(["localhost"], 8080, tmp_path)


# --- a running NGINX in front of hand-written upstreams -----------------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Upstream:
    """An HTTP server on loopback answering every request with `status`, recording them."""

    status: int
    name: str
    seen: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    server: http.server.ThreadingHTTPServer | None = None

    @property
    def address(self) -> str:
        assert self.server is not None
        return f"127.0.0.1:{self.server.server_address[1]}"


def handler_for(upstream: Upstream) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            upstream.seen.append(Seen(self.command, self.path, dict(self.headers.items())))
            if self.path == "/mcp/stream":
                self.stream()
                return
            body = upstream.name.encode()
            self.send_response(upstream.status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def stream(self) -> None:
            # The second event is held back until the client has read the first one through
            # NGINX: a buffering proxy would hold the first one too, and the client time out.
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            self.wfile.write(b"data: one\n\n")
            self.wfile.flush()
            upstream.release.wait(WAIT_SECONDS)
            self.wfile.write(b"data: two\n\n")
            self.wfile.flush()

        do_GET = answer
        do_POST = answer

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Handler


@pytest.fixture
def upstreams() -> Iterator[Callable[..., list[Upstream]]]:
    started: list[tuple[http.server.ThreadingHTTPServer, threading.Thread]] = []

    def start(*statuses: int) -> list[Upstream]:
        made = []
        for index, status in enumerate(statuses):
            upstream = Upstream(status, f"upstream-{index}")
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_for(upstream))
            server.daemon_threads = True
            upstream.server = server
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            started.append((server, thread))
            made.append(upstream)
        return made

    yield start
    for server, thread in started:
        server.shutdown()
        server.server_close()
        thread.join(timeout=WAIT_SECONDS)


@pytest.fixture
def proxy(
    nginx: str, render_local: ModuleType, tmp_path: Path
) -> Iterator[Callable[[list[Upstream]], int]]:
    """Starts NGINX from the local template in front of the given upstreams; returns its port."""
    running: list[subprocess.Popen[bytes]] = []

    def start(targets: list[Upstream]) -> int:
        port = free_port()
        prefix = tmp_path / f"nginx-{len(running)}"
        config = render_local.write([t.address for t in targets], port, prefix)
        process = subprocess.Popen(
            [nginx, "-p", str(prefix), "-e", "stderr", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        running.append(process)
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return port
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    error = process.stderr.read().decode() if process.stderr else ""
                    pytest.fail(f"nginx did not start listening on {port}: {error}")
                time.sleep(0.05)

    yield start
    for process in running:
        process.terminate()
        try:
            process.wait(timeout=WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=WAIT_SECONDS)


def request(
    port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT_SECONDS)
    try:
        connection.request(method, path, body=body or None, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_a_read_only_mcp_post_is_replayed_on_another_gateway_when_the_first_is_unavailable(
    upstreams: Callable[..., list[Upstream]], proxy: Callable[[list[Upstream]], int]
) -> None:
    draining, healthy = upstreams(503, 200)
    port = proxy([draining, healthy])
    results = [request(port, "POST", "/mcp", b'{"jsonrpc":"2.0"}') for _ in range(2)]
    assert results == [(200, b"upstream-1")] * 2
    assert [s.method for s in draining.seen] == ["POST"], "the first POST went to the draining one"
    assert len(healthy.seen) == 2


def test_a_state_changing_rest_post_is_never_replayed(
    upstreams: Callable[..., list[Upstream]], proxy: Callable[[list[Upstream]], int]
) -> None:
    draining, healthy = upstreams(503, 200)
    port = proxy([draining, healthy])
    status, _ = request(port, "POST", "/api/keys", b"{}")
    assert len(draining.seen) == 1, "the first POST went to the draining gateway"
    assert status == 503
    assert healthy.seen == []


def test_retries_stop_after_one_other_gateway(
    upstreams: Callable[..., list[Upstream]], proxy: Callable[[list[Upstream]], int]
) -> None:
    gateways = upstreams(503, 503, 503)
    port = proxy(gateways)
    status, _ = request(port, "GET", "/api/v1/search?libraryName=fastapi")
    assert status == 503
    assert sum(len(g.seen) for g in gateways) == 2


def test_get_requests_skip_an_unavailable_gateway_and_carry_the_client_address(
    upstreams: Callable[..., list[Upstream]], proxy: Callable[[list[Upstream]], int]
) -> None:
    draining, healthy = upstreams(502, 200)
    port = proxy([draining, healthy])
    for _ in range(3):
        assert (
            request(port, "GET", "/api/v1/search", headers={"X-Forwarded-For": "203.0.113.9"})[0]
            == 200
        )
    seen = healthy.seen[-1].headers
    assert seen["X-Forwarded-For"] == "203.0.113.9, 127.0.0.1"
    assert seen["X-Real-IP"] == "127.0.0.1"
    assert seen["X-Request-Id"]
    assert len(draining.seen) == 1, "a failed gateway is skipped for fail_timeout"


def test_mcp_event_streams_reach_the_client_before_the_response_ends(
    upstreams: Callable[..., list[Upstream]], proxy: Callable[[list[Upstream]], int]
) -> None:
    [streaming] = upstreams(200)
    port = proxy([streaming])
    connection = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        connection.sendall(
            b"GET /mcp/stream HTTP/1.1\r\nHost: twinmcp\r\nConnection: close\r\n\r\n"
        )
        received = b""
        while b"data: one" not in received:
            chunk = connection.recv(4096)
            assert chunk, f"stream closed before the first event: {received!r}"
            received += chunk
        assert b"data: two" not in received
        streaming.release.set()
        while chunk := connection.recv(4096):
            received += chunk
        assert b"data: two" in received
    finally:
        streaming.release.set()
        connection.close()


def test_bodies_over_the_limit_are_refused_at_the_edge(
    upstreams: Callable[..., list[Upstream]], proxy: Callable[[list[Upstream]], int]
) -> None:
    [gateway] = upstreams(200)
    port = proxy([gateway])
    status, _ = request(port, "POST", "/mcp", b"x" * (2 * 1024 * 1024))
    assert status == 413
    assert gateway.seen == []

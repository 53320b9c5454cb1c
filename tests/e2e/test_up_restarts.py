"""`twinmcp up` keeps its stack alive: a killed child comes back, one that keeps dying stops it."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from twinmcp.cli.stack import RestartPolicy, ServiceGaveUp, ServiceSpec, Stack, wait_for_http
from twinmcp.runtime.ports import free_port

pytestmark = pytest.mark.e2e

# Answers /health with 200 for a moment, then exits with status 3: a child that keeps dying.
FLAKY_CHILD = textwrap.dedent(
    """
    import http.server, os, sys, threading, time

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    with open(os.environ["STARTS_FILE"], "a") as starts:
        starts.write("started\\n")
    server = http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    time.sleep(0.5)
    sys.exit(3)
    """
)


def _children(parent: int) -> dict[str, int]:
    """The service module each child process of `parent` runs, mapped to its pid."""
    found: dict[str, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError):
            continue  # the process ended while we looked
        if int(fields[1]) == parent and b"-m" in cmdline:
            found[cmdline[cmdline.index(b"-m") + 1].decode()] = int(stat.parent.name)
    return found


async def _status(url: str) -> int:
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as reply,
        ):
            return reply.status
    except (aiohttp.ClientError, TimeoutError):
        return 0


async def _wait_until(condition: Callable[[], object], what: str, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"{what} within {timeout}s"
        await asyncio.sleep(0.2)


async def test_a_killed_child_of_twinmcp_up_is_restarted_and_queries_answer_again(
    make_env: Callable[..., dict[str, str]],
) -> None:
    env = make_env()
    gateway = f"http://127.0.0.1:{env['PORT']}"
    search_url = f"{gateway}/api/v2/libs/search?libraryName=fastapi&query=cors"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "twinmcp.cli",
        "up",
        "--no-seed",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output: list[bytes] = []

    async def drain() -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            output.append(line)

    reader = asyncio.create_task(drain())

    def printed() -> str:
        return b"".join(output).decode(errors="replace")

    try:
        await wait_for_http(f"{gateway}/health", timeout=120)
        await _wait_until(lambda: "TwinMCP is up" in printed(), "up printed its help", 60)
        await _wait_until(
            lambda: re.search(r"\(shown once\):\s+(\S+)", printed()) is not None,
            "up printed the dashboard and a first admin key",
            10,
        )
        assert f"Dashboard: {gateway}/dashboard" in printed()
        first_key = re.search(r"\(shown once\):\s+(\S+)", printed())
        assert first_key is not None
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"{gateway}/api/v1/admin/jobs", headers={"Authorization": f"Bearer {first_key[1]}"}
            ) as reply,
        ):
            assert reply.status == 200  # an admin key, ready for the dashboard
        assert await _status(search_url) == 200
        children = _children(process.pid)
        killed = children["twinmcp.search"]
        os.kill(killed, signal.SIGKILL)
        await _wait_until(
            lambda: "search exited with code -9 (SIGKILL)" in printed(),
            "up logged the dead child",
            30,
        )
        deadline = asyncio.get_running_loop().time() + 90
        while await _status(search_url) != 200:
            assert asyncio.get_running_loop().time() < deadline, printed()[-3000:]
            await asyncio.sleep(0.3)
        restarted = _children(process.pid)
        assert restarted["twinmcp.search"] != killed
        assert process.returncode is None  # the stack kept running throughout
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), timeout=60)
        await asyncio.wait_for(reader, timeout=10)
    assert code == 0, printed()[-3000:]
    assert "Stopped." in printed()
    assert _children(process.pid) == {}  # SIGTERM stopped every child, the restarted one too


async def test_a_child_that_keeps_dying_is_restarted_then_given_up_on_naming_it_and_its_code(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "flaky_child.py").write_text(FLAKY_CHILD)
    starts = tmp_path / "starts"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path]),
        "PORT": str(free_port()),
        "STARTS_FILE": str(starts),
    }
    spec = ServiceSpec("flaky", "flaky_child")
    stack = Stack(env)
    policy = RestartPolicy(
        first_delay_seconds=0.05,
        max_delay_seconds=0.2,
        stable_seconds=30,
        max_quick_failures=3,
        health_timeout_seconds=20,
    )
    try:
        await stack.start([spec], timeout=20)
        with pytest.raises(ServiceGaveUp) as gave_up:
            await asyncio.wait_for(stack.supervise([spec], policy), timeout=60)
    finally:
        await stack.stop()
    assert "flaky exited 3 times in a row" in str(gave_up.value)
    assert "code 3" in str(gave_up.value)
    assert starts.read_text().count("started") == 3  # the first start and two restarts
    restarts = [r.getMessage() for r in caplog.records if "restarting it" in r.getMessage()]
    assert len(restarts) == 2
    assert all(m.startswith("flaky exited with code 3") for m in restarts)

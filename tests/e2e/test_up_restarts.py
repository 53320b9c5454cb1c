"""`twinmcp up` keeps its stack alive: a killed child is restarted and queries answer again."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from twinmcp.cli.stack import wait_for_http

pytestmark = pytest.mark.e2e


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

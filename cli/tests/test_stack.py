"""Supervision of `twinmcp up`'s children: restarts with capped backoff, then giving up."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from pathlib import Path

import pytest
from twinmcp.cli.stack import RestartPolicy, ServiceGaveUp, ServiceSpec, Stack
from twinmcp.runtime.testing import free_port

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


def test_the_restart_delay_doubles_after_each_quick_failure_up_to_its_cap() -> None:
    policy = RestartPolicy(first_delay_seconds=0.5, max_delay_seconds=30)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert policy.delay(20) == 30


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

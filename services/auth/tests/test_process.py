"""`python -m twinmcp.auth` as a real process: serves health, answers, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import grpc
import pytest
from twinmcp.auth.v1 import auth_pb2, auth_pb2_grpc
from twinmcp.runtime.ports import free_port, wait_for_serving


@pytest.mark.e2e
async def test_the_service_runs_as_a_process_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "AUTH_GRPC_PORT": str(port),
        "AUTH_METRICS_PORT": "-1",
        "TWINMCP_DATA_DIR": str(tmp_path),
        "LOG_FORMAT": "text",
    }
    env.pop("REDIS_URL", None)
    env.pop("DATABASE_URL", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "twinmcp.auth",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await wait_for_serving(f"127.0.0.1:{port}", timeout=30)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            reply = await auth_pb2_grpc.AuthServiceStub(channel).Authenticate(
                auth_pb2.AuthenticateRequest(client_address="198.51.100.7"), timeout=5
            )
        assert reply.principal.rate_limit_subject == "ip:198.51.100.7"
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=20) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.stderr is not None
    logged = (await process.stderr.read()).decode()
    assert "auth listening on port" in logged
    assert "Traceback" not in logged

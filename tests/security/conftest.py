"""The hostile-input suite's stack: real processes, one per test module, logs kept and checked."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
import pytest_asyncio
from support.hostile import Hostile, logs_of, stack_environment, traceback_report
from twinmcp.auth.v1 import auth_pb2_grpc
from twinmcp.cli.stack import SERVICES, Stack
from twinmcp.runtime.channels import open_channel


@pytest.fixture(scope="module")
def stack_extra_env() -> dict[str, str]:
    """Variables a module's stack needs beyond the defaults; modules override this fixture."""
    return {}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hostile(
    tmp_path_factory: pytest.TempPathFactory, stack_extra_env: dict[str, str]
) -> AsyncIterator[Hostile]:
    data_dir = tmp_path_factory.mktemp("stack")
    env = stack_environment(data_dir, **stack_extra_env)
    stack = Stack(env, log_dir=data_dir)
    served: dict[str, int] = {}
    try:
        await stack.start(SERVICES, timeout=90)
        async with open_channel(env["AUTH_ADDR"]) as channel, aiohttp.ClientSession() as http:
            probe = Hostile(stack, env, http, auth_pb2_grpc.AuthServiceStub(channel))
            await probe.make_admin()
            yield probe
        served = {name: len(text) for name, text in logs_of(stack).items()}
    finally:
        await stack.stop()
    # Each test checked its own part of the logs; this is the part written while draining.
    drained = {name: text[served.get(name, 0) :] for name, text in logs_of(stack).items()}
    tracebacks = {name: text for name, text in drained.items() if "Traceback" in text}
    assert not tracebacks, traceback_report(tracebacks)


@pytest_asyncio.fixture(autouse=True, loop_scope="module")
async def no_job_left_running(hostile: Hostile) -> AsyncIterator[None]:
    yield
    await hostile.cancel_accepted_jobs()


@pytest.fixture(autouse=True)
def no_traceback_in_service_logs(
    hostile: Hostile, request: pytest.FixtureRequest
) -> Iterator[None]:
    """Whatever a test sends, no service logs a traceback while handling it.

    An xfail test checks this itself, inside the test (`hostile.assert_no_tracebacks()`), so
    a traceback its pending fix will remove counts as the expected failure, not an error.
    """
    hostile.mark_logs()
    yield
    if request.node.get_closest_marker("xfail") is None:
        hostile.assert_no_tracebacks()

"""Running the whole stack as local processes: start, wait for health, stop cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import aiohttp
from twinmcp.runtime.ports import free_port, wait_for_serving

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    grpc_port_var: str = ""  # empty for the gateway, which is checked over HTTP
    env: Mapping[str, str] = field(default_factory=dict)  # this process's own overrides


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("auth", "twinmcp.auth", "AUTH_GRPC_PORT"),
    ServiceSpec("search", "twinmcp.search", "SEARCH_GRPC_PORT"),
    ServiceSpec("ingest", "twinmcp.ingest", "INGEST_GRPC_PORT"),
    ServiceSpec("gateway", "twinmcp.gateway"),
)


@dataclass(frozen=True)
class RestartPolicy:
    """How `twinmcp up` restarts a child that exits on its own."""

    first_delay_seconds: float = 0.5  # doubled after each quick failure in a row...
    max_delay_seconds: float = 30.0  # ...up to this
    # A child that ran at least this long before exiting counts as healthy: its next failure
    # starts the backoff again from the first delay.
    stable_seconds: float = 60.0
    max_quick_failures: int = 5  # in a row: the last is not restarted, the stack stops
    health_timeout_seconds: float = 60.0

    def delay(self, failures_in_a_row: int) -> float:
        return min(
            self.first_delay_seconds * 2.0 ** (failures_in_a_row - 1), self.max_delay_seconds
        )


class ServiceGaveUp(RuntimeError):
    """A child failed too many times in a row to keep restarting it."""


def describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"code {code} ({signal.Signals(-code).name})"
    return f"code {code}"


@dataclass
class Stack:
    """The child processes of one `twinmcp up`."""

    env: Mapping[str, str]
    processes: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    started_at: dict[str, float] = field(default_factory=dict)
    starts: dict[str, int] = field(default_factory=dict)  # how often each child was started
    # When set, each child's stdout and stderr go to <log_dir>/<name>.log (appended across
    # restarts) instead of this process's own.
    log_dir: Path | None = None

    async def start(self, specs: Sequence[ServiceSpec] = SERVICES, timeout: float = 60) -> None:
        for spec in specs:
            await self.spawn(spec)
        for spec in specs:
            await self.wait_healthy(spec, timeout)

    def env_for(self, spec: ServiceSpec) -> dict[str, str]:
        return {**self.env, **spec.env}

    async def spawn(self, spec: ServiceSpec) -> None:
        with contextlib.ExitStack() as files:
            log: IO[bytes] | None = None
            if self.log_dir is not None:
                log = files.enter_context(open(self.log_path(spec.name), "ab"))  # noqa: ASYNC230
            self.processes[spec.name] = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                spec.module,
                env=self.env_for(spec),
                stdout=log,
                stderr=asyncio.subprocess.STDOUT if log is not None else None,
                start_new_session=True,  # Ctrl-C reaches us only; we stop children in order
            )
        self.started_at[spec.name] = asyncio.get_running_loop().time()
        self.starts[spec.name] = self.starts.get(spec.name, 0) + 1

    def log_path(self, name: str) -> Path:
        if self.log_dir is None:
            raise ValueError("this stack's children log to the terminal, not to files")
        return self.log_dir / f"{name}.log"

    async def restart(self, spec: ServiceSpec, timeout: float = 60) -> None:
        """Starts a service again after it exited (or was killed) and waits for its health."""
        await self.spawn(spec)
        await self.wait_healthy(spec, timeout)

    async def wait_healthy(self, spec: ServiceSpec, timeout: float) -> None:
        process = self.processes[spec.name]
        waiter: asyncio.Future[None]
        env = self.env_for(spec)
        if spec.grpc_port_var:
            port = env[spec.grpc_port_var]
            waiter = asyncio.ensure_future(wait_for_serving(f"127.0.0.1:{port}", timeout))
        else:
            url = f"http://127.0.0.1:{env.get('PORT', '3000')}/health"
            waiter = asyncio.ensure_future(wait_for_http(url, timeout))
        exited = asyncio.ensure_future(process.wait())
        done, _ = await asyncio.wait({waiter, exited}, return_when=asyncio.FIRST_COMPLETED)
        if exited in done:
            waiter.cancel()
            raise RuntimeError(
                f"{spec.name} exited with code {process.returncode} during start-up; "
                f"{self._where_it_says_why(spec.name)}"
            )
        exited.cancel()
        waiter.result()

    def _where_it_says_why(self, name: str) -> str:
        if self.log_dir is None:
            return "its log above says why"
        lines = self.log_path(name).read_text(errors="replace").strip().splitlines()
        return f"the end of {self.log_path(name)} says why: {lines[-1] if lines else '(empty)'}"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.env.get('PORT', '3000')}"

    @property
    def dashboard_url(self) -> str:
        return f"{self.gateway_url}/dashboard"

    async def supervise(
        self, specs: Sequence[ServiceSpec] = SERVICES, policy: RestartPolicy | None = None
    ) -> None:
        """Restarts children that exit, with backoff; returns only by raising ServiceGaveUp
        (cancel it to stop supervising, then `stop()`)."""
        policy = policy or RestartPolicy()
        watchers = [asyncio.ensure_future(self._keep_running(spec, policy)) for spec in specs]
        try:
            done, _ = await asyncio.wait(watchers, return_when=asyncio.FIRST_EXCEPTION)
            for watcher in done:
                watcher.result()
        finally:
            for watcher in watchers:
                watcher.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)

    async def _keep_running(self, spec: ServiceSpec, policy: RestartPolicy) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            code = await self.processes[spec.name].wait()
            lived = loop.time() - self.started_at[spec.name]
            failures = failures + 1 if lived < policy.stable_seconds else 1
            if failures >= policy.max_quick_failures:
                raise ServiceGaveUp(
                    f"{spec.name} exited {failures} times in a row, each within "
                    f"{policy.stable_seconds:.0f}s of starting (last: {describe_exit(code)}); "
                    "no more restarts: its log above says why"
                )
            delay = policy.delay(failures)
            logger.warning(
                "%s exited with %s after %.1fs; restarting it in %.1fs (failure %d of %d in a row)",
                spec.name,
                describe_exit(code),
                lived,
                delay,
                failures,
                policy.max_quick_failures,
            )
            await asyncio.sleep(delay)
            await self.spawn(spec)
            try:
                await self.wait_healthy(spec, policy.health_timeout_seconds)
            except RuntimeError:
                continue  # it exited during start-up: the next wait returns at once
            except TimeoutError:
                logger.warning(
                    "%s was not healthy within %.0fs of its restart; killing it",
                    spec.name,
                    policy.health_timeout_seconds,
                )
                with contextlib.suppress(ProcessLookupError):
                    self.processes[spec.name].kill()
                continue
            logger.warning("%s is back", spec.name)

    async def stop(self, timeout: float = 15) -> None:
        """SIGTERM in reverse start order (gateway first), then SIGKILL what is left."""
        for name in reversed(list(self.processes)):
            process = self.processes[name]
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), timeout)
                except TimeoutError:
                    logger.warning("%s did not stop within %ss; killing it", name, timeout)
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
                    await process.wait()


async def wait_for_http(url: str, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=1)) as reply:
                    if reply.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{url} did not answer 200 within {timeout}s")
            await asyncio.sleep(0.1)


# The checkout `twinmcp up` runs from (cli/src/twinmcp/cli/stack.py -> the repository).
PROJECT_ROOT = Path(__file__).resolve().parents[4]


def local_environment(base: Mapping[str, str]) -> dict[str, str]:
    """The environment for a one-machine stack: embedded defaults, services on localhost."""
    env = dict(base)
    defaults = {
        "AUTH_GRPC_PORT": "50051",
        "SEARCH_GRPC_PORT": "50052",
        "INGEST_GRPC_PORT": "50053",
        "PORT": "3000",
        "INGEST_WORKERS": "1",
        "LOG_FORMAT": "text",
        "TWINMCP_DATA_DIR": os.path.abspath(env.get("TWINMCP_DATA_DIR") or ".data"),
    }
    for key, value in defaults.items():
        env.setdefault(key, value)
    if not env.get("INGEST_LOCAL_ROOTS", "").strip():
        # One machine, one operator: ingest may read folders under where the stack was started,
        # its data folder and this project (its own docs are the seed). Servers (compose,
        # Kubernetes) leave INGEST_LOCAL_ROOTS empty, which turns local sources off.
        roots = [os.getcwd(), env["TWINMCP_DATA_DIR"], str(PROJECT_ROOT)]
        env["INGEST_LOCAL_ROOTS"] = os.pathsep.join(dict.fromkeys(roots))
    for service, var in (
        ("AUTH", "AUTH_GRPC_PORT"),
        ("SEARCH", "SEARCH_GRPC_PORT"),
        ("INGEST", "INGEST_GRPC_PORT"),
    ):
        env.setdefault(f"{service}_ADDR", f"127.0.0.1:{env[var]}")
        # The gRPC ports check no caller (whoever reaches auth can create an admin): on one
        # machine they listen on loopback only; the gateway is what others reach.
        env.setdefault(f"{service}_GRPC_HOST", "127.0.0.1")
    return env


def isolated_environment(
    base: Mapping[str, str], data_dir: str | os.PathLike[str], **extra: str
) -> dict[str, str]:
    """A stack of its own beside any other: free ports, its own data folder, embedded backends
    (DATABASE_* and REDIS_* of `base` dropped) and no metrics ports; `extra` wins."""
    env = {k: v for k, v in base.items() if not k.startswith(("DATABASE_", "REDIS_"))}
    env.update(
        {
            "TWINMCP_DATA_DIR": str(data_dir),
            "PORT": str(free_port()),
            "AUTH_GRPC_PORT": str(free_port()),
            "SEARCH_GRPC_PORT": str(free_port()),
            "INGEST_GRPC_PORT": str(free_port()),
            "AUTH_METRICS_PORT": "-1",
            "SEARCH_METRICS_PORT": "-1",
            "INGEST_METRICS_PORT": "-1",
        }
    )
    env.update(extra)
    return local_environment(env)

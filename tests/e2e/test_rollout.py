"""A rollout under load: NGINX, two gateways, two search replicas, auth and ingest as processes.

Stopping a gateway and a search replica with SIGTERM (as a rolling update does) and starting
them again loses no request; SIGKILLing a search replica loses at most the calls it had in hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest
from support.databases import REDIS_TEST_URL, fresh_postgres_database
from support.edge import running_nginx
from support.system_tools import nginx as nginx_binary
from twinmcp.cli.stack import ServiceSpec, Stack, wait_for_http
from twinmcp.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from twinmcp.runtime.channels import open_channel
from twinmcp.runtime.ports import free_port

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
EVAL = REPO.parent / "shared" / "eval"
CORPUS = EVAL / "corpus" / "encode__httpx"
LIBRARY = "/encode/httpx"
CLIENTS = 6
# Bounds of one load run: each client stops after this many requests or seconds, whichever first.
REQUESTS_PER_CLIENT = 1500
LOAD_SECONDS = 60.0
REQUEST_SECONDS = 15.0
MCP_VERSION = "2025-06-18"


@dataclass(frozen=True)
class Outcome:
    kind: str  # "rest" or "mcp"
    is_ok: bool
    seconds: float
    detail: str


@dataclass
class Load:
    """Several clients asking for documentation through NGINX until told to stop."""

    base_url: str
    queries: list[str]
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        for client in range(CLIENTS):
            self._tasks.append(asyncio.create_task(self._client(client)))

    async def finish(self) -> None:
        self._stop.set()
        await asyncio.wait_for(asyncio.gather(*self._tasks), REQUEST_SECONDS + 5)

    async def wait_for(self, count: int, timeout: float) -> None:
        """Waits until `count` more requests have completed."""
        target = len(self.outcomes) + count
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.outcomes) < target:
            if all(task.done() for task in self._tasks):
                raise AssertionError(
                    f"the clients stopped early: {summary('so far', self.outcomes)}\n"
                    f"{failure_lines(self.outcomes)}"
                )
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{count} requests did not complete within {timeout}s")
            await asyncio.sleep(0.05)

    async def _client(self, client: int) -> None:
        deadline = asyncio.get_running_loop().time() + LOAD_SECONDS
        # One keep-alive connection pool per client, like an agent's HTTP client.
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=REQUEST_SECONDS)
        ) as session:
            for n in range(REQUESTS_PER_CLIENT):
                if self._stop.is_set() or asyncio.get_running_loop().time() > deadline:
                    return
                # A query no other request asked: the answer cache never short-cuts the search.
                base = self.queries[(client + n) % len(self.queries)]
                query = f"{base} (client {client} request {n} {os.urandom(3).hex()})"
                ask = self._rest if n % 2 == 0 else self._mcp
                started = time.perf_counter()
                try:
                    kind, is_ok, detail = await ask(session, query)
                except (aiohttp.ClientError, TimeoutError) as error:
                    kind, is_ok, detail = ask.__name__.strip("_"), False, repr(error)
                self.outcomes.append(Outcome(kind, is_ok, time.perf_counter() - started, detail))

    async def _rest(self, session: aiohttp.ClientSession, query: str) -> tuple[str, bool, str]:
        params = urlencode({"libraryId": LIBRARY, "query": query, "type": "json", "tokens": 2000})
        async with session.get(f"{self.base_url}/api/v2/context?{params}") as reply:
            body = await reply.read()
            if reply.status != 200:
                return "rest", False, f"{reply.status} {body[:300]!r}"
            if not json.loads(body).get("snippets"):
                return "rest", False, f"no snippets {body[:300]!r}"
            return "rest", True, ""

    async def _mcp(self, session: aiohttp.ClientSession, query: str) -> tuple[str, bool, str]:
        message = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {
                "name": "query-docs",
                "arguments": {"libraryId": LIBRARY, "query": query, "tokens": 2000},
            },
        }
        headers = {
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
            "MCP-Protocol-Version": MCP_VERSION,
        }
        async with session.post(f"{self.base_url}/mcp", json=message, headers=headers) as reply:
            body = await reply.read()
            if reply.status != 200:
                return "mcp", False, f"{reply.status} {body[:300]!r}"
            result = json.loads(body).get("result")
            if not isinstance(result, dict) or result.get("isError") or not result.get("content"):
                return "mcp", False, f"tool error {body[:300]!r}"
            return "mcp", True, ""


def summary(name: str, outcomes: list[Outcome]) -> str:
    times = sorted(o.seconds for o in outcomes)
    failures = [o for o in outcomes if not o.is_ok]

    def percentile(p: float) -> float:
        return times[min(len(times) - 1, int(p * len(times)))] * 1000 if times else 0.0

    kinds = {kind: sum(o.kind == kind for o in outcomes) for kind in ("rest", "mcp")}
    return (
        f"{name}: {len(outcomes)} requests ({kinds['rest']} REST, {kinds['mcp']} MCP), "
        f"{len(failures)} failed, p50 {percentile(0.5):.0f} ms, p99 {percentile(0.99):.0f} ms"
    )


def failure_lines(outcomes: list[Outcome]) -> str:
    return "\n".join(f"{o.kind}: {o.detail}" for o in outcomes if not o.is_ok)[:4000]


def httpx_queries() -> list[str]:
    lines = (EVAL / "dev-questions.jsonl").read_text().splitlines()
    questions = [json.loads(line) for line in lines if line.strip()]
    return [q["query"] for q in questions if q["library"] == "encode/httpx"]


@dataclass
class Cluster:
    stack: Stack
    gateways: tuple[ServiceSpec, ServiceSpec]
    searches: tuple[ServiceSpec, ServiceSpec]
    ingest_port: int
    edge_url: str
    edge_log: Path  # NGINX's access log: status, path and the gateway(s) that answered

    def edge_lines(self) -> list[str]:
        return self.edge_log.read_text().splitlines()

    def gateway_address(self, spec: ServiceSpec) -> str:
        return f"127.0.0.1:{self.stack.env_for(spec)['PORT']}"

    async def terminate(self, spec: ServiceSpec, sig: signal.Signals, timeout: float) -> int:
        process = self.stack.processes[spec.name]
        process.send_signal(sig)
        return await asyncio.wait_for(process.wait(), timeout)


@pytest.fixture
async def cluster(
    make_env: Callable[..., dict[str, str]], tmp_path: Path
) -> AsyncIterator[Cluster]:
    if not CORPUS.is_dir():
        pytest.skip(f"the eval corpus is not at {CORPUS} (../shared/eval beside the repository)")
    nginx = nginx_binary()
    search_ports = (free_port(), free_port())
    gateway_ports = (free_port(), free_port())
    prefix = os.urandom(6).hex()
    async with fresh_postgres_database() as database_url:
        env = make_env(
            INGEST_LOCAL_ROOTS=str(CORPUS),
            DATABASE_URL=database_url,
            DATABASE_POOL_SIZE="5",
            REDIS_URL=REDIS_TEST_URL,
            RATE_LIMIT_REDIS_PREFIX=f"twinmcp-test:{prefix}:limits",
            SEARCH_CACHE_PREFIX=f"twinmcp-test:{prefix}:search:",
            RATE_LIMIT_ANON_RPM="1000000",
            RATE_LIMIT_ANON_RPD="0",
            RATE_LIMIT_FREE_RPM="1000000",
            SEARCH_ADDR=f"ipv4:127.0.0.1:{search_ports[0]},127.0.0.1:{search_ports[1]}",
            SEARCH_GRPC_HOST="127.0.0.1",
            SHUTDOWN_DRAIN_SECONDS="2",
            SHUTDOWN_GRACE_SECONDS="10",
            LOG_LEVEL="WARNING",
        )
        searches = tuple(
            ServiceSpec(
                f"search-{i}",
                "twinmcp.search",
                "SEARCH_GRPC_PORT",
                {"SEARCH_GRPC_PORT": str(p), "SEARCH_METRICS_PORT": str(free_port())},
            )
            for i, p in enumerate(search_ports)
        )
        gateways = tuple(
            ServiceSpec(f"gateway-{i}", "twinmcp.gateway", env={"PORT": str(p)})
            for i, p in enumerate(gateway_ports)
        )
        specs = (
            ServiceSpec("auth", "twinmcp.auth", "AUTH_GRPC_PORT"),
            *searches,
            ServiceSpec("ingest", "twinmcp.ingest", "INGEST_GRPC_PORT"),
            *gateways,
        )
        stack = Stack(env)
        try:
            await stack.start(specs, timeout=90)
            upstreams = [f"127.0.0.1:{p}" for p in gateway_ports]
            async with running_nginx(nginx, upstreams, free_port(), tmp_path / "nginx") as url:
                yield Cluster(
                    stack,
                    (gateways[0], gateways[1]),
                    (searches[0], searches[1]),
                    int(env["INGEST_GRPC_PORT"]),
                    url,
                    tmp_path / "nginx" / "access.log",
                )
        finally:
            await stack.stop()


async def served_queries(cluster: Cluster, search: ServiceSpec) -> int:
    """QueryDocs calls a search replica answered OK since it started (its /metrics)."""
    port = cluster.stack.env_for(search)["SEARCH_METRICS_PORT"]
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"http://127.0.0.1:{port}/metrics", timeout=aiohttp.ClientTimeout(total=5)
        ) as reply,
    ):
        text = await reply.text()
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith("twinmcp_grpc_server_handled_total{")
        and "QueryDocs" in line
        and 'code="OK"' in line
    )


async def ingest_corpus(ingest_port: int, timeout: float = 120) -> ingest_pb2.Job:
    async with open_channel(f"127.0.0.1:{ingest_port}") as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        submitted = await stub.SubmitSource(
            ingest_pb2.SubmitSourceRequest(source=str(CORPUS), library_id=LIBRARY), timeout=30
        )
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            reply = await stub.GetJob(
                ingest_pb2.GetJobRequest(job_id=submitted.job.job_id), timeout=10
            )
            if reply.job.state in (
                ingest_pb2.JOB_STATE_SUCCEEDED,
                ingest_pb2.JOB_STATE_FAILED,
                ingest_pb2.JOB_STATE_CANCELLED,
            ):
                return reply.job
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"ingest job {reply.job} did not finish within {timeout}s")
            await asyncio.sleep(0.25)


@contextlib.asynccontextmanager
async def load_on(cluster: Cluster, queries: list[str]) -> AsyncIterator[Load]:
    load = Load(cluster.edge_url, queries)
    load.start()
    try:
        yield load
    finally:
        await load.finish()


async def test_a_rolling_restart_under_load_fails_no_request_and_a_killed_replica_few(
    cluster: Cluster,
) -> None:
    job = await ingest_corpus(cluster.ingest_port)
    assert job.state == ingest_pb2.JOB_STATE_SUCCEEDED, job.error
    assert job.progress.snippets > 0
    for gateway in cluster.gateways:
        port = cluster.stack.env_for(gateway)["PORT"]
        await wait_for_http(f"http://127.0.0.1:{port}/ready", timeout=30)
    queries = httpx_queries()
    assert queries

    # A rolling update: one gateway and one search replica get SIGTERM (each drains for
    # SHUTDOWN_DRAIN_SECONDS, then finishes what it has), exit, and come back.
    gateway, search = cluster.gateways[0], cluster.searches[0]
    async with load_on(cluster, queries) as rollout:
        await rollout.wait_for(3 * CLIENTS, timeout=60)
        codes = await asyncio.gather(
            cluster.terminate(gateway, signal.SIGTERM, timeout=30),
            cluster.terminate(search, signal.SIGTERM, timeout=30),
        )
        assert codes == [0, 0], f"exit codes of {gateway.name}, {search.name}: {codes}"
        during = len(rollout.outcomes)
        await asyncio.gather(
            cluster.stack.restart(gateway, timeout=60), cluster.stack.restart(search, timeout=60)
        )
        back, edge_mark = len(rollout.outcomes), len(cluster.edge_lines())
        await rollout.wait_for(20 * CLIENTS, timeout=60)
        # NGINX retries a gateway it saw fail only after fail_timeout (5 s here): keep the load
        # on until the restarted one has been sent requests again, however fast they complete.
        address = cluster.gateway_address(gateway)
        deadline = asyncio.get_running_loop().time() + 30
        while not any(address in line for line in cluster.edge_lines()[edge_mark:]):
            assert asyncio.get_running_loop().time() < deadline, "NGINX never used it again"
            await rollout.wait_for(CLIENTS, timeout=30)
    served = [await served_queries(cluster, spec) for spec in cluster.searches]
    lines = cluster.edge_lines()
    retried = sum(", " in line for line in lines)
    by_restarted = sum(cluster.gateway_address(gateway) in line for line in lines[edge_mark:])
    print(summary("rollout (SIGTERM + restart)", rollout.outcomes))
    print(
        f"  {during} requests until both had exited, {back - during} while they restarted, "
        f"{len(rollout.outcomes) - back} after; NGINX replayed {retried} on the other gateway; "
        f"after the restart the restarted gateway answered {by_restarted} of "
        f"{len(lines) - edge_mark}; QueryDocs answered by the restarted / the other search "
        f"replica: {served}"
    )
    assert not [o for o in rollout.outcomes if not o.is_ok], failure_lines(rollout.outcomes)
    # The restarted processes are back in rotation: NGINX and the gateways' channels use them.
    assert by_restarted > 0
    assert all(count > 0 for count in served), served

    # A crash: a search replica is SIGKILLed. Each client has at most one request in flight,
    # so at most CLIENTS requests can have been on the killed replica; the gateways' channels
    # retry those on UNAVAILABLE and send everything after to the survivor.
    async with load_on(cluster, queries) as crash:
        await crash.wait_for(3 * CLIENTS, timeout=60)
        before = len(crash.outcomes)
        code = await cluster.terminate(cluster.searches[1], signal.SIGKILL, timeout=30)
        assert code == -signal.SIGKILL
        await crash.wait_for(20 * CLIENTS, timeout=60)
    failures = [o for o in crash.outcomes if not o.is_ok]
    print(summary("crash (SIGKILL of one search replica)", crash.outcomes))
    assert len(failures) <= CLIENTS, failure_lines(crash.outcomes)
    after = crash.outcomes[before + CLIENTS :]
    assert after and all(o.is_ok for o in after), failure_lines(after)

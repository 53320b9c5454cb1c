"""Gateway throughput: cached query-docs over MCP beside a bare aiohttp handler and an
aiohttp -> grpc.aio echo hop, all measured in one run with wrk at 32 connections.

`python -m bench.gateway_bench` (installs wrk from Debian when it is missing and we are root).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass

import aiohttp
from twinmcp.cli.stack import wait_for_http
from twinmcp.runtime.ports import free_port

from bench.stackctl import CORPUS, ingest_folders, throwaway_stack

CONNECTIONS = 32
DURATION_S = 10
QUERY = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {
        "name": "query-docs",
        "arguments": {
            "libraryId": "/encode/httpx",
            "query": "how do I set a timeout on a client",
            "tokens": 2000,
        },
    },
}


@dataclass(frozen=True)
class Figures:
    name: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        sys.exit("wrk is missing: install it with `apt-get install wrk`")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "wrk"],
        check=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    return shutil.which("wrk") or sys.exit("wrk did not install")


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(wrk: str, name: str, url: str, body: dict[str, object], expect: str) -> Figures:
    """wrk at CONNECTIONS; an answer without `expect` in its body counts as an error."""
    script = (
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(json.dumps(body))}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        'wrk.headers["Accept"] = "application/json, text/event-stream"\n'
        'wrk.headers["MCP-Protocol-Version"] = "2025-11-25"\n'
        "local threads = {}\n"
        "function setup(thread) table.insert(threads, thread) end\n"
        "bad = 0\n"
        "function response(status, headers, body)\n"
        f"  if not string.find(body, {json.dumps(expect)}, 1, true) then bad = bad + 1 end\n"
        "end\n"
        "function done(summary, latency, requests)\n"
        "  local n = 0\n"
        '  for _, t in ipairs(threads) do n = n + t:get("bad") end\n'
        '  io.write(string.format("Unexpected answers: %d\\n", n))\n'
        "end\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        out = subprocess.run(
            [
                wrk,
                "-t2",
                f"-c{CONNECTIONS}",
                f"-d{DURATION_S}s",
                "--latency",
                "-s",
                handle.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=DURATION_S + 60,
        ).stdout
    finally:
        os.unlink(handle.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors += int(re.search(r"Unexpected answers: (\d+)", out).group(1))  # type: ignore[union-attr]
    socket_errors = re.search(r"Socket errors: (.*)", out)
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    return Figures(name, rps, p50, p99, errors)


async def _reference(wrk: str, mode: str) -> Figures:
    port = free_port()
    children = []
    args = [str(port)]
    if mode == "hop":
        grpc_port = free_port()
        children.append(
            subprocess.Popen([sys.executable, "-m", "bench.echo_servers", "grpc", str(grpc_port)])
        )
        args.append(str(grpc_port))
    children.append(subprocess.Popen([sys.executable, "-m", "bench.echo_servers", mode, *args]))
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        deadline = asyncio.get_running_loop().time() + 30
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.post(url, json=QUERY) as reply:
                        if reply.status == 200:
                            break
                except aiohttp.ClientError:
                    if asyncio.get_running_loop().time() > deadline:
                        raise
                await asyncio.sleep(0.1)
        name = "bare aiohttp handler" if mode == "bare" else "aiohttp -> grpc.aio echo hop"
        return await asyncio.to_thread(run_wrk, wrk, name, url, QUERY, '"text":"ok"')
    finally:
        for child in reversed(children):  # the HTTP side first, then its gRPC peer
            child.terminate()
            child.wait(timeout=10)


async def _gateway(wrk: str, name: str, **env: str) -> Figures:
    async with throwaway_stack(**env) as stack:
        await ingest_folders(
            stack.env["INGEST_ADDR"], [("/encode/httpx", CORPUS / "encode__httpx")]
        )
        await wait_for_http(f"{stack.gateway_url}/ready", timeout=30)
        url = f"{stack.gateway_url}/mcp"
        async with aiohttp.ClientSession() as session:
            for _ in range(3):  # warm the answer caches
                async with session.post(
                    url,
                    json=QUERY,
                    headers={
                        "Accept": "application/json, text/event-stream",
                        "MCP-Protocol-Version": "2025-11-25",
                    },
                ) as reply:
                    assert reply.status == 200, await reply.text()
        return await asyncio.to_thread(run_wrk, wrk, name, url, QUERY, '"isError":false')


async def main() -> None:
    wrk = ensure_wrk()
    results = [await _reference(wrk, "bare"), await _reference(wrk, "hop")]
    # The product as shipped: answers kept at the edge while search's change feed vouches for
    # them (every request still authenticated and rate-limited through auth).
    results.append(await _gateway(wrk, "cached query-docs via gateway"))
    # The same with the edge store off: every request also asks search (its cache answers).
    results.append(await _gateway(wrk, "  same, edge store off", GATEWAY_ANSWER_CACHE_MB="0"))
    print(f"\nGateway throughput, {CONNECTIONS} connections, {DURATION_S}s each (wrk -t2)")
    print(f"{'what':34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for fig in results:
        print(
            f"{fig.name:34} {fig.requests_per_s:9.0f} {fig.p50_ms:8.2f} {fig.p99_ms:8.2f} "
            f"{fig.errors:7d}"
        )
    hop, gateway, without = results[1], results[2], results[3]
    ratio, ratio_off = (fig.requests_per_s / hop.requests_per_s for fig in (gateway, without))
    print(
        f"cached query-docs / echo hop throughput: {ratio:.2f} (target >= 0.5; "
        f"{ratio_off:.2f} with the edge store off); p99 target < 50 ms"
    )


if __name__ == "__main__":
    asyncio.run(main())

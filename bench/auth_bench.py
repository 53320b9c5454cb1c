"""Rate-limit check latency and throughput against real Redis, direct and through gRPC."""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable

import grpc
from redis.asyncio import Redis
from redis.exceptions import RedisError
from twinmcp.auth.config import Settings
from twinmcp.auth.limits import LocalLimiter, RedisLimiter, TierLimits
from twinmcp.auth.server import start
from twinmcp.auth.v1 import auth_pb2, auth_pb2_grpc

REDIS_URL = os.environ.get("TWINMCP_BENCH_REDIS", "redis://127.0.0.1:6379/0")
LATENCY_SAMPLES = 5_000
THROUGHPUT_CHECKS = 40_000
GRPC_SAMPLES = 2_000
GRPC_CHECKS = 10_000
CONCURRENCY = 64
TARGET_P99_MS = 1.0
TARGET_CHECKS_PER_SECOND = 10_000
# A huge limit keeps every check on the full path (read, decide, write) without refusals; no
# daily limit lets the keys expire a minute after the run.
LIMITS = TierLimits(per_minute=10**9, per_day=0)

Check = Callable[[int], Awaitable[object]]


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)]


async def _latency(check: Check, samples: int) -> tuple[float, float]:
    for i in range(200):  # warm connections and the script cache
        await check(i)
    timings = []
    for i in range(samples):
        started = time.perf_counter()
        await check(i)
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings), _percentile(timings, 0.99)


async def _throughput(check: Check, total: int, concurrency: int) -> float:
    per_worker = total // concurrency

    async def worker(offset: int) -> None:
        for i in range(per_worker):
            await check(offset * per_worker + i)

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return per_worker * concurrency / (time.perf_counter() - started)


def _report(name: str, p50: float, p99: float, rate: float, *, is_target: bool) -> None:
    verdict = ""
    if is_target:
        is_met = p99 <= TARGET_P99_MS and rate >= TARGET_CHECKS_PER_SECOND
        verdict = f"  [{'meets' if is_met else 'MISSES'} p99<={TARGET_P99_MS}ms, "
        verdict += f">={TARGET_CHECKS_PER_SECOND}/s]"
    print(f"{name:<34} p50 {p50:6.3f} ms  p99 {p99:6.3f} ms  {rate:9.0f} checks/s{verdict}")


async def _direct(prefix: str) -> None:
    redis = Redis.from_url(REDIS_URL, max_connections=CONCURRENCY * 2)
    limiter = RedisLimiter(redis, prefix)
    try:

        async def check(i: int) -> object:
            return await limiter.check(f"key:bench{i % 1000}", 1, LIMITS)

        p50, p99 = await _latency(check, LATENCY_SAMPLES)
        rate = await _throughput(check, THROUGHPUT_CHECKS, CONCURRENCY)
        _report("redis limiter (in process)", p50, p99, rate, is_target=True)
        hot_rate = await _throughput(
            lambda _i: limiter.check("key:hot", 1, LIMITS), THROUGHPUT_CHECKS, CONCURRENCY
        )
        print(f"{'  one hot key, same concurrency':<34} {hot_rate:41.0f} checks/s")
    finally:
        async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
            await redis.delete(key)
        await limiter.close()

    local = LocalLimiter()

    async def local_check(i: int) -> object:
        return await local.check(f"key:bench{i % 1000}", 1, LIMITS)

    p50, p99 = await _latency(local_check, LATENCY_SAMPLES)
    rate = await _throughput(local_check, THROUGHPUT_CHECKS, CONCURRENCY)
    _report("local limiter (no REDIS_URL)", p50, p99, rate, is_target=False)


async def _over_grpc(prefix: str) -> None:
    with tempfile.TemporaryDirectory() as data:
        settings = Settings.from_env(
            {
                "AUTH_GRPC_PORT": "0",
                "AUTH_METRICS_PORT": "-1",
                "TWINMCP_DATA_DIR": data,
                "REDIS_URL": REDIS_URL,
                "RATE_LIMIT_REDIS_PREFIX": prefix,
                "RATE_LIMIT_PREMIUM_RPM": str(10**9),
                "JWT_SECRET": uuid.uuid4().hex * 2,
            }
        )
        server = await start(settings)
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
                stub = auth_pb2_grpc.AuthServiceStub(channel)

                async def check(i: int) -> object:
                    request = auth_pb2.CheckRateLimitRequest(
                        subject=f"key:bench{i % 1000}", tier=auth_pb2.TIER_PREMIUM
                    )
                    return await stub.CheckRateLimit(request, timeout=5)

                p50, p99 = await _latency(check, GRPC_SAMPLES)
                rate = await _throughput(check, GRPC_CHECKS, CONCURRENCY)
                _report("CheckRateLimit over gRPC", p50, p99, rate, is_target=False)
        finally:
            await server.stop()
            redis = Redis.from_url(REDIS_URL)
            async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
                await redis.delete(key)
            await redis.aclose()


async def main() -> int:
    prefix = f"bench:auth:{uuid.uuid4().hex}"
    try:
        await Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except (RedisError, OSError) as exc:
        print(f"Redis at {REDIS_URL} is not reachable ({exc}); start it or set TWINMCP_BENCH_REDIS")
        return 1
    print(
        f"one rate-limit check (minute + day windows, one Lua script), Redis {REDIS_URL}, "
        f"{LATENCY_SAMPLES} sequential samples, {THROUGHPUT_CHECKS} checks at concurrency "
        f"{CONCURRENCY}, one process"
    )
    await _direct(prefix)
    await _over_grpc(prefix + ":grpc")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

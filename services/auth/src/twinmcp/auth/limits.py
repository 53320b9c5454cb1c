"""Rate limits: a rolling minute + the UTC day, counted atomically in Redis or in process."""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
DAY_MS = 86_400_000

Clock = Callable[[], float]
"""Seconds since the epoch; injectable so tests can move time without sleeping."""


class Tier(enum.Enum):
    ANONYMOUS = "anonymous"
    FREE = "free"
    PREMIUM = "premium"


@dataclass(frozen=True)
class TierLimits:
    per_minute: int
    per_day: int  # 0: no daily limit


@dataclass(frozen=True)
class Decision:
    is_allowed: bool
    limit: int
    remaining: int
    reset_seconds: int
    retry_after_seconds: int
    day_limit: int
    day_remaining: int
    is_degraded: bool = False


@dataclass
class WindowState:
    """What is counted for one subject: admitted requests per second over the last minute, the
    latest second counted (time never steps back before it), and the UTC day's count."""

    second: int = -1
    buckets: dict[int, int] = field(default_factory=dict)  # second -> requests admitted in it
    day_window: int = -1
    day_count: int = 0


def decide(
    state: WindowState, now_ms: int, cost: int, limits: TierLimits
) -> tuple[Decision, WindowState]:
    """Admits `cost` only if BOTH windows have room, and then counts it in both.

    The minute window rolls: a request counts against the minute limit during the 60 one-second
    buckets from its own second on, so no 59-second stretch ever admits more than the limit,
    whatever minute boundary it straddles. The day window is the UTC calendar day.
    Checking both before incrementing either is what keeps a request refused by the day limit
    from eating minute budget (and the reverse). `REDIS_SCRIPT` below mirrors this exactly.
    """
    second = max(now_ms // 1000, state.second)  # never step back behind a counted second
    now_ms = max(now_ms, second * 1000)
    day = max(now_ms // DAY_MS, state.day_window)
    first = second - WINDOW_SECONDS + 1
    live = sorted((s, count) for s, count in state.buckets.items() if s >= first)
    minute_count = sum(count for _, count in live)
    day_count = state.day_count if state.day_window == day else 0
    is_day_full = limits.per_day > 0 and day_count + cost > limits.per_day
    is_minute_full = minute_count + cost > limits.per_minute
    is_allowed = not is_day_full and not is_minute_full
    if is_allowed:
        minute_count += cost
        day_count += cost
        if live and live[-1][0] == second:
            live[-1] = (second, live[-1][1] + cost)
        else:
            live.append((second, cost))
    reset_ms = (live[0][0] + WINDOW_SECONDS) * 1000 - now_ms if live else 0
    retry_ms = 0
    if is_minute_full:
        retry_ms = WINDOW_SECONDS * 1000  # a cost above the limit never fits; say a minute
        freed = 0
        for s, count in live:
            freed += count
            if minute_count - freed + cost <= limits.per_minute:
                retry_ms = (s + WINDOW_SECONDS) * 1000 - now_ms
                break
    day_reset_ms = min(max((day + 1) * DAY_MS - now_ms, 0), DAY_MS)
    decision = _decision(
        is_allowed,
        is_day_full,
        minute_count,
        day_count,
        reset_ms,
        retry_ms,
        day_reset_ms,
        limits,
    )
    if not is_allowed:
        return decision, state
    return decision, WindowState(second, dict(live), day, day_count)


def _decision(
    is_allowed: bool,
    is_day_full: bool,
    minute_count: int,
    day_count: int,
    reset_ms: int,
    retry_ms: int,
    day_reset_ms: int,
    limits: TierLimits,
) -> Decision:
    retry_after = 0
    if not is_allowed:
        retry_after = max(_ceil_seconds(day_reset_ms if is_day_full else retry_ms), 1)
    return Decision(
        is_allowed=is_allowed,
        limit=limits.per_minute,
        remaining=max(limits.per_minute - minute_count, 0),
        reset_seconds=_ceil_seconds(reset_ms),
        retry_after_seconds=retry_after,
        day_limit=limits.per_day,
        day_remaining=max(limits.per_day - day_count, 0) if limits.per_day > 0 else 0,
    )


def _ceil_seconds(ms: int) -> int:
    return -(-ms // 1000)


class Limiter(Protocol):
    async def check(self, subject: str, cost: int, limits: TierLimits) -> Decision: ...

    async def close(self) -> None: ...


class SharedLimiter(Limiter, Protocol):
    """A limiter backed by a store shared by every replica (Redis)."""

    async def ping(self) -> None: ...


class LocalLimiter:
    """The in-process limiter: exact within one process, the same semantics as the Redis one."""

    _SWEEP_EVERY_MS = WINDOW_SECONDS * 1000

    def __init__(self, clock: Clock = time.time, *, is_degraded: bool = False) -> None:
        self._clock = clock
        self._states: dict[str, WindowState] = {}
        self._is_degraded = is_degraded
        self._next_sweep_ms = 0

    async def check(self, subject: str, cost: int, limits: TierLimits) -> Decision:
        return self.check_now(subject, cost, limits)

    def check_now(self, subject: str, cost: int, limits: TierLimits) -> Decision:
        now_ms = int(self._clock() * 1000)
        self._sweep(now_ms)
        state = self._states.get(subject, WindowState())
        decision, new_state = decide(state, now_ms, cost, limits)
        if decision.is_allowed:
            self._states[subject] = new_state
        if self._is_degraded:
            return _with_degraded(decision)
        return decision

    def forget(self) -> None:
        self._states.clear()

    def _sweep(self, now_ms: int) -> None:
        # Forget subjects whose day window is over so memory follows the active set only.
        if now_ms < self._next_sweep_ms:
            return
        self._next_sweep_ms = now_ms + self._SWEEP_EVERY_MS
        day, first = now_ms // DAY_MS, now_ms // 1000 - WINDOW_SECONDS + 1
        stale = [
            subject
            for subject, state in self._states.items()
            if state.day_window < day and state.second < first
        ]
        for subject in stale:
            del self._states[subject]

    async def close(self) -> None:
        self._states.clear()


def _with_degraded(decision: Decision) -> Decision:
    return Decision(
        decision.is_allowed,
        decision.limit,
        decision.remaining,
        decision.reset_seconds,
        decision.retry_after_seconds,
        decision.day_limit,
        decision.day_remaining,
        is_degraded=True,
    )


# One hash per subject holds both windows so one key (one cluster slot) carries the whole
# decision: a field per second of the rolling minute (at most 60, so Redis keeps the hash in
# its compact listpack form), `ls` the latest second counted, `dw`/`dc` the UTC day and its
# count. Time comes from Redis (one clock for every process) unless the caller passes it.
REDIS_SCRIPT = """
local cost = tonumber(ARGV[1])
local per_minute = tonumber(ARGV[2])
local per_day = tonumber(ARGV[3])
local now
if ARGV[4] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
else
  now = tonumber(ARGV[4])
end
local fields = redis.call('HGETALL', KEYS[1])
local ls, dw, dc = -1, -1, 0
local buckets = {}
for i = 1, #fields, 2 do
  local name, value = fields[i], tonumber(fields[i + 1])
  if name == 'ls' then ls = value
  elseif name == 'dw' then dw = value
  elseif name == 'dc' then dc = value
  else buckets[#buckets + 1] = {tonumber(name), value} end
end
local second = math.floor(now / 1000)
if ls > second then second = ls end
if second * 1000 > now then now = second * 1000 end
local day = math.floor(now / 86400000)
if dw > day then day = dw end
if dw ~= day then dc = 0 end
local first = second - 59
local live, stale = {}, {}
for _, b in ipairs(buckets) do
  if b[1] >= first then live[#live + 1] = b else stale[#stale + 1] = tostring(b[1]) end
end
table.sort(live, function(a, b) return a[1] < b[1] end)
local mc = 0
for _, b in ipairs(live) do mc = mc + b[2] end
local day_full = 0
if per_day > 0 and dc + cost > per_day then day_full = 1 end
local minute_full = 0
if mc + cost > per_minute then minute_full = 1 end
local allowed = 0
if day_full == 0 and minute_full == 0 then
  allowed = 1
  mc = mc + cost
  dc = dc + cost
  if #stale > 0 then redis.call('HDEL', KEYS[1], unpack(stale)) end
  redis.call('HINCRBY', KEYS[1], tostring(second), cost)
  redis.call('HSET', KEYS[1], 'ls', second, 'dw', day, 'dc', dc)
  if #live > 0 and live[#live][1] == second then
    live[#live][2] = live[#live][2] + cost
  else
    live[#live + 1] = {second, cost}
  end
end
local reset = 0
if #live > 0 then reset = (live[1][1] + 60) * 1000 - now end
local retry = 0
if minute_full == 1 then
  retry = 60000
  local freed = 0
  for _, b in ipairs(live) do
    freed = freed + b[2]
    if mc - freed + cost <= per_minute then
      retry = (b[1] + 60) * 1000 - now
      break
    end
  end
end
local day_reset = math.min(math.max((day + 1) * 86400000 - now, 0), 86400000)
if allowed == 1 then
  if per_day > 0 then
    redis.call('PEXPIRE', KEYS[1], day_reset + 60000)
  else
    redis.call('PEXPIRE', KEYS[1], 61000)
  end
end
return {allowed, day_full, mc, dc, reset, retry, day_reset}
"""


class RedisLimiter:
    """Exact across any number of processes: one Lua script decides and counts atomically.

    Checks that arrive in the same event-loop turn are sent together in one pipeline (each
    still its own script call, so atomicity per check is unchanged): under load this saves a
    round trip and a syscall per check; a lone check waits for nothing.
    """

    def __init__(self, redis: Redis, prefix: str, clock: Clock | None = None) -> None:
        self._redis = redis
        self._prefix = prefix
        self._clock = clock
        self._script = redis.register_script(REDIS_SCRIPT)
        self._queue: list[tuple[str, list[int | str], asyncio.Future[list[int]]]] = []
        self._sends: set[asyncio.Task[None]] = set()

    async def check(self, subject: str, cost: int, limits: TierLimits) -> Decision:
        now = "" if self._clock is None else str(int(self._clock() * 1000))
        future: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        if not self._queue:
            asyncio.get_running_loop().call_soon(self._send_queued)
        self._queue.append(
            (
                f"{self._prefix}:{{{subject}}}",
                [cost, limits.per_minute, limits.per_day, now],
                future,
            )
        )
        allowed, day_full, minute_count, day_count, reset, retry, day_reset = await future
        return _decision(
            allowed == 1, day_full == 1, minute_count, day_count, reset, retry, day_reset, limits
        )

    def _send_queued(self) -> None:
        batch, self._queue = self._queue, []
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _send(
        self, batch: list[tuple[str, list[int | str], asyncio.Future[list[int]]]]
    ) -> None:
        try:
            if len(batch) == 1:
                key, args, _future = batch[0]
                replies: list[object] = [await self._script(keys=[key], args=args)]
            else:
                pipe = self._redis.pipeline(transaction=False)
                for key, args, _future in batch:
                    await self._script(keys=[key], args=args, client=pipe)
                replies = await pipe.execute(raise_on_error=False)
        except (RedisError, OSError, TimeoutError) as exc:
            for _key, _args, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_key, _args, future), reply in zip(batch, replies, strict=True):
            if future.done():  # the caller was cancelled
                continue
            if isinstance(reply, BaseException):
                future.set_exception(reply)
            else:
                future.set_result([int(value) for value in reply])  # type: ignore[attr-defined]

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose(close_connection_pool=True)


class FailoverLimiter:
    """Redis first; while Redis is unreachable, fail open to a per-process local limiter.

    The local fallback keeps limits in force (per process, so the fleet admits up to N times the
    limit) instead of refusing every request. Each decision made locally says `is_degraded`.
    Redis is retried at most once per `retry_seconds` so an outage does not add a connect
    timeout to every request. Transitions are logged once and reported to `on_change`.
    """

    def __init__(
        self,
        shared: SharedLimiter,
        clock: Clock = time.time,
        *,
        retry_seconds: float = 1.0,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self._shared = shared
        self._local = LocalLimiter(clock, is_degraded=True)
        self._retry_seconds = retry_seconds
        self._on_change = on_change
        self._is_degraded = False
        self._next_attempt = 0.0

    @property
    def is_degraded(self) -> bool:
        return self._is_degraded

    async def check(self, subject: str, cost: int, limits: TierLimits) -> Decision:
        if self._is_degraded:
            if time.monotonic() < self._next_attempt:
                return self._local.check_now(subject, cost, limits)
            # One request probes the store; the others keep answering locally meanwhile.
            self._next_attempt = time.monotonic() + self._retry_seconds
        try:
            decision = await self._shared.check(subject, cost, limits)
        except (TimeoutError, RedisError, OSError) as exc:
            self._mark_degraded(exc)
            return self._local.check_now(subject, cost, limits)
        self._mark_healthy()
        return decision

    async def probe(self) -> bool:
        """Tries Redis once (used while degraded and idle); returns whether it is reachable."""
        try:
            await self._shared.ping()
        except (TimeoutError, RedisError, OSError) as exc:
            self._mark_degraded(exc)
            return False
        self._mark_healthy()
        return True

    def _mark_degraded(self, exc: BaseException) -> None:
        self._next_attempt = time.monotonic() + self._retry_seconds
        if self._is_degraded:
            return
        self._is_degraded = True
        logger.warning(
            "rate limit store unreachable (%s: %s); failing open to per-process limits",
            type(exc).__name__,
            exc,
        )
        if self._on_change is not None:
            self._on_change(True)

    def _mark_healthy(self) -> None:
        if not self._is_degraded:
            return
        self._is_degraded = False
        # Local counts cover only this process; the shared store is the truth again.
        self._local.forget()
        logger.warning("rate limit store reachable again; limits are shared across processes")
        if self._on_change is not None:
            self._on_change(False)

    async def close(self) -> None:
        await self._shared.close()
        await self._local.close()

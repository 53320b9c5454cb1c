"""Unit tests of the window logic, the in-process limiter and the fail-open wrapper."""

from __future__ import annotations

import logging

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from twinmcp.auth.limits import (
    DAY_MS,
    Decision,
    FailoverLimiter,
    LocalLimiter,
    TierLimits,
    WindowState,
    decide,
)

START = 1_750_000_000.0 // 86_400 * 86_400  # midnight UTC, so day boundaries are predictable


class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


NOW_MS = int(START * 1000)
SECOND = NOW_MS // 1000
DAY = NOW_MS // DAY_MS


def test_a_request_is_admitted_while_both_windows_have_room() -> None:
    decision, state = decide(WindowState(), NOW_MS, 1, TierLimits(3, 10))
    assert decision.is_allowed
    assert (decision.remaining, decision.day_remaining) == (2, 9)
    assert (state.buckets, state.day_count) == ({SECOND: 1}, 1)
    assert decision.reset_seconds == 60  # when this request stops counting


def test_the_minute_limit_refuses_without_consuming_day_budget() -> None:
    state = WindowState(SECOND, {SECOND: 3}, DAY, 3)
    decision, after = decide(state, NOW_MS, 1, TierLimits(3, 10))
    assert not decision.is_allowed
    assert after.day_count == 3
    assert decision.day_remaining == 7
    assert decision.retry_after_seconds == 60


def test_the_minute_rolls_so_a_boundary_does_not_double_the_limit() -> None:
    # Three requests at 59.5 s of one clock minute; a fixed window would admit three more at
    # 60.0 s. The rolling window refuses until the first of them is a minute old.
    limits = TierLimits(3, 0)
    state = WindowState()
    late = NOW_MS + 59_500
    for _ in range(3):
        decision, state = decide(state, late, 1, limits)
        assert decision.is_allowed
    refused, _ = decide(state, NOW_MS + 60_000, 1, limits)
    assert not refused.is_allowed
    assert refused.retry_after_seconds == 59
    still, _ = decide(state, NOW_MS + 118_999, 1, limits)
    assert not still.is_allowed
    admitted, _ = decide(state, NOW_MS + 119_000, 1, limits)
    assert admitted.is_allowed
    assert admitted.remaining == 2  # the old three no longer count


def test_retry_after_waits_only_for_the_requests_that_must_leave() -> None:
    # 1 at t, 2 at t+10 s, limit 3: a cost-2 request needs the t+10 s pair gone, not just t.
    state = WindowState(SECOND + 10, {SECOND: 1, SECOND + 10: 2}, DAY, 3)
    now = NOW_MS + 20_000
    one, _ = decide(state, now, 1, TierLimits(3, 0))
    two, _ = decide(state, now, 2, TierLimits(3, 0))
    assert (one.retry_after_seconds, two.retry_after_seconds) == (40, 50)
    assert one.reset_seconds == 40  # the oldest counted request leaves then


def test_the_day_limit_refuses_without_consuming_minute_budget() -> None:
    now = NOW_MS + 5 * 60_000
    state = WindowState(SECOND, {}, DAY, 10)
    decision, after = decide(state, now, 1, TierLimits(3, 10))
    assert not decision.is_allowed
    assert after.buckets == {}
    assert decision.remaining == 3
    assert decision.retry_after_seconds == 24 * 3600 - 5 * 60


def test_a_cost_larger_than_what_is_left_is_refused_whole() -> None:
    decision, after = decide(WindowState(SECOND, {SECOND: 2}, DAY, 2), NOW_MS, 2, TierLimits(3, 0))
    assert not decision.is_allowed
    assert after.buckets == {SECOND: 2}


def test_no_day_limit_means_only_the_minute_counts() -> None:
    decision, _ = decide(WindowState(SECOND, {}, DAY, 10**9), NOW_MS, 1, TierLimits(3, 0))
    assert decision.is_allowed
    assert (decision.day_limit, decision.day_remaining) == (0, 0)


def test_time_never_steps_back_when_a_clock_lags() -> None:
    # Another replica counted at SECOND + 30; this one's clock says SECOND. Its requests count
    # as of SECOND + 30, so they cannot expire before the ones already counted.
    ahead = WindowState(SECOND + 30, {SECOND + 30: 2}, DAY, 2)
    decision, after = decide(ahead, NOW_MS, 1, TierLimits(3, 10))
    assert decision.is_allowed
    assert after.buckets == {SECOND + 30: 3}
    assert decision.reset_seconds == 60


async def test_the_local_limiter_opens_a_new_minute_but_keeps_the_day() -> None:
    clock = Clock(START)
    limiter = LocalLimiter(clock)
    limits = TierLimits(per_minute=5, per_day=12)
    admitted = 0
    for _minute in range(4):
        for _ in range(10):
            admitted += (await limiter.check("key:a", 1, limits)).is_allowed
        clock.now += 60
    assert admitted == 12


async def test_the_local_limiter_counts_subjects_apart() -> None:
    limiter = LocalLimiter(Clock())
    limits = TierLimits(2, 0)
    results = [(await limiter.check(s, 1, limits)).is_allowed for s in ["a", "b", "a", "b", "a"]]
    assert results == [True, True, True, True, False]


async def test_the_local_limiter_forgets_subjects_after_their_day() -> None:
    clock = Clock()
    limiter = LocalLimiter(clock)
    await limiter.check("ip:1.2.3.4", 1, TierLimits(2, 5))
    clock.now += 2 * 86_400
    await limiter.check("ip:5.6.7.8", 1, TierLimits(2, 5))
    assert list(limiter._states) == ["ip:5.6.7.8"]


class FlakyShared:
    """A shared limiter whose store can be switched off."""

    def __init__(self) -> None:
        self.is_up = True
        self.calls = 0

    async def check(self, subject: str, cost: int, limits: TierLimits) -> Decision:
        self.calls += 1
        if not self.is_up:
            raise RedisConnectionError("connection refused")
        return Decision(True, limits.per_minute, 99, 60, 0, limits.per_day, 0)

    async def ping(self) -> None:
        if not self.is_up:
            raise RedisConnectionError("connection refused")

    async def close(self) -> None:
        return None


async def test_an_unreachable_store_fails_open_to_local_limits_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    shared = FlakyShared()
    changes: list[bool] = []
    limiter = FailoverLimiter(shared, Clock(), retry_seconds=3600, on_change=changes.append)
    shared.is_up = False
    with caplog.at_level(logging.WARNING, logger="twinmcp.auth.limits"):
        decisions = [await limiter.check("key:a", 1, TierLimits(3, 0)) for _ in range(5)]
    assert [d.is_allowed for d in decisions] == [True, True, True, False, False]
    assert all(d.is_degraded for d in decisions)
    assert shared.calls == 1  # later requests skip the store until the retry time
    assert changes == [True]
    assert len([r for r in caplog.records if "unreachable" in r.getMessage()]) == 1


async def test_a_store_that_comes_back_ends_degraded_mode() -> None:
    shared = FlakyShared()
    changes: list[bool] = []
    limiter = FailoverLimiter(shared, Clock(), retry_seconds=0, on_change=changes.append)
    shared.is_up = False
    assert (await limiter.check("key:a", 1, TierLimits(3, 0))).is_degraded
    assert not await limiter.probe()
    shared.is_up = True
    assert await limiter.probe()
    decision = await limiter.check("key:a", 1, TierLimits(3, 0))
    assert not decision.is_degraded
    assert changes == [True, False]
    assert not limiter.is_degraded

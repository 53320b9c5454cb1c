"""Coalescer: calls made in one event-loop turn go to the peer together."""

from __future__ import annotations

import asyncio

import pytest
from twinmcp.gateway.clients.batching import Coalescer


async def test_calls_made_in_one_turn_are_sent_as_one_batch_and_each_gets_its_own_answer() -> None:
    batches: list[list[int]] = []

    async def send(items: list[int]) -> list[str]:
        batches.append(items)
        return [f"answer {item}" for item in items]

    coalescer = Coalescer(send)
    answers = await asyncio.gather(*(coalescer.submit(n) for n in (1, 2, 3)))
    assert answers == ["answer 1", "answer 2", "answer 3"]
    assert batches == [[1, 2, 3]]
    assert await coalescer.submit(4) == "answer 4"
    assert batches[-1] == [4], "a lone call waits for nothing"


async def test_an_error_of_the_batch_reaches_every_caller_instead_of_leaving_them_waiting() -> None:
    async def send(items: list[int]) -> list[str]:
        raise KeyError("the peer's answer could not be read")

    coalescer = Coalescer(send)
    calls = asyncio.gather(*(coalescer.submit(n) for n in (1, 2)), return_exceptions=True)
    outcomes = await asyncio.wait_for(calls, timeout=10)
    assert [type(outcome) for outcome in outcomes] == [KeyError, KeyError]


async def test_a_batch_answered_with_too_few_results_fails_its_callers() -> None:
    async def send(items: list[int]) -> list[str]:
        return ["only one"]

    coalescer = Coalescer(send)
    calls = asyncio.gather(*(coalescer.submit(n) for n in (1, 2)), return_exceptions=True)
    outcomes = await asyncio.wait_for(calls, timeout=10)
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes)
    assert "2 items sent, 1 results answered" in str(outcomes[0])


async def test_a_caller_that_stops_waiting_leaves_the_others_answered() -> None:
    release = asyncio.Event()

    async def send(items: list[int]) -> list[int]:
        await release.wait()
        return [item * 10 for item in items]

    coalescer = Coalescer(send)
    first = asyncio.ensure_future(coalescer.submit(1))
    second = asyncio.ensure_future(coalescer.submit(2))
    await asyncio.sleep(0)
    first.cancel()
    release.set()
    assert await asyncio.wait_for(second, timeout=10) == 20
    with pytest.raises(asyncio.CancelledError):
        await first

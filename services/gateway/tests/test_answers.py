"""Answers kept at the edge: only while search's change feed vouches for them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from twinmcp.gateway.answers import EdgeAnswers, follow_changes
from twinmcp.gateway.state import GATEWAY
from twinmcp.search.v1 import search_pb2

Stack = Any
CONTEXT = "/api/v2/context?libraryId=/fastapi/fastapi&query=cors&tokens=2000"


def reply(library_id: str = "/a/b", text: str = "x") -> search_pb2.QueryDocsResponse:
    return search_pb2.QueryDocsResponse(
        library_id=library_id,
        version="1",
        snippets=[search_pb2.Snippet(title="t", content=text)],
    )


def test_nothing_is_kept_before_a_complete_sync() -> None:
    answers = EdgeAnswers(1 << 20)
    key = answers.key("/a/b", "", "q", 100)
    answers.put(key, answers.stamp(), reply())
    assert answers.get(key) is None
    answers.synced(is_complete=False)
    answers.put(key, answers.stamp(), reply())
    assert answers.get(key) is None
    answers.synced(is_complete=True)
    answers.put(key, answers.stamp(), reply())
    kept = answers.get(key)
    assert kept is not None and kept.is_cached


def test_a_change_drops_that_library_only_and_an_empty_id_drops_all() -> None:
    answers = EdgeAnswers(1 << 20)
    answers.synced(is_complete=True)
    ab, cd = answers.key("/a/b", "", "q", 100), answers.key("/c/d", "", "q", 100)
    answers.put(ab, answers.stamp(), reply("/a/b"))
    answers.put(cd, answers.stamp(), reply("/c/d"))
    answers.changed("/a/b")
    assert answers.get(ab) is None and answers.get(cd) is not None
    answers.changed("")
    assert answers.get(cd) is None


def test_a_reply_in_flight_during_a_change_is_not_kept() -> None:
    answers = EdgeAnswers(1 << 20)
    answers.synced(is_complete=True)
    key = answers.key("/a/b", "", "q", 100)
    stamp = answers.stamp()  # the request leaves for search ...
    answers.changed("/x/y")  # ... a change arrives meanwhile (of any library) ...
    answers.put(key, stamp, reply())  # ... so the reply may predate it
    assert answers.get(key) is None


def test_losing_the_watch_drops_everything_and_stops_keeping() -> None:
    answers = EdgeAnswers(1 << 20)
    answers.synced(is_complete=True)
    key = answers.key("/a/b", "", "q", 100)
    answers.put(key, answers.stamp(), reply())
    answers.lost()
    answers.put(key, answers.stamp(), reply())
    assert answers.get(key) is None and len(answers) == 0


def test_the_store_is_bounded_in_bytes_oldest_use_first_and_in_age(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    big = "y" * 3000
    answers = EdgeAnswers(16_000, max_age_seconds=30)
    answers.synced(is_complete=True)
    keys = [answers.key("/a/b", "", f"q{i}", 100) for i in range(6)]
    for key in keys[:4]:
        answers.put(key, answers.stamp(), reply(text=big))
    assert answers.get(keys[0]) is not None  # used: now the newest
    for key in keys[4:]:
        answers.put(key, answers.stamp(), reply(text=big))
    assert answers.get(keys[0]) is not None
    assert answers.get(keys[1]) is None  # the least recently used went first
    assert answers.get(keys[5]) is not None
    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now + 31)
    kept = len(answers)
    assert answers.get(keys[5]) is None
    assert len(answers) == kept - 1  # an expired answer leaves the store when found


# -- through the gateway, against a search fake that streams changes ---------------------------


@pytest.fixture
def is_feed_complete() -> bool:
    return True


@pytest.fixture
def fake_search(fake_search: Any, is_feed_complete: bool) -> Any:
    fake_search.changes = asyncio.Queue()
    fake_search.is_feed_complete = is_feed_complete
    return fake_search


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met within 5 s")


def _answers(stack: Stack) -> EdgeAnswers:
    answers: EdgeAnswers = stack.gateway.runner.app[GATEWAY].tools.docs.answers
    return answers


async def _context(stack: Stack) -> int:
    async with stack.http.get(f"{stack.url}{CONTEXT}") as response:
        assert response.status == 200, await response.text()
        await response.read()
    return len(stack.search.queries)


async def test_repeated_questions_skip_search_until_the_library_changes(stack: Stack) -> None:
    await _until(lambda: _answers(stack).is_live)
    assert await _context(stack) == 1
    assert await _context(stack) == 1  # kept at the edge
    assert stack.auth.counts == {"ip:127.0.0.1": 2}  # both still counted against the limit
    await stack.search.changes.put("/fastapi/fastapi")
    await _until(lambda: len(_answers(stack)) == 0)
    assert await _context(stack) == 2  # asked again after the change
    assert await _context(stack) == 2


async def test_a_lost_watch_sends_every_question_to_search_until_it_is_back(stack: Stack) -> None:
    await _until(lambda: _answers(stack).is_live)
    await _context(stack)
    await stack.search.changes.put(None)  # the search replica ends the watch
    await _until(lambda: not _answers(stack).is_live)
    assert await _context(stack) == 2
    assert await _context(stack) == 3
    await _until(lambda: stack.search.watches == 2 and _answers(stack).is_live)
    assert await _context(stack) == 4
    assert await _context(stack) == 4


@pytest.mark.parametrize("is_feed_complete", [False])
async def test_an_incomplete_feed_keeps_nothing(stack: Stack) -> None:
    await _until(lambda: stack.search.watches == 1)
    assert await _context(stack) == 1
    assert await _context(stack) == 2
    assert not _answers(stack).is_live


async def test_an_unforeseen_error_in_the_watch_stops_keeping_and_watches_again() -> None:
    answers = EdgeAnswers(1 << 20)
    calls = 0

    async def watch(request: Any) -> Any:
        nonlocal calls
        calls += 1
        yield search_pb2.LibraryChange(is_sync=True, is_complete=True)
        if calls == 1:
            raise RuntimeError("a bug in a future grpc")
        await asyncio.sleep(3600)

    def call(request: Any) -> Any:
        return watch(request)

    following = asyncio.create_task(follow_changes(call, answers, first_retry_seconds=0.01))  # type: ignore[arg-type]
    try:
        await _until(lambda: calls == 2 and answers.is_live)
    finally:
        following.cancel()
    assert calls == 2

"""Long-lived builds: no collection midway, survivors frozen, the collector's state restored."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator

import pytest
from twinmcp.search import heap
from twinmcp.search.heap import build_long_lived


@pytest.fixture(autouse=True)
def _thawed() -> Iterator[None]:
    # A search server of an earlier test may still be building in a worker thread.
    deadline = time.monotonic() + 60
    while heap.is_building() and time.monotonic() < deadline:
        time.sleep(0.05)
    gc.enable()
    yield
    gc.unfreeze()
    gc.enable()


def test_the_build_runs_with_the_collector_off_and_its_objects_end_frozen() -> None:
    seen: list[bool] = []

    def build(size: int) -> list[list[int]]:
        seen.append(gc.isenabled())
        return [[n] for n in range(size)]  # lists, unlike int-only dicts, are tracked

    before = gc.get_freeze_count()
    built = build_long_lived(build, 10_000)
    assert seen == [False]
    assert gc.isenabled()
    assert len(built) == 10_000
    assert gc.get_freeze_count() >= before + 10_000  # the new objects moved to the permanent gen


def test_a_failed_build_still_restores_the_collector() -> None:
    def fails() -> None:
        raise ValueError("corrupt index")

    with pytest.raises(ValueError, match="corrupt index"):
        build_long_lived(fails)
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_caller_stays_off() -> None:
    gc.disable()
    build_long_lived(list, range(3))
    assert not gc.isenabled()


def test_overlapping_builds_keep_the_collector_off_until_the_last_one_ends() -> None:
    outer_started = threading.Event()
    outer_may_end = threading.Event()
    seen: list[bool] = []

    def outer() -> None:
        outer_started.set()
        outer_may_end.wait(10)

    worker = threading.Thread(target=build_long_lived, args=(outer,))
    worker.start()
    assert outer_started.wait(10)

    def inner() -> None:
        outer_may_end.set()
        worker.join(10)  # the build that began first ends first
        seen.append(gc.isenabled())

    build_long_lived(inner)
    assert seen == [False]
    assert gc.isenabled()

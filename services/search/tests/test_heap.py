"""Long-lived builds: no collection midway, survivors frozen, the collector's state restored."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from twinmcp.search.heap import build_long_lived


@pytest.fixture(autouse=True)
def _thawed() -> Iterator[None]:
    yield
    gc.unfreeze()
    gc.enable()


def test_the_build_runs_with_the_collector_off_and_its_objects_end_frozen() -> None:
    seen: list[bool] = []

    def build(size: int) -> list[dict[str, int]]:
        seen.append(gc.isenabled())
        return [{"n": n} for n in range(size)]

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

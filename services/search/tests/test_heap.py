"""Long-lived builds: no collection midway, survivors frozen, the collector's state restored."""

from __future__ import annotations

import gc
import platform
import subprocess
import sys
import textwrap
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


# Frees a 4 MiB block (glibc then raises its sliding threshold to 4 MiB), allocates 1 MiB and
# prints whether that 1 MiB came from its own mmap (mallinfo2's count of mmapped bytes grew).
_PROBE = textwrap.dedent(
    """
    import ctypes, sys
    from twinmcp.search.heap import fix_mmap_threshold

    class Info(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = Info
    fixed = fix_mmap_threshold(int(sys.argv[1]))
    big = bytearray(4 << 20)
    del big
    before = libc.mallinfo2().hblkhd
    block = bytearray(1 << 20)
    print(fixed, libc.mallinfo2().hblkhd - before >= 1 << 20)
    """
)


def _probe(threshold: int) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(threshold)],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    return done.stdout.strip()


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only"
)
def test_a_fixed_mmap_threshold_gives_large_blocks_their_own_mapping_after_a_large_free() -> None:
    # glibc's sliding threshold: after the 4 MiB free, 1 MiB comes from the heap and stays there.
    assert _probe(0) == "False False"
    assert _probe(128 * 1024) == "True True"

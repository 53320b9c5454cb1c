"""Building large, long-lived structures without garbage-collector pauses in the middle.

A search index or a 30,000-entry resolution index is hundreds of thousands of objects that
live until replaced. Allocating them lets the cyclic collector run a full collection over the
whole heap midway (measured: one load of a 5,000-snippet index took 330 ms instead of 20 ms),
and every later full collection scans them again. So the build runs with the collector off,
and what is alive afterwards moves to the permanent generation (`gc.freeze`), which later
collections skip. Reference counting still frees a replaced index at once; only cyclic garbage
alive at the moment of freezing would stay, and builds are rare (a publish, a cold load).
"""

from __future__ import annotations

import ctypes
import gc
import platform
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


_lock = threading.Lock()
_builds = 0  # builds running now, in any thread
_was_enabled = True  # the collector's state before the first of them began


def build_long_lived(build: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`build(*args, **kwargs)` with the collector paused, then the survivors frozen.

    Builds may overlap in worker threads: the collector stays off until the last one ends and
    then returns to the state it had before the first began.
    """
    global _builds, _was_enabled
    with _lock:
        if _builds == 0:
            _was_enabled = gc.isenabled()
        _builds += 1
        gc.disable()
    try:
        return build(*args, **kwargs)
    finally:
        with _lock:
            _builds -= 1
            if _builds == 0 and _was_enabled:
                gc.enable()
            gc.freeze()


def is_building() -> bool:
    """True while a build runs in some thread (the collector is then off on purpose)."""
    with _lock:
        return _builds > 0


# mallopt's parameter number for the mmap threshold (malloc.h).
_M_MMAP_THRESHOLD = -3


def fix_mmap_threshold(threshold_bytes: int) -> bool:
    """Has glibc's malloc serve every allocation of `threshold_bytes` or more by its own mmap,
    so freeing it returns the memory to the system at once. True when set.

    glibc starts at 128 KiB but raises the threshold to the size of each mmapped block freed
    (up to 32 MiB): after the first index load frees its blob, the arrays and buffers of later
    loads come from the heap, and the cache's evictions leave free holes there that the process
    keeps. Measured at 100 libraries under a Zipf workload with a 64 MB index cache: RSS 594 MiB
    with 59 MiB of indexes held, 131 MiB of it free inside malloc's heaps. Setting the threshold
    fixes it (glibc stops adjusting it). Not glibc (musl, macOS): nothing is done, False.
    """
    if threshold_bytes <= 0 or platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(threshold_bytes)))
    except (OSError, AttributeError):
        return False


__all__ = ["build_long_lived", "fix_mmap_threshold", "is_building"]

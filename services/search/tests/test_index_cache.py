"""The cache of loaded version indexes: what it forgets when a build leaves it."""

from __future__ import annotations

from twinmcp.search.domain import IndexCache


async def test_a_dropped_build_forgets_its_load_lock_too() -> None:
    cache = IndexCache(max_bytes=1 << 20)
    lock = cache.lock("build-1")
    async with lock:
        pass
    cache.drop("build-1")
    # A lock kept after the drop would be one leaked asyncio.Lock per replaced build.
    assert cache.lock("build-1") is not lock


async def test_a_build_kept_in_the_cache_keeps_one_lock() -> None:
    cache = IndexCache(max_bytes=1 << 20)
    assert cache.lock("build-1") is cache.lock("build-1")

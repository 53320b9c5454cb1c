"""The cache of loaded version indexes: what it forgets when a build leaves it."""

from __future__ import annotations

import pytest
from twinmcp.search.indexes import IndexCache
from twinmcp.search.ranking import VersionIndex
from twinmcp.search.snippets import SnippetRecord, SnippetTable


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


def _snippet(number: int, content: str) -> SnippetRecord:
    return SnippetRecord(
        snippet_id=f"s{number}",
        kind="info",
        title=f"Title {number}",
        description="",
        language="",
        content=content,
        breadcrumb=("Guide", f"Title {number}"),
        source_path=f"docs/page{number // 3}.md",
        source_url="",
        anchor="",
        tokens=len(content.split()),
    )


def _index(build_id: str, snippets: int = 20, words: int = 50) -> VersionIndex:
    return VersionIndex.build(
        build_id,
        [_snippet(n, " ".join(f"word{n}x{w}" for w in range(words))) for n in range(snippets)],
    )


def test_the_cache_evicts_the_least_recently_used_index_past_its_byte_bound() -> None:
    first, second, third = _index("b1"), _index("b2"), _index("b3")
    cache = IndexCache(max_bytes=first.memory_bytes + second.memory_bytes + 1)
    cache.put(first)
    cache.put(second)
    assert cache.get("b1") is first  # now the most recently used
    cache.put(third)
    assert cache.get("b2") is None
    assert cache.get("b1") is first
    assert cache.get("b3") is third
    assert len(cache) == 2
    assert cache.total_bytes <= cache.max_bytes


def test_the_cache_never_holds_more_than_its_bound_however_many_indexes_come() -> None:
    cache = IndexCache(max_bytes=_index("probe").memory_bytes * 3)
    for number in range(12):
        cache.put(_index(f"b{number}", snippets=10 + number))
        assert cache.total_bytes <= cache.max_bytes
    assert cache.get("b11") is not None
    assert cache.get("b0") is None


def test_an_index_larger_than_the_bound_is_kept_alone_until_the_next_one() -> None:
    big = _index("big", snippets=50)
    cache = IndexCache(max_bytes=big.memory_bytes // 2)
    cache.put(big)
    assert cache.get("big") is big  # a query in flight still gets its index
    cache.put(_index("next", snippets=5))
    assert cache.get("big") is None
    assert len(cache) == 1


def test_an_index_counts_its_snippet_text_in_its_memory_size() -> None:
    short, long = _index("short", words=10), _index("long", words=200)
    text = sum(len(s.content) for s in long.snippets) - sum(len(s.content) for s in short.snippets)
    assert long.memory_bytes - short.memory_bytes >= text


def test_a_stored_index_gives_back_every_snippet_as_it_was_put() -> None:
    snippets = [_snippet(n, f"content {n} ünïcode `code`") for n in range(7)]
    restored = VersionIndex.from_bytes(VersionIndex.build("b1", snippets).to_bytes())
    assert restored is not None
    assert list(restored.snippets) == snippets
    assert restored.snippets[-1] == snippets[-1]
    assert restored.snippets[2:4] == snippets[2:4]
    assert len(restored.snippets) == 7
    with pytest.raises(IndexError):
        restored.snippets[7]


def test_snippet_offsets_that_do_not_match_the_data_are_refused() -> None:
    table = SnippetTable.pack([_snippet(1, "text")])
    with pytest.raises(ValueError, match="offsets"):
        SnippetTable(table.data[:-1], table.offsets)

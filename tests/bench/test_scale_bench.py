"""The scale benchmark's generator, and a tiny run of it against the real search process."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from twinmcp.search.snippets import SnippetRecord
from twinmcp.search.store import snippet_key

from bench import scale_bench
from bench.scale_bench import (
    _SOURCE_NAMES,
    REFERENCE_EVERY,
    database_exists,
    dev_pool,
    library_documents,
    plan_libraries,
    report,
    run,
)
from bench.search_corpus import iter_libraries, library_snippets


def dev_snippets() -> list[SnippetRecord]:
    return [s for library in iter_libraries() for s in library_snippets(library)[0]]


def test_a_plan_sums_to_the_mean_size_and_is_the_same_for_the_same_seed() -> None:
    plan = plan_libraries(120, mean_size=400)
    assert sum(s.size for s in plan) == pytest.approx(120 * 400, rel=0.02)
    assert plan == plan_libraries(120, mean_size=400)
    assert len({s.library_id for s in plan}) == 120
    references = [s for s in plan if s.number % REFERENCE_EVERY == 0]
    assert [s.size for s in references] == [1000, 1000, 1000]  # 2.5 x the mean, at most 5,000
    assert plan_libraries(10, mean_size=400, seed=1) != plan_libraries(10, mean_size=400, seed=2)


def test_a_library_is_pages_of_real_snippet_shapes_under_its_own_name() -> None:
    spec = plan_libraries(3, mean_size=300)[1]
    documents = library_documents(spec, dev_pool())
    snippets = [s for _, _, records in documents for s in records]
    assert len(snippets) == spec.size
    assert [path for path, _, _ in documents] == sorted(path for path, _, _ in documents)
    assert {s.kind for s in snippets} == {"code", "info"}
    for path, _, records in documents:
        assert [s.snippet_id for s in records] == [
            snippet_key(path, n) for n in range(len(records))
        ]
        assert all(s.source_path == path and s.content.strip() for s in records)
    text = " ".join(f"{s.title} {s.content}" for s in snippets)
    assert "fastapi" in " ".join(s.content for s in dev_snippets()).lower()
    assert _SOURCE_NAMES.search(text) is None  # the dev libraries' names became the library's
    assert spec.name in text
    assert all(s.tokens > 0 for s in snippets)
    assert library_documents(spec, dev_pool()) == documents


async def test_a_tiny_run_measures_the_search_process_and_drops_its_database() -> None:
    name = f"twinmcp_scale_test_{uuid.uuid4().hex[:8]}"
    try:
        figures = await run(
            [2, 3],
            mean_size=120,
            queries=40,
            small_cache_mb=16,
            workers=1,
            keep=False,
            database=name,
        )
    finally:
        admin = await asyncpg.connect(scale_bench.ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
    assert [f.libraries for f in figures] == [2, 3, 3]
    assert [f.cache_mb for f in figures] == ["default", "default", "16"]
    small, large, bounded = figures
    assert large.snippets == bounded.snippets > small.snippets > 0
    for f in figures:
        assert len(f.warm_ms) + len(f.cold_ms) + f.answer_cache_hits == 40
        assert f.cold_ms and f.loads_ms  # every index is loaded from the database once at least
        assert f.rss_peak_mib > 0 and f.cache_indexes >= 1
    # The first library is the reference size, loaded once before the workload.
    assert len(large.reference_loads_ms) == 1
    assert large.resolve_ms and not bounded.resolve_ms
    assert not await database_exists(name)
    lines = report(figures)
    assert any(line.startswith("index cache hit rate") for line in lines)

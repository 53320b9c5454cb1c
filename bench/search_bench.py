"""Speed and memory of the search domain, server side (no network between caller and domain).

    .venv/bin/python -m bench.search_bench

Publishes the four eval libraries into a SQLite store, then prints: query latency p50/p95
uncached and cached, the load time of a 5,000-snippet version from its stored index, and the
RSS of the process with all four libraries loaded.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import psutil
from twinmcp.database import create_engine, migrate
from twinmcp.search.cache import MemoryCache
from twinmcp.search.domain import SearchDomain
from twinmcp.search.library import LibraryMeta
from twinmcp.search.server import MIGRATIONS, VERSION_TABLE
from twinmcp.search.snippets import NewSnippet, SnippetRecord
from twinmcp.search.store import Store
from twinmcp.search.vectors import LocalVectorStore

from bench.search_corpus import iter_libraries, library_snippets
from bench.search_quality import load_questions
from bench.search_resolution import QUERIES, load_entries


async def publish(domain: SearchDomain, library_id: str, snippets: list[SnippetRecord]) -> str:
    build_id, _ = await domain.builder.begin_build(
        LibraryMeta(library_id), "latest", make_default=True
    )
    by_path: dict[str, list[NewSnippet]] = defaultdict(list)
    for s in snippets:
        by_path[s.source_path].append(NewSnippet(s, []))
    for path, items in by_path.items():
        await domain.builder.put_document(build_id, path, "", path, items)
    await domain.builder.publish(build_id)
    return build_id


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def main() -> None:
    process = psutil.Process()
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(folder) / 'search.db'}")
        await migrate(engine, MIGRATIONS, VERSION_TABLE)
        cache = MemoryCache()
        domain = SearchDomain(Store(engine), LocalVectorStore(), cache, None)
        everything: list[SnippetRecord] = []
        builds: dict[str, str] = {}
        for library in iter_libraries():
            snippets, chunker = library_snippets(library)
            everything.extend(snippets)
            started = time.perf_counter()
            builds[library] = await publish(domain, "/" + library, snippets)
            print(
                f"published {library}: {len(snippets)} snippets ({chunker}) "
                f"in {time.perf_counter() - started:.2f}s"
            )
        rss_before = process.memory_info().rss
        for build_id in builds.values():
            domain.indexes.cache.drop(build_id)
        rss_empty = process.memory_info().rss
        for build_id in builds.values():
            await domain.indexes.get(build_id)
        rss_loaded = process.memory_info().rss
        print(
            f"RSS with the four libraries loaded: {rss_loaded / 2**20:.0f} MiB "
            f"(index cache accounts {domain.indexes.cache.total_bytes / 2**20:.1f} MiB; "
            f"RSS after publishing {rss_before / 2**20:.0f} MiB, "
            f"before loading {rss_empty / 2**20:.0f} MiB)"
        )

        questions = load_questions()
        uncached: list[float] = []
        cached: list[float] = []
        for _round in range(3):
            for question in questions:
                await cache.close()
                started = time.perf_counter()
                await domain.answerer.query_docs("/" + question.library, "", question.query, 5000)
                uncached.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                answer = await domain.answerer.query_docs(
                    "/" + question.library, "", question.query, 5000
                )
                cached.append((time.perf_counter() - started) * 1000)
                assert answer.is_cached
        print(
            f"query latency uncached: p50 {statistics.median(uncached):.2f} ms, "
            f"p95 {percentile(uncached, 0.95):.2f} ms ({len(uncached)} queries)"
        )
        print(
            f"query latency cached:   p50 {statistics.median(cached):.2f} ms, "
            f"p95 {percentile(cached, 0.95):.2f} ms"
        )

        try:
            from twinmcp.embedding import create_embedder  # noqa: PLC0415  optional here

            embedder = create_embedder({"EMBEDDING_PROVIDER": "auto"})
        except ImportError:
            embedder = None
        if embedder is not None:
            await embedder.embed(["warm up"])
            embeds: list[float] = []
            for question in questions:
                started = time.perf_counter()
                await embedder.embed([question.query])
                embeds.append((time.perf_counter() - started) * 1000)
            print(
                f"query embedding ({embedder.model}), added to uncached hybrid queries: "
                f"p50 {statistics.median(embeds):.2f} ms, p95 {percentile(embeds, 0.95):.2f} ms"
            )
            # The domain keeps query vectors in an LRU: a question asked again (another budget,
            # version or library) skips the model.
            hybrid = SearchDomain(Store(engine), LocalVectorStore(), cache, embedder)
            for question in questions:
                await hybrid.answerer._embed_query(embedder, question.query)
            repeats: list[float] = []
            for question in questions:
                started = time.perf_counter()
                await hybrid.answerer._embed_query(embedder, question.query)
                repeats.append((time.perf_counter() - started) * 1000)
            print(
                "query embedding of a question asked before (domain LRU): "
                f"p50 {statistics.median(repeats):.3f} ms"
            )

        entries = load_entries()
        started = time.perf_counter()
        await domain.builder.import_catalog(entries)
        print(f"ImportCatalog of {len(entries)} entries: {time.perf_counter() - started:.2f}s")
        started = time.perf_counter()
        await domain.catalog.resolver()
        print(f"resolution index built in {time.perf_counter() - started:.2f}s")
        resolves: list[float] = []
        for _round in range(3):
            for name, _expected in QUERIES:
                started = time.perf_counter()
                await domain.catalog.resolve(name, "", 10)
                resolves.append((time.perf_counter() - started) * 1000)
        print(
            f"ResolveLibrary (domain, 30k catalog): p50 {statistics.median(resolves):.2f} ms, "
            f"p95 {percentile(resolves, 0.95):.2f} ms"
        )

        big = list(everything[:5000])
        copy = 0
        while len(big) < 5000:
            # Too few snippets in the corpus: pad with copies under other paths.
            copy += 1
            big += [
                replace(s, source_path=f"copy{copy}/{s.source_path}")
                for s in everything[: 5000 - len(big)]
            ]
        big_build = await publish(domain, "/bench/five-thousand", big)
        loads: list[float] = []
        for _ in range(5):
            domain.indexes.cache.drop(big_build)
            started = time.perf_counter()
            index = await domain.indexes.get(big_build)
            loads.append((time.perf_counter() - started) * 1000)
        print(
            f"load of a {len(index.snippets)}-snippet version from its stored index: "
            f"p50 {statistics.median(loads):.1f} ms, max {max(loads):.1f} ms"
        )
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())

"""Search at scale: how memory, index loads, queries and resolution grow from 10 to 100 to 1,000
libraries (2 million snippets) on PostgreSQL.

    .venv/bin/python -m bench.scale_bench                      # 10 -> 100 -> 1,000 libraries
    .venv/bin/python -m bench.scale_bench --libraries 10,100   # chosen steps
    .venv/bin/python -m bench.scale_bench --quick              # 10 -> 50 small libraries

The libraries are synthetic and seeded, built from real documentation shapes: each snippet
joins the first half of one snippet of the dev corpus (../shared/eval, cut by ingest's chunker)
to the second half of another of the same kind (prose or code), with the dev libraries' names
replaced by the synthetic library's, so lengths, code blocks and vocabulary are those of real
pages. Library sizes are log-normal around 2,000 snippets; every 50th library (the first among
them) has exactly 5,000, the size the cold-load target names.

They are written to a database of their own (`twinmcp_scale`, dropped at the end) as ingest's
publish leaves them: a build per library through the search store's `begin_build`, its
documents and snippet rows by COPY, the index built by the search service's own
`VersionIndex.build` and published through `Store.publish` (which stores the index blob the
service loads). Both package catalogs (30k entries) are imported through `Store.import_catalog`.

At each step the real search process (`python -m twinmcp.search`) starts on the database with
keyword ranking (`EMBEDDING_PROVIDER=none`: vectors for 2 million snippets, 3 GB of float32,
twice, would not fit the run's time on 2 cores) and is measured over gRPC, one call at a time:
ResolveLibrary over the documented libraries and the catalog, a first load of every
5,000-snippet library, then a Zipf-distributed QueryDocs workload (library of rank k asked with
probability ~ 1/k). Cold-load times and what the index cache holds come from the service's own
log lines; RSS is sampled from outside. At the last step the workload runs again with a small
index cache (`--small-cache-mb`) to show the bound holds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import asyncpg
import psutil
from twinmcp.cli.stack import ServiceSpec, Stack, isolated_environment
from twinmcp.database import create_engine, migrate
from twinmcp.runtime.channels import open_channel
from twinmcp.search.library import LibraryMeta, PackageRef
from twinmcp.search.ranking import VersionIndex
from twinmcp.search.server import MIGRATIONS, VERSION_TABLE
from twinmcp.search.snippets import KIND_CODE, SnippetRecord
from twinmcp.search.store import Store, snippet_key
from twinmcp.search.v1 import search_pb2, search_pb2_grpc
from twinmcp.tokens import count_tokens

from bench.search_corpus import iter_libraries, library_snippets
from bench.search_quality import load_questions
from bench.search_resolution import QUERIES, load_entries

ADMIN_DSN = os.environ.get(
    "TWINMCP_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
DATABASE = "twinmcp_scale"
SEED = 18
MEAN_SNIPPETS = 2_000  # 1,000 libraries -> 2 million snippets
REFERENCE_SIZE = 5_000  # the size the cold-load target names
REFERENCE_EVERY = 50
ZIPF_EXPONENT = 1.0
# The dev libraries' names, replaced by each synthetic library's own.
_SOURCE_NAMES = re.compile(r"\b(?:fastapi|FastAPI|flask|Flask|httpx|HTTPX|pydantic|Pydantic)\b")
_SECTIONS = ("guide", "tutorial", "reference", "api", "advanced", "howto", "concepts", "deploy")
_SLUG = re.compile(r"[^a-z0-9]+")
_LOADED = re.compile(
    r"loaded index (\w+) \((\d+) snippets\) in ([\d.]+) ms; the index cache holds (\d+) "
    r"indexes, ([\d.]+) of ([\d.]+) MiB"
)
_SNIPPET_COLUMNS = (
    "document_id", "build_id", "ordinal", "snippet_id", "kind", "title", "description",
    "language", "content", "breadcrumb", "source_path", "source_url", "anchor", "tokens",
)  # fmt: skip


# ---- synthetic libraries ---------------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """A dev-corpus snippet cut in two, its text split around the dev libraries' names."""

    kind: str
    title: list[str]
    description: list[str]
    language: str
    head: list[str]
    tail: list[str]
    joiner: str
    title_tokens: int
    description_tokens: int
    head_tokens: int
    tail_tokens: int


@dataclass(frozen=True)
class SnippetPool:
    prose: list[Piece]
    code: list[Piece]
    words: list[str]  # title words, to vary queries


def _halves(content: str) -> tuple[str, str, str]:
    lines = content.split("\n")
    if len(lines) >= 2:
        cut = len(lines) // 2
        return "\n".join(lines[:cut]), "\n".join(lines[cut:]), "\n"
    words = content.split(" ")
    cut = max(len(words) // 2, 1)
    return " ".join(words[:cut]), " ".join(words[cut:]), " "


def pool_from(snippets: Sequence[SnippetRecord]) -> SnippetPool:
    prose: list[Piece] = []
    code: list[Piece] = []
    words: set[str] = set()
    for s in snippets:
        head, tail, joiner = _halves(s.content)
        piece = Piece(
            kind=s.kind,
            title=_SOURCE_NAMES.split(s.title),
            description=_SOURCE_NAMES.split(s.description),
            language=s.language,
            head=_SOURCE_NAMES.split(head),
            tail=_SOURCE_NAMES.split(tail),
            joiner=joiner,
            title_tokens=count_tokens(s.title),
            description_tokens=count_tokens(s.description),
            head_tokens=count_tokens(head),
            tail_tokens=count_tokens(tail),
        )
        (code if s.kind == KIND_CODE else prose).append(piece)
        words.update(w.lower() for w in re.findall(r"[A-Za-z]{5,}", s.title))
    return SnippetPool(prose, code, sorted(words - {"fastapi", "flask", "httpx", "pydantic"}))


_POOL: SnippetPool | None = None


def dev_pool() -> SnippetPool:
    """The pool cut from the four dev libraries (loaded once per process)."""
    global _POOL
    if _POOL is None:
        snippets: list[SnippetRecord] = []
        for library in iter_libraries():
            snippets.extend(library_snippets(library)[0])
        _POOL = pool_from(snippets)
    return _POOL


@dataclass(frozen=True)
class LibrarySpec:
    number: int
    name: str
    owner: str
    size: int
    registry: str
    stars: int

    @property
    def library_id(self) -> str:
        return f"/{self.owner}/{self.name}"

    @property
    def seed(self) -> int:
        return SEED * 1_000_003 + self.number


def _word(rng: random.Random, syllables: int) -> str:
    onsets = ("b", "c", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br",
              "cr", "dr", "st", "tr", "pl", "qu", "sh", "th")  # fmt: skip
    vowels = ("a", "e", "i", "o", "u", "ai", "io", "ea")
    return "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(syllables)) + rng.choice(
        ("", "", "n", "x", "r", "s", "l")
    )


def plan_libraries(
    count: int, mean_size: int = MEAN_SNIPPETS, seed: int = SEED
) -> list[LibrarySpec]:
    """`count` libraries whose sizes sum to `count * mean_size`; a prefix of a longer plan is
    the plan of fewer libraries only in names, so steps reuse what earlier steps wrote."""
    rng = random.Random(seed)
    reference = min(REFERENCE_SIZE, mean_size * 5 // 2)
    raw = [rng.lognormvariate(0.0, 1.0) for _ in range(count)]
    fixed = [i for i in range(count) if i % REFERENCE_EVERY == 0]
    free = [i for i in range(count) if i % REFERENCE_EVERY != 0]
    left = max(count * mean_size - reference * len(fixed), len(free) * 20)
    scale = left / (sum(raw[i] for i in free) or 1.0)
    sizes = [reference] * count
    for i in free:
        sizes[i] = max(20, min(int(raw[i] * scale), 40_000))
    names: set[str] = set()
    specs = []
    for number in range(count):
        while True:
            name = _word(rng, rng.choice((2, 2, 3)))
            if name not in names and len(name) >= 4:
                names.add(name)
                break
        specs.append(
            LibrarySpec(
                number=number,
                name=name,
                owner=f"{_word(rng, 2)}-{'labs' if number % 3 else 'dev'}",
                size=sizes[number],
                registry=rng.choice(("pypi", "npm")),
                stars=int(rng.paretovariate(0.8) * 10),
            )
        )
    return specs


def _text(parts: list[str], name: str) -> str:
    return name.join(parts) if len(parts) > 1 else parts[0]


def library_documents(
    spec: LibrarySpec, pool: SnippetPool
) -> list[tuple[str, str, list[SnippetRecord]]]:
    """The library's pages as (path, title, snippets) in path order; snippet ids as the store
    gives them."""
    rng = random.Random(spec.seed)
    pages: dict[str, tuple[str, list[SnippetRecord]]] = {}
    left = spec.size
    page_number = 0
    while left > 0:
        count = min(left, rng.randint(3, 40))
        left -= count
        page_number += 1
        code_share = rng.uniform(0.3, 0.7)
        first = rng.choice(pool.prose)
        page_title = _text(first.title, spec.name) or f"Page {page_number}"
        slug = _SLUG.sub("-", page_title.lower()).strip("-")[:40] or "page"
        path = f"docs/{rng.choice(_SECTIONS)}/{slug}-{page_number}.md"
        path_tokens = count_tokens(path)
        records: list[SnippetRecord] = []
        for ordinal in range(count):
            group = pool.code if rng.random() < code_share else pool.prose
            a, b = rng.choice(group), rng.choice(group)
            title = _text(a.title, spec.name)
            content = _text(a.head, spec.name) + a.joiner + _text(b.tail, spec.name)
            records.append(
                SnippetRecord(
                    snippet_id=snippet_key(path, ordinal),
                    kind=a.kind,
                    title=title,
                    description=_text(a.description, spec.name),
                    language=a.language,
                    content=content,
                    breadcrumb=(page_title, title) if title != page_title else (page_title,),
                    source_path=path,
                    source_url="",
                    anchor="",
                    tokens=a.title_tokens
                    + a.description_tokens
                    + a.head_tokens
                    + b.tail_tokens
                    + path_tokens,
                )
            )
        pages[path] = (page_title, records)
    return [(path, *pages[path]) for path in sorted(pages)]


def library_meta(spec: LibrarySpec) -> LibraryMeta:
    return LibraryMeta(
        library_id=spec.library_id,
        title=spec.name.capitalize(),
        description=f"{spec.name.capitalize()}: a synthetic library of the scale benchmark",
        trust_score=7.0 if spec.stars > 100 else 4.0,
        stars=spec.stars,
        package_names=(spec.name,),
        packages=(PackageRef(spec.registry, spec.name),),
    )


# ---- writing to PostgreSQL -------------------------------------------------------------------


@dataclass(frozen=True)
class Written:
    spec: LibrarySpec
    build_id: str
    snippets: int
    seconds_generate: float
    seconds_copy: float
    seconds_index: float
    seconds_publish: float


async def write_library(store: Store, spec: LibrarySpec, pool: SnippetPool) -> Written:
    """One library as ingest's publish leaves it: build, documents, snippet rows, index blob."""
    started = time.perf_counter()
    documents = library_documents(spec, pool)
    generated = time.perf_counter()
    build, _ = await store.begin_build(library_meta(spec), "latest", make_default=True)
    async with store.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver: asyncpg.Connection = raw.driver_connection  # type: ignore[assignment]
        ids = await driver.fetch(
            "INSERT INTO search_documents (build_id, path, content_hash, title) "
            "SELECT $1, p, '', t FROM unnest($2::text[], $3::text[]) AS d(p, t) "
            "RETURNING id, path",
            build.build_id,
            [path for path, _, _ in documents],
            [title for _, title, _ in documents],
        )
        document_id = {row["path"]: row["id"] for row in ids}
        rows = [
            (
                document_id[path], build.build_id, ordinal, s.snippet_id, s.kind, s.title,
                s.description, s.language, s.content, json.dumps(list(s.breadcrumb)),
                s.source_path, s.source_url, s.anchor, s.tokens,
            )
            for path, _, records in documents
            for ordinal, s in enumerate(records)
        ]  # fmt: skip
        await driver.copy_records_to_table(
            "search_snippets", records=rows, columns=list(_SNIPPET_COLUMNS)
        )
        await connection.commit()
    copied = time.perf_counter()
    snippets = [s for _, _, records in documents for s in records]
    index = VersionIndex.build(build.build_id, snippets)
    indexed = time.perf_counter()
    count, _ = await store.publish(build, index)
    return Written(
        spec,
        build.build_id,
        count,
        generated - started,
        copied - generated,
        indexed - copied,
        time.perf_counter() - indexed,
    )


async def _write_chunk(url: str, specs: Sequence[LibrarySpec]) -> list[Written]:
    engine = create_engine(url, pool_size=2)
    try:
        store = Store(engine)
        pool = dev_pool()
        return [await write_library(store, spec, pool) for spec in specs]
    finally:
        await engine.dispose()


def write_chunk(url: str, specs: Sequence[LibrarySpec]) -> list[Written]:
    """A worker process's share of the libraries (its own engine and event loop)."""
    return asyncio.run(_write_chunk(url, specs))


def write_libraries(url: str, specs: Sequence[LibrarySpec], workers: int) -> list[Written]:
    """Writes the libraries in `workers` processes (in this one when 1)."""
    if not specs:
        return []
    if workers <= 1:
        return write_chunk(url, specs)
    # Chunks of about a tenth of a worker's share: the big libraries spread over the workers.
    ordered = sorted(specs, key=lambda s: -s.size)
    chunk_count = min(len(ordered), workers * 10)
    chunks = [ordered[i::chunk_count] for i in range(chunk_count)]
    written: list[Written] = []
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as executor:
        for part in executor.map(write_chunk, itertools.repeat(url), chunks):
            written.extend(part)
    return sorted(written, key=lambda w: w.spec.number)


# ---- the database ----------------------------------------------------------------------------


def database_url(name: str, admin_dsn: str = ADMIN_DSN) -> str:
    return f"{admin_dsn.rsplit('/', 1)[0]}/{name}"


async def create_database(name: str, admin_dsn: str = ADMIN_DSN) -> str:
    """A fresh, migrated database `name` (dropped first if it exists); returns its URL."""
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = database_url(name, admin_dsn)
    engine = create_engine(url.replace("postgresql://", "postgresql+asyncpg://", 1))
    try:
        await migrate(engine, MIGRATIONS, VERSION_TABLE)
    finally:
        await engine.dispose()
    return url


async def drop_database(name: str, admin_dsn: str = ADMIN_DSN) -> None:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def existing_libraries(url: str, plan: Sequence[LibrarySpec]) -> list[Written]:
    """The plan's libraries a kept database already holds (a prefix of the plan), for --reuse."""
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT library_id, build_id, snippet_count FROM search_builds "
            "WHERE state = 'published'"
        )
    finally:
        await connection.close()
    found = {row["library_id"]: (row["build_id"], int(row["snippet_count"])) for row in rows}
    written = []
    for spec in plan:
        if spec.library_id not in found:
            break
        build_id, count = found[spec.library_id]
        written.append(Written(spec, build_id, count, 0.0, 0.0, 0.0, 0.0))
    return written


async def database_exists(name: str, admin_dsn: str = ADMIN_DSN) -> bool:
    admin = await asyncpg.connect(admin_dsn)
    try:
        return bool(await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await admin.close()


async def database_bytes(url: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        return int(await connection.fetchval("SELECT pg_database_size(current_database())"))
    finally:
        await connection.close()


async def import_catalog(url: str) -> int:
    engine = create_engine(url.replace("postgresql://", "postgresql+asyncpg://", 1))
    try:
        return await Store(engine).import_catalog(load_entries())
    finally:
        await engine.dispose()


# ---- measuring the search process ------------------------------------------------------------


@dataclass
class Load:
    build_id: str
    snippets: int
    ms: float
    cached_indexes: int
    cached_mib: float
    cache_mib: float


class LogTail:
    """The index loads the search process logged since the last read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = ""

    def read(self) -> list[Load]:
        if not self.path.exists():
            return []
        with self.path.open(errors="replace") as handle:
            handle.seek(self.offset)
            text = handle.read()
            self.offset = handle.tell()
        text, self.partial = self.partial + text, ""
        lines = text.split("\n")
        if not text.endswith("\n"):
            self.partial = lines.pop()
        loads = []
        for line in lines:
            found = _LOADED.search(line)
            if found:
                loads.append(
                    Load(
                        found[1], int(found[2]), float(found[3]), int(found[4]),
                        float(found[5]), float(found[6]),
                    )
                )  # fmt: skip
        return loads


class RssSampler:
    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._task: asyncio.Task[None] | None = None

    def now(self) -> int:
        rss = int(self.process.memory_info().rss)
        self.peak = max(self.peak, rss)
        return rss

    async def _run(self) -> None:
        while True:
            self.now()
            await asyncio.sleep(0.1)

    def start(self) -> None:
        self.peak = 0
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@contextlib.asynccontextmanager
async def search_process(
    url: str, cache_mb: int | None, service_env: dict[str, str] | None = None
) -> AsyncIterator[tuple[Stack, Path]]:
    """`python -m twinmcp.search` on the database, logging to a file; yields it and the log."""
    with tempfile.TemporaryDirectory(prefix="twinmcp-scale-") as data:
        extra = {
            "DATABASE_URL": url,
            "EMBEDDING_PROVIDER": "none",
            "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "text",
            **(service_env or {}),
        }
        if cache_mb is not None:
            extra["SEARCH_INDEX_CACHE_MB"] = str(cache_mb)
        env = isolated_environment(os.environ, data, **extra)
        if cache_mb is None:
            env.pop("SEARCH_INDEX_CACHE_MB", None)  # the service's default, whatever is set here
        stack = Stack(env, log_dir=Path(data))
        spec = ServiceSpec("search", "twinmcp.search", "SEARCH_GRPC_PORT")
        try:
            await stack.start([spec], timeout=120)
            yield stack, stack.log_path("search")
        finally:
            await stack.stop()


def percentile(values: Sequence[float], share: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass
class Figures:
    libraries: int = 0
    snippets: int = 0
    database_mib: float = 0.0
    write_seconds: float = 0.0
    cache_mb: str = "default"
    rss_start_mib: float = 0.0
    rss_resolver_mib: float = 0.0
    rss_peak_mib: float = 0.0
    rss_end_mib: float = 0.0
    cache_indexes: int = 0
    cache_mib: float = 0.0
    cache_max_mib: float = 0.0
    resolver_first_ms: float = 0.0
    resolve_ms: list[float] = field(default_factory=list)
    reference_loads_ms: list[float] = field(default_factory=list)
    loads_ms: list[float] = field(default_factory=list)
    warm_ms: list[float] = field(default_factory=list)
    cold_ms: list[float] = field(default_factory=list)
    answer_cache_hits: int = 0
    queries: int = 0
    seconds: float = 0.0

    @property
    def hit_rate(self) -> float:
        asked = len(self.warm_ms) + len(self.cold_ms)
        return len(self.warm_ms) / asked if asked else math.nan


def resolve_names(specs: Sequence[LibrarySpec], rng: random.Random) -> list[str]:
    """Documented names as asked, some with a typo (two letters swapped), and the catalog
    names of bench.search_resolution."""
    names = []
    for spec in rng.sample(list(specs), min(len(specs), 40)):
        names.append(spec.name)
        letters = list(spec.name)
        i = rng.randrange(1, len(letters) - 1)
        letters[i], letters[i + 1] = letters[i + 1], letters[i]
        names.append("".join(letters))
    names.extend(name for name, _ in QUERIES)
    return names


def questions_for(
    spec: LibrarySpec, questions: Sequence[str], pool: SnippetPool, rng: random.Random
) -> str:
    """A dev question about the library, with one more word so answers are not cached."""
    text = _SOURCE_NAMES.sub(spec.name, rng.choice(questions))
    return f"{text} {rng.choice(pool.words)}"


async def measure(
    url: str,
    written: Sequence[Written],
    *,
    cache_mb: int | None,
    queries: int,
    resolution: bool = True,
    seed: int = SEED,
    service_env: dict[str, str] | None = None,
) -> Figures:
    """Starts the search process on the database and measures it (see the module docstring)."""
    figures = Figures(
        libraries=len(written),
        snippets=sum(w.snippets for w in written),
        cache_mb="default" if cache_mb is None else str(cache_mb),
    )
    started = time.perf_counter()
    rng = random.Random(seed)
    pool = dev_pool()
    questions = [q.query for q in load_questions()]
    by_build = {w.build_id: w for w in written}
    async with search_process(url, cache_mb, service_env) as (stack, log):
        tail = LogTail(log)
        rss = RssSampler(stack.processes["search"].pid)
        figures.rss_start_mib = rss.now() / 2**20
        async with open_channel(stack.env["SEARCH_ADDR"]) as channel:
            stub = search_pb2_grpc.SearchServiceStub(channel)
            if resolution:
                begun = time.perf_counter()
                await stub.ResolveLibrary(
                    search_pb2.ResolveLibraryRequest(library_name="warm up"), timeout=120
                )
                figures.resolver_first_ms = (time.perf_counter() - begun) * 1000
                for name in resolve_names([w.spec for w in written], rng):
                    begun = time.perf_counter()
                    await stub.ResolveLibrary(
                        search_pb2.ResolveLibraryRequest(library_name=name), timeout=30
                    )
                    figures.resolve_ms.append((time.perf_counter() - begun) * 1000)
            figures.rss_resolver_mib = rss.now() / 2**20
            rss.start()

            async def ask(item: Written) -> tuple[float, list[Load], bool]:
                request = search_pb2.QueryDocsRequest(
                    library_id=item.spec.library_id,
                    query=questions_for(item.spec, questions, pool, rng),
                    tokens=5000,
                )
                begun = time.perf_counter()
                reply = await stub.QueryDocs(request, timeout=60)
                elapsed = (time.perf_counter() - begun) * 1000
                return elapsed, tail.read(), reply.is_cached

            # A first load of each 5,000-snippet library (none is in the cache yet).
            for item in written:
                if item.spec.number % REFERENCE_EVERY == 0:
                    _, loads, _ = await ask(item)
                    figures.reference_loads_ms += [
                        x.ms for x in loads if x.build_id == item.build_id
                    ]
            # The Zipf workload: popularity independent of size (a seeded shuffle).
            ranked = list(written)
            rng.shuffle(ranked)
            weights = list(
                itertools.accumulate(1 / (k**ZIPF_EXPONENT) for k in range(1, len(ranked) + 1))
            )
            for item in rng.choices(ranked, cum_weights=weights, k=queries):
                elapsed, loads, is_cached = await ask(item)
                figures.loads_ms += [x.ms for x in loads]
                if loads:
                    last = loads[-1]
                    figures.cache_indexes, figures.cache_mib = last.cached_indexes, last.cached_mib
                    figures.cache_max_mib = last.cache_mib
                if is_cached:
                    figures.answer_cache_hits += 1
                elif any(x.build_id == item.build_id for x in loads):
                    figures.cold_ms.append(elapsed)
                else:
                    figures.warm_ms.append(elapsed)
            figures.queries = queries
        await rss.stop()
        figures.rss_end_mib = rss.now() / 2**20
        figures.rss_peak_mib = rss.peak / 2**20
        unknown = [x for x in tail.read() if x.build_id not in by_build]
        if unknown:
            print(f"  (the log named {len(unknown)} loads of builds this run did not write)")
    figures.seconds = time.perf_counter() - started
    return figures


# ---- the report ------------------------------------------------------------------------------


def _ms(values: Sequence[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.1f} / {percentile(values, 0.99):.1f}"


def report(figures: Sequence[Figures]) -> list[str]:
    rows: list[tuple[str, Any]] = [
        ("libraries", lambda f: f"{f.libraries:,}"),
        ("snippets", lambda f: f"{f.snippets:,}"),
        ("database MiB", lambda f: f"{f.database_mib:,.0f}"),
        ("written in s (this step)", lambda f: f"{f.write_seconds:.0f}"),
        ("index cache MB setting", lambda f: f.cache_mb),
        ("RSS at start MiB", lambda f: f"{f.rss_start_mib:.0f}"),
        ("RSS with resolver MiB", lambda f: f"{f.rss_resolver_mib:.0f}"),
        ("RSS peak under workload MiB", lambda f: f"{f.rss_peak_mib:.0f}"),
        ("RSS at end MiB", lambda f: f"{f.rss_end_mib:.0f}"),
        ("cache: indexes / MiB accounted", lambda f: f"{f.cache_indexes} / {f.cache_mib:.0f}"),
        ("index cache hit rate (Zipf)", lambda f: f"{f.hit_rate:.3f}"),
        ("cold load, 5,000 snippets p50 / p99 ms", lambda f: _ms(f.reference_loads_ms)),
        ("  (loads of 5,000 measured)", lambda f: str(len(f.reference_loads_ms))),
        ("cold load, any size p50 / p99 ms", lambda f: _ms(f.loads_ms)),
        ("query warm p50 / p99 ms", lambda f: _ms(f.warm_ms)),
        ("query cold p50 / p99 ms", lambda f: _ms(f.cold_ms)),
        (
            "  queries warm / cold / answer cache",
            lambda f: f"{len(f.warm_ms)} / {len(f.cold_ms)} / {f.answer_cache_hits}",
        ),
        ("ResolveLibrary first call ms", lambda f: f"{f.resolver_first_ms:.0f}"),
        ("ResolveLibrary p50 / p99 ms", lambda f: _ms(f.resolve_ms)),
        ("measured in s", lambda f: f"{f.seconds:.0f}"),
    ]
    width = max(len(label) for label, _ in rows)
    lines = []
    for label, value in rows:
        cells = [str(value(f)) for f in figures]
        lines.append(f"{label:<{width}}  " + "  ".join(f"{c:>16}" for c in cells))
    return lines


async def run(
    steps: Sequence[int],
    *,
    mean_size: int,
    queries: int,
    small_cache_mb: int,
    workers: int,
    keep: bool,
    reuse: bool = False,
    service_env: dict[str, str] | None = None,
    admin_dsn: str = ADMIN_DSN,
    database: str = DATABASE,
) -> list[Figures]:
    plan = plan_libraries(max(steps), mean_size)
    total = time.perf_counter()
    written: list[Written] = []
    if reuse and await database_exists(database, admin_dsn):
        url = database_url(database, admin_dsn)
        written = await existing_libraries(url, plan)
        print(f"database {database} kept from an earlier run: {len(written)} libraries")
    else:
        url = await create_database(database, admin_dsn)
        print(f"database {database} created; importing the package catalogs", flush=True)
        began = time.perf_counter()
        entries = await import_catalog(url)
        print(f"  {entries:,} catalog entries in {time.perf_counter() - began:.1f}s", flush=True)
    async_url = url.replace("postgresql://", "postgresql+asyncpg://", 1)
    results: list[Figures] = []
    try:
        for step in steps:
            new = plan[len(written) : step]
            if not new and step < len(written):
                raise SystemExit(f"--reuse: the kept database holds more than {step} libraries")
            began = time.perf_counter()
            fresh = await asyncio.to_thread(write_libraries, async_url, new, workers)
            written.extend(fresh)
            seconds = time.perf_counter() - began
            snippets = sum(w.snippets for w in fresh)
            print(
                f"step {step}: wrote {len(fresh)} libraries, {snippets:,} snippets in "
                f"{seconds:.0f}s ({snippets / max(seconds, 1e-9):,.0f} snippets/s; per library "
                f"summed over workers: generate {sum(w.seconds_generate for w in fresh):.0f}s, "
                f"COPY {sum(w.seconds_copy for w in fresh):.0f}s, index build "
                f"{sum(w.seconds_index for w in fresh):.0f}s, publish "
                f"{sum(w.seconds_publish for w in fresh):.0f}s)",
                flush=True,
            )
            size = await database_bytes(url)
            figures = await measure(
                url, written, cache_mb=None, queries=queries, service_env=service_env
            )
            figures.database_mib = size / 2**20
            figures.write_seconds = seconds
            results.append(figures)
            print(f"  measured in {figures.seconds:.0f}s", flush=True)
            for line in report([figures]):
                print(f"    {line}", flush=True)
        bounded = await measure(
            url,
            written,
            cache_mb=small_cache_mb,
            queries=queries,
            resolution=False,
            service_env=service_env,
        )
        bounded.database_mib = results[-1].database_mib
        results.append(bounded)
        print(f"  with a {small_cache_mb} MB index cache: measured in {bounded.seconds:.0f}s")
    finally:
        if not keep:
            await drop_database(database, admin_dsn)
    print(f"total {time.perf_counter() - total:.0f}s")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--libraries", default="10,100,1000", help="steps, comma-separated")
    parser.add_argument("--mean-snippets", type=int, default=MEAN_SNIPPETS)
    parser.add_argument("--queries", type=int, default=2000, help="Zipf workload per step")
    parser.add_argument("--small-cache-mb", type=int, default=256)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--quick", action="store_true", help="10 -> 50 libraries of ~300 snippets")
    parser.add_argument("--keep", action="store_true", help=f"leave the {DATABASE} database")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure a database kept by --keep (same plan), writing only what it lacks",
    )
    parser.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment of the search process (repeatable)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.libraries, args.mean_snippets, args.queries = "10,50", 300, 300
    try:
        steps = sorted({int(s) for s in args.libraries.split(",") if s.strip()})
    except ValueError:
        parser.error(f"--libraries takes numbers separated by commas, not {args.libraries!r}")
    if not steps or steps[0] < 1:
        parser.error("--libraries needs at least one step of one library or more")
    service_env = {}
    for item in args.service_env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--service-env takes NAME=VALUE, not {item!r}")
        service_env[name] = value
    results = asyncio.run(
        run(
            steps,
            mean_size=args.mean_snippets,
            queries=args.queries,
            small_cache_mb=args.small_cache_mb,
            workers=args.workers,
            keep=args.keep,
            reuse=args.reuse,
            service_env=service_env,
        )
    )
    print(
        f"\nZipf workload of {args.queries} QueryDocs (5,000 tokens) per step, one at a time, "
        "keyword ranking; the last column repeats the largest step with a "
        f"{args.small_cache_mb} MB index cache. p50 / p99:"
    )
    for line in report(results):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

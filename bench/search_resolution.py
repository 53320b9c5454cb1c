"""Library resolution accuracy (top-1) and latency over the 30k-entry eval catalog.

.venv/bin/python -m bench.search_resolution
"""

from __future__ import annotations

import csv
import statistics
import time
from datetime import UTC, datetime

from twinmcp.search.identity import build_resolver
from twinmcp.search.library import CatalogEntry, LibraryInfo, LibraryMeta, VersionInfo
from twinmcp.search.resolution import Resolver

from bench.search_corpus import CATALOG_DIR

DOCUMENTED = [
    ("/fastapi/fastapi", "FastAPI", ["fastapi"], 90000, 2000),
    ("/pallets/flask", "Flask", ["flask"], 70000, 1200),
    ("/encode/httpx", "HTTPX", ["httpx"], 14000, 500),
    ("/pydantic/pydantic", "Pydantic", ["pydantic"], 25000, 1600),
    ("/vercel/next.js", "Next.js", ["next"], 130000, 3000),
    # A fork and a clone: documented, but they must rank below the originals.
    ("/someuser/fastapi", "fastapi", [], 3, 40),
    ("/mirror/flask-clone", "flask", [], 0, 30),
]

# (query, expected library id) — names, package != repo, variants, typos, descriptions, versions.
# A few descriptions have more than one right answer; ACCEPTED lists the others.
QUERIES: list[tuple[str, str]] = [
    ("fastapi", "/fastapi/fastapi"),
    ("FastAPI", "/fastapi/fastapi"),
    ("fast api", "/fastapi/fastapi"),
    ("fastapi 0.110", "/fastapi/fastapi"),
    ("fastpai", "/fastapi/fastapi"),
    ("flask", "/pallets/flask"),
    ("Flask 3", "/pallets/flask"),
    ("httpx", "/encode/httpx"),
    ("pydantic", "/pydantic/pydantic"),
    ("pydnatic", "/pydantic/pydantic"),
    ("pydantic v2", "/pydantic/pydantic"),
    ("Next.js", "/vercel/next.js"),
    ("nextjs", "/vercel/next.js"),
    ("next-js", "/vercel/next.js"),
    ("next", "/vercel/next.js"),
    ("requests", "/pypi/requests"),
    ("reqeusts", "/pypi/requests"),
    ("numpy", "/pypi/numpy"),
    ("nunpy", "/pypi/numpy"),
    ("pandas", "/pypi/pandas"),
    ("react", "/npm/react"),
    ("vue 3", "/npm/vue"),
    ("vuejs", "/npm/vue"),
    ("express", "/npm/express"),
    ("expressjs", "/npm/express"),
    ("lodash", "/npm/lodash"),
    ("axois", "/npm/axios"),
    ("tailwind css", "/npm/tailwindcss"),
    ("scikit learn", "/pypi/scikit-learn"),
    ("sqlalchemy", "/pypi/sqlalchemy"),
    ("SQL Alchemy", "/pypi/sqlalchemy"),
    ("beautiful soup", "/pypi/beautifulsoup4"),
    ("pyyaml", "/pypi/pyyaml"),
    ("dayjs", "/npm/dayjs"),
    ("typescript", "/npm/typescript"),
    ("python terminal formatting library", "/pypi/rich"),
    ("python http client", "/pypi/requests"),
    ("javascript date library", "/npm/moment"),
    ("typescript schema validation", "/npm/zod"),
    ("python data validation using type hints", "/pydantic/pydantic"),
    ("aws sdk for python", "/pypi/boto3"),
    ("asgi server", "/pypi/uvicorn"),
]


# More descriptions, written on 2026-11-24 to tune how popularity, reach and what other
# packages say weigh against wording (ACCEPTED lists their other right answers).
TUNING: list[tuple[str, str]] = [
    ("python web framework", "/pypi/django"),
    ("python progress bar", "/pypi/tqdm"),
    ("python linter", "/pypi/ruff"),
    ("python code formatter", "/pypi/black"),
    ("javascript bundler", "/npm/webpack"),
    ("node logging library", "/npm/winston"),
    ("python retry library", "/pypi/tenacity"),
    ("javascript utility library", "/npm/lodash"),
    ("python async http client", "/pypi/aiohttp"),
    ("react state management", "/npm/redux"),
    ("python numerical computing", "/pypi/numpy"),
    ("python plotting library", "/pypi/matplotlib"),
    ("python html parser", "/pypi/beautifulsoup4"),
    ("node command line argument parser", "/npm/commander"),
    ("load environment variables from a .env file in python", "/pypi/python-dotenv"),
    ("javascript unique id generator", "/npm/uuid"),
    ("python deep learning framework", "/pypi/torch"),
    ("utility-first css framework", "/npm/tailwindcss"),
    ("python distributed task queue", "/pypi/celery"),
    ("javascript linter", "/npm/eslint"),
]

# Names as people say them, not as registries spell them, written on 2026-12-04 (before the
# change they tune) on other libraries than the held-out cases of the same kinds: a registry
# naming convention around the common name ("dateutil" is python-dateutil), a scoped npm family
# asked by its scope ("@angular" means @angular/core), and a package named with its brand
# ("amazon sagemaker"); checked with QUERIES, scored like them.
NAMING: list[tuple[str, str]] = [
    ("dateutil", "/pypi/python-dateutil"),
    ("pptx", "/pypi/python-pptx"),
    ("uglify", "/npm/uglify-js"),
    ("gitlab", "/pypi/python-gitlab"),
    ("snowflake connector", "/pypi/snowflake-connector-python"),
    ("@angular", "/npm/angular__core"),
    ("@babel", "/npm/babel__core"),
    ("swc", "/npm/swc__core"),
    ("tiptap", "/npm/tiptap__core"),
    ("dnd kit", "/npm/dnd-kit__core"),
    ("vueuse", "/npm/vueuse__core"),
    ("amazon sagemaker", "/pypi/sagemaker"),
    ("plotly dash", "/pypi/dash"),
    ("jupyter notebook", "/pypi/notebook"),
    ("vue router", "/npm/vue-router"),
    ("google cloud storage", "/pypi/google-cloud-storage"),
]

# A maker's name before the package's, as people say them ("Hugging Face Tokenizers"), written
# on 2026-12-04 before the change they tune, on packages other than the held-out cases; the last
# four already resolved then and must keep resolving.
BRANDS: list[tuple[str, str]] = [
    ("facebook react", "/npm/react"),
    ("microsoft playwright", "/npm/playwright"),
    ("google protobuf", "/pypi/protobuf"),
    ("microsoft typescript", "/npm/typescript"),
    ("google tensorflow", "/pypi/tensorflow"),
    ("hugging face tokenizers", "/pypi/tokenizers"),
    ("palantir blueprint", "/npm/blueprintjs__core"),
    ("google angular", "/npm/angular__core"),
    ("pallets jinja", "/pypi/jinja2"),
    ("psf requests", "/pypi/requests"),
    ("stripe node", "/npm/stripe"),
    ("twilio python", "/pypi/twilio"),
]

# A package asked for by the initials of how its summary names it ("Python Imaging Library"),
# written on 2026-12-05 before the change they tune, on packages other than the held-out cases.
ACRONYMS: list[tuple[str, str]] = [
    ("GCS", "/pypi/google-cloud-storage"),
    ("ADK", "/pypi/google-adk"),
    ("CDK", "/npm/aws-cdk-lib"),
    ("JWT", "/pypi/pyjwt"),
    ("GRPC", "/pypi/grpcio"),
    ("JOSE", "/pypi/python-jose"),
]

# A scoped npm package said as words ("jest globals" is @jest/globals): the words joined spell
# the scoped name, and the last word alone names another, more used package (npm's globals).
# Written on 2026-12-06 on other packages than the held-out cases, to check that a maker's
# reading of such words ("hugging face transformers") cannot take them from the scoped package.
SCOPED: list[tuple[str, str]] = [
    ("jest globals", "/npm/jest__globals"),
    ("tailwindcss postcss", "/npm/tailwindcss__postcss"),
    ("storybook semver", "/npm/storybook__semver"),
    ("discordjs ws", "/npm/discordjs__ws"),
    ("bufbuild protobuf", "/npm/bufbuild__protobuf"),
    ("octokit rest", "/npm/octokit__rest"),
    ("langchain openai", "/npm/langchain__openai"),
    ("ai sdk anthropic", "/npm/ai-sdk__anthropic"),
    ("upstash redis", "/npm/upstash__redis"),
    ("sentry react", "/npm/sentry__react"),
    ("huggingface inference", "/npm/huggingface__inference"),
    ("xenova transformers", "/npm/xenova__transformers"),
    ("vitest pretty format", "/npm/vitest__pretty-format"),
    ("angular core", "/npm/angular__core"),
]

# Descriptions kept out of all tuning: they say how well description matching generalises.
# The first ten were written before the resolver was tuned on QUERIES, the rest on 2026-11-24
# before TUNING was used; each was scored twice (before and after that session's change).
HELD_OUT: list[tuple[str, str]] = [
    ("python testing framework", "/pypi/pytest"),
    ("javascript http client", "/npm/axios"),
    ("python yaml parser", "/pypi/pyyaml"),
    ("node web framework", "/npm/express"),
    ("python image processing library", "/pypi/pillow"),
    ("python orm", "/pypi/sqlalchemy"),
    ("python cli library", "/pypi/click"),
    ("python dataframe library", "/pypi/pandas"),
    ("node websocket library", "/npm/ws"),
    ("javascript test runner", "/npm/jest"),
    ("python machine learning library", "/pypi/scikit-learn"),
    ("node file watcher", "/npm/chokidar"),
    ("python date parsing", "/pypi/python-dateutil"),
    ("mock http requests in python tests", "/pypi/responses"),
    ("javascript markdown parser", "/npm/marked"),
    ("read and write excel files in python", "/pypi/openpyxl"),
    ("python json web tokens", "/pypi/pyjwt"),
    ("javascript object schema validation", "/npm/joi"),
    ("python postgresql driver", "/pypi/psycopg2"),
    ("fuzzy string matching python", "/pypi/rapidfuzz"),
    ("python static type checker", "/pypi/mypy"),
    ("react component testing", "/npm/testing-library__react"),
    ("python redis client", "/pypi/redis"),
    ("python templating engine", "/pypi/jinja2"),
    ("javascript code formatter", "/npm/prettier"),
]

ACCEPTED: dict[str, set[str]] = {
    "microsoft playwright": {"/pypi/playwright"},
    "google protobuf": {"/npm/google-protobuf", "/npm/protobufjs"},
    "python http client": {"/pypi/httpx", "/encode/httpx"},
    "javascript date library": {"/npm/date-fns", "/npm/dayjs"},
    "javascript http client": {"/npm/node-fetch"},
    "python yaml parser": {"/pypi/ruamel.yaml"},
    "node web framework": {"/npm/fastify", "/npm/koa"},
    "python image processing library": {"/pypi/opencv-python", "/pypi/scikit-image"},
    "python orm": {"/pypi/peewee", "/pypi/django"},
    "python cli library": {"/pypi/typer"},
    "python dataframe library": {"/pypi/polars"},
    "node websocket library": {"/npm/socket.io"},
    "javascript test runner": {"/npm/mocha", "/npm/vitest"},
    "python web framework": {"/pallets/flask", "/fastapi/fastapi"},
    "python linter": {"/pypi/pylint", "/pypi/flake8"},
    "python code formatter": {"/pypi/ruff"},
    "javascript bundler": {"/npm/vite", "/npm/esbuild", "/npm/rollup"},
    "node logging library": {"/npm/pino"},
    "python retry library": {"/pypi/retrying", "/pypi/backoff"},
    "javascript utility library": {"/npm/underscore"},
    "python async http client": {"/pypi/httpx", "/encode/httpx"},
    "react state management": {"/npm/zustand", "/npm/mobx"},
    "python plotting library": {"/pypi/plotly", "/pypi/seaborn"},
    "python html parser": {"/pypi/lxml", "/pypi/html5lib"},
    "node command line argument parser": {"/npm/yargs", "/npm/minimist"},
    "javascript unique id generator": {"/npm/nanoid"},
    "python deep learning framework": {"/pypi/tensorflow"},
    "python distributed task queue": {"/pypi/rq"},
    "python date parsing": {"/pypi/dateparser", "/pypi/arrow", "/pypi/pendulum"},
    "mock http requests in python tests": {"/pypi/requests-mock", "/pypi/respx"},
    "javascript markdown parser": {"/npm/markdown-it", "/npm/remark"},
    "read and write excel files in python": {"/pypi/xlsxwriter", "/pypi/pandas"},
    "python json web tokens": {"/pypi/python-jose"},
    "javascript object schema validation": {"/npm/zod", "/npm/yup", "/npm/ajv"},
    "python postgresql driver": {"/pypi/psycopg2-binary", "/pypi/psycopg", "/pypi/asyncpg"},
    "fuzzy string matching python": {"/pypi/thefuzz", "/pypi/fuzzywuzzy"},
    "python static type checker": {"/pypi/pyright"},
    "python templating engine": {"/pypi/mako"},
    "langchain openai": {"/pypi/langchain-openai"},
    "upstash redis": {"/pypi/upstash-redis"},
}


def load_entries() -> list[CatalogEntry]:
    entries: list[CatalogEntry] = []
    for path in sorted(CATALOG_DIR.glob("*.tsv")):
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
                entries.append(
                    CatalogEntry(
                        row["registry"],
                        row["name"],
                        int(row["popularity_rank"] or 0),
                        row.get("summary") or "",
                    )
                )
    return entries


def documented_libraries() -> list[LibraryInfo]:
    stamp = datetime.now(UTC)
    return [
        LibraryInfo(
            meta=LibraryMeta(
                library_id=lid,
                title=title,
                package_names=tuple(names),
                stars=stars,
                trust_score=7.0 if stars > 100 else 2.0,
            ),
            versions=[VersionInfo("latest", lid, snippets, snippets * 300, stamp, True, "", 0)],
            default_version="latest",
        )
        for lid, title, names, stars, snippets in DOCUMENTED
    ]


def build() -> tuple[Resolver, float]:
    started = time.perf_counter()
    resolver = build_resolver(documented_libraries(), load_entries())
    return resolver, time.perf_counter() - started


def score(
    resolver: Resolver, queries: list[tuple[str, str]], latencies: list[float]
) -> tuple[int, int, list[str]]:
    """Top-1 hits, hits counting other right answers, and one line per miss."""
    correct = 0
    accepted = 0
    misses: list[str] = []
    for query, expected in queries:
        for _ in range(5):
            started = time.perf_counter()
            matches = resolver.resolve(query, limit=10)
            latencies.append((time.perf_counter() - started) * 1000)
        top = matches[0].candidate.library_id if matches else "-"
        correct += top == expected
        accepted += top == expected or top in ACCEPTED.get(query, set())
        if top != expected:
            misses.append(f"  MISS {query!r}: got {top}, expected {expected}")
    return correct, accepted, misses


def report() -> list[str]:
    resolver, seconds = build()
    lines = [
        f"\n== resolution: {len(resolver.candidates)} candidates, index built in {seconds:.2f}s"
    ]
    latencies: list[float] = []
    for label, queries in (
        ("top-1 accuracy", QUERIES),
        ("tuning names", NAMING),
        ("tuning descriptions", TUNING),
        ("tuning brands", BRANDS),
        ("tuning acronyms", ACRONYMS),
        ("scoped names", SCOPED),
        ("held-out descriptions", HELD_OUT),
    ):
        correct, accepted, misses = score(resolver, queries, latencies)
        lines.extend(misses)
        lines.append(
            f"{label} {correct}/{len(queries)} = {correct / len(queries):.3f} "
            f"({accepted} counting other right answers)"
        )
    latencies.sort()
    lines.append(
        f"latency p50 {statistics.median(latencies):.2f} ms, "
        f"p95 {latencies[int(0.95 * len(latencies))]:.2f} ms"
    )
    return lines


if __name__ == "__main__":
    for line in report():
        print(line)

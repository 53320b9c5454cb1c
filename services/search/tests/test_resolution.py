"""Resolution over the real 30k-entry eval catalog plus a few documented libraries."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rapidfuzz import fuzz, process
from twinmcp.search.identity import build_resolver
from twinmcp.search.library import CatalogEntry, LibraryInfo, LibraryMeta, VersionInfo
from twinmcp.search.resolution import (
    FUZZY_CUTOFF,
    Candidate,
    Resolver,
    compact,
    description_terms,
    doc_term_shares,
    strip_version,
)

CATALOG_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "eval" / "catalog"


def _documented(
    library_id: str, title: str, names: tuple[str, ...], stars: int, snippets: int
) -> LibraryInfo:
    return LibraryInfo(
        meta=LibraryMeta(
            library_id=library_id,
            title=title,
            package_names=names,
            stars=stars,
            trust_score=7.0 if stars > 100 else 1.0,
        ),
        versions=[
            VersionInfo(
                "main", library_id, snippets, snippets * 300, datetime.now(UTC), True, "", 0
            )
        ],
        default_version="main",
    )


@pytest.fixture(scope="module")
def resolver() -> Resolver:
    if not CATALOG_DIR.is_dir():
        pytest.skip("../shared/eval/catalog is not beside the repository")
    entries = []
    for path in sorted(CATALOG_DIR.glob("*.tsv")):
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
                entries.append(
                    CatalogEntry(
                        row["registry"],
                        row["name"],
                        int(row["popularity_rank"] or 0),
                        row["summary"],
                    )
                )
    assert len(entries) > 29_000
    libraries = [
        _documented("/fastapi/fastapi", "FastAPI", ("fastapi",), 90_000, 2000),
        _documented("/pydantic/pydantic", "Pydantic", ("pydantic",), 25_000, 1600),
        _documented("/vercel/next.js", "Next.js", ("next",), 130_000, 3000),
        _documented("/someuser/fastapi", "fastapi", (), 2, 30),
    ]
    return build_resolver(libraries, entries)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("fastapi", "/fastapi/fastapi"),
        ("fast api", "/fastapi/fastapi"),
        ("FastAPI 0.110", "/fastapi/fastapi"),
        ("pydnatic", "/pydantic/pydantic"),
        ("Next.js", "/vercel/next.js"),
        ("nextjs", "/vercel/next.js"),
        ("next-js", "/vercel/next.js"),
        ("vue 3", "/npm/vue"),
        ("reqeusts", "/pypi/requests"),
        ("scikit learn", "/pypi/scikit-learn"),
        ("python data validation using type hints", "/pydantic/pydantic"),
        # Several summaries cover the words; the far more used package must win.
        ("aws sdk for python", "/pypi/boto3"),
        ("SQL Alchemy", "/pypi/sqlalchemy"),
        # The issue's own example: rich's summary never says "formatting"; rich-click's and
        # rich-argparse's do, and termcolor, whose summary says both words, is used far less.
        ("python terminal formatting library", "/pypi/rich"),
        # "retry" is a package's exact name; tenacity is what most people use.
        ("python retry library", "/pypi/tenacity"),
        # Hundreds of "Type annotations for boto3 ..." stubs must not outvote the name.
        ("type script", "/npm/typescript"),
    ],
)
def test_names_variants_typos_and_descriptions_resolve_first(
    resolver: Resolver, name: str, expected: str
) -> None:
    assert resolver.resolve(name)[0].candidate.library_id == expected


@pytest.mark.parametrize(
    "key",
    ["reqeusts", "pydnatic", "lodahs", "fastapi", "nxet", "zzzzqqq", "a", "straße", "x" * 120],
)
def test_near_spellings_are_those_a_ratio_over_every_name_finds(
    resolver: Resolver, key: str
) -> None:
    # _near_names skips names sharing too few letters to reach the cutoff: the answer, its
    # order and its ties must be those of scoring every name.
    every = process.extract(
        key, resolver._choice_keys, scorer=fuzz.ratio, limit=30, score_cutoff=FUZZY_CUTOFF
    )
    assert resolver._near_names(key) == [(choice, index) for choice, _, index in every]


def test_the_documented_original_ranks_above_a_fork_with_the_same_name(resolver: Resolver) -> None:
    ids = [m.candidate.library_id for m in resolver.resolve("fastapi", limit=5)]
    assert ids.index("/fastapi/fastapi") < ids.index("/someuser/fastapi")


def test_a_documented_library_absorbs_its_catalog_entry(resolver: Resolver) -> None:
    ids = [m.candidate.library_id for m in resolver.resolve("pydantic", limit=10)]
    assert "/pypi/pydantic" not in ids
    top = resolver.resolve("pydantic")[0].candidate
    assert top.popularity_rank == 16


def test_versions_and_punctuation_are_normalised() -> None:
    assert strip_version("vue 3") == ("vue", "3")
    assert strip_version("react@18.2") == ("react", "18.2")
    assert strip_version("web3") == ("web3", "") or strip_version("web3")[0] == "web"
    assert compact("Next.js") == compact("next-js") == compact("NextJS") == "nextjs"


def test_a_spaced_name_finds_the_package_named_with_its_major_version() -> None:
    resolver = Resolver(
        [
            Candidate("/pypi/soupkit", "soupkit", "", False, "pypi", ["soupkit"], 9000),
            Candidate("/pypi/soupkit4", "soupkit4", "", False, "pypi", ["soupkit4"], 100),
        ]
    )
    assert resolver.resolve("soup kit")[0].candidate.library_id == "/pypi/soupkit4"


def test_a_description_prefers_the_popular_library_that_covers_its_words() -> None:
    resolver = Resolver(
        [
            Candidate("/pypi/net-fetch", "net-fetch", "HTTP client for Python", False, "pypi",
                      ["net-fetch"], 30),
            Candidate("/npm/web-client", "web-client", "HTTP client", False, "npm",
                      ["web-client"], 5),
            Candidate("/pypi/colour-log", "colour-log", "Coloured logs", False, "pypi",
                      ["colour-log"], 1),
        ]
    )  # fmt: skip
    assert resolver.resolve("python http client")[0].candidate.library_id == "/pypi/net-fetch"


def test_a_documented_library_naming_no_package_claims_the_entry_named_like_its_repo() -> None:
    entries = [
        CatalogEntry("pypi", "fastapi", 60, "FastAPI framework, high performance"),
        *(
            CatalogEntry("pypi", f"fastapi-{n}", 500 + n, f"Plugin {n} for FastAPI")
            for n in range(5)
        ),
        CatalogEntry("pypi", "fast-api-tools", 40, "Fast API tools"),
    ]
    libraries = [
        _documented("/someuser/fastapi", "fastapi", (), 2, 30),
        _documented("/fastapi/fastapi", "fastapi", (), 90_000, 1800),
    ]
    resolver = build_resolver(libraries, entries)
    ids = [c.library_id for c in resolver.candidates]
    assert "/pypi/fastapi" not in ids  # absorbed by the original, not by the fork
    original = next(c for c in resolver.candidates if c.library_id == "/fastapi/fastapi")
    assert (original.registry, original.names, original.popularity_rank) == (
        "pypi",
        ["fastapi"],
        60,
    )
    for name in ("fast api", "fastapi", "FastAPI"):
        assert resolver.resolve(name, name)[0].candidate.library_id == "/fastapi/fastapi"


def test_a_library_id_given_as_the_name_resolves_to_that_library() -> None:
    documented = Candidate(
        library_id="/fastapi/fastapi",
        title="FastAPI",
        description="web framework",
        is_documented=True,
        names=["fastapi"],
        snippet_count=100,
    )
    plugin = Candidate(
        library_id="/pypi/taskiq-fastapi",
        title="taskiq-fastapi",
        description="FastAPI integration for taskiq",
        is_documented=False,
        registry="pypi",
        names=["taskiq-fastapi"],
        popularity_rank=3000,
    )
    resolver = Resolver([plugin, documented])
    for name in ("fastapi/fastapi", "/fastapi/fastapi", "/FastAPI/FastAPI/"):
        assert resolver.resolve(name)[0].candidate.library_id == "/fastapi/fastapi"


def _catalog(name: str, summary: str, rank: int, registry: str = "npm") -> Candidate:
    return Candidate(f"/{registry}/{name}", name, summary, False, registry, [name], rank)


def test_packages_built_on_a_library_speak_for_it_when_its_own_summary_is_silent() -> None:
    plugins = [
        _catalog(f"lintkit-plugin-{n}", f"Lint rules for lintkit, set {n}", 300 + n)
        for n in range(20)
    ]
    resolver = Resolver(
        [
            _catalog("lintkit", "An AST-based pattern checker", 200),
            _catalog("tiny-lint", "A linter", 400),
            _catalog("pylintkit", "A linter", 10, registry="pypi"),
            *plugins,
        ]
    )
    assert resolver.resolve("javascript linter")[0].candidate.library_id == "/npm/lintkit"


def test_what_a_family_says_of_its_library_counts_for_the_words_its_summary_lacks() -> None:
    resolver = Resolver(
        [
            _catalog("termkit", "Render tables and progress bars to the terminal", 40, "pypi"),
            _catalog("termkit-click", "Format click help output with termkit", 900, "pypi"),
            _catalog("termkit-argparse", "Help formatters for argparse using termkit", 950, "pypi"),
            _catalog("ansicolor", "ANSI color formatting for output in terminal", 300, "pypi"),
        ]
    )
    assert (
        resolver.resolve("python terminal formatting library")[0].candidate.library_id
        == "/pypi/termkit"
    )


def test_one_plugin_of_many_does_not_make_its_library_match_a_word() -> None:
    # Forty packages mention bigframe; one of them says "output". That is no evidence that
    # bigframe is about output: termwidgets, as much about the terminal and a little more
    # used, ranks first (with the share ignored, bigframe would).
    mentions = [_catalog(f"widgets-{n}", f"Widgets for bigframe, set {n}", 500) for n in range(39)]
    resolver = Resolver(
        [
            _catalog("bigframe", "A terminal user interface framework", 100),
            _catalog("termwidgets", "Terminal widgets and layouts", 60),
            _catalog("capture", "Output capture for bigframe", 5000),
            *mentions,
        ]
    )
    assert resolver.resolve("terminal output")[0].candidate.library_id == "/npm/termwidgets"


def test_a_name_query_is_not_taken_over_by_the_family_that_names_it() -> None:
    resolver = Resolver(
        [
            _catalog("webkit-orm", "An ORM", 5, registry="pypi"),
            _catalog("hostframe", "Web framework", 2, registry="pypi"),
            *[
                _catalog(f"hostframe-{n}", f"Web ORM glue for hostframe {n}", 50, registry="pypi")
                for n in ("a", "b", "c", "d")
            ],
        ]
    )
    assert resolver.resolve("webkit orm")[0].candidate.library_id == "/pypi/webkit-orm"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sklearn", "/pypi/scikit-learn"),  # "deprecated sklearn package, use scikit-learn..."
        ("bs4", "/pypi/beautifulsoup4"),  # "Dummy package for Beautiful Soup (beautifulsoup4)"
        ("lodahs", "/npm/lodash"),  # one transposition from lodash, more from lodash-es
    ],
)
def test_stub_packages_and_transposed_letters_resolve_to_what_was_meant(
    resolver: Resolver, name: str, expected: str
) -> None:
    assert resolver.resolve(name, query=name)[0].candidate.library_id == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("urlib3", "/pypi/urllib3"),  # not urlib version 3: npm's urllib is one slip nearer that
        ("psycpg2", "/pypi/psycopg2"),  # not psycopg
        ("beautifulsop4", "/pypi/beautifulsoup4"),
        ("htmlparsr2", "/npm/htmlparser2"),
        ("bto3", "/pypi/boto3"),
        # The digits as a version still read as one where the name is exact.
        ("vue3", "/npm/vue"),
        ("boto3", "/pypi/boto3"),
        ("urllib3", "/pypi/urllib3"),
    ],
)
def test_a_slip_in_a_name_that_ends_in_digits_keeps_the_digits_as_part_of_the_name(
    resolver: Resolver, name: str, expected: str
) -> None:
    assert resolver.resolve(name, query=name)[0].candidate.library_id == expected


def test_a_stub_points_to_its_successor_only_when_that_package_exists() -> None:
    resolver = Resolver(
        [
            Candidate("/pypi/oldkit", "oldkit", "Deprecated, use newkit instead", False, "pypi",
                      ["oldkit"], 50),
            Candidate("/pypi/newkit", "newkit", "Toolkit", False, "pypi", ["newkit"], 900),
            Candidate("/pypi/gonekit", "gonekit", "Renamed to nowhere-kit", False, "pypi",
                      ["gonekit"], 60),
        ]
    )  # fmt: skip
    assert resolver.resolve("oldkit")[0].candidate.library_id == "/pypi/newkit"
    assert resolver.resolve("gonekit")[0].candidate.library_id == "/pypi/gonekit"


def test_a_documented_library_wins_over_a_catalog_entry_of_its_name_asked_in_any_case() -> None:
    # Ingested from a folder: no package names, so it did not absorb the catalog entry. The
    # agent repeats the name as the query; the entry's summary repeating it must not decide.
    resolver = Resolver(
        [
            Candidate("/acme/fastkit", "fastkit", "", True, "", [], snippet_count=900),
            Candidate("/pypi/fastkit", "fastkit", "FastKit framework, fast to code", False,
                      "pypi", ["fastkit"], 67),
        ]
    )  # fmt: skip
    for spelling in ("fastkit", "FastKit", "FASTKIT"):
        top = resolver.resolve(spelling, query=spelling)[0].candidate
        assert top.library_id == "/acme/fastkit", spelling


def _starkit(about: str) -> Candidate:
    return Candidate(
        "/acme/starkit", "Starkit", "The little ASGI library that shines.", True, "pypi",
        ["starkit"], 53, snippet_count=300, about=about,
    )  # fmt: skip


def test_a_documented_librarys_readme_speaks_for_it_where_its_summary_is_silent() -> None:
    about = (
        "Starkit is a lightweight ASGI toolkit, which is ideal for building async web "
        "services in Python. WebSocket support. In-process background tasks."
    )
    others = [
        _catalog("aioservices", "Async client for web services using aiohttp", 20, "pypi"),
        _catalog("asgiref", "ASGI specs, helper code, and adapters", 30, "pypi"),
    ]
    query = "lightweight asgi toolkit for building async web services"
    with_readme = Resolver([_starkit(about), *others]).resolve(query, query)
    assert with_readme[0].candidate.library_id == "/acme/starkit"
    without = Resolver([_starkit(""), *others]).resolve(query, query)
    assert without[0].candidate.library_id != "/acme/starkit"


def test_a_readmes_words_count_less_than_a_summary_that_says_them() -> None:
    # Both cover "asgi server"; the server's own summary says it, the toolkit's README only
    # mentions it, so the server comes first though the toolkit is as popular.
    about = "Starkit is an ASGI toolkit. Run it with any ASGI server."
    server = _catalog("vicorn", "The lightning-fast ASGI server.", 53, "pypi")
    resolver = Resolver([_starkit(about), server])
    ranked = [m.candidate.library_id for m in resolver.resolve("asgi server", "asgi server")]
    assert ranked[:2] == ["/pypi/vicorn", "/acme/starkit"]
    # At full credit the README would tie the summary and the documented library would win.
    full = Resolver([_starkit(""), server])
    full.candidates[0].description += " " + about
    full = Resolver(full.candidates)
    assert full.resolve("asgi server", "asgi server")[0].candidate.library_id == "/acme/starkit"


def test_an_agent_noun_in_a_description_meets_its_verb_in_summaries() -> None:
    assert description_terms("javascript linter") == description_terms("javascript lint")
    assert description_terms("code formatter") == description_terms("code format")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("dateparse", "/pypi/python-dateparse"),  # not dateparser, one letter away
        ("imgkit", "/pypi/imgkit-python"),  # not imgkite, one letter away
        ("forgekit", "/npm/node-forgekit"),
    ],
)
def test_a_common_name_finds_the_package_named_by_its_registrys_convention(
    name: str, expected: str
) -> None:
    resolver = Resolver(
        [
            _catalog("python-dateparse", "Extensions to the datetime module", 13, "pypi"),
            _catalog("dateparser", "Date parsing from natural language", 300, "pypi"),
            _catalog("imgkit-python", "Wrapper package for ImgKit bindings", 500, "pypi"),
            _catalog("imgkite", "Conversion between image kites", 6000, "pypi"),
            _catalog("node-forgekit", "TLS and crypto in JavaScript", 1100),
            _catalog("forgekits", "Kits for forges", 9000),
        ]
    )
    assert resolver.resolve(name, query=name)[0].candidate.library_id == expected


def _scoped(name: str, summary: str, rank: int) -> Candidate:
    library_id = "/npm/" + name.lstrip("@").replace("/", "__")
    return Candidate(library_id, name, summary, False, "npm", [name], rank)


def test_a_scope_named_alone_means_its_core_package() -> None:
    resolver = Resolver(
        [
            _scoped("@nestkit/common", "Decorators and pipes for Nestkit", 2800),
            _scoped("@nestkit/core", "The core of Nestkit", 2900),
            _scoped("@nestkit/testing", "Nestkit testing", 3700),
            _catalog("nextkit", "The React framework", 40),
        ]
    )
    for name in ("nestkit", "@nestkit", "Nestkit"):
        assert resolver.resolve(name)[0].candidate.library_id == "/npm/nestkit__core", name


def test_a_scope_without_a_core_package_means_its_most_downloaded_member() -> None:
    resolver = Resolver(
        [
            _scoped("@queryco/react-query", "Hooks for fetching", 1456),
            _scoped("@queryco/query-core", "The engine", 1399),
            _scoped("@queryco/devtools", "Devtools", 5000),
        ]
    )
    assert resolver.resolve("queryco")[0].candidate.library_id == "/npm/queryco__query-core"


def test_a_package_named_like_a_scope_keeps_its_name_unless_the_scope_is_asked_with_its_at() -> (
    None
):
    resolver = Resolver(
        [
            _catalog("babelkit", "Internationalization utilities", 90, "pypi"),
            _scoped("@babelkit/core", "Babelkit compiler core", 93),
            _scoped("@babelkit/parser", "A JavaScript parser", 95),
        ]
    )
    assert resolver.resolve("babelkit")[0].candidate.library_id == "/pypi/babelkit"
    assert resolver.resolve("@babelkit")[0].candidate.library_id == "/npm/babelkit__core"


def _brand_catalog() -> list[Candidate]:
    return [
        _catalog("shapers", "The model-definition framework for machine learning", 246, "pypi"),
        _catalog(
            "optimal",
            "An extension of the Hugging Face Shapers library for hardware partners",
            3279,
            "pypi",
        ),
        _catalog("hubkit", "Client library for the Hugging Face hub", 20, "pypi"),
        _catalog("face-tools", "Hugging face detection tools", 150, "pypi"),
    ]


def test_a_package_asked_with_its_brand_resolves_to_the_package() -> None:
    # "optimal" covers all three words, hubkit is far more used: neither is what was named.
    resolver = Resolver(_brand_catalog())
    top = resolver.resolve("hugging face shapers")[0]
    assert (top.candidate.library_id, top.reason) == ("/pypi/shapers", "package")


def test_words_that_together_name_a_package_are_not_read_as_brand_and_name() -> None:
    resolver = Resolver(
        [
            _catalog("router", "Simple middleware-style router", 30),
            _catalog("vue-router", "", 3652),
            _catalog("vue-router-helper", "Helpers for Vue Router and its router", 8000),
        ]
    )
    assert resolver.resolve("vue router")[0].candidate.library_id == "/npm/vue-router"


def test_brand_and_name_still_compete_when_the_words_spell_a_scoped_package() -> None:
    # "@huggingface/shapers" is what the words spell, joined; its scope is also the maker of the
    # far more used package that summaries call "Hugging Face Shapers": that reading competes.
    resolver = Resolver([*_brand_catalog(), _scoped("@huggingface/shapers", "Shapers.js", 12201)])
    top = resolver.resolve("hugging face shapers")[0]
    assert (top.candidate.library_id, top.reason) == ("/pypi/shapers", "package")
    assert resolver.resolve("@huggingface/shapers")[0].candidate.library_id == (
        "/npm/huggingface__shapers"
    )


def test_a_scoped_package_said_as_words_is_not_read_as_maker_and_package() -> None:
    # "Jestkit" is a maker by capitalisation, and npm's globals is far more used, but nothing
    # calls globals "jestkit globals": the words mean @jestkit/globals.
    resolver = Resolver(
        [
            _catalog("globals", "Global identifiers from different JavaScript environments", 52),
            _catalog("jestkit-cli", "Delightful testing: Jestkit runs your tests", 400),
            _catalog("jestkit-mock", "Mock functions for Jestkit", 300),
            _catalog("jestkit-each", "Parameterised tests for Jestkit", 400),
            _scoped("@jestkit/globals", "Jestkit's globals", 744),
        ]
    )
    assert resolver._made_by("jestkit globals") == [0]  # the maker's reading exists
    top = resolver.resolve("jestkit globals")[0]
    assert top.candidate.library_id == "/npm/jestkit__globals"


def _maker_catalog() -> list[Candidate]:
    return [
        _catalog("widgetry", "A declarative library for building user interfaces", 20),
        _catalog("acme-utils", "Utilities used by other Acme projects", 400),
        _catalog("acme-cloud", "Acme Cloud client. Acme Storage and Acme Queue for Acme users", 90),
        _catalog("statekit", "Predictable state container for widgetry apps", 300),
        _catalog("widgetry-state", "State management for widgetry", 900),
        _catalog("stateful", "Manage state, session state and state machines", 5000),
        _catalog("tasker", "Task management and process management in one tool", 700),
        _catalog("keyring-plus", "Secret management for apps", 800),
    ]


def test_a_package_named_beside_its_maker_resolves_to_the_package() -> None:
    # "Acme" is capitalised wherever summaries use it: a maker, not a description of acme-utils.
    resolver = Resolver(_maker_catalog())
    for query in ("acme widgetry", "Acme Widgetry"):
        top = resolver.resolve(query)[0]
        assert (top.candidate.library_id, top.reason) == ("/npm/widgetry", "package"), query


def test_a_package_named_beside_common_words_is_read_as_a_description() -> None:
    # "state" and "management" are common words of summaries: this asks for what manages
    # state in widgetry apps, not for widgetry by name (popularity may still rank it).
    resolver = Resolver(_maker_catalog())
    matches = resolver.resolve("widgetry state management")
    assert matches and all(m.reason == "description" for m in matches)


def test_a_summary_opening_with_the_description_beats_a_more_used_one_with_its_words_apart() -> (
    None
):
    resolver = Resolver(
        [
            _catalog("ansi-paint", "ANSI escape codes for styling strings in the terminal", 2),
            _catalog("paintkit", "Terminal string styling done right", 4),
            _catalog("typecheck-rt", "Fast runtime-static type-checker", 396, "pypi"),
        ]
    )
    description = "terminal string styling for node"
    # Asked alone, and as REST asks: with the query repeating the name.
    for query in ("", description):
        top = resolver.resolve(description, query=query)[0]
        assert top.candidate.library_id == "/npm/paintkit", query


def test_initials_find_the_package_whose_summary_names_it_so() -> None:
    resolver = Resolver(
        [
            _catalog("pillow", "Python Imaging Library (Fork)", 40, "pypi"),
            _catalog("pip", "The PyPA recommended tool for installing Python packages.", 5, "pypi"),
            _catalog("pil-utils", "Helpers for images", 9000, "pypi"),
            _catalog("cloudstore", "Google Cloud Storage API client library", 140, "pypi"),
            _catalog("gwcs", "Generalized World Coordinate System", 3000, "pypi"),
            _catalog("paint", "Pictures In Layers", 12000, "pypi"),
        ]
    )
    # Written in capitals or not: no package is named "pil" or "gcs"; the near names (pip,
    # gwcs) are slips of one letter, weaker than initials.
    for asked in ("PIL", "pil"):
        assert resolver.resolve(asked)[0].candidate.library_id == "/pypi/pillow", asked
    # Among summaries with those initials, the more used package.
    assert resolver.resolve("PIL")[1].candidate.library_id == "/pypi/paint"
    assert resolver.resolve("GCS")[0].candidate.library_id == "/pypi/cloudstore"


def test_initials_never_beat_a_package_of_that_name_nor_read_a_lower_case_slip() -> None:
    resolver = Resolver(
        [
            _catalog("jwt", "JSON Web Token library", 900, "pypi"),
            _catalog("pyjwt", "JSON Web Token implementation in Python", 40, "pypi"),
            _catalog(
                "flask", "A simple framework for building complex web applications.", 30, "pypi"
            ),
            _catalog("fastlane", "Fast Lightweight Static Kit", 5, "pypi"),
        ]
    )
    assert resolver.resolve("JWT")[0].candidate.library_id == "/pypi/jwt"
    # Four lower-case letters are a slip of "flask", not the initials of Fast Lightweight ...
    assert resolver.resolve("flsk")[0].candidate.library_id == "/pypi/flask"
    assert resolver.resolve("FLSK")[0].candidate.library_id == "/pypi/fastlane"


def test_a_description_naming_its_ecosystem_prefers_that_registry_over_popularity() -> None:
    resolver = Resolver(
        [
            _catalog("pooler", "HTTP library with thread-safe connection pooling", 3, "pypi"),
            _catalog("hyperclient", "An HTTP/1.1 client, written from scratch for Node.js", 521),
            _catalog("sockets", "Websocket client and server for Node.js", 55),
        ]
    )
    query = "fast HTTP/1.1 client for Node.js with connection pooling"

    assert resolver.resolve(query, query)[0].candidate.library_id == "/npm/hyperclient"
    # Without the ecosystem named, the far more used package covers the words as well.
    plain = "http client with connection pooling"
    assert resolver.resolve(plain, plain)[0].candidate.library_id == "/pypi/pooler"


def test_doc_term_shares_counts_each_word_once_a_snippet_and_keeps_the_frequent() -> None:
    texts = ["Serialize users; serialize again", "Serialize orders", "Serializing carts", "Misc"]

    shares = dict(doc_term_shares(texts))

    assert shares[description_terms("serialize")[0]] == 0.75  # 3 of 4, however often in one
    assert description_terms("users")[0] not in shares  # in fewer than 3 snippets


def test_a_documented_librarys_distinctive_doc_words_describe_it() -> None:
    schema, marshal = description_terms("schema marshal")
    documented = [
        Candidate("/acme/shapes", "shapes", "A small toolkit", True, "pypi", ["shapes"], 900,
                  doc_terms=[(schema, 0.6), (marshal, 0.5)]),
        Candidate("/acme/forms", "forms", "Form handling", True, "pypi", ["forms"], 800,
                  doc_terms=[(schema, 0.6)]),
    ]  # fmt: skip
    resolver = Resolver(
        [*documented, _catalog("serializer", "Serializer of objects", 500, registry="pypi")]
    )

    matches = resolver.resolve("marshal objects with a schema", "marshal objects with a schema")
    assert matches[0].candidate.library_id == "/acme/shapes"
    # "schema" is as much forms' word as shapes': it speaks for neither.
    assert "/acme/forms" not in [m.candidate.library_id for m in matches]

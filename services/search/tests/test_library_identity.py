"""A library's identity (title, aliases, packages per registry) decides what names resolve to it."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from twinmcp.search.identity import build_resolver, clean_aliases, clean_packages
from twinmcp.search.library import CatalogEntry, LibraryInfo, LibraryMeta, PackageRef, VersionInfo
from twinmcp.search.resolution import Resolver
from twinmcp.search.v1 import index_pb2, search_pb2

NPM_CATALOG = (
    Path(__file__).resolve().parents[3].parent / "shared" / "eval" / "catalog" / "npm-top15k.tsv"
)


def _library(
    library_id: str,
    title: str,
    packages: tuple[PackageRef, ...] = (),
    aliases: tuple[str, ...] = (),
    snippets: int = 300,
) -> LibraryInfo:
    return LibraryInfo(
        meta=LibraryMeta(
            library_id=library_id,
            title=title,
            packages=packages,
            package_names=tuple(p.name for p in packages),
            aliases=aliases,
        ),
        versions=[
            VersionInfo(
                "latest", library_id, snippets, snippets * 300, datetime.now(UTC), True, "", 0
            )
        ],
        default_version="latest",
    )


def _entry(registry: str, name: str, rank: int, summary: str = "") -> CatalogEntry:
    return CatalogEntry(registry, name, rank, summary)


@pytest.fixture(scope="module")
def npm_resolver() -> Resolver:
    """The real npm catalog, with the documentation repositories of Hono and Vue ingested as
    ingest identifies them (their repositories are named `website` and `docs`)."""
    if not NPM_CATALOG.is_file():
        pytest.skip("../shared/eval/catalog is not beside the repository")
    with NPM_CATALOG.open(newline="") as handle:
        entries = [
            CatalogEntry(
                row["registry"], row["name"], int(row["popularity_rank"] or 0), row["summary"]
            )
            for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        ]
    assert {"hono", "vue"} <= {e.name for e in entries}
    return build_resolver(
        [
            _library("/honojs/website", "Hono", (PackageRef("npm", "hono"),)),
            _library("/vuejs/docs", "Vue.js", (PackageRef("npm", "vue"),)),
        ],
        entries,
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("hono", "/honojs/website"),
        ("Hono.js", "/honojs/website"),
        ("honno", "/honojs/website"),
        ("hono 4", "/honojs/website"),
        ("vue", "/vuejs/docs"),
        ("vue 3", "/vuejs/docs"),
        ("Vue.js composition api", "/vuejs/docs"),
    ],
)
def test_a_documentation_repository_resolves_from_its_names_above_its_catalog_entry(
    npm_resolver: Resolver, name: str, expected: str
) -> None:
    ids = [m.candidate.library_id for m in npm_resolver.resolve(name, limit=10)]
    assert ids[0] == expected
    # The package it documents is absorbed: never offered beside its documentation.
    assert not {"/npm/hono", "/npm/vue"} & set(ids)


def test_the_documented_library_takes_its_packages_popularity(npm_resolver: Resolver) -> None:
    top = npm_resolver.resolve("vue")[0].candidate
    assert top.is_documented and top.popularity_rank > 0 and top.registry == "npm"


def test_a_package_declared_with_its_registry_claims_only_that_registrys_entry() -> None:
    resolver = build_resolver(
        [_library("/honojs/website", "Hono", (PackageRef("npm", "hono"),))],
        [_entry("npm", "hono", 50), _entry("pypi", "hono", 9000)],
    )
    ids = {c.library_id for c in resolver.candidates}
    assert "/npm/hono" not in ids and "/pypi/hono" in ids


def test_a_library_without_packages_claims_the_entry_named_like_its_title() -> None:
    resolver = build_resolver(
        [_library("/honojs/website", "Hono")],
        [_entry("npm", "hono", 50), _entry("npm", "website", 10)],
    )
    ids = {c.library_id for c in resolver.candidates}
    # Named like its title, not like its repository: "website" says nothing of whose it is.
    assert "/npm/hono" not in ids and "/npm/website" in ids
    assert resolver.resolve("hono")[0].candidate.library_id == "/honojs/website"


def test_a_documentation_repositorys_generic_name_does_not_resolve_to_it() -> None:
    resolver = build_resolver([_library("/honojs/website", "Hono")], [_entry("npm", "hono", 50)])
    exact = [m.candidate.library_id for m in resolver.resolve("website") if m.reason == "exact"]
    assert exact == []


def test_aliases_resolve_to_the_library() -> None:
    resolver = build_resolver(
        [_library("/tanstack/query", "TanStack Query", aliases=("React Query",))],
        [_entry("npm", "react", 1)],
    )
    assert resolver.resolve("react query")[0].candidate.library_id == "/tanstack/query"


def test_declared_identity_is_cleaned_before_it_is_stored() -> None:
    assert clean_packages(
        [
            PackageRef("NPM", "hono"),
            PackageRef("npm", "hono"),
            PackageRef("not a registry", "x"),
            PackageRef("npm", "two words"),
            PackageRef("", "flask"),
        ]
    ) == (PackageRef("npm", "hono"), PackageRef("", "flask"))
    assert clean_aliases(["Vue.js", "vue.js", " Vue\u200b 3 ", "", "x" * 101]) == (
        "Vue.js",
        "Vue 3",
    )


async def test_identity_is_stored_with_the_library_and_served(client: Any, kit: Any) -> None:
    begun = await client.index.BeginBuild(
        index_pb2.BeginBuildRequest(
            library=index_pb2.LibraryMetadata(
                library_id="/honojs/website",
                title="Hono",
                package_names=["hono"],
                packages=[search_pb2.PackageRef(registry="npm", name="hono")],
                aliases=["Hono.js"],
            ),
            version="latest",
        ),
        timeout=10,
    )
    await client.index.PutDocument(
        index_pb2.PutDocumentRequest(
            build_id=begun.build_id,
            path="docs/index.md",
            content_hash="h1",
            title="Hono",
            snippets=kit.doc_snippets("docs/index.md", kit.CORS_DOC),
        ),
        timeout=10,
    )
    await client.index.PublishBuild(
        index_pb2.PublishBuildRequest(build_id=begun.build_id), timeout=30
    )
    await client.index.ImportCatalog(
        index_pb2.ImportCatalogRequest(
            entries=[
                index_pb2.CatalogEntry(
                    registry="npm", name="hono", popularity_rank=500, summary="Web framework"
                ),
                index_pb2.CatalogEntry(
                    registry="npm", name="express", popularity_rank=20, summary="Web framework"
                ),
            ]
        ),
        timeout=10,
    )
    library = (
        await client.search.GetLibrary(
            search_pb2.GetLibraryRequest(library_id="/honojs/website"), timeout=10
        )
    ).library
    assert [(p.registry, p.name) for p in library.packages] == [("npm", "hono")]
    assert list(library.aliases) == ["Hono.js"]
    matches = (
        await client.search.ResolveLibrary(
            search_pb2.ResolveLibraryRequest(library_name="honno"), timeout=10
        )
    ).matches
    assert matches[0].library.library_id == "/honojs/website"
    assert matches[0].library.snippet_count == 2
    assert "/npm/hono" not in [m.library.library_id for m in matches]
    express = (
        await client.search.ResolveLibrary(
            search_pb2.ResolveLibraryRequest(library_name="express"), timeout=10
        )
    ).matches[0]
    assert express.library.source_type == search_pb2.SOURCE_TYPE_CATALOG
    assert [(p.registry, p.name) for p in express.library.packages] == [("npm", "express")]

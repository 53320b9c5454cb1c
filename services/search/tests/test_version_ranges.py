"""Ranges and specifiers choose the best indexed version; an unindexed one names the registry's."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from twinmcp.search.v1 import search_pb2
from twinmcp.search.versionrange import best_match

VERSIONS = ["4.1.0", "4.2.1", "4.28.1", "5.0.0", "5.1.0-beta.1", "v3.9.2", "main", "2.0.36"]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("^4.2", "4.28.1"),
        ("4.x", "4.28.1"),
        ("~4.2", "4.2.1"),
        ("4", "4.28.1"),
        (">=4.2 <5", "4.28.1"),
        (">= 4.2", "5.0.0"),
        ("<4 || >=5", "5.0.0"),
        ("4.1.0 - 4.3", "4.2.1"),
        ("3.x", "v3.9.2"),
        ("~=2.0", "2.0.36"),
        (">=1.4,<3", "2.0.36"),
        ("==4.2.*", "4.2.1"),
        ("5.1.0-beta.1", "5.1.0-beta.1"),
        ("^6", None),
        ("^0.2", None),
        ("~=9.0", None),
    ],
)
def test_a_selector_picks_the_highest_version_it_admits(
    selector: str, expected: str | None
) -> None:
    assert best_match(selector, VERSIONS) == expected


def test_pre_releases_are_chosen_only_by_a_selector_naming_one() -> None:
    assert best_match(">=5", ["5.0.0", "5.1.0-beta.1"]) == "5.0.0"
    assert best_match(">=5.1.0-beta.0", ["5.0.0", "5.1.0-beta.1"]) == "5.1.0-beta.1"


async def query(client: Any, library_id: str, version: str) -> search_pb2.QueryDocsResponse:
    return await client.search.QueryDocs(
        search_pb2.QueryDocsRequest(library_id=library_id, query="CORS", version=version),
        timeout=10,
    )


@pytest.mark.parametrize(
    ("asked", "served"),
    [("^4.2", "4.28.1"), ("4.x", "4.28.1"), ("~4.2", "4.2.1"), ("4", "4.28.1"), ("3", "3.1.0")],
)
async def test_query_docs_answers_a_semver_range_with_the_best_indexed_version(
    client: Any, kit: Any, asked: str, served: str
) -> None:
    for version in ("3.1.0", "4.2.1", "4.28.1", "5.0.0"):
        await kit.publish_library(client, "/fastify/fastify", version, make_default=False)
    reply = await query(client, "/fastify/fastify", asked)
    assert reply.version == served
    at = await query(client, f"/fastify/fastify@{asked}", "")
    assert at.version == served


@pytest.mark.parametrize(("asked", "served"), [("~=2.0", "2.0.36"), (">=1.4,<2", "1.4.52")])
async def test_query_docs_answers_a_pep440_specifier_with_the_best_indexed_version(
    client: Any, kit: Any, asked: str, served: str
) -> None:
    for version in ("1.3.24", "1.4.52", "2.0.36"):
        await kit.publish_library(client, "/sqlalchemy/sqlalchemy", version, make_default=False)
    assert (await query(client, "/sqlalchemy/sqlalchemy", asked)).version == served


async def test_an_unindexed_version_names_the_registry_release_and_the_source_to_ingest(
    client: Any, kit: Any
) -> None:
    releases = ["3.1.3", "3.1.2", "3.0.3", "3.0.2", "3.0.1", "3.0.0", "2.3.3"]
    await kit.publish_library(
        client,
        "/pallets/flask",
        "3.1.3",
        registry_source="pypi:flask",
        registry_releases=releases,
    )
    for asked in ("3.0.x", "~=3.0.0", "3.0"):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await query(client, "/pallets/flask", asked)
        assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        trailing = dict(error.value.trailing_metadata() or ())
        assert trailing["available-versions"] == "3.1.3"
        assert trailing["registry-releases"] == "3.0.3,3.0.2,3.0.1,3.0.0"
        assert trailing["ingest-source"] == "pypi:flask==3.0.3"
        details = error.value.details() or ""
        assert f"version {asked!r} of /pallets/flask is not indexed; indexed: 3.1.3." in details
        assert "`twinmcp ingest pypi:flask==3.0.3`" in details


async def test_an_npm_library_hints_the_npm_source_and_a_missing_release_says_so(
    client: Any, kit: Any
) -> None:
    await kit.publish_library(
        client,
        "/fastify/fastify",
        "5.0.0",
        registry_source="npm:fastify",
        registry_releases=["5.0.0", "4.28.1", "4.28.0"],
    )
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await query(client, "/fastify/fastify", "^4.2")
    trailing = dict(error.value.trailing_metadata() or ())
    assert trailing["ingest-source"] == "npm:fastify@4.28.1"
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await query(client, "/fastify/fastify", "9.9.9")
    trailing = dict(error.value.trailing_metadata() or ())
    assert trailing["ingest-source"] == ""
    assert "npm:fastify has no release '9.9.9'" in (error.value.details() or "")


async def test_a_later_build_from_another_source_keeps_the_registry_release_list(
    client: Any, kit: Any
) -> None:
    await kit.publish_library(
        client,
        "/pallets/flask",
        "3.1.3",
        registry_source="pypi:flask",
        registry_releases=["3.1.3", "3.0.3"],
    )
    await kit.publish_library(client, "/pallets/flask", "3.1.2", make_default=False)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await query(client, "/pallets/flask", "3.0.3")
    assert dict(error.value.trailing_metadata() or ())["ingest-source"] == "pypi:flask==3.0.3"


async def test_search_docs_with_one_library_resolves_a_range_as_query_docs_does(
    client: Any, kit: Any
) -> None:
    for version in ("4.2.1", "4.28.1", "5.0.0"):
        await kit.publish_library(client, "/fastify/fastify", version, make_default=False)
    reply = await client.search.SearchDocs(
        search_pb2.SearchDocsRequest(query="CORS", libraries=["/fastify/fastify"], version="^4.2"),
        timeout=10,
    )
    assert reply.hits and {hit.version for hit in reply.hits} == {"4.28.1"}

"""Projects: answers at the versions a registered project locks, stated in the answer."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from twinmcp.search.library import LibraryMeta, PackageRef
from twinmcp.search.projects import LockedPackage, PackageOwners, locked_version
from twinmcp.search.v1 import search_pb2


def _locked(registry: str, name: str, version: str) -> search_pb2.LockedPackage:
    return search_pb2.LockedPackage(registry=registry, name=name, version=version)


async def _register(client: Any, name: str, *packages: search_pb2.LockedPackage) -> Any:
    return await client.search.RegisterProject(
        search_pb2.RegisterProjectRequest(name=name, packages=list(packages)), timeout=10
    )


async def _query(client: Any, library_id: str, **fields: Any) -> Any:
    return await client.search.QueryDocs(
        search_pb2.QueryDocsRequest(library_id=library_id, query="CORS", **fields), timeout=10
    )


async def _publish_flask_and_fastify(client: Any, kit: Any) -> None:
    releases = ["3.1.3", "3.1.2", "3.0.3", "3.0.2"]
    for version in ("3.0.3", "3.1.3"):
        await kit.publish_library(
            client,
            "/pallets/flask",
            version,
            registry_source="pypi:flask",
            registry_releases=releases,
        )
    await kit.publish_library(client, "/fastify/fastify", "5.0.0", package_names=["fastify"])


async def test_a_project_answers_for_the_version_it_locks_and_says_which(
    client: Any, kit: Any
) -> None:
    await _publish_flask_and_fastify(client, kit)
    reply = await _register(
        client,
        "shop",
        _locked("pypi", "Flask", "3.0.3"),
        _locked("npm", "fastify", "4.28.1"),
        _locked("pypi", "left-pad-py", "1.0"),
    )
    assert [(p.package.name, p.library_id, p.is_version_indexed) for p in reply.packages] == [
        ("Flask", "/pallets/flask", True),
        ("fastify", "/fastify/fastify", False),
        ("left-pad-py", "", False),
    ]
    assert (await _query(client, "/pallets/flask", project="shop")).version == "3.0.3"
    assert (await _query(client, "/pallets/flask")).version == "3.1.3"
    # A version asked for wins over the project's.
    assert (await _query(client, "/pallets/flask@3.1.3", project="shop")).version == "3.1.3"


async def test_a_locked_version_not_indexed_is_refused_with_the_source_to_ingest(
    client: Any, kit: Any
) -> None:
    await _publish_flask_and_fastify(client, kit)
    await _register(client, "legacy", _locked("pypi", "flask", "3.0.2"))
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await _query(client, "/pallets/flask", project="legacy")
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    trailing = dict(error.value.trailing_metadata() or ())
    assert trailing["requested-version"] == "3.0.2"
    assert trailing["ingest-source"] == "pypi:flask==3.0.2"


async def test_registering_again_replaces_the_project(client: Any, kit: Any) -> None:
    await _publish_flask_and_fastify(client, kit)
    await _register(client, "shop", _locked("pypi", "flask", "3.0.3"))
    assert (await _query(client, "/pallets/flask", project="shop")).version == "3.0.3"
    await _register(client, "shop", _locked("pypi", "flask", "3.1.3"))
    # Another replica's copy is trusted for a few seconds; this one's is replaced at once.
    assert (await _query(client, "/pallets/flask", project="shop")).version == "3.1.3"


async def test_resolve_names_the_locked_version_of_each_match(client: Any, kit: Any) -> None:
    await _publish_flask_and_fastify(client, kit)
    await _register(client, "shop", _locked("pypi", "flask", "3.0.3"))
    reply = await client.search.ResolveLibrary(
        search_pb2.ResolveLibraryRequest(library_name="flask", project="shop"), timeout=10
    )
    first = reply.matches[0]
    assert (first.library.library_id, first.locked_version) == ("/pallets/flask", "3.0.3")
    plain = await client.search.ResolveLibrary(
        search_pb2.ResolveLibraryRequest(library_name="flask"), timeout=10
    )
    assert plain.matches[0].locked_version == ""


@pytest.mark.parametrize(
    ("name", "packages", "says"),
    [
        ("../etc", [], "project name"),
        ("ok", [_locked("cargo", "serde", "1.0")], "registry"),
        ("ok", [_locked("pypi", "", "1.0")], "package name"),
    ],
)
async def test_a_malformed_project_is_invalid_argument(
    client: Any, name: str, packages: list[search_pb2.LockedPackage], says: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await _register(client, name, *packages)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert says in (error.value.details() or "")


async def test_an_unknown_project_is_invalid_argument_saying_how_to_register(
    client: Any, kit: Any
) -> None:
    await _publish_flask_and_fastify(client, kit)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await _query(client, "/pallets/flask", project="nope")
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "/api/v1/admin/projects" in (error.value.details() or "")


async def test_packages_sent_with_a_query_are_answered_as_a_registered_project(
    client: Any, kit: Any
) -> None:
    await _publish_flask_and_fastify(client, kit)
    sent = [_locked("pypi", "flask", "3.0.3"), _locked("npm", "left-pad", "1.3.0")]
    answer = await _query(client, "/pallets/flask", locked_packages=sent)
    assert (answer.version, answer.locked_version) == ("3.0.3", "3.0.3")
    # A project that locks none of the library's packages: the default, and no locked version.
    other = await _query(client, "/pallets/flask", locked_packages=sent[1:])
    assert (other.version, other.locked_version) == ("3.1.3", "")
    plain = await _query(client, "/pallets/flask")
    assert (plain.version, plain.locked_version) == ("3.1.3", "")
    # Sent without naming their file, the text still says what the project locks.
    assert answer.text.splitlines()[1] == (
        "The request's project locks version 3.0.3 of this library; this answer is for it."
    )
    assert "The request's project locks none of this library's packages" in other.text
    assert "locks" not in plain.text.splitlines()[1]
    searched = await _search(client, libraries=["/pallets/flask"], locked_packages=sent)
    assert "/pallets/flask: The request's project locks version 3.0.3" in searched.text
    reply = await client.search.ResolveLibrary(
        search_pb2.ResolveLibraryRequest(library_name="flask", locked_packages=sent), timeout=10
    )
    assert (reply.matches[0].library.library_id, reply.matches[0].locked_version) == (
        "/pallets/flask",
        "3.0.3",
    )


async def test_a_registered_project_says_its_locked_version_in_the_answer(
    client: Any, kit: Any
) -> None:
    await _publish_flask_and_fastify(client, kit)
    await _register(client, "shop", _locked("pypi", "flask", "3.0.3"))
    answer = await _query(client, "/pallets/flask", project="shop")
    assert (answer.version, answer.locked_version) == ("3.0.3", "3.0.3")
    # Asked for another version: that one is served, and the answer says what the project locks.
    asked = await _query(client, "/pallets/flask@3.1.3", project="shop")
    assert (asked.version, asked.locked_version) == ("3.1.3", "3.0.3")


async def test_malformed_packages_sent_with_a_query_are_invalid_argument(
    client: Any, kit: Any
) -> None:
    await _publish_flask_and_fastify(client, kit)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await _query(client, "/pallets/flask", locked_packages=[_locked("cargo", "serde", "1")])
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "registry" in (error.value.details() or "")


async def _search(client: Any, **fields: Any) -> search_pb2.SearchDocsResponse:
    reply: search_pb2.SearchDocsResponse = await client.search.SearchDocs(
        search_pb2.SearchDocsRequest(query="CORS", **fields), timeout=10
    )
    return reply


def _searched(reply: search_pb2.SearchDocsResponse) -> dict[str, tuple[str, str]]:
    return {lib.library_id: (lib.version, lib.locked_version) for lib in reply.libraries}


async def test_a_search_across_libraries_answers_at_the_versions_the_project_locks(
    client: Any, kit: Any
) -> None:
    await _publish_flask_and_fastify(client, kit)
    await _register(client, "shop", _locked("pypi", "flask", "3.0.3"))
    sent = [_locked("pypi", "flask", "3.0.3"), _locked("npm", "fastify", "4.28.1")]

    plain = await _search(client, libraries=["/pallets/flask", "fastify"])
    by_name = await _search(client, libraries=["/pallets/flask", "fastify"], project="shop")
    by_file = await _search(client, libraries=["/pallets/flask", "fastify"], locked_packages=sent)

    assert _searched(plain)["/pallets/flask"] == ("3.1.3", "")
    assert _searched(by_name)["/pallets/flask"] == ("3.0.3", "3.0.3")
    # fastify 4.28.1 is not indexed: 5.0.0 is searched, and the answer says what is locked.
    assert _searched(by_file) == {
        "/pallets/flask": ("3.0.3", "3.0.3"),
        "/fastify/fastify": ("5.0.0", "4.28.1"),
    }
    assert {hit.version for hit in by_file.hits if hit.library_id == "/pallets/flask"} <= {"3.0.3"}
    # A version the caller names wins over the project's, as in QueryDocs.
    pinned = await _search(client, libraries=["/pallets/flask"], version="3.1.3", project="shop")
    assert _searched(pinned)["/pallets/flask"] == ("3.1.3", "3.0.3")


async def test_a_search_with_an_unknown_project_is_invalid_argument(client: Any, kit: Any) -> None:
    await _publish_flask_and_fastify(client, kit)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await _search(client, libraries=["/pallets/flask"], project="nope")
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_the_package_index_finds_exactly_the_libraries_locked_version_finds() -> None:
    metas = [
        LibraryMeta("/acme/webkit", packages=(PackageRef("pypi", "Web_Kit"),)),
        LibraryMeta("/acme/fetcher", packages=(PackageRef("npm", "@acme/Fetcher"),)),
        LibraryMeta("/acme/bare", package_names=("barekit",)),  # stored before registries
        LibraryMeta("/acme/release", registry_source="pypi:release.tool"),
        LibraryMeta("/acme/twin", packages=(PackageRef("pypi", "web-kit"),)),
        LibraryMeta("/acme/none"),
    ]
    projects = [
        [LockedPackage("pypi", "web.kit", "1.0")],
        [LockedPackage("npm", "@acme/fetcher", "2.0"), LockedPackage("pypi", "barekit", "3")],
        [LockedPackage("npm", "Release-Tool", "1"), LockedPackage("pypi", "release_tool", "1")],
        [LockedPackage("pypi", "web-kit", ""), LockedPackage("npm", "web-kit", "1")],
        [],
    ]
    owners = PackageOwners(metas)
    for packages in projects:
        expected = {m.library_id for m in metas if locked_version(m, packages)}
        assert owners.owners(packages) == expected, packages
    assert owners.owners(projects[0]) == {"/acme/webkit", "/acme/twin"}
    # The first in the order given, as registering a project reports its owner.
    assert owners.first(LockedPackage("pypi", "web_kit", "1")) == "/acme/webkit"
    assert PackageOwners(metas[::-1]).first(LockedPackage("pypi", "web_kit", "1")) == "/acme/twin"
    assert owners.first(LockedPackage("pypi", "web_kit", "")) == ""

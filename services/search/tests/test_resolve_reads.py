"""ResolveLibrary reads its documented matches' libraries together, not one by one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from twinmcp.search.v1 import index_pb2, search_pb2


async def test_resolving_to_many_libraries_reads_them_in_a_fixed_number_of_statements(
    sqlite_client: Any, kit: Any
) -> None:
    for number in range(8):
        await kit.publish_library(
            sqlite_client, f"/acme/webkit{number}", package_names=[f"webkit{number}"]
        )
    await sqlite_client.index.ImportCatalog(
        index_pb2.ImportCatalogRequest(
            entries=[
                index_pb2.CatalogEntry(registry="npm", name="webkit0", popularity_rank=40),
                index_pb2.CatalogEntry(registry="pypi", name="WebKit0", popularity_rank=9),
                index_pb2.CatalogEntry(registry="npm", name="webkit1", popularity_rank=300),
            ]
        ),
        timeout=30,
    )
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    engine = sqlite_client.server.engine.sync_engine
    request = search_pb2.ResolveLibraryRequest(library_name="webkit", query="web toolkit")
    # Once first, so the resolution index is built and the libraries' freshness read.
    await sqlite_client.search.ResolveLibrary(request, timeout=10)
    event.listen(engine, "before_cursor_execute", count)
    try:
        resolved = await sqlite_client.search.ResolveLibrary(request, timeout=10)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    documented = [m for m in resolved.matches if m.library.versions]
    assert len(documented) == 8
    assert {m.library.library_id for m in documented} == {f"/acme/webkit{n}" for n in range(8)}
    assert all(m.library.snippet_count == 4 for m in documented)
    # Each library's popularity is its packages' best catalog rank, whatever their case.
    popularity = {m.library.library_id: m.library.popularity_rank for m in documented}
    assert popularity["/acme/webkit0"] == 9 and popularity["/acme/webkit1"] == 300
    got = await sqlite_client.search.GetLibrary(
        search_pb2.GetLibraryRequest(library_id="/acme/webkit0"), timeout=10
    )
    assert got.library.popularity_rank == 9
    # One read of the libraries, one of their builds, one of their popularity (not 3 each).
    assert len(statements) <= 4, statements


async def test_resolving_right_after_a_publish_or_a_deletion_answers_what_changed(
    sqlite_client: Any, kit: Any
) -> None:
    # ResolveLibrary answers from the libraries read for the resolution index: a publish or a
    # deletion on this replica must show on the next call, not a second later.
    request = search_pb2.ResolveLibraryRequest(library_name="webkit")

    async def documented() -> dict[str, list[str]]:
        resolved = await sqlite_client.search.ResolveLibrary(request, timeout=10)
        return {
            m.library.library_id: sorted(v.version for v in m.library.versions)
            for m in resolved.matches
            if m.library.versions
        }

    await kit.publish_library(sqlite_client, "/acme/webkit", "1.0", package_names=["webkit"])
    assert await documented() == {"/acme/webkit": ["1.0"]}
    await kit.publish_library(
        sqlite_client, "/acme/webkit", "2.0", package_names=["webkit"], make_default=False
    )
    assert await documented() == {"/acme/webkit": ["1.0", "2.0"]}
    await sqlite_client.index.DeleteLibrary(
        index_pb2.DeleteLibraryRequest(library_id="/acme/webkit"), timeout=10
    )
    assert await documented() == {}

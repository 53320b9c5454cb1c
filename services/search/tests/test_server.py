"""The search service over gRPC: builds, publishing, queries, versions, errors, listing."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from twinmcp.search.v1 import index_pb2, search_pb2
from twinmcp.tokens import count_tokens


async def query(
    client: Any,
    library_id: str,
    text: str,
    tokens: int = 5000,
    version: str = "",
    ranker: str = "",
) -> search_pb2.QueryDocsResponse:
    return await client.search.QueryDocs(
        search_pb2.QueryDocsRequest(
            library_id=library_id, query=text, tokens=tokens, version=version, ranker=ranker
        ),
        timeout=10,
    )


async def test_a_published_library_answers_with_the_relevant_snippet_first(
    client: Any, kit: Any
) -> None:
    await kit.publish_library(client)
    reply = await query(client, "/acme/webkit", "allow my React app on localhost:3000 (CORS)")
    assert reply.library_id == "/acme/webkit"
    assert reply.version == "1.0"
    assert reply.snippets[0].source_path == "docs/cors.md"
    assert "CORSMiddleware" in "".join(s.content for s in reply.snippets)
    # The text agents read is search's: header first, every snippet it holds, within the budget.
    assert reply.text.startswith("# ")
    assert "(/acme/webkit), version 1.0" in reply.text.splitlines()[0]
    assert all(f"### {s.title}" in reply.text for s in reply.snippets)
    assert reply.tokens_used == count_tokens(reply.text) <= 5000
    assert list(reply.available_versions) == ["1.0"]


async def test_queries_during_a_build_see_the_previous_version_until_publish(
    client: Any, kit: Any
) -> None:
    await kit.publish_library(client, version="1.0")
    begun = await client.index.BeginBuild(
        index_pb2.BeginBuildRequest(
            library=index_pb2.LibraryMetadata(library_id="/acme/webkit"),
            version="1.0",
        ),
        timeout=10,
    )
    await client.index.PutDocument(
        index_pb2.PutDocumentRequest(
            build_id=begun.build_id,
            path="docs/cors.md",
            snippets=kit.doc_snippets("docs/cors.md", [("CORS", "info", "Rewritten CORS page v2")]),
        ),
        timeout=10,
    )
    during = await query(client, "/acme/webkit", "CORS")
    assert "Rewritten" not in "".join(s.content for s in during.snippets)
    await client.index.PublishBuild(index_pb2.PublishBuildRequest(build_id=begun.build_id))
    after = await query(client, "/acme/webkit", "CORS")
    assert "Rewritten" in after.snippets[0].content
    assert not after.is_cached


async def test_an_aborted_build_leaves_the_previous_version_serving(client: Any, kit: Any) -> None:
    await kit.publish_library(client, version="1.0")
    begun = await client.index.BeginBuild(
        index_pb2.BeginBuildRequest(
            library=index_pb2.LibraryMetadata(library_id="/acme/webkit"), version="1.0"
        ),
        timeout=10,
    )
    await client.index.PutDocument(
        index_pb2.PutDocumentRequest(
            build_id=begun.build_id,
            path="docs/cors.md",
            snippets=kit.doc_snippets("docs/cors.md", [("CORS", "info", "Broken half build")]),
        ),
        timeout=10,
    )
    await client.index.AbortBuild(index_pb2.AbortBuildRequest(build_id=begun.build_id))
    reply = await query(client, "/acme/webkit", "CORS")
    assert "Broken" not in "".join(s.content for s in reply.snippets)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await client.index.PublishBuild(index_pb2.PublishBuildRequest(build_id=begun.build_id))
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_begin_build_with_the_same_key_resumes_the_same_build(client: Any, kit: Any) -> None:
    request = index_pb2.BeginBuildRequest(
        library=index_pb2.LibraryMetadata(library_id="/acme/webkit"),
        version="2.0",
        idempotency_key="job-42",
    )
    first = await client.index.BeginBuild(request, timeout=10)
    await client.index.PutDocument(
        index_pb2.PutDocumentRequest(
            build_id=first.build_id,
            path="docs/cors.md",
            snippets=kit.doc_snippets("docs/cors.md", kit.CORS_DOC),
        ),
        timeout=10,
    )
    again = await client.index.BeginBuild(request, timeout=10)
    assert again.build_id == first.build_id
    assert list(again.completed_paths) == ["docs/cors.md"]
    # Putting the same path again replaces it rather than duplicating its snippets.
    reply = await client.index.PutDocument(
        index_pb2.PutDocumentRequest(
            build_id=first.build_id,
            path="docs/cors.md",
            snippets=kit.doc_snippets("docs/cors.md", kit.CORS_DOC),
        ),
        timeout=10,
    )
    published = await client.index.PublishBuild(
        index_pb2.PublishBuildRequest(build_id=first.build_id)
    )
    assert published.snippet_count == reply.snippet_count == len(kit.CORS_DOC)


async def test_an_embedding_of_the_wrong_dimension_is_rejected(client: Any, kit: Any) -> None:
    begun = await client.index.BeginBuild(
        index_pb2.BeginBuildRequest(
            library=index_pb2.LibraryMetadata(library_id="/acme/webkit"),
            version="1.0",
            embedding=index_pb2.EmbeddingSpace(model="mini", dimension=8),
        ),
        timeout=10,
    )
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await client.index.PutDocument(
            index_pb2.PutDocumentRequest(
                build_id=begun.build_id,
                path="docs/cors.md",
                snippets=kit.doc_snippets("docs/cors.md", kit.CORS_DOC, dimension=5),
            ),
            timeout=10,
        )
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "5-dimensional" in (error.value.details() or "")
    assert "8 dimensions" in (error.value.details() or "")


async def test_a_version_not_indexed_is_refused_with_the_available_versions(
    client: Any, kit: Any
) -> None:
    await kit.publish_library(client, version="1.0")
    await kit.publish_library(client, version="2.0", make_default=False)
    for library_id, version in (
        ("/acme/webkit/3.0", ""),
        ("/acme/webkit@3.0", ""),
        ("/acme/webkit", "3.0"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await query(client, library_id, "CORS", version=version)
        assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "1.0, 2.0" in (error.value.details() or "")
        trailing = dict(error.value.trailing_metadata() or ())
        assert trailing["available-versions"] == "1.0,2.0"
        assert trailing["library-id"] == "/acme/webkit"
        assert trailing["requested-version"] == "3.0"
    served = await query(client, "/acme/webkit@2.0", "CORS")
    assert served.version == "2.0"
    explicit = await query(client, "/acme/webkit@2.0", "CORS", version="1.0")
    assert explicit.version == "1.0"


async def test_the_write_side_refuses_a_version_not_indexed_as_the_read_side_does(
    client: Any, kit: Any
) -> None:
    await kit.publish_library(
        client, registry_source="pypi:webkit", registry_releases=["2.0.1", "2.0.0", "1.0"]
    )

    async def hashes(version: str) -> index_pb2.ListDocumentHashesResponse:
        request = index_pb2.ListDocumentHashesRequest(library_id="/acme/webkit", version=version)
        response: index_pb2.ListDocumentHashesResponse = await client.index.ListDocumentHashes(
            request, timeout=10
        )
        return response

    with pytest.raises(grpc.aio.AioRpcError) as written:
        await hashes("2.0.1")
    with pytest.raises(grpc.aio.AioRpcError) as read:
        await query(client, "/acme/webkit", "CORS", version="2.0.1")
    assert written.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert written.value.details() == read.value.details()
    assert "twinmcp ingest pypi:webkit==2.0.1" in (written.value.details() or "")
    trailing = dict(written.value.trailing_metadata() or ())
    assert trailing["registry-releases"] == "2.0.1"
    assert trailing["available-versions"] == "1.0"
    # A version to re-ingest is exact: a range names none, though QueryDocs serves it.
    with pytest.raises(grpc.aio.AioRpcError) as ranged:
        await hashes("1.x")
    assert ranged.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert (await query(client, "/acme/webkit", "CORS", version="1.x")).version == "1.0"
    assert (await hashes("v1.0")).version == "1.0"


async def test_an_unknown_library_is_not_found_with_suggestions(client: Any, kit: Any) -> None:
    await kit.publish_library(client)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await query(client, "/someone/webkitt", "CORS")
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    assert "/acme/webkit" in (error.value.details() or "")
    trailing = dict(error.value.trailing_metadata() or ())
    assert trailing["library-id"] == "/someone/webkitt"
    assert trailing["suggested-library-ids"] == "/acme/webkit"


async def test_an_unknown_library_without_close_matches_has_no_suggestions(
    client: Any, kit: Any
) -> None:
    await kit.publish_library(client)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await query(client, "/qqq/zzzz", "CORS")
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    trailing = dict(error.value.trailing_metadata() or ())
    assert trailing["library-id"] == "/qqq/zzzz"
    assert trailing["suggested-library-ids"] == ""


async def test_bad_requests_are_invalid_arguments(client: Any, kit: Any) -> None:
    await kit.publish_library(client)
    for library_id, text, tokens in (
        ("", "x", 100),
        ("/acme/webkit", "cors", -5),
        ("/a b/c", "x", 10),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await query(client, library_id, text, tokens)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


OVERVIEW_DOCS = {
    "docs/api/reference/index.md": [
        ("API reference", "info", "Every class of webkit, its methods and arguments."),
        ("Router", "code", "router = Router(prefix='/api')"),
    ],
    "docs/changelog.md": [("Changelog", "info", "1.0: first release of webkit.")],
    "docs/getting-started.md": [
        ("Getting started", "info", "Install webkit, then write your first app."),
        ("Hello", "code", "app = WebKit()\n@app.get('/')\ndef hello(): return 'hi'"),
        ("Run it", "info", "Start the server with webkit run."),
        ("Serve", "code", "webkit run app:app --reload"),
    ],
    "README.md": [
        ("webkit", "info", "webkit is a small toolkit for web APIs."),
        ("Install", "code", "pip install webkit"),
    ],
    "docs/cors.md": [("CORS", "info", "Allow other origins with CORSMiddleware.")],
}


async def test_an_empty_query_answers_the_overview_landing_pages_and_examples_first(
    client: Any, kit: Any
) -> None:
    await kit.publish_library(client, documents=OVERVIEW_DOCS)
    reply = await query(client, "/acme/webkit", "", tokens=5000)
    order = [(s.source_path, s.title) for s in reply.snippets]
    assert order == [
        ("README.md", "webkit"),
        ("README.md", "Install"),
        ("docs/getting-started.md", "Getting started"),
        ("docs/getting-started.md", "Hello"),
        ("docs/getting-started.md", "Serve"),
        ("docs/cors.md", "CORS"),
        ("docs/api/reference/index.md", "API reference"),
        ("docs/api/reference/index.md", "Router"),
        ("docs/changelog.md", "Changelog"),
        ("docs/getting-started.md", "Run it"),
    ]
    assert reply.tokens_used == count_tokens(reply.text) <= 5000
    again = await query(client, "/acme/webkit", "  ", tokens=5000, ranker="bm25")
    assert [(s.source_path, s.title) for s in again.snippets] == order


async def test_an_empty_query_fills_a_small_budget_with_the_landing_page_first(
    client: Any, kit: Any
) -> None:
    await kit.publish_library(client, documents=OVERVIEW_DOCS)
    reply = await query(client, "/acme/webkit", "", tokens=60)
    assert [(s.source_path, s.title) for s in reply.snippets] == [
        ("README.md", "webkit"),
        ("README.md", "Install"),
    ]
    assert 0 < reply.tokens_used <= 60


async def test_the_bm25_ranker_answers_within_the_budget_and_is_cached_apart(
    client: Any, kit: Any
) -> None:
    await kit.publish_library(client)
    hybrid = await query(client, "/acme/webkit", "background email", tokens=2000)
    baseline = await query(client, "/acme/webkit", "background email", tokens=2000, ranker="bm25")
    assert not baseline.is_cached
    assert baseline.snippets and baseline.tokens_used <= 2000
    assert baseline.snippets[0].score == 1.0
    assert baseline.tokens_used == count_tokens(baseline.text)
    again = await query(client, "/acme/webkit", "background email", tokens=2000, ranker="BM25")
    assert again.is_cached
    assert [s.snippet_id for s in again.snippets] == [s.snippet_id for s in baseline.snippets]
    assert (await query(client, "/acme/webkit", "background email", tokens=2000)).is_cached
    assert not hybrid.is_cached
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await query(client, "/acme/webkit", "cors", ranker="tfidf")
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "bm25" in (error.value.details() or "")


async def test_a_repeated_query_is_cached_and_a_new_version_is_not_served_from_cache(
    client: Any, kit: Any
) -> None:
    await kit.publish_library(client)
    first = await query(client, "/acme/webkit", "background email")
    second = await query(client, "/acme/webkit", "background email")
    assert not first.is_cached and second.is_cached
    assert [s.snippet_id for s in first.snippets] == [s.snippet_id for s in second.snippets]
    await kit.publish_library(
        client,
        documents={
            "docs/tasks.md": [("Background Tasks", "info", "New page about background email jobs")]
        },
    )
    third = await query(client, "/acme/webkit", "background email")
    assert not third.is_cached
    assert "New page" in third.snippets[0].content


async def test_copy_documents_carries_unchanged_pages_into_the_next_version(
    client: Any, kit: Any
) -> None:
    await kit.publish_library(client, version="1.0")
    hashes = await client.index.ListDocumentHashes(
        index_pb2.ListDocumentHashesRequest(library_id="/acme/webkit"), timeout=10
    )
    assert {d.path for d in hashes.documents} == {"docs/cors.md", "docs/tasks.md"}
    begun = await client.index.BeginBuild(
        index_pb2.BeginBuildRequest(
            library=index_pb2.LibraryMetadata(library_id="/acme/webkit"),
            version="1.1",
            base_version="1.0",
            make_default=True,
        ),
        timeout=10,
    )
    copied = await client.index.CopyDocuments(
        index_pb2.CopyDocumentsRequest(build_id=begun.build_id, paths=["docs/tasks.md"]),
        timeout=10,
    )
    assert (copied.document_count, copied.snippet_count) == (1, len(kit.TASKS_DOC))
    await client.index.PublishBuild(index_pb2.PublishBuildRequest(build_id=begun.build_id))
    reply = await query(client, "/acme/webkit", "add_task")
    assert reply.version == "1.1"
    assert any("add_task" in s.content for s in reply.snippets)


async def test_libraries_are_listed_page_by_page_and_deleted(client: Any, kit: Any) -> None:
    for name in ("alpha", "beta", "gamma"):
        await kit.publish_library(client, library_id=f"/acme/{name}")
    first = await client.search.ListLibraries(search_pb2.ListLibrariesRequest(page_size=2))
    second = await client.search.ListLibraries(
        search_pb2.ListLibrariesRequest(page_size=2, page_token=first.next_page_token)
    )
    ids = [lib.library_id for lib in [*first.libraries, *second.libraries]]
    assert ids == ["/acme/alpha", "/acme/beta", "/acme/gamma"]
    assert second.next_page_token == ""
    got = await client.search.GetLibrary(search_pb2.GetLibraryRequest(library_id="/acme/beta"))
    assert got.library.versions[0].is_default and got.library.snippet_count == 4
    await client.index.DeleteLibrary(index_pb2.DeleteLibraryRequest(library_id="/acme/beta"))
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await query(client, "/acme/beta", "CORS")
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


async def test_catalog_entries_resolve_and_a_documented_library_ranks_first(
    client: Any, kit: Any
) -> None:
    await kit.publish_library(client, library_id="/tiangolo/fastapi", package_names=["fastapi"])
    await kit.publish_library(client, library_id="/someone/fastapi-clone")
    await client.index.ImportCatalog(
        index_pb2.ImportCatalogRequest(
            entries=[
                index_pb2.CatalogEntry(
                    registry="pypi",
                    name="fastapi",
                    popularity_rank=67,
                    summary="FastAPI framework, high performance",
                ),
                index_pb2.CatalogEntry(
                    registry="pypi",
                    name="pydantic",
                    popularity_rank=16,
                    summary="Data validation using Python type hints",
                ),
            ]
        ),
        timeout=30,
    )
    reply = await client.search.ResolveLibrary(
        search_pb2.ResolveLibraryRequest(library_name="fastapi"), timeout=10
    )
    assert reply.matches[0].library.library_id == "/tiangolo/fastapi"
    assert reply.matches[0].library.popularity_rank == 67
    typo = await client.search.ResolveLibrary(
        search_pb2.ResolveLibraryRequest(library_name="pydnatic"), timeout=10
    )
    assert typo.matches[0].library.library_id == "/pypi/pydantic"
    assert typo.matches[0].library.source_type == search_pb2.SOURCE_TYPE_CATALOG


async def test_a_librarys_readme_opening_is_kept_and_read_by_resolution(
    client: Any, kit: Any
) -> None:
    about = "Webkit routes requests to handlers and renders server templates \u200bfast."

    async def described() -> list[str]:
        reply = await client.search.ResolveLibrary(
            search_pb2.ResolveLibraryRequest(
                library_name="route requests and render templates",
                query="route requests and render templates",
            ),
            timeout=10,
        )
        return [m.library.library_id for m in reply.matches]

    await kit.publish_library(client, about=about)
    assert (await described())[:1] == ["/acme/webkit"]
    # A later build that read no README (an older ingest) keeps the library's own.
    await kit.publish_library(client, version="1.1", about="")
    assert (await described())[:1] == ["/acme/webkit"]
    info = await client.search.GetLibrary(
        search_pb2.GetLibraryRequest(library_id="/acme/webkit"), timeout=10
    )
    # Never shown: what agents read of the library is its description.
    assert "routes requests" not in str(info)


async def test_what_a_librarys_documentation_talks_about_is_read_by_resolution(
    client: Any, kit: Any
) -> None:
    # Its summary and README say nothing of schemas; its pages do, page after page.
    pages = {
        f"docs/{name}.md": [
            (f"{name.title()} schemas", "info", f"Declare a schema to marshal {name} objects."),
            (f"Marshal {name}", "code", f"{name}_schema.dump(obj)"),
        ]
        for name in ("users", "orders", "invoices", "carts")
    }
    asked = "marshal objects with a schema"

    async def described() -> list[str]:
        reply = await client.search.ResolveLibrary(
            search_pb2.ResolveLibraryRequest(library_name=asked, query=asked), timeout=10
        )
        return [m.library.library_id for m in reply.matches]

    await kit.publish_library(client, "/acme/shapes", documents=pages)
    await kit.publish_library(client, "/acme/webkit")
    assert (await described())[:1] == ["/acme/shapes"]
    # A version that is not the default leaves the default's words as they were.
    await kit.publish_library(
        client, "/acme/shapes", version="0.9", documents={"a.md": kit.CORS_DOC},
        make_default=False,
    )  # fmt: skip
    assert (await described())[:1] == ["/acme/shapes"]
    # Publishing the default again with other pages replaces them.
    await kit.publish_library(client, "/acme/shapes", documents={"a.md": kit.CORS_DOC})
    assert "/acme/shapes" not in await described()


async def test_publishing_a_published_build_again_gives_the_same_answer(
    client: Any, kit: Any
) -> None:
    build_id = await kit.publish_library(client)
    again = await client.index.PublishBuild(index_pb2.PublishBuildRequest(build_id=build_id))
    assert (again.library_id, again.version, again.snippet_count) == ("/acme/webkit", "1.0", 4)

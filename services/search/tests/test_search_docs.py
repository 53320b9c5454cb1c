"""SearchDocs over gRPC: one question across libraries, with or without hints."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from twinmcp.search import crosslib
from twinmcp.search.rendering import SEPARATOR, TRUNCATED
from twinmcp.search.v1 import index_pb2, search_pb2
from twinmcp.tokens import count_tokens

HTTP_DOC = [
    (
        "Timeouts",
        "info",
        "The client raises a timeout error when the server does not answer in time. Set "
        "connect and read timeouts on the Client to retry slow upstream servers.",
    ),
    (
        "Configure timeouts",
        "code",
        "client = Client(timeout=Timeout(5.0, connect=2.0))\nclient.get(url)",
    ),
    (
        "Streaming downloads",
        "info",
        "Stream a large download chunk by chunk and show progress of the bytes received.",
    ),
]
SHARED_README = (
    "Contributing",
    "info",
    "Fork the repository, create a branch, run the whole test suite with make test, then "
    "open a pull request describing the change and link the issue it closes.",
)


async def _publish_two(client: Any, kit: Any) -> None:
    await kit.publish_library(
        client,
        "/acme/webkit",
        documents={
            "docs/cors.md": kit.CORS_DOC,
            "docs/tasks.md": kit.TASKS_DOC,
            "CONTRIBUTING.md": [SHARED_README],
        },
        package_names=["webkit"],
    )
    await kit.publish_library(
        client,
        "/acme/fetcher",
        documents={"docs/timeouts.md": HTTP_DOC, "CONTRIBUTING.md": [SHARED_README]},
        package_names=["fetcher"],
    )


async def _search(client: Any, **fields: Any) -> search_pb2.SearchDocsResponse:
    reply: search_pb2.SearchDocsResponse = await client.search.SearchDocs(
        search_pb2.SearchDocsRequest(**fields), timeout=10
    )
    return reply


async def _refusal(client: Any, **fields: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _search(client, **fields)
    return caught.value


async def test_a_question_without_a_library_is_answered_from_the_library_that_documents_it(
    client: Any, kit: Any
) -> None:
    await _publish_two(client, kit)
    reply = await _search(client, query="set a read timeout so slow upstream servers are retried")
    assert reply.hits[0].library_id == "/acme/fetcher"
    assert reply.hits[0].version == "1.0"
    assert "timeout" in reply.hits[0].snippet.content.lower()
    assert reply.libraries[0].library_id == "/acme/fetcher"
    assert reply.libraries[0].reason == "content"
    assert reply.libraries[0].relevance == 1.0

    other = await _search(client, query="allow cross-origin requests from the browser frontend")
    assert other.hits[0].library_id == "/acme/webkit"
    assert "CORS" in other.hits[0].snippet.content + other.hits[0].snippet.title


async def test_every_hit_names_its_library_and_version_and_the_budget_holds(
    client: Any, kit: Any
) -> None:
    await _publish_two(client, kit)
    reply = await _search(
        client, query="timeouts and CORS", libraries=["webkit", "fetcher"], tokens=600
    )
    assert {hit.library_id for hit in reply.hits} == {"/acme/webkit", "/acme/fetcher"}
    assert all(hit.version == "1.0" for hit in reply.hits)
    assert [lib.reason for lib in reply.libraries] == ["hint", "hint"]
    assert 0 < reply.tokens_used <= 600
    # Each hit is charged its snippet, the markup allowance and the line naming its library.
    charged = sum(
        hit.snippet.tokens + 20 + count_tokens(f"Library: {hit.library_id}, version {hit.version}")
        for hit in reply.hits
    )
    assert charged <= reply.tokens_used


async def test_each_searched_library_keeps_its_best_hit_below_the_relevance_floor(
    client: Any, kit: Any
) -> None:
    await _publish_two(client, kit)
    reply = await _search(
        client,
        query="set a read timeout so a slow upstream backend is retried",
        libraries=["webkit", "fetcher"],
    )
    owners = [hit.library_id for hit in reply.hits]
    # fetcher answers; webkit, which the caller named too, adds its one best hit at the end.
    assert owners[0] == "/acme/fetcher"
    assert owners.count("/acme/webkit") == 1 and owners[-1] == "/acme/webkit"
    assert reply.hits[-1].snippet.score < 0.5 * reply.hits[0].snippet.score
    assert {lib.library_id for lib in reply.libraries} == {"/acme/webkit", "/acme/fetcher"}


async def test_a_query_naming_a_library_searches_it_as_named(client: Any, kit: Any) -> None:
    await _publish_two(client, kit)
    reply = await _search(client, query="how do I stream a download with fetcher")
    assert reply.hits[0].library_id == "/acme/fetcher"
    named = {lib.library_id: lib.reason for lib in reply.libraries}
    assert named["/acme/fetcher"] == "named"


async def test_a_code_identifier_only_one_library_holds_points_at_it(
    client: Any, kit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The words lean to webkit ("response", "email", "task"); `client.get` is fetcher's alone.
    await _publish_two(client, kit)
    query = "run a task after the response, like an email, with client.get"
    reply = await _search(client, query=query)
    assert reply.hits[0].library_id == "/acme/fetcher"
    shares = {lib.library_id: lib.relevance for lib in reply.libraries}
    assert shares["/acme/fetcher"] == 1.0

    monkeypatch.setattr(crosslib, "IDENTIFIER_BOOST", 1.0)
    unboosted = await _search(client, query=query, tokens=4000)  # another key: not cached
    assert unboosted.hits[0].library_id == "/acme/webkit"


async def test_the_same_text_in_two_libraries_is_answered_once(client: Any, kit: Any) -> None:
    await _publish_two(client, kit)
    reply = await _search(
        client,
        query="fork the repository and open a pull request",
        libraries=["/acme/webkit", "/acme/fetcher"],
    )
    contributing = [hit for hit in reply.hits if hit.snippet.title == "Contributing"]
    assert len(contributing) == 1


async def test_a_repeated_search_is_answered_from_the_cache(client: Any, kit: Any) -> None:
    await _publish_two(client, kit)
    first = await _search(client, query="configure timeouts")
    again = await _search(client, query="configure  Timeouts")
    assert not first.is_cached and again.is_cached
    assert [h.snippet.snippet_id for h in again.hits] == [h.snippet.snippet_id for h in first.hits]
    assert again.text == first.text and first.text.startswith("# Documentation across libraries")


OTHER_CORS_DOC = [
    (
        "CORS for browser frontends",
        "info",
        "To let a browser frontend on another origin call the API, enable CORS: list the "
        "allowed origins, and allow credentials for cookies. CORS preflight requests are "
        "answered for you once CORS is enabled.",
    ),
]


async def test_a_projects_documented_dependencies_are_the_libraries_searched(
    client: Any, kit: Any
) -> None:
    await _publish_two(client, kit)
    await kit.publish_library(
        client, "/other/webframe", documents={"docs/cors.md": OTHER_CORS_DOC},
        package_names=["webframe"],
    )  # fmt: skip
    query = "enable CORS so my browser frontend on another origin can call the API"
    unscoped = await _search(client, query=query)
    assert unscoped.hits[0].library_id == "/other/webframe"
    locks = [
        search_pb2.LockedPackage(registry="pypi", name="webkit", version="1.0"),
        search_pb2.LockedPackage(registry="pypi", name="fetcher", version="1.0"),
        search_pb2.LockedPackage(registry="pypi", name="undocumented", version="2.0"),
    ]
    scoped = await _search(client, query=query, locked_packages=locks, project_format="uv.lock")
    assert {hit.library_id for hit in scoped.hits} == {"/acme/webkit"}
    assert "CORSMiddleware" in scoped.text
    assert (
        "Only the documented dependencies of the uv.lock passed as 'project' were searched"
        in scoped.text
    )
    assert "were searched" not in unscoped.text
    again = await _search(client, query=query, locked_packages=locks, project_format="uv.lock")
    assert again.text == scoped.text  # from the answer cache
    assert {(lib.library_id, lib.reason) for lib in scoped.libraries} <= {
        ("/acme/webkit", crosslib.REASON_PROJECT),
        ("/acme/fetcher", crosslib.REASON_PROJECT),
    }
    # A registered project is read the same way.
    await client.search.RegisterProject(
        search_pb2.RegisterProjectRequest(name="shop", packages=locks), timeout=10
    )
    registered = await _search(client, query=query, project="shop")
    assert [hit.library_id for hit in registered.hits] == [hit.library_id for hit in scoped.hits]
    # A library the question names is searched though the project does not lock it.
    named = await _search(client, query=query + " with webframe", project="shop")
    assert named.hits[0].library_id == "/other/webframe"
    assert (
        "Besides the libraries the question names, only the documented dependencies of "
        "project 'shop' were searched" in named.text
    )
    assert ("/other/webframe", crosslib.REASON_NAMED) in {
        (lib.library_id, lib.reason) for lib in named.libraries
    }
    # A project none of whose packages is documented chooses as no project does.
    elsewhere = [search_pb2.LockedPackage(registry="npm", name="leftpad", version="1.3.0")]
    unchanged = await _search(client, query=query, locked_packages=elsewhere)
    assert unchanged.hits[0].library_id == "/other/webframe"


async def test_a_project_of_more_libraries_than_are_probed_keeps_the_described_one(
    client: Any, kit: Any
) -> None:
    # 25 dependencies that sort first and one that sorts last: only 24 are probed, and the
    # one whose README says what the query asks for is among them.
    for n in range(25):
        await kit.publish_library(
            client, f"/acme/lib{n:02}", documents={"docs/tasks.md": kit.TASKS_DOC},
            package_names=[f"lib{n:02}"],
        )  # fmt: skip
    await kit.publish_library(
        client, "/zzz/zframe", documents={"docs/cors.md": OTHER_CORS_DOC},
        package_names=["zframe"], about="Zframe enables CORS for frontends on another origin.",
    )  # fmt: skip
    locks = [
        search_pb2.LockedPackage(registry="pypi", name=name, version="1.0")
        for name in [*(f"lib{n:02}" for n in range(25)), "zframe"]
    ]
    reply = await _search(
        client,
        query="enable CORS so my browser frontend on another origin can call the API",
        locked_packages=locks,
    )
    assert reply.hits[0].library_id == "/zzz/zframe"
    assert len(reply.libraries) <= crosslib.MAX_PROBED_LIBRARIES


def _shown_hits(reply: search_pb2.SearchDocsResponse) -> None:
    """The text is within its count and shows exactly `hits`, in order, each under its title
    and library line (a cut one with the content the text shows)."""
    assert reply.tokens_used == count_tokens(reply.text)
    sections = reply.text.split(SEPARATOR)[1:]
    assert len(sections) == len(reply.hits)
    for section, hit in zip(sections, reply.hits, strict=True):
        tag = f"Library: {hit.library_id}, version {hit.version}"
        assert section.startswith(f"### {hit.snippet.title}\n{tag}\n\n")
        assert hit.snippet.content.removesuffix(TRUNCATED).rstrip() in section


@pytest.mark.parametrize("budget", [40, 90, 150, 250, 400, 700])
async def test_the_text_with_its_project_header_holds_the_budget_and_shows_exactly_the_hits(
    client: Any, kit: Any, budget: int
) -> None:
    await _publish_two(client, kit)
    asked = {"query": "timeouts and CORS", "libraries": ["webkit", "fetcher"], "tokens": budget}
    plain = await _search(client, **asked)
    reply = await _search(client, **asked, project_format="uv.lock")
    for answer in (plain, reply):
        assert count_tokens(answer.text) <= budget
        _shown_hits(answer)
    assert "passed as 'project'" not in plain.text
    # Not the answer cached without a project: the header names the file, per answering library.
    note = "The uv.lock passed as 'project' locks none of this library's packages"
    for library_id in {hit.library_id for hit in reply.hits}:
        assert f"{library_id}: {note}; this answer is for version 1.0" in reply.text


async def test_a_first_hit_too_big_for_the_text_is_cut_the_same_way_in_text_and_hits(
    client: Any, kit: Any
) -> None:
    # Packing charges the hit its snippet and library line, not the header: it is chosen, and
    # the text, header included, cuts it.
    long = " ".join(
        f"Retry rule {n}: a failed request is retried after a pause." for n in range(30)
    )
    await kit.publish_library(
        client, "/acme/retry", documents={"docs/retry.md": [("Retries", "info", long)]}
    )
    reply = await _search(client, query="retry rule pause", libraries=["/acme/retry"], tokens=500)
    assert count_tokens(reply.text) <= 500
    assert reply.text.endswith(TRUNCATED)
    [hit] = reply.hits
    assert hit.snippet.content.endswith(TRUNCATED)
    assert long.startswith(hit.snippet.content.removesuffix(TRUNCATED))
    assert hit.snippet.tokens < count_tokens(long)
    _shown_hits(reply)


async def test_a_language_leaves_out_code_in_other_languages(client: Any, kit: Any) -> None:
    await kit.publish_library(client, "/acme/webkit", package_names=["webkit"])
    snippets = kit.doc_snippets(
        "docs/cors.md",
        [
            ("CORS in TypeScript", "code", "app.use(cors({ origin: 'http://localhost:3000' }))"),
            ("Install", "code", "npm install webkit-cors"),
        ],
    )
    snippets[0].snippet.language = "typescript"
    snippets[1].snippet.language = "bash"
    begun = await client.index.BeginBuild(
        index_pb2.BeginBuildRequest(
            library=index_pb2.LibraryMetadata(library_id="/acme/webkit-js", title="webkit-js"),
            version="2.0",
            make_default=True,
        ),
        timeout=10,
    )
    await client.index.PutDocument(
        index_pb2.PutDocumentRequest(
            build_id=begun.build_id, path="docs/cors.md", content_hash="h", snippets=snippets
        ),
        timeout=10,
    )
    await client.index.PublishBuild(
        index_pb2.PublishBuildRequest(build_id=begun.build_id), timeout=30
    )
    query = "CORS origin localhost:3000"
    everything = await _search(client, query=query, libraries=["/acme/webkit", "/acme/webkit-js"])
    assert any(hit.snippet.language == "typescript" for hit in everything.hits)
    python = await _search(
        client, query=query, libraries=["/acme/webkit", "/acme/webkit-js"], language="python"
    )
    languages = {hit.snippet.language for hit in python.hits}
    assert "typescript" not in languages and "python" in languages
    assert "bash" in languages  # a shell command answers in any language
    # Without hints, a library whose examples are in another language is not searched.
    unhinted = await _search(client, query=query, language="python")
    assert {lib.library_id for lib in unhinted.libraries} == {"/acme/webkit"}
    refused = await _refusal(client, query=query, language="cobol")
    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "language 'cobol'" in (refused.details() or "")


async def _publish_for(
    client: Any, kit: Any, library_id: str, registry: str, sections: list[tuple[str, str, str]]
) -> None:
    name = library_id.rsplit("/", 1)[-1]
    begun = await client.index.BeginBuild(
        index_pb2.BeginBuildRequest(
            library=index_pb2.LibraryMetadata(
                library_id=library_id,
                title=name,
                packages=[search_pb2.PackageRef(registry=registry, name=name)],
            ),
            version="1.0",
            make_default=True,
        ),
        timeout=10,
    )
    await client.index.PutDocument(
        index_pb2.PutDocumentRequest(
            build_id=begun.build_id,
            path="docs/proxy.md",
            content_hash="h",
            snippets=kit.doc_snippets("docs/proxy.md", sections),
        ),
        timeout=10,
    )
    await client.index.PublishBuild(
        index_pb2.PublishBuildRequest(build_id=begun.build_id), timeout=30
    )


async def test_a_question_naming_its_language_prefers_the_library_for_it(
    client: Any, kit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two HTTP clients, one on PyPI and one on npm; the Python one's words fit a little better.
    await _publish_for(
        client,
        kit,
        "/acme/pyhttp",
        "pypi",
        [
            ("SOCKS proxies", "info", "Route requests through a SOCKS5 proxy: create a proxy "
             "manager with the proxy URL and the proxy resolves host names."),
        ],
    )  # fmt: skip
    await _publish_for(
        client,
        kit,
        "/acme/jshttp",
        "npm",
        [
            ("Proxy agents", "info", "Route requests through a SOCKS5 proxy with an agent made "
             "from the proxy URL."),
        ],
    )  # fmt: skip
    plain = await _search(client, query="route requests through a socks5 proxy")
    assert plain.hits[0].library_id == "/acme/pyhttp"

    node = await _search(client, query="route requests through a socks5 proxy from Node")
    assert node.hits[0].library_id == "/acme/jshttp"
    shares = {lib.library_id: lib.relevance for lib in node.libraries}
    assert shares["/acme/jshttp"] == 1.0 > shares.get("/acme/pyhttp", 0.0)
    python = await _search(client, query="route requests through a socks5 proxy in Python")
    assert python.hits[0].library_id == "/acme/pyhttp"

    monkeypatch.setattr(crosslib, "OFF_LANGUAGE_FACTOR", 1.0)
    unweighed = await _search(
        client, query="route requests through a socks5 proxy from Node", tokens=4000
    )
    assert unweighed.hits[0].library_id == "/acme/pyhttp"


@pytest.mark.parametrize(
    ("query", "family"),
    [
        ("mutual TLS when making https requests from Node?", "javascript"),
        ("how do I do this in node.js or typescript", "javascript"),
        ("pip install fails for python3", "python"),
        ("split my main.py and serve css and js files", ""),  # file names, not a language
        ("port this python snippet to javascript", ""),  # two: neither
        ("go to the next page", ""),
    ],
)
def test_the_language_a_question_names(query: str, family: str) -> None:
    assert crosslib.question_family(query) == family


async def test_a_version_with_one_library_is_strict(client: Any, kit: Any) -> None:
    await _publish_two(client, kit)
    await kit.publish_library(
        client, "/acme/fetcher", "0.9", {"docs/timeouts.md": HTTP_DOC}, make_default=False
    )
    older = await _search(client, query="timeouts", libraries=["fetcher"], version="v0.9")
    assert {hit.version for hit in older.hits} == {"0.9"}
    refused = await _refusal(client, query="timeouts", libraries=["/acme/fetcher"], version="3.0")
    assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION
    trailing = dict(refused.trailing_metadata() or ())
    assert trailing["library-id"] == "/acme/fetcher"
    assert trailing["requested-version"] == "3.0"
    assert trailing["available-versions"].split(",") == ["1.0", "0.9"]
    assert "1.0, 0.9" in (refused.details() or "")


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"query": "  "}, "query is empty"),
        ({"query": "q", "libraries": [f"/acme/l{n}" for n in range(10)]}, "libraries has 10"),
        ({"query": "q", "libraries": ["no-such-library"]}, "'no-such-library' names no"),
        ({"query": "q", "libraries": ["/nobody/nothing"]}, "'/nobody/nothing' is not indexed"),
        ({"query": "q", "libraries": ["webkit", "fetcher"], "version": "1.0"}, "exactly one"),
        ({"query": "q", "version": "1.0"}, "exactly one library, not 0"),
        ({"query": "q" * 2001}, "query is 2001 characters long; the limit is 2000"),
        ({"query": "q", "tokens": -1}, "tokens must be positive"),
    ],
)
async def test_bad_input_is_refused_naming_the_problem(
    sqlite_client: Any, kit: Any, fields: dict[str, Any], named: str
) -> None:
    await _publish_two(sqlite_client, kit)
    refused = await _refusal(sqlite_client, **fields)
    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert named in (refused.details() or "")


async def test_with_no_library_indexed_the_answer_is_empty(sqlite_client: Any) -> None:
    reply = await _search(sqlite_client, query="anything at all", tokens=60)
    assert list(reply.hits) == [] and list(reply.libraries) == []
    assert reply.text.startswith("# Documentation across libraries\nFrom: no library matched")
    assert "No documentation matched" in reply.text
    assert reply.tokens_used == count_tokens(reply.text) <= 60


async def test_a_hint_naming_only_a_catalog_package_is_refused(
    sqlite_client: Any, kit: Any
) -> None:
    await _publish_two(sqlite_client, kit)
    await sqlite_client.index.ImportCatalog(
        index_pb2.ImportCatalogRequest(
            entries=[index_pb2.CatalogEntry(registry="npm", name="leftpad", popularity_rank=1)]
        ),
        timeout=10,
    )
    refused = await _refusal(sqlite_client, query="pad a string", libraries=["leftpad"])
    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "'leftpad' names no documented library" in (refused.details() or "")
    # A documented library is still found by its package name beside the catalog.
    reply = await _search(sqlite_client, query="timeouts", libraries=["fetcher"])
    assert reply.libraries[0].library_id == "/acme/fetcher"

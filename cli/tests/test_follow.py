"""`twinmcp follow <library-id>` and `twinmcp follows` over ingest's follow RPCs."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from twinmcp.cli import jobs
from twinmcp.cli.config import CliSettings
from twinmcp.ingest.v1 import ingest_pb2, ingest_pb2_grpc


class FakeIngest(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(self) -> None:
        self.follows: dict[str, ingest_pb2.FollowedLibrary] = {}

    async def FollowLibrary(self, request: Any, context: Any) -> Any:
        if request.library_id != "/pallets/flask":
            await context.abort(grpc.StatusCode.NOT_FOUND, f"{request.library_id} never ingested")
        followed = ingest_pb2.FollowedLibrary(
            library_id=request.library_id, source="pypi:flask", newest_release="3.1.3"
        )
        self.follows[request.library_id] = followed
        return ingest_pb2.FollowLibraryResponse(library=followed)

    async def UnfollowLibrary(self, request: Any, context: Any) -> Any:
        self.follows.pop(request.library_id)
        return ingest_pb2.UnfollowLibraryResponse()

    async def ListFollowedLibraries(self, request: Any, context: Any) -> Any:
        return ingest_pb2.ListFollowedLibrariesResponse(libraries=list(self.follows.values()))


@pytest.fixture
async def ingest() -> AsyncIterator[tuple[FakeIngest, CliSettings]]:
    fake = FakeIngest()
    server = grpc.aio.server()
    ingest_pb2_grpc.add_IngestServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield fake, CliSettings.from_env({"INGEST_ADDR": f"127.0.0.1:{port}"})
    await server.stop(0)


async def test_follow_marks_the_library_and_says_its_newest_release(
    ingest: tuple[FakeIngest, CliSettings], capsys: pytest.CaptureFixture[str]
) -> None:
    fake, settings = ingest
    args = argparse.Namespace(library_id="/pallets/flask", stop=False)
    assert await jobs.follow_library(args, settings) == 0
    assert list(fake.follows) == ["/pallets/flask"]
    assert "following /pallets/flask (pypi:flask): newest release 3.1.3" in capsys.readouterr().out
    assert await jobs.list_follows(argparse.Namespace(), settings) == 0
    assert "pypi:flask" in capsys.readouterr().out
    stop = argparse.Namespace(library_id="/pallets/flask", stop=True)
    assert await jobs.follow_library(stop, settings) == 0
    assert fake.follows == {}


async def test_following_an_unknown_library_is_the_services_error(
    ingest: tuple[FakeIngest, CliSettings],
) -> None:
    _, settings = ingest
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await jobs.follow_library(argparse.Namespace(library_id="/a/b", stop=False), settings)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND

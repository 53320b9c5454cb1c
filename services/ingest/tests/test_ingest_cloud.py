"""GitHub, S3 and OpenAI through their real clients against local stand-ins."""

from __future__ import annotations

import hashlib
import io
import tarfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from moto.server import ThreadedMotoServer
from twinmcp.ingest.v1 import ingest_pb2
from twinmcp.runtime.ports import free_port

SUCCEEDED = ingest_pb2.JOB_STATE_SUCCEEDED
CORPUS = Path(__file__).resolve().parents[3].parent / "shared/eval/corpus"


def _tarball(root: Path, top: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for file in sorted(root.rglob("*")):
            if file.is_file():
                tar.add(file, arcname=f"{top}/{file.relative_to(root).as_posix()}")
    return buffer.getvalue()


@pytest.fixture
async def github() -> AsyncIterator[tuple[str, dict[str, Any]]]:
    state: dict[str, Any] = {"requests": [], "times": [], "limited": True}
    tarball = _tarball(CORPUS / "encode__httpx", "encode-httpx-abc123")

    async def handler(request: web.Request) -> web.StreamResponse:
        state["requests"].append((request.path, request.headers.get("Authorization")))
        state["times"].append(time.time())
        if state["limited"]:
            state["limited"] = False
            state["reset"] = int(time.time()) + 1
            return web.json_response(
                {"message": "API rate limit exceeded"},
                status=403,
                headers={
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(state["reset"]),
                },
            )
        headers = {"X-RateLimit-Remaining": "4999"}
        if request.path == "/repos/encode/httpx":
            return web.json_response(
                {
                    "full_name": "encode/httpx",
                    "description": "HTTP client",
                    "default_branch": "master",
                    "stargazers_count": 13000,
                },
                headers=headers,
            )
        if request.path == "/repos/encode/httpx/tags":
            return web.json_response([{"name": "0.28.1"}, {"name": "0.27.0"}], headers=headers)
        if request.path == "/repos/encode/httpx/tarball/0.28.1":
            raise web.HTTPFound("/codeload/encode/httpx/0.28.1.tar.gz")
        if request.path == "/codeload/encode/httpx/0.28.1.tar.gz":
            return web.Response(body=tarball, content_type="application/x-gzip")
        return web.json_response({"message": "Not Found"}, status=404)

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield f"http://127.0.0.1:{server.port}", state
    await server.close()


async def test_github_release_is_fetched_through_the_rest_api_waiting_out_the_rate_limit(
    harness: Callable[..., Any], github: tuple[str, dict[str, Any]]
) -> None:
    url, state = github
    h = await harness(GITHUB_API_URL=url, GITHUB_TOKEN="ghp_test")
    job = await h.ingest("https://github.com/encode/httpx", version="0.28.1")
    assert job.state == SUCCEEDED, job.error
    assert job.library_id == "/encode/httpx" and job.version == "0.28.1"
    # Nothing was asked again before X-RateLimit-Reset.
    assert state["times"][1] >= state["reset"]
    assert all(
        auth == "Bearer ghp_test" for path, auth in state["requests"] if path.startswith("/repos")
    )
    build = next(iter(h.fake.builds.values()))
    assert build.library.stars == 13000 and build.library.source_type == 1
    assert "docs/quickstart.md" in h.fake.published("/encode/httpx", "0.28.1").docs


async def test_missing_github_repository_fails_with_a_message_naming_it(
    harness: Callable[..., Any], github: tuple[str, dict[str, Any]]
) -> None:
    url, state = github
    state["limited"] = False
    h = await harness(GITHUB_API_URL=url)
    job = await h.ingest("https://github.com/nobody/nothing")
    assert job.state == ingest_pb2.JOB_STATE_FAILED
    assert "nobody/nothing" in job.error


@pytest.fixture
def s3() -> Any:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


async def test_raw_files_land_in_a_versioned_s3_bucket(
    harness: Callable[..., Any], s3: str
) -> None:
    h = await harness(
        AWS_S3_BUCKET="twinmcp-raw",
        AWS_REGION="us-east-1",
        AWS_ENDPOINT_URL=s3,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
    )
    job = await h.ingest(str(CORPUS / "encode__httpx"), library_id="/encode/httpx")
    assert job.state == SUCCEEDED, job.error
    client = boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=s3,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    assert client.get_bucket_versioning(Bucket="twinmcp-raw")["Status"] == "Enabled"
    keys = [o["Key"] for o in client.list_objects_v2(Bucket="twinmcp-raw")["Contents"]]
    assert len(keys) == job.progress.files_total
    assert all(k.startswith("encode/httpx/latest/") for k in keys)
    body = (CORPUS / "encode__httpx/docs/quickstart.md").read_bytes()
    key = f"encode/httpx/latest/{hashlib.sha256(body).hexdigest()}"
    assert client.get_object(Bucket="twinmcp-raw", Key=key)["Body"].read() == body


async def test_openai_embeddings_reach_the_index_through_the_sdk(
    harness: Callable[..., Any],
) -> None:
    calls: list[int] = []

    async def embeddings(request: web.Request) -> web.Response:
        body = await request.json()
        calls.append(len(body["input"]))
        data = [
            {"object": "embedding", "index": i, "embedding": [1.0] + [0.0] * 1535}
            for i, _ in enumerate(body["input"])
        ]
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }
        )

    app = web.Application()
    app.router.add_post("/v1/embeddings", embeddings)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        h = await harness(
            with_embedder=False,
            EMBEDDING_PROVIDER="openai",
            OPENAI_API_KEY="sk-test",
            OPENAI_BASE_URL=f"http://127.0.0.1:{server.port}/v1",
        )
        job = await h.ingest(str(CORPUS / "encode__httpx"), library_id="/encode/httpx")
    finally:
        await server.close()
    assert job.state == SUCCEEDED, job.error
    snippets = h.fake.snippets("/encode/httpx")
    assert sum(calls) == len(snippets) == job.progress.embeddings
    assert all(len(s.embedding) == 1536 for s in snippets)
    space = h.fake.published("/encode/httpx").space
    assert space == ("text-embedding-3-small", 1536)

"""Answers kept by the gateway never outlive the version they came from: real processes."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
import pytest
from twinmcp.cli.stack import Stack
from twinmcp.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from twinmcp.runtime.channels import open_channel

pytestmark = pytest.mark.e2e

LIBRARY = "/acme/edgekit"
QUERY = "how do I configure the retry budget of a client"


def write_docs(folder: Path, word: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "README.md").write_text(
        "# edgekit\n\nA small client library.\n\n"
        "## Retry budget\n\n"
        f"Configure the retry budget of a client with `Client(retries={word!r})`; the budget "
        "caps how many times a failed request is sent again.\n\n"
        "```python\nfrom edgekit import Client\n\n"
        f"client = Client(retries={word!r})\n```\n"
    )


async def ingest(stack: Stack, folder: Path) -> None:
    async with open_channel(stack.env["INGEST_ADDR"]) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        submitted = await stub.SubmitSource(
            ingest_pb2.SubmitSourceRequest(
                source=str(folder), library_id=LIBRARY, version="latest", make_default=True
            ),
            timeout=30,
        )
        for _ in range(1200):
            job = (
                await stub.GetJob(ingest_pb2.GetJobRequest(job_id=submitted.job.job_id), timeout=10)
            ).job
            if job.state not in (ingest_pb2.JOB_STATE_QUEUED, ingest_pb2.JOB_STATE_RUNNING):
                break
            await asyncio.sleep(0.1)
    assert job.state == ingest_pb2.JOB_STATE_SUCCEEDED, job


async def edge_hits(session: aiohttp.ClientSession, gateway: str) -> float:
    async with session.get(f"{gateway}/metrics") as reply:
        text = await reply.text()
    found = re.search(r'twinmcp_gateway_edge_answers_total\{result="hit"\} (\S+)', text)
    return float(found.group(1)) if found else 0.0


async def test_a_reingested_library_is_answered_fresh_at_once(stack: Stack, tmp_path: Path) -> None:
    docs = tmp_path / "edgekit"
    write_docs(docs, "first-wording")
    await ingest(stack, docs)
    gateway = f"http://127.0.0.1:{stack.env['PORT']}"
    url = f"{gateway}/api/v2/context"
    params = {"libraryId": LIBRARY, "query": QUERY, "tokens": "2000", "type": "txt"}
    async with aiohttp.ClientSession() as session:

        async def answer() -> str:
            async with session.get(url, params=params) as reply:
                assert reply.status == 200, await reply.text()
                return await reply.text()

        assert "first-wording" in await answer()
        hits = await edge_hits(session, gateway)
        assert "first-wording" in await answer()
        assert await edge_hits(session, gateway) == hits + 1  # the repeat was kept at the edge

        write_docs(docs, "second-wording")
        await ingest(stack, docs)
        fresh = await answer()  # no wait: the publish itself told the gateway
        assert "second-wording" in fresh and "first-wording" not in fresh

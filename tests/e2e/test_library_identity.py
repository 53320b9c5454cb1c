"""A documentation repository named `website` is found by the name of what it documents.

The issue's failure, end to end: Hono's docs live in /honojs/website; with the npm catalog
loaded, "hono" used to resolve to the catalog entry /npm/hono, which has no documentation.
"""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from mcp import Client
from twinmcp.cli.stack import Stack
from twinmcp.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from twinmcp.search.v1 import index_pb2, index_pb2_grpc

pytestmark = pytest.mark.e2e

NPM_CATALOG = Path(__file__).resolve().parents[2].parent / "shared/eval/catalog/npm-top15k.tsv"

HONO_WEBSITE = {
    "package.json": '{"name": "hono-website", "private": true}',
    ".vitepress/config.ts": (
        "import { defineConfig } from 'vitepress'\n"
        "export default defineConfig({\n  title: 'Hono',\n"
        "  description: 'Web framework built on Web Standards',\n})\n"
    ),
    "index.md": "---\nlayout: home\nhero:\n  name: Hono\n  text: Web framework\n---\n",
    "docs/index.md": (
        "# Hono\n\nHono is a small, simple, and ultrafast web framework built on Web "
        "Standards.\n\n```ts\nimport { Hono } from 'hono'\nconst app = new Hono()\n"
        "app.get('/', (c) => c.text('Hello Hono!'))\nexport default app\n```\n"
    ),
    "docs/guides/middleware.md": (
        "# Middleware\n\nMiddleware runs before and after a handler.\n\n"
        "```ts\nimport { Hono } from 'hono'\nimport { logger } from 'hono/logger'\n\n"
        "const app = new Hono()\napp.use(logger())\n```\n"
    ),
    "docs/api/routing.md": (
        "# Routing\n\nRoutes match a method and a path.\n\n```ts\nimport { Hono } from 'hono'\n"
        "const app = new Hono()\napp.get('/posts/:id', (c) => c.text(c.req.param('id')))\n```\n"
    ),
}


def _catalog() -> list[index_pb2.CatalogEntry]:
    with NPM_CATALOG.open(newline="") as handle:
        return [
            index_pb2.CatalogEntry(
                registry=row["registry"],
                name=row["name"],
                popularity_rank=int(row["popularity_rank"] or 0),
                summary=row["summary"] or "",
            )
            for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        ]


async def _ingest(stack: Stack, folder: Path, library_id: str) -> None:
    async with grpc.aio.insecure_channel(stack.env["INGEST_ADDR"]) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        job = (
            await stub.SubmitSource(
                ingest_pb2.SubmitSourceRequest(source=str(folder), library_id=library_id),
                timeout=10,
            )
        ).job
        deadline = asyncio.get_running_loop().time() + 120
        while job.state < ingest_pb2.JOB_STATE_SUCCEEDED:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"ingest job {job.job_id} did not finish within 120 s")
            await asyncio.sleep(0.2)
            job = (await stub.GetJob(ingest_pb2.GetJobRequest(job_id=job.job_id), timeout=10)).job
        assert job.state == ingest_pb2.JOB_STATE_SUCCEEDED, job.error


async def _search(stack: Stack, name: str) -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{stack.gateway_url}/api/v2/libs/search",
            params={"libraryName": name},
            timeout=aiohttp.ClientTimeout(total=15),
        ) as reply,
    ):
        assert reply.status == 200, await reply.text()
        results: list[dict[str, Any]] = (await reply.json())["results"]
        return results


async def test_a_docs_repository_named_website_resolves_from_its_names_above_the_catalog(
    stack: Stack, tmp_path: Path
) -> None:
    if not NPM_CATALOG.is_file():
        pytest.skip("../shared/eval/catalog is not beside the repository")
    folder = tmp_path / "website"
    for name, text in HONO_WEBSITE.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    async with grpc.aio.insecure_channel(stack.env["SEARCH_ADDR"]) as channel:
        reply = await index_pb2_grpc.IndexServiceStub(channel).ImportCatalog(
            index_pb2.ImportCatalogRequest(entries=_catalog()), timeout=60
        )
        assert reply.imported > 10_000
    await _ingest(stack, folder, "/honojs/website")

    for name in ("hono", "Hono.js", "honno"):
        results = await _search(stack, name)
        ids = [result["id"] for result in results]
        assert ids[0] == "/honojs/website", (name, ids[:5])
        assert "/npm/hono" not in ids, (name, ids[:5])
        top = results[0]
        assert top["title"] == "Hono"
        assert top["packages"] == [{"registry": "npm", "name": "hono"}]
        assert top["documented"] is True and top["totalSnippets"] > 0

    express = (await _search(stack, "express"))[0]
    assert express["id"] == "/npm/express" and express["documented"] is False
    assert express["note"].startswith("no documentation indexed; ingest it with")

    async with Client(f"{stack.gateway_url}/mcp") as client:
        hono = await client.call_tool("resolve-library-id", {"libraryName": "hono"})
        catalog_only = await client.call_tool("resolve-library-id", {"libraryName": "express"})
    text = "".join(getattr(block, "text", "") for block in hono.content)
    first = text.split("----------")[0]
    assert "- Title: Hono\n" in first and "/honojs/website" in first
    assert "- Packages: npm hono\n" in first
    text = "".join(getattr(block, "text", "") for block in catalog_only.content)
    assert "- Code Snippets: 0 (no documentation indexed; ingest it with" in text

"""The optional chat enrichment, through the real openai SDK against a local stand-in."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from twinmcp.ingest.documents import SnippetDraft
from twinmcp.ingest.enrichment import ChatEnricher


def _draft(n: int) -> SnippetDraft:
    return SnippetDraft(
        kind="code",
        title=f"tutorial{n}.py",
        description="",
        language="python",
        content=f"app.add_middleware(CORSMiddleware, allow_origins=['*'])  # {n}",
        breadcrumb=("CORS", f"Example {n}"),
        source_path="docs/cors.md",
        anchor="cors",
        tokens=20,
    )


@pytest.fixture
async def chat() -> AsyncIterator[tuple[str, list[Any], list[str]]]:
    """A stand-in of /v1/chat/completions; `answers` holds what it says next, in order."""
    seen: list[Any] = []
    answers: list[str] = []

    async def completions(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append(body)
        content = answers.pop(0)
        return web.json_response(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": content},
                    }
                ],
            }
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield f"http://127.0.0.1:{server.port}/v1", seen, answers
    finally:
        await server.close()


async def test_enrichment_replaces_titles_and_descriptions_with_the_models(
    chat: tuple[str, list[Any], list[str]],
) -> None:
    url, seen, answers = chat
    answers.append(
        json.dumps(
            {
                "items": [
                    {
                        "title": "Allow browser origins with CORSMiddleware",
                        "description": "Adds CORS.",
                    },
                    {"title": "Second", "description": "Another."},
                ]
            }
        )
    )
    enriched = await ChatEnricher("sk-test", model="gpt-test", base_url=url).enrich(
        [_draft(1), _draft(2)]
    )
    assert [d.title for d in enriched] == ["Allow browser origins with CORSMiddleware", "Second"]
    assert enriched[0].description == "Adds CORS."
    assert enriched[0].content == _draft(1).content  # the code is never rewritten
    assert seen[0]["model"] == "gpt-test"
    assert "CORSMiddleware" in seen[0]["messages"][1]["content"]


async def test_a_malformed_or_short_answer_keeps_the_parsers_titles(
    chat: tuple[str, list[Any], list[str]],
) -> None:
    url, _seen, answers = chat
    answers.extend(["not json at all", json.dumps({"items": [{"title": "only one"}]})])
    enricher = ChatEnricher("sk-test", model="gpt-test", base_url=url)
    drafts = [_draft(1), _draft(2)]
    assert await enricher.enrich(drafts) == drafts
    assert await enricher.enrich(drafts) == drafts


async def test_snippets_are_sent_in_batches(chat: tuple[str, list[Any], list[str]]) -> None:
    url, seen, answers = chat
    drafts = [_draft(n) for n in range(45)]
    for size in (20, 20, 5):
        answers.append(json.dumps({"items": [{"title": "t", "description": "d"}] * size}))
    enriched = await ChatEnricher("sk-test", model="gpt-test", base_url=url).enrich(drafts)
    assert len(seen) == 3 and len(enriched) == 45
    assert all(d.title == "t" for d in enriched)

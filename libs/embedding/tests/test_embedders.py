"""The OpenAI embedder against a local stand-in of /v1/embeddings, and the bundled local model."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from twinmcp.embedding import EmbeddingError, create_embedder
from twinmcp.embedding.local import is_available
from twinmcp.embedding.openai_embedder import OpenAIEmbedder


class EmbeddingsStandIn:
    """Answers like /v1/embeddings; fails the first `failures` calls with 429 + Retry-After."""

    def __init__(self, dimension: int, failures: int = 0) -> None:
        self.dimension = dimension
        self.failures = failures
        self.calls: list[dict[str, object]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls.append({"body": body, "auth": request.headers.get("Authorization")})
        if self.failures > 0:
            self.failures -= 1
            return web.json_response(
                {"error": {"message": "slow down", "type": "rate_limit"}},
                status=429,
                headers={"Retry-After": "0.01"},
            )
        data = []
        for index, text in enumerate(body["input"]):
            vector = [float(len(text) + i) for i in range(self.dimension)]
            data.append({"object": "embedding", "index": index, "embedding": vector})
        data.reverse()  # the API does not promise order; the client must sort by index
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }
        )


@pytest.fixture
async def stand_in() -> AsyncIterator[tuple[EmbeddingsStandIn, str]]:
    fake = EmbeddingsStandIn(dimension=1536, failures=2)
    app = web.Application()
    app.router.add_post("/v1/embeddings", fake.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield fake, f"http://127.0.0.1:{server.port}/v1"
    await server.close()


async def test_openai_embeddings_are_batched_retried_on_429_and_normalised(
    stand_in: tuple[EmbeddingsStandIn, str],
) -> None:
    fake, base_url = stand_in
    embedder = OpenAIEmbedder("sk-test", base_url=base_url, batch_size=2, initial_backoff=0.01)
    vectors = await embedder.embed(["a", "bb", "ccc"])
    await embedder.close()
    assert len(vectors) == 3
    assert all(len(v) == 1536 for v in vectors)
    assert all(math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-6) for v in vectors)
    # Ordered by index although the stand-in answered in reverse.
    assert vectors[0] != vectors[1]
    successful = [c for c in fake.calls][2:]
    assert [c["body"]["input"] for c in successful] == [["a", "bb"], ["ccc"]]  # type: ignore[index]
    assert fake.calls[0]["auth"] == "Bearer sk-test"


async def test_a_dimension_mismatch_is_an_error_not_padding(
    stand_in: tuple[EmbeddingsStandIn, str],
) -> None:
    fake, base_url = stand_in
    fake.failures = 0
    fake.dimension = 10
    embedder = OpenAIEmbedder("sk-test", base_url=base_url)
    with pytest.raises(EmbeddingError, match="10-dimensional"):
        await embedder.embed(["x"])
    await embedder.close()


def test_provider_choice_follows_the_environment() -> None:
    assert create_embedder({"EMBEDDING_PROVIDER": "none"}) is None
    chosen = create_embedder({"OPENAI_API_KEY": "sk-x"})
    assert chosen is not None and chosen.model == "text-embedding-3-small"
    with pytest.raises(EmbeddingError, match="OPENAI_API_KEY"):
        create_embedder({"EMBEDDING_PROVIDER": "openai"})
    with pytest.raises(EmbeddingError, match="EMBEDDING_PROVIDER"):
        create_embedder({"EMBEDDING_PROVIDER": "magic"})


@pytest.mark.skipif(not is_available(), reason="requirements/model.txt is not installed")
async def test_the_bundled_local_model_embeds_similar_texts_close_together() -> None:
    embedder = create_embedder({"EMBEDDING_PROVIDER": "local"})
    assert embedder is not None and embedder.dimension == 384
    cors, cors2, sql = await embedder.embed(
        ["enable CORS middleware", "allow cross-origin requests", "SQL database session"]
    )
    assert math.isclose(sum(x * x for x in cors), 1.0, rel_tol=1e-5)

    def dot(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert dot(cors, cors2) > dot(cors, sql)

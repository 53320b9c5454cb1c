"""The packaged model through ONNX Runtime: close to sentence-transformers, offline, without torch,
in order."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from twinmcp.embedding import EmbeddingError, create_embedder
from twinmcp.embedding.bert_graph import build_encoder
from twinmcp.embedding.local import LocalEmbedder, is_available, model_path

pytestmark = pytest.mark.skipif(
    not is_available(), reason="requirements/model.txt is not installed"
)

TEXTS = [
    "enable CORS middleware",
    "How do I set a timeout on an AsyncClient request?",
    "Dependencies > Sub-dependencies\nYou can create dependencies that have sub-dependencies.\n"
    "```python\nasync def query_extractor(q: str | None = None):\n    return q\n```",
    "x" * 3000,  # longer than the 128 tokens kept: truncated, not refused
    "",
]


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-exports")


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    if importlib.util.find_spec("sentence_transformers") is None:
        pytest.skip("the reference (requirements/model-reference.txt) is not installed")
    from sentence_transformers import SentenceTransformer  # noqa: PLC0415  optional model

    model = SentenceTransformer(str(model_path()), device="cpu")
    return np.asarray(model.encode(TEXTS, normalize_embeddings=True, show_progress_bar=False))


@pytest.mark.parametrize(("precision", "closest"), [("fp32", 0.9999), ("int8", 0.99)])
async def test_the_onnx_model_embeds_like_the_sentence_transformers_model(
    exports: Path, reference: np.ndarray, precision: str, closest: float
) -> None:
    embedder = LocalEmbedder(precision=precision, cache=exports)
    vectors = np.asarray(await embedder.embed(TEXTS))
    embedder.close()
    assert vectors.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosines = (vectors * reference).sum(axis=1)
    # The real texts; int8 strays further on the degenerate ones (0.97 for "").
    assert cosines[:3].min() > closest, cosines
    assert cosines.min() > 0.95, cosines


async def test_int8_vectors_carry_a_model_name_of_their_own(exports: Path) -> None:
    # A build embedded in one precision is never searched with vectors of the other.
    assert LocalEmbedder(precision="int8", cache=exports).model.endswith("+int8-rows")
    assert LocalEmbedder(precision="fp32", cache=exports).model == (
        "sentence-transformers/all-MiniLM-L6-v2"
    )


async def test_texts_come_back_in_their_order_whatever_batch_they_were_sorted_into(
    exports: Path,
) -> None:
    embedder = LocalEmbedder(precision="fp32", cache=exports, batch_size=2)
    together = np.asarray(await embedder.embed(TEXTS))
    alone = np.asarray([(await embedder.embed([text]))[0] for text in TEXTS])
    embedder.close()
    assert ((together * alone).sum(axis=1) > 0.9999).all()


async def test_the_export_is_made_once_and_reused(exports: Path) -> None:
    embedder = LocalEmbedder(precision="int8", cache=exports)
    await embedder.embed(["warm"])
    files = sorted(exports.glob("*.onnx"))
    stamps = [f.stat().st_mtime_ns for f in files]
    again = LocalEmbedder(precision="int8", cache=exports)
    await again.embed(["warm"])
    assert sorted(exports.glob("*.onnx")) == files
    assert [f.stat().st_mtime_ns for f in files] == stamps
    assert not [p for p in exports.iterdir() if p.suffix != ".onnx"]  # no staging leftovers


async def test_an_int8_vector_does_not_depend_on_the_texts_batched_with_it(exports: Path) -> None:
    # One input scale per token: a long snippet with outlying activations in the same batch
    # leaves a short query's vector as it is alone.
    embedder = LocalEmbedder(precision="int8", cache=exports, batch_size=len(TEXTS))
    together = np.asarray(await embedder.embed(TEXTS))
    alone = np.asarray([(await embedder.embed([text]))[0] for text in TEXTS])
    embedder.close()
    assert ((together * alone).sum(axis=1) > 0.99999).all()


def test_every_linear_layer_of_the_int8_graph_is_an_integer_product() -> None:
    graph = build_encoder(model_path(), int8=True).graph
    operators = [node.op_type for node in graph.node]
    # Six layers: query, key, value, attention output, intermediate, output.
    assert operators.count("MatMulInteger") == 6 * 6
    # What stays float: the two attention products per layer, which have no weights.
    assert operators.count("MatMul") == 6 * 2
    weights = {i.name for i in graph.initializer}
    assert not [n for n in graph.node if n.op_type == "MatMul" and set(n.input) & weights]


def test_an_unknown_precision_is_refused_with_the_choices() -> None:
    with pytest.raises(EmbeddingError, match="int8, fp32"):
        create_embedder({"EMBEDDING_PROVIDER": "local", "EMBEDDING_LOCAL_PRECISION": "fp16"})


@pytest.mark.parametrize("tokens", ["0", "300", "many"])
def test_a_max_token_count_outside_the_model_limit_is_refused(tokens: str) -> None:
    with pytest.raises(EmbeddingError, match="from 16 to 256"):
        create_embedder({"EMBEDDING_PROVIDER": "local", "EMBEDDING_LOCAL_MAX_TOKENS": tokens})


async def test_texts_are_cut_at_the_configured_token_count(exports: Path) -> None:
    embedder = create_embedder(
        {
            "EMBEDDING_PROVIDER": "local",
            "EMBEDDING_LOCAL_PRECISION": "fp32",
            "EMBEDDING_LOCAL_MAX_TOKENS": "16",
            "EMBEDDING_CACHE_DIR": str(exports),
        }
    )
    assert embedder is not None
    # 16 tokens: [CLS], 14 words, [SEP].
    long, cut, longer = await embedder.embed(
        [" ".join(["route"] * 14 + ["database"] * 40), " ".join(["route"] * 14), "route " * 15]
    )
    assert np.dot(long, cut) > 0.9999
    assert np.dot(long, longer) > 0.9999


async def test_snippets_are_cut_at_128_tokens_unless_configured(exports: Path) -> None:
    env = {"EMBEDDING_PROVIDER": "local", "EMBEDDING_CACHE_DIR": str(exports)}
    default = create_embedder(env)
    longest = create_embedder({**env, "EMBEDDING_LOCAL_MAX_TOKENS": "256"})
    assert default is not None and longest is not None
    # [CLS], 126 words, [SEP]; then the same text with 40 more words.
    texts = [" ".join(["route"] * 126), " ".join(["route"] * 126 + ["database"] * 40)]
    cut, longer = await default.embed(texts)
    kept, kept_longer = await longest.embed(texts)
    assert np.dot(cut, longer) > 0.9999
    assert np.dot(kept, kept_longer) < 0.99


_OFFLINE_RUN = """
import asyncio, json, socket, sys

# What `make run` installs has no torch, transformers or sentence-transformers: the export must
# not reach for them even where they are installed (make test installs them as the reference).
for name in ("torch", "transformers", "sentence_transformers", "huggingface_hub"):
    sys.modules[name] = None

def refuse(*args, **kwargs):
    raise AssertionError(f"network use: {args!r}")

socket.socket.connect = refuse
socket.create_connection = refuse
from twinmcp.embedding import create_embedder

embedder = create_embedder({"EMBEDDING_PROVIDER": "local", "EMBEDDING_CACHE_DIR": sys.argv[1]})
print(json.dumps([embedder.model, asyncio.run(embedder.embed(["offline"]))[0][:4]]))
"""


def test_the_model_is_exported_and_loaded_from_the_installed_package_without_network_or_torch(
    tmp_path: Path,
) -> None:
    hub_home = tmp_path / "hub"
    hub_home.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"}
    }
    env.update(
        HF_HOME=str(hub_home),
        HTTPS_PROXY="http://127.0.0.1:9",
        HTTP_PROXY="http://127.0.0.1:9",
    )
    done = subprocess.run(
        [sys.executable, "-c", _OFFLINE_RUN, str(tmp_path / "cache")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    model, head = json.loads(done.stdout.strip().splitlines()[-1])
    assert model.startswith("sentence-transformers/all-MiniLM-L6-v2") and len(head) == 4
    assert list((tmp_path / "cache").glob("*.onnx"))
    assert not any(hub_home.iterdir())  # nothing fetched or cached from a hub


def test_a_model_that_is_not_a_bert_encoder_is_refused_by_name(tmp_path: Path) -> None:
    config = json.loads((model_path() / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "hidden_act": "relu"}))

    with pytest.raises(ValueError, match="only BERT encoders with exact GELU"):
        build_encoder(tmp_path)


def test_the_export_leaves_no_quantiser_notes_in_the_service_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from twinmcp.embedding.local import export_onnx  # noqa: PLC0415  beside its one test

    caplog.set_level(logging.DEBUG)
    export_onnx(model_path(), tmp_path / "model.onnx", "int8")

    assert (tmp_path / "model.onnx").is_file()
    assert not [r.getMessage() for r in caplog.records if "onnxruntime" in r.pathname]

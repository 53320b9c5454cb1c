"""The packaged BERT encoder written as an ONNX graph straight from its weights, without torch.

all-MiniLM-L6-v2 is a plain BERT encoder (absolute positions, one token type, exact GELU). Its
forward pass is a few dozen standard ONNX operators per layer, so the graph is assembled here from
`config.json` and `model.safetensors` with onnx's own helpers: `make run` then needs ONNX Runtime,
onnx and safetensors (about 100 MB) instead of torch and transformers (about 1 GB). The tests
check the result against the sentence-transformers reference.

In int8 every Linear layer's product is done in 8-bit integers: the weights quantised once per
output column, the input quantised as it comes, with one scale per token (row). ONNX Runtime's
dynamic quantiser gives the whole batch one input scale, so a single token with outlying
activations (the feed-forward outputs after GELU have them) coarsens every other token's; per
token, all six layers' products can be integer (1.4x faster than the quantiser's graph, which had
to keep the feed-forward outputs in float) and the vectors lie closer to the float ones. A text's
vector does not depend on the texts batched with it.

Node names follow the torch exporter's (`/encoder/layer.N/output/dense/MatMul`...).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

# LayerNormalization is an ONNX operator from opset 17 on.
OPSET = 17


def node_path(scope: str) -> str:
    """The exporter's node path of a weight scope: encoder.layer.0.output.dense ->
    /encoder/layer.0/output/dense."""
    return "/" + scope.replace(".", "/").replace("/layer/", "/layer.")


class _Graph:
    """Collects nodes and initializers; every output name is the node's name plus `:out`."""

    def __init__(
        self, helper: Any, numpy_helper: Any, weights: dict[str, np.ndarray], *, int8: bool
    ) -> None:
        self.helper = helper
        self.numpy_helper = numpy_helper
        self.weights = weights
        self.int8 = int8
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        if int8:
            self.constant("int8.inverse_127", np.array(1 / 127, np.float32))
            # Keeps an all-zero row's scale above zero; real rows are far above it.
            self.constant("int8.smallest_scale", np.array(1e-8, np.float32))
            self.constant("int8.one", np.array(1.0, np.float32))
            # Signed values -127..127 shifted into uint8 (VNNI multiplies uint8 by int8).
            self.constant("int8.zero_point", np.array(128, np.uint8))

    def constant(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(self.numpy_helper.from_array(value, name))
        return name

    def op(self, op_type: str, name: str, inputs: list[str], **attributes: Any) -> str:
        output = f"{name}:out"
        self.nodes.append(self.helper.make_node(op_type, inputs, [output], name, **attributes))
        return output

    def linear(self, scope: str, x: str) -> str:
        """x @ weight.T + bias of the scope's Linear layer, the weight stored transposed as
        MatMul wants it; in int8 as an integer product."""
        weight = np.ascontiguousarray(self.weights[f"{scope}.weight"].T)
        b = self.constant(f"{scope}.bias", self.weights[f"{scope}.bias"])
        path = node_path(scope)
        if self.int8:
            product = self._int8_product(scope, x, weight)
        else:
            w = self.constant(f"{scope}.weight", weight)
            product = self.op("MatMul", f"{path}/MatMul", [x, w])
        return self.op("Add", f"{path}/Add", [product, b])

    def _int8_product(self, scope: str, x: str, weight: np.ndarray) -> str:
        """x @ weight with both in 8 bits: weight per column (symmetric, int8), x per row
        (symmetric, shifted to uint8), the int32 sums scaled back by row and column scales."""
        path = node_path(scope)
        column_scale = np.maximum(np.abs(weight).max(axis=0) / 127, 1e-12).astype(np.float32)
        quantised = np.clip(np.rint(weight / column_scale), -127, 127).astype(np.int8)
        w = self.constant(f"{scope}.weight_int8", quantised)
        w_scale = self.constant(f"{scope}.weight_scale", column_scale)
        row_max = self.op(
            "ReduceMax",
            f"{path}/RowMax",
            [self.op("Abs", f"{path}/Abs", [x])],
            axes=[-1],
            keepdims=1,
        )
        row_scale = self.op(
            "Max",
            f"{path}/RowScale",
            [
                self.op("Mul", f"{path}/RowScale/Mul", [row_max, "int8.inverse_127"]),
                "int8.smallest_scale",
            ],
        )
        x_int8 = self.op(
            "QuantizeLinear",
            f"{path}/QuantizeLinear",
            [
                self.op("Div", f"{path}/Div", [x, row_scale]),
                "int8.one",
                "int8.zero_point",
            ],
        )
        sums = self.op("MatMulInteger", f"{path}/MatMulInteger", [x_int8, w, "int8.zero_point"])
        product = self.op(
            "Cast",
            f"{path}/Cast",
            [sums],
            to=self.helper.np_dtype_to_tensor_dtype(np.dtype(np.float32)),
        )
        product = self.op("Mul", f"{path}/MulRowScale", [product, row_scale])
        return self.op("Mul", f"{path}/MulColumnScale", [product, w_scale])

    def layer_norm(self, scope: str, x: str, eps: float) -> str:
        gamma = self.constant(f"{scope}.weight", self.weights[f"{scope}.weight"])
        beta = self.constant(f"{scope}.bias", self.weights[f"{scope}.bias"])
        return self.op(
            "LayerNormalization",
            f"{node_path(scope)}/LayerNormalization",
            [x, gamma, beta],
            epsilon=eps,
            axis=-1,
        )


def build_encoder(source: Path, *, int8: bool = False) -> Any:
    """The encoder of the model in `source` as an onnx ModelProto: inputs `input_ids` and
    `attention_mask` (int64, batch x tokens), output `tokens` (the last hidden states). With
    `int8`, the Linear layers' products are integer (the module's docstring says how)."""
    import onnx  # noqa: PLC0415  optional (requirements/model.txt)
    from onnx import TensorProto, helper, numpy_helper  # noqa: PLC0415
    from safetensors.numpy import load_file  # noqa: PLC0415

    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
        raise ValueError(
            f"{source} holds a {config.get('model_type')}/{config.get('hidden_act')} model; "
            "only BERT encoders with exact GELU are supported"
        )
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError(f"{source}: only absolute position embeddings are supported")
    weights = load_file(str(source / "model.safetensors"))
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    head_size = hidden // heads
    eps = float(config["layer_norm_eps"])

    g = _Graph(helper, numpy_helper, weights, int8=int8)
    one = g.constant("const.one", np.array(1, dtype=np.int64))
    zero = g.constant("const.zero", np.array(0, dtype=np.int64))

    # Embeddings: word + position (0..T-1) + token type 0, then LayerNorm.
    word = g.op(
        "Gather",
        "/embeddings/word_embeddings/Gather",
        [
            g.constant(
                "embeddings.word_embeddings.weight", weights["embeddings.word_embeddings.weight"]
            ),
            "input_ids",
        ],
    )
    ids_shape = g.op("Shape", "/embeddings/Shape", ["input_ids"])
    length = g.op("Gather", "/embeddings/length", [ids_shape, one], axis=0)
    positions = g.op("Range", "/embeddings/positions", [zero, length, one])
    position = g.op(
        "Gather",
        "/embeddings/position_embeddings/Gather",
        [
            g.constant(
                "embeddings.position_embeddings.weight",
                weights["embeddings.position_embeddings.weight"],
            ),
            positions,
        ],
    )
    token_type = g.constant(
        "embeddings.token_type_embeddings.0",
        np.ascontiguousarray(weights["embeddings.token_type_embeddings.weight"][0]),
    )
    summed = g.op("Add", "/embeddings/Add", [word, position])
    summed = g.op("Add", "/embeddings/Add_1", [summed, token_type])
    x = g.layer_norm("embeddings.LayerNorm", summed, eps)

    # The additive mask: 0 where a token is real, the float minimum where it is padding, as
    # transformers builds it; shaped batch x 1 x 1 x tokens to broadcast over heads and queries.
    mask = g.op("Cast", "/mask/Cast", ["attention_mask"], to=TensorProto.FLOAT)
    inverted = g.op("Sub", "/mask/Sub", [g.constant("const.onef", np.array(1.0, np.float32)), mask])
    minimum = g.constant("const.min", np.array(np.finfo(np.float32).min, np.float32))
    bias = g.op("Mul", "/mask/Mul", [inverted, minimum])
    bias = g.op(
        "Unsqueeze",
        "/mask/Unsqueeze",
        [bias, g.constant("const.axes12", np.array([1, 2], np.int64))],
    )

    split = g.constant("const.split_heads", np.array([0, 0, heads, head_size], np.int64))
    merge = g.constant("const.merge_heads", np.array([0, 0, hidden], np.int64))
    scale = g.constant("const.scale", np.array(1.0 / math.sqrt(head_size), np.float32))
    half = g.constant("const.half", np.array(0.5, np.float32))
    root2 = g.constant("const.sqrt2", np.array(math.sqrt(2.0), np.float32))
    onef = "const.onef"

    for i in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{i}"
        path = node_path(p)

        def heads_of(name: str, source_x: str, prefix: str = p) -> str:
            projected = g.linear(f"{prefix}.attention.self.{name}", source_x)
            return g.op(
                "Reshape",
                f"{node_path(f'{prefix}.attention.self.{name}')}/Reshape",
                [projected, split],
            )

        q = g.op(
            "Transpose",
            f"{path}/attention/self/query/Transpose",
            [heads_of("query", x)],
            perm=[0, 2, 1, 3],
        )
        k = g.op(
            "Transpose",
            f"{path}/attention/self/key/Transpose",
            [heads_of("key", x)],
            perm=[0, 2, 3, 1],
        )
        v = g.op(
            "Transpose",
            f"{path}/attention/self/value/Transpose",
            [heads_of("value", x)],
            perm=[0, 2, 1, 3],
        )
        scores = g.op("MatMul", f"{path}/attention/self/MatMul", [q, k])
        scores = g.op("Mul", f"{path}/attention/self/Mul", [scores, scale])
        scores = g.op("Add", f"{path}/attention/self/Add", [scores, bias])
        probabilities = g.op("Softmax", f"{path}/attention/self/Softmax", [scores], axis=-1)
        context = g.op("MatMul", f"{path}/attention/self/MatMul_1", [probabilities, v])
        context = g.op(
            "Transpose", f"{path}/attention/self/Transpose", [context], perm=[0, 2, 1, 3]
        )
        context = g.op("Reshape", f"{path}/attention/self/Reshape", [context, merge])
        attended = g.linear(f"{p}.attention.output.dense", context)
        attended = g.op("Add", f"{path}/attention/output/Add", [attended, x])
        x = g.layer_norm(f"{p}.attention.output.LayerNorm", attended, eps)

        inner = g.linear(f"{p}.intermediate.dense", x)
        # Exact GELU, 0.5 * x * (1 + erf(x / sqrt 2)): ONNX Runtime fuses this pattern.
        erf = g.op(
            "Erf",
            f"{path}/intermediate/Erf",
            [g.op("Div", f"{path}/intermediate/Div", [inner, root2])],
        )
        gelu = g.op(
            "Mul",
            f"{path}/intermediate/Mul",
            [inner, g.op("Add", f"{path}/intermediate/Add_1", [erf, onef])],
        )
        gelu = g.op("Mul", f"{path}/intermediate/Mul_1", [gelu, half])
        out = g.linear(f"{p}.output.dense", gelu)
        out = g.op("Add", f"{path}/output/Add", [out, x])
        x = g.layer_norm(f"{p}.output.LayerNorm", out, eps)

    g.nodes.append(helper.make_node("Identity", [x], ["tokens"], "/tokens"))
    graph = helper.make_graph(
        g.nodes,
        "all-MiniLM-L6-v2-encoder",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"]),
        ],
        [helper.make_tensor_value_info("tokens", TensorProto.FLOAT, ["batch", "tokens", hidden])],
        g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model

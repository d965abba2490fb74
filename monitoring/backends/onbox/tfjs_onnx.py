"""Converts a TensorFlow.js graph model (``model.json`` + weight shards) to ONNX, without
TensorFlow: the JSON graph is read node by node and each TensorFlow op is mapped to the
ONNX nodes that compute the same thing. Layout stays NHWC as in the source graph; each
convolution and pooling is wrapped in a pair of transposes (ONNX Runtime folds them).

Covers the ops of the MoveNet MultiPose Lightning graph (CenterNet on MobileNetV2-FPN,
with its decoding inside the graph). An op outside that list raises ``Unconvertible``.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 18
TF_TYPES = {
    "DT_FLOAT": TensorProto.FLOAT,
    "DT_INT32": TensorProto.INT32,
    "DT_BOOL": TensorProto.BOOL,
    "DT_INT64": TensorProto.INT64,
}
NUMPY_TYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}
INT_MAX = np.iinfo(np.int64).max


class Unconvertible(ValueError):
    pass


def _attr(node: dict, name: str, default: Any = None) -> Any:
    value = node.get("attr", {}).get(name)
    if value is None:
        return default
    if "i" in value:
        return int(value["i"])
    if "f" in value:
        return float(value["f"])
    if "b" in value:
        return bool(value["b"])
    if "s" in value:
        return base64.b64decode(value["s"]).decode()
    if "type" in value:
        return value["type"]
    if "list" in value:
        items = value["list"]
        if "i" in items:
            return [int(item) for item in items["i"]]
        if "s" in items:
            return [base64.b64decode(item).decode() for item in items["s"]]
        return []
    return value


def read_weights(model_json: dict, folder: Path) -> dict[str, np.ndarray]:
    """The weight manifest's tensors, dequantized to their original dtype."""
    weights: dict[str, np.ndarray] = {}
    for group in model_json["weightsManifest"]:
        data = b"".join((folder / path).read_bytes() for path in group["paths"])
        offset = 0
        for spec in group["weights"]:
            shape = [int(size) for size in spec["shape"]]
            count = int(np.prod(shape)) if shape else 1
            quant = spec.get("quantization")
            stored = np.dtype(quant["dtype"]) if quant else np.dtype(spec["dtype"])
            if quant and quant["dtype"] not in ("float16",):
                raise Unconvertible(f"quantization {quant['dtype']} not supported")
            size = count * stored.itemsize
            array = np.frombuffer(data, dtype=stored, count=count, offset=offset)
            offset += size
            weights[spec["name"]] = array.astype(NUMPY_TYPES[spec["dtype"]]).reshape(shape)
    return weights


class _Builder:
    def __init__(self, weights: dict[str, np.ndarray]):
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.consts: dict[str, np.ndarray] = {}
        self.counter = 0
        for name, array in weights.items():
            self.const(array, name)

    def fresh(self, hint: str) -> str:
        self.counter += 1
        return f"{hint}__{self.counter}"

    def const(self, array: np.ndarray, name: str | None = None) -> str:
        name = name or self.fresh("const")
        self.consts[name] = np.asarray(array)
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def add(self, op: str, inputs: list[str], outputs: list[str] | None = None, **attrs) -> str:
        outputs = outputs or [self.fresh(op)]
        self.nodes.append(helper.make_node(op, inputs, outputs, **attrs))
        return outputs[0]

    def int64(self, name: str) -> str:
        if name in self.consts:
            return self.const(self.consts[name].astype(np.int64))
        return self.add("Cast", [name], to=TensorProto.INT64)

    def value(self, name: str) -> np.ndarray:
        if name not in self.consts:
            raise Unconvertible(f"{name} must be a constant")
        return self.consts[name]

    def nchw(self, name: str) -> str:
        return self.add("Transpose", [name], perm=[0, 3, 1, 2])

    def nhwc(self, name: str, output: str) -> str:
        return self.add("Transpose", [name], [output], perm=[0, 2, 3, 1])


def _ref(name: str) -> str:
    """A TensorFlow input reference (``node``, ``node:1``, ``^control``) as a tensor name."""
    if name.endswith(":0"):
        return name[:-2]
    return name


def _conv(b: _Builder, node: dict, inputs: list[str], out: str, depthwise: bool) -> None:
    weights = b.value(inputs[1])
    if depthwise:  # H, W, C, M -> C*M, 1, H, W
        h, w, c, m = weights.shape
        kernel = weights.transpose(2, 3, 0, 1).reshape(c * m, 1, h, w)
        group = c
    else:  # H, W, I, O -> O, I, H, W
        kernel = weights.transpose(3, 2, 0, 1)
        group = 1
    strides = _attr(node, "strides")[1:3]
    dilations = (_attr(node, "dilations") or [1, 1, 1, 1])[1:3]
    padding = _attr(node, "padding")
    fused = _attr(node, "fused_ops") or []
    conv_inputs = [b.nchw(inputs[0]), b.const(kernel.astype(np.float32))]
    if fused and fused[0] == "BiasAdd":
        conv_inputs.append(inputs[2])
        fused = fused[1:]
    # TensorFlow's SAME puts the odd padding pixel at the end: ONNX SAME_UPPER.
    pad = {"SAME": "SAME_UPPER", "VALID": "VALID"}[padding]
    result = b.add(
        "Conv",
        conv_inputs,
        strides=strides,
        dilations=dilations,
        group=group,
        auto_pad=pad,
        kernel_shape=list(kernel.shape[2:]),
    )
    for op in fused:
        if op == "Relu6":
            result = b.add("Clip", [result, b.const(np.float32(0)), b.const(np.float32(6))])
        elif op == "Relu":
            result = b.add("Relu", [result])
        else:
            raise Unconvertible(f"fused op {op}")
    b.nhwc(result, out)


def _strided_slice(b: _Builder, node: dict, inputs: list[str], out: str) -> None:
    begin, end, strides = (b.value(name).astype(np.int64) for name in inputs[1:4])
    begin_mask, end_mask = _attr(node, "begin_mask", 0), _attr(node, "end_mask", 0)
    new_axis, shrink = _attr(node, "new_axis_mask", 0), _attr(node, "shrink_axis_mask", 0)
    if _attr(node, "ellipsis_mask", 0):
        raise Unconvertible("StridedSlice ellipsis_mask")
    starts, ends, axes, steps, squeeze, unsqueeze = [], [], [], [], [], []
    in_axis = out_axis = 0
    for index in range(len(begin)):
        bit = 1 << index
        if new_axis & bit:
            unsqueeze.append(out_axis)
            out_axis += 1
            continue
        if shrink & bit:
            start = int(begin[index])
            starts.append(start)
            ends.append(start + 1 if start != -1 else INT_MAX)
            steps.append(1)
            axes.append(in_axis)
            squeeze.append(in_axis)
        else:
            step = int(strides[index])
            lo = INT_MAX if step < 0 else 0
            hi = -INT_MAX if step < 0 else INT_MAX
            starts.append(lo if begin_mask & bit else int(begin[index]))
            ends.append(hi if end_mask & bit else int(end[index]))
            steps.append(step)
            axes.append(in_axis)
            out_axis += 1
        in_axis += 1
    result = b.add(
        "Slice",
        [
            inputs[0],
            b.const(np.array(starts, np.int64)),
            b.const(np.array(ends, np.int64)),
            b.const(np.array(axes, np.int64)),
            b.const(np.array(steps, np.int64)),
        ],
    )
    if squeeze:
        result = b.add("Squeeze", [result, b.const(np.array(squeeze, np.int64))])
    if unsqueeze:
        result = b.add("Unsqueeze", [result, b.const(np.array(unsqueeze, np.int64))])
    b.add("Identity", [result], [out])


ELEMENTWISE = {
    "AddV2": "Add",
    "Add": "Add",
    "Sub": "Sub",
    "Mul": "Mul",
    "RealDiv": "Div",
    "Maximum": "Max",
    "Minimum": "Min",
    "Less": "Less",
    "Greater": "Greater",
    "GreaterEqual": "GreaterOrEqual",
    "Equal": "Equal",
    "LogicalAnd": "And",
    "Sigmoid": "Sigmoid",
    "Exp": "Exp",
    "Abs": "Abs",
    "Reciprocal": "Reciprocal",
    "Identity": "Identity",
    "AddN": "Sum",
    "Select": "Where",
}


def _convert_node(b: _Builder, node: dict, dtypes: dict[str, int]) -> None:
    op, out = node["op"], node["name"]
    inputs = [_ref(name) for name in node.get("input", []) if not name.startswith("^")]
    dtype = TF_TYPES.get(_attr(node, "T") or "", TensorProto.FLOAT)
    dtypes[out] = dtype
    if op in ELEMENTWISE:
        b.add(ELEMENTWISE[op], inputs, [out])
        if op in ("Less", "Greater", "GreaterEqual", "Equal", "LogicalAnd"):
            dtypes[out] = TensorProto.BOOL
    elif op == "SquaredDifference":
        diff = b.add("Sub", inputs)
        b.add("Mul", [diff, diff], [out])
    elif op == "FloorDiv":
        if dtype == TensorProto.INT32:
            # Integer division of non-negative indices here (TopK positions by a width).
            b.add("Div", inputs, [out])
        else:
            b.add("Floor", [b.add("Div", inputs)], [out])
    elif op == "Cast":
        to = TF_TYPES[_attr(node, "DstT")]
        dtypes[out] = to
        b.add("Cast", inputs, [out], to=to)
    elif op in ("_FusedConv2D", "Conv2D"):
        _conv(b, node, inputs, out, depthwise=False)
    elif op in ("FusedDepthwiseConv2dNative", "DepthwiseConv2dNative"):
        _conv(b, node, inputs, out, depthwise=True)
    elif op == "MaxPool":
        ksize, strides = _attr(node, "ksize")[1:3], _attr(node, "strides")[1:3]
        pad = {"SAME": "SAME_UPPER", "VALID": "VALID"}[_attr(node, "padding")]
        pooled = b.add(
            "MaxPool", [b.nchw(inputs[0])], kernel_shape=ksize, strides=strides, auto_pad=pad
        )
        b.nhwc(pooled, out)
    elif op == "ResizeBilinear":
        if _attr(node, "align_corners"):
            raise Unconvertible("ResizeBilinear align_corners")
        mode = "half_pixel" if _attr(node, "half_pixel_centers") else "asymmetric"
        image = b.nchw(inputs[0])
        head = b.add(
            "Slice",
            [
                b.add("Shape", [image]),
                b.const(np.array([0], np.int64)),
                b.const(np.array([2], np.int64)),
            ],
        )
        sizes = b.add("Concat", [head, b.int64(inputs[1])], axis=0)
        resized = b.add(
            "Resize",
            [image, "", "", sizes],
            mode="linear",
            coordinate_transformation_mode=mode,
        )
        b.nhwc(resized, out)
    elif op == "Shape":
        dtypes[out] = TensorProto.INT32
        b.add("Cast", [b.add("Shape", inputs)], [out], to=TensorProto.INT32)
    elif op == "Size":
        dtypes[out] = TensorProto.INT32
        b.add("Cast", [b.add("Size", inputs)], [out], to=TensorProto.INT32)
    elif op == "StridedSlice":
        _strided_slice(b, node, inputs, out)
    elif op == "Pack":
        axis = _attr(node, "axis", 0)
        axes = b.const(np.array([axis], np.int64))
        parts = [b.add("Unsqueeze", [name, axes]) for name in inputs]
        b.add("Concat", parts, [out], axis=axis)
    elif op == "Unpack":
        axis, num = _attr(node, "axis", 0), _attr(node, "num")
        outs = [out] + [f"{out}:{index}" for index in range(1, num)]
        parts = [b.fresh("unpacked") for _ in range(num)]
        b.add("Split", inputs, parts, axis=axis, num_outputs=num)
        axes = b.const(np.array([axis], np.int64))
        for part, name in zip(parts, outs, strict=True):
            b.add("Squeeze", [part, axes], [name])
            dtypes[name] = dtype
    elif op == "Split":
        num = _attr(node, "num_split")
        axis = int(b.value(inputs[0]))
        outs = [out] + [f"{out}:{index}" for index in range(1, num)]
        b.add("Split", [inputs[1]], outs, axis=axis, num_outputs=num)
        for name in outs:
            dtypes[name] = dtype
    elif op == "Reshape":
        b.add("Reshape", [inputs[0], b.int64(inputs[1])], [out])
    elif op == "ExpandDims":
        axis = np.atleast_1d(b.value(inputs[1])).astype(np.int64)
        b.add("Unsqueeze", [inputs[0], b.const(axis)], [out])
    elif op == "Squeeze":
        dims = _attr(node, "squeeze_dims") or []
        extra = [b.const(np.array(dims, np.int64))] if dims else []
        b.add("Squeeze", [inputs[0], *extra], [out])
    elif op == "Range":
        kind = TF_TYPES[_attr(node, "Tidx")]
        dtypes[out] = kind
        parts = [b.add("Cast", [name], to=kind) for name in inputs]
        b.add("Range", parts, [out])
    elif op == "Tile":
        b.add("Tile", [inputs[0], b.int64(inputs[1])], [out])
    elif op == "Fill":
        fill = b.value(inputs[1])
        dtypes[out] = TensorProto.FLOAT if fill.dtype == np.float32 else TensorProto.INT32
        b.add(
            "ConstantOfShape",
            [b.int64(inputs[0])],
            [out],
            value=numpy_helper.from_array(np.array([fill.item()], dtype=fill.dtype)),
        )
    elif op == "TopKV2":
        if not _attr(node, "sorted", True):
            raise Unconvertible("TopKV2 unsorted")
        k = np.atleast_1d(b.value(inputs[1])).astype(np.int64)
        indices = b.fresh("topk_indices")
        b.add("TopK", [inputs[0], b.const(k)], [out, indices], axis=-1, largest=1, sorted=1)
        b.add("Cast", [indices], [f"{out}:1"], to=TensorProto.INT32)
        dtypes[f"{out}:1"] = TensorProto.INT32
    elif op == "GatherNd":
        b.add("GatherND", [inputs[0], b.int64(inputs[1])], [out])
        dtypes[out] = TF_TYPES[_attr(node, "Tparams")]
    elif op in ("Max", "Sum"):
        onnx_op = {"Max": "ReduceMax", "Sum": "ReduceSum"}[op]
        axes = np.atleast_1d(b.value(inputs[1])).astype(np.int64)
        keep = int(bool(_attr(node, "keep_dims", False)))
        b.add(onnx_op, [inputs[0], b.const(axes)], [out], keepdims=keep)
    elif op == "ArgMax":
        axis = int(b.value(inputs[1]))
        found = b.add("ArgMax", [inputs[0]], axis=axis, keepdims=0)
        b.add("Cast", [found], [out], to=TF_TYPES[_attr(node, "output_type", "DT_INT64")])
        dtypes[out] = TF_TYPES[_attr(node, "output_type", "DT_INT64")]
    elif op == "ConcatV2":
        axis = int(b.value(inputs[-1]))
        b.add("Concat", inputs[:-1], [out], axis=axis)
    else:
        raise Unconvertible(f"op {op} ({out})")


def convert(
    model_path: Path, input_size: tuple[int | str, int | str] = ("height", "width")
) -> onnx.ModelProto:
    """The ONNX model of a tfjs graph model. Its single image input keeps the graph's
    dtype and NHWC layout; ``input_size`` (height, width) fixes its size, or names the
    dimensions left free (the graph computes its shapes from the input's)."""
    model_json = json.loads(Path(model_path).read_text())
    if model_json.get("format") != "graph-model":
        raise Unconvertible("only tfjs graph models are converted")
    builder = _Builder(read_weights(model_json, Path(model_path).parent))
    graph_inputs, dtypes = [], {}
    for node in model_json["modelTopology"]["node"]:
        if node["op"] == "Const":
            if node["name"] not in builder.consts:
                raise Unconvertible(f"constant {node['name']} missing from the weights")
            continue
        if node["op"] == "Placeholder":
            kind = TF_TYPES[_attr(node, "dtype")]
            dims = [1, *input_size, 3]
            graph_inputs.append(helper.make_tensor_value_info(node["name"], kind, dims))
            continue
        _convert_node(builder, node, dtypes)
    signature = model_json["signature"]["outputs"]
    outputs = []
    for spec in signature.values():
        name = _ref(spec["name"])
        dims = [int(dim["size"]) for dim in spec.get("tensorShape", {}).get("dim", [])]
        outputs.append(helper.make_tensor_value_info(name, TF_TYPES[spec["dtype"]], dims))
    used = {name for node in builder.nodes for name in node.input}
    initializers = [tensor for tensor in builder.initializers if tensor.name in used]
    graph = helper.make_graph(
        builder.nodes, "tfjs", graph_inputs, outputs, initializer=initializers
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="monitoring.backends.onbox.tfjs_onnx",
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model

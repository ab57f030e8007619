"""Build-time tool: turn the vendored MediaPipe ``.tflite`` models into ONNX graphs.

Run once by a maintainer (see ``src/lineguard/edge/redact/models/NOTICE.md``) in a throwaway environment with
``ai-edge-litert`` and ``tflite`` installed; neither is a LineGuard dependency. The
edge node only ever loads the resulting ``.onnx`` files with onnxruntime.

How: the ``tflite`` flatbuffer bindings give the graph (ops, options, tensor shapes);
LiteRT runs the model once with all tensors preserved, which yields every constant
already dequantised (fp16 → fp32) and densified (sparse → dense), so the converter only
maps a dozen float ops. Activations are converted to NCHW; weights are transposed
once. ``verify`` compares ONNX and LiteRT outputs on random and structured inputs.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["convert", "verify"]

_ACT = {0: None, 1: "Relu", 3: "Relu6"}


def _litert() -> Any:
    return importlib.import_module("ai_edge_litert.interpreter")


def _interpreter(path: Path) -> Any:
    lite = _litert()
    interp = lite.Interpreter(
        model_path=str(path),
        experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=lite.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interp.allocate_tensors()
    return interp


def convert(tflite_path: Path, onnx_path: Path) -> None:
    tfl = importlib.import_module("tflite")
    onnx = importlib.import_module("onnx")
    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    ops = tfl.BuiltinOperator
    names = {v: k for k, v in vars(ops).items() if not k.startswith("_")}

    model = tfl.Model.GetRootAsModel(tflite_path.read_bytes(), 0)
    graph = model.Subgraphs(0)
    in_idx = graph.Inputs(0)
    shape_in = [int(v) for v in graph.Tensors(in_idx).ShapeAsNumpy()]
    producers = {}
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        kind = (
            code.CustomCode().decode()
            if code.CustomCode()
            else names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
        )
        producers[op.Outputs(0)] = (kind, op.Inputs(0))
    interp = None
    if any(kind == "DENSIFY" for kind, _ in producers.values()):
        # Sparse weights: let LiteRT densify them (run once, keep every tensor).
        interp = _interpreter(tflite_path)
        interp.set_tensor(in_idx, np.zeros(shape_in, np.float32))
        interp.invoke()
    from_fp16 = any(kind == "DEQUANTIZE" for kind, _ in producers.values())
    dtypes = {0: np.float32, 1: np.float16, 2: np.int32, 4: np.int64}

    def value(t: int) -> np.ndarray:
        kind, src = producers.get(t, (None, -1))
        if kind == "DEQUANTIZE":
            return value(src).astype(np.float32)
        if kind == "DENSIFY":
            assert interp is not None  # noqa: S101 - set above whenever a DENSIFY op exists
            return np.asarray(interp.get_tensor(t))
        tensor = graph.Tensors(t)
        data = model.Buffers(tensor.Buffer()).DataAsNumpy()
        shp = [int(v) for v in tensor.ShapeAsNumpy()] if tensor.ShapeLength() else []
        return np.frombuffer(data.tobytes(), dtype=dtypes[tensor.Type()]).reshape(shp)

    dynamic = {in_idx}
    nodes: list[Any] = []
    inits: list[Any] = []
    nchw: set[int] = set()  # dynamic 4-D tensors stored channels-first

    def shape(t: int) -> list[int]:
        return [int(v) for v in graph.Tensors(t).ShapeAsNumpy()]

    def name(t: int) -> str:
        return f"t{t}"

    def raw(value: np.ndarray, label: str) -> str:
        cname = f"{label}_{len(inits)}"
        if value.dtype == np.float32 and value.size >= 64 and from_fp16:
            # The tflite weights were float16: store them so (lossless), cast once at load.
            inits.append(
                numpy_helper.from_array(np.ascontiguousarray(value.astype(np.float16)), cname + "_h")
            )
            nodes.append(helper.make_node("Cast", [cname + "_h"], [cname], to=onnx.TensorProto.FLOAT))
            return cname
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), cname))
        return cname

    def operand(t: int, other_rank: int) -> str:
        if t in dynamic:
            return name(t)
        arr = value(t).astype(np.float32)
        if other_rank == 4 and arr.ndim >= 1:  # NHWC-broadcast constant → NCHW
            arr = arr.reshape(-1) if arr.size == arr.shape[-1] else arr
            if arr.ndim == 1:
                arr = arr.reshape(1, -1, 1, 1)
            elif arr.ndim == 4:
                arr = arr.transpose(0, 3, 1, 2)
        return raw(arr, f"k{t}")

    def finish(out_name: str, t: int, act: int) -> None:
        kind = _ACT.get(act, "unsupported")
        if kind == "unsupported":
            msg = f"fused activation {act} not supported"
            raise ValueError(msg)
        if kind is None:
            nodes.append(helper.make_node("Identity", [out_name], [name(t)]))
        elif kind == "Relu":
            nodes.append(helper.make_node("Relu", [out_name], [name(t)]))
        else:
            nodes.append(
                helper.make_node(
                    "Clip",
                    [out_name, raw(np.array(0, np.float32), "z"), raw(np.array(6, np.float32), "s")],
                    [name(t)],
                )
            )

    def same_pads(size: list[int], kernel: list[int], stride: list[int], dil: list[int]) -> list[int]:
        begin, end = [], []
        for n, k, s, d in zip(size, kernel, stride, dil, strict=True):
            out = -(-n // s)
            total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
            begin.append(total // 2)
            end.append(total - total // 2)
        return begin + end

    # The graph input arrives NHWC (like the tflite model); transpose once.
    nodes.append(helper.make_node("Transpose", ["input"], [name(in_idx)], perm=[0, 3, 1, 2]))
    nchw.add(in_idx)

    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        op_name = code.CustomCode().decode() if code.CustomCode() else names[builtin]
        ins = [op.Inputs(j) for j in range(op.InputsLength())]
        outs = [op.Outputs(j) for j in range(op.OutputsLength())]
        if op_name in {"DEQUANTIZE", "DENSIFY"}:
            continue  # their outputs are constants read from the interpreter
        if not any(t in dynamic for t in ins if t >= 0):
            continue  # constant folding: value comes from the interpreter
        out = outs[0]
        dynamic.add(out)
        if len(shape(out)) == 4:
            nchw.add(out)
        opts_tab = op.BuiltinOptions()

        def opts(cls_name: str, tab: Any = opts_tab) -> Any:
            o = getattr(tfl, cls_name)()
            o.Init(tab.Bytes, tab.Pos)
            return o

        tmp = f"p{i}"
        if op_name in {"CONV_2D", "DEPTHWISE_CONV_2D"}:
            w = value(ins[1]).astype(np.float32)
            cin = shape(ins[0])[3]
            if op_name == "CONV_2D":
                o = opts("Conv2DOptions")
                wt, group = w.transpose(0, 3, 1, 2), 1
            else:
                o = opts("DepthwiseConv2DOptions")
                wt, group = w.transpose(3, 0, 1, 2), cin
            stride = [o.StrideH(), o.StrideW()]
            dil = [o.DilationHFactor(), o.DilationWFactor()]
            k = list(wt.shape[2:])
            pads = same_pads(shape(ins[0])[1:3], k, stride, dil) if o.Padding() == 0 else [0, 0, 0, 0]
            args = [name(ins[0]), raw(wt, "w")]
            if len(ins) > 2 and ins[2] >= 0:
                args.append(raw(value(ins[2]).astype(np.float32), "b"))
            nodes.append(
                helper.make_node(
                    "Conv", args, [tmp], strides=stride, dilations=dil, pads=pads, group=group, kernel_shape=k
                )
            )
            finish(tmp, out, o.FusedActivationFunction())
        elif op_name == "Convolution2DTransposeBias":
            padding, stride_w, stride_h = op.CustomOptionsAsNumpy().view(np.int32)[:3]
            w = value(ins[1]).astype(np.float32)  # O H W I
            wt = w.transpose(3, 0, 1, 2)
            kh, kw = wt.shape[2:]
            ih, iw = shape(ins[0])[1:3]
            oh, ow = shape(out)[1:3]
            th, tw = (ih - 1) * stride_h + kh - oh, (iw - 1) * stride_w + kw - ow
            pads = [th // 2, tw // 2, th - th // 2, tw - tw // 2] if padding == 1 else [0, 0, th, tw]
            args = [name(ins[0]), raw(wt, "w"), raw(value(ins[2]).astype(np.float32), "b")]
            nodes.append(
                helper.make_node(
                    "ConvTranspose", args, [name(out)], strides=[int(stride_h), int(stride_w)], pads=pads
                )
            )
        elif op_name in {"ADD", "MUL"}:
            o = opts("AddOptions" if op_name == "ADD" else "MulOptions")
            rank = len(shape(out))
            args = [operand(ins[0], rank), operand(ins[1], rank)]
            nodes.append(helper.make_node("Add" if op_name == "ADD" else "Mul", args, [tmp]))
            finish(tmp, out, o.FusedActivationFunction())
        elif op_name in {"RELU", "LOGISTIC", "HARD_SWISH"}:
            onnx_op = {"RELU": "Relu", "LOGISTIC": "Sigmoid", "HARD_SWISH": "HardSwish"}[op_name]
            nodes.append(helper.make_node(onnx_op, [name(ins[0])], [name(out)]))
        elif op_name == "PAD":
            p = value(ins[1]).astype(np.int64)  # NHWC x (before, after)
            order = [0, 3, 1, 2]
            pads = [int(p[a, 0]) for a in order] + [int(p[a, 1]) for a in order]
            nodes.append(
                helper.make_node("Pad", [name(ins[0]), raw(np.array(pads, np.int64), "pad")], [name(out)])
            )
        elif op_name in {"MAX_POOL_2D", "AVERAGE_POOL_2D"}:
            o = opts("Pool2DOptions")
            k, stride = [o.FilterHeight(), o.FilterWidth()], [o.StrideH(), o.StrideW()]
            pads = same_pads(shape(ins[0])[1:3], k, stride, [1, 1]) if o.Padding() == 0 else [0, 0, 0, 0]
            onnx_op = "MaxPool" if op_name == "MAX_POOL_2D" else "AveragePool"
            extra = {} if onnx_op == "MaxPool" else {"count_include_pad": 0}
            nodes.append(
                helper.make_node(
                    onnx_op, [name(ins[0])], [tmp], kernel_shape=k, strides=stride, pads=pads, **extra
                )
            )
            finish(tmp, out, o.FusedActivationFunction())
        elif op_name == "MEAN":
            axes = value(ins[1]).astype(np.int64).reshape(-1)
            to_nchw = {0: 0, 1: 2, 2: 3, 3: 1}
            axes = np.array([to_nchw[int(a)] for a in axes], np.int64)
            keep = int(opts("ReducerOptions").KeepDims())
            nodes.append(
                helper.make_node("ReduceMean", [name(ins[0]), raw(axes, "ax")], [name(out)], keepdims=keep)
            )
        elif op_name == "RESIZE_BILINEAR":
            o = opts("ResizeBilinearOptions")
            mode = (
                "align_corners"
                if o.AlignCorners()
                else ("half_pixel" if o.HalfPixelCenters() else "asymmetric")
            )
            n_out, h_out, w_out, c_out = shape(out)
            sizes = raw(np.array([n_out, c_out, h_out, w_out], np.int64), "sz")
            nodes.append(
                helper.make_node(
                    "Resize",
                    [name(ins[0]), "", "", sizes],
                    [name(out)],
                    mode="linear",
                    coordinate_transformation_mode=mode,
                )
            )
        elif op_name == "DEPTH_TO_SPACE":
            bs = opts("DepthToSpaceOptions").BlockSize()
            nodes.append(
                helper.make_node("DepthToSpace", [name(ins[0])], [name(out)], blocksize=bs, mode="DCR")
            )
        elif op_name == "RESHAPE":
            src = name(ins[0])
            if ins[0] in nchw:
                nodes.append(helper.make_node("Transpose", [src], [f"{tmp}_nhwc"], perm=[0, 2, 3, 1]))
                src = f"{tmp}_nhwc"
            target = raw(np.array(shape(out), np.int64), "shp")
            if out in nchw:
                nodes.append(helper.make_node("Reshape", [src, target], [f"{tmp}_r"]))
                nodes.append(helper.make_node("Transpose", [f"{tmp}_r"], [name(out)], perm=[0, 3, 1, 2]))
            else:
                nodes.append(helper.make_node("Reshape", [src, target], [name(out)]))
        elif op_name == "CONCATENATION":
            o = opts("ConcatenationOptions")
            axis = o.Axis() % len(shape(out))
            if out in nchw:
                axis = {0: 0, 1: 2, 2: 3, 3: 1}[axis]
            nodes.append(helper.make_node("Concat", [name(t) for t in ins], [tmp], axis=axis))
            finish(tmp, out, o.FusedActivationFunction())
        else:
            msg = f"{tflite_path.name}: op {op_name} is not supported by this converter"
            raise ValueError(msg)

    outputs = []
    for j in range(graph.OutputsLength()):
        t = graph.Outputs(j)
        out_name = graph.Tensors(t).Name().decode()
        if t in nchw:  # hand 4-D outputs back NHWC, as the tflite model does
            nodes.append(helper.make_node("Transpose", [name(t)], [out_name], perm=[0, 2, 3, 1]))
        else:
            nodes.append(helper.make_node("Identity", [name(t)], [out_name]))
        outputs.append(helper.make_tensor_value_info(out_name, onnx.TensorProto.FLOAT, shape(t)))
    graph_proto = helper.make_graph(
        nodes,
        tflite_path.stem,
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, shape_in)],
        outputs,
        inits,
    )
    proto = helper.make_model(
        graph_proto, opset_imports=[helper.make_opsetid("", 18)], producer_name="lineguard-convert-tflite"
    )
    proto.ir_version = 8
    onnx.checker.check_model(proto)
    onnx_path.write_bytes(proto.SerializeToString())


def verify(tflite_path: Path, onnx_path: Path, samples: list[np.ndarray]) -> float:
    """Largest absolute difference between LiteRT and onnxruntime outputs over ``samples``."""
    ort = importlib.import_module("lineguard.vision.ort").import_onnxruntime()
    lite = _litert()
    interp = lite.Interpreter(model_path=str(tflite_path))  # default delegate knows MediaPipe's custom op
    interp.allocate_tensors()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for x in samples:
        interp.set_tensor(interp.get_input_details()[0]["index"], x)
        interp.invoke()
        ref = {d["name"]: interp.get_tensor(d["index"]) for d in interp.get_output_details()}
        got = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"input": x}), strict=True))
        for key, value in ref.items():
            worst = max(worst, float(np.abs(value - got[key]).max()))
    return worst


if __name__ == "__main__":
    import sys

    src, dst = Path(sys.argv[1]), Path(sys.argv[2])
    convert(src, dst)
    lite = _litert()
    probe = lite.Interpreter(model_path=str(src))
    shape_in = [1, *[int(v) for v in probe.get_input_details()[0]["shape"][1:]]]
    rng = np.random.default_rng(0)
    xs = [rng.uniform(-1, 1, shape_in).astype(np.float32) for _ in range(3)]
    print(f"{dst.name}: max |onnx - litert| = {verify(src, dst, xs):.2e}")

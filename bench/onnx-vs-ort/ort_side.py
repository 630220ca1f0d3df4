"""The onnxruntime side of bench/onnx-vs-ort.

Builds the CIFAR-sized CNN (seeded weights), writes the N seeded inputs of each graph
(MODEL.inputs.bin, little-endian float32), times onnxruntime's forward pass (best of R after a
warm-up) and saves its logits, and dumps each graph as JSON plus its initializers as .npz for
torch_side.py. Writes MODEL.ort.json per graph.
"""

import argparse
import json
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def cifar_cnn(path):
    rng = np.random.default_rng(7)

    def w(*shape):
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
        return numpy_helper.from_array((rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32))

    inits = []

    def add(name, tensor):
        tensor.name = name
        inits.append(tensor)
        return name

    def bn(prefix, c):
        add(f"{prefix}.scale", numpy_helper.from_array((1 + 0.1 * rng.standard_normal(c)).astype(np.float32)))
        add(f"{prefix}.bias", numpy_helper.from_array((0.1 * rng.standard_normal(c)).astype(np.float32)))
        add(f"{prefix}.mean", numpy_helper.from_array((0.1 * rng.standard_normal(c)).astype(np.float32)))
        add(f"{prefix}.var", numpy_helper.from_array((1 + 0.1 * np.abs(rng.standard_normal(c))).astype(np.float32)))
        return [f"{prefix}.scale", f"{prefix}.bias", f"{prefix}.mean", f"{prefix}.var"]

    n = helper.make_node
    nodes = [
        n("Conv", ["input", add("conv1.weight", w(32, 3, 3, 3)), add("conv1.bias", w(32))], ["c1"], name="conv1", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        n("BatchNormalization", ["c1"] + bn("bn1", 32), ["b1"], name="bn1"),
        n("Relu", ["b1"], ["r1"], name="relu1"),
        n("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        n("Conv", ["p1", add("conv2.weight", w(64, 32, 3, 3)), add("conv2.bias", w(64))], ["c2"], name="conv2", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        n("BatchNormalization", ["c2"] + bn("bn2", 64), ["b2"], name="bn2"),
        n("Relu", ["b2"], ["r2"], name="relu2"),
        n("MaxPool", ["r2"], ["p2"], name="pool2", kernel_shape=[2, 2], strides=[2, 2]),
        n("Conv", ["p2", add("conv3.weight", w(128, 64, 3, 3)), add("conv3.bias", w(128))], ["c3"], name="conv3", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        n("Relu", ["c3"], ["r3"], name="relu3"),
        n("GlobalAveragePool", ["r3"], ["g"], name="gap"),
        n("Flatten", ["g"], ["f"], name="flatten", axis=1),
        n("Gemm", ["f", add("fc.weight", w(10, 128)), add("fc.bias", w(10))], ["logits"], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "cifar-cnn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        initializer=inits,
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="stressor-bench")
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, path)


def dump(model, prefix):
    """The graph as JSON and its initializers as .npz, for torch_side.py."""
    nodes = []
    for node in model.graph.node:
        attrs = {}
        for a in node.attribute:
            v = helper.get_attribute_value(a)
            attrs[a.name] = v.decode() if isinstance(v, bytes) else (list(v) if not np.isscalar(v) else v)
        nodes.append({"op": node.op_type, "inputs": list(node.input), "outputs": list(node.output), "attrs": attrs})
    graph = {"input": model.graph.input[0].name, "output": model.graph.output[0].name, "nodes": nodes}
    json.dump(graph, open(f"{prefix}.graph.json", "w"))
    np.savez(f"{prefix}.weights.npz", **{t.name: numpy_helper.to_array(t) for t in model.graph.initializer})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cifar_cnn(f"{args.dir}/cifar-cnn.onnx")
    for name in ["fashion-cnn", "cifar-cnn"]:
        path = f"{args.dir}/{name}.onnx"
        model = onnx.load(path)
        dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[1:]]
        x = np.random.default_rng(11).random((args.n, *dims)).astype(np.float32)
        x.astype("<f4").tofile(f"{args.dir}/{name}.inputs.bin")
        np.save(f"{args.dir}/{name}.inputs.npy", x)
        dump(model, f"{args.dir}/{name}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        feed = {session.get_inputs()[0].name: x}
        (logits,) = session.run(None, feed)
        best = float("inf")
        for _ in range(args.repeats):
            start = time.perf_counter()
            session.run(None, feed)
            best = min(best, time.perf_counter() - start)
        np.save(f"{args.dir}/{name}.ort-logits.npy", logits)
        json.dump({"n": args.n, "input_shape": dims, "forward_seconds": best,
                   "forward_images_per_sec": args.n / best, "onnxruntime": ort.__version__},
                  open(f"{args.dir}/{name}.ort.json", "w"))


if __name__ == "__main__":
    main()

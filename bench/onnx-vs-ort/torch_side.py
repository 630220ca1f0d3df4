"""The PyTorch side of bench/onnx-vs-ort.

Runs the same ONNX graph (dumped by ort_side.py as JSON + .npz initializers) with
torch.nn.functional, checks its logits against onnxruntime's, then times the forward pass
(no_grad) and the forward pass plus the input gradient of the summed logits (what stressor's
`logits_and_gradient` computes with a cotangent of ones). Prints one JSON object.
"""

import argparse
import json
import time

import numpy as np
import torch
import torch.nn.functional as F


def run_graph(graph, weights, x):
    values = dict(weights)
    values[graph["input"]] = x
    for node in graph["nodes"]:
        op, a = node["op"], node["attrs"]
        args = [values[i] for i in node["inputs"] if i]
        if op == "Conv":
            pads = a.get("pads", [0, 0, 0, 0])
            assert pads[0] == pads[2] and pads[1] == pads[3]
            y = F.conv2d(args[0], args[1], args[2] if len(args) > 2 else None,
                         stride=a.get("strides", [1, 1]), padding=pads[:2], groups=a.get("group", 1))
        elif op == "BatchNormalization":
            y = F.batch_norm(args[0], args[3], args[4], args[1], args[2], False, 0.0, a.get("epsilon", 1e-5))
        elif op == "Relu":
            y = F.relu(args[0])
        elif op == "MaxPool":
            y = F.max_pool2d(args[0], a["kernel_shape"], a.get("strides", a["kernel_shape"]))
        elif op == "GlobalAveragePool":
            y = args[0].mean(dim=(2, 3), keepdim=True)
        elif op == "Flatten":
            y = torch.flatten(args[0], a.get("axis", 1))
        elif op == "Gemm":
            assert a.get("transB", 0) == 1 and a.get("alpha", 1.0) == 1.0 and a.get("beta", 1.0) == 1.0
            y = F.linear(args[0], args[1], args[2])
        else:
            raise SystemExit(f"torch_side.py does not know {op}")
        values[node["outputs"][0]] = y
    return values[graph["output"]]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    prefix = f"{args.dir}/{args.model}"
    graph = json.load(open(f"{prefix}.graph.json"))
    weights = {k: torch.from_numpy(v) for k, v in np.load(f"{prefix}.weights.npz").items()}
    x = torch.from_numpy(np.load(f"{prefix}.inputs.npy"))
    ort_logits = np.load(f"{prefix}.ort-logits.npy")

    with torch.no_grad():
        logits = run_graph(graph, weights, x)
    diff = float(np.abs(logits.numpy() - ort_logits).max())

    def forward():
        with torch.no_grad():
            run_graph(graph, weights, x)

    def gradient():
        xg = x.clone().requires_grad_(True)
        run_graph(graph, weights, xg).sum().backward()
        return xg.grad

    def best_of(f):
        f()
        best = float("inf")
        for _ in range(args.repeats):
            start = time.perf_counter()
            f()
            best = min(best, time.perf_counter() - start)
        return best

    n = x.shape[0]
    fwd, grad = best_of(forward), best_of(gradient)
    print(json.dumps({"n": n, "forward_seconds": fwd, "forward_images_per_sec": n / fwd,
                      "gradient_seconds": grad, "gradient_images_per_sec": n / grad,
                      "max_logit_diff_vs_ort": diff, "torch": torch.__version__}))


if __name__ == "__main__":
    main()

"""The exporter side of bench/onnx-vs-ort: torchvision classifiers with seeded random weights,
(batch-norm statistics from random batches) exported by torch.onnx.export (TorchScript exporter, opset 17, dynamic batch axis) and run in
onnxruntime.

For each model writes MODEL.onnx, MODEL.inputs.bin (N seeded 3×224×224 images in [0, 1],
little-endian float32), MODEL.ort-logits.npy and MODEL.ort.json (onnxruntime's forward
throughput, best of R after a warm-up). The weights are random (torch.manual_seed), so nothing
is downloaded; the graphs are the ones a user's trained model exports to.
"""

import argparse
import json
import time
import warnings

import numpy as np
import onnxruntime as ort
import torch
import torchvision

MODELS = ["resnet18", "mobilenet_v2", "resnet50", "mobilenet_v3_large", "efficientnet_b0",
          "vit_b_16"]


def export(name, path, opset):
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None)
    # Fresh batch-norm statistics (mean 0, variance 1) make a randomly initialised MobileNet's
    # logits vanish (~1e-9); statistics from two random batches give them a trained model's
    # scale, so the comparison with onnxruntime means something.
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.momentum = None
    # torchvision zero-initialises ViT's classification head, which would make every logit 0.
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Linear) and not module.weight.any():
                torch.nn.init.normal_(module.weight, std=0.02)
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.rand(8, 3, 224, 224))
    model.eval()
    x = torch.rand(1, 3, 224, 224)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, x, path, opset_version=opset, input_names=["input"],
                          output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                          dynamo=False)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("models", nargs="*", default=MODELS)
    args = parser.parse_args()
    for name in args.models:
        path = f"{args.dir}/{name}.onnx"
        export(name, path, args.opset)
        x = np.random.default_rng(11).random((args.n, 3, 224, 224)).astype(np.float32)
        x.astype("<f4").tofile(f"{args.dir}/{name}.inputs.bin")
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
        json.dump({"n": args.n, "input_shape": [3, 224, 224], "forward_seconds": best,
                   "forward_images_per_sec": args.n / best, "onnxruntime": ort.__version__,
                   "torch": torch.__version__, "torchvision": torchvision.__version__},
                  open(f"{args.dir}/{name}.ort.json", "w"))


if __name__ == "__main__":
    main()

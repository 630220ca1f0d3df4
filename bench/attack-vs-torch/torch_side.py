"""The PyTorch + torchattacks side of bench/attack-vs-torch.

Loads the CNN weights stressor exported (safetensors, PyTorch names and layouts), the same
images and labels, checks that both sides compute the same logits, then times torchattacks'
PGD-L-inf with the same parameters. Prints one JSON object.
"""

import argparse
import json
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchattacks
from safetensors.torch import load_file


class FashionCnn(nn.Module):
    """The same architecture as stressor's built-in `fashion-cnn`."""

    def __init__(self, c1, c2, hidden):
        super().__init__()
        self.conv1 = nn.Conv2d(1, c1, 3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.fc1 = nn.Linear(c2 * 7 * 7, hidden)
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    meta = json.load(open(f"{args.dir}/meta.json"))
    weights = load_file(f"{args.dir}/weights.safetensors")
    model = FashionCnn(
        weights["conv1.weight"].shape[0], weights["conv2.weight"].shape[0], weights["fc1.weight"].shape[0]
    )
    model.load_state_dict(weights)
    model.eval()
    n = meta["n"]
    images = torch.from_numpy(np.fromfile(f"{args.dir}/images.f32", dtype="<f4").reshape(n, 1, 28, 28))
    labels = torch.from_numpy(np.fromfile(f"{args.dir}/labels.u32", dtype="<u4").astype(np.int64))
    stressor_logits = np.fromfile(f"{args.dir}/logits.f32", dtype="<f4").reshape(n, 10)

    with torch.no_grad():
        logits = model(images)
    max_logit_diff = float(np.abs(logits.numpy() - stressor_logits).max())
    clean_accuracy = float((logits.argmax(1) == labels).float().mean())

    eps = meta["epsilon"]
    attack = torchattacks.PGD(model, eps=eps, alpha=meta["step_size"], steps=meta["steps"], random_start=True)
    attack(images[: meta["batch_size"]], labels[: meta["batch_size"]])  # warm-up

    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        adversarial = torch.cat(
            [
                attack(images[i : i + meta["batch_size"]], labels[i : i + meta["batch_size"]])
                for i in range(0, n, meta["batch_size"])
            ]
        )
        times.append(time.perf_counter() - start)
    with torch.no_grad():
        robust_accuracy = float((model(adversarial).argmax(1) == labels).float().mean())
    linf = float((adversarial - images).abs().amax())
    best = min(times)
    print(
        json.dumps(
            {
                "side": "torchattacks",
                "torch": torch.__version__,
                "torchattacks": torchattacks.__version__,
                "threads": torch.get_num_threads(),
                "n": n,
                "seconds": best,
                "images_per_sec": n / best,
                "clean_accuracy": clean_accuracy,
                "robust_accuracy": robust_accuracy,
                "max_linf": linf,
                "max_logit_diff_vs_stressor": max_logit_diff,
            }
        )
    )


if __name__ == "__main__":
    main()

"""Trains a scikit-learn classifier on the embedded Fashion-MNIST training slice and writes an
MLServer model directory (stock mlserver-sklearn runtime, predict_proba as the default output).
Prints the classifier's own accuracy on the whole test split, the reference for stressor."""
import gzip
import json
import sys
from pathlib import Path

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

data = Path(sys.argv[1])
out = Path(sys.argv[2])


def images(name):
    raw = gzip.open(data / name).read()
    n = int.from_bytes(raw[4:8], "big")
    return np.frombuffer(raw, np.uint8, offset=16).reshape(n, 1, 28, 28).astype(np.float32) / 255


def labels(name):
    return np.frombuffer(gzip.open(data / name).read(), np.uint8, offset=8)


x, y = images("train-30k-images-idx3-ubyte.gz")[:10000], labels("train-30k-labels-idx1-ubyte.gz")[:10000]
# MLServer hands the model the tensor as sent, [n, 1, 28, 28]; numpy's reshape flattens it.
model = make_pipeline(
    FunctionTransformer(np.reshape, kw_args={"shape": (-1, 784)}),
    LogisticRegression(max_iter=300),
)
model.fit(x, y)
tx, ty = images("t10k-images-idx3-ubyte.gz"), labels("t10k-labels-idx1-ubyte.gz")
print(f"sklearn accuracy on the 10000 test images: {(model.predict(tx) == ty).mean():.4f}")
out.mkdir(parents=True, exist_ok=True)
joblib.dump(model, out / "model.joblib")
(out / "model-settings.json").write_text(json.dumps({
    "name": "fashion-lr",
    "implementation": "mlserver_sklearn.SKLearnModel",
    "parameters": {"uri": "./model.joblib", "extra": {"predict_fn": "predict_proba"}},
    "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 1, 28, 28]}],
    "outputs": [{"name": "predict_proba", "datatype": "FP64", "shape": [-1, 10]}],
}))

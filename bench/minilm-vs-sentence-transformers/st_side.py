"""sentence-transformers' side of bench/minilm-vs-sentence-transformers.

Builds all-MiniLM-L6-v2 as sentence-transformers does (Transformer with max_seq_length 256, mean
Pooling, Normalize) from MODEL_DIR's config.json, model.safetensors and tokenizer.json, encodes
SENTENCES (one per line) on the CPU in batches of BATCH, REPEAT times after one untimed warm-up
batch, writes the embeddings to OUT as little-endian float32 rows and prints a JSON summary with
the fastest time.

Usage: st_side.py MODEL_DIR SENTENCES OUT THREADS BATCH REPEAT
"""
import json
import sys
import time

import numpy as np
import torch


def main() -> int:
    model_dir, sentences_path, out, threads, batch, repeat = sys.argv[1:7]
    torch.set_num_threads(int(threads))
    from sentence_transformers import SentenceTransformer, __version__, models
    sentences = open(sentences_path, encoding="utf-8").read().split("\n")
    if sentences and sentences[-1] == "":
        sentences.pop()
    transformer = models.Transformer(model_dir, max_seq_length=256)
    pooling = models.Pooling(transformer.get_word_embedding_dimension(), "mean")
    model = SentenceTransformer(modules=[transformer, pooling, models.Normalize()], device="cpu")
    model.encode(sentences[:int(batch)], batch_size=int(batch))
    times = []
    for _ in range(max(int(repeat), 1)):
        start = time.perf_counter()
        embeddings = model.encode(sentences, batch_size=int(batch), convert_to_numpy=True)
        times.append(time.perf_counter() - start)
    seconds = min(times)
    embeddings.astype("<f4").tofile(out)
    print(json.dumps({
        "n": len(sentences), "seconds": seconds, "times": times, "threads": torch.get_num_threads(),
        "torch": torch.__version__, "sentence_transformers": __version__,
        "dim": int(embeddings.shape[1]),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())

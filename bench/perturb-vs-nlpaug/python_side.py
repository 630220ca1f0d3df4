"""The Python side of bench/perturb-vs-nlpaug: nlpaug and TextAttack augmenters on the CLINC150
test queries, one thread, one JSON object per line on stdout:
{"method": ..., "texts": ..., "texts_per_sec": ..., "changed_share": ...}.

NLTK's WordNet is the Debian wordnet-base database (the `run` script lays out an nltk_data
folder from it and sets NLTK_DATA): nothing is downloaded. nlpaug's SynonymAug tags parts of
speech with nltk.pos_tag, whose tagger model is a download; it is replaced by a tagger that
returns no tag, so SynonymAug takes synonyms from every part of speech, as stressor does, and
skips the tagging cost (which makes nlpaug faster than it is out of the box: the ratio is
conservative).
"""
import argparse
import gzip
import json
import random
import sys
import time

import numpy as np


def read_texts(path):
    with gzip.open(path, "rt") as f:
        return [row[0] for row in json.load(f)["test"]]


def timed(name, augment, texts, min_seconds):
    # One untimed pass loads lazy resources (WordNet) before timing, as the Rust side does.
    augment(texts[0])
    done = changed = 0
    start = time.perf_counter()
    while True:
        for text in texts:
            out = augment(text)
            changed += out != text
        done += len(texts)
        if time.perf_counter() - start >= min_seconds:
            break
    seconds = time.perf_counter() - start
    print(json.dumps({"method": name, "texts": done, "texts_per_sec": round(done / seconds, 1),
                      "changed_share": round(changed / done, 4)}), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--min-seconds", type=float, default=1.0)
    parser.add_argument("--n", type=int, default=0, help="use the first n texts (0: all)")
    args = parser.parse_args()
    texts = read_texts(args.data)
    if args.n:
        texts = texts[: args.n]
    random.seed(0)
    np.random.seed(0)

    import nlpaug.augmenter.char as nac
    import nlpaug.augmenter.word as naw
    import nlpaug.model.word_dict.wordnet  # noqa: F401 - the package re-exports NLTK's `wordnet`

    # An empty tag maps to no part of speech, and SynonymAug then takes every sense's lemmas.
    sys.modules["nlpaug.model.word_dict.wordnet"].WordNet.pos_tag = lambda self, tokens: [(t, "") for t in tokens]

    def first(out):
        return out[0] if isinstance(out, list) else out

    keyboard = nac.KeyboardAug()
    timed("nlpaug KeyboardAug", lambda t: first(keyboard.augment(t)), texts, args.min_seconds)
    swap = nac.RandomCharAug(action="swap")
    timed("nlpaug RandomCharAug(swap)", lambda t: first(swap.augment(t)), texts, args.min_seconds)
    synonym = naw.SynonymAug(aug_src="wordnet")
    timed("nlpaug SynonymAug(wordnet)", lambda t: first(synonym.augment(t)), texts, args.min_seconds)

    try:
        from textattack.augmentation import CharSwapAugmenter, WordNetAugmenter
    except Exception as e:  # noqa: BLE001 - report any import failure and go on without it
        print(f"textattack not available: {type(e).__name__}: {e}", file=sys.stderr)
        return
    char_swap = CharSwapAugmenter()
    timed("textattack CharSwapAugmenter", lambda t: char_swap.augment(t)[0], texts, args.min_seconds)
    wordnet = WordNetAugmenter()
    timed("textattack WordNetAugmenter", lambda t: wordnet.augment(t)[0], texts, args.min_seconds)


if __name__ == "__main__":
    main()

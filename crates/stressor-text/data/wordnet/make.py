#!/usr/bin/env python3
"""Builds synonyms.tsv.gz, the single-word synonym table stressor-text embeds, from WordNet 3.0.

Input: the WordNet 3.0 database files (index.{noun,verb,adj,adv} and data.{noun,verb,adj,adv}),
as Debian's `wordnet-base` package installs them under /usr/share/wordnet
(`apt-get install -y wordnet-base`). Output: one line per lemma, `lemma<TAB>syn syn syn ...`,
sorted by lemma, gzip-compressed with a fixed mtime so the bytes are reproducible.

For each lemma of the index files that is a plain lower-case word (`^[a-z]+$`: no multi-word
collocations, hyphens, digits or apostrophes), per part of speech (noun, verb, adjective,
adverb, in that order, as NLTK's `wordnet.synsets` lists them), the first SENSES synsets
(WordNet orders a lemma's senses by their tagged frequency in SemCor, most frequent first) give
the synonyms: the other words of those synsets that are plain lower-case words too (so proper
nouns such as "Paris" and collocations such as "look_for" are skipped), in synset order,
without repeats, at most MAX_SYNONYMS. Lemmas left with no synonym are left out.

Usage: python3 make.py [WORDNET_DIR] [OUT]   (defaults: /usr/share/wordnet, ./synonyms.tsv.gz)
"""
import gzip
import os
import re
import sys

SENSES = 3
MAX_SYNONYMS = 12
POS = ["noun", "verb", "adj", "adv"]
WORD = re.compile(r"^[a-z]+$")


def read_synsets(path):
    """Offset -> list of words of a data.POS file (adjective markers such as "(a)" stripped)."""
    synsets = {}
    with open(path, encoding="latin-1") as f:
        for line in f:
            if line.startswith("  "):  # the licence header
                continue
            fields = line.split(" ")
            offset, w_cnt = fields[0], int(fields[3], 16)
            words = [re.sub(r"\([a-z]+\)$", "", fields[4 + 2 * i]) for i in range(w_cnt)]
            synsets[offset] = words
    return synsets


def main():
    wordnet = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/wordnet"
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "synonyms.tsv.gz")
    table = {}
    for pos in POS:
        synsets = read_synsets(os.path.join(wordnet, f"data.{pos}"))
        with open(os.path.join(wordnet, f"index.{pos}"), encoding="latin-1") as f:
            for line in f:
                if line.startswith("  "):
                    continue
                fields = line.split()
                lemma = fields[0]
                if not WORD.match(lemma):
                    continue
                synset_cnt, p_cnt = int(fields[2]), int(fields[3])
                offsets = fields[4 + p_cnt + 2:][:synset_cnt][:SENSES]
                synonyms = table.setdefault(lemma, [])
                for offset in offsets:
                    for word in synsets[offset]:
                        if WORD.match(word) and word != lemma and word not in synonyms:
                            synonyms.append(word)
    lines = [f"{lemma}\t{' '.join(syns[:MAX_SYNONYMS])}\n" for lemma, syns in sorted(table.items()) if syns]
    with open(out, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
            gz.write("".join(lines).encode("ascii"))
    print(f"{len(lines)} lemmas, {os.path.getsize(out)} bytes -> {out}", file=sys.stderr)


if __name__ == "__main__":
    main()

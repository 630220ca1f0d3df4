"""Makes the tiny BERT fixture that stressor-intent's `minilm` tests run without downloads.

A BERT with all-MiniLM-L6-v2's architecture and a tiny size (2 layers, hidden 32, 4 heads,
intermediate 64, 64 positions) with seeded random weights (larger than BERT's initialisation, and
LayerNorm parameters away from 1 and 0, so that a wrong attention mask, pooling or LayerNorm shows
in the embeddings), and a WordPiece vocabulary of 500 tokens trained on CLINC150's training
queries with `tokenizers`' trainer. It writes, into tests/fixtures/tiny-bert/:

    config.json, model.safetensors, tokenizer.json   the model, as `SentenceEncoder::load` reads it
    embeddings.json                                  {"max_seq_length", "sentences", "embeddings"}:
                                                     sentence-transformers' embeddings (mean pooling
                                                     over the attention mask, then L2 normalisation)

Run (a venv with torch, transformers, sentence-transformers, tokenizers, safetensors):
    /work/venv-minilm/bin/python crates/stressor-intent/scripts/make_tiny_bert.py
The output depends on the seed and these library versions only; the tests compare against the
committed embeddings, so rerunning is needed only to change the fixture.
"""
import gzip
import json
import shutil
import sys
import tempfile
from pathlib import Path

import torch
from sentence_transformers import SentenceTransformer, models
from tokenizers import Tokenizer, decoders, models as tok_models, normalizers, pre_tokenizers
from tokenizers import processors, trainers
from transformers import BertConfig, BertModel, BertTokenizerFast

CRATE = Path(__file__).resolve().parents[1]
OUT = CRATE / "tests" / "fixtures" / "tiny-bert"
MAX_SEQ_LENGTH = 64  # = max_position_embeddings: the long sentence below is truncated
SENTENCES = [
    "what is the weather like today",
    "set an alarm for 7am",
    "How do I transfer $200 to my savings account?",
    "play some jazz",
    "",
    "café déjà vu: naïve façade",
    "天気はどう",
    "zzqx vvkk qqq",
    "can you tell me my credit score please, and also " * 12,
    "bye",
    "what's the exchange rate between dollars and euros right now",
]


def main() -> int:
    torch.manual_seed(1234)
    with gzip.open(CRATE / "data" / "clinc150" / "data_full.json.gz", "rt") as f:
        train = [text for text, _ in json.load(f)["train"]]
    tokenizer = Tokenizer(tok_models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer.train_from_iterator(train, trainers.WordPieceTrainer(
        vocab_size=500, special_tokens=special, show_progress=False))
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)])

    config = BertConfig(vocab_size=tokenizer.get_vocab_size(), hidden_size=32,
                        num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                        max_position_embeddings=MAX_SEQ_LENGTH, type_vocab_size=2,
                        hidden_act="gelu", layer_norm_eps=1e-12, pad_token_id=0)
    model = BertModel(config, add_pooling_layer=False)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "LayerNorm.weight" in name:
                param.copy_(1.0 + 0.2 * torch.randn_like(param))
            else:
                param.copy_(0.3 * torch.randn_like(param))

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model.save_pretrained(tmp, safe_serialization=True)
        BertTokenizerFast(tokenizer_object=tokenizer, do_lower_case=True).save_pretrained(tmp)
        transformer = models.Transformer(str(tmp), max_seq_length=MAX_SEQ_LENGTH)
        pooling = models.Pooling(transformer.get_word_embedding_dimension(), "mean")
        st = SentenceTransformer(modules=[transformer, pooling, models.Normalize()], device="cpu")
        embeddings = st.encode(SENTENCES, batch_size=4, convert_to_numpy=True)
        OUT.mkdir(parents=True, exist_ok=True)
        for name in ["config.json", "model.safetensors", "tokenizer.json"]:
            shutil.copy(tmp / name, OUT / name)
    (OUT / "embeddings.json").write_text(json.dumps({
        "max_seq_length": MAX_SEQ_LENGTH,
        "sentences": SENTENCES,
        "embeddings": [[round(float(x), 7) for x in row] for row in embeddings],
    }, ensure_ascii=False, indent=1) + "\n")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"make_tiny_bert: {OUT} ({total} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

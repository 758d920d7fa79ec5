#!/usr/bin/env python3
"""Build the small Marian models that warta's Marian engine is proven against, and record what the
reference implementation (Hugging Face `transformers`) does with them.

The real Helsinki-NLP/opus-mt-id-en weights cannot be fetched where warta is developed and tested, so
this script makes tiny stand-ins with the same file layout as the opus-mt repos on the Hub (config.json,
generation_config.json, source.spm, target.spm, vocab.json, tokenizer_config.json, model.safetensors and,
for one variant, pytorch_model.bin as older opus-mt repos ship), trains them briefly on Indonesian→English
pairs so that their outputs are not trivial, and records for a fixed list of inputs:

- the token ids MarianTokenizer produces,
- greedy and beam-search outputs of `model.generate` (ids and decoded strings), one input at a time and
  as one padded batch of mixed lengths.

The tests in tests/marian_fixtures.rs compare warta's tokenizer, model and search with these records
token for token; they need no Python.

Usage (CPU is enough, a few minutes on two cores):

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install -r scripts/marian-fixtures/requirements.txt
    /tmp/venv/bin/python scripts/marian-fixtures/make_fixtures.py --shared ../shared --out tests/fixtures/marian

Training data: Tatoeba, NusaX-MT and TICO-19 pairs from ../shared/eval plus NTREX-128 from line 501 on
(the first 500 NTREX lines are warta's test set and are never trained on).
"""

import argparse
import io
import json
import platform
import random
import shutil
import sys
from pathlib import Path

import numpy as np
import sentencepiece as spm
import torch
import transformers
from transformers import GenerationConfig, MarianConfig, MarianMTModel, MarianTokenizer

SEED = 20240917

# Indonesian inputs whose translations are recorded: short and long, numbers, punctuation, quotes, odd
# whitespace, characters the vocabularies do not know, and near-empty lines.
INPUTS = [
    "Saya suka makan nasi goreng.",
    "Dia pergi ke pasar kemarin pagi.",
    "Rusia menangguhkan misinya di NATO setelah delapan diplomatnya diusir.",
    "Pada tahun 2021, sebanyak 8 diplomat diusir dari Brussel.",
    "Harga beras naik 3,5 persen menjadi Rp 12.500 per kilogram.",
    "Apakah kamu sudah makan?",
    "\"Kami tidak akan menyerah,\" katanya kepada wartawan di Jakarta, Selasa (19/10/2021).",
    "Tom tidak tahu apa yang harus dilakukan.",
    "Pemerintah Indonesia mengumumkan bahwa vaksin COVID-19 akan diberikan secara gratis kepada seluruh "
    "masyarakat, termasuk anak-anak dan orang tua, mulai bulan depan di semua provinsi.",
    "Ya.",
    ".",
    "",
    "   Banyak   spasi\tdan tab   ",
    "Ｆｕｌｌ－ｗｉｄｔｈ ａｎｇｋａ １２３ dan huruf.",
    "Emoji 😀😀 dan 漢字 tidak dikenal.",
    "Saya — dengan tanda « kutip » — datang… ",
    "Menteri Luar Negeri Retno Marsudi bertemu Sergei Lavrov di Moskwa.",
    "Kucing itu tidur di atas meja.",
]

# Extra strings whose token ids are recorded (not translated): special-token text and language codes,
# which MarianTokenizer treats specially.
TOKENIZE_ONLY = [
    "Ini </s> bukan akhir <unk> dan <pad>.",
    ">>ind<< Kalimat dengan kode bahasa.",
    "\u00a0spasi\u00a0tak\u2002terputus\u3000lebar",
    "Ｈａｌｏ，　ｄｕｎｉａ！",
    "ﬁ ﬂ ½ ² ℃ Ⅻ",
    "a\u0301 é e\u0301",
    "\x00\x01 kontrol \u200b lebar-nol",
    "Garis\nbaru\r\ndan\x0bvertikal",
]

VARIANTS = {
    # Shaped like opus-mt (shared, scaled embeddings; swish; sinusoidal positions), small.
    "tiny-a": dict(
        config=dict(
            d_model=32,
            encoder_layers=2,
            decoder_layers=2,
            encoder_attention_heads=4,
            decoder_attention_heads=4,
            encoder_ffn_dim=64,
            decoder_ffn_dim=64,
            activation_function="swish",
            scale_embedding=True,
            share_encoder_decoder_embeddings=True,
            tie_word_embeddings=True,
            max_position_embeddings=256,
        ),
        generation=dict(num_beams=4, max_length=48),
        tokenizer=dict(),
        # opus-mt's SentencePiece settings: NFKC-based normalisation rules in the model.
        spm=dict(vocab_size=700, normalization_rule_name="nmt_nfkc"),
        pytorch_bin="zip",
        generation_in_config_json=False,
        logits_bias=True,
    ),
    # Everything the other one does not: separate encoder/decoder embeddings and an untied output layer,
    # gelu, no embedding scale, 2 heads, asymmetric depth, a short position table (64) so long inputs
    # must be split, renormalised beam scores with a length penalty, early stopping, a minimum length,
    # generation settings only in config.json (as in old opus-mt repos), tokenization clean-up on,
    # SentencePiece models without normalisation rules, a legacy-format pytorch_model.bin.
    "tiny-b": dict(
        config=dict(
            d_model=24,
            encoder_layers=1,
            decoder_layers=2,
            encoder_attention_heads=2,
            decoder_attention_heads=2,
            encoder_ffn_dim=48,
            decoder_ffn_dim=40,
            activation_function="gelu",
            scale_embedding=False,
            share_encoder_decoder_embeddings=False,
            tie_word_embeddings=False,
            max_position_embeddings=64,
        ),
        generation=dict(
            num_beams=3,
            max_length=40,
            min_length=3,
            length_penalty=0.6,
            early_stopping=True,
            renormalize_logits=True,
        ),
        tokenizer=dict(clean_up_tokenization_spaces=True),
        # No normalisation rules at all (the model has no charsmap), a smaller vocabulary.
        spm=dict(vocab_size=500, normalization_rule_name="identity"),
        # The pre-1.6 PyTorch format (not a zip), next to the safetensors.
        pytorch_bin="legacy",
        generation_in_config_json=True,
        logits_bias=False,
    ),
}


def read_pairs(shared: Path):
    ev = shared / "eval"
    sets = [
        (ev / "tatoeba/tatoeba-test-v2021-08-07.ind", ev / "tatoeba/tatoeba-test-v2021-08-07.eng", 0),
        (ev / "nusax-mt/test.ind", ev / "nusax-mt/test.eng", 0),
        (ev / "tico19/tico19-test.ind", ev / "tico19/tico19-test.eng", 0),
        # The first 500 NTREX lines are the test set: never train on them.
        (ev / "ntrex128/newstest2019-ref.ind.txt", ev / "ntrex128/newstest2019-ref.eng-US.txt", 500),
    ]
    pairs = []
    for src, tgt, skip in sets:
        s = src.read_text(encoding="utf-8").splitlines()
        t = tgt.read_text(encoding="utf-8").splitlines()
        assert len(s) == len(t), (src, len(s), len(t))
        pairs += [(a.strip(), b.strip()) for a, b in zip(s[skip:], t[skip:]) if a.strip() and b.strip()]
    return pairs


def train_spm(lines, vocab_size, normalization_rule_name):
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        vocab_size=vocab_size,
        normalization_rule_name=normalization_rule_name,
        model_type="unigram",
        character_coverage=0.9995,
        num_threads=1,
        seed_sentencepiece_size=100000,
        shuffle_input_sentence=False,
        minloglevel=2,
    )
    return model.getvalue()


def build_vocab(source_spm: bytes, target_spm: bytes):
    """The shared vocabulary of opus-mt repos: </s> 0, <unk> 1, the pieces of both SentencePiece models,
    <pad> last (the pad id is also the decoder start id)."""
    vocab = {"</s>": 0, "<unk>": 1}
    for blob in (source_spm, target_spm):
        sp = spm.SentencePieceProcessor(model_proto=blob)
        for i in range(sp.get_piece_size()):
            if sp.is_control(i) or sp.is_unknown(i):
                continue
            vocab.setdefault(sp.id_to_piece(i), len(vocab))
    vocab["<pad>"] = len(vocab)
    return vocab


def train(model, tok, pairs, steps, lr, batch_size, max_len):
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    rng = random.Random(SEED)
    # Tokenize once; batches are padded slices of these.
    src = tok([a for a, _ in pairs], max_length=max_len, truncation=True).input_ids
    tgt = tok(text_target=[b for _, b in pairs], max_length=max_len, truncation=True).input_ids
    pad = tok.pad_token_id

    def padded(rows, fill):
        width = max(len(r) for r in rows)
        return torch.tensor([r + [fill] * (width - len(r)) for r in rows])

    for step in range(steps):
        idx = rng.sample(range(len(pairs)), batch_size)
        input_ids = padded([src[i] for i in idx], pad)
        labels = padded([tgt[i] for i in idx], -100)
        loss = model(input_ids=input_ids, attention_mask=(input_ids != pad).long(), labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        if step % 100 == 0 or step == steps - 1:
            print(f"  step {step:5d} loss {loss.item():.3f}", flush=True)
    model.eval()


def strip_pad(row, pad):
    row = list(row)
    while row and row[-1] == pad:
        row.pop()
    return row


def generate(model, tok, texts, **kw):
    enc = tok(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**enc, **kw)
    ids = [strip_pad(r.tolist(), model.config.pad_token_id) for r in out]
    return ids, tok.batch_decode(out, skip_special_tokens=True)


def make_variant(name, spec, pairs, out_root: Path, steps):
    src_spm = train_spm([a for a, _ in pairs], **spec["spm"])
    tgt_spm = train_spm([b for _, b in pairs], **spec["spm"])
    vocab = build_vocab(src_spm, tgt_spm)
    print(f"{name}: shared vocabulary of {len(vocab)} entries")
    out = out_root / name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / "source.spm").write_bytes(src_spm)
    (out / "target.spm").write_bytes(tgt_spm)
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False, indent=2), encoding="utf-8")
    tok_config = {"source_lang": "id", "target_lang": "en", **spec["tokenizer"]}
    (out / "tokenizer_config.json").write_text(json.dumps(tok_config, indent=2), encoding="utf-8")
    tok = MarianTokenizer.from_pretrained(str(out))

    pad = vocab["<pad>"]
    config = MarianConfig(
        vocab_size=len(vocab),
        decoder_vocab_size=len(vocab),
        pad_token_id=pad,
        decoder_start_token_id=pad,
        eos_token_id=0,
        forced_eos_token_id=0,
        bos_token_id=0,
        dropout=0.1,
        attention_dropout=0.0,
        activation_dropout=0.0,
        architectures=["MarianMTModel"],
        **spec["config"],
    )
    torch.manual_seed(SEED)
    model = MarianMTModel(config)
    max_len = min(spec["config"]["max_position_embeddings"], 64)
    print(f"{name}: {sum(p.numel() for p in model.parameters())} parameters, training {steps} steps")
    # Short pairs only: a model this small learns them within minutes on a CPU.
    short = [(a, b) for a, b in pairs if len(a) <= 120 and len(b) <= 120]
    train(model, tok, short, steps=steps, lr=5e-3, batch_size=48, max_len=max_len)
    if spec["logits_bias"]:
        # A buffer HF never trains (zero in opus-mt checkpoints); non-zero here so a loader that forgot it
        # would fail the tests.
        g = torch.Generator().manual_seed(SEED)
        model.final_logits_bias.copy_(torch.randn(model.final_logits_bias.shape, generator=g) * 0.5)

    gen = dict(
        bad_words_ids=[[pad]],
        bos_token_id=0,
        decoder_start_token_id=pad,
        eos_token_id=0,
        forced_eos_token_id=0,
        pad_token_id=pad,
        **spec["generation"],
    )
    model.generation_config = GenerationConfig(**gen)
    model.save_pretrained(str(out))  # config.json, generation_config.json, model.safetensors
    if spec["generation_in_config_json"]:
        # Old opus-mt repos carry generation settings in config.json and have no generation_config.json.
        cfg = json.loads((out / "config.json").read_text())
        cfg.update(gen)
        (out / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
        (out / "generation_config.json").unlink()
    if spec["pytorch_bin"]:
        # The layout of older opus-mt repos: a pickled state dict with every tied copy and the position
        # tables; "legacy" is the format PyTorch wrote before 1.6 (sequential pickles, no zip).
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        legacy = spec["pytorch_bin"] == "legacy"
        torch.save(state, out / "pytorch_model.bin", _use_new_zipfile_serialization=not legacy)

    # Record from the files as saved, loaded the way a user would load them.
    tok = MarianTokenizer.from_pretrained(str(out))
    model = MarianMTModel.from_pretrained(str(out)).eval()
    gcfg = model.generation_config
    record = {
        "variant": name,
        "config": spec["config"],
        "generation_config": {k: getattr(gcfg, k) for k in sorted(gen)},
        "tokenize": [{"text": t, "ids": tok(t).input_ids} for t in INPUTS + TOKENIZE_ONLY],
        "translate": [],
        "batch": {},
    }
    for text in INPUTS:
        g_ids, g_txt = generate(model, tok, [text], num_beams=1)
        b_ids, b_txt = generate(model, tok, [text], num_beams=4)
        record["translate"].append(
            {
                "text": text,
                "greedy": {"ids": g_ids[0], "text": g_txt[0]},
                "beam4": {"ids": b_ids[0], "text": b_txt[0]},
            }
        )
    # One padded batch of mixed lengths, in the same order as INPUTS.
    for key, beams in (("greedy", 1), ("beam4", 4)):
        ids, txt = generate(model, tok, INPUTS, num_beams=beams)
        record["batch"][key] = [{"ids": i, "text": t} for i, t in zip(ids, txt)]
        same = sum(r["ids"] == rec[key]["ids"] for r, rec in zip(record["batch"][key], record["translate"]))
        print(f"  {key}: batched == single for {same}/{len(INPUTS)} inputs")
    return record


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[3] / "shared")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "tests/fixtures/marian")
    ap.add_argument("--steps", type=int, default=2000)
    args = ap.parse_args()

    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(1)  # a shared two-core machine: more threads only spin
    torch.use_deterministic_algorithms(True)

    pairs = read_pairs(args.shared)
    print(f"{len(pairs)} training pairs")

    versions = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "sentencepiece": spm.__version__,
        "numpy": np.__version__,
    }
    print("versions:", versions)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, spec in VARIANTS.items():
        record = make_variant(name, spec, pairs, args.out, args.steps)
        record["generated_by"] = {"script": "scripts/marian-fixtures/make_fixtures.py", "versions": versions}
        path = args.out / f"{name}.expected.json"
        path.write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.out / name} and {path}")
    total = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    print(f"fixtures: {total / 1e6:.2f} MB in {args.out}")


if __name__ == "__main__":
    sys.exit(main())

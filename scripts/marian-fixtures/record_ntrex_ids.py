#!/usr/bin/env python3
"""Record the source token ids of every line of NTREX-128's Indonesian side, as the reference tokenizer
(transformers' MarianTokenizer: Python sentencepiece pieces mapped through vocab.json, `</s>` appended)
gives them for the fixture models, so that warta's own SentencePiece + Marian tokenizer can be compared
with it on ~2000 real news sentences (tests/marian_fixtures.rs).

Output, one line per input line: tests/fixtures/marian/tiny-a.ntrex-ids.txt holds the ids separated by
spaces; for tiny-b, whose ids would double the fixture size, tiny-b.ntrex-fnv64.txt holds only the 64-bit
FNV-1a hash (16 hex digits) of that same space-separated line, which the test checks just as strictly
(rerun with `--full tiny-b` to see the ids of a line that differs). Before writing, the script checks
that MarianTokenizer agrees with plain sentencepiece + vocab.json on every line, so the fixture states both.

    /tmp/venv/bin/python scripts/marian-fixtures/record_ntrex_ids.py --shared ../shared
"""

import argparse
import json
import sys
from pathlib import Path

import sentencepiece as spm
from transformers import MarianTokenizer

NTREX = "eval/ntrex128/newstest2019-ref.ind.txt"


def by_hand(sp, vocab, line):
    """sentencepiece pieces → vocab.json ids (unknown pieces → <unk>), </s> appended."""
    unk = vocab["<unk>"]
    return [vocab.get(p, unk) for p in sp.encode(line, out_type=str)] + [vocab["</s>"]]


def fnv1a64(text):
    h = 0xCBF29CE484222325
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def main():
    root = Path(__file__).resolve().parents[2]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=root.parent / "shared")
    ap.add_argument("--fixtures", type=Path, default=root / "tests/fixtures/marian")
    ap.add_argument("--out", type=Path, help="where the id files go (default: --fixtures)")
    ap.add_argument("--full", nargs="*", default=["tiny-a"], help="variants recorded with all ids")
    ap.add_argument("--hashed", nargs="*", default=["tiny-b"], help="variants recorded as line hashes")
    args = ap.parse_args()

    # Lines as Python's splitlines() would cut them would split on U+2028 etc.; the test reads with
    # Rust's lines(), so cut on "\n" only (and drop a trailing "\r" as lines() does).
    text = (args.shared / NTREX).read_text(encoding="utf-8")
    lines = [l[:-1] if l.endswith("\r") else l for l in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    for variant in args.full + args.hashed:
        d = args.fixtures / variant
        tok = MarianTokenizer.from_pretrained(str(d))
        sp = spm.SentencePieceProcessor(model_file=str(d / "source.spm"))
        vocab = json.loads((d / "vocab.json").read_text(encoding="utf-8"))
        rows = []
        for n, line in enumerate(lines, 1):
            ids = tok(line).input_ids
            manual = by_hand(sp, vocab, line)
            if ids != manual:
                sys.exit(f"{variant} line {n}: MarianTokenizer {ids} != sentencepiece+vocab {manual}")
            rows.append(" ".join(map(str, ids)))
        if variant in args.hashed:
            rows = [fnv1a64(r) for r in rows]
            out = (args.out or args.fixtures) / f"{variant}.ntrex-fnv64.txt"
        else:
            out = (args.out or args.fixtures) / f"{variant}.ntrex-ids.txt"
        out.write_text("\n".join(rows) + "\n", encoding="utf-8")
        print(f"{variant}: {len(rows)} lines, {out.stat().st_size / 1e3:.0f} KB -> {out}")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Make the exactness fixtures of `warta eval`, and compare warta with sacreBLEU on whole files.

    pip install 'sacrebleu==2.6.0'            # in a virtual environment; CI does not need it
    python3 scripts/eval-fixtures.py [--shared ../shared]
    python3 scripts/eval-fixtures.py --compare-full target/release/warta [--shared ../shared]

The first form writes small hypothesis/reference pairs to tests/fixtures/eval/ and sacreBLEU's scores for
them to tests/fixtures/eval/expected.json, which the Rust tests check warta against (no Python needed
there). The pairs are cut from every parallel set in ../shared/eval (NTREX-128, TICO-19, Tatoeba,
NusaX-MT; IndoSum as lead paragraph against reference summary), each scored as: the references against
a lightly and a heavily corrupted copy of themselves, and the Indonesian source against the English
references (a bad "system"); plus hand-written edge cases (empty lines, zero matches, Unicode punctuation
and whitespace, numbers, CRLF, HTML entities, short segments). Corruption is seeded: re-running the script
rewrites identical files.

Scores come from sacreBLEU's Python API on lines read exactly as its command line reads them, and every
pair is also run through the `sacrebleu` command line (the commands are recorded in expected.json) to
check that both agree.

The second form runs `warta eval --format json` on every full pair of ../shared/eval (same corruptions,
whole files) and prints the largest difference from sacreBLEU, unrounded and as printed.
"""

import argparse
import json
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time

import sacrebleu
from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.utils import smart_open

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO, "tests", "fixtures", "eval")
SACREBLEU_VERSION = "2.6.0"
CUT_LINES = 30
INDOSUM_RECORDS = 10

# The sacreBLEU command lines equivalent to each metric (REF and HYP are the fixture files).
CLI = {
    "bleu_chrf": "sacrebleu REF -i HYP -m bleu chrf -w 2 -f json",
    "chrf_pp": "sacrebleu REF -i HYP -m chrf --chrf-word-order 2 -w 2 -f json",
}

# (name, source file, reference file) under shared/eval.
PARALLEL = [
    ("ntrex128", "ntrex128/newstest2019-ref.ind.txt", "ntrex128/newstest2019-ref.eng-US.txt"),
    ("tico19", "tico19/tico19-test.ind", "tico19/tico19-test.eng"),
    ("tatoeba", "tatoeba/tatoeba-test-v2021-08-07.ind", "tatoeba/tatoeba-test-v2021-08-07.eng"),
    ("nusax-mt", "nusax-mt/test.ind", "nusax-mt/test.eng"),
]
INDOSUM = "indosum/dev.01.plain.jsonl"

CURLY = [("'", "\u2019"), ('"', "\u201c"), (" - ", " \u2013 "), ("...", "\u2026"), (", ", "\u3001"), (" ", "\u00a0")]


def perturb(line, rng, strength):
    """Corrupt one line the way a weak MT system might: drop, swap, repeat and replace words, change
    case and numbers, use Unicode punctuation, lose a line."""
    if rng.random() < 0.04 * strength:
        return ""
    words = line.split(" ")
    for _ in range(strength):
        if len(words) > 1 and rng.random() < 0.5:
            del words[rng.randrange(len(words))]
        if len(words) > 2 and rng.random() < 0.5:
            i = rng.randrange(len(words) - 1)
            words[i], words[i + 1] = words[i + 1], words[i]
        if words and rng.random() < 0.3:
            i = rng.randrange(len(words))
            words.insert(i, words[i])
        if words and rng.random() < 0.3:
            i = rng.randrange(len(words))
            words[i] = words[i].swapcase()
        if words and rng.random() < 0.2:
            words[rng.randrange(len(words))] = rng.choice(["the", "a", "of", "yang", "di", "COVID-19", "2.5%"])
    line = " ".join(words)
    if rng.random() < 0.3 * strength:
        line = re.sub(r"\d", lambda m: str((int(m.group()) + 1) % 10), line, count=1)
    if rng.random() < 0.25 * strength:
        old, new = rng.choice(CURLY)
        line = line.replace(old, new)
    if rng.random() < 0.1:
        line += rng.choice(["  ", "\t", " \u3000"])
    return line


def read_cli(path):
    """Lines of a file exactly as the sacrebleu command line reads them."""
    return [line.rstrip() for line in smart_open(path)]


def read_plain(path):
    with open(path, encoding="utf-8", newline="\n") as f:
        return [line.rstrip("\n") for line in f]


def evenly(lines, n):
    """n lines spread over the whole file, in order."""
    if len(lines) <= n:
        return list(lines)
    return [lines[(i * len(lines)) // n] for i in range(n)]


def write(path, lines, newline="\n", final=True):
    data = newline.join(lines) + (newline if final and lines else "")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(data)


# Hand-written edge cases: (name, hypothesis lines, reference lines, how to write the hypothesis file).
EDGE_CASES = [
    (
        "edge-empty-lines",
        ["The minister arrived on Monday.", "", "   ", "Prices rose sharply.", ""],
        ["The minister arrived on Monday.", "He said nothing.", "", "Prices rose sharply last week.", "Nothing."],
        {},
    ),
    ("edge-all-empty-hyp", ["", "", ""], ["One sentence here.", "Another one there.", "A third."], {}),
    (
        "edge-zero-matches",
        ["qwerty uiop asdf", "zxcv bnm"],
        ["The cat sat on the mat.", "It rained all day."],
        {},
    ),
    (
        "edge-unicode",
        [
            "\ufeff\u201cWe are ready,\u201d said the minister \u2014 again\u2026",
            "Jakarta\u00a0is\u3000big \u00abvery\u00bb big",
            "Caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u2018quoted\u2019 \U0001f600 emoji",
            "split\u001cby\u001fascii separators and\u2028line separator",
            "zero\u200bwidth space and \u2013 en dash \u2212 minus",
            "\u00bfQu\u00e9? \u00a1S\u00ed! \u300c\u6771\u4eac\u300d",
        ],
        [
            "\u201cWe are ready,\u201d said the minister \u2014 again\u2026",
            "Jakarta is big \u00abvery\u00bb big",
            "Cafe naive resume 'quoted' \U0001f600 emoji",
            "split by ascii separators and line separator",
            "zero width space and - en dash - minus",
            "\u00bfQu\u00e9? \u00a1S\u00ed! \u300c\u6771\u4eac\u300d",
        ],
        {},
    ),
    (
        "edge-numbers",
        [
            "It costs $1,000.50 (about Rp15.000.000,-) today.",
            "Cases rose 2.5% to 3-4 million on 27/11/2026 at 10:30.",
            "COVID-19 killed -5 people in 1998-2001.",
            "The score was 3:1, and 1.000.000 voted.",
            "7 8 9 10 11 12",
        ],
        [
            "It costs $1,000.50 (about Rp 15,000,000) today.",
            "Cases rose 2.5 % to 3 - 4 million on 27 / 11 / 2026 at 10.30.",
            "COVID-19 killed 5 people in 1998 - 2001.",
            "The score was 3-1, and 1,000,000 voted.",
            "7 8 9 10 11 12",
        ],
        {},
    ),
    (
        "edge-crlf",
        ["First line with trailing spaces   ", "Second line\twith a tab\t", "Third, last line without newline"],
        ["First line with trailing spaces", "Second line with a tab", "Third, last line without newline."],
        {"newline": "\r\n", "final": False},
    ),
    (
        "edge-entities",
        ["AT&amp;T said &quot;yes&quot; &lt;b&gt;", "a <skipped> b - c", "R&D &amp;amp; co"],
        ['AT&T said "yes" <b>', "a b - c", "R&D &amp; co"],
        {},
    ),
    ("edge-short", ["Yes.", "No way", "OK", "Thanks!"], ["Yes.", "No way.", "Okay", "Thanks!"], {}),
    (
        "edge-identical",
        ["Indonesia is an archipelago.", "It has over 17,000 islands."],
        ["Indonesia is an archipelago.", "It has over 17,000 islands."],
        {},
    ),
    (
        "edge-brevity",
        ["The president", "spoke"],
        ["The president of Indonesia spoke to reporters in Jakarta on Monday.", "He spoke for an hour."],
        {},
    ),
    ("edge-single-line", ["(hi) there."], ["hi there"], {}),
]


def metrics():
    return BLEU(), CHRF(), CHRF(word_order=2), BLEU(effective_order=True)


def score(hyp_path, ref_path, limit=None):
    """sacreBLEU's corpus and sentence scores for a pair of files."""
    hyps, refs = read_cli(hyp_path), read_cli(ref_path)
    if limit:
        hyps, refs = hyps[:limit], refs[:limit]
    bleu, chrf, chrf_pp, sent_bleu = metrics()
    b, c, cp = bleu.corpus_score(hyps, [refs]), chrf.corpus_score(hyps, [refs]), chrf_pp.corpus_score(hyps, [refs])
    sentences = []
    for i, (h, r) in enumerate(zip(hyps, refs), 1):
        sentences.append([
            sent_bleu.sentence_score(h, [r]).score,
            chrf.sentence_score(h, [r]).score,
            chrf_pp.sentence_score(h, [r]).score,
        ])
    return {
        "lines": len(hyps),
        "bleu": {"score": b.score, "printed": f"{b.score:.2f}", "verbose": b._verbose,
                 "signature": str(bleu.get_signature())},
        "chrf": {"score": c.score, "printed": f"{c.score:.2f}", "signature": str(chrf.get_signature())},
        "chrf_pp": {"score": cp.score, "printed": f"{cp.score:.2f}", "signature": str(chrf_pp.get_signature())},
        "sentence_bleu_signature": str(sent_bleu.get_signature()),
        # One [sentence BLEU, chrF, chrF++] per line.
        "sentences": sentences,
    }


def sacrebleu_cli(hyp_path, ref_path):
    """The scores the sacrebleu command prints for the pair, as (BLEU, chrF2, chrF2++) strings."""
    exe = [sys.executable, "-m", "sacrebleu"]
    out = []
    for key in ("bleu_chrf", "chrf_pp"):
        args = CLI[key].split()[1:]
        args = [ref_path if a == "REF" else hyp_path if a == "HYP" else a for a in args]
        result = json.loads(subprocess.run(exe + args, check=True, capture_output=True, text=True).stdout)
        out += result if isinstance(result, list) else [result]
    return [f"{r['score']:.2f}" for r in out]


def dataset_pairs(shared, cut):
    """(name, source-or-hyp lines, reference lines) for every parallel set; `cut` lines each, or all."""
    pairs = []
    for name, src, ref in PARALLEL:
        src_lines, ref_lines = read_plain(os.path.join(shared, "eval", src)), read_plain(os.path.join(shared, "eval", ref))
        assert len(src_lines) == len(ref_lines), name
        if cut:
            src_lines, ref_lines = evenly(src_lines, cut), evenly(ref_lines, cut)
        pairs.append((name, src_lines, ref_lines))
    with open(os.path.join(shared, "eval", INDOSUM), encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    if cut:
        records = evenly(records, INDOSUM_RECORDS)
    # Lead baseline (first paragraph) as the "system", the reference summary as reference.
    lead = [r["article"].split("\n\n")[0].replace("\n", " ") for r in records]
    summaries = [r["summary"].replace("\n", " ") for r in records]
    pairs.append(("indosum", lead, summaries))
    return pairs


def systems(name, src_lines, ref_lines):
    """The hypotheses scored for one set: (case suffix, lines)."""
    rng = random.Random(f"warta-eval-{name}")
    out = [
        ("light", [perturb(line, rng, 1) for line in ref_lines]),
        ("heavy", [perturb(line, rng, 3) for line in ref_lines]),
    ]
    if name == "indosum":
        out.append(("lead", src_lines))
    else:
        out.append(("src", src_lines))
    return out


def make_fixtures(shared):
    os.makedirs(FIXTURES, exist_ok=True)
    cases = []
    for name, src_lines, ref_lines in dataset_pairs(shared, CUT_LINES):
        ref_file = f"{name}.ref"
        write(os.path.join(FIXTURES, ref_file), ref_lines)
        for suffix, hyp_lines in systems(name, src_lines, ref_lines):
            hyp_file = f"{name}.{suffix}.hyp"
            write(os.path.join(FIXTURES, hyp_file), hyp_lines)
            cases.append({"name": f"{name}.{suffix}", "hyp": hyp_file, "ref": ref_file})
    for name, hyp_lines, ref_lines, how in EDGE_CASES:
        write(os.path.join(FIXTURES, f"{name}.hyp"), hyp_lines, **how)
        write(os.path.join(FIXTURES, f"{name}.ref"), ref_lines)
        cases.append({"name": name, "hyp": f"{name}.hyp", "ref": f"{name}.ref"})
    # --limit: the first 10 lines of a longer pair.
    cases.append({"name": "ntrex128.light.limit10", "hyp": "ntrex128.light.hyp", "ref": "ntrex128.ref", "limit": 10})

    for case in cases:
        hyp, ref = os.path.join(FIXTURES, case["hyp"]), os.path.join(FIXTURES, case["ref"])
        case.update(score(hyp, ref, case.get("limit")))
        if "limit" not in case:
            printed = [case[m]["printed"] for m in ("bleu", "chrf", "chrf_pp")]
            cli = sacrebleu_cli(hyp, ref)
            assert cli == printed, f"{case['name']}: sacrebleu command {cli} != API {printed}"
    expected = {
        "generated_by": "python3 scripts/eval-fixtures.py",
        "sacrebleu_version": sacrebleu.__version__,
        "python": platform.python_version(),
        "api": "BLEU().corpus_score, CHRF().corpus_score, CHRF(word_order=2).corpus_score; sentences: "
               "BLEU(effective_order=True).sentence_score, CHRF().sentence_score, CHRF(word_order=2).sentence_score",
        "commands": CLI,
        "note": "files are read as the sacrebleu command reads them (UTF-8, newline='\\n', rstrip()); "
                "'printed' is f'{score:.2f}', what `sacrebleu -w 2` prints; scores of cases without "
                "'limit' were checked against those commands",
        "cases": cases,
    }
    with open(os.path.join(FIXTURES, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(FIXTURES, ".gitattributes"), "w") as f:
        f.write("# Keep fixture bytes exact (CRLF, no final newline, BOM).\n* -text\n")
    print(f"wrote {len(cases)} cases to {os.path.relpath(FIXTURES, REPO)}")


def compare_full(shared, warta):
    """Run warta on every whole pair and report the largest difference from sacreBLEU."""
    worst = {"bleu": (0.0, ""), "chrf": (0.0, ""), "chrf_pp": (0.0, "")}
    mismatched_printed = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, src_lines, ref_lines in dataset_pairs(shared, None):
            ref = os.path.join(tmp, f"{name}.ref")
            write(ref, ref_lines)
            for suffix, hyp_lines in systems(name, src_lines, ref_lines):
                hyp = os.path.join(tmp, f"{name}.{suffix}.hyp")
                write(hyp, hyp_lines)
                expected = score(hyp, ref)
                t = time.time()
                out = subprocess.run([warta, "eval", "--hyp", hyp, "--ref", ref, "--format", "json"],
                                     check=True, capture_output=True, text=True).stdout
                got = json.loads(out)
                unrounded = {"bleu": got["details"]["bleu"]["score"], "chrf": got["details"]["chrf"],
                             "chrf_pp": got["details"]["chrf_pp"]}
                for m in worst:
                    diff = abs(unrounded[m] - expected[m]["score"])
                    if diff >= worst[m][0]:
                        worst[m] = (diff, f"{name}.{suffix}")
                    if f"{got[m]:.2f}" != expected[m]["printed"]:
                        mismatched_printed.append((f"{name}.{suffix}", m, got[m], expected[m]["printed"]))
                print(f"{name}.{suffix}: {expected['lines']} lines, BLEU {expected['bleu']['printed']} "
                      f"chrF {expected['chrf']['printed']} chrF++ {expected['chrf_pp']['printed']} "
                      f"(warta {got['bleu']:.2f} {got['chrf']:.2f} {got['chrf_pp']:.2f}, {time.time() - t:.2f} s)")
    for m, (diff, where) in worst.items():
        print(f"largest |warta - sacreBLEU| for {m}: {diff:.3g} ({where})")
    print(f"printed (2-decimal) scores that differ: {len(mismatched_printed)} {mismatched_printed}")
    return 1 if mismatched_printed or any(d > 0.01 for d, _ in worst.values()) else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", default=os.path.join(REPO, "..", "shared"), help="the shared data folder")
    parser.add_argument("--compare-full", metavar="WARTA", help="warta binary to compare on whole files")
    args = parser.parse_args()
    if sacrebleu.__version__ != SACREBLEU_VERSION:
        sys.exit(f"sacreBLEU {SACREBLEU_VERSION} is required (found {sacrebleu.__version__}): "
                 f"pip install 'sacrebleu=={SACREBLEU_VERSION}'")
    if not os.path.isdir(os.path.join(args.shared, "eval")):
        sys.exit(f"{args.shared}/eval not found; pass --shared")
    started = time.time()
    status = compare_full(args.shared, args.compare_full) if args.compare_full else make_fixtures(args.shared)
    print(f"took {time.time() - started:.1f} s")
    sys.exit(status or 0)


if __name__ == "__main__":
    main()

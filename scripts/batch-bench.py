#!/usr/bin/env python3
"""Measure `warta batch` over a large generated archive: files per minute and peak memory.

Generates an archive of N distinct articles (Indonesian text and HTML in nested folders, made from the
article fixtures in ../shared with every sentence varied so that no two files, and no two sentences in
one engine call, are the same), runs `warta batch` on it under /usr/bin/time -v, and prints one JSON line
with the figures, the load average before the run and the machine.

    cargo build --release
    python3 scripts/batch-bench.py --files 100 10000 -- --beams 1   # as measured for the README

With the small fixture models the figure measures warta's batch pipeline (walk, read, hash, clean,
pooling, writing, manifest) plus a tiny model: it is an upper bound on the overhead, not the speed of a
real opus-mt model. Pass --model Helsinki-NLP/opus-mt-id-en (cached) for real translation speed.
Anything after `--` goes to `warta batch` (e.g. -- --beams 1 --format markdown).
"""

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SITES = ["kompas", "detik", "antara", "tempo", "liputan6", "republika", "okezone", "suara"]


def source_articles(shared: Path) -> list[list[str]]:
    """Cleaned article bodies (lists of paragraphs) to vary."""
    files = sorted((shared / "fixtures/articles/expected").glob("*.txt"))
    files += sorted((shared / "fixtures/articles/text").glob("*.txt"))
    files.append(ROOT / "examples/kompas-nato.txt")
    articles = []
    for f in files:
        paras = [p.strip() for p in f.read_text(encoding="utf-8").split("\n\n") if p.strip()]
        if len(paras) >= 3:
            articles.append(paras)
    if not articles:
        sys.exit(f"no article fixtures found under {shared}")
    return articles


def vary(text: str, rng: random.Random, vocabulary: list[str]) -> str:
    """Replace one word of every sentence with a random corpus word (defeats de-duplication)."""
    out = []
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        words = sentence.split(" ")
        if len(words) > 3:
            words[rng.randrange(1, len(words) - 1)] = rng.choice(vocabulary)
        out.append(" ".join(words))
    return " ".join(out)


def generate(dest: Path, count: int, shared: Path, seed: int = 7) -> None:
    articles = source_articles(shared)
    vocabulary = sorted({w for a in articles for p in a for w in p.split() if w.isalpha()})
    rng = random.Random(seed)
    for i in range(count):
        paras = [vary(p, rng, vocabulary) for p in rng.choice(articles)]
        title, body = paras[0], paras[1:]
        site = SITES[i % len(SITES)]
        folder = dest / site / f"{2015 + i % 9}" / f"{1 + i % 12:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        if i % 3 == 0:
            html = "".join(f"<p>{p}</p>\n" for p in body)
            (folder / f"{site}-{i:06d}.html").write_text(
                f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
                f"<body><nav>Beranda | Berita | Olahraga</nav><article><h1>{title}</h1>\n{html}"
                f"</article><footer>Hak cipta {site}</footer></body></html>\n",
                encoding="utf-8",
            )
        else:
            (folder / f"{site}-{i:06d}.txt").write_text(
                title + "\n\n" + "\n\n".join(body) + "\n", encoding="utf-8"
            )


def lscpu() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    fields = dict(
        (k.strip(), v.strip()) for k, v in (l.split(":", 1) for l in out.splitlines() if ":" in l)
    )
    return f"{fields.get('Model name', '?')}, {fields.get('CPU(s)', '?')} CPUs"


def measure(warta: Path, archive: Path, out: Path, count: int, extra: list[str]) -> dict:
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    cmd = ["/usr/bin/time", "-v", str(warta), "batch", str(archive), "-o", str(out), "-q", *extra]
    started = time.monotonic()
    run = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - started
    stats = dict(
        (k.strip(), v.strip())
        for k, v in (l.rsplit(": ", 1) for l in run.stderr.splitlines() if ": " in l)
    )
    lines = (out / "manifest.jsonl").read_text().splitlines()
    statuses = [json.loads(l)["status"] for l in lines]
    return {
        "files": count,
        "exit": run.returncode,
        "ok": statuses.count("ok"),
        "failed": statuses.count("failed"),
        "wall_s": round(wall, 2),
        "files_per_min": round(count / wall * 60, 1),
        "peak_rss_mib": round(int(stats.get("Maximum resident set size (kbytes)", "0")) / 1024, 1),
        "loadavg_before": " ".join(load_before),
        "machine": lscpu(),
        "command": " ".join(cmd[2:]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--files", type=int, nargs="+", default=[100, 10000])
    ap.add_argument("--model", default="tests/fixtures/marian/tiny-a")
    ap.add_argument("--warta", type=Path, default=ROOT / "target/release/warta")
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--keep", type=Path, help="generate and keep the archives here")
    ap.add_argument("extra", nargs="*", help="more `warta batch` options (after --)")
    args = ap.parse_args()
    if not args.warta.is_file():
        sys.exit(f"{args.warta} not found; run `cargo build --release` first")
    work = args.keep or Path(tempfile.mkdtemp(prefix="warta-batch-bench-"))
    try:
        for n in args.files:
            archive, out = work / f"archive-{n}", work / f"out-{n}"
            shutil.rmtree(out, ignore_errors=True)
            if not archive.is_dir():
                generate(archive, n, args.shared)
            extra = ["--model", args.model, "--summarizer", "extractive", *args.extra]
            print(json.dumps(measure(args.warta, archive, out, n, extra)), flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

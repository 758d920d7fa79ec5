#!/usr/bin/env python3
"""Measure warta's translation quality and speed on this machine and write docs/quality.md.

    python3 scripts/quality-report.py ENGINE=MODEL[@ntrex=N,tico=M] [ENGINE=MODEL ...] [options]

ENGINE is `marian` (MODEL: a Hub repo id or a local model directory) or `llm` (MODEL: a local .gguf
path or REPO/FILE.gguf); `@ntrex=N,tico=M` sets that engine's line limits. Example, with the models available on the development machines:

    python3 scripts/quality-report.py \\
        llm=/work/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf \\
        llm=/work/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf \\
        marian=path/to/opus-mt-id-en

For every engine it runs `warta eval --src … --ref … --format json` (release build) on the first 500
lines of NTREX-128 and on TICO-19 from ../shared/eval, keeps the translations and the JSON reports under
target/quality/, and writes docs/quality.md: BLEU, chrF and chrF++ (sacreBLEU 2.x defaults, computed by
warta exactly as sacreBLEU does), sentences and target tokens per second, the machine (CPU model,
cores, threads used), and the published anchors from ../shared/docs/anchors.md, marked as published
and not measured here. Only the Python standard library is needed.

A run that fails stops the script before anything is written, unless --keep-going, in which case the
failure is reported in the table. Nothing is invented: a figure in docs/quality.md is one warta measured.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (name, source, reference, default line limit or None for all) under shared/eval.
TEST_SETS = [
    ("NTREX-128", "ntrex128/newstest2019-ref.ind.txt", "ntrex128/newstest2019-ref.eng-US.txt", 500),
    ("TICO-19", "tico19/tico19-test.ind", "tico19/tico19-test.eng", None),
]


class RunFailed(Exception):
    """A `warta eval` run that exited with an error (the message is warta's last line on stderr)."""


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, **kw)


def machine(threads):
    """What the figures were measured on."""
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        if names:
            cpu = names[0]
    except OSError:
        pass
    flags, cores = "", None
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
        found = [flag for flag in ("avx2", "avx512f", "fma", "f16c") if re.search(rf"\b{flag}\b", text)]
        flags = ", ".join(found)
        # Physical cores: distinct (physical id, core id) pairs.
        pairs = set(re.findall(r"physical id\s*:\s*(\d+)[\s\S]*?core id\s*:\s*(\d+)", text))
        cores = len(pairs) or None
    except OSError:
        pass
    memory = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
        memory = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True)
    return {
        "cpu": cpu,
        "cpu_flags": flags,
        "logical_cpus": os.cpu_count(),
        "cores": cores,
        "threads": threads,
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "warta_commit": (commit.stdout.strip() or "unknown") + (" (with uncommitted changes)" if dirty.stdout.strip() else ""),
        "rustc": rustc.stdout.strip(),
        "date": datetime.date.today().isoformat(),
    }


def parse_engine(spec):
    """`KIND=MODEL[@ntrex=N,tico=M]`: the engine, and line limits that replace --ntrex-lines/--tico-lines
    for it (a slow model can be measured on fewer lines without shortening the others' runs)."""
    kind, sep, rest = spec.partition("=")
    model, _, limits = rest.partition("@")
    if not sep or kind not in ("marian", "llm") or not model:
        sys.exit(f"engine {spec!r}: expected marian=MODEL or llm=MODEL, optionally followed by @ntrex=N,tico=M")
    own = {}
    for item in filter(None, limits.split(",")):
        key, _, value = item.partition("=")
        names = {"ntrex": "NTREX-128", "tico": "TICO-19"}
        if key not in names or not value.isdigit() or int(value) == 0:
            sys.exit(f"engine {spec!r}: {item!r} is not ntrex=N or tico=N with N > 0")
        own[names[key]] = int(value)
    return kind, model, own


def evaluate(warta, kind, model, src, ref, limit, threads, extra, outdir, label):
    """One `warta eval --src` run; returns its JSON report (or raises CalledProcessError)."""
    stem = os.path.join(outdir, label)
    cmd = [warta, "eval", "--src", src, "--ref", ref, "--translator", kind,
           "--model" if kind == "marian" else "--llm", model, "--threads", str(threads),
           "--format", "json", "--save-hyp", stem + ".hyp"] + extra
    if limit:
        cmd += ["--limit", str(limit)]
    print("+ " + shlex.join(cmd), file=sys.stderr, flush=True)
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1].removeprefix("warta: ")
        raise RunFailed(last)
    out = done.stdout
    with open(stem + ".json", "w", encoding="utf-8") as f:
        f.write(out)
    report = json.loads(out)
    # Paths relative to the repository, so the recorded command can be re-run from any clone.
    files = {src, ref, stem + ".hyp"}
    report["command"] = shlex.join(["warta"] + [os.path.relpath(a, REPO) if a in files else a for a in cmd[1:]])
    return report


def anchors(shared):
    """The published tables of anchors.md, verbatim, by section title."""
    path = os.path.join(shared, "docs", "anchors.md")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    sections = {}
    for block in re.split(r"^## ", text, flags=re.M)[1:]:
        title, _, body = block.partition("\n")
        # Only the section's own table and notes, not its ### subsections (those are other measurements).
        body = body.split("\n### ")[0]
        sections[title.strip()] = body.strip()
    return sections


def separate_tables(text):
    """Put a blank line after each table, so that a note right below it is not read as a table row."""
    out = []
    for line in text.splitlines():
        if out and out[-1].startswith("|") and line.strip() and not line.startswith("|"):
            out.append("")
        out.append(line)
    return "\n".join(out)


def fmt(x, digits=2):
    return "–" if x is None else f"{x:.{digits}f}"


def write_report(path, results, info, shared, argv, binary, note=""):
    lines = [
        "# Translation quality and speed",
        "",
        "Generated by `scripts/quality-report.py`; re-run it to refresh these figures:",
        "",
        "```sh",
        "python3 scripts/quality-report.py " + " ".join(shlex.quote(a) for a in argv),
        "```",
        "",
        "## Measured here",
        "",
        f"Machine: {info['cpu']} ({info['cpu_flags'] or 'no SIMD flags found'}), "
        f"{info['cores'] or 'unknown'} cores / {info['logical_cpus']} logical CPUs, "
        f"{info['memory']} memory, {info['os']}; warta used **{info['threads']} threads**. "
        f"warta {info['warta_commit']}, {binary}, {info['rustc']}, measured {info['date']}.",
        "",
    ]
    if note:
        lines += [f"Conditions: {note}", ""]
    lines += [
        "Scores: BLEU, chrF and chrF++ with sacreBLEU 2.x defaults (13a tokenisation, one reference, detokenised "
        "output), computed by `warta eval`, which reproduces sacreBLEU exactly (see `tests/fixtures/eval/`). "
        "Speed: translated lines and target tokens (counted with the 13a tokenizer) per second of translation, "
        "model loading excluded; `load s` is the loading time.",
        "",
        "| engine | model | test set | lines | BLEU | chrF | chrF++ | sentences/s | target tokens/s | load s | total s |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if "error" in r:
            cells = [r["engine"], f"`{r['model']}`", r["set"], "–", f"not measured: {r['error']}"] + [""] * 6
            lines.append("| " + " | ".join(cells) + " |")
            continue
        rep, t = r["report"], r["report"]["timings"]
        lines.append(
            f"| {r['engine']} | `{r['model']}` | {r['set']} | {rep['lines']} | {fmt(rep['bleu'])} | {fmt(rep['chrf'])} | "
            f"{fmt(rep['chrf_pp'])} | {fmt(t['sentences_per_s'])} | {fmt(t['tokens_per_s'], 1)} | {fmt(t['load_s'], 1)} | "
            f"{fmt(t['total_s'], 1)} |"
        )
    measured = [r for r in results if "report" in r]
    if measured:
        sig = measured[0]["report"]["signature"]
        lines += [
            "",
            "Signatures: BLEU `" + sig["bleu"] + "`, chrF2 `" + sig["chrf"] + "`, chrF2++ `" + sig["chrf_pp"] + "`.",
            "",
            "Commands (translations and JSON reports were kept under `target/quality/`):",
            "",
        ]
        lines += [f"- `{r['report']['command']}`" for r in measured]
    sections = anchors(shared)
    lines += [
        "",
        "## Published figures (not measured here)",
        "",
        "Copied from `shared/docs/anchors.md` for orientation. They were **published by others, on other test "
        "sets and machines**: FLORES devtest is not NTREX-128 or TICO-19, so compare orders of magnitude, not "
        "decimals.",
        "",
    ]
    for title in sections:
        if title.startswith("Indonesian→English translation quality") or title.startswith("CPU translation speed"):
            lines += [f"### {title} (published)", "", separate_tables(sections[title]), ""]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines).rstrip() + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("engines", nargs="+", metavar="ENGINE=MODEL")
    parser.add_argument("--shared", default=os.path.join(REPO, "..", "shared"), help="shared data folder (default ../shared)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for warta (default: all)")
    parser.add_argument("--ntrex-lines", type=int, default=500, help="NTREX-128 lines to translate (default 500)")
    parser.add_argument("--tico-lines", type=int, default=None, help="TICO-19 lines to translate (default all 2100)")
    parser.add_argument("--warta-args", default="", help="extra options for every `warta eval`, e.g. '--beams 4'")
    parser.add_argument("--warta", help="use this warta binary instead of building target/release/warta")
    parser.add_argument("--out", default=os.path.join(REPO, "docs", "quality.md"))
    parser.add_argument("--note", default="", help="a sentence about the conditions (e.g. other jobs running), printed under the machine")
    parser.add_argument("--keep-going", action="store_true", help="report failed runs instead of stopping")
    args = parser.parse_args()

    engines = [parse_engine(e) for e in args.engines]
    if not os.path.isdir(os.path.join(args.shared, "eval")):
        sys.exit(f"{args.shared}/eval not found; pass --shared")
    warta = args.warta
    if not warta:
        run(["cargo", "build", "--release", "--quiet"], cwd=REPO)
        warta = os.path.join(REPO, "target", "release", "warta")
    outdir = os.path.join(REPO, "target", "quality")
    os.makedirs(outdir, exist_ok=True)
    limits = {"NTREX-128": args.ntrex_lines, "TICO-19": args.tico_lines}

    results = []
    for kind, model, own in engines:
        for name, src, ref, _ in TEST_SETS:
            label = re.sub(r"[^A-Za-z0-9.-]+", "_", f"{kind}-{os.path.basename(model.rstrip('/'))}-{name}")
            entry = {"engine": kind, "model": model, "set": name}
            try:
                entry["report"] = evaluate(
                    warta, kind, model, os.path.join(args.shared, "eval", src), os.path.join(args.shared, "eval", ref),
                    own.get(name, limits[name]), args.threads, shlex.split(args.warta_args), outdir, label)
            except RunFailed as e:
                if not args.keep_going:
                    sys.exit(f"{kind}={model} on {name} failed: {e}; nothing written")
                entry["error"] = str(e).replace("|", "\\|")
            results.append(entry)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    binary = f"binary {args.warta}" if args.warta else "release build"
    write_report(args.out, results, machine(args.threads), args.shared, sys.argv[1:], binary, args.note)
    print(f"wrote {os.path.relpath(args.out, REPO)}", file=sys.stderr)


if __name__ == "__main__":
    main()

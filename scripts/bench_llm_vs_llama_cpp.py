#!/usr/bin/env python3
"""warta's LLM engine against llama.cpp, side by side in one run, on the same GGUFs and prompt.

    python3 scripts/bench_llm_vs_llama_cpp.py MODEL.gguf [MODEL.gguf ...] --runs 3 --threads 2

For each model it alternates `warta bench --engine llm` and one llama.cpp pass over the same
rendered prompt (scripts/bench_llama_cpp.py in the llama.cpp venv), `--runs` times, and prints a
table of mean prefill and generation tokens/s with the ratio warta/llama.cpp (and its range over
the alternating pairs), the CPU named, threads and load average. It checks that the greedy tokens
are the same; where they part, llama.cpp's logits at that position give the margin between its
choice and warta's (a near-tie is a change of float summation order, not a bug).

With --summarize ARTICLE it also times `warta summarize ARTICLE --llm MODEL` (every LLM call of the
summary pipeline, from `timings.llm_calls` of its JSON) against one llama.cpp pass over the
benchmark prompt (the same article) generating as many tokens as the summary call did.

The llama.cpp peer is llama-cpp-python in a venv (--venv, default /work/venv-llama); with --build
it is installed there first, built for this CPU's features with GGML_NATIVE off (its AMX repacking
crashes in some virtual machines) and AMX off.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def cpu_name():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def cpu_flags():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def cmake_args():
    """llama.cpp's CPU options for this machine's features, without AMX."""
    flags = cpu_flags()
    on = lambda f: "ON" if f else "OFF"
    opts = {
        "GGML_NATIVE": "OFF",
        "GGML_AVX": on("avx" in flags),
        "GGML_AVX2": on("avx2" in flags),
        "GGML_FMA": on("fma" in flags),
        "GGML_F16C": on("f16c" in flags),
        "GGML_AVX512": on("avx512f" in flags and "avx512bw" in flags),
        "GGML_AVX512_VNNI": on("avx512_vnni" in flags),
        "GGML_AVX512_BF16": on("avx512_bf16" in flags),
        "GGML_AVX_VNNI": on("avx_vnni" in flags),
        "GGML_AMX_TILE": "OFF",
        "GGML_AMX_INT8": "OFF",
        "GGML_AMX_BF16": "OFF",
    }
    return " ".join("-D%s=%s" % kv for kv in opts.items())


def build_peer(venv):
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    env = dict(os.environ, CMAKE_ARGS=cmake_args(), CMAKE_BUILD_PARALLEL_LEVEL=str(os.cpu_count()))
    subprocess.run([py, "-m", "pip", "install", "-q", "numpy", "llama-cpp-python==0.3.36"],
                   check=True, env=env)


def warta_bench(warta, model, threads, out):
    subprocess.run([warta, "bench", "--engine", "llm", "--llm", model, "--threads", str(threads),
                    "--format", "json", "-o", out], check=True, stdout=subprocess.DEVNULL)
    with open(out, encoding="utf-8") as f:
        return json.load(f)


def llama_pass(py, model, warta_json, threads, extra=()):
    out = subprocess.run([py, os.path.join(HERE, "bench_llama_cpp.py"), model, warta_json,
                          "--threads", str(threads), *extra],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def mean(xs):
    return statistics.fmean(xs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warta", default=os.path.join(ROOT, "target", "release", "warta"))
    ap.add_argument("--venv", default="/work/venv-llama")
    ap.add_argument("--build", action="store_true", help="install llama-cpp-python into --venv first")
    ap.add_argument("--summarize", metavar="ARTICLE", help="also time warta summarize on it")
    ap.add_argument("--json", metavar="FILE", help="write every measurement here")
    args = ap.parse_args()
    if args.build:
        build_peer(args.venv)
    py = os.path.join(args.venv, "bin", "python")
    tmp = tempfile.mkdtemp(prefix="warta-bench-")
    everything = {"cpu": cpu_name(), "threads": args.threads, "models": {}}
    print("CPU: %s; %d threads; load average at start %s" % (cpu_name(), args.threads, load_average()))
    rows = []
    for model in args.models:
        name = os.path.basename(model)
        pairs = []
        for run in range(args.runs):
            wj = os.path.join(tmp, "warta-%d.json" % run)
            w = warta_bench(args.warta, model, args.threads, wj)
            l = llama_pass(py, model, wj, args.threads, ["--margin"])
            pairs.append((w, l))
            print("  %s run %d: warta prefill %.1f gen %.1f | llama.cpp prefill %.1f gen %.1f | "
                  "load %s" % (name, run + 1, w["prefill_tokens_per_second"],
                               w["generation_tokens_per_second"], l["prefill_tokens_per_second"],
                               l["generation_tokens_per_second"], l["load_average"]), flush=True)
        w0, l0 = pairs[-1]
        rows.append((name, pairs))
        everything["models"][name] = {
            "kernels": w0.get("kernels"),
            "runs": [{"warta": {k: v for k, v in w.items() if k != "prompt"}, "llama_cpp": l}
                     for w, l in pairs],
        }
    print()
    print("| model | engine | prefill tok/s | generation tok/s |")
    print("|---|---|---:|---:|")
    for name, pairs in rows:
        wp = [w["prefill_tokens_per_second"] for w, _ in pairs]
        wg = [w["generation_tokens_per_second"] for w, _ in pairs]
        lp = [l["prefill_tokens_per_second"] for _, l in pairs]
        lg = [l["generation_tokens_per_second"] for _, l in pairs]
        rp = [a / b for a, b in zip(wp, lp)]
        rg = [a / b for a, b in zip(wg, lg)]
        print("| %s | llama.cpp | %.1f | %.1f |" % (name, mean(lp), mean(lg)))
        print("| | warta (%s) | %.1f (%.2fx; %.2f-%.2f) | %.1f (%.2fx; %.2f-%.2f) |" % (
            pairs[0][0].get("kernels", "?"), mean(wp), mean(wp) / mean(lp), min(rp), max(rp),
            mean(wg), mean(wg) / mean(lg), min(rg), max(rg)))
    print()
    for name, pairs in rows:
        w, l = pairs[-1]
        same = l.get("same_tokens_as_warta")
        if same:
            print("%s: the %d greedy tokens are identical." % (name, len(w["tokens"])))
        else:
            d = l.get("divergence") or {}
            print("%s: the greedy tokens part at token %s: llama.cpp %r (logit %.3f) against warta %r "
                  "(llama.cpp's logit %.3f): a margin of %.3f" % (
                      name, d.get("index"), d.get("llama_cpp_token"), d.get("llama_cpp_logit", 0),
                      d.get("warta_token"), d.get("warta_token_logit", 0), d.get("margin", 0)))
    if args.summarize:
        print()
        print("| model | warta summarize s | LLM calls: prompt tokens (reused) / generated | "
              "one llama.cpp pass s | ratio |")
        print("|---|---:|---|---:|---:|")
        for model in args.models:
            name = os.path.basename(model)
            sj = os.path.join(tmp, "summary.json")
            t0 = time.perf_counter()
            subprocess.run([args.warta, "summarize", args.summarize, "--llm", model, "--threads",
                            str(args.threads), "--format", "json", "-o", sj], check=True,
                           stdout=subprocess.DEVNULL)
            wall = time.perf_counter() - t0
            with open(sj, encoding="utf-8") as f:
                doc = json.load(f)
            calls = doc.get("timings", {}).get("llm_calls", [])
            gen = calls[-1]["generated_tokens"] if calls else 64
            wj = os.path.join(tmp, "warta-0.json")
            warta_bench(args.warta, model, args.threads, wj)
            l = llama_pass(py, model, wj, args.threads, ["--generate", str(max(gen, 1))])
            one = l["prompt_tokens"] / l["prefill_tokens_per_second"] + \
                max(gen - 1, 0) / l["generation_tokens_per_second"]
            shown = ", ".join("%d (%d) / %d" % (c["prompt_tokens"], c["reused_tokens"],
                                                c["generated_tokens"]) for c in calls)
            print("| %s | %.1f | %s | %.1f | %.2fx |" % (name, wall, shown, one, wall / one))
            everything["models"].setdefault(name, {})["summarize"] = {
                "wall_s": wall, "timings": doc.get("timings"), "llama_cpp_one_pass_s": one,
                "summary": doc.get("summary"), "llama_cpp": l}
            print("  summary: %s" % doc.get("summary"))
    print()
    print("load average at end %s" % load_average())
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(everything, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()

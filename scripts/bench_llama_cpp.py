#!/usr/bin/env python3
"""llama.cpp's speed on warta's benchmark prompt, for the ratio `warta bench --engine llm` reports.

    warta bench --engine llm --llm MODEL.gguf --threads 2 --format json -o warta.json
    .venv/bin/python scripts/bench_llama_cpp.py MODEL.gguf warta.json --threads 2

Reads the rendered prompt from warta's JSON report, tokenizes it with llama.cpp (special tokens
parsed, no BOS: the template writes any BOS itself), prefills it in one batch, then generates the
same number of tokens greedily one at a time (end of turn does not stop it), and prints prefill and
generation tokens/s measured the same way as warta: prompt tokens / prefill time, and decoding
steps after the first token / their time, both per second of wall clock and per second of the
process's CPU time (with --threads 1 the fair comparison on a machine shared with other work).

--generate N generates N tokens instead of warta's count. --margin compares the greedy token ids
with warta's (`tokens` of its report) and, where they part, evaluates the common prefix again to
report llama.cpp's logits for its own choice and for warta's there (the margin of a near-tie).
scripts/bench_llm_vs_llama_cpp.py runs both engines alternately. Needs: pip install
llama-cpp-python numpy
"""
import argparse
import json
import time

import numpy as np
from llama_cpp import Llama, __version__


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("warta_json")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--generate", type=int, help="tokens to generate (default: as many as warta)")
    ap.add_argument("--margin", action="store_true", help="compare token ids with warta's")
    args = ap.parse_args()
    with open(args.warta_json, encoding="utf-8") as f:
        report = json.load(f)
    prompt, n_gen = report["prompt"], args.generate or report["generated_tokens"]

    llm = Llama(
        model_path=args.model,
        n_ctx=4096,
        n_batch=2048,
        n_ubatch=512,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        verbose=False,
    )
    ids = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
    n_vocab = llm.n_vocab()

    def greedy():
        # Logits of the last evaluated token (llama-cpp-python keeps no copy unless logits_all).
        return int(np.argmax(np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(n_vocab,))))

    for run in range(args.runs):
        llm.reset()
        t0, c0 = time.perf_counter(), time.process_time()
        llm.eval(ids)
        prefill, prefill_cpu = time.perf_counter() - t0, time.process_time() - c0
        out = []
        tok = greedy()
        out.append(tok)
        t1, c1 = time.perf_counter(), time.process_time()
        while len(out) < n_gen:
            llm.eval([tok])
            tok = greedy()
            out.append(tok)
        gen, gen_cpu = time.perf_counter() - t1, time.process_time() - c1
        result = {
            "engine": "llama-cpp-python %s" % __version__,
            "threads": args.threads,
            "prompt_tokens": len(ids),
            "warta_prompt_tokens": report["prompt_tokens"],
            "prefill_tokens_per_second": len(ids) / prefill,
            "generated_tokens": len(out),
            "generation_tokens_per_second": (len(out) - 1) / gen,
            "prefill_tokens_per_cpu_second": len(ids) / prefill_cpu,
            "generation_tokens_per_cpu_second": (len(out) - 1) / gen_cpu,
            "load_average": " ".join(open("/proc/loadavg").read().split()[:3]),
            "text": llm.detokenize(out).decode("utf-8", "replace"),
        }
        result["same_text_as_warta"] = result["text"].strip() == report["text"].strip()
        theirs = report.get("tokens")
        if args.margin and theirs is not None:
            result["same_tokens_as_warta"] = out == theirs
            at = next((i for i, (a, b) in enumerate(zip(out, theirs)) if a != b), None)
            if at is not None:
                llm.reset()
                llm.eval(ids + out[:at])
                logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(n_vocab,))
                mine, other = out[at], theirs[at]
                result["divergence"] = {
                    "index": at,
                    "llama_cpp_token": llm.detokenize([mine]).decode("utf-8", "replace"),
                    "warta_token": llm.detokenize([other]).decode("utf-8", "replace"),
                    "llama_cpp_logit": float(logits[mine]),
                    "warta_token_logit": float(logits[other]),
                    "margin": float(logits[mine] - logits[other]),
                }
        print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()

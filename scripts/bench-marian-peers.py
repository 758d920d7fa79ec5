#!/usr/bin/env python3
"""warta's Marian engine against its peers, side by side in one run on this machine.

Builds a model of the real Helsinki-NLP/opus-mt-id-en shape (d_model 512, 6+6 layers, 8 heads, FFN
2048, vocabulary 54,796, swish) with random weights drawn like `warta bench --engine marian` draws them
(normal, σ 0.05; layer-norm weights 1; the pad row zero), saves it once as a transformers model
directory, converts that for CTranslate2 (float32 and int8), and then runs, alternating in rounds:

- transformers (PyTorch) `generate`,
- CTranslate2 `translate_batch`, fp32 and int8,
- `warta bench --engine marian --model DIR --dtype f32|f16|int8` (the same weights),

each on 32 source tokens → 40 target tokens (no early `</s>`), batch 1 / 8 / 32 greedy and batch 8 with
4 beams, 2 threads. Prints one table of target tokens per second with each system's ratio to
CTranslate2 fp32 (and warta int8 to CTranslate2 int8), the CPU's name and flags, the load average, and
warta's peak memory. A dtype a warta binary does not know is shown as n/a.

Usage (the first run makes the virtual environment and installs torch, transformers, ctranslate2 and
sentencepiece into it: a large download):

    cargo build --release
    python3 scripts/bench-marian-peers.py [--venv /work/venv-marian] [--warta target/release/warta]
                                          [--rounds 2] [--threads 2] [--work /tmp/marian-peers]

Not part of the tests.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

PACKAGES = ["torch", "transformers", "ctranslate2", "sentencepiece", "safetensors", "numpy"]
SOURCE_TOKENS = 32
TARGET_TOKENS = 40
SETTINGS = [(1, 1), (8, 1), (32, 1), (8, 4)]
VOCAB = 54796
PAD = 54795


def in_venv(venv: Path) -> bool:
    return Path(sys.prefix).resolve() == venv.resolve()


def ensure_venv(venv: Path) -> None:
    """Make the venv and install the peers into it when needed, then run this script inside it."""
    py = venv / "bin" / "python"
    if not py.exists():
        print(f"making {venv}", file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "venv", str(venv)])
    probe = subprocess.run(
        [str(py), "-c", "import torch, transformers, ctranslate2, sentencepiece, safetensors"],
        capture_output=True,
    )
    if probe.returncode != 0:
        print(f"installing {' '.join(PACKAGES)} into {venv} (large download)", file=sys.stderr)
        subprocess.check_call([str(py), "-m", "pip", "install", "-q", *PACKAGES])
    os.execv(str(py), [str(py), *sys.argv])


def cpu_info() -> tuple[str, str]:
    name, flags = "unknown CPU", ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and name == "unknown CPU":
                name = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                have = set(line.split(":", 1)[1].split())
                wanted = ["avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                          "avx_vnni", "avx512_bf16", "amx_int8"]
                flags = " ".join(f for f in wanted if f in have)
    except OSError:
        pass
    return name, flags


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def source_ids(seed: int) -> list[int]:
    """The source sentence `warta bench` uses (31 ids then </s>)."""
    ids = [((seed * 7919 + i * 104_729) % 54_000) + 10 for i in range(SOURCE_TOKENS - 1)]
    return ids + [0]


def build_model(out: Path) -> None:
    import torch
    from transformers import GenerationConfig, MarianConfig, MarianMTModel

    if (out / "model.safetensors").exists():
        return
    out.mkdir(parents=True, exist_ok=True)
    config = MarianConfig(
        vocab_size=VOCAB, decoder_vocab_size=VOCAB, max_position_embeddings=512,
        encoder_layers=6, encoder_ffn_dim=2048, encoder_attention_heads=8,
        decoder_layers=6, decoder_ffn_dim=2048, decoder_attention_heads=8,
        activation_function="swish", d_model=512, decoder_start_token_id=PAD, scale_embedding=True,
        pad_token_id=PAD, eos_token_id=0, forced_eos_token_id=0, bos_token_id=0,
        share_encoder_decoder_embeddings=True, tie_word_embeddings=True,
    )
    torch.manual_seed(20261204)
    model = MarianMTModel(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" in name and name.endswith(".weight"):
                p.fill_(1.0)
            elif "embed_positions" in name:
                continue  # the fixed sinusoidal table
            elif name.endswith("final_logits_bias"):
                p.zero_()
            else:
                p.normal_(0.0, 0.05)
        model.model.shared.weight[PAD].zero_()
    model.generation_config = GenerationConfig(
        bad_words_ids=[[PAD]], decoder_start_token_id=PAD, eos_token_id=0, forced_eos_token_id=0,
        pad_token_id=PAD, max_length=512, num_beams=4,
    )
    model.save_pretrained(out, safe_serialization=True)


class _Vocab:
    """What CTranslate2's Marian converter reads from a tokenizer: made-up tokens, ids as in warta."""

    eos_token = "</s>"
    unk_token = "<unk>"

    def get_vocab(self):
        v = {f"t{i}": i for i in range(VOCAB)}
        v.pop("t0"), v.pop("t1"), v.pop(f"t{PAD}")
        v.update({"</s>": 0, "<unk>": 1, "<pad>": PAD})
        return v


def token(i: int) -> str:
    return {0: "</s>", 1: "<unk>", PAD: "<pad>"}.get(i, f"t{i}")


def convert(model_dir: Path, out: Path, quantization: str) -> None:
    import ctranslate2
    from ctranslate2.converters import TransformersConverter

    if (out / "model.bin").exists():
        return

    class Converter(TransformersConverter):
        def load_tokenizer(self, *args, **kwargs):
            return _Vocab()

    Converter(str(model_dir)).convert(str(out), quantization=quantization, force=True)
    del ctranslate2


def timed(fn, runs: int) -> float:
    """Median seconds of `runs` calls after one warm-up."""
    t0 = time.perf_counter()
    fn()
    print(f"  warm-up {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run_transformers(model_dir: Path, threads: int, runs: int) -> dict:
    import torch
    from transformers import MarianMTModel

    torch.set_num_threads(threads)
    model = MarianMTModel.from_pretrained(model_dir).eval()
    out = {}
    for batch, beams in SETTINGS:
        ids = torch.tensor([source_ids(s) for s in range(batch)])
        mask = torch.ones_like(ids)

        def go():
            with torch.inference_mode():
                r = model.generate(input_ids=ids, attention_mask=mask, num_beams=beams, do_sample=False,
                                   max_length=TARGET_TOKENS + 1, min_length=TARGET_TOKENS,
                                   early_stopping=False, length_penalty=1.0)
            produced = r.shape[1] - 1
            if produced != TARGET_TOKENS:
                raise SystemExit(f"transformers produced {produced} tokens, not {TARGET_TOKENS}")

        out[(batch, beams)] = batch * TARGET_TOKENS / timed(go, runs)
    return out


def run_ct2(ct2_dir: Path, threads: int, runs: int) -> dict:
    import ctranslate2

    tr = ctranslate2.Translator(str(ct2_dir), device="cpu", inter_threads=1, intra_threads=threads)
    out = {}
    for batch, beams in SETTINGS:
        src = [[token(i) for i in source_ids(s)] for s in range(batch)]

        def go():
            r = tr.translate_batch(src, beam_size=beams, max_decoding_length=TARGET_TOKENS,
                                   min_decoding_length=TARGET_TOKENS, return_end_token=True,
                                   max_batch_size=0)
            lens = {len(h.hypotheses[0]) for h in r}
            if lens != {TARGET_TOKENS}:
                raise SystemExit(f"CTranslate2 produced {lens} tokens, not {TARGET_TOKENS}")

        out[(batch, beams)] = batch * TARGET_TOKENS / timed(go, runs)
    return out


def run_warta(warta: str, model_dir: Path, dtype: str, threads: int):
    """tok/s per setting, the breakdown, and peak RSS (MiB); None when the dtype is not known."""
    cmd = [warta, "--quiet", "--format", "json", "bench", "--engine", "marian", "--model", str(model_dir),
           "--dtype", dtype, "--threads", str(threads)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # The child's own peak resident memory: VmHWM of its address space, polled until it exits. Not
    # wait4's ru_maxrss: Linux keeps in it the high-water mark of the forked copy of this Python
    # process (CTranslate2 and torch loaded, ~1.1 GB), so it read the same for every dtype.
    peak = [0]

    def poll_hwm():
        while p.poll() is None:
            try:
                with open(f"/proc/{p.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            peak[0] = max(peak[0], int(line.split()[1]))
            except OSError:
                break
            time.sleep(0.02)

    watcher = threading.Thread(target=poll_hwm)
    watcher.start()
    out, err = p.communicate()  # small: one JSON report (--quiet keeps stderr to errors)
    watcher.join()
    rss = peak[0] / 1024 if peak[0] else None
    if p.returncode != 0:
        msg = err.decode(errors="replace").strip().splitlines()
        print(f"warta --dtype {dtype}: failed: {msg[-1] if msg else p.returncode}", file=sys.stderr)
        return None
    rep = json.loads(out)
    speeds = {(r["batch"], r["beams"]): r["tokens_per_s"] for r in rep["rows"]}
    return speeds, rep.get("breakdown", []), rss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--venv", default="/work/venv-marian", type=Path)
    ap.add_argument("--warta", default=str(Path(__file__).resolve().parents[1] / "target/release/warta"))
    ap.add_argument("--work", default="/tmp/marian-peers", type=Path)
    ap.add_argument("--rounds", default=2, type=int)
    ap.add_argument("--runs", default=3, type=int, help="timed runs per setting (after one warm-up)")
    ap.add_argument("--threads", default=2, type=int)
    ap.add_argument("--dtypes", default="f32,f16,int8", help="warta --dtype values to run")
    ap.add_argument("--skip-transformers", action="store_true")
    args = ap.parse_args()
    if not in_venv(args.venv):
        ensure_venv(args.venv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

    import ctranslate2
    import torch
    import transformers

    model_dir = args.work / "opus-mt-id-en-shape"
    build_model(model_dir)
    convert(model_dir, args.work / "ct2-float32", "float32")
    convert(model_dir, args.work / "ct2-int8", "int8")

    load_before = load_average()
    systems = []
    if not args.skip_transformers:
        systems.append((f"transformers {transformers.__version__} + torch {torch.__version__.split('+')[0]}",
                        lambda: run_transformers(model_dir, args.threads, args.runs)))
    for q in ["float32", "int8"]:
        systems.append((f"CTranslate2 {ctranslate2.__version__} {'fp32' if q == 'float32' else 'int8'}",
                        lambda q=q: run_ct2(args.work / f"ct2-{q}", args.threads, args.runs)))
    extra = {}
    for dtype in args.dtypes.split(","):
        def w(dtype=dtype):
            r = run_warta(args.warta, model_dir, dtype, args.threads)
            if r is None:
                return None
            speeds, breakdown, rss = r
            extra.setdefault(dtype, []).append((breakdown, rss))
            return speeds
        systems.append((f"warta --dtype {dtype}", w))

    results: dict[str, list] = {name: [] for name, _ in systems}
    for rnd in range(args.rounds):
        order = systems if rnd % 2 == 0 else list(reversed(systems))
        for name, fn in order:
            print(f"round {rnd + 1}: {name}", file=sys.stderr)
            results[name].append(fn())
    load_after = load_average()

    def best(name):
        got = [r for r in results[name] if r is not None]
        if not got:
            return None
        return {k: max(r[k] for r in got) for k in got[0]}

    table = {name: best(name) for name, _ in systems}
    ct2_fp32 = next((table[n] for n in table if n.startswith("CTranslate2") and n.endswith("fp32")), None)
    ct2_int8 = next((table[n] for n in table if n.startswith("CTranslate2") and n.endswith("int8")), None)
    cpu, flags = cpu_info()
    print(f"\nCPU: {cpu}\nflags: {flags}\nthreads: {args.threads}; load average before {load_before}, "
          f"after {load_after}")
    print(f"model: opus-mt-id-en shape, random weights ({model_dir}); {SOURCE_TOKENS} source -> "
          f"{TARGET_TOKENS} target tokens forced; target tokens/s, best of {args.rounds} alternating rounds "
          f"(each the median of {args.runs} runs); ratio to CTranslate2 fp32 (int8 rows: to CTranslate2 int8)\n")
    head = "| system | b1 | b8 | b32 | b8×4 beams |"
    print(head)
    print("|---|---:|---:|---:|---:|")
    for name, _ in systems:
        row = table[name]
        ref = ct2_int8 if name.endswith("int8") else ct2_fp32
        cells = []
        for k in SETTINGS:
            if row is None:
                cells.append("n/a")
            elif ref is None or name.startswith("CTranslate2") and ref is row:
                cells.append(f"{row[k]:.1f}")
            else:
                cells.append(f"{row[k]:.1f} ({row[k] / ref[k]:.2f}×)")
        print(f"| {name} | " + " | ".join(cells) + " |")
    for dtype, runs in extra.items():
        rss = max((r for _, r in runs if r is not None), default=None)
        print(f"\nwarta --dtype {dtype}: peak RSS of the bench process (all rounds) "
              f"{rss:.0f} MiB" if rss else f"\nwarta --dtype {dtype}:")
        for b in runs[-1][0]:
            print(f"  greedy batch {b['batch']}: encoder {b['encoder_ms']:.1f} ms, per step: decoder layers "
                  f"{b['decoder_layers_ms_per_step']:.2f} ms, output layer {b['output_layer_ms_per_step']:.2f} ms, "
                  f"search {b['search_ms_per_step']:.2f} ms")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Peak memory and time of warta on the generated hostile inputs of issue 15 (the files
tests/hostile.rs builds), measured with /usr/bin/time -v, one run each.

    python3 scripts/hostile-inputs.py [--warta target/release/warta]

Prints a Markdown table: case, input size, exit code, wall time, peak RSS, and the first line warta
wrote to standard error (its warning or error).
"""

import argparse
import os
import pathlib
import re
import shutil
import struct
import subprocess
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
EXAMPLE = ROOT / "examples" / "kompas-nato.txt"
SENTENCES = (
    "Pemerintah Kota Bandung meresmikan jembatan penyeberangan baru di kawasan Dago pada Senin pagi. "
    "Jembatan itu dibangun agar pejalan kaki lebih aman ketika menyeberang jalan yang ramai setiap hari. "
    "Pembangunan jembatan itu menelan biaya Rp 3,5 miliar dan selesai dalam waktu empat bulan."
)
LEGACY_HEAD = bytes(
    [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]
)


def gguf(dims, alignment=None):
    def s(t):
        b = t.encode()
        return struct.pack("<Q", len(b)) + b

    b = b"GGUF" + struct.pack("<IQQ", 3, 1, 1 + (alignment is not None))
    b += s("general.architecture") + struct.pack("<I", 8) + s("llama")
    if alignment is not None:
        b += s("general.alignment") + struct.pack("<II", 4, alignment)
    b += s("token_embd.weight") + struct.pack("<I", len(dims))
    b += b"".join(struct.pack("<Q", d) for d in dims)
    b += struct.pack("<IQ", 0, 0) + b"\0" * 4096
    return b


def legacy(state):
    return LEGACY_HEAD + bytes([0x80, 2, ord("M"), 0xE9, 3, ord(".")]) + bytes([0x80, 2, ord("}"), ord(".")]) + state


def model_dir(tmp, variant, name, data):
    d = pathlib.Path(tempfile.mkdtemp(dir=tmp, prefix=f"model-{variant}-"))
    shutil.rmtree(d)
    shutil.copytree(ROOT / "tests/fixtures/marian" / variant, d)
    other = "pytorch_model.bin" if name == "model.safetensors" else "model.safetensors"
    (d / other).unlink()
    (d / name).write_bytes(data)
    return d


def cases(tmp):
    out = []
    html = "<html><head><title>Jembatan Baru</title></head><body>"
    p = tmp / "bold.html"
    p.write_text(html + "<b>" * 1_500_000 + f"<p>{SENTENCES}</p></body></html>")
    out.append(("1.5 million unclosed `<b>`", p, ["clean", p]))
    p = tmp / "divs.html"
    p.write_text(html + "<div>" * 100_000 + f"<p>{SENTENCES}</p>" + "</div>" * 100_000 + "</body></html>")
    out.append(("100,000 nested `<div>`", p, ["clean", p]))
    p = tmp / "attrs.html"
    attrs = []
    n = 0
    i = 0
    while n < 50_000_000:
        a = f' data-x{i}="{i}"'
        attrs.append(a)
        n += len(a)
        i += 1
    p.write_text(html + "<div" + "".join(attrs) + f"><p>{SENTENCES}</p></div></body></html>")
    out.append(("50 MB of attributes (`--max-bytes 60000000`)", p, ["clean", "--max-bytes", "60000000", p]))
    p = tmp / "long.txt"
    words = ["pemerintah", "kota", "membangun", "jembatan", "baru", "untuk", "warga"]
    p.write_text("Judul Berita\n\n" + " ".join(words[k % 7] for k in range(10_000)) + ".\n")
    out.append(("a 10,000-word sentence (`clean`)", p, ["clean", p]))
    out.append(
        (
            "a 10,000-word sentence (`translate --no-summary`, tiny-a, greedy)",
            p,
            ["translate", "--beams", "1", "--no-summary", "--model", ROOT / "tests/fixtures/marian/tiny-a", p],
        )
    )
    for name, data in [
        ("GGUF tensor of 2^60 elements", gguf([1 << 30, 1 << 30])),
        ("GGUF tensor of 2^80 elements", gguf([1 << 40, 1 << 40])),
        ("GGUF alignment 0", gguf([16], 0)),
    ]:
        p = tmp / (re.sub(r"\W+", "-", name) + ".gguf")
        p.write_bytes(data)
        out.append((name, p, ["summarize", "--llm", p, EXAMPLE]))
    bomb = bytes([0x80, 2, ord("]"), ord("q"), 0]) + bytes([ord("h"), 0, ord("h"), 0, 0x86, ord("q"), 0]) * 60 + b"."
    deep = bytes([0x80, 2, ord(")")]) + bytes([0x85]) * 1_000_000 + b"."
    for name, data in [("pickle bomb (2^60 copies)", legacy(bomb)), ("pickle nested 1,000,000 deep", legacy(deep))]:
        d = model_dir(tmp, "tiny-b", "pytorch_model.bin", data)
        out.append((name, d / "pytorch_model.bin", ["translate", "--raw", "--model", d, EXAMPLE]))
    header = b'{"model.shared.weight":{"dtype":"F32","shape":[1152921504606846976],"data_offsets":[0,16]}}'
    d = model_dir(tmp, "tiny-a", "model.safetensors", struct.pack("<Q", len(header)) + header + b"\0" * 16)
    out.append(("safetensors tensor of 2^60 elements", d / "model.safetensors", ["translate", "--raw", "--model", d, EXAMPLE]))
    d = model_dir(tmp, "tiny-a", "model.safetensors", struct.pack("<Q", 1 << 60) + b"{}")
    out.append(("safetensors header length 2^60", d / "model.safetensors", ["translate", "--raw", "--model", d, EXAMPLE]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--warta", default=str(ROOT / "target/debug/warta"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as t:
        tmp = pathlib.Path(t)
        env = dict(os.environ, HF_HOME=str(tmp / "hf"), HF_HUB_OFFLINE="1")
        env.pop("WARTA_LLM", None)
        env.pop("WARTA_MODEL", None)
        print("| input | size | exit | wall s | peak RSS MiB | what warta said |")
        print("|---|---:|---:|---:|---:|---|")
        for name, path, cmd in cases(tmp):
            r = subprocess.run(
                ["/usr/bin/time", "-v", args.warta] + [str(c) for c in cmd],
                env=env,
                capture_output=True,
                text=True,
                errors="replace",
            )
            rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
            wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", r.stderr)
            secs = 0.0
            if wall:
                h, m, s = wall.groups()
                secs = int(h or 0) * 3600 + int(m) * 60 + float(s)
            said = next((l for l in r.stderr.splitlines() if l.startswith("warta")), "")
            said = said.replace(str(tmp), "…").replace("|", "\\|")
            if len(said) > 160:
                said = said[:157] + "…"
            code = re.search(r"Exit status: (\d+)", r.stderr)
            size = path.stat().st_size
            print(
                f"| {name} | {size / 1e6:.2f} MB | {code.group(1) if code else r.returncode} | {secs:.2f} | "
                f"{int(rss.group(1)) / 1024 if rss else 0:.0f} | {said} |"
            )


if __name__ == "__main__":
    main()

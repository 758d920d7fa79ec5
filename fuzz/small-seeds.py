#!/usr/bin/env python3
"""Small seeds for the slow fuzz targets, so libFuzzer spends its time mutating rather than parsing
half-megabyte inputs. Writes to fuzz/corpus/ (ignored by git); run after seed.sh.

- html, load: each saved page without its scripts, styles, SVGs and comments, with long attribute
  values cut to 40 bytes, whitespace collapsed (the structure and the text the extractor and the site
  rules look at stay); pages still above 16 KB keep their head's first 4 KB and the window from just
  before the article's first line (or first <p>).
- pytorch_bin: tiny checkpoints (a few tensors of 2-12 values) in the zip and the legacy format, with
  the layouts the reader must handle: f32/f16/bf16/i64, a transposed view, a storage offset, two
  tensors sharing one storage, a scalar, an empty tensor.   needs torch (the Marian venv has it)
"""
import pathlib, re, sys

root = pathlib.Path(__file__).resolve().parent
shared = root.parent.parent / "shared" / "fixtures" / "articles"
LIMIT = 16384


def slim(html: str, expected: str = "") -> str:
    html = re.sub(r"(?is)<(script|style|svg|noscript)\b.*?</\1\s*>", "", html)
    html = re.sub(r"(?s)<!--.*?-->", "", html)
    html = re.sub(r'(?s)(=\s*")([^"]{40})[^"]*(")', r"\1\2\3", html)
    html = re.sub(r"(?s)(=\s*')([^']{40})[^']*(')", r"\1\2\3", html)
    html = re.sub(r"[ \t\r\f\v]+", " ", html)
    html = re.sub(r"\n\s*\n+", "\n", html)
    if len(html.encode()) > LIMIT:
        # The window starts a little before the article's first line where the page has it.
        lines = [l for l in expected.splitlines() if len(l) > 60]
        p = html.find(lines[0][:20]) if lines else -1
        p = html.find("<p") if p < 0 else p
        head = html[: html.find("<body")] if "<body" in html else ""
        head = head[:4000]
        start = max(p - 3000, 0) if p >= 0 else 0
        html = head + html[start:]
        html = html.encode()[:LIMIT].decode(errors="ignore")
    return html


def pages():
    for t in ("html", "load"):
        out = root / "corpus" / f"{t}"
        out.mkdir(parents=True, exist_ok=True)
        for f in sorted((shared / "html").glob("*.html")) + sorted((shared / "text").glob("*.html")):
            e = shared / "expected" / f"{f.stem}.expected.txt"
            e = e.read_text(encoding="utf-8") if e.exists() else ""
            s = slim(f.read_text(encoding="utf-8", errors="replace"), e)
            (out / f"slim-{f.name}").write_text(s, encoding="utf-8")


def checkpoints():
    import torch

    w = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    shared_storage = torch.arange(6, dtype=torch.float32)
    states = {
        "plain": {"model.shared.weight": w.clone(), "final_logits_bias": torch.zeros(1, 3)},
        "dtypes": {
            "a": torch.ones(2, 2, dtype=torch.float16),
            "b": torch.ones(3, dtype=torch.bfloat16),
            "c": torch.arange(3, dtype=torch.int64),
            "d": torch.ones(2, dtype=torch.float64),
        },
        "views": {
            "t": w.t(),  # non-contiguous
            "o": w.reshape(-1)[5:9],  # storage offset
            "s1": shared_storage[:3],
            "s2": shared_storage[3:].view(3, 1),
            "scalar": torch.tensor(2.5),
            "empty": torch.zeros(0, 4),
        },
    }
    out = root / "corpus" / "pytorch_bin"
    out.mkdir(parents=True, exist_ok=True)
    for name, state in states.items():
        for legacy in (False, True):
            p = out / f"tiny-{name}{'-legacy' if legacy else ''}.bin"
            torch.save(state, p, _use_new_zipfile_serialization=not legacy)


if __name__ == "__main__":
    what = sys.argv[1:] or ["pages", "checkpoints"]
    if "pages" in what:
        pages()
    if "checkpoints" in what:
        checkpoints()

#!/usr/bin/env python3
"""Reference token ids and chat prompts for warta's LLM tests.

For each GGUF given, writes tests/fixtures/llm/<name>.json with
  - "tokens": texts (English, Indonesian, the reference article, digits, whitespace, multi-byte
    characters, rendered chat prompts with special tokens) and the ids llama.cpp gives them
    (llama-cpp-python, vocab only, special tokens parsed, no BOS added);
  - "chat": message lists rendered with the GGUF's own Jinja template (tokenizer.chat_template)
    the way transformers' apply_chat_template does (jinja2 sandbox, trim_blocks, lstrip_blocks,
    add_generation_prompt=True).
Rust tests compare warta's tokenizer and chat templates against these files without Python.

Usage: .venv/bin/python scripts/llm_reference.py NAME=PATH.gguf [NAME=PATH.gguf ...]
Needs: pip install gguf jinja2 llama-cpp-python
"""
import json
import os
import re
import sys

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment
from gguf import GGUFReader
from llama_cpp import Llama

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARTICLE = os.path.join(ROOT, "examples", "kompas-nato.txt")

TEXTS = [
    "Hello world! This is a test of the tokenizer.",
    "The council voted on Monday to build a new library; it will cost $12.5 million and open in 2026.",
    "  Leading spaces, trailing spaces.   \n\nTwo newlines, a tab\there, and CRLF\r\nline.",
    "Rusia menghentikan aktivitas misi diplomasi dan kantor aliansi dengan NATO.",
    "Langkah tersebut diumumkan pada Senin (18/10/2021) oleh Menteri Luar Negeri Rusia Sergey Lavrov.",
    "Harga naik 3,5 persen menjadi Rp 1.200.000 per gram; 8 delegasi diusir.",
    "“Menanggapi kegiatan NATO, kami menghentikan pekerjaan misi,” terangnya — kata Lavrov.",
    "Numbers 1234567 and 3.14159, dates 2021-10-19, ratios 1:2, and 100%.",
    "Multi-byte: café, naïve, 東京, emoji 🙂👍🏽, Jalan Sudirman No. 5.",
    "don't you're we'll I'M THEY'VE it's",
]

CHATS = [
    [{"role": "user", "content": "Summarise this article in two sentences."}],
    [
        {"role": "system", "content": "You are a careful news editor."},
        {"role": "user", "content": "Translate into English:\nRusia menghentikan misi diplomasi."},
    ],
    [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And 3+3?"},
    ],
    [
        {"role": "user", "content": "  Text with surrounding spaces.  "},
    ],
]


def render(template, messages, bos, eos):
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = lambda x, **kw: json.dumps(x, ensure_ascii=False, **kw)
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template).render(
        messages=messages, add_generation_prompt=True, bos_token=bos, eos_token=eos, tools=None
    )


def main():
    for arg in sys.argv[1:]:
        name, path = arg.split("=", 1)
        r = GGUFReader(path)
        field = lambda k: r.fields[k].contents() if k in r.fields else None
        tokens = field("tokenizer.ggml.tokens")
        template = field("tokenizer.chat_template")
        bos_id, eos_id = field("tokenizer.ggml.bos_token_id"), field("tokenizer.ggml.eos_token_id")
        bos = tokens[bos_id] if bos_id is not None else ""
        eos = tokens[eos_id] if eos_id is not None else ""
        chats = [{"messages": m, "prompt": render(template, m, bos, eos)} for m in CHATS]

        llm = Llama(model_path=path, vocab_only=True, verbose=False)
        with open(ARTICLE, encoding="utf-8") as f:
            article = f.read()
        texts = TEXTS + [article] + [c["prompt"] for c in chats]
        cases = [
            {"text": t, "ids": llm.tokenize(t.encode("utf-8"), add_bos=False, special=True)}
            for t in texts
        ]
        out = {
            "model": os.path.basename(path),
            "pre": field("tokenizer.ggml.pre"),
            "reference": "llama-cpp-python %s (llama.cpp tokenizer, special tokens parsed, no BOS)"
            % __import__("llama_cpp").__version__,
            "template": template,
            "chat": chats,
            "tokens": cases,
        }
        dst = os.path.join(ROOT, "tests", "fixtures", "llm", name + ".json")
        text = json.dumps(out, ensure_ascii=False, indent=1)
        # One line per id list keeps the file small and diffable.
        text = re.sub(r"\[\s*(\d+(?:,\s*\d+)*)\s*\]", lambda m: "[" + re.sub(r"\s+", "", m.group(1)) + "]", text)
        with open(dst, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        print(dst, len(cases), "texts,", len(chats), "chats")


if __name__ == "__main__":
    main()

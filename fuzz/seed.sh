#!/usr/bin/env bash
# Seed fuzz/corpus/<target>/ from the fixtures (../shared and tests/fixtures); idempotent.
set -euo pipefail
cd "$(dirname "$0")"
R=..
S=$R/../shared
c() { mkdir -p "corpus/$1"; shift_target=$1; shift; for f in "$@"; do [ -f "$f" ] && cp -f "$f" "corpus/$shift_target/$(basename "$f")"; done; return 0; }
c html $S/fixtures/articles/html/*.html $S/fixtures/articles/text/*.html
c load $S/fixtures/articles/html/*.html $S/fixtures/articles/text/*.txt $R/examples/*.txt
c text $S/fixtures/articles/text/*.txt $S/fixtures/articles/expected/*.txt $R/examples/*.txt
c nesting $S/fixtures/articles/html/*.html
c segment $S/fixtures/articles/expected/*.txt
c checks $S/fixtures/articles/expected/*.txt $R/tests/fixtures/en-bridge.txt
c safetensors $R/tests/fixtures/marian/tiny-*/model.safetensors
# Checkpoints of a few tiny tensors (zip and legacy) where torch is at hand: the fixtures' 400 KB ones
# run at 8 exec/s. Without torch, those.
TORCH_PY=${TORCH_PY:-$R/../venv-marian/bin/python}
if ! "$TORCH_PY" small-seeds.py checkpoints 2>/dev/null; then
    c pytorch_bin $R/tests/fixtures/marian/tiny-a/pytorch_model.bin
    cp -f $R/tests/fixtures/marian/tiny-b/pytorch_model.bin corpus/pytorch_bin/legacy.bin
fi
# Saved pages cut to 16 KB around the article (the originals reach 540 KB).
python3 small-seeds.py pages
c marian_config $R/tests/fixtures/marian/tiny-*/config.json $R/tests/fixtures/marian/tiny-a/generation_config.json
cp -f $R/tests/fixtures/marian/tiny-b/config.json corpus/marian_config/config-b.json
c spm $R/tests/fixtures/marian/tiny-b/source.spm $R/tests/fixtures/marian/tiny-b/target.spm
c marian_vocab $R/tests/fixtures/marian/tiny-b/vocab.json
c prompt_file $R/prompts/*.txt
c glossary $R/prompts/glossary.tsv
c eval_input $R/tests/fixtures/eval/*.hyp
mkdir -p corpus/pickle corpus/gguf corpus/gguf_file corpus/chat_template corpus/manifest
# The pickles: the legacy checkpoint from after its magic number, and the zip one's data.pkl.
python3 - <<'PY'
import zipfile, pathlib
root = pathlib.Path('..')
z = zipfile.ZipFile(root / 'tests/fixtures/marian/tiny-a/pytorch_model.bin')
for n in z.namelist():
    if n.endswith('data.pkl'):
        pathlib.Path('corpus/pickle/data.pkl').write_bytes(z.read(n))
legacy = (root / 'tests/fixtures/marian/tiny-b/pytorch_model.bin').read_bytes()
pathlib.Path('corpus/pickle/legacy.pkl').write_bytes(legacy[15:30000])
smol = (root / '../shared/models/SmolLM2-135M-Instruct.Q4_1.gguf').read_bytes()
pathlib.Path('corpus/gguf/smollm2-head.gguf').write_bytes(smol[:1 << 20])
pathlib.Path('corpus/gguf_file/smollm2-head.gguf').write_bytes(smol[:1 << 20])
import json, struct
def s(t): b = t.encode(); return struct.pack('<Q', len(b)) + b
g = b'GGUF' + struct.pack('<IQQ', 3, 1, 2) + s('general.architecture') + struct.pack('<I', 8) + s('llama')
g += s('tokenizer.chat_template') + struct.pack('<I', 8) + s('<|im_start|>{{ m }}<|im_end|>')
g += s('w') + struct.pack('<IQQIQ', 2, 4, 2, 0, 0)
g += b'\0' * ((32 - len(g) % 32) % 32) + b'\0' * 32
pathlib.Path('corpus/gguf/small.gguf').write_bytes(g)
pathlib.Path('corpus/gguf_file/small.gguf').write_bytes(g)
for i, t in enumerate(["{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>{% endfor %}",
                       "<|start_header_id|>system<|end_header_id|>Cutting Knowledge Date: December 2023",
                       "<start_of_turn>user\n{{ content }}<end_of_turn>"]):
    pathlib.Path(f'corpus/chat_template/t{i}.txt').write_text(t)
line = {"path":"a/b.txt","hash":"00ff","status":"ok","error":None,"output":"a/b.en.txt",
        "timings":{"read_s":0.1,"clean_s":0,"translate_s":1,"summarize_s":0,"write_s":0},
        "models":{"translator":"marian","model":"m","llm":None,"summarizer":None},
        "warnings":["w"],"settings":"s","finished":"2026-01-01T00:00:00Z"}
text = "\n".join(json.dumps(dict(line, status=st)) for st in ["ok","failed","skipped"]) + "\n" + json.dumps(line)[:40]
pathlib.Path('corpus/manifest/manifest.jsonl').write_text(text)
for f in (root / 'tests/fixtures/eval').glob('*.hyp'):
    ref = f.with_suffix('.ref')
    if not ref.exists():
        continue
    pathlib.Path(f'corpus/eval_input/{f.stem}.pair').write_bytes(f.read_bytes() + b'\0' + ref.read_bytes())
PY
echo "seeded: $(ls corpus | wc -l) targets"

//! Property tests over every parser of outside data, through the same entry points as the fuzz
//! targets in `fuzz/` (`warta::fuzzing`): fixture files mutated at random (bytes flipped, inserted,
//! deleted, runs duplicated, the file cut), and free-form inputs. Nothing may panic or hang.
//!
//! Seeds are fixed (`SEED`), so CI runs the same cases every time; the case counts keep the whole file
//! to a few tens of seconds. The long, coverage-guided runs are the fuzz targets (see README).

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

const SEED: [u8; 32] = *b"warta-hostile-inputs-seed-15-v1!";
/// All case counts below are multiplied by this (the whole file runs in well under a minute).
const SCALE: u32 = 3;

fn runner(cases: u32) -> TestRunner {
    let config = Config {
        cases: cases * SCALE,
        failure_persistence: None,
        max_shrink_iters: 200,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &SEED))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(p: impl AsRef<Path>) -> Vec<u8> {
    std::fs::read(root().join(p.as_ref())).unwrap_or_else(|e| panic!("{}: {e}", p.as_ref().display()))
}

fn dir_files(dir: &str, ext: &str) -> Vec<Vec<u8>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    paths.sort();
    paths.iter().map(std::fs::read).map(Result::unwrap).collect()
}

/// One edit of a seed.
#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    /// Repeat a run of bytes many times (nesting, long lines, long lists).
    Repeat(usize, usize, usize),
    Cut(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        2 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16)).prop_map(|(i, b)| Edit::Insert(i, b)),
        2 => (any::<usize>(), 1usize..64).prop_map(|(i, n)| Edit::Delete(i, n)),
        1 => (any::<usize>(), 1usize..16, 2usize..2000).prop_map(|(i, n, k)| Edit::Repeat(i, n, k)),
        1 => any::<usize>().prop_map(Edit::Cut),
    ]
}

fn apply(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for e in edits {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % (len + 1) };
        match e {
            Edit::Flip(i, x) if !b.is_empty() => {
                let i = i % b.len();
                b[i] ^= x | 1;
            }
            Edit::Flip(..) => {}
            Edit::Insert(i, bytes) => {
                let i = at(*i, b.len());
                b.splice(i..i, bytes.iter().copied());
            }
            Edit::Delete(i, n) => {
                let i = at(*i, b.len());
                let end = (i + n).min(b.len());
                b.drain(i..end);
            }
            Edit::Repeat(i, n, k) => {
                let i = at(*i, b.len());
                let end = (i + n).min(b.len());
                let run = b[i..end].to_vec();
                let extra: Vec<u8> = run.iter().copied().cycle().take(run.len() * k).collect();
                b.splice(end..end, extra);
            }
            Edit::Cut(i) => {
                let i = at(*i, b.len());
                b.truncate(i);
            }
        }
    }
    b
}

/// Mutated copies of `seeds` fed to `target`, `cases` times.
fn mutate(seeds: Vec<Vec<u8>>, cases: u32, target: fn(&[u8])) {
    assert!(!seeds.is_empty());
    let n = seeds.len();
    runner(cases)
        .run(
            &(0..n, prop::collection::vec(edit(), 0..6)),
            |(i, edits)| {
                target(&apply(&seeds[i], &edits));
                Ok(())
            },
        )
        .unwrap();
}

fn html_seeds() -> Vec<Vec<u8>> {
    let mut s = dir_files("../shared/fixtures/articles/html", "html");
    s.push(read("../shared/fixtures/articles/text/cnnindonesia-519184-content-fragment.html"));
    s
}

fn text_seeds() -> Vec<Vec<u8>> {
    let mut s = dir_files("../shared/fixtures/articles/text", "txt");
    s.extend(dir_files("../shared/fixtures/articles/expected", "txt"));
    s.push(read("examples/kompas-nato.txt"));
    s
}

#[test]
fn loader_takes_any_bytes() {
    let mut seeds = html_seeds();
    seeds.extend(text_seeds());
    // Other encodings and byte-order marks.
    seeds.push(b"\xff\xfeB\x00e\x00r\x00i\x00t\x00a\x00".to_vec());
    seeds.push(b"<meta charset=windows-1252><p>Caf\xe9 di Jakarta dibuka pada Senin.</p>".to_vec());
    mutate(seeds, 48, warta::fuzzing::load);
}

#[test]
fn html_extractor_and_site_rules_take_any_page() {
    mutate(html_seeds(), 48, warta::fuzzing::html);
}

#[test]
fn text_cleaner_takes_any_text() {
    mutate(text_seeds(), 96, warta::fuzzing::text);
}

#[test]
fn nesting_bound_is_stable_on_any_markup() {
    runner(256)
        .run(
            &prop::collection::vec(
                prop_oneof![
                    Just("<div>"), Just("</div>"), Just("<p>"), Just("</p>"), Just("<b>"),
                    Just("<li>"), Just("<table><tr><td>"), Just("<!--"), Just("-->"),
                    Just("<script>"), Just("</script>"), Just("<a href='x>y'>"), Just("<br/>"),
                    Just("text "), Just("<"), Just(">"), Just("\""), Just("é"),
                ],
                0..400,
            ),
            |parts| {
                warta::fuzzing::nesting(&parts.concat());
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn segmenter_and_checks_take_any_text() {
    let words = prop_oneof![
        Just("Rp 3,5 miliar".to_string()),
        Just("8".to_string()),
        Just("1.229".to_string()),
        Just("Senin (18/10/2021)".to_string()),
        Just("Jl.".to_string()),
        Just("\"Kata".to_string()),
        Just("dia.\"".to_string()),
        Just("NATO".to_string()),
        Just("...".to_string()),
        Just("?!".to_string()),
        Just("\u{0}".to_string()),
        "[a-zA-Z0-9.,!?()\"'%/: -]{0,12}",
        any::<String>(),
    ];
    runner(256)
        .run(&prop::collection::vec(words, 0..80), |w| {
            let s = w.join(" ");
            warta::fuzzing::segment(&s);
            warta::fuzzing::checks(&s);
            Ok(())
        })
        .unwrap();
}

/// A small GGUF: two metadata entries (one an array) and one tensor with its data.
fn small_gguf() -> Vec<u8> {
    let mut b = Vec::new();
    let s = |b: &mut Vec<u8>, t: &str| {
        b.extend((t.len() as u64).to_le_bytes());
        b.extend(t.as_bytes());
    };
    b.extend(b"GGUF");
    b.extend(3u32.to_le_bytes());
    b.extend(1u64.to_le_bytes());
    b.extend(3u64.to_le_bytes());
    s(&mut b, "general.architecture");
    b.extend(8u32.to_le_bytes());
    s(&mut b, "llama");
    s(&mut b, "general.alignment");
    b.extend(4u32.to_le_bytes());
    b.extend(32u32.to_le_bytes());
    s(&mut b, "tokenizer.ggml.tokens");
    b.extend(9u32.to_le_bytes());
    b.extend(8u32.to_le_bytes());
    b.extend(2u64.to_le_bytes());
    s(&mut b, "a");
    s(&mut b, "b");
    s(&mut b, "w");
    b.extend(2u32.to_le_bytes());
    b.extend(4u64.to_le_bytes());
    b.extend(2u64.to_le_bytes());
    b.extend(0u32.to_le_bytes());
    b.extend(0u64.to_le_bytes());
    while b.len() % 32 != 0 {
        b.push(0);
    }
    b.extend([0u8; 32]);
    b
}

#[test]
fn gguf_reader_takes_any_header() {
    let smol = read("../shared/models/SmolLM2-135M-Instruct.Q4_1.gguf");
    // The real header's start (cut inside the token list) and a complete small file.
    let seeds = vec![small_gguf(), smol[..64 << 10].to_vec()];
    mutate(seeds.clone(), 256, warta::fuzzing::gguf);
    mutate(vec![small_gguf()], 32, warta::fuzzing::gguf_file);
}

#[test]
fn model_weight_readers_take_any_file() {
    let st = vec![
        read("tests/fixtures/marian/tiny-a/model.safetensors"),
        read("tests/fixtures/marian/tiny-b/model.safetensors"),
    ];
    mutate(st, 64, warta::fuzzing::safetensors);
    let bins = vec![
        read("tests/fixtures/marian/tiny-a/pytorch_model.bin"),
        read("tests/fixtures/marian/tiny-b/pytorch_model.bin"),
    ];
    mutate(bins, 48, warta::fuzzing::pytorch_bin);
}

#[test]
fn pickle_reader_takes_any_pickle() {
    // The zip checkpoint's data.pkl, found by its name in the archive (stored uncompressed).
    let zip = read("tests/fixtures/marian/tiny-a/pytorch_model.bin");
    let legacy = read("tests/fixtures/marian/tiny-b/pytorch_model.bin");
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let start = find(&zip, b"\x80\x02").expect("a pickle in the zip");
    let seeds = vec![zip[start..start + 20_000.min(zip.len() - start)].to_vec(), legacy[15..20_000].to_vec()];
    mutate(seeds, 256, warta::fuzzing::pickle);
}

#[test]
fn marian_text_files_take_any_content() {
    mutate(
        vec![
            read("tests/fixtures/marian/tiny-a/config.json"),
            read("tests/fixtures/marian/tiny-b/config.json"),
        ],
        128,
        warta::fuzzing::marian_config,
    );
    mutate(
        vec![read("tests/fixtures/marian/tiny-b/source.spm")],
        64,
        warta::fuzzing::spm,
    );
    let spm = root().join("tests/fixtures/marian/tiny-b/source.spm");
    let tspm = root().join("tests/fixtures/marian/tiny-b/target.spm");
    let vocab = vec![read("tests/fixtures/marian/tiny-b/vocab.json")];
    runner(32)
        .run(&(0..1usize, prop::collection::vec(edit(), 0..6)), |(i, edits)| {
            warta::fuzzing::marian_vocab(&apply(&vocab[i], &edits), &spm, &tspm);
            Ok(())
        })
        .unwrap();
}

#[test]
fn prompt_glossary_and_chat_template_parsers_take_any_text() {
    let prompts = dir_files("prompts", "txt");
    mutate(prompts, 128, warta::fuzzing::prompt_file);
    mutate(vec![read("prompts/glossary.tsv")], 32, warta::fuzzing::glossary);
    let templates: Vec<Vec<u8>> = [
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}",
        "<|start_header_id|>system<|end_header_id|>Cutting Knowledge Date: December 2023",
        "<start_of_turn>user\n{{ content }}<end_of_turn>",
        "You are a helpful assistant",
    ]
    .iter()
    .map(|t| t.as_bytes().to_vec())
    .collect();
    mutate(templates, 128, |b| warta::fuzzing::chat_template(&String::from_utf8_lossy(b)));
}

#[test]
fn manifest_and_eval_readers_take_torn_and_hostile_lines() {
    let line = br#"{"path":"a/b.txt","hash":"00ff","status":"ok","error":null,"output":"a/b.en.txt","timings":{"read_s":0.1,"clean_s":0.0,"translate_s":1.0,"summarize_s":0.0,"write_s":0.0},"models":{"translator":"marian","model":"m","llm":null,"summarizer":null},"warnings":["w"],"settings":"s","finished":"2026-01-01T00:00:00Z"}"#;
    let mut manifest = Vec::new();
    for status in ["ok", "failed", "skipped"] {
        manifest.extend(String::from_utf8_lossy(line).replace("\"ok\"", &format!("\"{status}\"")).as_bytes());
        manifest.push(b'\n');
    }
    manifest.extend(&line[..50]); // a torn last line
    mutate(vec![manifest], 128, warta::fuzzing::manifest);
    let mut eval = Vec::new();
    for (h, r) in [("edge-crlf", "edge-crlf"), ("edge-unicode", "edge-unicode")] {
        let mut pair = read(format!("tests/fixtures/eval/{h}.hyp"));
        pair.push(0);
        pair.extend(read(format!("tests/fixtures/eval/{r}.ref")));
        eval.push(pair);
    }
    mutate(eval, 128, warta::fuzzing::eval_input);
}

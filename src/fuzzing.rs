//! Entry points for the fuzz targets in `fuzz/` and the property tests in `tests/properties.rs`: each
//! feeds arbitrary bytes to one parser of outside data, exactly as warta reads such a file, and
//! returns nothing. A panic, a hang or unbounded memory in any of them is a bug; an `Err` is fine.
//!
//! Not part of warta's interface (hidden from the docs); parsers that read from a path get the bytes
//! through a temporary file.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use crate::article::{self, LoadOptions};

/// The most CPU time one input may take before it counts as a hang (libFuzzer's `-timeout` is 10 s).
const CPU_BUDGET_S: f64 = 10.0;

/// Run `f` on one input and panic when it used more than 10 s of this thread's CPU time. libFuzzer's
/// own `-timeout` counts wall time, which a fuzzer that is paused (SIGSTOP) or starved of CPU spends
/// too; with this guard the fuzz targets can run under a long `-timeout` and still report slow inputs
/// (as a crash, with the input).
pub fn within_cpu_budget(f: impl FnOnce()) {
    within(CPU_BUDGET_S, f);
}

/// Counts the calling thread's CPU time: the parsers run on it, and the process's total would also
/// count whatever runs beside them (other tests in the same binary, say).
fn within(budget_s: f64, f: impl FnOnce()) {
    use crate::llm::generate::thread_cpu_seconds;
    let before = thread_cpu_seconds();
    f();
    if let (Some(a), Some(b)) = (before, thread_cpu_seconds()) {
        assert!(
            b - a <= budget_s,
            "one input took {:.1} s of CPU time, more than {budget_s} s",
            b - a
        );
    }
}

/// A per-process scratch directory for parsers that take a path.
fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    use std::sync::OnceLock;
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("warta-fuzz-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&d);
        d
    });
    let thread = format!("{:?}", std::thread::current().id())
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>();
    let path = dir.join(format!("{thread}-{name}"));
    let _ = std::fs::write(&path, bytes);
    path
}

fn opts() -> LoadOptions {
    LoadOptions {
        max_bytes: 5_000_000,
    }
}

/// The loader: bytes → `Article` (encoding detection, format sniffing, HTML or text, cleaning,
/// segmentation), with no file name, as for standard input.
pub fn load(bytes: &[u8]) {
    let _ = article::from_bytes(bytes, "fuzz", None, &opts());
}

/// A saved page: the HTML extractor, the site rules and the cleaner.
pub fn html(bytes: &[u8]) {
    let _ = article::from_bytes(bytes, "fuzz.html", Some(Path::new("fuzz.html")), &opts());
}

/// Copied text: the text cleaner.
pub fn text(bytes: &[u8]) {
    let _ = article::from_bytes(bytes, "fuzz.txt", Some(Path::new("fuzz.txt")), &opts());
}

/// The HTML nesting bound alone (it must leave a page within bounds unchanged and be idempotent).
pub fn nesting(s: &str) {
    let (once, _) = article::nesting::bound(s);
    let (twice, stats) = article::nesting::bound(&once);
    assert!(
        !stats.any() || twice.len() <= once.len(),
        "bound is not stable"
    );
}

/// The sentence segmenter.
pub fn segment(s: &str) {
    let sentences = article::split_sentences(s);
    // Segmenting never invents text: every sentence is in the input.
    for x in &sentences {
        assert!(!x.is_empty(), "an empty sentence from {s:?}");
    }
}

/// The number and name checks of the summary guard and the translation check: `data` is split into
/// a "source" and a "summary" at the first NUL.
pub fn checks(data: &str) {
    use crate::checks as guard;
    let (source, summary) = data.split_once('\0').unwrap_or((data, ""));
    let _ = guard::check(summary, &[source]);
    let _ = guard::number_mismatches(source, summary);
    let _ = guard::numbers(source);
    let _ = guard::english_place_names(summary);
}

/// A GGUF file: our header walk, then (when it passes) candle's parser on the same bytes, which must
/// then not fail in a way our walk should have caught (a panic or an allocation beyond the file).
pub fn gguf(bytes: &[u8]) {
    let len = bytes.len() as u64;
    if crate::llm::gguf::check_header(&mut Cursor::new(bytes), len).is_ok() {
        let _ = candle_core::quantized::gguf_file::Content::read(&mut Cursor::new(bytes));
    }
}

/// A GGUF file through warta's own loader up to its metadata (architecture, chat template).
pub fn gguf_file(bytes: &[u8]) {
    let path = scratch("model.gguf", bytes);
    if let Ok(g) = crate::llm::gguf::Gguf::open(&path) {
        let arch = g.architecture().unwrap_or_default();
        let template = g.string("tokenizer.chat_template").ok();
        let _ = crate::llm::chat::ChatTemplate::detect(template.as_deref(), &arch, "fuzz");
        let _ = g.strings("tokenizer.ggml.tokens");
        let _ = g.usize(&format!("{arch}.context_length"));
    }
}

/// A `model.safetensors` header and tensors, as candle reads them.
pub fn safetensors(bytes: &[u8]) {
    let _ = candle_core::safetensors::load_buffer(bytes, &candle_core::Device::Cpu);
}

/// One pickle (the state dict of `pytorch_model.bin`) and the tensor layouts in it.
pub fn pickle(bytes: &[u8]) {
    use crate::translate::marian::pickle;
    if let Ok(root) = pickle::read(&mut &bytes[..]) {
        let _ = pickle::state_dict(&root);
    }
}

/// A whole `pytorch_model.bin` (zip or legacy format) as the Marian loader opens it, every tensor read.
pub fn pytorch_bin(bytes: &[u8]) {
    let path = scratch("pytorch_model.bin", bytes);
    crate::translate::marian::fuzz_checkpoint(&path);
}

/// Marian's `config.json` (and the generation settings resolved from it).
pub fn marian_config(bytes: &[u8]) {
    use crate::translate::marian::{GenerationConfig, MarianConfig};
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return;
    };
    if let Ok(config) = serde_json::from_value::<MarianConfig>(json.clone()) {
        if config.validate().is_ok() {
            let _ = GenerationConfig::resolve(&config, &json, None);
        }
    }
}

/// A SentencePiece model (`source.spm`), and encoding a sentence with it.
pub fn spm(bytes: &[u8]) {
    use crate::translate::marian::spm::SentencePiece;
    if let Ok(sp) = SentencePiece::from_bytes(bytes) {
        let pieces = sp.encode("Rusia menghentikan misi diplomatiknya di NATO.");
        let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
        let _ = sp.decode_pieces(&refs);
    }
}

/// Marian's `vocab.json` (with fixed SentencePiece models), through the tokenizer loader.
pub fn marian_vocab(bytes: &[u8], source_spm: &Path, target_spm: &Path) {
    use crate::translate::marian::MarianTokenizer;
    let vocab = scratch("vocab.json", bytes);
    let missing = || {
        Err(crate::translate::marian::MarianError::Model(
            crate::models::ModelError::Invalid {
                path: PathBuf::from("target_vocab.json"),
                reason: "absent".into(),
            },
        ))
    };
    if let Ok(t) = MarianTokenizer::load(source_spm, target_spm, &vocab, None, missing) {
        let ids = t.encode("Rusia menghentikan misi diplomatiknya.");
        let _ = t.decode(&ids);
    }
}

/// A prompt file (`--prompts DIR`): `data` is the text of `summarize.txt`.
pub fn prompt_file(bytes: &[u8]) {
    let dir = scratch_dir("prompts");
    let _ = std::fs::write(dir.join("summarize.txt"), bytes);
    if let Ok(p) = crate::prompts::Prompts::load(Some(&dir)) {
        let _ = p.messages(
            "summarize",
            &[
                ("title", "Judul"),
                ("article", "Isi berita."),
                ("sentences", "3"),
            ],
        );
    }
}

/// A chat template stored in a GGUF, rendered for a short chat.
pub fn chat_template(s: &str) {
    use crate::llm::{chat::ChatTemplate, ChatMessage};
    for arch in ["qwen2", "llama", "gemma3", "other"] {
        if let Ok(t) = ChatTemplate::detect(Some(s), arch, "fuzz") {
            let _ = t.render(&[ChatMessage::system("S"), ChatMessage::user(s)]);
        }
    }
}

/// A glossary file (`--glossary FILE`).
pub fn glossary(bytes: &[u8]) {
    let path = scratch("glossary.tsv", bytes);
    let _ = crate::prompts::glossary::Glossary::load(&[path], false);
}

/// `OUTPUT_DIR/manifest.jsonl` as a resumed batch reads it (torn and hostile lines included).
pub fn manifest(bytes: &[u8]) {
    let dir = scratch_dir("batch");
    let path = dir.join(crate::batch::manifest::FILE_NAME);
    let _ = std::fs::write(&path, bytes);
    if let Ok(opened) = crate::batch::manifest::open_existing(&path) {
        let _ = opened.index.len();
    }
    let _ = crate::batch::manifest::scan(&path, |_, _, _| {});
}

/// `warta eval`'s input reader: `data` split at the first NUL into a hypothesis and a reference.
pub fn eval_input(bytes: &[u8]) {
    let at = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let hyp = scratch("hyp.txt", &bytes[..at]);
    let reference = scratch("ref.txt", bytes.get(at + 1..).unwrap_or_default());
    if let Ok((h, r)) = crate::eval::input::read_pair("hypothesis", &hyp, &reference, None) {
        let _ = crate::eval::score(&h, &r, true);
    }
}

fn scratch_dir(name: &str) -> PathBuf {
    let marker = scratch(&format!("{name}.d"), b"");
    let dir = marker.with_extension("dir");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spin(cpu_s: f64) {
        use crate::llm::generate::thread_cpu_seconds;
        let start = thread_cpu_seconds().unwrap_or(0.0);
        while thread_cpu_seconds().unwrap_or(f64::MAX) - start < cpu_s {
            std::hint::black_box(0u64);
        }
    }

    #[test]
    fn the_budget_counts_cpu_time_not_sleep() {
        // Sleeping costs no CPU, so a frozen or starved fuzzer is not a finding...
        within(0.05, || {
            std::thread::sleep(std::time::Duration::from_millis(200))
        });
        // ...but CPU spent on one input beyond the budget is.
        let spent = std::panic::catch_unwind(|| within(0.05, || spin(0.2)));
        let message = spent.expect_err("over budget");
        let message = message
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert!(message.contains("more than 0.05 s"), "{message}");
    }
}

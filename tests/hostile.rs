//! Hostile inputs through the real binary: pages built to overflow a recursive walk or to make the
//! HTML parser quadratic, model files whose headers claim far more than the file holds, pickles that
//! nest without end or expand exponentially, and an explicitly named LLM that cannot be loaded. Each
//! must end with a result or one clear error naming the file — never a crash. The time limits below
//! are hang detectors (minutes), not speed assertions; memory is measured in the README, not here.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const WARTA: &str = env!("CARGO_BIN_EXE_warta");
const SMOL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/models/SmolLM2-135M-Instruct.Q4_1.gguf"
);
const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/kompas-nato.txt");

fn fixture_model(variant: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/marian")
        .join(variant)
}

/// The binary with an empty, offline Hugging Face home.
fn warta(home: &Path) -> Command {
    let mut cmd = Command::new(WARTA);
    cmd.env("HF_HOME", home.join("hf"))
        .env("HF_HUB_OFFLINE", "1")
        .env_remove("HF_HUB_CACHE")
        .env_remove("WARTA_MODEL")
        .env_remove("WARTA_LLM")
        .stdin(Stdio::null());
    cmd
}

/// Run `cmd`, killing it (and failing) if it runs past `limit`: a hang is a failure, not a wait.
fn run_within(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("warta runs");
    // Drain the pipes in threads so a large output cannot block the child.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut b).ok();
        b
    });
    let err_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut b).ok();
        b
    });
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if started.elapsed() > limit {
            child.kill().ok();
            child.wait().ok();
            panic!("warta ran for more than {limit:?}: {cmd:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: out_t.join().expect("stdout thread"),
        stderr: err_t.join().expect("stderr thread"),
    }
}

const LIMIT: Duration = Duration::from_secs(240);

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// An error that is warta's own: exit 1, one `warta:` message naming `name`, no panic or abort.
fn assert_clear_error(o: &Output, name: &str, says: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.starts_with("warta: "), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("overflowed its stack"),
        "{err}"
    );
    assert!(err.contains(name), "{name:?} not named in: {err}");
    for s in says {
        assert!(err.contains(s), "{s:?} not in: {err}");
    }
}

const SENTENCES: &str = "Pemerintah Kota Bandung meresmikan jembatan penyeberangan baru di kawasan Dago pada Senin pagi. \
Jembatan itu dibangun agar pejalan kaki lebih aman ketika menyeberang jalan yang ramai setiap hari. \
Pembangunan jembatan itu menelan biaya Rp 3,5 miliar dan selesai dalam waktu empat bulan.";

fn clean_json(home: &Path, page: &Path, extra: &[&str]) -> Value {
    let o = run_within(
        warta(home)
            .args(["clean", "--format", "json"])
            .args(extra)
            .arg(page),
        LIMIT,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).expect("JSON")
}

fn body_text(v: &Value) -> String {
    v["paragraphs"]
        .as_array()
        .expect("paragraphs")
        .iter()
        .filter_map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_page_of_a_million_unclosed_bold_tags_cleans_instead_of_overflowing_the_stack() {
    let tmp = tempfile::tempdir().unwrap();
    let page = tmp.path().join("bold.html");
    let mut html = String::from("<html><head><title>Jembatan Baru</title></head><body>");
    html.push_str(&"<b>".repeat(1_500_000));
    html.push_str(&format!("<p>{SENTENCES}</p></body></html>"));
    assert!(html.len() > 4_400_000 && html.len() < 5_000_000);
    std::fs::write(&page, &html).unwrap();
    let v = clean_json(tmp.path(), &page, &[]);
    assert!(
        body_text(&v).contains("Pembangunan jembatan itu menelan biaya"),
        "{v:#}"
    );
    let warnings = v["warnings"].to_string();
    assert!(warnings.contains("nests elements"), "{warnings}");
}

#[test]
fn a_hundred_thousand_nested_divs_clean_in_bounded_time() {
    let tmp = tempfile::tempdir().unwrap();
    let page = tmp.path().join("divs.html");
    let n = 100_000;
    let html = format!(
        "<html><head><title>Jembatan Baru</title></head><body>{}<p>{SENTENCES}</p>{}</body></html>",
        "<div>".repeat(n),
        "</div>".repeat(n)
    );
    std::fs::write(&page, html).unwrap();
    let v = clean_json(tmp.path(), &page, &[]);
    assert!(body_text(&v).contains("Jembatan itu dibangun"), "{v:#}");
}

#[test]
fn fifty_megabytes_of_attributes_are_cut_not_parsed_quadratically() {
    let tmp = tempfile::tempdir().unwrap();
    let page = tmp.path().join("attrs.html");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&page).unwrap());
    write!(
        f,
        "<html><head><title>Jembatan Baru</title></head><body><div"
    )
    .unwrap();
    let mut written = 0;
    let mut i = 0u64;
    while written < 50_000_000 {
        let a = format!(" data-x{i}=\"{i}\"");
        written += a.len();
        f.write_all(a.as_bytes()).unwrap();
        i += 1;
    }
    write!(f, "><p>{SENTENCES}</p></div></body></html>").unwrap();
    drop(f);
    // Over the default --max-bytes: refused by size, naming the file.
    let o = run_within(warta(tmp.path()).args(["clean"]).arg(&page), LIMIT);
    assert_clear_error(&o, "attrs.html", &["--max-bytes"]);
    // Allowed in: the excess attributes are dropped and the article is read.
    let v = clean_json(tmp.path(), &page, &["--max-bytes", "60000000"]);
    assert!(body_text(&v).contains("Jembatan itu dibangun"), "{v:#}");
    assert!(v["warnings"].to_string().contains("attributes"), "{v:#}");
}

/// A 10,000-word "sentence" with no sentence punctuation at all: translated in parts, and summarised
/// in cut passages with a warning that says so. (The summary used to fail with "no sentences", which
/// lost the translation with it.)
#[test]
fn a_ten_thousand_word_sentence_is_translated_in_parts_and_summarised_in_passages() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("long.txt");
    let words = [
        "pemerintah",
        "kota",
        "membangun",
        "jembatan",
        "baru",
        "untuk",
        "warga",
    ];
    let sentence: Vec<&str> = (0..10_000).map(|i| words[i % words.len()]).collect();
    std::fs::write(&input, format!("Judul Berita\n\n{}\n", sentence.join(" "))).unwrap();
    let translate = |format: &str| {
        run_within(
            warta(tmp.path())
                .args(["translate", "--beams", "1", "--summarizer", "extractive"])
                .args(["--format", format, "--model"])
                .arg(fixture_model("tiny-a"))
                .arg(&input),
            LIMIT,
        )
    };
    let o = translate("json");
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let body = v["paragraphs"]
        .as_array()
        .expect("paragraphs")
        .iter()
        .find(|p| p["kind"] == "body")
        .expect("a body paragraph");
    let translation = body["translation"].as_str().expect("translated");
    assert!(
        translation.split_whitespace().count() > 1000,
        "{translation}"
    );
    let warnings = v["warnings"].to_string();
    assert!(warnings.contains("in 128 parts"), "{warnings}");
    // The summary is written from passages of at most 40 words, and says so.
    let summary = v["summary"].as_str().expect("a summary");
    assert_eq!(v["summary_method"], "extractive", "{v:#}");
    let n = summary.split_whitespace().count();
    assert!(n > 0 && n <= 3 * 40, "{n} words: {summary}");
    assert!(summary.ends_with('…'), "{summary}");
    assert!(
        warnings.contains("no sentence of 4 to 80 words")
            && warnings.contains("passages of at most 40 words"),
        "{warnings}"
    );
    // As text: the translation, then the summary; the warning on stderr.
    let o = translate("text");
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let (before, after) = out.split_once("\nSummary\n").expect("a summary section");
    assert!(before.contains(translation), "{out}");
    assert!(after.contains(summary), "{out}");
    assert!(
        stderr(&o).contains("passages of at most 40 words"),
        "{}",
        stderr(&o)
    );
    // Summary only: the Indonesian run-on is cut, only the picked passage is translated.
    let o = run_within(
        warta(tmp.path())
            .args(["summarize", "--summarizer", "extractive", "--model"])
            .arg(fixture_model("tiny-a"))
            .arg(&input),
        LIMIT,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("(extractive summary"), "{out}");
    assert!(
        stderr(&o).contains("runs 10000 words without a full stop"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_explicit_llm_that_cannot_load_is_the_error_not_a_silent_fallback() {
    let tmp = tempfile::tempdir().unwrap();
    // Missing: named as missing, and nothing about the Marian model the fallback would need.
    let o = run_within(
        warta(tmp.path()).current_dir(tmp.path()).args([
            "summarize",
            "--llm",
            "missing.gguf",
            EXAMPLE,
        ]),
        LIMIT,
    );
    assert_clear_error(&o, "missing.gguf", &["no such model file"]);
    assert!(!stderr(&o).contains("config.json"), "{}", stderr(&o));

    // Truncated: named, and said to be cut short.
    let cut = tmp.path().join("cut.gguf");
    let bytes = std::fs::read(SMOL).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let o = run_within(
        warta(tmp.path())
            .args(["summarize", "--llm"])
            .arg(&cut)
            .arg(EXAMPLE),
        LIMIT,
    );
    assert_clear_error(&o, "cut.gguf", &["truncated"]);
    assert!(!stderr(&o).contains("config.json"), "{}", stderr(&o));
}

#[test]
fn the_default_llm_falls_back_and_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    // The default LLM is not cached (offline): extractive summary, with the reason.
    let o = run_within(
        warta(tmp.path())
            .args(["summarize", "--format", "json", "--model"])
            .arg(fixture_model("tiny-a"))
            .arg(EXAMPLE),
        LIMIT,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("default model could not be loaded") && err.contains("qwen2.5"),
        "{err}"
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["summary_method"], "extractive");
    // Neither model there: both reasons, in one error.
    let o = run_within(warta(tmp.path()).args(["summarize", EXAMPLE]), LIMIT);
    assert_clear_error(
        &o,
        "qwen2.5",
        &["no LLM for the summary", "config.json", "Marian"],
    );
}

/// A GGUF header with one tensor of the given dimensions and F32 type, maybe an alignment.
fn gguf(dims: &[u64], alignment: Option<u32>) -> Vec<u8> {
    gguf_with(dims, alignment, &[])
}

/// The same with extra u64 metadata entries.
fn gguf_with(dims: &[u64], alignment: Option<u32>, extra: &[(&str, u64)]) -> Vec<u8> {
    let mut b = Vec::new();
    let s = |b: &mut Vec<u8>, t: &str| {
        b.extend((t.len() as u64).to_le_bytes());
        b.extend(t.as_bytes());
    };
    b.extend(b"GGUF");
    b.extend(3u32.to_le_bytes());
    b.extend(1u64.to_le_bytes()); // tensors
    b.extend((1 + u64::from(alignment.is_some()) + extra.len() as u64).to_le_bytes()); // metadata entries
    s(&mut b, "general.architecture");
    b.extend(8u32.to_le_bytes());
    s(&mut b, "llama");
    if let Some(a) = alignment {
        s(&mut b, "general.alignment");
        b.extend(4u32.to_le_bytes());
        b.extend(a.to_le_bytes());
    }
    for (k, v) in extra {
        s(&mut b, k);
        b.extend(10u32.to_le_bytes());
        b.extend(v.to_le_bytes());
    }
    s(&mut b, "token_embd.weight");
    b.extend((dims.len() as u32).to_le_bytes());
    for d in dims {
        b.extend(d.to_le_bytes());
    }
    b.extend(0u32.to_le_bytes()); // F32
    b.extend(0u64.to_le_bytes()); // offset
    b.resize(b.len() + 4096, 0);
    b
}

#[test]
fn gguf_headers_that_lie_about_sizes_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let layers = [
        ("llama.attention.head_count", 2),
        ("llama.embedding_length", 16),
        ("llama.block_count", 1 << 40),
    ];
    let cases: [(&str, Vec<u8>, &str); 5] = [
        (
            "layers.gguf",
            gguf_with(&[16], None, &layers),
            "implausible model shape",
        ),
        ("huge.gguf", gguf(&[1 << 30, 1 << 30], None), "truncated"),
        ("overflow.gguf", gguf(&[1 << 40, 1 << 40], None), "64 bits"),
        ("align.gguf", gguf(&[16], Some(0)), "alignment"),
        ("dims.gguf", gguf(&[1, 1, 1, 1, 1, 1], None), "dimensions"),
    ];
    for (name, bytes, says) in cases {
        let path = tmp.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let o = run_within(
            warta(tmp.path())
                .args(["summarize", "--llm"])
                .arg(&path)
                .arg(EXAMPLE),
            LIMIT,
        );
        assert_clear_error(&o, name, &[says]);
    }
}

/// A copy of a fixture model with `file` replaced by `bytes` (and the other weights file removed, so
/// that this one is read).
fn model_with(variant: &str, file: &str, bytes: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(fixture_model(variant)).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    let other = if file == "model.safetensors" {
        "pytorch_model.bin"
    } else {
        "model.safetensors"
    };
    std::fs::remove_file(dir.path().join(other)).unwrap();
    std::fs::write(dir.path().join(file), bytes).unwrap();
    dir
}

fn translate_fails(model: &Path, name: &str, says: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("x.txt");
    std::fs::write(&input, "Saya suka makan nasi goreng.\n").unwrap();
    let o = run_within(
        warta(tmp.path())
            .args(["translate", "--raw", "--model"])
            .arg(model)
            .arg(&input),
        LIMIT,
    );
    assert_clear_error(&o, name, says);
}

/// The first pickle of a legacy checkpoint (torch's magic number), then protocol and system info.
const LEGACY_HEAD: [u8; 15] = [
    0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e,
];

fn legacy(state: &[u8]) -> Vec<u8> {
    let mut b = LEGACY_HEAD.to_vec();
    b.extend([0x80, 0x02, b'M', 0xe9, 0x03, b'.']); // protocol version 1001
    b.extend([0x80, 0x02, b'}', b'.']); // system info
    b.extend(state);
    b
}

/// A pickled state dict `{"w": _rebuild_tensor_v2(storage "0" of `numel` floats, 0, size, stride)}`
/// followed by its storage key list and a storage holding `have` floats.
fn legacy_tensor(size: &[u64], numel: u64, have: usize) -> Vec<u8> {
    let mut p = vec![0x80, 0x02, b'}', b'X', 1, 0, 0, 0, b'w'];
    p.extend(b"ctorch._utils\n_rebuild_tensor_v2\n(");
    // persistent id ("storage", FloatStorage, "0", "cpu", numel)
    p.extend(
        b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpu",
    );
    p.push(0x8a);
    p.push(8);
    p.extend(numel.to_le_bytes());
    p.extend(b"tQK\x00(");
    for d in size {
        p.push(0x8a);
        p.push(8);
        p.extend(d.to_le_bytes());
    }
    p.extend(b"t(");
    for _ in size {
        p.extend(b"K\x01");
    }
    p.extend(b"t\x89tR");
    p.extend(b"s.");
    // storage keys ["0"], then the storage: numel as u64, then its floats
    p.extend(b"\x80\x02]X\x01\x00\x00\x000a.");
    p.extend(numel.to_le_bytes());
    p.resize(p.len() + have * 4, 0);
    legacy(&p)
}

#[test]
fn pytorch_checkpoints_that_lie_or_explode_are_refused() {
    // A pickle bomb: one list copied through the memo 2^60 times over.
    let mut bomb = vec![0x80, 0x02, b']', b'q', 0];
    for _ in 0..60 {
        bomb.extend([b'h', 0, b'h', 0, 0x86, b'q', 0]);
    }
    bomb.push(b'.');
    let dir = model_with("tiny-b", "pytorch_model.bin", &legacy(&bomb));
    translate_fails(dir.path(), "pytorch_model.bin", &["pickle bomb"]);

    // Nesting without end.
    let mut deep = vec![0x80, 0x02, b')'];
    for _ in 0..1_000_000 {
        deep.push(0x85); // TUPLE1: one level more
    }
    deep.push(b'.');
    let dir = model_with("tiny-b", "pytorch_model.bin", &legacy(&deep));
    translate_fails(dir.path(), "pytorch_model.bin", &["deep"]);

    // A storage that claims 2^60 floats, in a small file.
    let dir = model_with(
        "tiny-b",
        "pytorch_model.bin",
        &legacy_tensor(&[1 << 30, 1 << 30], 1 << 60, 16),
    );
    translate_fails(
        dir.path(),
        "pytorch_model.bin",
        &["past the end of the file"],
    );

    // A tensor whose shape does not fit in memory at all.
    let dir = model_with(
        "tiny-b",
        "pytorch_model.bin",
        &legacy_tensor(&[1 << 40, 1 << 40], 16, 16),
    );
    translate_fails(dir.path(), "pytorch_model.bin", &["more elements than fit"]);
}

#[test]
fn safetensors_headers_that_lie_are_refused() {
    let header = br#"{"model.shared.weight":{"dtype":"F32","shape":[1152921504606846976],"data_offsets":[0,16]}}"#;
    let mut b = (header.len() as u64).to_le_bytes().to_vec();
    b.extend(header);
    b.extend([0u8; 16]);
    let dir = model_with("tiny-a", "model.safetensors", &b);
    translate_fails(dir.path(), "model.safetensors", &[]);

    // A header length of 2^60.
    let mut b = (1u64 << 60).to_le_bytes().to_vec();
    b.extend(b"{}");
    let dir = model_with("tiny-a", "model.safetensors", &b);
    translate_fails(dir.path(), "model.safetensors", &[]);
}

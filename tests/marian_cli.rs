//! The real binary on the Marian fixtures: `warta translate --raw`, the offline and bad-model errors,
//! and `warta models`.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/marian")
}

/// The binary with an empty, offline Hugging Face home, so nothing can reach the network or a
/// user's cache.
fn warta(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("warta").unwrap();
    cmd.env("HF_HOME", home)
        .env("HF_HUB_OFFLINE", "1")
        .env_remove("HF_HUB_CACHE")
        .env_remove("WARTA_MODEL")
        .env_remove("WARTA_LLM");
    cmd
}

fn expected(variant: &str) -> Value {
    let p = fixtures().join(format!("{variant}.expected.json"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// The fixture inputs that fit on one line, and their recorded 4-beam translations.
fn lines_and_translations(variant: &str) -> (Vec<String>, Vec<String>) {
    let exp = expected(variant);
    exp["translate"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["text"].as_str().unwrap().contains(['\n', '\r']))
        .map(|c| {
            let src = c["text"].as_str().unwrap().to_string();
            let out = if src.trim().is_empty() {
                String::new()
            } else {
                c["beam4"]["text"].as_str().unwrap().to_string()
            };
            (src, out)
        })
        .unzip()
}

#[test]
fn raw_translation_gives_the_recorded_strings_line_for_line() {
    for variant in ["tiny-a", "tiny-b"] {
        let tmp = tempfile::tempdir().unwrap();
        let (lines, want) = lines_and_translations(variant);
        let input = tmp.path().join("in.txt");
        std::fs::write(&input, lines.join("\n") + "\n").unwrap();
        let out = warta(tmp.path())
            .args(["translate", "--raw", "--model"])
            .arg(fixtures().join(variant))
            .arg(&input)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let got = String::from_utf8(out).unwrap();
        assert_eq!(got, want.join("\n") + "\n", "{variant}");
    }
}

#[test]
fn raw_json_output_and_stdin() {
    let tmp = tempfile::tempdir().unwrap();
    let (lines, want) = lines_and_translations("tiny-a");
    let input = format!("{}\n\n{}\n", lines[0], lines[1]);
    let out = warta(tmp.path())
        .args([
            "translate",
            "--raw",
            "--format",
            "json",
            "--batch-size",
            "1",
            "--model",
        ])
        .arg(fixtures().join("tiny-a"))
        .arg("-")
        .write_stdin(input)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    let got: Vec<&str> = v["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(got, [want[0].as_str(), "", want[1].as_str()]);
    assert_eq!(v["translator"], "marian");
    assert!(v["model"].as_str().unwrap().ends_with("tiny-a"));
    for key in ["load_s", "translate_s", "total_s", "lines_per_s"] {
        assert!(v["timings"][key].as_f64().unwrap() >= 0.0, "{key}");
    }
}

#[test]
fn offline_without_the_default_model_is_one_clear_line() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("x.txt");
    std::fs::write(&input, "Saya suka makan nasi goreng.\n").unwrap();
    let out = warta(tmp.path())
        .args(["translate", "--raw"])
        .arg(&input)
        .assert()
        .failure()
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let cache = tmp.path().join("hub");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("Helsinki-NLP/opus-mt-id-en"), "{stderr}");
    assert!(stderr.contains("config.json"), "{stderr}");
    assert!(stderr.contains(&cache.display().to_string()), "{stderr}");
    assert!(out.stdout.is_empty());
}

/// A copy of a fixture model to break.
fn model_copy(variant: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(fixtures().join(variant)).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    dir
}

fn fails_cleanly(model: &Path, needles: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("x.txt");
    std::fs::write(&input, "Saya suka makan nasi goreng.\n").unwrap();
    let out = warta(tmp.path())
        .args(["translate", "--raw", "--model"])
        .arg(model)
        .arg(&input)
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "{n:?} not in {stderr}");
    }
}

#[test]
fn broken_model_directories_give_clear_errors() {
    let dir = model_copy("tiny-b");
    std::fs::remove_file(dir.path().join("vocab.json")).unwrap();
    fails_cleanly(
        dir.path(),
        &["vocab.json", &dir.path().display().to_string()],
    );

    let dir = model_copy("tiny-b");
    std::fs::write(dir.path().join("config.json"), "{\"d_model\": 24,").unwrap();
    fails_cleanly(dir.path(), &["config.json", "bad JSON"]);

    let dir = model_copy("tiny-b");
    std::fs::write(dir.path().join("config.json"), "{\"d_model\": 25}").unwrap();
    fails_cleanly(dir.path(), &["config.json", "divisible"]);

    let dir = model_copy("tiny-b");
    let st = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&st).unwrap();
    std::fs::write(&st, &bytes[..bytes.len() / 2]).unwrap();
    fails_cleanly(dir.path(), &["model.safetensors"]);

    let dir = model_copy("tiny-a");
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    let bin = dir.path().join("pytorch_model.bin");
    let bytes = std::fs::read(&bin).unwrap();
    std::fs::write(&bin, &bytes[..bytes.len() / 3]).unwrap();
    fails_cleanly(dir.path(), &["pytorch_model.bin"]);

    let dir = model_copy("tiny-a");
    std::fs::write(dir.path().join("source.spm"), b"\x0a\xff\xff").unwrap();
    fails_cleanly(dir.path(), &["source.spm", "SentencePiece"]);

    let dir = model_copy("tiny-a");
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    std::fs::remove_file(dir.path().join("pytorch_model.bin")).unwrap();
    fails_cleanly(dir.path(), &["model.safetensors", "pytorch_model.bin"]);

    fails_cleanly(
        &fixtures().join("no-such-model"),
        &["no-such-model", "no such model directory"],
    );
}

#[test]
fn models_lists_files_cache_and_offline_state() {
    let tmp = tempfile::tempdir().unwrap();
    let out = warta(tmp.path())
        .args(["models", "--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["cache_dir"], tmp.path().join("hub").display().to_string());
    assert!(v["cache_from"].as_str().unwrap().starts_with("HF_HOME"));
    assert_eq!(v["offline"], true);
    let marian = &v["models"][0];
    assert_eq!(marian["id"], "Helsinki-NLP/opus-mt-id-en");
    assert!(marian["files"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["present"] == false));
    assert_eq!(v["models"][1]["role"], "llm");

    // A local model directory: every file present, with its size.
    let out = warta(tmp.path())
        .args(["models", "--model"])
        .arg(fixtures().join("tiny-a"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("model.safetensors") && text.contains("source.spm"),
        "{text}"
    );
    let marian_block = text.split("LLM").next().unwrap();
    assert!(!marian_block.contains("MISSING"), "{text}");

    // --fetch offline cannot fetch: a clear error naming the file and the cache.
    let out = warta(tmp.path())
        .args(["models", "--fetch"])
        .assert()
        .failure()
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("config.json") && stderr.contains("offline"),
        "{stderr}"
    );
}

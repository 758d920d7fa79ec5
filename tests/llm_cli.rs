//! The LLM engine through the real binary: `warta bench --engine llm` on the CI model, and the errors
//! a user sees for files that are not usable models.

use assert_cmd::Command;
use predicates::prelude::*;

const SMOLLM2: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/models/SmolLM2-135M-Instruct.Q4_1.gguf"
);

fn warta() -> Command {
    let mut c = Command::cargo_bin("warta").unwrap();
    c.env("HF_HUB_OFFLINE", "1");
    c
}

#[test]
fn bench_reports_prefill_and_generation_speed() {
    let out = warta()
        .args([
            "bench",
            "--engine",
            "llm",
            "--llm",
            SMOLLM2,
            "--threads",
            "2",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["threads"], 2);
    assert_eq!(v["generated_tokens"], 64);
    assert!(v["prompt_tokens"].as_u64().unwrap() > 500, "{v}");
    assert!(v["prefill_tokens_per_second"].as_f64().unwrap() > 0.0);
    assert!(v["generation_tokens_per_second"].as_f64().unwrap() > 0.0);
    assert!(v["prompt"].as_str().unwrap().contains("<|im_start|>user"));
    assert!(!v["text"].as_str().unwrap().trim().is_empty());
}

#[test]
fn a_file_that_is_not_gguf_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let bogus = tmp.path().join("model.gguf");
    std::fs::write(&bogus, "<!DOCTYPE html><title>404</title>").unwrap();
    warta()
        .args(["bench", "--engine", "llm", "--llm", bogus.to_str().unwrap()])
        .assert()
        .failure()
        .stderr(predicate::str::contains("model.gguf").and(predicate::str::contains("not a GGUF")));
}

#[test]
fn a_truncated_gguf_is_named() {
    let bytes = std::fs::read(SMOLLM2).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let cut = tmp.path().join("cut.gguf");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    warta()
        .args(["bench", "--engine", "llm", "--llm", cut.to_str().unwrap()])
        .assert()
        .failure()
        .stderr(predicate::str::contains("cut.gguf").and(predicate::str::contains("truncated")));
}

#[test]
fn a_missing_model_file_is_named() {
    warta()
        .args([
            "bench",
            "--engine",
            "llm",
            "--llm",
            "/nonexistent/model.gguf",
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains("/nonexistent/model.gguf"));
}

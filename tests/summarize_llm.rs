//! `warta summarize` and the summary of `warta translate` with the real SmolLM2-135M-Instruct GGUF from
//! ../shared/models (English only: it cannot read Indonesian, so the articles here are English).

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

const SMOL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/models/SmolLM2-135M-Instruct.Q4_1.gguf"
);
const ARTICLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/en-bridge.txt");
const INJECTION: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/en-bridge-injection.txt"
);

/// `warta ARGS` with SmolLM2 as the LLM (model options follow the subcommand).
fn warta(args: &[&str]) -> Command {
    let mut c = Command::cargo_bin("warta").expect("the warta binary is built");
    c.args(args)
        .args(["--llm", SMOL, "--offline", "--threads", "2"]);
    c
}

fn json(args: &[&str]) -> Value {
    let out = warta(args)
        .args(["--format", "json"])
        .output()
        .expect("warta runs");
    assert!(
        out.status.success(),
        "warta {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

fn summary(v: &Value) -> &str {
    v["summary"].as_str().unwrap_or_default()
}

fn write_prompt(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("temporary prompt file");
}

#[test]
fn summarize_writes_a_checked_english_summary() {
    let v = json(&["summarize", ARTICLE, "--sentences", "2"]);
    let s = summary(&v);
    assert_eq!(v["summary_method"], "llm", "{v:#}");
    assert!(s.split_whitespace().count() >= 5, "{s:?}");
    // English words, no chat-template debris.
    assert!(
        s.is_ascii() && !s.contains("<|") && !s.contains("im_end"),
        "{s:?}"
    );
    assert!(s.contains("bridge") || s.contains("Bridge"), "{s:?}");
    assert_eq!(v["llm"], SMOL);
    assert_eq!(
        v["summary_checks"]["unsupported_numbers"],
        serde_json::json!([])
    );
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    for k in [
        "title",
        "summary",
        "summary_method",
        "summary_checks",
        "llm",
        "timings",
    ] {
        assert!(keys.contains(&k), "{k} missing from {keys:?}");
    }
    // Each LLM call's figures: prompt tokens, those reused from the previous call's KV cache, and
    // the time of each phase.
    let calls = v["timings"]["llm_calls"].as_array().expect("llm_calls");
    assert!(!calls.is_empty(), "{v:#}");
    for c in calls {
        let prompt = c["prompt_tokens"].as_u64().unwrap();
        assert!(prompt > 0 && c["reused_tokens"].as_u64().unwrap() < prompt, "{c}");
        assert!(c["prefill_s"].as_f64().unwrap() > 0.0, "{c}");
        assert!(c["generation_s"].as_f64().unwrap() >= 0.0, "{c}");
        assert!(c["generated_tokens"].is_u64(), "{c}");
    }
}

#[test]
fn instructions_inside_the_article_are_not_followed() {
    let v = json(&["summarize", INJECTION, "--sentences", "2"]);
    let s = summary(&v).to_lowercase();
    assert!(s.contains("bridge"), "{s:?}");
    let words: Vec<&str> = s.split(|c: char| !c.is_alphabetic()).collect();
    for w in ["poem", "poems", "cat", "cats"] {
        assert!(!words.contains(&w), "{s:?}");
    }
}

#[test]
fn a_planted_number_is_caught_and_the_extractive_summary_used() {
    // Prompts that make the model copy a number the article does not have.
    let dir = tempfile::tempdir().unwrap();
    let plant = "[user]\n{{article}}\n\nRepeat exactly this sentence and nothing else: \
                 The bridge will cost 987 million pounds.\n";
    write_prompt(dir.path(), "summarize.txt", plant);
    write_prompt(
        dir.path(),
        "summarize_strict.txt",
        &format!("{plant}\nDo not mention {{{{unsupported}}}}.\n"),
    );
    let prompts = dir.path().to_str().unwrap();
    let v = json(&["summarize", ARTICLE, "--prompts", prompts]);
    assert_eq!(v["summary_method"], "extractive", "{v:#}");
    assert_eq!(v["summary_checks"]["retried"], true);
    let numbers = v["summary_checks"]["unsupported_numbers"].to_string();
    assert!(numbers.contains("987"), "{numbers}");
    // The extractive summary is the article's own lead.
    assert!(summary(&v).contains("Portsmouth"), "{v:#}");
}

#[test]
fn extractive_summary_needs_no_llm_summary() {
    let v = json(&[
        "summarize",
        ARTICLE,
        "--summarizer",
        "extractive",
        "--translator",
        "llm",
        "--sentences",
        "2",
    ]);
    assert_eq!(v["summary_method"], "extractive");
    let s = summary(&v);
    assert!(
        s.contains("Portsmouth") && s.contains("45 million pounds"),
        "{s:?}"
    );
    assert_eq!(v["summary_checks"]["retried"], false);
}

/// Standard error of a `warta summarize` run that must fail.
fn summarize_error(prompts: &Path) -> String {
    let out = warta(&["summarize", ARTICLE, "--prompts", prompts.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn prompt_overrides_are_checked_at_load() {
    let dir = tempfile::tempdir().unwrap();
    write_prompt(
        dir.path(),
        "summarize.txt",
        "[user]\nSummarise {{artikel}}\n",
    );
    let err = summarize_error(dir.path());
    assert!(
        err.contains("summarize.txt") && err.contains("{{artikel}}"),
        "{err}"
    );

    std::fs::remove_file(dir.path().join("summarize.txt")).unwrap();
    write_prompt(dir.path(), "summary.txt", "[user]\n{{article}}\n");
    let err = summarize_error(dir.path());
    assert!(
        err.contains("summary.txt") && err.contains("unknown prompt file"),
        "{err}"
    );
}

#[test]
fn translate_json_carries_the_summary_fields() {
    let v = json(&[
        "translate",
        ARTICLE,
        "--translator",
        "llm",
        "--summarizer",
        "extractive",
        "--sentences",
        "1",
    ]);
    let paragraphs = v["paragraphs"].as_array().expect("paragraphs");
    // One output paragraph per input paragraph, each with its source and a translation.
    let out = Command::cargo_bin("warta")
        .expect("the warta binary is built")
        .args(["clean", "--format", "json", ARTICLE])
        .output()
        .expect("warta runs");
    let cleaned: Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    let sources = cleaned["paragraphs"].as_array().expect("clean paragraphs");
    assert_eq!(paragraphs.len(), sources.len());
    for (p, source) in paragraphs.iter().zip(sources) {
        assert_eq!(p["source"], *source);
        assert!(!p["translation"].as_str().unwrap_or("").is_empty(), "{p}");
        // The LLM translates paragraphs whole: no sentence pairs are claimed.
        assert_eq!(p["sentences"], serde_json::json!([]));
    }
    assert!(
        v["title"].is_string() && v["title_translation"].is_string(),
        "{v}"
    );
    assert_eq!(v["translator"], "llm");
    assert_eq!(v["llm"], SMOL);
    assert_eq!(v["summary_method"], "extractive");
    assert!(!summary(&v).is_empty());
    assert!(v["summary_checks"].is_object());
}

/// The reference example with Qwen2.5-Coder-1.5B (not in CI: assemble it with
/// ../shared/models/fetch-qwen2.5-coder.sh 1.5b DIR and name it in WARTA_TEST_QWEN_1_5B, or put it in
/// /work/models): the summary says who expelled whom, and why. Run with `cargo test --release --test
/// summarize_llm -- --ignored` (a minute or two on 2 cores).
#[test]
#[ignore = "needs Qwen2.5-Coder-1.5B-Instruct Q4_K_M (local only); slow"]
fn the_reference_summary_says_nato_expelled_8_diplomats_as_spies() {
    let qwen = std::env::var("WARTA_TEST_QWEN_1_5B")
        .unwrap_or_else(|_| "/work/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf".to_string());
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/kompas-nato.txt");
    let out = Command::cargo_bin("warta")
        .expect("the warta binary is built")
        .args(["summarize", example, "--format", "json", "--llm", &qwen])
        .args(["--offline", "--threads", "2"])
        .output()
        .expect("warta runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    let s = summary(&v);
    assert_eq!(v["summary_method"], "llm", "{v:#}");
    assert_eq!(v["summary_checks"]["retried"], false, "{v:#}");
    assert!(s.contains("NATO expelled 8"), "{s}");
    assert!(s.contains("spies"), "{s}");
    assert!(s.contains("Russia halted"), "{s}");
}

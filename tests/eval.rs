//! `warta eval --hyp … --ref …` end to end: the binary's scores on the committed fixtures equal
//! sacreBLEU 2.6.0's (recorded in tests/fixtures/eval/expected.json by scripts/eval-fixtures.py), and
//! its errors and formats are what a user needs.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eval")
}

fn expected() -> Value {
    let text = std::fs::read_to_string(fixtures().join("expected.json"))
        .expect("expected.json is committed");
    serde_json::from_str(&text).expect("expected.json is valid JSON")
}

fn warta() -> Command {
    Command::cargo_bin("warta").expect("the warta binary builds")
}

fn eval_json(hyp: &Path, reference: &Path, extra: &[&str]) -> Value {
    let out = warta()
        .args(["eval", "--format", "json", "--hyp"])
        .arg(hyp)
        .arg("--ref")
        .arg(reference)
        .args(extra)
        .output()
        .expect("warta runs");
    assert!(
        out.status.success(),
        "warta eval failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("warta eval --format json prints JSON")
}

/// Scores as sacreBLEU prints them with `-w 2`.
fn printed(x: &Value) -> String {
    format!("{:.2}", x.as_f64().expect("a number"))
}

#[test]
fn scores_equal_sacrebleu_on_every_fixture() {
    let expected = expected();
    for case in expected["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let mut extra = vec!["--per-sentence".to_string()];
        if let Some(limit) = case["limit"].as_u64() {
            extra.extend(["--limit".to_string(), limit.to_string()]);
        }
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let dir = fixtures();
        let got = eval_json(
            &dir.join(case["hyp"].as_str().unwrap()),
            &dir.join(case["ref"].as_str().unwrap()),
            &extra,
        );

        assert_eq!(got["lines"], case["lines"], "{name}");
        for metric in ["bleu", "chrf", "chrf_pp"] {
            // Rounded exactly as sacreBLEU prints, and within 1e-9 before rounding.
            assert_eq!(
                printed(&got[metric]),
                case[metric]["printed"].as_str().unwrap(),
                "{name} {metric}"
            );
            let unrounded = if metric == "bleu" {
                &got["details"]["bleu"]["score"]
            } else {
                &got["details"][metric]
            };
            let diff =
                (unrounded.as_f64().unwrap() - case[metric]["score"].as_f64().unwrap()).abs();
            assert!(diff < 1e-9, "{name} {metric}: off by {diff}");
            assert_eq!(
                got["signature"][metric], case[metric]["signature"],
                "{name} {metric}"
            );
        }
        assert_eq!(
            got["signature"]["sentence_bleu"], case["sentence_bleu_signature"],
            "{name}"
        );
        let sentences = got["sentences"].as_array().unwrap();
        let want = case["sentences"].as_array().unwrap();
        assert_eq!(sentences.len(), want.len(), "{name}");
        for (i, (s, w)) in sentences.iter().zip(want).enumerate() {
            assert_eq!(s["line"], i + 1);
            for (k, metric) in ["bleu", "chrf", "chrf_pp"].iter().enumerate() {
                assert_eq!(
                    printed(&s[metric]),
                    printed(&w[k]),
                    "{name} line {} {metric}",
                    i + 1
                );
            }
        }
    }
}

#[test]
fn json_report_has_the_documented_fields() {
    let dir = fixtures();
    let got = eval_json(
        &dir.join("tatoeba.light.hyp"),
        &dir.join("tatoeba.ref"),
        &[],
    );
    for key in [
        "bleu",
        "chrf",
        "chrf_pp",
        "signature",
        "lines",
        "translator",
        "model",
        "timings",
        "files",
        "details",
    ] {
        assert!(got.get(key).is_some(), "missing {key}");
    }
    assert!(
        got.get("sentences").is_none(),
        "sentences only with --per-sentence"
    );
    assert_eq!(
        (&got["translator"], &got["model"]),
        (&Value::Null, &Value::Null)
    );
    let timings = &got["timings"];
    assert!(timings["total_s"].as_f64().unwrap() >= 0.0);
    assert_eq!(timings["translate_s"], Value::Null);
    assert_eq!(timings["target_tokens"], got["details"]["bleu"]["hyp_len"]);
    assert!(got["files"]["ref"]
        .as_str()
        .unwrap()
        .ends_with("tatoeba.ref"));
}

#[test]
fn text_and_markdown_show_scores_and_signatures() {
    let dir = fixtures();
    let run = |format: &str| {
        let out = warta()
            .args(["eval", "--format", format, "--hyp"])
            .arg(dir.join("edge-identical.hyp"))
            .arg("--ref")
            .arg(dir.join("edge-identical.ref"))
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let text = run("text");
    assert!(
        text.contains(
            "BLEU     100.00  nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "chrF2++  100.00  nrefs:1|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.6.0"
        ),
        "{text}"
    );
    assert!(
        text.contains("(BP = 1.000 ratio = 1.000 hyp_len = 11 ref_len = 11)"),
        "{text}"
    );
    let markdown = run("markdown");
    assert!(
        markdown.starts_with("| metric | score | signature |\n|---|---:|---|\n| BLEU | 100.00 |"),
        "{markdown}"
    );
    assert!(markdown.contains(
        "| chrF2 | 100.00 | `nrefs:1\\|case:mixed\\|eff:yes\\|nc:6\\|nw:0\\|space:no\\|version:2.6.0` |"
    ));
}

#[test]
fn output_file_gets_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("scores.json");
    warta()
        .args(["eval", "--format", "json", "-o"])
        .arg(&out)
        .arg("--hyp")
        .arg(fixtures().join("edge-identical.hyp"))
        .arg("--ref")
        .arg(fixtures().join("edge-identical.ref"))
        .assert()
        .success()
        .stdout("");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
    assert_eq!(report["bleu"], 100.0);
}

#[test]
fn mismatched_line_counts_name_both_files_and_counts() {
    let dir = fixtures();
    warta()
        .args(["eval", "--hyp"])
        .arg(dir.join("edge-numbers.hyp"))
        .arg("--ref")
        .arg(dir.join("edge-crlf.ref"))
        .assert()
        .failure()
        .stderr(
            predicate::str::contains("edge-numbers.hyp has 5 lines")
                .and(predicate::str::contains("edge-crlf.ref has 3"))
                .and(predicate::str::contains("line counts differ")),
        );
    // With --limit, only the first N lines of each must pair up.
    warta()
        .args(["eval", "--limit", "3", "--hyp"])
        .arg(dir.join("edge-numbers.hyp"))
        .arg("--ref")
        .arg(dir.join("edge-crlf.ref"))
        .assert()
        .success();
}

#[test]
fn unreadable_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let latin1 = dir.path().join("latin1.txt");
    std::fs::write(&latin1, b"caf\xe9\n").unwrap();
    let reference = fixtures().join("edge-single-line.ref");
    warta()
        .args(["eval", "--hyp"])
        .arg(&latin1)
        .arg("--ref")
        .arg(&reference)
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "latin1.txt is not valid UTF-8 (line 1)",
        ));
    warta()
        .args(["eval", "--hyp"])
        .arg(dir.path().join("nope.txt"))
        .arg("--ref")
        .arg(&reference)
        .assert()
        .failure()
        .stderr(predicate::str::contains("cannot read").and(predicate::str::contains("nope.txt")));
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    warta()
        .args(["eval", "--hyp"])
        .arg(&empty)
        .arg("--ref")
        .arg(&empty)
        .assert()
        .failure()
        .stderr(predicate::str::contains("empty.txt has no lines to score"));
}

#[test]
fn hyp_and_src_exclude_each_other() {
    let dir = fixtures();
    let file = dir.join("edge-single-line.ref");
    warta()
        .args(["eval", "--ref"])
        .arg(&file)
        .assert()
        .failure();
    warta()
        .args(["eval", "--hyp"])
        .arg(&file)
        .arg("--src")
        .arg(&file)
        .arg("--ref")
        .arg(&file)
        .assert()
        .failure();
    warta()
        .args(["eval", "--save-hyp", "x.txt", "--hyp"])
        .arg(&file)
        .arg("--ref")
        .arg(&file)
        .assert()
        .failure();
}

#[test]
fn hypotheses_can_come_from_stdin() {
    let reference = fixtures().join("edge-identical.ref");
    let text = std::fs::read_to_string(&reference).unwrap();
    let out = warta()
        .args(["eval", "--format", "json", "--hyp", "-", "--ref"])
        .arg(&reference)
        .write_stdin(text)
        .output()
        .unwrap();
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["bleu"], 100.0);
}

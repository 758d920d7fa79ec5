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

/// Run to success and return standard output.
fn stdout_of(cmd: &mut Command) -> Vec<u8> {
    cmd.assert().success().get_output().stdout.clone()
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
        let out = stdout_of(
            warta(tmp.path())
                .args(["translate", "--raw", "--no-guard", "--model"])
                .arg(fixtures().join(variant))
                .arg(&input),
        );
        let got = String::from_utf8(out).unwrap();
        assert_eq!(got, want.join("\n") + "\n", "{variant}");
    }
}

/// `--dtype`: q8_0 on tiny-b (no layer fits its 32-wide blocks) keeps f32, so the recorded strings,
/// and says so on stderr; an unknown type is refused with the accepted names.
#[test]
fn dtype_option() {
    let tmp = tempfile::tempdir().unwrap();
    let (lines, want) = lines_and_translations("tiny-b");
    let input = tmp.path().join("in.txt");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let with_dtype = |dtype: &str| {
        warta(tmp.path())
            .args(["translate", "--raw", "--dtype", dtype, "--model"])
            .arg(fixtures().join("tiny-b"))
            .arg(&input)
            .assert()
    };
    let out = with_dtype("q8_0").success();
    let out = out.get_output();
    assert_eq!(String::from_utf8_lossy(&out.stdout), want.join("\n") + "\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("linear layers stay f32"), "{err}");
    let refused = with_dtype("q4").failure();
    let err = String::from_utf8_lossy(&refused.get_output().stderr).to_string();
    assert!(err.contains("f32, bf16, f16, q8_0"), "{err}");
}

#[test]
fn raw_json_output_and_stdin() {
    let tmp = tempfile::tempdir().unwrap();
    let (lines, want) = lines_and_translations("tiny-a");
    let input = format!("{}\n\n{}\n", lines[0], lines[1]);
    let out = stdout_of(
        warta(tmp.path())
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
            .write_stdin(input),
    );
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

    // Weights cut short: safetensors, a zip pytorch_model.bin (tiny-a), a legacy one (tiny-b).
    let cut = |variant: &str, file: &str, at: &dyn Fn(usize) -> usize| {
        let dir = model_copy(variant);
        if file != "model.safetensors" {
            std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
        }
        let path = dir.path().join(file);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..at(bytes.len())]).unwrap();
        fails_cleanly(dir.path(), &[file]);
    };
    cut("tiny-b", "model.safetensors", &|n| n / 2);
    cut("tiny-a", "pytorch_model.bin", &|n| n / 3);
    for at in [20, 5000] {
        cut("tiny-b", "pytorch_model.bin", &|_| at);
    }
    cut("tiny-b", "pytorch_model.bin", &|n| n - 100);

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
    let out = stdout_of(warta(tmp.path()).args(["models", "--format", "json"]));
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
    let out = stdout_of(
        warta(tmp.path())
            .args(["models", "--model"])
            .arg(fixtures().join("tiny-a")),
    );
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

/// A minimal stand-in for the Hugging Face Hub on loopback: `GET /{repo}/resolve/{rev}/{file}` with
/// the headers hf-hub reads (etag, x-repo-commit, content-range), ranges honoured, 404 for files the
/// repo does not have. Serves `dir` as `repo`; counts requests per file.
fn serve_repo(
    dir: PathBuf,
    repo: &'static str,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(200) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            let mut range: (usize, Option<usize>) = (0, None);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(r) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
                    let (a, b) = r.trim().split_once('-').unwrap_or(("0", ""));
                    range = (a.parse().unwrap_or(0), b.parse().ok());
                }
                if request.is_empty() {
                    request = line;
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
            let prefix = format!("/{repo}/resolve/main/");
            let file = path.strip_prefix(&prefix).map(str::to_string);
            let body = file.as_ref().and_then(|f| std::fs::read(dir.join(f)).ok());
            seen.lock().unwrap().push(path.clone());
            let response = match body {
                Some(body) => {
                    use std::hash::{Hash, Hasher};
                    let mut h = std::collections::hash_map::DefaultHasher::new();
                    body.hash(&mut h);
                    let start = range.0.min(body.len());
                    let end = range
                        .1
                        .unwrap_or(usize::MAX)
                        .min(body.len().saturating_sub(1));
                    let part = body.get(start..=end).unwrap_or(&[]);
                    let range_start = start;
                    let mut head = format!(
                        "HTTP/1.1 206 Partial Content\r\netag: \"{:016x}\"\r\nx-repo-commit: \
                         0123456789abcdef0123456789abcdef01234567\r\ncontent-range: bytes {range_start}-{end}/{}\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n",
                        h.finish(),
                        body.len(),
                        part.len()
                    )
                    .into_bytes();
                    head.extend_from_slice(part);
                    head
                }
                None => b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    .to_vec(),
            };
            let _ = stream.write_all(&response);
        }
    });
    (url, log)
}

/// First run with network access: the default model is downloaded into the cache (here from a
/// loopback stand-in for the Hub serving a fixture model as Helsinki-NLP/opus-mt-id-en, with
/// pytorch_model.bin and no model.safetensors, like the real repo); later runs work offline from the
/// cache, and `warta models` shows the cached files.
#[test]
fn first_run_downloads_the_default_model_then_works_offline() {
    let repo_dir = model_copy("tiny-a");
    std::fs::remove_file(repo_dir.path().join("model.safetensors")).unwrap();
    let (endpoint, log) = serve_repo(repo_dir.path().to_path_buf(), "Helsinki-NLP/opus-mt-id-en");
    let home = tempfile::tempdir().unwrap();
    let (lines, want) = lines_and_translations("tiny-a");
    let input = home.path().join("in.txt");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let want = want.join("\n") + "\n";

    let online = || {
        let mut cmd = warta(home.path());
        cmd.env_remove("HF_HUB_OFFLINE")
            .env("HF_ENDPOINT", &endpoint);
        cmd
    };
    let out = stdout_of(online().args(["translate", "--raw", "--no-guard"]).arg(&input));
    assert_eq!(String::from_utf8(out).unwrap(), want);
    let requested = log.lock().unwrap().clone();
    assert!(
        requested.iter().any(|p| p.ends_with("/model.safetensors")),
        "{requested:?}"
    );
    assert!(
        requested.iter().any(|p| p.ends_with("/pytorch_model.bin")),
        "{requested:?}"
    );

    // Offline now: everything comes from the cache, nothing is requested.
    let before = log.lock().unwrap().len();
    let out = stdout_of(warta(home.path()).args(["translate", "--raw", "--no-guard"]).arg(&input));
    assert_eq!(String::from_utf8(out).unwrap(), want);
    assert_eq!(log.lock().unwrap().len(), before);

    let out = stdout_of(warta(home.path()).args(["models", "--format", "json"]));
    let v: Value = serde_json::from_slice(&out).unwrap();
    let files = v["models"][0]["files"].as_array().unwrap();
    let weights = files
        .iter()
        .find(|f| f["name"] == "pytorch_model.bin")
        .unwrap();
    assert_eq!(weights["present"], true);
    let size = std::fs::metadata(repo_dir.path().join("pytorch_model.bin"))
        .unwrap()
        .len();
    assert_eq!(weights["size"], size);
    assert!(weights["path"]
        .as_str()
        .unwrap()
        .starts_with(&home.path().join("hub").display().to_string()));
}

/// The JSON of `warta translate` on the reference article: every cleaned paragraph in order, with its
/// sentence pairs, and each sentence translated exactly as it is on its own (`--raw`).
#[test]
fn article_json_pairs_every_sentence_with_its_translation() {
    let home = tempfile::tempdir().unwrap();
    let model = fixtures().join("tiny-a");
    let article = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kompas-nato.txt");
    let out = stdout_of(
        warta(home.path())
            .args([
                "translate",
                "--format",
                "json",
                "--beams",
                "1",
                "--summarizer",
                "extractive",
            ])
            .arg("--model")
            .arg(&model)
            .arg(&article),
    );
    let v: Value = serde_json::from_slice(&out).unwrap();
    let cleaned: Value = serde_json::from_slice(&stdout_of(
        warta(home.path())
            .args(["clean", "--format", "json"])
            .arg(&article),
    ))
    .unwrap();
    let paragraphs = v["paragraphs"].as_array().unwrap();
    let sources = cleaned["paragraphs"].as_array().unwrap();
    assert_eq!(paragraphs.len(), sources.len());
    assert_eq!(v["title"], cleaned["title"]);
    assert!(v["title_translation"].is_string(), "{v}");

    let mut sentences = Vec::new();
    let mut translations = Vec::new();
    for (p, source) in paragraphs.iter().zip(sources) {
        assert_eq!(p["source"], *source);
        let pairs = p["sentences"].as_array().unwrap();
        assert!(!pairs.is_empty(), "{p}");
        let joined: Vec<&str> = pairs
            .iter()
            .map(|s| s["translation"].as_str().unwrap())
            .collect();
        assert_eq!(p["translation"].as_str().unwrap(), joined.join(" "));
        for s in pairs {
            sentences.push(s["source"].as_str().unwrap().to_string());
            translations.push(s["translation"].as_str().unwrap().to_string());
        }
    }
    let input = home.path().join("sentences.txt");
    std::fs::write(&input, sentences.join("\n") + "\n").unwrap();
    let raw = stdout_of(
        warta(home.path())
            .args(["translate", "--raw", "--beams", "1", "--model"])
            .arg(&model)
            .arg(&input),
    );
    let raw = String::from_utf8(raw).unwrap();
    assert_eq!(raw.lines().collect::<Vec<_>>(), translations);
}

/// The repetition guard on the real binary: tiny-a's greedy translation of this sentence loops
/// ("The wort accccccccccccccccyyyyyy.", recorded from transformers). By default it stops after the
/// loop's first occurrence and says so on stderr and in the JSON warnings; `--no-guard` gives the
/// recorded output; a sentence that does not loop is translated the same either way.
#[test]
fn repetition_guard_stops_a_loop_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = expected("tiny-a");
    let recorded = |src: &str| -> String {
        exp["translate"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["text"] == src)
            .map(|c| c["greedy"]["text"].as_str().unwrap().to_string())
            .unwrap()
    };
    let looping = "Kucing itu tidur di atas meja.";
    let plain = "Saya suka makan nasi goreng.";
    let input = tmp.path().join("in.txt");
    std::fs::write(&input, format!("{looping}\n{plain}\n")).unwrap();
    let run = |extra: &[&str]| {
        let out = warta(tmp.path())
            .args(["translate", "--raw", "--beams", "1", "--format", "json", "--model"])
            .arg(fixtures().join("tiny-a"))
            .args(extra)
            .arg(&input)
            .assert()
            .success()
            .get_output()
            .clone();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        (v, String::from_utf8(out.stderr).unwrap())
    };
    let (guarded, stderr) = run(&[]);
    let lines = guarded["lines"].as_array().unwrap();
    let want_loop = recorded(looping);
    assert!(want_loop.contains("cccccccccccccccc"), "{want_loop}");
    let cut = lines[0].as_str().unwrap();
    assert!(
        want_loop.starts_with(cut) && cut.len() < want_loop.len() && !cut.contains("cc"),
        "{cut:?} vs {want_loop:?}"
    );
    assert_eq!(lines[1].as_str().unwrap(), recorded(plain));
    assert!(stderr.contains("repeating itself"), "{stderr}");
    let warnings: Vec<&str> = guarded["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert!(
        warnings.iter().any(|w| w.contains("segment 1") && w.contains("repeating itself")),
        "{warnings:?}"
    );
    assert!(!warnings.iter().any(|w| w.contains("segment 2")), "{warnings:?}");

    let (unguarded, stderr) = run(&["--no-guard"]);
    let lines = unguarded["lines"].as_array().unwrap();
    assert_eq!(lines[0].as_str().unwrap(), want_loop);
    assert_eq!(lines[1].as_str().unwrap(), recorded(plain));
    assert!(!stderr.contains("repeating itself"), "{stderr}");
}

//! `warta batch` end to end, through the real binary, with the small Marian fixture model
//! (tests/fixtures/marian) and the article fixtures in ../shared: bad inputs of every kind, a crash
//! (SIGKILL) and resume, the lock, shards and their merge, summary-only mode.
//!
//! The fixture model is tiny and untrained-looking: what is checked is the batch machinery (every file
//! accounted for exactly once, nothing partial, nothing redone), not translation quality. No test
//! depends on timing beyond generous time-outs.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const WARTA: &str = env!("CARGO_BIN_EXE_warta");
const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/articles");
const MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/marian/tiny-b");
const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/kompas-nato.txt");

/// `warta batch` with the fixture model, greedy, offline, and a private model cache.
fn batch(home: &Path) -> Command {
    let mut cmd = Command::new(WARTA);
    cmd.arg("batch")
        .args(["--model", MODEL, "--beams", "1", "--offline"])
        .env("HF_HOME", home.join("hf-home"))
        .env_remove("WARTA_MODEL")
        .env_remove("WARTA_LLM")
        .stdin(Stdio::null());
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("warta runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

/// Every manifest line, parsed (a line that does not parse fails the test).
fn manifest(dir: &Path) -> Vec<Value> {
    let text = fs::read_to_string(dir.join("manifest.jsonl")).unwrap_or_default();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "manifest ends mid-line"
    );
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad manifest line {l:?}: {e}")))
        .collect()
}

fn field<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("")
}

/// The last line for each path (the manifest's rule).
fn last_by_path(lines: &[Value]) -> BTreeMap<String, Value> {
    lines
        .iter()
        .map(|l| (field(l, "path").to_string(), l.clone()))
        .collect()
}

/// Files under `dir` (relative, `/`-separated), hidden ones included.
fn files(dir: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for e in fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy();
                out.insert(rel.replace('\\', "/"));
            }
        }
    }
    let mut out = BTreeSet::new();
    if dir.is_dir() {
        walk(dir, dir, &mut out);
    }
    out
}

fn outputs(dir: &Path) -> BTreeSet<String> {
    files(dir)
        .into_iter()
        .filter(|f| f.contains(".en."))
        .collect()
}

fn temporaries(dir: &Path) -> Vec<String> {
    files(dir)
        .into_iter()
        .filter(|f| f.ends_with(".tmp") || f.contains(".stale."))
        .collect()
}

/// Short articles (a title and two or three paragraphs of two sentences) made of sentences from the
/// scrapers' expected bodies and the copied texts in ../shared, written as `news/<n>/article-<i>.txt`;
/// returns their relative paths.
fn short_articles(root: &Path, count: usize) -> Vec<String> {
    let mut sources: Vec<PathBuf> = ["expected", "text"]
        .iter()
        .flat_map(|d| fs::read_dir(Path::new(SHARED).join(d)).unwrap().flatten())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    sources.sort();
    let sentences: Vec<String> = sources
        .iter()
        .flat_map(|p| {
            let text = fs::read_to_string(p).unwrap().replace('\n', " ");
            text.split(". ")
                .map(|s| s.trim().trim_end_matches('.').to_string())
                .filter(|s| (6..=35).contains(&s.split_whitespace().count()))
                .map(|s| format!("{s}."))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        sentences.len() >= 60,
        "too few sentences in the fixtures in {SHARED}"
    );
    (0..count)
        .map(|i| {
            let at = |k: usize| sentences[(i * 5 + k) % sentences.len()].as_str();
            let paragraphs = (0..2 + i % 2)
                .map(|p| format!("{} {}", at(2 * p + 1), at(2 * p + 2)))
                .collect::<Vec<_>>();
            let title: String = at(0)
                .split_whitespace()
                .take(8)
                .collect::<Vec<_>>()
                .join(" ");
            let text = format!("Laporan {i}: {title}\n\n{}\n", paragraphs.join("\n\n"));
            let rel = format!("news/{:02}/article-{i:03}.txt", i % 7);
            write(&root.join(&rel), text);
            rel
        })
        .collect()
}

struct Archive {
    good: Vec<String>,
    /// Bad input → a phrase its error must contain.
    bad: Vec<(String, &'static str)>,
}

/// 50+ inputs in nested folders: saved pages, copied texts, short articles, a name clash, and a bad
/// file of every kind the loader refuses; plus things that must not be inputs at all.
fn mixed_archive(root: &Path, outside: &Path) -> Archive {
    let mut good = short_articles(root, 36);
    for page in [
        "anpandu-antara-singlepage.html",
        "anpandu-republika-singlepage3.html",
        "anpandu-detik-singlepage.html",
        "anpandu-tempo-singlepage.html",
    ] {
        let rel = format!("sites/saved/{page}");
        fs::create_dir_all(root.join("sites/saved")).unwrap();
        fs::copy(Path::new(SHARED).join("html").join(page), root.join(&rel)).unwrap();
        good.push(rel);
    }
    for text in [
        "detik-d8116958-bacajuga-raw.txt",
        "kompas-2021-rusia-nato-copied.txt",
    ] {
        let rel = format!("copied/{text}");
        write(
            &root.join(&rel),
            fs::read(Path::new(SHARED).join("text").join(text)).unwrap(),
        );
        good.push(rel);
    }
    // Two inputs with one stem: both keep their extension in the output name.
    write(&root.join("clash/story.txt"), fs::read(EXAMPLE).unwrap());
    fs::copy(
        Path::new(SHARED).join("text/cnnindonesia-519184-content-fragment.html"),
        root.join("clash/story.html"),
    )
    .unwrap();
    good.extend(["clash/story.html".into(), "clash/story.txt".into()]);

    let mut bad = Vec::new();
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend((0..2000u32).map(|i| (i * 7 % 251) as u8));
    write(&root.join("bad/photo.html"), png);
    bad.push(("bad/photo.html".into(), "not a text or HTML file"));
    write(&root.join("bad/empty.txt"), "");
    bad.push(("bad/empty.txt".into(), "empty"));
    write(&root.join("bad/deep/blank.md"), "  \n\n\t \n");
    bad.push(("bad/deep/blank.md".into(), "empty"));
    // UTF-16 without a byte order mark: cannot be told from binary.
    let utf16: Vec<u8> = "Jakarta hari ini cerah sekali."
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    write(&root.join("bad/utf16-no-bom.txt"), utf16);
    bad.push(("bad/utf16-no-bom.txt".into(), "NUL"));
    write(
        &root.join("bad/control.txt"),
        (0..3000)
            .map(|i| [1u8, 2, 3, 4, 5, 6, b'a'][i % 7])
            .collect::<Vec<u8>>(),
    );
    bad.push(("bad/control.txt".into(), "control characters"));
    write(
        &root.join("bad/huge.txt"),
        "Kalimat yang sangat panjang sekali. ".repeat(12_000),
    );
    bad.push(("bad/huge.txt".into(), "too large"));
    write(
        &root.join("bad/menu-only.html"),
        "<html><head><title>Beranda</title></head><body><nav><a href='/'>Beranda</a> | \
         <a href='/berita'>Berita</a></nav><footer>Hak cipta 2021</footer></body></html>",
    );
    bad.push(("bad/menu-only.html".into(), "no article text"));

    // Not inputs: hidden, other extensions, a link out of the tree.
    write(&root.join(".hidden/secret.txt"), "Rahasia.");
    write(&root.join("news/.draft.txt"), "Draf.");
    write(&root.join("docs/notes.pdf"), "%PDF-1.4");
    write(&root.join("docs/data.json"), "{}");
    write(outside, "Teks di luar arsip. Tidak boleh dibaca.");
    #[cfg(unix)]
    std::os::unix::fs::symlink(outside, root.join("news/link-out.txt")).unwrap();
    good.sort();
    Archive { good, bad }
}

/// Blake3-free fingerprint of every input file (content and name), to prove inputs are untouched.
fn snapshot(dir: &Path, skip: &str) -> BTreeMap<String, Vec<u8>> {
    files(dir)
        .into_iter()
        .filter(|f| !f.starts_with(skip))
        .map(|f| {
            let bytes = fs::read(dir.join(&f)).unwrap_or_default();
            (f, bytes)
        })
        .collect()
}

#[test]
fn bad_files_fail_alone_and_every_good_file_gets_one_output() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("archive");
    let arch = mixed_archive(&input, &tmp.path().join("outside.txt"));
    assert!(arch.good.len() + arch.bad.len() >= 50);
    // OUTPUT_DIR inside INPUT_DIR: left out of the walk.
    let output = input.join("_out");
    let before = snapshot(&input, "_out");
    let args = |cmd: &mut Command| {
        cmd.arg(&input).arg("-o").arg(&output).args([
            "--no-summary",
            "--max-bytes",
            "300000",
            "--jobs",
            "2",
        ]);
    };

    let mut cmd = batch(tmp.path());
    args(&mut cmd);
    let out = run(&mut cmd);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");

    let lines = manifest(&output);
    let by_path = last_by_path(&lines);
    assert_eq!(lines.len(), by_path.len(), "one line per input");
    let expected: BTreeSet<String> = arch
        .good
        .iter()
        .cloned()
        .chain(arch.bad.iter().map(|(p, _)| p.clone()))
        .collect();
    assert_eq!(
        by_path.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "hidden files, other extensions, the link out and the output directory are not inputs"
    );
    for (path, phrase) in &arch.bad {
        let l = &by_path[path];
        assert_eq!(field(l, "status"), "failed", "{path}");
        assert!(l["output"].is_null(), "{path}");
        assert!(
            field(l, "error").contains(phrase),
            "{path}: {:?} lacks {phrase:?}",
            field(l, "error")
        );
        assert!(
            err.contains(&format!("{path}: failed")),
            "{path} missing from the report"
        );
    }
    let mut expected_outputs = BTreeSet::new();
    for path in &arch.good {
        let l = &by_path[path];
        assert_eq!(field(l, "status"), "ok", "{path}: {}", field(l, "error"));
        assert_eq!(field(l, "hash").len(), 64, "{path}: blake3 hex");
        assert_eq!(l["models"]["translator"], "marian");
        assert!(l["timings"]["translate_s"].is_number());
        let text = fs::read_to_string(output.join(field(l, "output"))).unwrap();
        assert!(!text.trim().is_empty(), "{path}: empty output");
        expected_outputs.insert(field(l, "output").to_string());
    }
    assert!(expected_outputs.contains("clash/story.txt.en.txt"));
    assert!(expected_outputs.contains("clash/story.html.en.txt"));
    assert!(expected_outputs.contains("news/00/article-000.en.txt"));
    assert_eq!(
        outputs(&output),
        expected_outputs,
        "exactly one output per good file"
    );
    assert!(temporaries(&output).is_empty());
    assert!(!output.join(".warta-batch.lock").exists());
    assert!(
        err.contains("link-out.txt") && err.contains("outside INPUT_DIR"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{} ok, {} failed",
            arch.good.len(),
            arch.bad.len()
        )),
        "{err}"
    );
    assert!(err.contains("articles/min"), "{err}");

    // Again: nothing is redone, the failures are tried again, inputs never change.
    let written: Vec<_> = expected_outputs
        .iter()
        .map(|o| fs::metadata(output.join(o)).unwrap().modified().unwrap())
        .collect();
    let mut cmd = batch(tmp.path());
    args(&mut cmd);
    let again = run(&mut cmd);
    assert_eq!(again.status.code(), Some(3), "{}", stderr(&again));
    let lines2 = manifest(&output);
    let rerun = &lines2[lines.len()..];
    assert_eq!(rerun.len(), expected.len());
    for l in rerun {
        let want = if arch.good.contains(&field(l, "path").to_string()) {
            "skipped"
        } else {
            "failed"
        };
        assert_eq!(field(l, "status"), want, "{l}");
    }
    let rewritten: Vec<_> = expected_outputs
        .iter()
        .map(|o| fs::metadata(output.join(o)).unwrap().modified().unwrap())
        .collect();
    assert_eq!(written, rewritten, "finished outputs were rewritten");
    assert_eq!(snapshot(&input, "_out"), before, "inputs changed");
}

/// Lines of `dir/manifest.jsonl` so far, without waiting for the writer.
fn complete_lines(dir: &Path) -> Vec<Value> {
    let text = fs::read_to_string(dir.join("manifest.jsonl")).unwrap_or_default();
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    complete
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Wait (generously) until a running batch has written `n` manifest lines into `output`.
fn wait_for_lines(child: &mut std::process::Child, output: &Path, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while complete_lines(output).len() < n {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be interrupted; give it more files"
        );
        assert!(Instant::now() < deadline, "no progress within 300 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_killed_run_resumes_without_redoing_or_leaving_partial_files_and_holds_its_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let output = tmp.path().join("out");
    let good = short_articles(&input, 160);
    let args = |cmd: &mut Command| {
        cmd.arg(&input).arg("-o").arg(&output).args([
            "--no-summary",
            "--format",
            "markdown",
            "--jobs",
            "2",
        ]);
    };
    let mut cmd = batch(tmp.path());
    args(&mut cmd);
    let mut first = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    // Wait (generously) until the run holds its lock and has finished a few files.
    wait_for_lines(&mut first, &output, 3);
    let lock = fs::read_to_string(output.join(".warta-batch.lock")).unwrap();
    assert!(lock.contains(&format!("\"pid\":{}", first.id())), "{lock}");

    // A second run into the same OUTPUT_DIR fails fast, naming the first.
    let mut cmd = batch(tmp.path());
    args(&mut cmd);
    let started = Instant::now();
    let second = run(&mut cmd);
    assert_eq!(second.status.code(), Some(1), "{}", stderr(&second));
    assert!(
        stderr(&second).contains(&format!(
            "in use by another `warta batch` (pid {}",
            first.id()
        )),
        "{}",
        stderr(&second)
    );
    assert!(started.elapsed() < Duration::from_secs(60));

    first.kill().unwrap(); // SIGKILL
    let status = first.wait().unwrap();
    assert!(!status.success(), "the run finished before it was killed");
    let done_before: BTreeSet<String> = complete_lines(&output)
        .iter()
        .filter(|l| field(l, "status") == "ok")
        .map(|l| field(l, "path").to_string())
        .collect();
    assert!(done_before.len() < good.len(), "the run was not cut short");

    // The same command again: takes over the stale lock, finishes the rest.
    let mut cmd = batch(tmp.path());
    args(&mut cmd);
    let resumed = run(&mut cmd);
    let err = stderr(&resumed);
    assert_eq!(resumed.status.code(), Some(0), "{err}");
    assert!(err.contains("took over the lock"), "{err}");

    let lines = manifest(&output);
    let mut ok_lines: BTreeMap<String, usize> = BTreeMap::new();
    for l in &lines {
        if field(l, "status") == "ok" {
            *ok_lines.entry(field(l, "path").to_string()).or_default() += 1;
        }
    }
    for path in &good {
        assert_eq!(
            ok_lines.get(path),
            Some(&1),
            "{path} done {:?} times",
            ok_lines.get(path)
        );
    }
    let last = last_by_path(&lines);
    assert_eq!(last.len(), good.len());
    // The final record of a file done before the kill is the resumed run's "skipped" line, and it
    // keeps what the real run found: its warnings, timings and models.
    let ok_line: BTreeMap<String, &Value> = lines
        .iter()
        .filter(|l| field(l, "status") == "ok")
        .map(|l| (field(l, "path").to_string(), l))
        .collect();
    let mut carried_warnings = 0;
    for path in &done_before {
        assert_eq!(field(&last[path], "status"), "skipped", "{path} was redone");
        let real = ok_line[path];
        for key in ["warnings", "timings", "models", "hash", "output"] {
            assert_eq!(last[path][key], real[key], "{path}: {key} was not kept");
        }
        assert!(last[path]["timings"].is_object(), "{path}: no timings");
        carried_warnings += last[path]["warnings"].as_array().map_or(0, Vec::len);
    }
    assert!(carried_warnings > 0, "no file done before the kill had warnings to keep");
    let expected: BTreeSet<String> = good.iter().map(|p| p.replace(".txt", ".en.md")).collect();
    assert_eq!(outputs(&output), expected);
    assert!(
        temporaries(&output).is_empty(),
        "{:?}",
        temporaries(&output)
    );
    assert!(!output.join(".warta-batch.lock").exists());
}

fn statuses(lines: &[Value]) -> BTreeMap<String, String> {
    last_by_path(lines)
        .into_iter()
        .map(|(p, l)| (p, field(&l, "status").to_string()))
        .collect()
}

#[test]
fn shards_cover_every_input_once_and_merge_into_the_single_run_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let out = tmp.path().join("out");
    let mut inputs = short_articles(&input, 30);
    write(&input.join("news/bad.txt"), "");
    inputs.push("news/bad.txt".into());
    let go = |dir: &Path, shard: Option<&str>| {
        let mut cmd = batch(tmp.path());
        cmd.arg(&input)
            .arg("-o")
            .arg(dir)
            .args(["--no-summary", "--jobs", "2", "-q"]);
        if let Some(s) = shard {
            cmd.args(["--shard", s]);
        }
        run(&mut cmd)
    };

    let single = go(&out.join("single"), None);
    assert_eq!(single.status.code(), Some(3), "{}", stderr(&single));
    let single = statuses(&manifest(&out.join("single")));
    assert_eq!(single.len(), inputs.len());

    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for k in 1..=3 {
        let dir = out.join(format!("shard-{k}"));
        let r = go(&dir, Some(&format!("{k}/3")));
        assert!(matches!(r.status.code(), Some(0 | 3)), "{}", stderr(&r));
        for p in statuses(&manifest(&dir)).keys() {
            *seen.entry(p.clone()).or_default() += 1;
        }
    }
    assert_eq!(seen.len(), inputs.len(), "every input in some shard");
    assert!(seen.values().all(|&n| n == 1), "no input in two shards");

    let merge = |dirs: &[&str]| {
        let mut cmd = Command::new(WARTA);
        cmd.args(["batch", "--merge-manifests"])
            .args(dirs.iter().map(|d| out.join(d)))
            .arg("-o")
            .arg(&out);
        run(&mut cmd)
    };
    let merged = merge(&["shard-1", "shard-2", "shard-3"]);
    // Exit 3: the empty file failed. No file is missing (stdout lists missing files).
    assert_eq!(merged.status.code(), Some(3), "{}", stderr(&merged));
    assert_eq!(String::from_utf8_lossy(&merged.stdout), "");
    let lines = manifest(&out);
    assert_eq!(statuses(&lines), single, "merged manifest = single run's");
    for l in &lines {
        if let Some(o) = l["output"].as_str() {
            assert!(o.starts_with("shard-"), "{o}");
            assert!(out.join(o).is_file(), "{o}");
        }
    }

    // A copy of shard 2 that disagrees about one file: reported; the done result is kept.
    let copy = out.join("shard-2-copy");
    fs::create_dir_all(&copy).unwrap();
    fs::copy(out.join("shard-2/batch.json"), copy.join("batch.json")).unwrap();
    let text = fs::read_to_string(out.join("shard-2/manifest.jsonl")).unwrap();
    let victim = text
        .lines()
        .find(|l| l.contains(r#""status":"ok""#))
        .unwrap()
        .to_string();
    let victim_path = field(&serde_json::from_str(&victim).unwrap(), "path").to_string();
    let changed = victim.replace(r#""status":"ok""#, r#""status":"failed""#);
    fs::write(copy.join("manifest.jsonl"), text.replace(&victim, &changed)).unwrap();
    let disagreeing = merge(&["shard-1", "shard-2-copy", "shard-2", "shard-3"]);
    assert_eq!(disagreeing.status.code(), Some(3));
    let err = stderr(&disagreeing);
    assert!(err.contains("1 file(s) have different results"), "{err}");
    assert!(err.contains(&format!("{victim_path}: failed in")), "{err}");
    assert_eq!(statuses(&manifest(&out)), single);
    fs::remove_dir_all(&copy).unwrap();

    // Without shard 3: its files are reported missing, on stdout, one per line.
    let partial = merge(&["shard-1", "shard-2"]);
    assert_eq!(partial.status.code(), Some(3));
    let missing: BTreeSet<String> = String::from_utf8_lossy(&partial.stdout)
        .lines()
        .map(String::from)
        .collect();
    let third: BTreeSet<String> = statuses(&manifest(&out.join("shard-3")))
        .into_keys()
        .collect();
    assert_eq!(missing, third);
    assert!(stderr(&partial).contains("no directory given for shard(s) 3/3"));
}

#[test]
fn summary_only_writes_one_summary_per_article() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let output = tmp.path().join("out");
    let inputs = short_articles(&input, 4);
    let mut cmd = batch(tmp.path());
    cmd.arg(&input).arg("-o").arg(&output).args([
        "--summary-only",
        "--summarizer",
        "extractive",
        "--sentences",
        "2",
        "--format",
        "json",
    ]);
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines = manifest(&output);
    assert_eq!(lines.len(), inputs.len());
    for l in &lines {
        assert_eq!(field(l, "status"), "ok");
        assert_eq!(l["models"]["summarizer"], "extractive");
        let doc: Value =
            serde_json::from_str(&fs::read_to_string(output.join(field(l, "output"))).unwrap())
                .unwrap();
        assert!(!doc["summary"].as_str().unwrap_or("").is_empty(), "{doc}");
        assert!(doc.get("paragraphs").is_none(), "summary only: {doc}");
    }
    let run_info: Value =
        serde_json::from_str(&fs::read_to_string(output.join("batch.json")).unwrap()).unwrap();
    assert_eq!(run_info["settings_detail"]["mode"], "summary-only");
}

#[test]
fn runs_that_cannot_start_exit_1_with_a_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    short_articles(&input, 1);
    let input = input.to_str().unwrap();
    let parent = tmp.path().to_str().unwrap();
    let nope = tmp.path().join("nope");
    let nope = nope.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![input], "needs an output directory"),
        (vec![input, "-o", input], "same directory"),
        (vec![input, "-o", parent], "contains"),
        (
            vec![input, "-o", "o1", "--shard", "4/3"],
            "--shard 4/3: K must be between 1 and N",
        ),
        (vec![input, "-o", "o2", "--shard", "two"], "--shard two"),
        (vec![nope, "-o", "o3"], "cannot use as INPUT_DIR"),
        (vec![input, "-o", "o4", "--include", "a[b"], "glob"),
    ];
    for (args, phrase) in cases {
        let mut cmd = batch(tmp.path());
        let out = run(cmd.current_dir(tmp.path()).args(&args));
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(phrase), "{args:?}: {}", stderr(&out));
    }
    // A model that is not there.
    let out = run(Command::new(WARTA)
        .current_dir(tmp.path())
        .args(["batch", input, "-o", "o5", "--offline", "--model", nope])
        .env("HF_HOME", tmp.path().join("hf-home")));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains(nope), "{}", stderr(&out));
}

/// Send `signal` (e.g. "INT") to a process.
#[cfg(unix)]
fn signal(pid: u32, signal: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{signal} {pid}");
}

/// Wait for a child, at most `limit`.
fn wait_for(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_cleanly_prints_how_to_resume_and_twice_quits_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let output = tmp.path().join("out");
    let good = short_articles(&input, 120);
    for presses in [1, 2] {
        let mut cmd = batch(tmp.path());
        cmd.arg(&input)
            .arg("-o")
            .arg(&output)
            .args(["--no-summary", "--jobs", "2", "--force"]);
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let before = complete_lines(&output).len();
        wait_for_lines(&mut child, &output, before + 2);
        for _ in 0..presses {
            signal(child.id(), "INT");
            std::thread::sleep(Duration::from_millis(100));
        }
        let status = wait_for(&mut child, Duration::from_secs(300));
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(130), "{err}");
        // The resume command is the same command without --force.
        assert!(err.contains("to resume, run:"), "{err}");
        assert!(err.contains(" batch --model "), "{err}");
        let resume_line = err
            .lines()
            .skip_while(|l| !l.contains("to resume, run:"))
            .nth(1)
            .unwrap_or_default()
            .to_string();
        assert!(!resume_line.contains("--force"), "{resume_line}");
        let lines = manifest(&output);
        assert!(lines.len() < before + good.len(), "the run was not stopped");
        // A graceful stop finishes its writes; the immediate exit (second press) may leave the
        // temporary of a write in flight, which the next run removes (checked below).
        let left = temporaries(&output);
        assert!(presses == 2 || left.is_empty(), "temporaries left: {left:?}\n{err}");
        assert!(!output.join(".warta-batch.lock").exists(), "{err}");
        // Every output there is whole: it has a manifest line or is about to be redone.
        for o in outputs(&output) {
            assert!(!fs::read_to_string(output.join(&o)).unwrap().is_empty());
        }
    }
    let mut cmd = batch(tmp.path());
    cmd.arg(&input)
        .arg("-o")
        .arg(&output)
        .args(["--no-summary", "--jobs", "2"]);
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(last_by_path(&manifest(&output)).len(), good.len());
    let left = temporaries(&output);
    assert!(left.is_empty(), "temporaries the resumed run did not remove: {left:?}");
}

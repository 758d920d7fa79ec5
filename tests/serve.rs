//! `warta serve` over real sockets on 127.0.0.1, with the Marian fixture model (and SmolLM2 where a
//! summary by an LLM is the point): the LibreTranslate API in every body form, warta's /v1 API, errors,
//! limits, API keys, CORS, a full queue, many clients at once, a client that goes away, and SIGTERM.

#[path = "support/server.rs"]
mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{example, marian_fixture, request, Server, SMOLLM2};

/// What `warta translate --raw` with the fixture model makes of `lines` (the reference for the API).
fn cli_raw(lines: &[&str]) -> Vec<String> {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in.txt");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warta"))
        .env("HF_HOME", tmp.path())
        .env("HF_HUB_OFFLINE", "1")
        .args(["translate", "--raw", "--threads", "2", "--model"])
        .arg(marian_fixture())
        .arg(&input)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

const S1: &str = "Rusia menghentikan misi diplomatiknya di NATO.";
const S2: &str = "Delapan diplomat diusir dari Brussels.";

fn lt_error(r: &support::Response, status: u16, message: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.json(), json!({ "error": message }), "{}", r.text());
}

/// The LibreTranslate routes, every way real clients send parameters.
#[test]
fn libretranslate_api() {
    let s = Server::start(&["--summarizer", "extractive"]);
    let want = cli_raw(&[S1, S2]);

    // JSON body.
    let r = s.json("/translate", &json!({"q": S1, "source": "id", "target": "en"}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"translatedText": want[0]}));
    assert!(r.header("content-type").unwrap().starts_with("application/json"));
    // Two sentences on one line: translated sentence by sentence, joined as the CLI's paragraphs are.
    let r = s.json("/translate", &json!({"q": format!("{S1} {S2}"), "source": "id", "target": "en"}));
    assert_eq!(r.json()["translatedText"], format!("{} {}", want[0], want[1]));
    // Lines and blank lines are kept.
    let r = s.json("/translate", &json!({"q": format!("{S1}\n\n{S2}"), "source": "id", "target": "en"}));
    assert_eq!(r.json()["translatedText"], format!("{}\n\n{}", want[0], want[1]));
    // A batch, with auto detection and alternatives.
    let r = s.json(
        "/translate",
        &json!({"q": [S1, S2], "source": "auto", "target": "en", "alternatives": 2}),
    );
    let v = r.json();
    assert_eq!(v["translatedText"], json!(want));
    assert_eq!(v["detectedLanguage"].as_array().unwrap().len(), 2);
    assert_eq!(v["detectedLanguage"][0]["language"], "id");
    assert!(v["detectedLanguage"][0]["confidence"].as_f64().unwrap() > 50.0);
    assert_eq!(v["alternatives"], json!([[], []]));
    // Query string + urlencoded body; query string alone with no body and no Content-Type;
    // multipart form; the api_key parameter is ignored without --api-keys.
    let enc = |t: &str| {
        form_urlencoded::byte_serialize(t.as_bytes()).collect::<String>()
    };
    let r = s.request(
        "POST",
        "/translate?source=id&target=en",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        format!("q={}&api_key=x", enc(S1)).as_bytes(),
    );
    assert_eq!(r.json(), json!({"translatedText": want[0]}), "{}", r.text());
    let r = s.request("POST", &format!("/translate?q={}&source=id&target=en", enc(S1)), &[], b"");
    assert_eq!(r.json(), json!({"translatedText": want[0]}), "{}", r.text());
    let r = s.multipart(
        "/translate",
        &[("q", None, S1.as_bytes()), ("source", None, b"id"), ("target", None, b"en")],
    );
    assert_eq!(r.json(), json!({"translatedText": want[0]}), "{}", r.text());
    // Form values have their line ends normalised (\r\n -> \n, the last one dropped), as in Flask.
    let r = s.form("/translate", &format!("q={}&source=id&target=en", enc(&format!("{S1}\r\n\r\n{S2}\r\n"))));
    assert_eq!(r.json()["translatedText"], format!("{}\n\n{}", want[0], want[1]));
    // Upper-case codes are lowered, as LibreTranslate's iso2model does.
    let r = s.json("/translate", &json!({"q": S1, "source": "ID", "target": "EN"}));
    assert_eq!(r.status, 200);

    // format=html: text nodes translated, markup kept, scripts left alone.
    let html = format!("<p class=\"lead\">{S1} <b>{S2}</b></p><script>var x = 1;</script>");
    let r = s.json("/translate", &json!({"q": html, "source": "id", "target": "en", "format": "html"}));
    assert_eq!(
        r.json()["translatedText"],
        format!(
            "<p class=\"lead\">{} <b>{}</b></p><script>var x = 1;</script>",
            escape(&want[0]),
            escape(&want[1])
        )
    );
    // Only spaces and emoji: sent back as is.
    let r = s.json("/translate", &json!({"q": "😀 👍", "source": "auto", "target": "en"}));
    assert_eq!(r.json(), json!({"translatedText": "😀 👍", "detectedLanguage": {"confidence": 0.0, "language": "en"}}));

    // LibreTranslate's errors, word for word.
    lt_error(&s.json("/translate", &json!({"source": "id", "target": "en"})), 400, "Invalid request: missing q parameter");
    lt_error(&s.json("/translate", &json!({"q": "", "source": "id", "target": "en"})), 400, "Invalid request: missing q parameter");
    lt_error(&s.json("/translate", &json!({"q": S1, "target": "en"})), 400, "Invalid request: missing source parameter");
    lt_error(&s.json("/translate", &json!({"q": S1, "source": "id"})), 400, "Invalid request: missing target parameter");
    lt_error(&s.json("/translate", &json!({"q": S1, "source": "xx", "target": "en"})), 400, "xx is not supported");
    lt_error(&s.json("/translate", &json!({"q": S1, "source": "id", "target": "de"})), 400, "de is not supported");
    lt_error(
        &s.json("/translate", &json!({"q": S1, "source": "en", "target": "en"})),
        400,
        "English (en) is not available as a target language from English (en)",
    );
    lt_error(
        &s.json("/translate", &json!({"q": S1, "source": "en", "target": "id"})),
        400,
        "Indonesian (id) is not available as a target language from English (en)",
    );
    lt_error(
        &s.json("/translate", &json!({"q": "Russia suspended its diplomatic mission to NATO after the alliance expelled eight officials.", "source": "auto", "target": "en"})),
        400,
        "English (en) is not available as a target language from English (en)",
    );
    lt_error(&s.json("/translate", &json!({"q": S1, "source": "id", "target": "en", "format": "pdf"})), 400, "pdf format is not supported");
    lt_error(&s.json("/translate", &json!({"q": S1, "source": "id", "target": "en", "alternatives": "x"})), 400, "Invalid request: alternatives parameter is not a number");
    lt_error(&s.request("POST", "/translate", &[("Content-Type", "application/json")], b"[1, 2]"), 400, "Invalid JSON format");
    let r = s.request("POST", "/translate", &[("Content-Type", "application/json")], b"{nope");
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().starts_with("Failed to decode JSON object"));

    // /detect, /languages, /frontend/settings, /health; a GET ignores a stray body.
    let r = s.json("/detect", &json!({"q": format!("{S1} {S2}")}));
    let d = r.json();
    assert_eq!(d[0]["language"], "id", "{d}");
    assert!(d[0]["confidence"].as_f64().unwrap() > 50.0);
    let r = s.form("/detect", "q=The+weather+is+nice+today+and+we+are+going+to+the+beach.");
    assert_eq!(r.json()[0]["language"], "en");
    lt_error(&s.json("/detect", &json!({})), 400, "Invalid request: missing q parameter");
    let r = s.request("GET", "/languages", &[("Content-Type", "application/json")], b"{\"stray\": true}");
    assert_eq!(
        r.json(),
        json!([{"code": "en", "name": "English", "targets": []}, {"code": "id", "name": "Indonesian", "targets": ["en"]}])
    );
    let v = s.get("/frontend/settings").json();
    for key in ["charLimit", "frontendTimeout", "apiKeys", "keyRequired", "suggestions", "filesTranslation", "supportedFilesFormat", "language"] {
        assert!(v.get(key).is_some(), "{key} missing from {v}");
    }
    assert_eq!(v["charLimit"], -1);
    assert_eq!(v["supportedFilesFormat"], json!([".txt", ".html"]));
    assert_eq!(s.get("/health").json(), json!({"status": "ok"}));

    // CORS: every answer, and the preflight.
    let r = s.request(
        "OPTIONS",
        "/translate",
        &[("Origin", "https://example.org"), ("Access-Control-Request-Method", "POST"), ("Access-Control-Request-Headers", "Content-Type")],
        b"",
    );
    assert_eq!(r.status, 200);
    for (k, v) in [
        ("access-control-allow-origin", "*"),
        ("access-control-allow-headers", "Authorization, Content-Type"),
        ("access-control-allow-methods", "GET, POST"),
        ("access-control-expose-headers", "Authorization"),
        ("access-control-allow-credentials", "true"),
        ("access-control-max-age", "1728000"),
    ] {
        assert_eq!(r.header(k), Some(v), "{k}");
    }
    assert_eq!(s.get("/health").header("access-control-allow-origin"), Some("*"));

    // /translate_file: .txt and .html, a download URL that honours a proxy's headers.
    let txt = format!("{S1}\n\n{S2}\n");
    let (ct, body) = support::multipart(&[("file", Some("berita.txt"), txt.as_bytes()), ("source", None, b"id"), ("target", None, b"en")]);
    let r = s.request(
        "POST",
        "/translate_file",
        &[("Content-Type", &ct), ("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "mt.example.org"), ("X-Forwarded-Prefix", "/warta")],
        &body,
    );
    let url = r.json()["translatedFileUrl"].as_str().unwrap().to_string();
    let path = url.strip_prefix("https://mt.example.org/warta").unwrap_or_else(|| panic!("{url}"));
    assert!(path.starts_with("/download_file/") && path.ends_with(".berita.txt"), "{url}");
    let r = s.get(path);
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), format!("{}\n\n{}\n", want[0], want[1]));
    assert_eq!(r.header("content-disposition"), Some("attachment; filename=berita.txt"));
    let page = format!("<html><head><title>{S1}</title></head><body><p>{S2}</p></body></html>");
    let r = s.multipart("/translate_file", &[("file", Some("page.html"), page.as_bytes()), ("source", None, b"auto"), ("target", None, b"en")]);
    let url = r.json()["translatedFileUrl"].as_str().unwrap().to_string();
    let path = url.strip_prefix(&format!("http://127.0.0.1:{}", s.port)).unwrap();
    let got = s.get(path).text();
    assert!(got.contains(&format!("<title>{}</title>", escape(&want[0]))), "{got}");
    assert!(got.contains(&format!("<p>{}</p>", escape(&want[1]))), "{got}");
    lt_error(&s.multipart("/translate_file", &[("file", Some("a.pdf"), b"x"), ("source", None, b"id"), ("target", None, b"en")]), 400, "Invalid request: file format not supported");
    lt_error(&s.multipart("/translate_file", &[("source", None, b"id"), ("target", None, b"en")]), 400, "Invalid request: missing file parameter");
    assert_eq!(s.get("/download_file/nope.txt").status, 404);

    // /openapi.json names every route; unknown routes are 404 JSON.
    let spec = s.get("/openapi.json").json();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    assert!(spec["paths"]["/v1/translate"].is_object());
    let r = s.get("/nope");
    assert_eq!(r.status, 404);
    assert!(r.json()["error"].is_string());
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The JSON of a CLI run, without the timings (the only part that differs between runs).
fn cli_json(args: &[&str]) -> Value {
    let tmp = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warta"))
        .env("HF_HOME", tmp.path())
        .env("HF_HUB_OFFLINE", "1")
        .args(args)
        .args(["--format", "json", "--threads", "2", "--model"])
        .arg(marian_fixture())
        .args(["--llm", SMOLLM2])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    untimed(serde_json::from_slice(&out.stdout).unwrap())
}

fn untimed(mut v: Value) -> Value {
    v.as_object_mut().unwrap().remove("timings");
    v
}

/// `/v1`: the same JSON as the CLI (SmolLM2 writes the summary), at once or as progress events, from
/// every body form; `/v1/clean`, `/v1/info`.
#[test]
fn own_api_matches_the_cli() {
    let s = Server::start(&["--llm", SMOLLM2]);
    let text = std::fs::read_to_string(example()).unwrap();
    let example_path = example();
    let example_arg = example_path.to_str().unwrap();

    // Two summary sentences (here and in the CLI runs) keep SmolLM2's part short.
    let want = cli_json(&["translate", example_arg, "--sentences", "2"]);
    assert_eq!(want["summary_method"], "llm", "{want}");
    // NDJSON progress: the cleaned article, 17 paragraphs in order, the summary, the document.
    let r = s.request("POST", "/v1/translate?stream=ndjson&sentences=2", &[("Content-Type", "text/plain")], text.as_bytes());
    assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
    let events: Vec<Value> = r.text().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    let mut expected = vec!["article"];
    expected.extend(std::iter::repeat_n("paragraph", 17));
    expected.extend(["summary", "done"]);
    assert_eq!(kinds, expected);
    assert_eq!(events[0]["article"]["paragraphs"].as_array().unwrap().len(), 17);
    for (i, e) in events[1..18].iter().enumerate() {
        assert_eq!(e["index"], i);
        assert_eq!(e["translation"], want["paragraphs"][i]["translation"]);
    }
    assert_eq!(events[18]["summary"], want["summary"]);
    assert_eq!(untimed(events[19]["result"].clone()), want);

    // Summary only, as server-sent events, from an uploaded file.
    let want = cli_json(&["summarize", example_arg, "--sentences", "2"]);
    let (ct, body) = support::multipart(&[("file", Some("kompas-nato.txt"), text.as_bytes()), ("sentences", None, b"2")]);
    let r = s.request("POST", "/v1/summarize", &[("Content-Type", &ct), ("Accept", "text/event-stream")], &body);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let sse = r.text();
    assert!(sse.starts_with("event: article\ndata: {"), "{sse}");
    let done = sse.split("event: done\ndata: ").nth(1).unwrap().trim();
    assert_eq!(untimed(serde_json::from_str::<Value>(done).unwrap()["result"].clone()), want);

    // An HTML page (as a JSON `html` field) is cleaned like `warta clean` does.
    let page = "<html><head><title>Rusia Balas NATO</title></head><body><article><p>Rusia menghentikan misi diplomatiknya di NATO setelah delapan diplomat diusir dari Brussels.</p><p>Baca juga: Berita lain</p></article></body></html>";
    let v = s.json("/v1/clean", &json!({ "html": page })).json();
    assert_eq!(v["paragraphs"].as_array().unwrap().len(), 1, "{v}");
    assert!(v["removed"].is_array());
    // Without a summary, as one JSON answer: `warta translate --no-summary`.
    let want = cli_json(&["translate", example_arg, "--no-summary"]);
    let r = s.json("/v1/translate", &json!({ "text": text, "summary": false }));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = untimed(r.json());
    assert_eq!(v["paragraphs"].as_array().unwrap().len(), 17);
    assert!(v.get("summary").is_none(), "{v}");
    assert_eq!(v, want);
    let r = s.json("/v1/translate", &json!({ "nothing": 1 }));
    assert_eq!(r.status, 400);
    let r = s.json("/v1/translate", &json!({ "text": text, "sentences": 99 }));
    assert_eq!(r.status, 400);
    let info = s.get("/v1/info").json();
    assert_eq!(info["translator"], "marian");
    assert!(info["summarizer"].as_str().unwrap().starts_with("llm"), "{info}");
}

/// API keys, the char, batch and body limits.
#[test]
fn keys_and_limits() {
    let keys = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(keys.path(), "# keys\nsecret-1\n\nsecret-2  # second\n").unwrap();
    let s = Server::start(&[
        "--summarizer", "extractive",
        "--api-keys", keys.path().to_str().unwrap(),
        "--char-limit", "60",
        "--batch-limit", "2",
        "--max-body", "4000",
    ]);
    let ok = s.json("/translate", &json!({"q": S1, "source": "id", "target": "en", "api_key": "secret-2"}));
    assert_eq!(ok.status, 200, "{}", ok.text());
    lt_error(&s.json("/translate", &json!({"q": S1, "source": "id", "target": "en"})), 400, "Please contact the server operator to get an API key");
    lt_error(&s.json("/translate", &json!({"q": S1, "source": "id", "target": "en", "api_key": "wrong"})), 403, "Invalid API key");
    lt_error(&s.form("/detect", "q=halo&api_key=wrong"), 403, "Invalid API key");
    let r = s.request("POST", "/translate?api_key=secret-1&source=id&target=en", &[("Content-Type", "application/x-www-form-urlencoded")], b"q=Halo+dunia.");
    assert_eq!(r.status, 200, "{}", r.text());
    let long = "a".repeat(61);
    lt_error(&s.json("/translate", &json!({"q": long, "source": "id", "target": "en", "api_key": "secret-1"})), 400, "Invalid request: request (61) exceeds text limit (60)");
    lt_error(&s.json("/translate", &json!({"q": ["a", "b", "c"], "source": "id", "target": "en", "api_key": "secret-1"})), 400, "Invalid request: request (3) exceeds text limit (2)");
    let big = json!({"q": "x".repeat(5000), "source": "id", "target": "en", "api_key": "secret-1"});
    let r = s.json("/translate", &big);
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.json()["error"].as_str().unwrap().contains("4000 bytes"));
    let v = s.get("/frontend/settings").json();
    assert_eq!((v["apiKeys"].clone(), v["keyRequired"].clone(), v["charLimit"].clone()), (json!(true), json!(true), json!(60)));
    // The routes that translate nothing need no key.
    assert_eq!(s.get("/health").status, 200);
    assert_eq!(s.get("/languages").status, 200);
    let r = s.json("/v1/translate", &json!({"text": S1}));
    assert_eq!(r.status, 400, "{}", r.text());
}

/// Many sentences: long enough that a job is still running when the test acts.
fn long_text(sentences: usize) -> String {
    (0..sentences).map(|i| format!("{S1} {i}.")).collect::<Vec<_>>().join("\n")
}

/// A full queue answers 503 with Retry-After at once; 50 clients at once all get an answer; the server
/// stays up with bounded memory; a client that goes away has its job cancelled.
#[test]
fn queue_concurrency_and_cancellation() {
    let mut s = Server::start(&["--summarizer", "extractive", "--queue", "2"]);
    let before = s.rss_kb();
    // Occupy the worker and the queue with long jobs from clients that go away early.
    let slow = json!({"q": long_text(3000), "source": "id", "target": "en"}).to_string();
    let port = s.port;
    let mut gone = Vec::new();
    for _ in 0..3 {
        let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        use std::io::Write;
        write!(c, "POST /translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{slow}", slow.len()).unwrap();
        gone.push(c);
        std::thread::sleep(Duration::from_millis(200));
    }
    // The queue is full now: a refusal comes at once, with Retry-After.
    let started = Instant::now();
    let r = s.json("/translate", &json!({"q": S1, "source": "id", "target": "en"}));
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
    assert!(r.json()["error"].as_str().unwrap().starts_with("Slowdown:"));
    // The clients go away: their jobs are cancelled between batches, not run to the end.
    drop(gone);
    let end = Instant::now() + Duration::from_secs(60);
    while !s.log().contains("cancelled") && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(s.log().contains("the client went away"), "{}", s.log());

    // 50 clients at once: each gets a translation or a quick refusal.
    let clients: Vec<_> = (0..50)
        .map(|i| {
            std::thread::spawn(move || {
                let body = json!({"q": format!("{S2} {i}."), "source": "id", "target": "en"}).to_string();
                let t = Instant::now();
                let r = request(port, "POST", "/translate", &[("Content-Type", "application/json")], body.as_bytes(), Duration::from_secs(120));
                (r.status, t.elapsed(), r.header("retry-after").is_some())
            })
        })
        .collect();
    let results: Vec<(u16, Duration, bool)> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let ok = results.iter().filter(|r| r.0 == 200).count();
    let refused: Vec<_> = results.iter().filter(|r| r.0 == 503).collect();
    assert_eq!(ok + refused.len(), 50, "{results:?}");
    assert!(ok >= 1, "{results:?}");
    assert!(refused.iter().all(|r| r.2 && r.1 < Duration::from_secs(5)), "{refused:?}");
    assert!(s.alive());
    assert_eq!(s.get("/health").status, 200);
    let after = s.rss_kb();
    assert!(after < before + 200_000, "RSS grew from {before} kB to {after} kB");
}

/// SIGTERM while a request runs: the request is answered (503) or its connection closed, and the
/// server exits 0 soon after.
#[test]
fn sigterm_mid_request_exits_cleanly() {
    let mut s = Server::start(&["--summarizer", "extractive"]);
    let port = s.port;
    let client = std::thread::spawn(move || {
        let body = json!({"q": long_text(3000), "source": "id", "target": "en"}).to_string();
        std::panic::catch_unwind(|| {
            request(port, "POST", "/translate", &[("Content-Type", "application/json")], body.as_bytes(), Duration::from_secs(60))
        })
        .ok()
        .map(|r| r.status)
    });
    std::thread::sleep(Duration::from_millis(700));
    let status = s.terminate(Duration::from_secs(30)).expect("exits within 30 s");
    assert!(status.success(), "{status:?}\n{}", s.log());
    let answer = client.join().unwrap();
    assert!(matches!(answer, None | Some(503)), "{answer:?}");
    assert!(s.log().contains("stopping"), "{}", s.log());
}

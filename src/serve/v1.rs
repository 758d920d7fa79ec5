//! warta's own API, versioned: an article (text, or a saved HTML page) in, the same JSON as
//! `warta translate --format json` / `warta summarize --format json` out — at once, or as progress
//! events (server-sent events or NDJSON): the cleaned article, one event per translated paragraph,
//! the summary, then the whole document.

use std::path::Path;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::params::Params;
use super::worker::{Update, Work};
use super::{ApiError, St};
use crate::article::{Article, LoadOptions};
use crate::pipeline::Mode;
use crate::render::Format;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    /// One JSON answer when done.
    None,
    Sse,
    Ndjson,
}

struct ArticleRequest {
    article: Article,
    summary: bool,
    sentences: usize,
    stream: Stream,
}

fn stream_mode(req: &Request, asked: Option<&str>) -> Result<Stream, ApiError> {
    match asked {
        Some("sse") => return Ok(Stream::Sse),
        Some("ndjson") => return Ok(Stream::Ndjson),
        Some("none" | "") => return Ok(Stream::None),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Invalid request: stream must be sse, ndjson or none, not {other:?}"
            )))
        }
        None => {}
    }
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    Ok(if accept.contains("text/event-stream") {
        Stream::Sse
    } else if accept.contains("application/x-ndjson") {
        Stream::Ndjson
    } else {
        Stream::None
    })
}

fn flag(params: &Params, name: &str, default: bool) -> Result<bool, ApiError> {
    match params.text(name).as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some("false" | "0" | "no" | "off") => Ok(false),
        Some(other) => Err(ApiError::bad_request(format!(
            "Invalid request: {name} must be true or false, not {other:?}"
        ))),
    }
}

/// Read an article from a JSON body (`text` or `html`), a form (`file` upload, or `text`/`html`
/// fields), or a raw `text/plain`, `text/markdown` or `text/html` body.
async fn read_article(state: &super::AppState, req: Request) -> Result<ArticleRequest, ApiError> {
    let limit = state.options.body_limit;
    let content_type = super::params::essence(&super::params::mime_of(&req));
    let query = super::params::parse_urlencoded(req.uri().query().unwrap_or(""));
    let asked = query.iter().find(|(k, _)| k == "stream").map(|(_, v)| v.clone());
    let stream = stream_mode(&req, asked.as_deref())?;
    let raw = matches!(
        content_type.as_str(),
        "text/plain" | "text/markdown" | "text/html"
    );
    let (bytes, origin, params) = if raw {
        let bytes = super::params::body_bytes(req.into_body(), limit).await?;
        let origin = match content_type.as_str() {
            "text/html" => "request.html",
            "text/markdown" => "request.md",
            _ => "request.txt",
        };
        let params = Params {
            query,
            ..Params::default()
        };
        (bytes.to_vec(), origin.to_string(), params)
    } else {
        let mut params = Params::read(req, limit).await?;
        if let Some(file) = params.take_file("file") {
            let name = Path::new(&file.filename)
                .file_name()
                .map_or_else(|| "upload".to_string(), |n| n.to_string_lossy().into_owned());
            (file.bytes, name, params)
        } else if let Some(html) = params.text("html") {
            (html.into_bytes(), "request.html".to_string(), params)
        } else if let Some(text) = params.text("text") {
            (text.into_bytes(), "request.txt".to_string(), params)
        } else {
            return Err(ApiError::bad_request(
                "Invalid request: give the article as `text`, `html` or an uploaded `file` \
                 (or send it as a text/plain or text/html body)",
            ));
        }
    };
    state.check_key(params.text("api_key").as_deref())?;
    let summary = flag(&params, "summary", true)?;
    let sentences = match params.text("sentences") {
        None => usize::from(state.options.summary.sentences),
        Some(s) => match s.trim().parse::<usize>() {
            Ok(n @ 1..=8) => n,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "Invalid request: sentences must be a number from 1 to 8, not {s:?}"
                )))
            }
        },
    };
    let opts = LoadOptions {
        max_bytes: limit as u64,
    };
    // Cleaning a large page is CPU work: off the async threads.
    let article = tokio::task::spawn_blocking(move || {
        crate::article::from_bytes(&bytes, &origin, Some(Path::new(&origin)), &opts)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(|e| ApiError::bad_request(format!("Invalid request: {e}")))?;
    if let Some(limit) = state.options.char_limit {
        let n: usize = article.paragraphs.iter().map(|p| p.text.chars().count()).sum();
        if n > limit {
            return Err(ApiError::bad_request(format!(
                "Invalid request: request ({n}) exceeds text limit ({limit})"
            )));
        }
    }
    Ok(ArticleRequest {
        article,
        summary,
        sentences,
        stream,
    })
}

/// `POST /v1/translate`.
pub(crate) async fn translate(state: St, req: Request) -> Result<Response, ApiError> {
    let state = state.0;
    let r = read_article(&state, req).await?;
    let mode = Mode::Translate { summary: r.summary };
    run(&state, r, mode).await
}

/// `POST /v1/summarize`.
pub(crate) async fn summarize(state: St, req: Request) -> Result<Response, ApiError> {
    let state = state.0;
    let r = read_article(&state, req).await?;
    run(&state, r, Mode::SummaryOnly).await
}

/// `POST /v1/clean`: what the loader keeps of an article and what it removed (`warta clean --format
/// json`); no model runs.
pub(crate) async fn clean(state: St, req: Request) -> Result<Response, ApiError> {
    let state = state.0;
    let r = read_article(&state, req).await?;
    Ok(json_text(crate::render::clean(&r.article, Format::Json)))
}

/// `GET /v1/info`: engines, limits and queue.
pub(crate) async fn info(state: St) -> Json<Value> {
    let s = &state.0;
    let o = &s.options;
    Json(json!({
        "warta": env!("CARGO_PKG_VERSION"),
        "translator": s.translator,
        "model": s.model,
        "summarizer": s.summarizer,
        "warnings": s.warnings,
        "limits": {
            "body_bytes": o.body_limit,
            "char_limit": o.char_limit,
            "batch_limit": o.batch_limit,
            "timeout_s": o.timeout.as_secs(),
            "queue": o.queue,
        },
        "queue": {"waiting": s.queue.queued()},
        "api_keys": s.keys.is_some(),
    }))
}

fn json_text(body: String) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn render(doc: &crate::pipeline::Document, mode: Mode) -> String {
    match mode {
        Mode::SummaryOnly => crate::render::summary_only(doc, Format::Json),
        Mode::Translate { .. } => crate::render::document(doc, Format::Json),
    }
}

/// One progress event, framed for the stream.
fn frame(stream: Stream, kind: &str, data: &Value) -> Bytes {
    let mut v = data.clone();
    if let Value::Object(m) = &mut v {
        m.insert("type".into(), json!(kind));
    }
    let line = serde_json::to_string(&v).unwrap_or_default();
    Bytes::from(match stream {
        Stream::Sse => format!("event: {kind}\ndata: {line}\n\n"),
        _ => format!("{line}\n"),
    })
}

async fn run(state: &super::AppState, r: ArticleRequest, mode: Mode) -> Result<Response, ApiError> {
    let clean = crate::render::clean(&r.article, Format::Json);
    let sources: Vec<String> = r.article.paragraphs.iter().map(|p| p.text.clone()).collect();
    let mut rx = state.submit(Work::Article {
        article: Box::new(r.article),
        mode,
        sentences: r.sentences,
    })?;
    let wait = state.queue.timeout() + std::time::Duration::from_secs(1);
    if r.stream == Stream::None {
        loop {
            match tokio::time::timeout(wait, rx.recv()).await {
                Ok(Some(Update::Document(doc))) => return Ok(json_text(render(&doc, mode))),
                Ok(Some(Update::Failed(e))) => return Err(e.into()),
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => {
                    return Err(super::worker::JobError::Deadline(state.queue.timeout().as_secs()).into())
                }
            }
        }
    }
    let stream = r.stream;
    let timeout_s = state.queue.timeout().as_secs();
    let first = frame(
        stream,
        "article",
        &json!({ "article": serde_json::from_str::<Value>(&clean).unwrap_or(Value::Null) }),
    );
    // The receiver lives in the body stream: a client that goes away drops it, which cancels the job.
    let events = futures_util::stream::unfold(
        (Some(first), Some(rx), sources),
        move |(pending, rx, sources)| async move {
            if let Some(b) = pending {
                return Some((Ok::<Bytes, std::io::Error>(b), (None, rx, sources)));
            }
            let mut rx = rx?;
            let out = match tokio::time::timeout(wait, rx.recv()).await {
                Ok(Some(Update::Paragraph { index, text })) => {
                    let source = sources.get(index).cloned().unwrap_or_default();
                    let b = frame(
                        stream,
                        "paragraph",
                        &json!({"index": index, "source": source, "translation": text}),
                    );
                    return Some((Ok(b), (None, Some(rx), sources)));
                }
                Ok(Some(Update::Document(doc))) => {
                    let v: Value = serde_json::from_str(&render(&doc, mode)).unwrap_or(Value::Null);
                    let mut b = Vec::new();
                    if v.get("summary").is_some() {
                        b.extend_from_slice(&frame(
                            stream,
                            "summary",
                            &json!({
                                "summary": v["summary"],
                                "summary_method": v["summary_method"],
                                "summary_checks": v["summary_checks"],
                            }),
                        ));
                    }
                    b.extend_from_slice(&frame(stream, "done", &json!({ "result": v })));
                    Bytes::from(b)
                }
                Ok(Some(Update::Failed(e))) => {
                    let e = ApiError::from(e);
                    frame(stream, "error", &json!({"error": e.message, "status": e.status.as_u16()}))
                }
                Err(_) => {
                    let e = ApiError::from(super::worker::JobError::Deadline(timeout_s));
                    frame(stream, "error", &json!({"error": e.message, "status": 503}))
                }
                Ok(Some(Update::Texts(_))) | Ok(None) => frame(
                    stream,
                    "error",
                    &json!({"error": "Cannot translate text: the worker stopped", "status": 500}),
                ),
            };
            Some((Ok(out), (None, None, sources)))
        },
    );
    let mut resp = Response::new(Body::from_stream(events));
    let mime = match stream {
        Stream::Sse => "text/event-stream",
        _ => "application/x-ndjson",
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(resp)
}

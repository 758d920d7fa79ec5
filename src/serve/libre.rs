//! The LibreTranslate API, as `libretranslate/app.py` answers it: same routes, parameters, JSON, status
//! codes and error messages, so existing clients work unchanged. warta translates only Indonesian to
//! English; every other pair gets LibreTranslate's "not available" answer.

use axum::extract::{Path, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::params::Params;
use super::{html, ApiError, St};

/// Languages the server knows: (code, name). Only `id` → `en` is a translation.
const LANGUAGES: &[(&str, &str)] = &[("en", "English"), ("id", "Indonesian")];

/// File extensions `/translate_file` takes.
pub(crate) const FILE_FORMATS: &[&str] = &[".txt", ".html"];

fn language_name(code: &str) -> Option<&'static str> {
    LANGUAGES.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

fn missing(name: &str) -> ApiError {
    ApiError::bad_request(format!("Invalid request: missing {name} parameter"))
}

fn not_supported(lang: &str) -> ApiError {
    ApiError::bad_request(format!("{lang} is not supported"))
}

/// LibreTranslate's `iso2model`: lower case, with its aliases (none concern Indonesian or English).
fn iso2model(lang: Option<String>) -> Option<String> {
    lang.map(|l| l.to_lowercase()).filter(|l| !l.is_empty())
}

/// The pair must be Indonesian → English (after detection for `auto`).
fn check_pair(source: &str, target: &str) -> Result<(), ApiError> {
    if source == "id" && target == "en" {
        return Ok(());
    }
    let name = |c: &str| language_name(c).unwrap_or("?");
    Err(ApiError::bad_request(format!(
        "{} ({target}) is not available as a target language from {} ({source})",
        name(target),
        name(source)
    )))
}

/// LibreTranslate's `detect_translatable`: text that is only spaces and emoji is sent back as it is.
fn translatable(texts: &[String]) -> bool {
    let emoji = |c: char| {
        let c = c as u32;
        c == 0x20
            || (0x1F600..0x1F64F).contains(&c)
            || (0x1F300..0x1F5FF).contains(&c)
            || (0x1F680..0x1F6FF).contains(&c)
            || (0x2600..0x26FF).contains(&c)
            || (0x2700..0x27BF).contains(&c)
            || (0xFE00..0xFE0F).contains(&c)
            || (0x1F900..0x1F9FF).contains(&c)
            || (0x1F1E6..0x1F1FF).contains(&c)
            || (0x20D0..0x20FF).contains(&c)
    };
    texts.iter().any(|t| t.chars().any(|c| !emoji(c)))
}

/// LibreTranslate's `detect_languages` over one or several texts: `[{confidence, language}]`, best
/// first, confidences in percent; texts of several languages are averaged weighted by length.
pub(crate) fn detect_languages(texts: &[String]) -> Vec<Value> {
    let mut totals: Vec<(&str, f64, usize)> = Vec::new();
    for t in texts {
        for (code, c) in crate::article::id_en_confidences(t) {
            match totals.iter_mut().find(|(k, _, _)| *k == code) {
                Some(e) => {
                    e.1 += c * t.chars().count() as f64;
                    e.2 += t.chars().count();
                }
                None => totals.push((code, c * t.chars().count() as f64, t.chars().count())),
            }
        }
    }
    if totals.is_empty() {
        return vec![json!({"confidence": 0.0, "language": "en"})];
    }
    let mut out: Vec<(&str, f64)> = totals
        .into_iter()
        .map(|(k, sum, len)| (k, if len == 0 { 0.0 } else { sum / len as f64 }))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out.into_iter()
        .map(|(k, c)| json!({"confidence": (c * 1000.0).round() / 10.0, "language": k}))
        .collect()
}

/// Python's `"\n".join(s.splitlines())`, which LibreTranslate applies to form values.
fn normalize_newlines(s: &str) -> String {
    let unified = s.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<&str> = unified.split('\n').collect();
    let keep = if unified.ends_with('\n') {
        &lines[..lines.len() - 1]
    } else {
        &lines[..]
    };
    keep.join("\n")
}

/// `POST /translate`.
pub(crate) async fn translate(state: St, req: Request) -> Result<Json<Value>, ApiError> {
    let state = state.0;
    let params = Params::read(req, state.options.body_limit).await?;
    state.check_key(params.text("api_key").as_deref())?;

    let q = params.value("q");
    let source = iso2model(params.text("source"));
    let target = iso2model(params.text("target"));
    let format = params.text("format");
    let alternatives = params.text("alternatives");

    let empty = match &q {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Bool(b)) => !b,
        Some(_) => false,
    };
    if empty {
        return Err(missing("q"));
    }
    let source = source.ok_or_else(|| missing("source"))?;
    let target = target.ok_or_else(|| missing("target"))?;
    let alternatives: i64 = match alternatives {
        None => 0,
        Some(a) => a.trim().parse::<i64>().map_err(|_| {
            ApiError::bad_request("Invalid request: alternatives parameter is not a number")
        })?,
    };
    let alternatives = alternatives.max(0);

    let batch = matches!(q, Some(Value::Array(_)));
    let texts: Vec<String> = match q {
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(ApiError::bad_request(
                    "Invalid request: q must be a string or an array of strings",
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(Value::String(s)) => vec![s],
        Some(other) => vec![other.to_string()],
        None => return Err(missing("q")),
    };
    let texts: Vec<String> = if params.is_json() {
        texts
    } else {
        texts.iter().map(|t| normalize_newlines(t)).collect()
    };

    if batch {
        if let Some(limit) = state.options.batch_limit {
            if texts.len() > limit {
                return Err(ApiError::bad_request(format!(
                    "Invalid request: request ({}) exceeds text limit ({limit})",
                    texts.len()
                )));
            }
        }
    }
    check_char_limit(&state.options, &texts)?;

    let can_translate = translatable(&texts);
    let (detected, src) = if !can_translate {
        (json!({"confidence": 0.0, "language": "en"}), "en".to_string())
    } else if source == "auto" {
        let d = detect_languages(&texts).remove(0);
        let lang = d["language"].as_str().unwrap_or("en").to_string();
        (d, lang)
    } else {
        (json!({"confidence": 100.0, "language": source}), source.clone())
    };
    if language_name(&src).is_none() {
        return Err(not_supported(&source));
    }
    if language_name(&target).is_none() {
        return Err(not_supported(&target));
    }
    let format = format.filter(|f| !f.is_empty()).unwrap_or_else(|| "text".into());
    if format != "text" && format != "html" {
        return Err(ApiError::bad_request(format!("{format} format is not supported")));
    }

    let translated: Vec<String> = if can_translate {
        check_pair(&src, &target)?;
        if format == "html" {
            translate_html(&state, &texts).await?
        } else {
            state.translate_texts(texts.clone()).await?
        }
    } else {
        texts.clone()
    };

    let mut result = serde_json::Map::new();
    let n = translated.len();
    if batch {
        result.insert("translatedText".into(), json!(translated));
        if source == "auto" {
            result.insert("detectedLanguage".into(), json!(vec![detected; n]));
        }
        if alternatives > 0 {
            // Marian's beam search keeps only its best hypothesis: no alternatives to offer.
            result.insert("alternatives".into(), json!(vec![Vec::<String>::new(); n]));
        }
    } else {
        result.insert(
            "translatedText".into(),
            json!(translated.into_iter().next().unwrap_or_default()),
        );
        if source == "auto" {
            result.insert("detectedLanguage".into(), detected);
        }
        if alternatives > 0 {
            result.insert("alternatives".into(), json!(Vec::<String>::new()));
        }
    }
    Ok(Json(Value::Object(result)))
}

/// Translate the text nodes of each HTML text, keeping the markup.
async fn translate_html(state: &super::AppState, docs: &[String]) -> Result<Vec<String>, ApiError> {
    let per_doc: Vec<Vec<String>> = docs.iter().map(|d| html::texts(d)).collect();
    let flat: Vec<String> = per_doc.iter().flatten().cloned().collect();
    let translated = if flat.is_empty() {
        Vec::new()
    } else {
        state.translate_texts(flat).await?
    };
    let mut it = translated.into_iter();
    Ok(docs
        .iter()
        .zip(&per_doc)
        .map(|(d, texts)| {
            let mine: Vec<String> = it.by_ref().take(texts.len()).collect();
            html::rebuild(d, &mine)
        })
        .collect())
}

/// `POST /detect`.
pub(crate) async fn detect(state: St, req: Request) -> Result<Json<Value>, ApiError> {
    let state = state.0;
    let params = Params::read(req, state.options.body_limit).await?;
    state.check_key(params.text("api_key").as_deref())?;
    let texts: Vec<String> = match params.value("q") {
        Some(Value::String(s)) if !s.is_empty() => vec![s],
        Some(Value::Array(a)) if !a.is_empty() => a
            .into_iter()
            .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
            .collect(),
        _ => return Err(missing("q")),
    };
    check_char_limit(&state.options, &texts)?;
    // lingua is CPU work, but milliseconds: off the async threads all the same.
    let detected = tokio::task::spawn_blocking(move || detect_languages(&texts))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(Value::Array(detected)))
}

/// `GET /languages`.
pub(crate) async fn languages() -> Json<Value> {
    Json(json!(LANGUAGES
        .iter()
        .map(|(code, name)| json!({
            "code": code,
            "name": name,
            "targets": if *code == "id" { vec!["en"] } else { Vec::new() },
        }))
        .collect::<Vec<_>>()))
}

/// `GET /frontend/settings`: every key LibreTranslate's own web page reads.
pub(crate) async fn settings(state: St) -> Json<Value> {
    let o = &state.0.options;
    let keys = state.0.keys.is_some();
    Json(json!({
        "charLimit": o.char_limit.map_or(-1, |c| c as i64),
        "frontendTimeout": 500,
        "apiKeys": keys,
        "keyRequired": keys,
        "suggestions": false,
        "filesTranslation": true,
        "supportedFilesFormat": FILE_FORMATS,
        "language": {
            "source": {"code": "id", "name": "Indonesian"},
            "target": {"code": "en", "name": "English"},
        },
    }))
}

/// `GET /health`: the server answers only once its engines are loaded, so this is readiness too.
pub(crate) async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// LibreTranslate's `secure_filename`, near enough: ASCII letters, digits, `._-`; spaces to `_`.
fn secure_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let s: String = base
        .chars()
        .map(|c| if c.is_whitespace() { '_' } else { c })
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .collect();
    s.trim_start_matches(['.', '_']).to_string()
}

fn unique_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let h = blake3::hash(format!("{nanos}:{n}:{}", std::process::id()).as_bytes()).to_hex();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// `POST /translate_file` (multipart: `file`, `source`, `target`): .txt line by line, .html text nodes.
pub(crate) async fn translate_file(state: St, headers: HeaderMap, req: Request) -> Result<Json<Value>, ApiError> {
    let state = state.0;
    let mut params = Params::read(req, state.options.body_limit).await?;
    state.check_key(params.text("api_key").as_deref())?;
    let source = iso2model(params.form_field("source"));
    let target = iso2model(params.form_field("target"));
    let file = params.take_file("file").ok_or_else(|| missing("file"))?;
    let source = source.ok_or_else(|| missing("source"))?;
    let target = target.ok_or_else(|| missing("target"))?;
    if file.filename.is_empty() {
        return Err(ApiError::bad_request("Invalid request: empty file"));
    }
    let ext = file
        .filename
        .rfind('.')
        .map(|i| file.filename[i..].to_string())
        .unwrap_or_default();
    if !FILE_FORMATS.contains(&ext.as_str()) {
        return Err(ApiError::bad_request("Invalid request: file format not supported"));
    }
    if source != "auto" && language_name(&source).is_none() {
        return Err(not_supported(&source));
    }
    if language_name(&target).is_none() {
        return Err(not_supported(&target));
    }
    let text = String::from_utf8(file.bytes).map_err(|_| {
        ApiError::bad_request(format!(
            "Invalid request: {} is not UTF-8 text; convert it to UTF-8 first",
            file.filename
        ))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text).to_string();
    let is_html = ext == ".html";
    let src = if source == "auto" {
        let sample = if is_html { html::texts(&text).join("\n") } else { text.clone() };
        let d = detect_languages(&[sample]);
        d[0]["language"].as_str().unwrap_or("en").to_string()
    } else {
        source.clone()
    };
    check_pair(&src, &target)?;
    let translated = if is_html {
        translate_html(&state, std::slice::from_ref(&text)).await?.remove(0)
    } else {
        let mut t = state.translate_texts(vec![text.clone()]).await?.remove(0);
        if text.ends_with('\n') && !t.ends_with('\n') {
            t.push('\n');
        }
        t
    };
    let name = format!("{}.{}", unique_id(), secure_filename(&file.filename));
    {
        let mut files = state.files.lock().unwrap_or_else(|p| p.into_inner());
        files.push_back((name.clone(), translated.into_bytes()));
        while files.len() > super::FILES_KEPT {
            files.pop_front();
        }
    }
    let url = format!("{}/download_file/{name}", state.base_url(&headers));
    Ok(Json(json!({ "translatedFileUrl": url })))
}

/// `GET /download_file/{uuid}.{name}`: the translated file as an attachment named `{name}`.
pub(crate) async fn download_file(state: St, Path(name): Path<String>) -> Result<Response, ApiError> {
    let files = state.0.files.lock().unwrap_or_else(|p| p.into_inner());
    let Some((_, bytes)) = files.iter().find(|(n, _)| *n == name) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "Invalid filename: no such translated file (files are kept for the newest 64 translations)",
        ));
    };
    let download = name.split_once('.').map_or(name.as_str(), |(_, rest)| rest);
    let mime = if download.ends_with(".html") {
        "text/html; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    };
    let mut r = bytes.clone().into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename={download}")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// LibreTranslate's answer to a text over `--char-limit` (`/translate` and `/detect` alike).
fn check_char_limit(options: &super::Options, texts: &[String]) -> Result<(), ApiError> {
    let Some(limit) = options.char_limit else { return Ok(()) };
    for t in texts {
        let n = t.chars().count();
        if n > limit {
            return Err(ApiError::bad_request(format!(
                "Invalid request: request ({n}) exceeds text limit ({limit})"
            )));
        }
    }
    Ok(())
}

//! Request parameters the way LibreTranslate (Flask) reads them: from a JSON object body when the
//! Content-Type says JSON, otherwise from the query string plus an urlencoded or multipart form body
//! (the query string wins, as in Flask's `request.values`). A request may have no body at all.

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{header, StatusCode};
use serde_json::{Map, Value};

use super::ApiError;

/// An uploaded file.
pub(crate) struct Upload {
    pub filename: String,
    pub bytes: Vec<u8>,
}

#[derive(Default)]
pub(crate) struct Params {
    /// The JSON object body, when the request was JSON.
    pub json: Option<Map<String, Value>>,
    /// Query string parameters, then form fields.
    pub query: Vec<(String, String)>,
    pub form: Vec<(String, String)>,
    pub files: Vec<(String, Upload)>,
}

/// The media type of a Content-Type value, lower-cased, without its parameters.
pub(crate) fn essence(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

fn is_json(content_type: &str) -> bool {
    let mime = essence(content_type);
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

pub(crate) fn mime_of(req: &Request) -> String {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

pub(crate) fn parse_urlencoded(s: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(s.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

impl Params {
    /// Read every parameter of `req`; `limit` bounds the body in bytes.
    pub async fn read(req: Request, limit: usize) -> Result<Params, ApiError> {
        let mut params = Params {
            query: parse_urlencoded(req.uri().query().unwrap_or("")),
            ..Params::default()
        };
        let content_type = mime_of(&req);
        let mime = essence(&content_type);
        if is_json(&content_type) {
            let bytes = body_bytes(req.into_body(), limit).await?;
            let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
                ApiError::bad_request(format!("Failed to decode JSON object: {e}"))
            })?;
            match value {
                Value::Object(map) => params.json = Some(map),
                _ => return Err(ApiError::bad_request("Invalid JSON format")),
            }
        } else if mime == "multipart/form-data" {
            let mut multipart = Multipart::from_request(req, &()).await.map_err(|e| {
                ApiError::bad_request(format!("Invalid request: cannot read the form: {e}"))
            })?;
            loop {
                let field = match multipart.next_field().await {
                    Ok(Some(f)) => f,
                    Ok(None) => break,
                    Err(e) => return Err(multipart_error(e, limit)),
                };
                let name = field.name().unwrap_or("").to_string();
                let filename = field.file_name().map(str::to_string);
                let bytes = field.bytes().await.map_err(|e| multipart_error(e, limit))?;
                match filename {
                    Some(filename) => params.files.push((
                        name,
                        Upload {
                            filename,
                            bytes: bytes.to_vec(),
                        },
                    )),
                    None => params
                        .form
                        .push((name, String::from_utf8_lossy(&bytes).into_owned())),
                }
            }
        } else if mime == "application/x-www-form-urlencoded" {
            let bytes = body_bytes(req.into_body(), limit).await?;
            params.form = parse_urlencoded(&String::from_utf8_lossy(&bytes));
        } else {
            // No body, or one we do not read as parameters: its size still counts.
            let _ = body_bytes(req.into_body(), limit).await?;
        }
        Ok(params)
    }

    pub fn is_json(&self) -> bool {
        self.json.is_some()
    }

    /// A parameter as JSON: the JSON body's member, or the first query/form value as a string.
    pub fn value(&self, name: &str) -> Option<Value> {
        match &self.json {
            Some(map) => map.get(name).cloned(),
            None => self.text(name).map(Value::String),
        }
    }

    /// A parameter as text (JSON numbers and booleans as written; null or absent as `None`).
    pub fn text(&self, name: &str) -> Option<String> {
        match &self.json {
            Some(map) => match map.get(name)? {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            },
            None => self
                .query
                .iter()
                .chain(self.form.iter())
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone()),
        }
    }

    /// A form field of a multipart body only (LibreTranslate's `request.form`).
    pub fn form_field(&self, name: &str) -> Option<String> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    pub fn take_file(&mut self, name: &str) -> Option<Upload> {
        let i = self.files.iter().position(|(k, _)| k == name)?;
        Some(self.files.remove(i).1)
    }
}

fn multipart_error(e: axum::extract::multipart::MultipartError, limit: usize) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large(limit)
    } else {
        ApiError::bad_request(format!("Invalid request: cannot read the form: {e}"))
    }
}

pub(crate) async fn body_bytes(body: Body, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let text = format!("{e:?}");
        if text.contains("LengthLimit") {
            ApiError::too_large(limit)
        } else {
            ApiError::bad_request(format!("Invalid request: cannot read the body: {e}"))
        }
    })
}

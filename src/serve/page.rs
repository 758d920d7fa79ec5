//! The article page at `GET /`: one HTML file, a script and a style sheet, embedded in the binary (no
//! CDN, no build step).

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::ApiError;

const INDEX: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/app.js");
const STYLE: &str = include_str!("page/style.css");

fn with_type(body: &'static str, mime: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    // The page loads only its own script and style, and nothing from elsewhere.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

pub(crate) async fn index() -> Response {
    with_type(INDEX, "text/html; charset=utf-8")
}

pub(crate) async fn asset(Path(name): Path<String>) -> Result<Response, ApiError> {
    match name.as_str() {
        "app.js" => Ok(with_type(SCRIPT, "text/javascript; charset=utf-8")),
        "style.css" => Ok(with_type(STYLE, "text/css; charset=utf-8")),
        _ => Err(ApiError::new(StatusCode::NOT_FOUND, "Not Found: no such asset")),
    }
}

//! `GET /openapi.json`: an OpenAPI 3 description of every route (kept beside the code; a test checks
//! that it names every route the router serves).

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

pub(crate) const SPEC: &str = include_str!("openapi.json");

pub(crate) async fn spec() -> Response {
    let mut r = SPEC.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

#[cfg(test)]
mod tests {
    /// Every route in `serve/mod.rs`'s router is described, and nothing else.
    #[test]
    fn every_route_is_described() {
        let spec: serde_json::Value = serde_json::from_str(super::SPEC).expect("valid JSON");
        let paths: std::collections::BTreeSet<String> = spec["paths"]
            .as_object()
            .expect("paths")
            .keys()
            .cloned()
            .collect();
        let router = include_str!("mod.rs");
        let routes: std::collections::BTreeSet<String> = router
            .lines()
            .filter_map(|l| l.trim().strip_prefix(".route(\""))
            .filter_map(|l| l.split('"').next())
            .map(str::to_string)
            .collect();
        assert!(!routes.is_empty());
        assert_eq!(paths, routes);
        assert_eq!(spec["openapi"].as_str().map(|v| &v[..2]), Some("3."));
        assert_eq!(spec["info"]["version"], env!("CARGO_PKG_VERSION"));
    }
}

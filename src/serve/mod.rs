//! `warta serve`: a LibreTranslate-compatible HTTP API, warta's own versioned API (`/v1/…`) and an
//! article page (`GET /`), over one worker that owns the engines ([`worker`]).
//!
//! axum on tokio: the usual lean async stack; the CPU-bound work stays on the worker thread, so the
//! runtime only parses requests, queues jobs and streams answers.

mod html;
mod libre;
mod openapi;
mod page;
mod params;
mod v1;
mod worker;

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::config::{EngineOptions, SummaryOptions};
use crate::pipeline::{Engines, Mode};

/// What `warta serve` is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    pub host: String,
    pub port: u16,
    /// File of accepted API keys (one per line; `#` starts a comment). When given, every translation
    /// request must carry one of them.
    pub api_keys: Option<PathBuf>,
    /// Most characters per text (LibreTranslate's `--char-limit`; `None`: no limit).
    pub char_limit: Option<usize>,
    /// Most texts in one `q` array (`None`: no limit).
    pub batch_limit: Option<usize>,
    /// Largest request body, in bytes.
    pub body_limit: usize,
    /// Jobs that may wait for the worker; more are refused with 503.
    pub queue: usize,
    /// Longest a request may take, queueing included.
    pub timeout: Duration,
    /// The server's address as clients see it (behind a proxy), for download URLs.
    pub public_url: Option<String>,
    pub quiet: bool,
    pub progress: bool,
    pub models: EngineOptions,
    pub summary: SummaryOptions,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("--api-keys {}: cannot read: {source}", path.display())]
    ApiKeys {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("--api-keys {}: no keys in the file (one key per line)", path.display())]
    NoKeys { path: PathBuf },
    #[error("cannot listen on {addr}: {source} (is another server on that port? choose one with --port)")]
    Bind { addr: String, source: std::io::Error },
    #[error("the HTTP server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Files translated by `/translate_file`, kept for `/download_file/…` (the newest [`FILES_KEPT`]).
const FILES_KEPT: usize = 64;

pub(crate) struct AppState {
    pub options: Options,
    pub keys: Option<HashSet<String>>,
    pub queue: worker::Queue,
    pub files: Mutex<VecDeque<(String, Vec<u8>)>>,
    pub translator: String,
    pub model: String,
    pub summarizer: Option<String>,
    pub warnings: Vec<String>,
}

pub(crate) type Shared = Arc<AppState>;

/// An error answer: `{"error": "…"}` with a status (and `Retry-After` for a full queue).
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            retry_after: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Invalid request: the body is larger than the server's limit of {limit} bytes"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(serde_json::json!({ "error": self.message }))).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        r
    }
}

impl From<worker::Refused> for ApiError {
    fn from(r: worker::Refused) -> ApiError {
        match r {
            worker::Refused::Busy {
                queued,
                retry_after,
            } => ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: format!(
                    "Slowdown: the server is busy ({queued} requests waiting); retry in {retry_after} s"
                ),
                retry_after: Some(retry_after),
            },
            worker::Refused::ShuttingDown => ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: "the server is shutting down; retry in a moment".into(),
                retry_after: Some(5),
            },
        }
    }
}

impl From<worker::JobError> for ApiError {
    fn from(e: worker::JobError) -> ApiError {
        use worker::JobError;
        let status = match e {
            JobError::Deadline(_) | JobError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            JobError::Gone | JobError::Engine(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = match &e {
            JobError::Engine(m) => format!("Cannot translate text: {m}"),
            other => other.to_string(),
        };
        ApiError::new(status, message)
    }
}

/// The API keys in `path`: one per line, blank lines and `#` comments ignored.
fn read_keys(path: &std::path::Path) -> Result<HashSet<String>, ServeError> {
    let text = std::fs::read_to_string(path).map_err(|source| ServeError::ApiKeys {
        path: path.to_path_buf(),
        source,
    })?;
    let keys: HashSet<String> = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if keys.is_empty() {
        return Err(ServeError::NoKeys {
            path: path.to_path_buf(),
        });
    }
    Ok(keys)
}

/// Load the engines, listen, and serve until SIGTERM or Ctrl-C.
pub fn run(options: Options) -> crate::Result<()> {
    let keys = options.api_keys.as_deref().map(read_keys).transpose()?;
    let mode = Mode::Translate { summary: true };
    let engines = Engines::load(&options.models, &options.summary, mode, options.progress)?;
    let note = |m: &str| {
        if !options.quiet {
            eprintln!("warta: {m}");
        }
    };
    for w in &engines.warnings {
        note(&format!("warning: {w}"));
    }
    let info = engines.translator.as_ref().map(|t| t.info()).unwrap_or_default();
    let summarizer = engines.summarizer.as_ref().map(|s| {
        s.llm_id()
            .map_or_else(|| "extractive".to_string(), |l| format!("llm ({l})"))
    });
    let warnings = engines.warnings.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(ServeError::Io)?;
    let (queue, worker) = worker::start(
        engines,
        options.queue,
        options.timeout,
        options.models.batch_size.max(1),
        options.quiet,
    );
    let shutdown = queue.shutdown.clone();
    let state: Shared = Arc::new(AppState {
        keys,
        queue,
        files: Mutex::new(VecDeque::new()),
        translator: info.translator,
        model: info.model,
        summarizer,
        warnings,
        options: options.clone(),
    });
    let addr = format!("{}:{}", options.host, options.port);
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|source| ServeError::Bind {
                addr: addr.clone(),
                source,
            })?;
        let local: SocketAddr = listener.local_addr()?;
        // Tests and scripts read this line to find an ephemeral port.
        eprintln!("warta: serving on http://{local}/ (LibreTranslate API, /v1, page at /)");
        let app = router(state.clone());
        let signal = {
            let shutdown = shutdown.clone();
            let quiet = options.quiet;
            async move {
                stop_signal().await;
                if !quiet {
                    eprintln!("warta: stopping: no new requests; cancelling the running ones");
                }
                // Running and queued jobs stop at their next check and answer 503.
                shutdown.store(true, Ordering::SeqCst);
            }
        };
        axum::serve(listener, app)
            .with_graceful_shutdown(signal)
            .await
            .map_err(ServeError::Io)
    })?;
    drop(state);
    // Dropping the last queue sender ends the worker after its current job.
    let _ = worker.join();
    note("stopped");
    Ok(())
}

async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

fn router(state: Shared) -> Router {
    let limit = state.options.body_limit;
    Router::new()
        .route("/", get(page::index))
        .route("/assets/{name}", get(page::asset))
        .route("/translate", post(libre::translate))
        .route("/detect", post(libre::detect))
        .route("/languages", get(libre::languages))
        .route("/frontend/settings", get(libre::settings))
        .route("/health", get(libre::health))
        .route("/translate_file", post(libre::translate_file))
        .route("/download_file/{name}", get(libre::download_file))
        .route("/v1/translate", post(v1::translate))
        .route("/v1/summarize", post(v1::summarize))
        .route("/v1/clean", post(v1::clean))
        .route("/v1/info", get(v1::info))
        .route("/openapi.json", get(openapi::spec))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn(cors))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "Not Found: no such route; see /openapi.json")
}

/// CORS as LibreTranslate sends it, on every answer; a preflight `OPTIONS` is answered here.
async fn cors(req: Request, next: Next) -> Response {
    let mut response = if req.method() == Method::OPTIONS {
        let mut r = StatusCode::OK.into_response();
        r.headers_mut().insert(
            header::ALLOW,
            HeaderValue::from_static("GET, HEAD, OPTIONS, POST"),
        );
        r
    } else {
        next.run(req).await
    };
    let h = response.headers_mut();
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(h, "access-control-allow-origin", "*");
    set(h, "access-control-allow-headers", "Authorization, Content-Type");
    set(h, "access-control-expose-headers", "Authorization");
    set(h, "access-control-allow-methods", "GET, POST");
    set(h, "access-control-allow-credentials", "true");
    set(h, "access-control-max-age", "1728000");
    response
}

impl AppState {
    /// LibreTranslate's key check: a given key must be known (403); with keys required, a request
    /// without one is refused (400, LibreTranslate's message when a key is needed).
    pub fn check_key(&self, key: Option<&str>) -> Result<(), ApiError> {
        let Some(keys) = &self.keys else {
            return Ok(());
        };
        match key.filter(|k| !k.is_empty()) {
            Some(k) if keys.contains(k) => Ok(()),
            Some(_) => Err(ApiError::new(StatusCode::FORBIDDEN, "Invalid API key")),
            None => Err(ApiError::bad_request(
                "Please contact the server operator to get an API key",
            )),
        }
    }

    /// The server's base URL as the client reached it: `--public-url`, else what a proxy says in
    /// `X-Forwarded-Proto`/`-Host`/`-Prefix`, else the `Host` header.
    pub fn base_url(&self, headers: &HeaderMap) -> String {
        if let Some(u) = &self.options.public_url {
            return u.trim_end_matches('/').to_string();
        }
        let get = |k: &str| {
            headers
                .get(k)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let proto = get("x-forwarded-proto").unwrap_or_else(|| "http".into());
        let host = get("x-forwarded-host")
            .or_else(|| get("host"))
            .unwrap_or_else(|| format!("{}:{}", self.options.host, self.options.port));
        let prefix = get("x-forwarded-prefix").unwrap_or_default();
        format!("{proto}://{host}{}", prefix.trim_end_matches('/'))
    }

    /// Queue `work`; the receiver gets the worker's updates.
    pub fn submit(
        &self,
        work: worker::Work,
    ) -> Result<tokio::sync::mpsc::UnboundedReceiver<worker::Update>, ApiError> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.queue.submit(work, tx)?;
        Ok(rx)
    }

    /// Translate independent texts on the worker and wait for the result.
    pub async fn translate_texts(&self, texts: Vec<String>) -> Result<Vec<String>, ApiError> {
        let mut rx = self.submit(worker::Work::Texts(texts))?;
        let deadline = self.queue.timeout() + Duration::from_secs(1);
        loop {
            match tokio::time::timeout(deadline, rx.recv()).await {
                Ok(Some(worker::Update::Texts(t))) => return Ok(t),
                Ok(Some(worker::Update::Failed(e))) => return Err(e.into()),
                Ok(Some(_)) => continue,
                Ok(None) => {
                    return Err(ApiError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "Cannot translate text: the worker stopped",
                    ))
                }
                Err(_) => return Err(worker::JobError::Deadline(self.queue.timeout().as_secs()).into()),
            }
        }
    }
}

/// `State` extractor shorthand.
pub(crate) type St = State<Shared>;

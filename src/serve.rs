//! `teleseg serve`: an HTTP scoring service over a pipeline run folder (axum).
//!
//! | route           | what                                                                   |
//! |-----------------|------------------------------------------------------------------------|
//! | `POST /score`   | one customer (a JSON object of column → value) or many (an array): their [`Decision`]s |
//! | `GET /health`   | 200 while the process runs                                             |
//! | `GET /ready`    | 200 while a bundle is loaded and the service is not shutting down, else 503 |
//! | `GET /metadata` | the loaded bundle: path, generation, models, schema                    |
//! | `POST /reload`  | loads the bundle again from its folder and swaps it in (also on SIGHUP) |
//! | `GET /drift`    | population drift of the last `--drift-window` customers scored against the training data ([`crate::drift`]) |
//! | `GET /metrics`  | Prometheus text: requests, customers scored, the bundle generation and the drift indices |
//!
//! A request's customers are read exactly as `teleseg score` reads a CSV: the JSON is written as
//! CSV text (header: every key, in first-seen order; a key a customer lacks is an empty cell) and
//! read by the same reader with the bundle's schema, so every cell rule applies and the scores
//! equal the batch scorer's for the same row. Values: strings as they are, numbers as written,
//! `true`/`false` as binary spellings, `null` as a missing cell. Errors are JSON
//! `{"error": "..."}` with a 4xx status: 400 (not JSON, not objects, nested values), 413 (body or
//! customer count over the limit), 422 (a cell breaks a schema rule; the message names
//! `request:LINE:COLUMN`, where line 2 is the first customer).
//!
//! Hot reload: the new bundle is loaded beside the old one, which keeps answering; it is swapped
//! in only when it loaded completely, so a broken folder leaves the service as it was (the reload
//! answers 500 with the reason). Scoring runs on tokio's blocking pool, so slow requests do not
//! stall health checks.
//!
//! Drift: every customer scored is binned against the bundle's drift reference and enters a
//! sliding window of the last `--drift-window` customers; `GET /drift` reports the window's
//! population stability index per feature and of the segment mix, `GET /metrics` exports them,
//! and a warning is logged whenever a scored request leaves an index above `--drift-alert`
//! (at most once a minute). A reload starts a new window (the new bundle's reference).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::data::reader::{CsvBatches, OnBadRow, ReadOptions};
use crate::data::schema::Schema;
use crate::data::writer::csv_field;
use crate::drift::{DriftReport, DriftWindow};
use crate::scoring::{Decider, DeciderOptions, Decision};

/// How the service runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The pipeline run folder (or dec run) served.
    pub checkpoint: PathBuf,
    /// Address to listen on; port 0 picks a free port (printed at start).
    pub addr: SocketAddr,
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
    /// Most customers in one request.
    pub max_customers: usize,
    /// Customers in the drift window.
    pub drift_window: usize,
    /// PSI above which drift alerts.
    pub drift_alert: f64,
    pub decider: DeciderOptions,
}

/// The loaded bundle and when.
struct Loaded {
    decider: Arc<Decider>,
    generation: u64,
    loaded_at: u64,
    /// The last customers scored with this bundle (none without a drift reference).
    drift: Option<Arc<Mutex<DriftWindow>>>,
}

impl Loaded {
    fn new(decider: Decider, generation: u64, window: usize) -> Loaded {
        let drift = decider
            .drift
            .as_ref()
            .map(|r| Arc::new(Mutex::new(DriftWindow::new(r, window))));
        Loaded {
            decider: Arc::new(decider),
            generation,
            loaded_at: unix_now(),
            drift,
        }
    }
}

/// Request and customer counters of `GET /metrics`.
#[derive(Default)]
struct Counters {
    requests_ok: AtomicU64,
    requests_failed: AtomicU64,
    customers: AtomicU64,
    /// Unix second of the last drift warning (at most one a minute).
    last_warning: AtomicU64,
}

struct AppState {
    opts: ServeOptions,
    device: burn::tensor::Device,
    loaded: RwLock<Loaded>,
    /// Serialises reloads (a second one waits rather than loading twice at once).
    reloading: tokio::sync::Mutex<()>,
    generations: AtomicU64,
    draining: AtomicBool,
    counters: Counters,
}

/// An error answer: status and message, sent as `{"error": message}`.
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, axum::Json(json!({ "error": self.1 }))).into_response()
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Loads the bundle, binds `opts.addr`, prints `listening on http://ADDR` and serves until
/// SIGINT/SIGTERM (then finishes the requests in flight).
pub fn serve(opts: ServeOptions, device: burn::tensor::Device) -> anyhow::Result<()> {
    let decider = Decider::load(&opts.checkpoint, opts.decider.clone(), &device)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(opts.addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", opts.addr))?;
        let addr = listener.local_addr()?;
        let window = opts.drift_window;
        let state = Arc::new(AppState {
            opts,
            device,
            loaded: RwLock::new(Loaded::new(decider, 1, window)),
            reloading: tokio::sync::Mutex::new(()),
            generations: AtomicU64::new(1),
            draining: AtomicBool::new(false),
            counters: Counters::default(),
        });
        tokio::spawn(reload_on_hangup(state.clone()));
        let app = router(state.clone());
        tracing::info!(%addr, checkpoint = %state.opts.checkpoint.display(), "serving");
        {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on http://{addr}")?;
            out.flush()?;
        }
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown(state))
            .await?;
        Ok(())
    })
}

/// The routes over `state`.
fn router(state: Arc<AppState>) -> Router {
    let limit = state.opts.max_body_bytes;
    Router::new()
        .route("/score", post(score))
        .route(
            "/health",
            get(|| async { axum::Json(json!({"status": "ok"})) }),
        )
        .route("/ready", get(ready))
        .route("/metadata", get(metadata))
        .route("/reload", post(reload))
        .route("/drift", get(drift))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Waits for SIGINT or SIGTERM, then marks the service not ready (in-flight requests finish).
async fn shutdown(state: Arc<AppState>) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let term = async {
            match term.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    state.draining.store(true, Ordering::SeqCst);
    tracing::info!("shutting down: finishing requests in flight");
}

/// Reloads the bundle on every SIGHUP (unix).
async fn reload_on_hangup(state: Arc<AppState>) {
    #[cfg(unix)]
    {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            if let Err(e) = reload_bundle(&state).await {
                tracing::error!(error = %e.1, "reload on SIGHUP failed; still serving the old bundle");
            }
        }
    }
    #[cfg(not(unix))]
    let _ = state;
}

async fn ready(State(state): State<Arc<AppState>>) -> Response {
    if state.draining.load(Ordering::SeqCst) {
        return ApiError(StatusCode::SERVICE_UNAVAILABLE, "shutting down".into()).into_response();
    }
    let generation = state.loaded.read().expect("lock").generation;
    axum::Json(json!({"ready": true, "generation": generation})).into_response()
}

async fn metadata(State(state): State<Arc<AppState>>) -> Response {
    let (decider, generation, loaded_at) = {
        let l = state.loaded.read().expect("lock");
        (l.decider.clone(), l.generation, l.loaded_at)
    };
    axum::Json(bundle_metadata(&decider, generation, loaded_at)).into_response()
}

/// What `GET /metadata` answers.
fn bundle_metadata(d: &Decider, generation: u64, loaded_at: u64) -> Value {
    json!({
        "checkpoint": d.path.display().to_string(),
        "generation": generation,
        "loaded_at_unix": loaded_at,
        "segments": {"k": d.segments.head.k, "latent": d.segments.arch.latent},
        "offers": d.offers.as_ref().map(|o| json!({"catalogue": o.model.items.len(), "top_k": o.k})),
        "propensity": d.propensity.as_ref().map(|p| json!({
            "output": p.model.arch.target.output_column(),
            "reasons": d.opts.reasons,
        })),
        "policy": d.policy.as_ref().map(|p| json!({
            "algorithm": p.arch.algorithm.name(),
            "model": p.arch.model.name(),
            "arms": p.arch.arms,
        })),
        "drift": d.drift.as_ref().map(|r| json!({
            "features": r.features.len(),
            "training_rows": r.rows,
        })),
        "schema": d.schema(),
    })
}

async fn reload(State(state): State<Arc<AppState>>) -> Response {
    match reload_bundle(&state).await {
        Ok(generation) => {
            axum::Json(json!({"reloaded": true, "generation": generation})).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// Loads the bundle again (on the blocking pool) and swaps it in; the old one serves meanwhile.
async fn reload_bundle(state: &Arc<AppState>) -> Result<u64, ApiError> {
    let _one_at_a_time = state.reloading.lock().await;
    let s = state.clone();
    let loaded = tokio::task::spawn_blocking(move || {
        Decider::load(&s.opts.checkpoint, s.opts.decider.clone(), &s.device)
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(|e| {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("reload failed, still serving the previous bundle: {e:#}"),
        )
    })?;
    let generation = state.generations.fetch_add(1, Ordering::SeqCst) + 1;
    *state.loaded.write().expect("lock") = Loaded::new(loaded, generation, state.opts.drift_window);
    tracing::info!(generation, "bundle reloaded");
    Ok(generation)
}

async fn score(
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(rejection) => {
            return ApiError(rejection.status(), rejection.body_text()).into_response();
        }
    };
    let (decider, window) = {
        let l = state.loaded.read().expect("lock");
        (l.decider.clone(), l.drift.clone())
    };
    let max_customers = state.opts.max_customers;
    let s = state.clone();
    let result = tokio::task::spawn_blocking(move || {
        let decisions = score_body(&decider, &body, max_customers, window.as_deref())?;
        if let Some(w) = &window {
            s.warn_on_drift(&decider, w);
        }
        Ok::<_, ApiError>(decisions)
    })
    .await;
    let counter = match &result {
        Ok(Ok(d)) => {
            state
                .counters
                .customers
                .fetch_add(d.len() as u64, Ordering::Relaxed);
            &state.counters.requests_ok
        }
        _ => &state.counters.requests_failed,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    match result {
        Ok(Ok(decisions)) => (
            [(header::CONTENT_TYPE, "application/json")],
            axum::Json(json!({ "decisions": decisions })),
        )
            .into_response(),
        Ok(Err(e)) => e.into_response(),
        Err(e) => ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// The decisions for a request body (one customer object or an array of them); the customers
/// scored enter `window` when there is one.
pub fn score_body(
    decider: &Decider,
    body: &[u8],
    max_customers: usize,
    window: Option<&Mutex<DriftWindow>>,
) -> Result<Vec<Decision>, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    let customers = match value {
        Value::Array(items) => items,
        object @ Value::Object(_) => vec![object],
        _ => {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                "the body must be a JSON object (one customer: column → value) or an array of them"
                    .into(),
            ));
        }
    };
    if customers.is_empty() {
        return Ok(Vec::new());
    }
    if customers.len() > max_customers {
        return Err(ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "{} customers in one request; at most {max_customers} (--max-customers)",
                customers.len()
            ),
        ));
    }
    let csv = customers_csv(&customers)?;
    let table = read_rows(&csv, decider.schema())?;
    let scored = decider
        .score(&table)
        .map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("{e:#}")))?;
    if let (Some(window), Some(reference)) = (window, &decider.drift) {
        let rows: Vec<usize> = (0..table.n_rows()).collect();
        let bins = reference
            .bin_rows(&table, &rows)
            .map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
        let mut w = window.lock().expect("lock");
        for (b, &s) in bins.into_iter().zip(&scored.segments.segment) {
            w.push(s, b);
        }
    }
    Ok(decider.decisions(&table, &scored))
}

impl AppState {
    /// Logs the drift warning when the window is above the threshold (at most once a minute).
    fn warn_on_drift(&self, decider: &Decider, window: &Mutex<DriftWindow>) {
        let now = unix_now();
        let last = self.counters.last_warning.load(Ordering::Relaxed);
        if now < last + 60 {
            return;
        }
        if let Some(report) = drift_report(decider, Some(window), self.opts.drift_alert)
            && !report.alerts.is_empty()
        {
            self.counters.last_warning.store(now, Ordering::Relaxed);
            report.warn_if_alerting("serve");
        }
    }
}

/// The drift of `window` against `decider`'s reference (`None` without one).
fn drift_report(
    decider: &Decider,
    window: Option<&Mutex<DriftWindow>>,
    alert: f64,
) -> Option<DriftReport> {
    let (reference, window) = (decider.drift.as_ref()?, window?);
    let counts = window.lock().expect("lock").counts.clone();
    Some(reference.report(&counts, alert))
}

async fn drift(State(state): State<Arc<AppState>>) -> Response {
    let (decider, window, generation) = {
        let l = state.loaded.read().expect("lock");
        (l.decider.clone(), l.drift.clone(), l.generation)
    };
    match drift_report(&decider, window.as_deref(), state.opts.drift_alert) {
        Some(report) => axum::Json(json!({
            "generation": generation,
            "window": state.opts.drift_window,
            "drift": report,
        }))
        .into_response(),
        None => ApiError(
            StatusCode::NOT_FOUND,
            "the bundle has no drift reference (dec/drift_reference.json, written by runs of this version): retrain to measure drift".into(),
        )
        .into_response(),
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    use std::fmt::Write as _;
    let (decider, window, generation) = {
        let l = state.loaded.read().expect("lock");
        (l.decider.clone(), l.drift.clone(), l.generation)
    };
    let c = &state.counters;
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, f64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, v) in samples {
            let _ = writeln!(out, "{name}{labels} {v}");
        }
    };
    metric(
        "teleseg_requests_total",
        "counter",
        "Scoring requests answered, by outcome.",
        &[
            (
                "{outcome=\"ok\"}".into(),
                c.requests_ok.load(Ordering::Relaxed) as f64,
            ),
            (
                "{outcome=\"error\"}".into(),
                c.requests_failed.load(Ordering::Relaxed) as f64,
            ),
        ],
    );
    metric(
        "teleseg_customers_scored_total",
        "counter",
        "Customers scored.",
        &[(String::new(), c.customers.load(Ordering::Relaxed) as f64)],
    );
    metric(
        "teleseg_bundle_generation",
        "gauge",
        "Loads of the bundle (1, then +1 per reload).",
        &[(String::new(), generation as f64)],
    );
    if let Some(r) = drift_report(&decider, window.as_deref(), state.opts.drift_alert) {
        metric(
            "teleseg_drift_window_customers",
            "gauge",
            "Customers in the drift window.",
            &[(String::new(), r.customers as f64)],
        );
        metric(
            "teleseg_drift_segment_psi",
            "gauge",
            "Population stability index of the segment mix against the training rows.",
            &[(String::new(), r.segment_psi)],
        );
        let features: Vec<(String, f64)> = r
            .features
            .iter()
            .map(|f| {
                (
                    format!("{{feature=\"{}\"}}", prometheus_label(&f.name)),
                    f.psi,
                )
            })
            .collect();
        metric(
            "teleseg_drift_feature_psi",
            "gauge",
            "Population stability index of each input feature against the training rows.",
            &features,
        );
        metric(
            "teleseg_drift_alert",
            "gauge",
            "1 when the segment mix or a feature is above the alert threshold.",
            &[(String::new(), f64::from(u8::from(!r.alerts.is_empty())))],
        );
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

/// A Prometheus label value: backslash, quote and newline escaped.
fn prometheus_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The customers as CSV text: a header of every key (first-seen order), one line per customer.
pub fn customers_csv(customers: &[Value]) -> Result<Vec<u8>, ApiError> {
    let mut keys: Vec<&str> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for (i, c) in customers.iter().enumerate() {
        let Value::Object(map) = c else {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                format!("customers[{i}]: expected a JSON object of column → value"),
            ));
        };
        for k in map.keys() {
            if !index.contains_key(k.as_str()) {
                index.insert(k.as_str(), keys.len());
                keys.push(k.as_str());
            }
        }
    }
    let mut out = Vec::with_capacity(customers.len() * 256);
    let header: Vec<String> = keys.iter().map(|k| csv_field(k)).collect();
    out.extend_from_slice(header.join(",").as_bytes());
    out.push(b'\n');
    let mut cells = vec![String::new(); keys.len()];
    for (i, c) in customers.iter().enumerate() {
        let Value::Object(map) = c else {
            unreachable!("checked above")
        };
        cells.iter_mut().for_each(String::clear);
        for (k, v) in map {
            let text = match v {
                Value::Null => String::new(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.clone(),
                Value::Array(_) | Value::Object(_) => {
                    return Err(ApiError(
                        StatusCode::BAD_REQUEST,
                        format!(
                            "customers[{i}].{k}: a nested value; each column takes a string, number, boolean or null"
                        ),
                    ));
                }
            };
            cells[index[k.as_str()]] = csv_field(&text);
        }
        out.extend_from_slice(cells.join(",").as_bytes());
        out.push(b'\n');
    }
    Ok(out)
}

/// Reads CSV text with `schema` by the rules of every other reader; a broken rule is a 422.
fn read_rows(csv: &[u8], schema: &Schema) -> Result<crate::data::table::RawTable, ApiError> {
    let unprocessable = |e: crate::data::error::DataError| {
        ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
    };
    let opts = ReadOptions {
        on_bad_row: OnBadRow::Error,
    };
    let mut rows = CsvBatches::from_reader(csv, "request", schema, &opts).map_err(unprocessable)?;
    let table = rows
        .next_batch(usize::MAX)
        .map_err(unprocessable)?
        .expect("at least one customer");
    Ok(table)
}

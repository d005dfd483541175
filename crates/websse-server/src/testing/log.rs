//! `GET /test/log/{key}`: what a scenario's connections sent and how they ended.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use crate::SharedState;
use crate::errors::ApiError;

use super::check_key;
use super::store::LogEntry;

pub(super) fn routes() -> Router<SharedState> {
    Router::new().route("/test/log/{key}", get(get_log))
}

#[derive(Serialize)]
struct LogBody<'a> {
    connections: Vec<&'a LogEntry>,
}

/// `GET /test/log/{key}`: what the scenario's connections sent and how they ended.
async fn get_log(
    State(state): State<SharedState>,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    check_key(&key)?;
    let inner = state.tests.lock();
    let connections = inner
        .scenarios
        .get(&key)
        .map(|s| s.log.iter().collect())
        .unwrap_or_default();
    let body = serde_json::to_vec(&LogBody { connections }).unwrap_or_default();
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        [(header::CACHE_CONTROL, "no-store")],
        body,
    )
        .into_response())
}

//! `ANY /test/echo`: the request, sent back as one event.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use axum::routing::any;
use serde::Serialize;

use crate::errors::ApiError;
use crate::{SharedState, util};

use super::store::header_map_json;

pub(super) fn routes() -> Router<SharedState> {
    Router::new().route("/test/echo", any(echo))
}

#[derive(Serialize)]
struct EchoData<'a> {
    method: &'a str,
    headers: BTreeMap<String, String>,
    body: String,
}

/// `ANY /test/echo`: one `echo` event with the request's method, headers and body.
async fn echo(
    method: Method,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|e| ApiError::from_body_rejection(&e))?;
    let data = serde_json::to_string(&EchoData {
        method: method.as_str(),
        headers: header_map_json(&headers),
        body: String::from_utf8_lossy(&body).into_owned(),
    })
    .unwrap_or_default();
    Ok(util::event_stream(Body::from(format!(
        "event: echo\ndata: {data}\n\n"
    ))))
}

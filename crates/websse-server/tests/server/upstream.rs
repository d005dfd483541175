//! The upstream proxy against a fake OpenAI-compatible server started here.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use websse_server::{Config, UpstreamConfig};

use crate::support::{client, header, read_body, spawn_with};

type Seen = Arc<Mutex<Vec<(Option<String>, Value)>>>;

/// A fake upstream: records the authorization header and request body, answers with `body`.
async fn fake_upstream(
    status: StatusCode,
    body: &'static str,
) -> (String, Seen, tokio::task::JoinHandle<()>) {
    let seen: Seen = Arc::default();
    let record = Arc::clone(&seen);
    let app = Router::new().route(
        "/v1/chat/completions",
        post(move |headers: HeaderMap, body_in: String| {
            let record = Arc::clone(&record);
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let value = serde_json::from_str(&body_in).unwrap_or(Value::Null);
                record.lock().expect("lock").push((auth, value));
                let mut response = Response::new(Body::from(body));
                *response.status_mut() = status;
                response
                    .headers_mut()
                    .insert("content-type", "text/event-stream".parse().expect("header"));
                response.into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/v1"), seen, task)
}

fn config(url: String) -> Config {
    Config {
        upstream: Some(UpstreamConfig {
            url,
            api_key: Some("sk-test".to_owned()),
            model: "fake-model".to_owned(),
        }),
        ..Config::default()
    }
}

#[tokio::test]
async fn upstream_deltas_are_restreamed_in_our_format() {
    const BODY: &str = "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n\
        data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n\
        : a comment\n\n\
        data: {\"choices\":[{\"delta\":{\"content\":\"lo, \"}}]}\r\n\r\n\
        data: {\"choices\":[{\"delta\":{\"content\":\"世界\"},\"finish_reason\":\"stop\"}]}\n\n\
        data: [DONE]\n\n";
    let (url, seen, task) = fake_upstream(StatusCode::OK, BODY).await;
    let server = spawn_with(config(url)).await;
    let response = client()
        .post(server.url("/api/chat"))
        .json(&json!({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 50}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let sid = header(&response, "x-stream-id").expect("sid").to_owned();
    let body = read_body(response).await;
    let expected = format!(
        "retry: 1000\nevent: start\nid: {sid}:0\ndata: {{\"stream_id\":\"{sid}\",\"model\":\"fake-model\"}}\n\n\
         event: delta\nid: {sid}:1\ndata: {{\"text\":\"Hel\"}}\n\n\
         event: delta\nid: {sid}:2\ndata: {{\"text\":\"lo, \"}}\n\n\
         event: delta\nid: {sid}:3\ndata: {{\"text\":\"世界\"}}\n\n\
         event: done\nid: {sid}:4\ndata: {{\"reason\":\"finished\"}}\n\n"
    );
    assert_eq!(body.text(), expected);

    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0.as_deref(), Some("Bearer sk-test"));
    assert_eq!(
        seen[0].1,
        json!({
            "model": "fake-model",
            "messages": [{"role": "user", "content": "hi"}],
            "stream": true,
            "max_tokens": 50
        })
    );
    task.abort();
}

/// The model's Markdown reaches the client byte for byte: whitespace-only deltas, blank lines,
/// fences, table pipes, backslashes, HTML-looking text and trailing spaces are not trimmed,
/// merged or escaped on the way.
#[tokio::test]
async fn upstream_markdown_passes_through_unchanged() {
    const DELTAS: [&str; 14] = [
        "## Title",
        "\n\n",
        "- **a** and `b`\n",
        "  - nested\\*\n\n",
        "```rust\nfn main() {}\n",
        "```",
        "\n\n| x | y |\n| --- | --- |\n",
        "| <b> | [l](https://example.com/a_b) |",
        "\n",
        "  ",
        "line with two trailing spaces  \n",
        "next\r\n",
        "\t",
        "> 引用 ~~del~~",
    ];
    let body: String = DELTAS
        .iter()
        .map(|d| {
            format!(
                "data: {}\n\n",
                json!({"choices": [{"delta": {"content": d}}]})
            )
        })
        .chain(["data: [DONE]\n\n".to_owned()])
        .collect();
    let (url, _seen, task) = fake_upstream(StatusCode::OK, body.leak()).await;
    let server = spawn_with(config(url)).await;
    let response = client()
        .post(server.url("/api/chat"))
        .json(&json!({"messages": [{"role": "user", "content": "markdown please"}]}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let events = read_body(response).await.events();
    let deltas: Vec<String> = events
        .iter()
        .filter(|e| e.event_type() == "delta")
        .map(|e| {
            let value: Value = serde_json::from_str(e.data()).expect("json");
            value["text"].as_str().expect("text").to_owned()
        })
        .collect();
    assert_eq!(deltas, DELTAS);
    assert_eq!(events.last().map(|e| e.event_type()), Some("done"));
    task.abort();
}

#[tokio::test]
async fn upstream_failure_ends_with_an_error_reason() {
    let (url, _seen, task) =
        fake_upstream(StatusCode::INTERNAL_SERVER_ERROR, "model not loaded").await;
    let server = spawn_with(config(url)).await;
    let response = client()
        .get(server.url("/api/chat?prompt=hi"))
        .send()
        .await
        .expect("request");
    let events = read_body(response).await.events();
    assert_eq!(events.len(), 2, "{events:?}");
    let done: Value = serde_json::from_str(events[1].data()).expect("json");
    assert_eq!(done["reason"], "error");
    let message = done["message"].as_str().expect("message");
    assert!(
        message.contains("500") && message.contains("model not loaded"),
        "{message}"
    );
    task.abort();
}

#[tokio::test]
async fn unreachable_upstream_ends_with_an_error_reason() {
    // A port that was free a moment ago: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let server = spawn_with(config(format!("http://{addr}/v1"))).await;
    let response = client()
        .get(server.url("/api/chat?prompt=hi"))
        .send()
        .await
        .expect("request");
    let events = read_body(response).await.events();
    let done: Value = serde_json::from_str(events[1].data()).expect("json");
    assert_eq!(done["reason"], "error");
}

//! The scriptable test endpoints.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{
    self, client, eventually, header, json_error, read_body, read_body_until, spawn,
};

async fn script(server: &support::TestServer, key: &str, script: Value) {
    let response = client()
        .post(server.url(&format!("/test/script/{key}")))
        .json(&script)
        .send()
        .await
        .expect("script");
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
}

async fn log(server: &support::TestServer, key: &str) -> Vec<Value> {
    let response = client()
        .get(server.url(&format!("/test/log/{key}")))
        .send()
        .await
        .expect("log");
    let value: Value = response.json().await.expect("json");
    value["connections"]
        .as_array()
        .expect("connections")
        .clone()
}

#[tokio::test]
async fn scripted_bytes_and_chunk_boundaries_are_exact() {
    let server = spawn().await;
    script(
        &server,
        "exact",
        json!({"responses": [{
            "chunks": [
                {"text": "data: a\r\ndata: "},
                {"bytes": [226, 130], "delay_ms": 80},
                {"bytes": [172, 10, 10], "delay_ms": 80}
            ]
        }]}),
    )
    .await;
    let started = Instant::now();
    let response = client()
        .get(server.url("/test/sse/exact"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), Some("text/event-stream"));
    assert_eq!(header(&response, "x-test-key"), Some("exact"));
    let body = read_body(response).await;
    assert!(started.elapsed() >= Duration::from_millis(160));
    assert!(!body.error);
    assert_eq!(
        body.chunks,
        [
            b"data: a\r\ndata: ".to_vec(),
            vec![226, 130],
            vec![172, 10, 10]
        ]
    );
    let events = body.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data(), "a\n€");

    let connections = eventually(|| async {
        let log = log(&server, "exact").await;
        (log.first()?["outcome"] == "completed").then_some(log)
    })
    .await;
    assert_eq!(connections.len(), 1);
}

#[tokio::test]
async fn connection_n_gets_response_n_and_the_last_repeats() {
    let server = spawn().await;
    script(
        &server,
        "seq",
        json!({"responses": [
            {"chunks": [{"text": "data: one\n\n"}]},
            {"status": 503, "headers": {"retry-after": "7", "content-type": "text/plain"},
             "chunks": [{"text": "busy"}]},
            {"status": 204}
        ]}),
    )
    .await;
    let http = client();
    let first = http
        .get(server.url("/test/sse/seq"))
        .send()
        .await
        .expect("1");
    assert_eq!(read_body(first).await.text(), "data: one\n\n");
    let second = http
        .post(server.url("/test/sse/seq"))
        .header("Last-Event-ID", "e1")
        .header("X-Custom", "yes")
        .body("payload")
        .send()
        .await
        .expect("2");
    assert_eq!(second.status(), 503);
    assert_eq!(header(&second, "retry-after"), Some("7"));
    // Scripted bodies are served verbatim, never rewritten as JSON errors.
    assert_eq!(header(&second, "content-type"), Some("text/plain"));
    assert_eq!(read_body(second).await.text(), "busy");
    for _ in 0..2 {
        let next = http
            .get(server.url("/test/sse/seq"))
            .send()
            .await
            .expect("3+");
        assert_eq!(next.status(), 204);
    }
    let log = eventually(|| async {
        let log = log(&server, "seq").await;
        log.iter()
            .all(|c| c["outcome"] == "completed")
            .then_some(log)
    })
    .await;
    assert_eq!(log.len(), 4);
    assert_eq!(log[1]["method"], "POST");
    assert_eq!(log[1]["last_event_id"], "e1");
    assert_eq!(log[1]["headers"]["last-event-id"], "e1");
    assert_eq!(log[1]["headers"]["x-custom"], "yes");
    assert_eq!(log[1]["body"], "payload");
    assert_eq!(log[0]["last_event_id"], Value::Null);
    let served: Vec<_> = log.iter().map(|c| c["response"].clone()).collect();
    assert_eq!(served, [json!(0), json!(1), json!(2), json!(2)]);

    // Scripting again resets the log and the counter.
    script(&server, "seq", json!({"responses": [{"status": 204}]})).await;
    assert!(log_is_empty(&server, "seq").await);
}

async fn log_is_empty(server: &support::TestServer, key: &str) -> bool {
    log(server, key).await.is_empty()
}

#[tokio::test]
async fn abort_breaks_the_connection_after_the_chunks() {
    let server = spawn().await;
    script(
        &server,
        "abort",
        json!({"responses": [{"chunks": [{"text": "id: 1\ndata: x\n\n"}], "end": "abort"}]}),
    )
    .await;
    let response = client()
        .get(server.url("/test/sse/abort"))
        .send()
        .await
        .expect("request");
    let body = read_body(response).await;
    assert!(body.error, "the body must end with an error");
    assert_eq!(body.bytes(), b"id: 1\ndata: x\n\n");
    let log = eventually(|| async {
        let log = log(&server, "abort").await;
        (log.first()?["outcome"] != "open").then_some(log)
    })
    .await;
    assert_eq!(log[0]["outcome"], "aborted");
}

#[tokio::test]
async fn hold_stays_open_until_the_client_leaves_and_that_is_recorded() {
    let server = spawn().await;
    script(
        &server,
        "hold",
        json!({"responses": [{"chunks": [{"text": "data: held\n\n"}], "end": "hold"}]}),
    )
    .await;
    let response = client()
        .get(server.url("/test/sse/hold"))
        .send()
        .await
        .expect("request");
    let mut response = response;
    let first = tokio::time::timeout(support::TIMEOUT, response.chunk())
        .await
        .expect("first chunk in time")
        .expect("chunk")
        .expect("not the end");
    assert_eq!(&first[..], b"data: held\n\n");
    // Still open: nothing more comes, the body does not end.
    let more = tokio::time::timeout(Duration::from_millis(300), response.chunk()).await;
    assert!(more.is_err(), "the held body must stay open");
    assert_eq!(log(&server, "hold").await[0]["outcome"], "open");
    drop(response);
    let log = eventually(|| async {
        let log = log(&server, "hold").await;
        (log.first()?["outcome"] == "client_disconnected").then_some(log)
    })
    .await;
    assert_eq!(log.len(), 1);
}

#[tokio::test]
async fn disconnect_during_a_chunk_delay_is_recorded() {
    let server = spawn().await;
    script(
        &server,
        "slow",
        json!({"responses": [{"chunks": [
            {"text": "data: 1\n\n"},
            {"text": "data: 2\n\n", "delay_ms": 5000}
        ]}]}),
    )
    .await;
    let response = client()
        .get(server.url("/test/sse/slow"))
        .send()
        .await
        .expect("request");
    let _ = read_body_until(response, |b| b.ends_with(b"\n\n")).await;
    eventually(|| async {
        let log = log(&server, "slow").await;
        (log.first()?["outcome"] == "client_disconnected").then_some(())
    })
    .await;
}

#[tokio::test]
async fn echo_returns_method_headers_and_body() {
    let server = spawn().await;
    let response = client()
        .put(server.url("/test/echo"))
        .header("X-Thing", "value")
        .header("Last-Event-ID", "42")
        .body("héllo")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), Some("text/event-stream"));
    let body = read_body(response).await;
    assert!(body.text().starts_with("event: echo\ndata: {"));
    assert!(body.text().ends_with("}\n\n"));
    let events = body.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type(), "echo");
    let echo: Value = serde_json::from_str(events[0].data()).expect("json");
    assert_eq!(echo["method"], "PUT");
    assert_eq!(echo["body"], "héllo");
    assert_eq!(echo["headers"]["x-thing"], "value");
    assert_eq!(echo["headers"]["last-event-id"], "42");
}

#[tokio::test]
async fn bad_scripts_and_unknown_keys_get_json_errors() {
    let server = spawn().await;
    let http = client();
    for bad in [
        json!({"responses": []}),
        json!({"responses": [{"status": 42}]}),
        json!({"responses": [{"status": 101}]}),
        json!({"responses": [{"chunks": [{"text": "a", "bytes": [1]}]}]}),
        json!({"responses": [{"chunks": [{}]}]}),
        json!({"responses": [{"chunks": [{"text": "a", "delay_ms": 999999}]}]}),
        json!({"responses": [{"headers": {"bad header": "x"}}]}),
        json!({"responses": [{"end": "explode"}]}),
        json!({"responses": [{"chunks": [{"bytes": [256]}]}]}),
    ] {
        let response = http
            .post(server.url("/test/script/k"))
            .json(&bad)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 400, "{bad}");
        json_error(response).await;
    }
    let response = http
        .post(server.url("/test/script/bad%20key"))
        .json(&json!({"responses": [{}]}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 400);
    json_error(response).await;

    let response = http
        .get(server.url("/test/sse/never-scripted"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 404);
    json_error(response).await;
    assert_eq!(log(&server, "never-scripted").await.len(), 1);
    assert!(log_is_empty(&server, "unknown").await);
}

#[tokio::test]
async fn test_endpoints_are_off_by_default() {
    let server = support::spawn_with(websse_server::Config::default()).await;
    let response = client()
        .get(server.url("/test/echo"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 404);
    json_error(response).await;
}

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

fn ids(body: &support::Body) -> Vec<u64> {
    body.events()
        .iter()
        .map(|e| e.last_event_id().parse().expect("numeric id"))
        .collect()
}

#[tokio::test]
async fn ticker_sends_count_events_at_a_steady_pace_then_ends() {
    let server = spawn().await;
    let started = Instant::now();
    let response = client()
        .get(server.url("/test/ticker/tick?interval_ms=50&count=5"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), Some("text/event-stream"));
    assert_eq!(header(&response, "x-test-key"), Some("tick"));
    let body = read_body(response).await;
    // The first at once, then one per interval: four intervals.
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(!body.error);
    assert!(
        body.text()
            .starts_with("id: 1\ndata: {\"n\":1,\"of\":5}\n\nid: 2\n"),
        "{}",
        body.text()
    );
    assert_eq!(ids(&body), [1, 2, 3, 4, 5]);

    let log = eventually(|| async {
        let log = log(&server, "tick").await;
        (log.first()?["outcome"] == "completed").then_some(log)
    })
    .await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["last_sent"], 5);
    assert_eq!(log[0]["last_event_id"], Value::Null);
    let (start, end) = (&log[0]["started_ms"], &log[0]["ended_ms"]);
    let (start, end) = (start.as_u64().expect("start"), end.as_u64().expect("end"));
    assert!(end >= start + 200, "{start}..{end}");
}

#[tokio::test]
async fn ticker_resumes_after_a_numeric_last_event_id() {
    let server = spawn().await;
    let http = client();
    let get = |last: Option<&'static str>| {
        let mut request = http.get(server.url("/test/ticker/resume?interval_ms=10&count=5"));
        if let Some(last) = last {
            request = request.header("Last-Event-ID", last);
        }
        request.send()
    };
    let resumed = get(Some("3")).await.expect("resume");
    assert_eq!(resumed.status(), 200);
    assert_eq!(ids(&read_body(resumed).await), [4, 5]);
    // Nothing after the last tick: 204, so EventSource stops reconnecting.
    let done = get(Some("5")).await.expect("done");
    assert_eq!(done.status(), 204);
    let bad = get(Some("x")).await.expect("bad");
    assert_eq!(bad.status(), 400);
    json_error(bad).await;

    let log = eventually(|| async {
        let log = log(&server, "resume").await;
        (log.len() == 2 && log.iter().all(|c| c["outcome"] == "completed")).then_some(log)
    })
    .await;
    // The refused request is not a connection of the stream.
    let resumed: Vec<_> = log
        .iter()
        .map(|c| (c["last_event_id"].clone(), c["last_sent"].clone()))
        .collect();
    assert_eq!(resumed, [(json!("3"), json!(5)), (json!("5"), Value::Null)]);
}

#[tokio::test]
async fn ticker_records_when_the_client_goes_away() {
    let server = spawn().await;
    let response = client()
        .get(server.url("/test/ticker/gone?interval_ms=20&count=1000"))
        .send()
        .await
        .expect("request");
    let body = read_body_until(response, |b| support::count_events(b) >= 3).await;
    assert_eq!(ids(&body)[..3], [1, 2, 3]);
    let entry = eventually(|| async {
        let log = log(&server, "gone").await;
        let entry = log.first()?.clone();
        (entry["outcome"] == "client_disconnected").then_some(entry)
    })
    .await;
    let last = entry["last_sent"].as_u64().expect("last_sent");
    assert!((3..100).contains(&last), "last_sent {last}");
    assert!(entry["ended_ms"].as_u64() >= entry["started_ms"].as_u64());
}

#[tokio::test]
async fn ticker_limits_are_bad_requests() {
    let server = spawn().await;
    for query in [
        "interval_ms=5",
        "interval_ms=10001",
        "count=10001",
        "count=-1",
        "speed=3",
    ] {
        let response = client()
            .get(server.url(&format!("/test/ticker/limits?{query}")))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 400, "{query}");
        json_error(response).await;
    }
    assert!(log_is_empty(&server, "limits").await);
}

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
    // Still open: nothing more comes, the body does not end. No event says that a body will
    // not end, so this one is watched for a while.
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

/// `(type, id, data)` of each event.
fn triples(events: &[websse_core::Event]) -> Vec<(String, String, String)> {
    events
        .iter()
        .map(|e| {
            (
                e.event_type().to_owned(),
                e.last_event_id().to_owned(),
                e.data().to_owned(),
            )
        })
        .collect()
}

/// The concatenated `text` of the `delta` events.
fn delta_text(events: &[websse_core::Event]) -> String {
    events
        .iter()
        .filter(|e| e.event_type() == "delta")
        .map(|e| {
            let value: Value = serde_json::from_str(e.data()).expect("delta json");
            value["text"].as_str().expect("text").to_owned()
        })
        .collect()
}

#[tokio::test]
async fn markdown_streams_the_text_as_chat_deltas_of_n_characters() {
    let server = spawn().await;
    let text = "## Hi\n\n- 中文 `x`";
    let response = client()
        .post(server.url("/test/markdown"))
        .json(&json!({ "text": text, "chunk": 3 }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), Some("text/event-stream"));
    let body = read_body(response).await;
    assert!(!body.error);
    let events = triples(&body.events());
    // 15 characters in deltas of 3 (the last of them multi-byte): 5 deltas.
    assert_eq!(
        events,
        [
            (
                "start",
                "md:0",
                r#"{"model":"markdown-test","stream_id":"md"}"#
            ),
            ("delta", "md:1", r###"{"text":"## "}"###),
            ("delta", "md:2", r#"{"text":"Hi\n"}"#),
            ("delta", "md:3", r#"{"text":"\n- "}"#),
            ("delta", "md:4", r#"{"text":"中文 "}"#),
            ("delta", "md:5", r#"{"text":"`x`"}"#),
            ("done", "md:6", r#"{"reason":"finished"}"#),
        ]
        .map(|(t, i, d)| (t.to_owned(), i.to_owned(), d.to_owned()))
    );
    assert!(body.text().starts_with("retry: 1000\n"));
}

#[tokio::test]
async fn markdown_takes_the_chats_request_shapes_and_paces_its_deltas() {
    let server = spawn().await;
    let text = "# Title\n\nSome **bold** text.";
    // The chat's POST body: the text is the last user message; other knobs are ignored.
    let started = Instant::now();
    let response = client()
        .post(server.url("/test/markdown"))
        .json(&json!({
            "messages": [{"role": "user", "content": "not this"},
                         {"role": "assistant", "content": "nor this"},
                         {"role": "user", "content": text}],
            "chunk": 10, "delay_ms": 40, "speed": 3
        }))
        .send()
        .await
        .expect("request");
    let events = read_body(response).await.events();
    assert!(
        started.elapsed() >= Duration::from_millis(120),
        "3 deltas, 40 ms each"
    );
    assert_eq!(delta_text(&events), text);
    assert_eq!(events.len(), 1 + 3 + 1);
    // The chat's GET form.
    let response = client()
        .get(server.url("/test/markdown"))
        .query(&[("prompt", text), ("chunk", "1000")])
        .send()
        .await
        .expect("request");
    let events = read_body(response).await.events();
    assert_eq!(delta_text(&events), text);
    assert_eq!(events.len(), 3);
}

#[tokio::test]
async fn markdown_resumes_after_last_event_id_and_breaks_at_drop_after() {
    let server = spawn().await;
    let url = server.url("/test/markdown?text=abcdefg&chunk=2&drop_after=2");
    let first = read_body(client().get(&url).send().await.expect("request")).await;
    assert!(first.error, "drop_after breaks the connection");
    let events = first.events();
    assert_eq!(events.last().map(|e| e.last_event_id()), Some("md:2"));
    assert_eq!(delta_text(&events), "abcd");
    // The reconnect carries Last-Event-ID and gets exactly the rest; drop_after is for the
    // first connection only.
    let rest = read_body(
        client()
            .get(&url)
            .header("last-event-id", "md:2")
            .send()
            .await
            .expect("resume"),
    )
    .await;
    assert!(!rest.error);
    let events = triples(&rest.events());
    let ids: Vec<&str> = events.iter().map(|(_, id, _)| id.as_str()).collect();
    assert_eq!(ids, ["md:3", "md:4", "md:5"]);
    assert_eq!(delta_text(&rest.events()), "efg");
    // After `done` there is nothing left: 204 stops EventSource.
    let response = client()
        .get(&url)
        .header("last-event-id", "md:5")
        .send()
        .await
        .expect("after done");
    assert_eq!(response.status(), 204);
    for bad in ["md:6", "x:1", "md:-1", "md"] {
        let response = client()
            .get(&url)
            .header("last-event-id", bad)
            .send()
            .await
            .expect("bad id");
        assert_eq!(response.status(), 400, "{bad}");
    }
}

#[tokio::test]
async fn markdown_requests_are_bounded() {
    // A body limit above the text limit, so that the endpoint's own bound is what answers.
    let server = support::spawn_with(websse_server::Config {
        test_endpoints: true,
        body_limit: 1024 * 1024,
        ..websse_server::Config::default()
    })
    .await;
    let long = "x".repeat(256 * 1024 + 1);
    for (body, what) in [
        (json!({ "text": "a", "chunk": 0 }), "chunk"),
        (json!({ "text": "a", "delay_ms": 1001 }), "delay_ms"),
        (
            json!({ "text": "a".repeat(200), "chunk": 1, "delay_ms": 1000 }),
            "add up",
        ),
        (json!({ "text": long }), "longer than"),
        (json!({ "chunk": 3 }), "give the text"),
        (
            json!({ "messages": [{"role": "system", "content": "x"}] }),
            "user",
        ),
    ] {
        let response = client()
            .post(server.url("/test/markdown"))
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 400, "{what}");
        let (_, message) = json_error(response).await;
        assert!(message.contains(what), "{what}: {message}");
    }
}

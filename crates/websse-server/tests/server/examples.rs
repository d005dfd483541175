//! The example streams and their list.

use std::time::Duration;

use serde_json::Value;

use crate::support::{client, count_events, header, read_body, read_body_until, spawn};

#[tokio::test]
async fn list_names_every_example() {
    let server = spawn().await;
    let response = client()
        .get(server.url("/api/examples"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let list: Value = response.json().await.expect("json");
    let examples = list["examples"].as_array().expect("array");
    let names: Vec<&str> = examples.iter().filter_map(|e| e["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "events",
            "clock",
            "json-stream",
            "ndjson",
            "ticker",
            "typewriter"
        ]
    );
    for e in examples {
        for field in ["url", "method", "description", "framing"] {
            assert!(e[field].is_string(), "{field} in {e}");
        }
        assert!(e["event_types"].is_array());
        assert!(
            e["url"]
                .as_str()
                .is_some_and(|u| u.starts_with("/api/examples/"))
        );
    }
}

#[tokio::test]
async fn named_events_with_id_retry_end_after_n_and_resume() {
    let server = spawn().await;
    let http = client();
    let response = http
        .get(server.url("/api/examples/events?count=3&interval_ms=0"))
        .send()
        .await
        .expect("request");
    assert_eq!(header(&response, "content-type"), Some("text/event-stream"));
    let body = read_body(response).await;
    assert!(!body.error);
    let text = body.text();
    assert!(
        text.starts_with("retry: 3000\nevent: update\nid: 1\ndata: {"),
        "{text}"
    );
    let mut parser = websse_core::Parser::new();
    let events: Vec<_> = parser
        .feed(&body.bytes())
        .collect::<Result<_, _>>()
        .expect("events");
    assert_eq!(parser.retry(), Some(Duration::from_millis(3000)));
    let kinds: Vec<_> = events.iter().map(|e| e.event_type()).collect();
    assert_eq!(kinds, ["update", "update", "update", "end"]);
    let ids: Vec<_> = events.iter().map(|e| e.last_event_id()).collect();
    assert_eq!(ids, ["1", "2", "3", "4"]);
    let first: Value = serde_json::from_str(events[0].data()).expect("json");
    assert_eq!(first["n"], 1);
    assert_eq!(first["of"], 3);

    let response = http
        .get(server.url("/api/examples/events?count=3&interval_ms=0"))
        .header("Last-Event-ID", "2")
        .send()
        .await
        .expect("resume");
    let ids: Vec<_> = read_body(response)
        .await
        .events()
        .iter()
        .map(|e| e.last_event_id().to_owned())
        .collect();
    assert_eq!(ids, ["3", "4"]);

    let response = http
        .get(server.url("/api/examples/events?count=3"))
        .header("Last-Event-ID", "4")
        .send()
        .await
        .expect("resume after end");
    assert_eq!(response.status(), 204);
}

#[tokio::test]
async fn clock_starts_with_connecttime_then_ticks() {
    let server = spawn().await;
    let response = client()
        .get(server.url("/api/examples/clock?interval_ms=20"))
        .send()
        .await
        .expect("request");
    let body = read_body_until(response, |b| count_events(b) >= 3).await;
    let events = body.events();
    assert_eq!(events[0].event_type(), "connecttime");
    assert_eq!(events[1].event_type(), "message");
    assert_eq!(events[2].event_type(), "message");
    for e in &events[..3] {
        assert!(
            e.data().ends_with('Z') && e.data().len() == 24,
            "{}",
            e.data()
        );
    }
}

#[tokio::test]
async fn json_stream_is_raw_json_chunks() {
    let server = spawn().await;
    let response = client()
        .post(server.url("/api/examples/json-stream"))
        .body(r#"{"count":3,"interval_ms":30}"#)
        .send()
        .await
        .expect("request");
    assert_eq!(header(&response, "content-type"), Some("application/json"));
    let body = read_body(response).await;
    assert!(!body.error);
    // One object per chunk (30 ms apart), no framing between them.
    assert_eq!(body.chunks.len(), 3);
    for (i, chunk) in body.chunks.iter().enumerate() {
        let v: Value = serde_json::from_slice(chunk).expect("each chunk is one JSON object");
        assert_eq!(v["n"], i as u64 + 1);
    }
}

#[tokio::test]
async fn ndjson_is_one_object_per_line() {
    let server = spawn().await;
    let response = client()
        .get(server.url("/api/examples/ndjson?count=4&interval_ms=0"))
        .send()
        .await
        .expect("request");
    assert_eq!(
        header(&response, "content-type"),
        Some("application/x-ndjson")
    );
    let text = read_body(response).await.text();
    assert!(text.ends_with('\n'));
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[3]["n"], 4);
}

#[tokio::test]
async fn ticker_is_endless_and_resumes() {
    let server = spawn().await;
    let response = client()
        .get(server.url("/api/examples/ticker?interval_ms=10"))
        .header("Last-Event-ID", "41")
        .send()
        .await
        .expect("request");
    let events = read_body_until(response, |b| count_events(b) >= 3)
        .await
        .events();
    let ids: Vec<_> = events.iter().take(3).map(|e| e.last_event_id()).collect();
    assert_eq!(ids, ["42", "43", "44"]);
    assert_eq!(events[0].data(), r#"{"tick":42}"#);
}

#[tokio::test]
async fn typewriter_sends_one_character_per_event() {
    let server = spawn().await;
    let text = "hé\nllo 世";
    let url = format!(
        "/api/examples/typewriter?interval_ms=0&text={}",
        "h%C3%A9%0Allo%20%E4%B8%96"
    );
    let response = client()
        .get(server.url(&url))
        .send()
        .await
        .expect("request");
    let events = read_body(response).await.events();
    let (chars, done) = events.split_at(events.len() - 1);
    assert_eq!(done[0].event_type(), "done");
    let typed: String = chars
        .iter()
        .map(|e| {
            assert_eq!(e.event_type(), "char");
            let v: Value = serde_json::from_str(e.data()).expect("json");
            v["c"].as_str().expect("c").to_owned()
        })
        .collect();
    assert_eq!(typed, text);
    assert_eq!(chars.len(), text.chars().count());
}

#[tokio::test]
async fn counters_do_not_overflow_at_the_largest_id() {
    let server = spawn().await;
    let response = client()
        .get(server.url("/api/examples/ticker?interval_ms=10"))
        .header("Last-Event-ID", u64::MAX.to_string())
        .send()
        .await
        .expect("request");
    // Nothing comes after the largest id: 204, no panic.
    assert_eq!(response.status(), 204);
    let response = client()
        .get(server.url("/api/examples/events?count=3"))
        .header("Last-Event-ID", u64::MAX.to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 204);
}

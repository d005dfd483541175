//! The chat stream format and resume.

use futures::StreamExt;
use serde_json::{Value, json};

use crate::support::{self, client, header, json_error, read_body, read_body_until, spawn};

fn data(event: &websse_core::Event) -> Value {
    serde_json::from_str(event.data()).expect("JSON data")
}

/// The text of the delta events, concatenated.
fn text(events: &[websse_core::Event]) -> String {
    events
        .iter()
        .filter(|e| e.event_type() == "delta")
        .map(|e| data(e)["text"].as_str().expect("text").to_owned())
        .collect()
}

fn seqs(events: &[websse_core::Event], sid: &str) -> Vec<u64> {
    events
        .iter()
        .map(|e| {
            let (id_sid, seq) = e.last_event_id().rsplit_once(':').expect("sid:seq id");
            assert_eq!(id_sid, sid);
            seq.parse().expect("numeric seq")
        })
        .collect()
}

#[tokio::test]
async fn post_chat_exact_bytes_and_headers() {
    let server = spawn().await;
    let response = client()
        .post(server.url("/api/chat"))
        .json(&json!({
            "messages": [{"role": "user", "content": "What is SSE?"}],
            "tokens_per_second": 1000,
            "max_tokens": 2
        }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), Some("text/event-stream"));
    assert_eq!(
        header(&response, "cache-control"),
        Some("no-cache, no-transform")
    );
    assert_eq!(header(&response, "x-accel-buffering"), Some("no"));
    let sid = header(&response, "x-stream-id")
        .expect("x-stream-id")
        .to_owned();
    assert_eq!(sid.len(), 16);
    let body = read_body(response).await;
    assert!(!body.error);
    let expected = format!(
        "retry: 1000\nevent: start\nid: {sid}:0\ndata: {{\"stream_id\":\"{sid}\",\"model\":\"websse-demo\"}}\n\n\
         event: delta\nid: {sid}:1\ndata: {{\"text\":\"## \"}}\n\n\
         event: delta\nid: {sid}:2\ndata: {{\"text\":\"What \"}}\n\n\
         event: done\nid: {sid}:3\ndata: {{\"reason\":\"stopped\"}}\n\n"
    );
    assert_eq!(body.text(), expected);
}

#[tokio::test]
async fn get_chat_streams_a_whole_answer_with_sequential_ids() {
    let server = spawn().await;
    let response = client()
        .get(server.url("/api/chat?prompt=What%20is%20SSE%3F&speed=1000000"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let sid = header(&response, "x-stream-id").expect("sid").to_owned();
    let events = read_body(response).await.events();
    assert_eq!(events[0].event_type(), "start");
    assert_eq!(data(&events[0])["stream_id"], sid.as_str());
    let last = events.last().expect("events");
    assert_eq!(last.event_type(), "done");
    assert_eq!(data(last), json!({"reason": "finished"}));
    let seqs = seqs(&events, &sid);
    assert_eq!(seqs, (0..events.len() as u64).collect::<Vec<_>>());
    let answer = text(&events);
    assert!(
        answer.starts_with("## What is SSE?\n\n**Server-Sent Events** (SSE)"),
        "{answer}"
    );
    assert!(answer.len() > 500);
    // Tokens are word-sized.
    assert!(events[1..events.len() - 1].iter().all(|e| {
        data(e)["text"]
            .as_str()
            .is_some_and(|t| t.chars().count() <= 30)
    }));
}

#[tokio::test]
async fn chinese_prompt_gets_a_chinese_answer() {
    let server = spawn().await;
    let response = client()
        .post(server.url("/api/chat"))
        .json(&json!({"messages": [{"role": "user", "content": "什么是 SSE？"}], "speed": 1000000}))
        .send()
        .await
        .expect("request");
    let answer = text(&read_body(response).await.events());
    assert!(
        answer.starts_with("## 什么是 SSE？\n\n**服务器发送事件**"),
        "{answer}"
    );
}

#[tokio::test]
async fn keep_alive_comments_while_idle() {
    let server = support::spawn_with(websse_server::Config {
        keep_alive: std::time::Duration::from_millis(50),
        ..websse_server::Config::default()
    })
    .await;
    let response = client()
        .get(server.url("/api/chat?prompt=hello&tokens_per_second=4&max_tokens=2"))
        .send()
        .await
        .expect("request");
    let body = read_body(response).await;
    let text = body.text();
    assert!(text.contains("\n\n: keep-alive\n\n"), "{text}");
    let events = body.events();
    assert_eq!(events.len(), 4, "start, 2 deltas, done: {events:?}");
}

#[tokio::test]
async fn resume_after_drop_has_no_loss_and_no_duplicate() {
    let server = spawn().await;
    let http = client();
    // Slow enough that the answer is still being generated when the client comes back.
    let response = http
        .post(server.url("/api/chat"))
        .json(&json!({
            "messages": [{"role": "user", "content": "How does reconnection work?"}],
            "tokens_per_second": 200,
            "drop_after": 3
        }))
        .send()
        .await
        .expect("request");
    let sid = header(&response, "x-stream-id").expect("sid").to_owned();
    let first = read_body(response).await;
    assert!(first.error, "the first connection must break");
    let first_events = first.events();
    assert_eq!(seqs(&first_events, &sid), [0, 1, 2, 3]);

    let last_id = first_events
        .last()
        .expect("events")
        .last_event_id()
        .to_owned();
    let response = http
        .get(server.url(&format!("/api/chat/{sid}")))
        .header("Last-Event-ID", &last_id)
        .send()
        .await
        .expect("resume");
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-stream-id"), Some(sid.as_str()));
    let rest = read_body(response).await;
    assert!(!rest.error, "resumed connections are not dropped");
    let rest_events = rest.events();
    assert_eq!(rest_events[0].last_event_id(), format!("{sid}:4"));
    assert_eq!(rest_events.last().expect("done").event_type(), "done");

    let mut all = first_events.clone();
    all.extend(rest_events);
    let seqs = seqs(&all, &sid);
    assert_eq!(seqs, (0..all.len() as u64).collect::<Vec<_>>());

    // The replay of the whole stored answer is the same text.
    let replay = http
        .get(server.url(&format!("/api/chat/{sid}")))
        .send()
        .await
        .expect("replay");
    let replay = read_body(replay).await.events();
    assert_eq!(text(&replay), text(&all));
    assert_eq!(replay.len(), all.len());

    // Everything was delivered: 204 so EventSource stops.
    let done_id = all.last().expect("done").last_event_id().to_owned();
    let response = http
        .get(server.url("/api/chat?prompt=ignored"))
        .header("Last-Event-ID", &done_id)
        .send()
        .await
        .expect("resume after done");
    assert_eq!(response.status(), 204);
}

#[tokio::test]
async fn resume_through_get_and_post_chat_with_last_event_id() {
    let server = spawn().await;
    let http = client();
    let response = http
        .get(server.url("/api/chat?prompt=SSE%20vs%20WebSocket&tokens_per_second=50&drop_after=1"))
        .send()
        .await
        .expect("request");
    let sid = header(&response, "x-stream-id").expect("sid").to_owned();
    let first = read_body(response).await;
    assert!(first.error);
    assert_eq!(seqs(&first.events(), &sid), [0, 1]);

    // POST resumes too (the body is ignored); read a few live events then leave.
    let response = http
        .post(server.url("/api/chat"))
        .header("Last-Event-ID", format!("{sid}:1"))
        .json(&json!({"messages": []}))
        .send()
        .await
        .expect("post resume");
    assert_eq!(response.status(), 200);
    let part = read_body_until(response, |b| support::count_events(b) >= 3).await;
    let part = part.events();
    assert_eq!(seqs(&part[..3], &sid), [2, 3, 4]);

    // GET /api/chat with the header (what a native EventSource sends on reconnect).
    let response = http
        .get(server.url("/api/chat?prompt=SSE%20vs%20WebSocket"))
        .header("Last-Event-ID", format!("{sid}:4"))
        .send()
        .await
        .expect("get resume");
    let rest = read_body(response).await.events();
    let rest_seqs = seqs(&rest, &sid);
    assert_eq!(rest_seqs[0], 5);
    assert!(rest_seqs.windows(2).all(|w| w[1] == w[0] + 1));
    assert_eq!(rest.last().expect("done").event_type(), "done");
}

#[tokio::test]
async fn resume_errors_are_json() {
    let server = spawn().await;
    let http = client();
    let response = http
        .get(server.url("/api/chat/0123456789abcdef"))
        .header("Last-Event-ID", "0123456789abcdef:3")
        .send()
        .await
        .expect("request");
    // The log does not hold the events after that id: gone, not a gap.
    assert_eq!(response.status(), 410);
    assert_eq!(json_error(response).await.0, "gone");

    let response = http
        .get(server.url("/api/chat/0123456789abcdef"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 404);
    assert_eq!(json_error(response).await.0, "not_found");

    let response = http
        .get(server.url("/api/chat?prompt=x"))
        .header("Last-Event-ID", "not-an-id")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 400);
    assert_eq!(json_error(response).await.0, "bad_request");

    // An id ahead of what was produced.
    let response = http
        .get(server.url("/api/chat?prompt=x&tokens_per_second=1"))
        .send()
        .await
        .expect("request");
    let sid = header(&response, "x-stream-id").expect("sid").to_owned();
    drop(response);
    let response = http
        .get(server.url(&format!("/api/chat/{sid}")))
        .header("Last-Event-ID", format!("{sid}:500"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 400);
    json_error(response).await;
}

#[tokio::test]
async fn bench_tokens_are_synthetic() {
    let server = spawn().await;
    let response = client()
        .get(server.url("/api/chat?bench_tokens=50&tokens_per_second=100000"))
        .send()
        .await
        .expect("request");
    let events = read_body(response).await.events();
    assert_eq!(events.len(), 52);
    assert_eq!(data(&events[1]), json!({"text": "tok1 "}));
    assert_eq!(data(&events[50]), json!({"text": "tok50 "}));
}

#[tokio::test]
async fn shutdown_stops_open_answers() {
    let server = spawn().await;
    let response = client()
        .get(server.url("/api/chat?prompt=hello&tokens_per_second=2"))
        .send()
        .await
        .expect("request");
    // Shut down once the answer is streaming: its first delta is here.
    let mut body = response.bytes_stream();
    let mut bytes = Vec::new();
    while !support::parse(&bytes)
        .iter()
        .any(|e| e.event_type() == "delta")
    {
        let chunk = tokio::time::timeout(support::TIMEOUT, body.next())
            .await
            .expect("a delta in time")
            .expect("not the end")
            .expect("chunk");
        bytes.extend_from_slice(&chunk);
    }
    let _ = server.shutdown.send(true);
    while let Some(chunk) = tokio::time::timeout(support::TIMEOUT, body.next())
        .await
        .expect("the end in time")
    {
        bytes.extend_from_slice(&chunk.expect("chunk"));
    }
    let events = support::parse(&bytes);
    let last = events.last().expect("done");
    assert_eq!(last.event_type(), "done");
    assert_eq!(data(last), json!({"reason": "stopped"}));
}

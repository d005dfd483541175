//! Browser tests: headless Chromium against a real websse-server with `--test-endpoints`.
//!
//! Build with `WEBSSE_TEST_SERVER=http://127.0.0.1:PORT` in the environment (`cargo xtask test`
//! does this). Each test scripts its own scenario key, so tests do not interfere.
#![cfg(target_arch = "wasm32")]

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use wasm_bindgen_test::*;
use websse::{
    ConnectionState, Credentials, Disconnect, EndOfBody, Error, EventStream, Framing, Item,
    ReconnectPolicy, Skipped, SseRequest, Transport,
};

wasm_bindgen_test_configure!(run_in_browser);

#[path = "browser/share.rs"]
mod share;

#[path = "browser/batch.rs"]
mod batch;

#[path = "common/mod.rs"]
mod common;
use common::*;

const NAMED_AND_DEFAULT: &str = "data: line one\ndata: line two\n\nevent: tick\nid: 5\ndata: t\n\n";

async fn check_named_and_default(mut stream: EventStream) {
    let first = next_message(&mut stream).await;
    assert_eq!(first.event_type(), "message");
    assert_eq!(first.data(), "line one\nline two");
    assert_eq!(first.last_event_id(), "");
    let second = next_message(&mut stream).await;
    assert_eq!(second.event_type(), "tick");
    assert_eq!(second.data(), "t");
    assert_eq!(second.last_event_id(), "5");
}

#[wasm_bindgen_test]
async fn fetch_named_default_and_multiline_events() {
    let k = key("fetch-named");
    script(
        &k,
        json!([{ "chunks": [text_chunk(NAMED_AND_DEFAULT)], "end": "hold" }]),
    )
    .await;
    check_named_and_default(open(fetch(&k))).await;
}

#[wasm_bindgen_test]
async fn eventsource_named_default_and_multiline_events() {
    let k = key("es-named");
    script(
        &k,
        json!([{ "chunks": [text_chunk(NAMED_AND_DEFAULT)], "end": "hold" }]),
    )
    .await;
    check_named_and_default(open(es(&k).events(["tick"]))).await;
}

#[wasm_bindgen_test]
async fn fetch_states_connecting_then_open() {
    let k = key("fetch-states");
    script(
        &k,
        json!([{ "chunks": [text_chunk("data: x\n\n")], "end": "hold" }]),
    )
    .await;
    let mut stream = open(fetch(&k));
    assert_eq!(
        next_within(&mut stream, 5000).await.unwrap().unwrap(),
        Item::State(ConnectionState::Connecting)
    );
    assert_eq!(
        next_within(&mut stream, 5000).await.unwrap().unwrap(),
        Item::State(ConnectionState::Open)
    );
    assert_eq!(stream.state(), ConnectionState::Open);
    stream.close();
    assert_eq!(stream.state(), ConnectionState::Closed);
    // The same end as through a close handle: `Closed`, then `None`.
    assert_eq!(
        stream.next().await.unwrap().unwrap(),
        Item::State(ConnectionState::Closed)
    );
    assert!(stream.next().await.is_none());
}

fn reconnect_script() -> Value {
    json!([
        { "chunks": [text_chunk("retry: 100\nid: x1\ndata: one\n\n")], "end": "close" },
        { "chunks": [text_chunk("id: x2\ndata: two\n\n")], "end": "hold" }
    ])
}

#[wasm_bindgen_test]
async fn fetch_last_event_id_on_reconnect_and_headers_recomputed() {
    let k = key("fetch-lastid");
    script(&k, reconnect_script()).await;
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let c = counter.clone();
    let mut stream = open(fetch(&k).headers_with(move || {
        let n = c.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        vec![("X-Token".to_owned(), format!("t{n}"))]
    }));
    assert_eq!(next_message(&mut stream).await.data(), "one");
    let two = next_message(&mut stream).await;
    assert_eq!((two.data(), two.last_event_id()), ("two", "x2"));
    let log = log(&k).await;
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0]["last_event_id"], Value::Null);
    assert_eq!(log[1]["last_event_id"], "x1");
    assert_eq!(log[0]["headers"]["x-token"], "t1");
    assert_eq!(log[1]["headers"]["x-token"], "t2");
    assert_eq!(log[0]["headers"]["accept"], "text/event-stream");
    assert_eq!(counter.load(std::sync::atomic::Ordering::Relaxed), 2);
}

#[wasm_bindgen_test]
async fn eventsource_last_event_id_on_reconnect() {
    let k = key("es-lastid");
    script(&k, reconnect_script()).await;
    let mut stream = open(es(&k));
    assert_eq!(next_message(&mut stream).await.data(), "one");
    // The browser reconnects by itself: an error event while CONNECTING is a state, not the end.
    let mut states = Vec::new();
    let two = loop {
        match next_within(&mut stream, 5000).await.unwrap().unwrap() {
            Item::State(state) => states.push(state),
            Item::Message(m) => break m,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(two.last_event_id(), "x2");
    assert!(
        matches!(
            states[..],
            [
                ConnectionState::Reconnecting {
                    attempt: 1,
                    delay: None,
                    cause: Disconnect::Unreported,
                    ..
                },
                ConnectionState::Open
            ]
        ),
        "{states:?}"
    );
    let log = log(&k).await;
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0]["last_event_id"], Value::Null);
    assert_eq!(log[1]["last_event_id"], "x1");
}

#[wasm_bindgen_test]
async fn fetch_starting_last_event_id_is_sent() {
    let k = key("fetch-resume");
    script(
        &k,
        json!([{ "chunks": [text_chunk("data: a\n\n")], "end": "hold" }]),
    )
    .await;
    let mut stream = open(fetch(&k).last_event_id("s:7"));
    next_message(&mut stream).await;
    assert_eq!(log(&k).await[0]["last_event_id"], "s:7");
}

#[wasm_bindgen_test]
async fn fetch_retry_field_is_honoured() {
    let k = key("fetch-retry");
    script(
        &k,
        json!([
            { "chunks": [text_chunk("retry: 400\ndata: one\n\n")], "end": "close" },
            { "chunks": [text_chunk("data: two\n\n")], "end": "hold" }
        ]),
    )
    .await;
    let mut stream = open(fetch(&k));
    assert_eq!(next_message(&mut stream).await.data(), "one");
    let start = now();
    let mut reconnecting = None;
    loop {
        match next_within(&mut stream, 5000).await.unwrap().unwrap() {
            Item::State(ConnectionState::Reconnecting { attempt, delay, .. }) => {
                reconnecting = Some((attempt, delay))
            }
            Item::State(_) => {}
            Item::Message(m) => {
                assert_eq!(m.data(), "two");
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(reconnecting, Some((1, Some(Duration::from_millis(400)))));
    assert!(
        now() - start >= 390.0,
        "reconnected after {} ms",
        now() - start
    );
}

#[wasm_bindgen_test]
async fn eventsource_retry_field_is_honoured() {
    let k = key("es-retry");
    script(
        &k,
        json!([
            { "chunks": [text_chunk("retry: 600\ndata: one\n\n")], "end": "close" },
            { "chunks": [text_chunk("data: two\n\n")], "end": "hold" }
        ]),
    )
    .await;
    let mut stream = open(es(&k));
    assert_eq!(next_message(&mut stream).await.data(), "one");
    let start = now();
    assert_eq!(next_message(&mut stream).await.data(), "two");
    assert!(
        now() - start >= 550.0,
        "reconnected after {} ms",
        now() - start
    );
}

#[wasm_bindgen_test]
async fn fetch_204_ends_cleanly_without_reconnect() {
    let k = key("fetch-204");
    script(&k, json!([{ "status": 204 }])).await;
    let items = drain(&mut open(fetch(&k))).await;
    assert_eq!(
        items.into_iter().map(Result::unwrap).collect::<Vec<_>>(),
        [
            Item::State(ConnectionState::Connecting),
            Item::State(ConnectionState::Closed)
        ]
    );
    // No `Reconnecting` above, and the stream has ended (its driver is gone): nothing is left
    // that could send a second request, so the log is final.
    assert_eq!(log(&k).await.len(), 1);
}

#[wasm_bindgen_test]
async fn eventsource_204_stops() {
    let k = key("es-204");
    script(&k, json!([{ "status": 204 }])).await;
    let items = drain(&mut open(es(&k))).await;
    assert!(
        matches!(items.last(), Some(Err(Error::EventSourceClosed))),
        "{items:?}"
    );
    // The browser reports a retry as `Reconnecting` before making it, and the ended stream
    // has closed its EventSource: with neither, the log is final.
    assert!(
        !items
            .iter()
            .any(|item| matches!(item, Ok(Item::State(ConnectionState::Reconnecting { .. })))),
        "{items:?}"
    );
    assert_eq!(log(&k).await.len(), 1);
}

#[wasm_bindgen_test]
async fn fetch_500_then_200_recovers_with_backoff() {
    let k = key("fetch-500");
    script(
        &k,
        json!([
            { "status": 500, "headers": {"content-type": "text/plain"}, "chunks": [text_chunk("oops")] },
            { "status": 500, "headers": {"content-type": "text/plain"}, "chunks": [text_chunk("oops")] },
            { "chunks": [text_chunk("data: ok\n\n")], "end": "hold" }
        ]),
    )
    .await;
    let mut stream = open(fetch(&k));
    let mut delays = Vec::new();
    loop {
        match next_within(&mut stream, 5000).await.unwrap().unwrap() {
            Item::State(ConnectionState::Reconnecting { attempt, delay, .. }) => {
                delays.push((attempt, delay))
            }
            Item::State(_) => {}
            Item::Message(m) => {
                assert_eq!(m.data(), "ok");
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    // Exponential: 50 ms, then 100 ms.
    assert_eq!(
        delays,
        [
            (1, Some(Duration::from_millis(50))),
            (2, Some(Duration::from_millis(100)))
        ]
    );
    assert_eq!(log(&k).await.len(), 3);
}

#[wasm_bindgen_test]
async fn fetch_503_retry_after_is_honoured() {
    let k = key("fetch-503");
    script(
        &k,
        json!([
            { "status": 503, "headers": {"content-type": "text/plain", "retry-after": "1"} },
            { "chunks": [text_chunk("data: ok\n\n")], "end": "hold" }
        ]),
    )
    .await;
    let mut stream = open(fetch(&k));
    let start = now();
    loop {
        match next_within(&mut stream, 5000).await.unwrap().unwrap() {
            Item::State(ConnectionState::Reconnecting { delay, .. }) => {
                assert_eq!(delay, Some(Duration::from_secs(1)))
            }
            Item::State(_) => {}
            Item::Message(_) => break,
            other => panic!("{other:?}"),
        }
    }
    assert!(now() - start >= 950.0);
}

#[wasm_bindgen_test]
async fn fetch_max_attempts_gives_up_with_the_status() {
    let k = key("fetch-giveup");
    script(
        &k,
        json!([{ "status": 502, "headers": {"content-type": "text/plain"} }]),
    )
    .await;
    let policy = ReconnectPolicy {
        max_attempts: Some(2),
        ..fast_policy()
    };
    let items = drain(&mut open(fetch(&k).reconnect(policy))).await;
    assert!(
        matches!(items.last(), Some(Err(Error::Status { status: 502 }))),
        "{items:?}"
    );
    assert_eq!(log(&k).await.len(), 3);
}

#[wasm_bindgen_test]
async fn fetch_404_is_fatal_with_the_status() {
    let k = key("fetch-404");
    script(
        &k,
        json!([{ "status": 404, "headers": {"content-type": "text/plain"} }]),
    )
    .await;
    let items = drain(&mut open(fetch(&k))).await;
    assert!(
        matches!(items.last(), Some(Err(Error::Status { status: 404 }))),
        "{items:?}"
    );
    assert_last_state_is_closed(&items);
    assert_eq!(log(&k).await.len(), 1);
}

/// The last state item of a stream that ended (with or without an error) is `Closed`.
fn assert_last_state_is_closed(items: &[Result<Item, Error>]) {
    let last_state = items.iter().rev().find_map(|item| match item {
        Ok(Item::State(state)) => Some(*state),
        _ => None,
    });
    assert_eq!(last_state, Some(ConnectionState::Closed), "{items:?}");
}

#[wasm_bindgen_test]
async fn fetch_text_html_is_fatal_with_the_content_type() {
    let k = key("fetch-html");
    script(
        &k,
        json!([{ "headers": {"content-type": "text/html; charset=utf-8"}, "chunks": [text_chunk("<p>hi</p>")] }]),
    )
    .await;
    let items = drain(&mut open(fetch(&k))).await;
    match items.last() {
        Some(Err(Error::ContentType { content_type })) => {
            assert_eq!(content_type, "text/html; charset=utf-8")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(log(&k).await.len(), 1);
}

#[wasm_bindgen_test]
async fn fetch_content_type_parameters_are_ignored() {
    let k = key("fetch-ctparam");
    script(
        &k,
        json!([{ "headers": {"content-type": "text/event-stream; charset=utf-8"}, "chunks": [text_chunk("data: ok\n\n")], "end": "hold" }]),
    )
    .await;
    assert_eq!(next_message(&mut open(fetch(&k))).await.data(), "ok");
}

#[wasm_bindgen_test]
async fn eventsource_404_and_html_are_fatal() {
    for (name, response) in [
        (
            "es-404",
            json!({ "status": 404, "headers": {"content-type": "text/plain"} }),
        ),
        (
            "es-html",
            json!({ "headers": {"content-type": "text/html"}, "chunks": [text_chunk("<p>")] }),
        ),
    ] {
        let k = key(name);
        script(&k, json!([response])).await;
        let items = drain(&mut open(es(&k))).await;
        assert!(
            matches!(items.last(), Some(Err(Error::EventSourceClosed))),
            "{name}: {items:?}"
        );
        assert_last_state_is_closed(&items);
    }
}

#[wasm_bindgen_test]
async fn shared_404_ends_each_subscriber_with_closed_then_the_error() {
    let k = key("shared-404");
    script(
        &k,
        json!([{ "status": 404, "headers": {"content-type": "text/plain"} }]),
    )
    .await;
    let shared = fetch(&k).share().expect("share");
    let mut subscriptions = [shared.subscribe(), shared.subscribe()];
    for subscription in &mut subscriptions {
        let mut items = Vec::new();
        while let Some(item) = subscription.next().await {
            items.push(item);
            assert!(items.len() < 100, "{items:?}");
        }
        assert!(
            matches!(items.last(), Some(Err(Error::Status { status: 404 }))),
            "{items:?}"
        );
        assert_last_state_is_closed(&items);
    }
}

/// An OpenAI-shaped answer: data-only JSON events, `[DONE]`, then the body ends.
const OPENAI_ANSWER: &str = "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n\
                             data: [DONE]\n\n";

#[wasm_bindgen_test]
async fn fetch_post_without_ids_is_sent_once_when_its_body_ends() {
    let k = key("post-once");
    // A second response is there to be served if the request were sent again.
    script(
        &k,
        json!([
            { "chunks": [text_chunk(OPENAI_ANSWER)], "end": "close" },
            { "chunks": [text_chunk("data: billed twice\n\n")], "end": "close" }
        ]),
    )
    .await;
    let mut stream = open(
        SseRequest::post(sse_url(&k))
            .body_text("{}")
            .reconnect(fast_policy()),
    );
    let items = drain(&mut stream).await;
    let data: Vec<String> = items
        .iter()
        .filter_map(|i| match i {
            Ok(Item::Message(m)) => Some(m.data().to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(data.len(), 2, "{items:?}");
    assert_eq!(data[1], "[DONE]");
    assert!(
        matches!(items.last(), Some(Ok(Item::State(ConnectionState::Closed)))),
        "{items:?}"
    );
    // The stream has ended, so its driver is gone: no later request can come from it.
    let log = log(&k).await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["method"], "POST");
}

#[wasm_bindgen_test]
async fn fetch_post_with_ids_resumes_after_its_body_ends() {
    let k = key("post-resume");
    script(
        &k,
        json!([
            { "chunks": [text_chunk("id: a1\ndata: one\n\n")], "end": "close" },
            { "chunks": [text_chunk("id: a2\ndata: two\n\n")], "end": "hold" }
        ]),
    )
    .await;
    let mut stream = open(
        SseRequest::post(sse_url(&k))
            .body_text("{}")
            .reconnect(fast_policy()),
    );
    assert_eq!(next_message(&mut stream).await.data(), "one");
    assert_eq!(next_message(&mut stream).await.data(), "two");
    let log = log(&k).await;
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[1]["method"], "POST");
    assert_eq!(log[1]["last_event_id"], "a1");
}

#[wasm_bindgen_test]
async fn fetch_get_without_ids_reconnects_when_its_body_ends() {
    let k = key("get-again");
    script(
        &k,
        json!([
            { "chunks": [text_chunk("data: one\n\n")], "end": "close" },
            { "chunks": [text_chunk("data: two\n\n")], "end": "hold" }
        ]),
    )
    .await;
    let mut stream = open(fetch(&k));
    assert_eq!(next_message(&mut stream).await.data(), "one");
    assert_eq!(next_message(&mut stream).await.data(), "two");
    assert_eq!(log(&k).await.len(), 2);
}

#[wasm_bindgen_test]
async fn fetch_ndjson_and_raw_end_with_their_body() {
    for framing in [Framing::Ndjson, Framing::Raw] {
        let k = key("lines-end");
        script(
            &k,
            json!([
                { "headers": {"content-type": "text/plain"}, "chunks": [text_chunk("{\"a\":1}\n")], "end": "close" },
                { "headers": {"content-type": "text/plain"}, "chunks": [text_chunk("{\"b\":2}\n")], "end": "close" }
            ]),
        )
        .await;
        // The default policy reconnects forever: only the end-of-body rule stops it here.
        let mut stream = open(fetch(&k).framing(framing).reconnect(fast_policy()));
        let items = drain(&mut stream).await;
        assert!(
            matches!(items.last(), Some(Ok(Item::State(ConnectionState::Closed)))),
            "{framing:?}: {items:?}"
        );
        assert_eq!(log(&k).await.len(), 1, "{framing:?}");
    }
}

#[wasm_bindgen_test]
async fn fetch_end_of_body_reconnect_is_an_explicit_opt_in() {
    let k = key("post-opt-in");
    script(
        &k,
        json!([
            { "chunks": [text_chunk("data: one\n\n")], "end": "close" },
            { "chunks": [text_chunk("data: two\n\n")], "end": "hold" }
        ]),
    )
    .await;
    let mut stream = open(
        SseRequest::post(sse_url(&k))
            .body_text("{}")
            .reconnect(fast_policy())
            .end_of_body(EndOfBody::Reconnect),
    );
    assert_eq!(next_message(&mut stream).await.data(), "one");
    assert_eq!(next_message(&mut stream).await.data(), "two");
    assert_eq!(log(&k).await.len(), 2);
    // And `Close` ends even a GET that could resume.
    let k = key("get-close");
    script(&k, reconnect_script()).await;
    let items = drain(&mut open(fetch(&k).end_of_body(EndOfBody::Close))).await;
    assert!(
        matches!(items.last(), Some(Ok(Item::State(ConnectionState::Closed)))),
        "{items:?}"
    );
    assert_eq!(log(&k).await.len(), 1);
}

#[wasm_bindgen_test]
async fn eventsource_refuses_what_it_cannot_send() {
    let err = SseRequest::post(format!("{}/test/echo", server()))
        .transport(Transport::EventSource)
        .open()
        .unwrap_err();
    assert!(matches!(err, Error::EventSourceUnsupported(_)), "{err}");
}

#[wasm_bindgen_test]
async fn fetch_post_json_and_custom_headers_arrive() {
    let body = json!({"messages": [{"role": "user", "content": "héllo"}]});
    let mut stream = open(
        SseRequest::post(format!("{}/test/echo", server()))
            .json(&body)
            .header("X-Custom", "42")
            .reconnect(ReconnectPolicy::never()),
    );
    let echo = next_message(&mut stream).await;
    assert_eq!(echo.event_type(), "echo");
    let echo: Value = echo.json().unwrap();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["headers"]["x-custom"], "42");
    assert_eq!(echo["headers"]["content-type"], "application/json");
    assert_eq!(echo["headers"]["accept"], "text/event-stream");
    assert_eq!(
        serde_json::from_str::<Value>(echo["body"].as_str().unwrap()).unwrap(),
        body
    );
    // The body ends and the policy allows no reconnect: a clean end.
    let rest = drain(&mut stream).await;
    assert!(
        matches!(rest.last(), Some(Ok(Item::State(ConnectionState::Closed)))),
        "{rest:?}"
    );
}

#[wasm_bindgen_test]
async fn fetch_put_bytes_body_arrives() {
    let mut stream = open(
        SseRequest::new("PUT", format!("{}/test/echo", server()))
            .body_bytes("bytes ✓".as_bytes().to_vec())
            .reconnect(ReconnectPolicy::never()),
    );
    let echo: Value = next_message(&mut stream).await.json().unwrap();
    assert_eq!(echo["method"], "PUT");
    assert_eq!(echo["body"], "bytes ✓");
}

/// Sets a cookie of the test page's site. The test server gets it too when a request carries
/// credentials: cookies do not tell ports apart.
fn set_cookie(cookie: &str) {
    let document = web_sys::window().unwrap().document().unwrap();
    js_sys::Reflect::set(&document, &"cookie".into(), &cookie.into()).unwrap();
}

/// Each builder setting does what it says, seen where it shows: on the wire (method, body,
/// headers, credentials and `Last-Event-ID`, as the server logged both requests) and in the
/// stream (the event size bound, the idle timeout, the reconnect delay, the end sentinel).
/// A default request to the same server is the control: it shows none of those effects.
/// Framing, `events`, `max_buffered`, `pause_when_hidden` and `end_of_body` have tests of
/// their own in this file.
#[wasm_bindgen_test]
async fn every_builder_setting_has_its_effect() {
    let ms = Duration::from_millis;
    let k = key("builder");
    let too_large = format!("data: {}\n\n", "x".repeat(40));
    script(
        &k,
        json!([
            // Too large for the bound, then an event with an id, then silence.
            { "chunks": [text_chunk(&too_large), text_chunk("id: s1\ndata: one\n\n")],
              "end": "hold" },
            { "chunks": [text_chunk("data: two\n\ndata: [DONE]\n\ndata: after\n\n")],
              "end": "hold" }
        ]),
    )
    .await;
    let cookie = format!("websse-builder-{}", (js_sys::Math::random() * 1e9) as u64);
    set_cookie(&format!("{cookie}=1; path=/"));
    let request = SseRequest::new("PUT", sse_url(&k))
        .credentials(Credentials::Include)
        .header("X-Custom", "42")
        .body_bytes("bytes ✓".as_bytes().to_vec())
        .last_event_id("7")
        .max_event_size(Some(16))
        .idle_timeout(ms(300))
        .reconnect(ReconnectPolicy {
            initial_delay: ms(70),
            min_delay: ms(70),
            jitter: 0.0,
            ..ReconnectPolicy::default()
        })
        .done_on_data("[DONE]");
    let items: Vec<Item> = drain(&mut open(request))
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();

    let control = key("builder-default");
    script_one_and_hold(&control).await;
    let mut stream = open(SseRequest::get(sse_url(&control)));
    next_message(&mut stream).await;
    drop(stream);
    set_cookie(&format!("{cookie}=; max-age=0; path=/"));

    // The stream: the oversized event skipped at the bound, the silence ended by the idle
    // timeout after the policy's delay, the sentinel ending the stream cleanly.
    let messages: Vec<(&str, &str)> = items
        .iter()
        .filter_map(|item| match item {
            Item::Message(m) => Some((m.data(), m.last_event_id())),
            _ => None,
        })
        .collect();
    assert_eq!(messages, [("one", "s1"), ("two", "s1")], "{items:?}");
    assert!(
        items.contains(&Item::Skipped(Skipped::TooLarge { limit: 16 })),
        "{items:?}"
    );
    let states: Vec<ConnectionState> = items
        .iter()
        .filter_map(|item| match item {
            Item::State(state) => Some(*state),
            _ => None,
        })
        .collect();
    assert_eq!(reconnects(&states), [(1, ms(70), Disconnect::IdleTimeout)]);
    assert_eq!(items.last(), Some(&Item::State(ConnectionState::Closed)));

    // The wire: both requests carry the method, body, header and cookie; the first the given
    // `Last-Event-ID`, the second the one the stream received.
    let wire = log(&k).await;
    assert_eq!(wire.len(), 2, "{wire:?}");
    for entry in &wire {
        assert_eq!(entry["method"], "PUT", "{entry}");
        assert_eq!(entry["body"], "bytes ✓", "{entry}");
        assert_eq!(entry["headers"]["x-custom"], "42", "{entry}");
        let cookies = entry["headers"]["cookie"].as_str().unwrap_or_default();
        assert!(cookies.contains(&format!("{cookie}=1")), "{entry}");
    }
    assert_eq!(wire[0]["last_event_id"], "7");
    assert_eq!(wire[1]["last_event_id"], "s1");
    let waited = wire[1]["started_ms"].as_f64().unwrap() - wire[0]["started_ms"].as_f64().unwrap();
    assert!(
        waited >= 360.0,
        "idle timeout and delay: reconnected after {waited} ms"
    );

    let default = &log(&control).await[0];
    assert_eq!(default["method"], "GET", "{default}");
    assert_eq!(default["body"], "", "{default}");
    assert_eq!(default["last_event_id"], Value::Null, "{default}");
    assert_eq!(default["headers"]["x-custom"], Value::Null, "{default}");
    assert_eq!(default["headers"]["cookie"], Value::Null, "{default}");
}

async fn check_drop_aborts(k: &str, stream: EventStream) {
    let mut stream = stream;
    next_message(&mut stream).await;
    assert_eq!(log(k).await[0]["outcome"], "open");
    drop(stream);
    let ended = until_log(k, 2000.0, "the server to see the client leave", |log| {
        log[0]["outcome"] != "open"
    })
    .await;
    assert_eq!(ended[0]["outcome"], "client_disconnected", "{ended:?}");
    one_fast_reconnect_later().await;
    assert_eq!(log(k).await.len(), 1, "no reconnect after drop");
}

/// Returns once a fresh fetch stream has reconnected once, after `fast_policy`'s first delay.
///
/// A stream that should be gone but reconnects anyway set its timer for that delay (or a
/// shorter one) before this probe set its own, and the browser fires timers of equal delay in
/// the order they were set: its request goes out before the probe's second one, so the log has
/// it by the time the probe's message is here.
async fn one_fast_reconnect_later() {
    let probe = key("probe");
    script(
        &probe,
        json!([
            { "status": 500, "headers": {"content-type": "text/plain"} },
            { "chunks": [text_chunk("data: ok\n\n")], "end": "hold" }
        ]),
    )
    .await;
    let mut stream = open(fetch(&probe));
    assert_eq!(next_message(&mut stream).await.data(), "ok");
}

#[wasm_bindgen_test]
async fn fetch_drop_aborts_the_request() {
    let k = key("fetch-drop");
    script(
        &k,
        json!([{ "chunks": [text_chunk("data: a\n\n")], "end": "hold" }]),
    )
    .await;
    check_drop_aborts(&k, open(fetch(&k))).await;
}

#[wasm_bindgen_test]
async fn eventsource_drop_closes_it() {
    let k = key("es-drop");
    script(
        &k,
        json!([{ "chunks": [text_chunk("data: a\n\n")], "end": "hold" }]),
    )
    .await;
    check_drop_aborts(&k, open(es(&k))).await;
}

#[wasm_bindgen_test]
async fn fetch_idle_timeout_reconnects() {
    let k = key("fetch-idle");
    script(
        &k,
        json!([
            { "chunks": [text_chunk("id: i1\ndata: one\n\n")], "end": "hold" },
            { "chunks": [text_chunk("data: two\n\n")], "end": "hold" }
        ]),
    )
    .await;
    let mut stream = open(fetch(&k).idle_timeout(Duration::from_millis(300)));
    assert_eq!(next_message(&mut stream).await.data(), "one");
    assert_eq!(next_message(&mut stream).await.data(), "two");
    // The client aborted the first request before it sent the second; the server may hear of
    // it a little later.
    let log = until_log(&k, 2000.0, "the first connection to end", |log| {
        log[0]["outcome"] != "open"
    })
    .await;
    assert_eq!(log[0]["outcome"], "client_disconnected", "{log:?}");
    assert_eq!(log[1]["last_event_id"], "i1");
}

#[wasm_bindgen_test]
async fn fetch_comments_keep_an_idle_connection_alive() {
    let k = key("fetch-keepalive");
    let beat = |ms: u64| json!({ "text": ": keep-alive\n", "delay_ms": ms });
    script(
        &k,
        json!([{ "chunks": [text_chunk("data: one\n\n"), beat(150), beat(150), beat(150), beat(150),
                 { "text": "data: two\n\n", "delay_ms": 150 }], "end": "hold" }]),
    )
    .await;
    let mut stream = open(fetch(&k).idle_timeout(Duration::from_millis(400)));
    assert_eq!(next_message(&mut stream).await.data(), "one");
    assert_eq!(next_message(&mut stream).await.data(), "two");
    assert_eq!(log(&k).await.len(), 1);
}

#[wasm_bindgen_test]
async fn fetch_oversize_event_is_skipped_with_a_notice_and_the_stream_continues() {
    let k = key("fetch-oversize");
    let big = format!("data: {}\n\n", "x".repeat(100));
    script(
        &k,
        json!([{ "chunks": [text_chunk(&big), text_chunk("data: small\n\n")], "end": "hold" }]),
    )
    .await;
    let mut stream = open(fetch(&k).max_event_size(Some(32)));
    let mut saw_error = false;
    loop {
        match next_within(&mut stream, 5000).await.unwrap() {
            Ok(Item::Skipped(Skipped::TooLarge { limit })) => {
                assert_eq!(limit, 32);
                saw_error = true;
            }
            Err(e) => panic!("{e}"),
            Ok(Item::Message(m)) => {
                assert_eq!(m.data(), "small");
                break;
            }
            Ok(_) => {}
        }
    }
    assert!(saw_error);
}

#[wasm_bindgen_test]
async fn fetch_ndjson_framing() {
    let k = key("fetch-ndjson");
    script(
        &k,
        json!([{
            "headers": {"content-type": "application/x-ndjson"},
            "chunks": [text_chunk("{\"a\":1}\n{\"b\""), { "text": ":2}\r\n\n{\"c\":3}", "delay_ms": 30 }],
            "end": "close"
        }]),
    )
    .await;
    let mut stream = open(
        fetch(&k)
            .framing(Framing::Ndjson)
            .reconnect(ReconnectPolicy::never()),
    );
    let items = drain(&mut stream).await;
    let lines: Vec<Value> = items
        .iter()
        .filter_map(|i| match i {
            Ok(Item::Message(m)) => Some(m.json().unwrap()),
            _ => None,
        })
        .collect();
    assert_eq!(lines, [json!({"a": 1}), json!({"b": 2}), json!({"c": 3})]);
}

#[wasm_bindgen_test]
async fn fetch_raw_framing_carries_utf8_across_chunks() {
    let k = key("fetch-raw");
    let euro = "€".as_bytes(); // E2 82 AC
    script(
        &k,
        json!([{
            "headers": {"content-type": "text/plain"},
            "chunks": [
                { "text": "price: 5", "delay_ms": 0 },
                { "bytes": [euro[0], euro[1]], "delay_ms": 30 },
                { "bytes": [euro[2]], "delay_ms": 30 },
                { "text": " ok", "delay_ms": 30 }
            ],
            "end": "close"
        }]),
    )
    .await;
    let mut stream = open(
        fetch(&k)
            .framing(Framing::Raw)
            .reconnect(ReconnectPolicy::never()),
    );
    let items = drain(&mut stream).await;
    let chunks: Vec<String> = items
        .into_iter()
        .filter_map(|i| match i.unwrap() {
            Item::Message(m) => Some(m.into_data()),
            _ => None,
        })
        .collect();
    assert_eq!(chunks.concat(), "price: 5€ ok");
    assert!(chunks.len() >= 2, "{chunks:?}");
    assert!(!chunks.iter().any(|c| c.contains('\u{FFFD}')), "{chunks:?}");
}

fn split_char_script() -> Value {
    let bytes = "data: 5€ and 😀\n\n".as_bytes();
    let euro_at = "data: 5".len() + 1; // inside €
    let emoji_at = "data: 5€ and ".len() + 2; // inside 😀
    json!([{
        "chunks": [
            { "bytes": bytes[..euro_at], "delay_ms": 0 },
            { "bytes": bytes[euro_at..emoji_at], "delay_ms": 30 },
            { "bytes": bytes[emoji_at..], "delay_ms": 30 }
        ],
        "end": "hold"
    }])
}

#[wasm_bindgen_test]
async fn fetch_chunk_boundary_inside_a_multibyte_character() {
    let k = key("fetch-utf8");
    script(&k, split_char_script()).await;
    assert_eq!(next_message(&mut open(fetch(&k))).await.data(), "5€ and 😀");
}

#[wasm_bindgen_test]
async fn eventsource_chunk_boundary_inside_a_multibyte_character() {
    let k = key("es-utf8");
    script(&k, split_char_script()).await;
    assert_eq!(next_message(&mut open(es(&k))).await.data(), "5€ and 😀");
}

#[wasm_bindgen_test]
async fn fetch_done_sentinel_ends_the_stream() {
    let k = key("fetch-done");
    script(
        &k,
        json!([{ "chunks": [text_chunk("data: a\n\ndata: [DONE]\n\ndata: after\n\n")], "end": "hold" }]),
    )
    .await;
    let mut stream = open(fetch(&k).done_on_data("[DONE]"));
    let items: Vec<Item> = drain(&mut stream)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let messages: Vec<_> = items
        .iter()
        .filter_map(|i| match i {
            Item::Message(m) => Some(m.data()),
            _ => None,
        })
        .collect();
    assert_eq!(messages, ["a"]);
    assert_eq!(items.last(), Some(&Item::State(ConnectionState::Closed)));
    assert!(futures::stream::FusedStream::is_terminated(&stream));
}

#[wasm_bindgen_test]
async fn fetch_network_error_reconnects() {
    let k = key("fetch-abort");
    script(
        &k,
        json!([
            { "chunks": [text_chunk("id: n1\ndata: one\n\n")], "end": "abort" },
            { "chunks": [text_chunk("data: two\n\n")], "end": "hold" }
        ]),
    )
    .await;
    let mut stream = open(fetch(&k));
    assert_eq!(next_message(&mut stream).await.data(), "one");
    assert_eq!(next_message(&mut stream).await.data(), "two");
    assert_eq!(log(&k).await[1]["last_event_id"], "n1");
}

#[wasm_bindgen_test]
async fn messages_adaptor_skips_states() {
    let k = key("fetch-messages");
    script(
        &k,
        json!([{ "chunks": [text_chunk("data: a\n\ndata: b\n\n")], "end": "close" }]),
    )
    .await;
    let messages: Vec<String> = open(fetch(&k).reconnect(ReconnectPolicy::never()))
        .messages()
        .map(|m| m.unwrap().into_data())
        .collect()
        .await;
    assert_eq!(messages, ["a", "b"]);
}

/// Makes `document.visibilityState` report `hidden` or `visible`, and `document.hidden` agree as
/// the HTML spec defines it, and fires `visibilitychange` (headless Chromium is always visible;
/// the properties are overridden on this document only).
fn set_page_hidden(hidden: bool) {
    let window = web_sys::window().unwrap();
    let document = window.document().unwrap();
    js_sys::Reflect::set(&window, &"__websseHidden".into(), &hidden.into()).unwrap();
    for (property, getter) in [
        (
            "visibilityState",
            "return window.__websseHidden ? 'hidden' : 'visible';",
        ),
        ("hidden", "return window.__websseHidden;"),
    ] {
        let descriptor = js_sys::Object::new();
        let getter = js_sys::Function::new_no_args(getter);
        js_sys::Reflect::set(&descriptor, &"get".into(), &getter).unwrap();
        js_sys::Reflect::set(&descriptor, &"configurable".into(), &true.into()).unwrap();
        js_sys::Object::define_property(&document, &property.into(), &descriptor);
    }
    let event = web_sys::Event::new("visibilitychange").unwrap();
    document.dispatch_event(&event).unwrap();
}

#[wasm_bindgen_test]
async fn fetch_pause_when_hidden_closes_and_resumes_with_last_event_id() {
    let k = key("fetch-hidden");
    script(
        &k,
        json!([
            { "chunks": [text_chunk("id: h1\ndata: one\n\n")], "end": "hold" },
            { "chunks": [text_chunk("data: two\n\n")], "end": "hold" }
        ]),
    )
    .await;
    let mut stream = open(fetch(&k).pause_when_hidden(true));
    assert_eq!(next_message(&mut stream).await.data(), "one");
    set_page_hidden(true);
    assert_eq!(
        next_within(&mut stream, 5000).await.unwrap().unwrap(),
        Item::State(ConnectionState::Paused)
    );
    until_log(&k, 2000.0, "the hidden page's connection to end", |log| {
        log[0]["outcome"] != "open"
    })
    .await;
    // Hidden, nothing more happens: a reconnect would have been sent (and a state queued)
    // before the probe's, see `one_fast_reconnect_later`.
    one_fast_reconnect_later().await;
    let mut while_hidden = Vec::new();
    while let Some(item) = futures::FutureExt::now_or_never(stream.next()) {
        while_hidden.push(item);
    }
    assert!(while_hidden.is_empty(), "{while_hidden:?}");
    let hidden_log = log(&k).await;
    set_page_hidden(false);
    assert_eq!(hidden_log.len(), 1, "{hidden_log:?}");
    assert_eq!(hidden_log[0]["outcome"], "client_disconnected");
    assert_eq!(next_message(&mut stream).await.data(), "two");
    let log = log(&k).await;
    assert_eq!(log[1]["last_event_id"], "h1");
}

// --- hardening -------------------------------------------------------------------------

fn reconnects(states: &[ConnectionState]) -> Vec<(u32, Duration, Disconnect)> {
    // Every fetch reconnect says its delay.
    states
        .iter()
        .filter_map(|s| match *s {
            ConnectionState::Reconnecting {
                attempt,
                delay,
                cause,
                ..
            } => Some((attempt, delay.expect("a fetch delay"), cause)),
            _ => None,
        })
        .collect()
}

#[wasm_bindgen_test]
async fn fetch_retry_zero_is_honoured_once_then_backs_off() {
    let k = key("fetch-retry0");
    let drop_at_once = json!({ "chunks": [text_chunk("retry: 0\n\n")], "end": "close" });
    script(
        &k,
        json!([
            drop_at_once, drop_at_once, drop_at_once, drop_at_once,
            { "chunks": [text_chunk("data: finally\n\n")], "end": "hold" }
        ]),
    )
    .await;
    let policy = ReconnectPolicy {
        jitter: 0.0,
        ..ReconnectPolicy::default()
    };
    let mut stream = open(SseRequest::get(sse_url(&k)).reconnect(policy.clone()));
    let (states, m) = states_until_message(&mut stream).await;
    assert_eq!(m.data(), "finally");
    let delays: Vec<Duration> = reconnects(&states).iter().map(|r| r.1).collect();
    // The first reconnect honours `retry: 0`; then the delay grows from the floor.
    assert_eq!(
        delays,
        [
            Duration::ZERO,
            policy.min_delay * 2,
            policy.min_delay * 4,
            policy.min_delay * 8
        ]
    );
    assert!(
        reconnects(&states)
            .iter()
            .all(|r| r.2 == Disconnect::EndOfBody)
    );
    assert_eq!(log(&k).await.len(), 5);
}

#[wasm_bindgen_test]
async fn fetch_retry_after_is_capped_by_max_server_delay() {
    let k = key("fetch-retry-after-cap");
    script(
        &k,
        json!([
            { "status": 503, "headers": {"content-type": "text/plain", "retry-after": "99999999"} },
            { "status": 429, "headers": {"content-type": "text/plain", "retry-after": "Fri, 31 Dec 9999 23:59:59 GMT"} },
            { "chunks": [text_chunk("data: ok\n\n")], "end": "hold" }
        ]),
    )
    .await;
    let cap = Duration::from_millis(300);
    let mut stream = open(fetch(&k).reconnect(ReconnectPolicy {
        max_server_delay: cap,
        ..fast_policy()
    }));
    let start = now();
    let (states, m) = states_until_message(&mut stream).await;
    assert_eq!(m.data(), "ok");
    assert_eq!(
        reconnects(&states),
        [
            (1, cap, Disconnect::Status(503)),
            (2, cap, Disconnect::Status(429))
        ]
    );
    let took = now() - start;
    assert!((590.0..5000.0).contains(&took), "took {took} ms");
}

#[wasm_bindgen_test]
async fn eventsource_server_events_named_open_and_error_are_messages() {
    let k = key("es-open-error");
    script(
        &k,
        json!([{
            "chunks": [text_chunk("event: open\ndata: o\n\nevent: error\ndata: e\n\ndata: m\n\n")],
            "end": "hold"
        }]),
    )
    .await;
    let mut stream = open(es(&k).events(["open", "error"]));
    let mut items = Vec::new();
    while items.len() < 5 {
        items.push(next_within(&mut stream, 5000).await.unwrap().unwrap());
    }
    let msg = |t: &str, d: &str| Item::Message(websse::Message::new(t, d, ""));
    assert_eq!(
        items,
        [
            Item::State(ConnectionState::Connecting),
            Item::State(ConnectionState::Open),
            msg("open", "o"),
            msg("error", "e"),
            msg("message", "m"),
        ]
    );
    assert_eq!(stream.state(), ConnectionState::Open);
}

#[wasm_bindgen_test]
async fn eventsource_open_and_error_events_not_asked_for_are_not_states() {
    let k = key("es-open-unasked");
    script(
        &k,
        json!([{
            "chunks": [text_chunk("event: open\ndata: o\n\nevent: error\ndata: e\n\ndata: m\n\n")],
            "end": "hold"
        }]),
    )
    .await;
    let mut stream = open(es(&k));
    let (states, m) = states_until_message(&mut stream).await;
    assert_eq!(m.data(), "m");
    assert_eq!(states, [ConnectionState::Connecting, ConnectionState::Open]);
}

#[wasm_bindgen_test]
async fn fetch_a_connection_that_never_opens_says_why() {
    // Nothing listens on port 9 of this machine: connection refused, forever. (A server whose
    // CORS headers refuse this page fails the same way: fetch rejects with a bare TypeError.)
    let mut stream = open(
        SseRequest::get("http://127.0.0.1:9/never").reconnect(ReconnectPolicy {
            max_attempts: Some(2),
            ..fast_policy()
        }),
    );
    let items = drain(&mut stream).await;
    let states: Vec<ConnectionState> = items
        .iter()
        .filter_map(|i| match i {
            Ok(Item::State(s)) => Some(*s),
            _ => None,
        })
        .collect();
    let causes: Vec<Disconnect> = reconnects(&states).iter().map(|r| r.2).collect();
    assert_eq!(causes, [Disconnect::Network, Disconnect::Network]);
    assert!(
        Disconnect::Network.to_string().contains("CORS"),
        "the text names the likely causes"
    );
    assert!(
        matches!(items.last(), Some(Err(Error::Network { .. }))),
        "{items:?}"
    );
}

/// Polls `key`'s connection log until `done` holds, or panics with `what` after `ms`.
async fn until_log(key: &str, ms: f64, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = now() + ms;
    loop {
        let log = log(key).await;
        if done(&log) {
            return log;
        }
        assert!(now() < deadline, "{what} within {ms} ms: {log:?}");
        // The server cannot tell us when its log changes: ask again shortly.
        sleep(50).await;
    }
}

/// Scripts `key` to send one event and hold the connection.
async fn script_one_and_hold(key: &str) {
    script(
        key,
        json!([{ "chunks": [text_chunk("data: a\n\n")], "end": "hold" }]),
    )
    .await;
}

#[wasm_bindgen_test]
async fn open_starts_connecting_before_the_first_poll() {
    for (name, request) in [
        ("fetch-eager", fetch as fn(&str) -> SseRequest),
        ("es-eager", es),
    ] {
        let k = key(name);
        script_one_and_hold(&k).await;
        let stream = open(request(&k));
        // Not polled at all: the request must be on its way anyway.
        until_log(&k, 3000.0, name, |log| !log.is_empty()).await;
        drop(stream);
    }
}

#[wasm_bindgen_test]
async fn eventsource_queue_is_bounded_and_says_what_it_dropped() {
    let k = key("es-lagged");
    let events: String = (0..200).map(|i| format!("data: {i:04}\n\n")).collect();
    // The body ends after the events, and the browser reconnects only after it has dispatched
    // them all: the second request says they have all reached the queue.
    script(
        &k,
        json!([
            { "chunks": [text_chunk(&format!("retry: 1\n{events}"))], "end": "close" },
            { "end": "hold" }
        ]),
    )
    .await;
    // Room for a handful of messages only; the consumer does not poll while they arrive.
    let mut stream = open(es(&k).max_buffered(1024));
    until_log(&k, 10000.0, "the reconnect after the body", |log| {
        log.len() >= 2
    })
    .await;
    let mut received = Vec::new();
    let mut dropped = 0;
    while received.len() as u64 + dropped < 200 {
        match next_within(&mut stream, 5000).await {
            Some(Ok(Item::Message(m))) => received.push(m.into_data()),
            Some(Ok(Item::Skipped(Skipped::Lagged { count }))) => dropped += count,
            Some(Ok(_)) => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(
        dropped > 0,
        "nothing was dropped: {} received",
        received.len()
    );
    assert!(received.len() < 200);
    // What arrived is in order and starts at the beginning.
    assert_eq!(received[0], "0000");
    assert!(received.windows(2).all(|w| w[0] < w[1]), "{received:?}");
}

#[wasm_bindgen_test]
async fn close_handle_from_another_task_releases_the_connection() {
    use std::cell::RefCell;
    use std::rc::Rc;
    for (name, request) in [
        ("fetch-handle", fetch as fn(&str) -> SseRequest),
        ("es-handle", es),
    ] {
        let k = key(name);
        script_one_and_hold(&k).await;
        let stream = open(request(&k));
        let handle = stream.close_handle();
        let ended = Rc::new(RefCell::new(false));
        let task_ended = Rc::clone(&ended);
        // The consumer task owns the stream, as in a framework's spawn_local.
        wasm_bindgen_futures::spawn_local(async move {
            let mut messages = stream.messages();
            while messages.next().await.is_some() {}
            *task_ended.borrow_mut() = true;
        });
        let outcome = |want: &'static str| {
            move |log: &[Value]| log.first().is_some_and(|c| c["outcome"] == want)
        };
        until_log(&k, 5000.0, name, outcome("open")).await;
        handle.close();
        until_log(&k, 1000.0, name, outcome("client_disconnected")).await;
        assert!(*ended.borrow(), "{name}: the consumer's loop ended");
        assert_eq!(log(&k).await.len(), 1, "{name}: no reconnect after close");
    }
}

#[wasm_bindgen_test]
async fn open_returns_the_error_of_a_request_the_browser_refuses() {
    for transport in [Transport::Fetch, Transport::EventSource] {
        let refused = SseRequest::get("http://[not a host/")
            .transport(transport)
            .open();
        assert!(
            matches!(refused, Err(Error::Js { .. })),
            "{transport:?}: {refused:?}"
        );
    }
    let bad_header = SseRequest::get(sse_url("unused"))
        .header("bad header name", "x")
        .open();
    assert!(
        matches!(bad_header, Err(Error::Js { .. })),
        "{bad_header:?}"
    );
}

#[wasm_bindgen_test]
async fn fetch_retry_after_zero_keeps_the_backoff_floor() {
    let k = key("retry-after-0");
    let busy =
        json!({ "status": 503, "headers": {"content-type": "text/plain", "retry-after": "0"} });
    script(
        &k,
        json!([busy, busy, busy, { "chunks": [text_chunk("data: ok\n\n")], "end": "hold" }]),
    )
    .await;
    let mut stream = open(fetch(&k));
    let ms = Duration::from_millis;
    // The server's zero once; then never less than the policy's own delay (50 ms doubling).
    let (states, _) = states_until_message(&mut stream).await;
    assert_eq!(
        reconnects(&states),
        [
            (1, ms(0), Disconnect::Status(503)),
            (2, ms(100), Disconnect::Status(503)),
            (3, ms(200), Disconnect::Status(503)),
        ]
    );
}

/// A token store the request's header callback reads and its 401 hook refreshes.
fn token_request(k: &str) -> (SseRequest, std::sync::Arc<std::sync::atomic::AtomicU32>) {
    use std::sync::atomic::Ordering;
    let token = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(1));
    let (read, refreshes) = (token.clone(), token.clone());
    let request = fetch(k)
        .headers_with(move || {
            let t = read.load(Ordering::Relaxed);
            vec![("Authorization".to_owned(), format!("Bearer t{t}"))]
        })
        .on_unauthorized(move || {
            let token = refreshes.clone();
            async move {
                // As a real refresh would: a round trip before the new token is there.
                sleep(20).await;
                token.fetch_add(1, Ordering::Relaxed);
            }
        });
    (request, token)
}

#[wasm_bindgen_test]
async fn fetch_expired_token_refreshes_once_and_resumes_without_duplicates() {
    let k = key("token-expiry");
    script(
        &k,
        json!([
            { "chunks": [text_chunk("id: 1\ndata: a\n\n")], "end": "abort" },
            { "status": 401, "headers": {"content-type": "text/plain"} },
            { "chunks": [text_chunk("id: 2\ndata: b\n\n")], "end": "hold" }
        ]),
    )
    .await;
    let (request, token) = token_request(&k);
    let mut stream = open(request);
    assert_eq!(next_message(&mut stream).await.data(), "a");
    let (states, b) = states_until_message(&mut stream).await;
    assert_eq!((b.data(), b.last_event_id()), ("b", "2"));
    assert!(
        states.iter().any(|s| matches!(
            s,
            ConnectionState::Reconnecting {
                attempt: 0,
                cause: Disconnect::Unauthorized,
                ..
            }
        )),
        "{states:?}"
    );
    let log = log(&k).await;
    // One extra request (the 401), each resume with the last id, the fresh token after it.
    assert_eq!(log.len(), 3, "{log:?}");
    assert_eq!(log[1]["headers"]["authorization"], "Bearer t1");
    assert_eq!(log[1]["last_event_id"], "1");
    assert_eq!(log[2]["headers"]["authorization"], "Bearer t2");
    assert_eq!(log[2]["last_event_id"], "1");
    assert_eq!(token.load(std::sync::atomic::Ordering::Relaxed), 2);
}

#[wasm_bindgen_test]
async fn fetch_a_second_401_in_a_row_is_fatal() {
    let k = key("token-refused");
    let refused = json!({ "status": 401, "headers": {"content-type": "text/plain"} });
    script(&k, json!([refused, refused, refused])).await;
    let (request, token) = token_request(&k);
    let items = drain(&mut open(request)).await;
    assert!(
        matches!(items.last(), Some(Err(Error::Status { status: 401 }))),
        "{items:?}"
    );
    assert_last_state_is_closed(&items);
    assert_eq!(log(&k).await.len(), 2);
    assert_eq!(
        token.load(std::sync::atomic::Ordering::Relaxed),
        2,
        "one refresh"
    );
}

#[wasm_bindgen_test]
async fn fetch_online_event_ends_a_pending_reconnect_wait() {
    let k = key("online");
    script(
        &k,
        json!([
            { "status": 500, "headers": {"content-type": "text/plain"} },
            { "chunks": [text_chunk("data: back\n\n")], "end": "hold" }
        ]),
    )
    .await;
    let mut stream = open(fetch(&k).reconnect(slow_policy()));
    loop {
        match next_within(&mut stream, 5000).await.unwrap().unwrap() {
            Item::State(ConnectionState::Reconnecting { delay, .. }) => {
                assert_eq!(delay, Some(Duration::from_secs(20)));
                break;
            }
            Item::State(_) => {}
            other => panic!("{other:?}"),
        }
    }
    let window = web_sys::window().unwrap();
    window
        .dispatch_event(&web_sys::Event::new("online").unwrap())
        .unwrap();
    let start = now();
    assert_eq!(next_message(&mut stream).await.data(), "back");
    assert!(now() - start < 3000.0, "{} ms", now() - start);
}

#[wasm_bindgen_test]
async fn reconnect_replaces_the_connection_now_on_both_transports() {
    for transport in [Transport::Fetch, Transport::EventSource] {
        let k = key("reconnect-now");
        script(
            &k,
            json!([
                { "chunks": [text_chunk("id: 1\ndata: a\n\n")], "end": "hold" },
                { "chunks": [text_chunk("id: 2\ndata: b\n\n")], "end": "hold" }
            ]),
        )
        .await;
        let mut stream = open(fetch(&k).transport(transport).reconnect(slow_policy()));
        assert_eq!(next_message(&mut stream).await.data(), "a");
        let handle = stream.close_handle();
        handle.reconnect();
        let (states, b) = states_until_message(&mut stream).await;
        assert_eq!(b.data(), "b", "{transport:?}");
        assert!(
            states.iter().any(|s| matches!(
                s,
                ConnectionState::Reconnecting {
                    cause: Disconnect::Requested,
                    ..
                }
            )),
            "{transport:?}: {states:?}"
        );
        let log = until_log(&k, 2000.0, "the first connection to close", |log| {
            log.first()
                .is_some_and(|c| c["outcome"] == "client_disconnected")
        })
        .await;
        assert_eq!(log.len(), 2, "{transport:?}: {log:?}");
        if transport == Transport::Fetch {
            assert_eq!(log[1]["last_event_id"], "1");
        }
    }
}

#[wasm_bindgen_test]
async fn fetch_events_keeps_message_and_the_named_types_only() {
    let k = key("fetch-events");
    script(
        &k,
        json!([{ "chunks": [text_chunk("event: a\ndata: 1\n\nevent: b\ndata: 2\n\ndata: 3\n\nevent: a\ndata: 4\n\n")], "end": "close" }]),
    )
    .await;
    let items = drain(&mut open(
        fetch(&k).events(["a"]).end_of_body(EndOfBody::Close),
    ))
    .await;
    let got: Vec<(String, String)> = items
        .iter()
        .filter_map(|i| match i {
            Ok(Item::Message(m)) => Some((m.event_type().to_owned(), m.data().to_owned())),
            _ => None,
        })
        .collect();
    let want = |t: &str, d: &str| (t.to_owned(), d.to_owned());
    assert_eq!(got, [want("a", "1"), want("message", "3"), want("a", "4")]);
}

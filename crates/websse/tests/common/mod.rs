//! What the browser test binaries share: the test server, scripted scenarios, and waiting for
//! items with a deadline.
#![allow(dead_code)]

use std::time::Duration;

use futures::StreamExt;
use futures::future::{Either, select};
use serde_json::{Value, json};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use websse::{ConnectionState, Error, EventStream, Item, ReconnectPolicy, SseRequest, Transport};

/// The websse-server under test, fixed at compile time. Checked when a test runs (not at compile
/// time) so that `cargo clippy --all-targets` builds without a server.
pub fn server() -> &'static str {
    match option_env!("WEBSSE_TEST_SERVER") {
        Some(url) => url,
        None => panic!(
            "WEBSSE_TEST_SERVER was not set when these tests were built: build them with \
         WEBSSE_TEST_SERVER=http://127.0.0.1:PORT (a `websse-server --test-endpoints`), \
         or run `cargo xtask test`"
        ),
    }
}

/// A scenario key unique to this test and this run.
pub fn key(name: &str) -> String {
    format!("{name}-{}", (js_sys::Math::random() * 1e12) as u64)
}

pub fn sse_url(key: &str) -> String {
    format!("{}/test/sse/{key}", server())
}

pub async fn sleep(ms: u32) {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms as i32)
            .unwrap();
    });
    JsFuture::from(promise).await.unwrap();
}

pub fn now() -> f64 {
    js_sys::Date::now()
}

/// A plain fetch for the test endpoints (not under test).
pub async fn http(method: &str, url: &str, body: Option<String>) -> Value {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if let Some(body) = body {
        init.set_body(&body.into());
        let headers = web_sys::Headers::new().unwrap();
        headers.append("content-type", "application/json").unwrap();
        init.set_headers(&headers);
    }
    let request = web_sys::Request::new_with_str_and_init(url, &init).unwrap();
    let window = web_sys::window().unwrap();
    let response: web_sys::Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .unwrap()
        .unchecked_into();
    let text = JsFuture::from(response.text().unwrap()).await.unwrap();
    let text = text.as_string().unwrap();
    assert!(
        response.ok(),
        "{method} {url}: {} {text}",
        response.status()
    );
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

pub async fn script(key: &str, responses: Value) {
    let body = json!({ "responses": responses }).to_string();
    http(
        "POST",
        &format!("{}/test/script/{key}", server()),
        Some(body),
    )
    .await;
}

pub async fn log(key: &str) -> Vec<Value> {
    let log = http("GET", &format!("{}/test/log/{key}", server()), None).await;
    log["connections"].as_array().cloned().unwrap_or_default()
}

/// The next item, or a panic after `ms`.
pub async fn next_within(stream: &mut EventStream, ms: u32) -> Option<Result<Item, Error>> {
    let next = stream.next();
    let timeout = Box::pin(sleep(ms));
    match select(next, timeout).await {
        Either::Left((item, _)) => item,
        Either::Right(_) => panic!("no item within {ms} ms (state {:?})", stream.state()),
    }
}

/// The next message (skipping states), or a panic on error or timeout.
pub async fn next_message(stream: &mut EventStream) -> websse::Message {
    loop {
        match next_within(stream, 5000).await {
            Some(Ok(Item::Message(m))) => return m,
            Some(Ok(Item::State(_))) => {}
            Some(Ok(other)) => panic!("{other:?} instead of a message"),
            Some(Err(e)) => panic!("error instead of a message: {e}"),
            None => panic!("stream ended instead of a message"),
        }
    }
}

/// Every item until the end of the stream.
pub async fn drain(stream: &mut EventStream) -> Vec<Result<Item, Error>> {
    let mut items = Vec::new();
    while let Some(item) = next_within(stream, 5000).await {
        items.push(item);
        assert!(items.len() < 100, "stream does not end: {items:?}");
    }
    items
}

pub fn fast_policy() -> ReconnectPolicy {
    ReconnectPolicy {
        initial_delay: Duration::from_millis(50),
        min_delay: Duration::from_millis(50),
        jitter: 0.0,
        ..ReconnectPolicy::default()
    }
}

pub fn open(request: SseRequest) -> EventStream {
    request.open().expect("open")
}

pub fn es(key: &str) -> SseRequest {
    SseRequest::get(sse_url(key)).transport(Transport::EventSource)
}

pub fn fetch(key: &str) -> SseRequest {
    SseRequest::get(sse_url(key)).reconnect(fast_policy())
}

pub fn text_chunk(text: &str) -> Value {
    json!({ "text": text, "delay_ms": 0 })
}

/// The states of `stream` until its first message (which is returned too).
pub async fn states_until_message(
    stream: &mut EventStream,
) -> (Vec<ConnectionState>, websse::Message) {
    let mut states = Vec::new();
    loop {
        match next_within(stream, 8000).await {
            Some(Ok(Item::State(state))) => states.push(state),
            Some(Ok(Item::Message(m))) => return (states, m),
            other => panic!("{other:?} after {states:?}"),
        }
    }
}
/// A policy whose waits are long enough that only a wake-up can explain a quick reconnect.
pub fn slow_policy() -> ReconnectPolicy {
    ReconnectPolicy {
        initial_delay: Duration::from_secs(20),
        jitter: 0.0,
        ..ReconnectPolicy::default()
    }
}

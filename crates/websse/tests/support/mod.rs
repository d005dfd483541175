//! What the browser test files share: the server under test, scenario keys, timers and the test
//! endpoints (scripts and the connection log).
#![allow(dead_code)]

use serde_json::{Value, json};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

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
    gloo_timers::future::TimeoutFuture::new(ms).await;
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

pub fn text_chunk(text: &str) -> Value {
    json!({ "text": text, "delay_ms": 0 })
}

/// The connections the server saw for `key`.
pub async fn log(key: &str) -> Vec<Value> {
    let log = http("GET", &format!("{}/test/log/{key}", server()), None).await;
    log["connections"].as_array().cloned().unwrap_or_default()
}

/// Polls the log until `done` holds, or panics after `ms`.
pub async fn until_log(
    key: &str,
    ms: f64,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = now() + ms;
    loop {
        let log = log(key).await;
        if done(&log) {
            return log;
        }
        assert!(now() < deadline, "{what} within {ms} ms: {log:?}");
        sleep(50).await;
    }
}

//! A real server on 127.0.0.1:0 and helpers to read its streams with websse-core.

use std::net::SocketAddr;
use std::time::Duration;

use axum::serve::ListenerExt;
use futures::StreamExt;
use tokio::sync::watch;
use websse_server::Config;

/// Upper bound for any single wait in the tests.
pub const TIMEOUT: Duration = Duration::from_secs(10);

pub struct TestServer {
    pub addr: SocketAddr,
    pub shutdown: watch::Sender<bool>,
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// Start `websse_server::app(config)` on a free port (with the test endpoints on unless the
/// caller's config says otherwise through `spawn_with`).
pub async fn spawn() -> TestServer {
    spawn_with(Config {
        test_endpoints: true,
        ..Config::default()
    })
    .await
}

pub async fn spawn_with(mut config: Config) -> TestServer {
    let (tx, rx) = watch::channel(false);
    config.shutdown = Some(rx.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let app = websse_server::app(config);
    let mut stop = rx;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
    });
    TestServer { addr, shutdown: tx }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("reqwest client")
}

/// The body as received: its chunks, and whether it ended with an error (broken connection).
#[derive(Debug)]
pub struct Body {
    pub chunks: Vec<Vec<u8>>,
    pub error: bool,
}

impl Body {
    pub fn bytes(&self) -> Vec<u8> {
        self.chunks.concat()
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.bytes()).expect("utf-8 body")
    }

    pub fn events(&self) -> Vec<websse_core::Event> {
        parse(&self.bytes())
    }
}

/// Read the whole body (bounded by `TIMEOUT` and a byte cap).
pub async fn read_body(response: reqwest::Response) -> Body {
    read_body_until(response, |_| false).await
}

/// Read until the body ends or `stop` says the bytes so far are enough.
pub async fn read_body_until(
    response: reqwest::Response,
    mut stop: impl FnMut(&[u8]) -> bool,
) -> Body {
    let mut stream = response.bytes_stream();
    let mut chunks = Vec::new();
    let mut total = Vec::new();
    let mut error = false;
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let next = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("body did not end in time");
        match next {
            None => break,
            Some(Err(_)) => {
                error = true;
                break;
            }
            Some(Ok(chunk)) => {
                total.extend_from_slice(&chunk);
                chunks.push(chunk.to_vec());
                assert!(total.len() < 8 * 1024 * 1024, "body too large");
                if stop(&total) {
                    break;
                }
            }
        }
    }
    Body { chunks, error }
}

/// All events in `bytes`, parsed by websse-core.
pub fn parse(bytes: &[u8]) -> Vec<websse_core::Event> {
    let mut parser = websse_core::Parser::new();
    parser
        .feed(bytes)
        .collect::<Result<Vec<_>, _>>()
        .expect("events within limits")
}

/// Number of complete events in `bytes`.
pub fn count_events(bytes: &[u8]) -> usize {
    parse(bytes).len()
}

/// A JSON error body: `(code, message)`.
pub async fn json_error(response: reqwest::Response) -> (String, String) {
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let value: serde_json::Value = response.json().await.expect("JSON error body");
    let code = value["error"].as_str().expect("error code").to_owned();
    let message = value["message"].as_str().expect("error message").to_owned();
    assert!(!message.is_empty());
    (code, message)
}

pub fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Poll `f` until it returns `Some`, at most `TIMEOUT`.
pub async fn eventually<T, F, Fut>(mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not reached in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

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

/// A redis-server for the tests: the one `WEBSSE_TEST_REDIS` names (xtask starts one), else
/// one started here on a free loopback port and killed on drop.
pub struct Redis {
    pub url: String,
    child: Option<std::process::Child>,
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether a missing service fails the test instead of skipping it (`cargo xtask test` sets
/// `WEBSSE_REQUIRE_SERVICES=1`, since it provides them).
pub fn services_required() -> bool {
    std::env::var_os("WEBSSE_REQUIRE_SERVICES").is_some_and(|v| v == "1")
}

/// A free loopback port (bound and released; the tiny race is acceptable in tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A program on `PATH` or in the sbin directories (nginx lives in /usr/sbin).
pub fn find_program(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into(), "/sbin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Redis, or `None` (with the reason printed) when there is none and none is required.
pub async fn redis() -> Option<Redis> {
    if let Ok(url) = std::env::var("WEBSSE_TEST_REDIS") {
        return Some(Redis { url, child: None });
    }
    let Some(bin) = find_program("redis-server") else {
        let reason = "redis-server is not installed (cargo xtask test installs it)";
        assert!(!services_required(), "{reason}");
        eprintln!("skipped: {reason}");
        return None;
    };
    let port = free_port();
    let child = std::process::Command::new(bin)
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start redis-server");
    let redis = Redis {
        url: format!("redis://127.0.0.1:{port}"),
        child: Some(child),
    };
    eventually(|| async move {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()
            .map(|_| ())
    })
    .await;
    Some(redis)
}

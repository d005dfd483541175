//! Bad input, limits, CORS, static files and the binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use websse_server::Config;

use crate::support::{client, header, json_error, read_body_until, spawn, spawn_with};

#[tokio::test]
async fn oversized_bodies_get_413_with_json() {
    let server = spawn().await;
    let big = "x".repeat(64 * 1024 + 1);
    let response = client()
        .post(server.url("/api/chat"))
        .body(big.clone())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 413);
    assert_eq!(json_error(response).await.0, "payload_too_large");

    // Without Content-Length (chunked), the limit applies while reading.
    let chunks = futures::stream::iter((0..17).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 4096])));
    let response = client()
        .post(server.url("/test/echo"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 413);
    assert_eq!(json_error(response).await.0, "payload_too_large");

    // Exactly at the limit is fine.
    let response = client()
        .post(server.url("/test/echo"))
        .body("y".repeat(64 * 1024))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn bad_chat_requests_get_400_with_json() {
    let server = spawn().await;
    let http = client();
    for body in [
        "{not json",
        "[]",
        r#"{"messages": "nope"}"#,
        r#"{"messages": [{"role": "system", "content": "no user"}]}"#,
        r#"{"messages": [{"role": "user", "content": "x"}], "speed": -1}"#,
        r#"{"messages": [{"role": "user", "content": "x"}], "bench_tokens": 100000000}"#,
        r#"{"messages": [{"role": "user", "content": "x"}], "max_tokens": "many"}"#,
        "",
    ] {
        let response = http
            .post(server.url("/api/chat"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 400, "{body}");
        let (code, _) = json_error(response).await;
        assert_eq!(code, "bad_request");
    }
    for query in ["", "?prompt=x&speed=fast", "?prompt=x&tokens_per_second=0"] {
        let response = http
            .get(server.url(&format!("/api/chat{query}")))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 400, "{query}");
        json_error(response).await;
    }
    let response = http
        .get(server.url("/api/examples/events?count=99999999"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 400);
    json_error(response).await;
}

#[tokio::test]
async fn unknown_paths_and_methods_get_json() {
    let server = spawn().await;
    let http = client();
    let response = http
        .get(server.url("/api/nothing/here"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 404);
    assert_eq!(json_error(response).await.0, "not_found");
    let response = http
        .delete(server.url("/api/chat"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 405);
    assert_eq!(json_error(response).await.0, "method_not_allowed");
}

#[tokio::test]
async fn stream_cap_answers_503_with_retry_after() {
    let server = spawn_with(Config {
        max_streams: 1,
        test_endpoints: true,
        ..Config::default()
    })
    .await;
    let http = client();
    let open = http
        .get(server.url("/api/chat?prompt=hi&tokens_per_second=1"))
        .send()
        .await
        .expect("first stream");
    assert_eq!(open.status(), 200);
    for path in ["/api/chat?prompt=again", "/api/examples/ticker"] {
        let response = http.get(server.url(path)).send().await.expect("request");
        assert_eq!(response.status(), 503, "{path}");
        assert_eq!(header(&response, "retry-after"), Some("1"));
        assert_eq!(json_error(response).await.0, "busy");
    }
    // Closing the first stream frees the slot.
    let _ = read_body_until(open, |b| !b.is_empty()).await;
    crate::support::eventually(|| {
        let http = http.clone();
        let url = server.url("/api/chat?prompt=again&max_tokens=0");
        async move {
            let response = http.get(url).send().await.ok()?;
            (response.status() == 200).then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn cors_preflight_is_open_with_test_endpoints() {
    let server = spawn().await;
    let response = client()
        .request(reqwest::Method::OPTIONS, server.url("/api/chat"))
        .header("Origin", "http://127.0.0.1:9999")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "last-event-id, authorization, content-type, x-custom",
        )
        .send()
        .await
        .expect("preflight");
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        Some("http://127.0.0.1:9999")
    );
    assert_eq!(
        header(&response, "access-control-allow-headers"),
        Some("last-event-id, authorization, content-type, x-custom")
    );
    assert_eq!(
        header(&response, "access-control-allow-methods"),
        Some("POST")
    );
    assert_eq!(
        header(&response, "access-control-allow-credentials"),
        Some("true")
    );

    // The actual response exposes X-Stream-Id.
    let response = client()
        .post(server.url("/api/chat"))
        .header("Origin", "http://127.0.0.1:9999")
        .json(&json!({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}))
        .send()
        .await
        .expect("request");
    let exposed = header(&response, "access-control-expose-headers").unwrap_or_default();
    assert!(exposed.contains("x-stream-id"), "{exposed}");
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let server = spawn_with(Config {
        allow_origins: vec!["http://app.example".to_owned()],
        ..Config::default()
    })
    .await;
    let preflight = |origin: &'static str| {
        client()
            .request(reqwest::Method::OPTIONS, server.url("/api/chat"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "GET")
            .header("Access-Control-Request-Headers", "last-event-id")
            .send()
    };
    let allowed = preflight("http://app.example").await.expect("preflight");
    assert_eq!(
        header(&allowed, "access-control-allow-origin"),
        Some("http://app.example")
    );
    assert_eq!(
        header(&allowed, "access-control-allow-headers"),
        Some("last-event-id")
    );
    let denied = preflight("http://evil.example").await.expect("preflight");
    assert_eq!(header(&denied, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn static_dir_with_spa_fallback() {
    let dir = std::env::temp_dir().join(format!("websse-server-static-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("index.html"), "<!doctype html><p>app</p>").expect("index");
    std::fs::write(dir.join("app.js"), "console.log(1)").expect("js");
    let server = spawn_with(Config {
        static_dir: Some(dir.clone()),
        ..Config::default()
    })
    .await;
    let http = client();
    for (path, body) in [
        ("/", "<!doctype html><p>app</p>"),
        ("/app.js", "console.log(1)"),
        ("/inspector", "<!doctype html><p>app</p>"),
    ] {
        let response = http.get(server.url(path)).send().await.expect("request");
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.text().await.expect("text"), body);
    }
    // The API still wins, and unknown API paths are JSON 404s, not the app.
    let response = http
        .get(server.url("/api/nope"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 404);
    json_error(response).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn binary_prints_its_address_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_websse-server"))
        .args(["--addr", "127.0.0.1:0", "--test-endpoints"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn websse-server");
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    });
    let line = tokio::time::timeout(Duration::from_secs(10), line)
        .await
        .expect("address line in time")
        .expect("join")
        .expect("read");
    let url = line
        .strip_prefix("websse-server listening on ")
        .expect("the announced line")
        .trim_end()
        .to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"),
        "{url}"
    );
    let response = client()
        .get(format!("{url}/api/examples"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);

    // An open endless stream does not keep the process alive after SIGTERM.
    let ticker = client()
        .get(format!("{url}/api/examples/ticker?interval_ms=50"))
        .send()
        .await
        .expect("ticker");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let _ = read_body_until(ticker, |_| false).await;
    let pid = child.id().to_string();
    let exit = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::task::spawn_blocking(move || child.wait()),
    )
    .await;
    if exit.is_err() {
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
    }
    let exit = exit.map(|joined| joined.expect("join").expect("wait"));
    assert!(exit.as_ref().is_ok_and(|s| s.success()), "exit: {exit:?}");
}

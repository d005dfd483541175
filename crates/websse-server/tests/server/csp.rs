//! The Content-Security-Policy of the app's pages: present on every static response, strict, and
//! naming exactly the inline scripts of the page served.

use std::path::PathBuf;

use websse_server::Config;

use crate::support::{client, header, spawn_with};

/// A page shaped like Trunk's `dist/index.html`: an external stylesheet and script, and one inline
/// module script that starts the app. It carries a nonce, as Trunk 0.20.2 baked one into the file:
/// a nonce that is the same in every response must never be what allows it.
const INDEX: &str = "<!doctype html><html><head>\
    <link rel=\"stylesheet\" href=\"/app.css\">\
    <link rel=\"modulepreload\" href=\"/app.js\">\
    <script type=\"module\" nonce=\"c3RhdGlj\">alert('Hello, world.');</script>\
    </head><body></body></html>";

/// `printf '%s' "alert('Hello, world.');" | openssl dgst -sha256 -binary | base64`, computed
/// outside the server (and the example hash of the CSP specification).
const INLINE_HASH: &str = "'sha256-qznLcsROx4GACP2dm0UCKCzCG+HiZ1guq6ZZDob/Tng='";

struct StaticDir(PathBuf);

impl StaticDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("websse-csp-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("index.html"), INDEX).expect("index");
        std::fs::write(dir.join("app.js"), "export default 1;").expect("js");
        Self(dir)
    }
}

impl Drop for StaticDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The directives of a policy as (name, sources).
fn directives(policy: &str) -> Vec<(String, Vec<String>)> {
    policy
        .split(';')
        .filter_map(|d| {
            let mut words = d.split_whitespace().map(str::to_owned);
            Some((words.next()?, words.collect()))
        })
        .collect()
}

fn sources<'a>(policy: &'a [(String, Vec<String>)], name: &str) -> &'a [String] {
    policy
        .iter()
        .find(|(n, _)| n == name)
        .map_or(&[], |(_, s)| s.as_slice())
}

#[tokio::test]
async fn app_pages_carry_a_strict_policy_with_the_inline_script_hash() {
    let dir = StaticDir::new("strict");
    let server = spawn_with(Config {
        static_dir: Some(dir.0.clone()),
        ..Config::default()
    })
    .await;
    let http = client();
    // The page, a route of the single-page app (the same index.html) and a plain file.
    for path in ["/", "/inspector", "/app.js"] {
        let response = http.get(server.url(path)).send().await.expect("request");
        assert_eq!(response.status(), 200, "{path}");
        let policy = header(&response, "content-security-policy")
            .unwrap_or_else(|| panic!("{path}: no Content-Security-Policy"))
            .to_owned();
        let policy = directives(&policy);
        assert_eq!(sources(&policy, "default-src"), ["'self'"], "{path}");
        let script_src = sources(&policy, "script-src");
        let expected: &[&str] = if path == "/app.js" {
            &["'self'", "'wasm-unsafe-eval'"]
        } else {
            &["'self'", "'wasm-unsafe-eval'", INLINE_HASH]
        };
        assert_eq!(script_src, expected, "{path}: script-src");
        assert_eq!(sources(&policy, "style-src"), ["'self'"], "{path}");
        assert_eq!(sources(&policy, "connect-src"), ["'self'"], "{path}");
        assert_eq!(sources(&policy, "object-src"), ["'none'"], "{path}");
        assert_eq!(sources(&policy, "base-uri"), ["'none'"], "{path}");
        assert_eq!(sources(&policy, "frame-ancestors"), ["'none'"], "{path}");
        for (name, list) in &policy {
            for bad in [
                "'unsafe-eval'",
                "'unsafe-inline'",
                "'unsafe-hashes'",
                "*",
                "data:",
            ] {
                assert!(
                    !list.iter().any(|s| s == bad),
                    "{path}: {name} allows {bad}"
                );
            }
            assert!(
                !list.iter().any(|s| s.starts_with("'nonce-")),
                "{path}: {name} allows a nonce (one in a static file is guessable)"
            );
        }
        // The page itself is unchanged by the hashing.
        if path != "/app.js" {
            assert_eq!(response.text().await.expect("body"), INDEX, "{path}");
        }
    }
}

#[tokio::test]
async fn a_missing_file_is_404_and_an_app_route_is_the_page() {
    let dir = StaticDir::new("missing");
    let server = spawn_with(Config {
        static_dir: Some(dir.0.clone()),
        ..Config::default()
    })
    .await;
    let http = client();
    for path in ["/typo.js", "/pkg/app_bg.wasm", "/a/b/style.css"] {
        let response = http.get(server.url(path)).send().await.expect("request");
        assert_eq!(response.status(), 404, "{path}");
        let body = response.text().await.expect("body");
        assert!(body.contains(path), "{path}: {body}");
        assert!(!body.contains("<html"), "{path}: the page instead of a 404");
    }
    for path in ["/", "/inspector", "/chat/history"] {
        let response = http.get(server.url(path)).send().await.expect("request");
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.text().await.expect("body"), INDEX, "{path}");
    }
}

#[tokio::test]
async fn api_responses_are_not_pages() {
    let dir = StaticDir::new("api");
    let server = spawn_with(Config {
        static_dir: Some(dir.0.clone()),
        ..Config::default()
    })
    .await;
    let response = client()
        .get(server.url("/api/examples"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-security-policy"), None);
}

#[tokio::test]
async fn extra_connect_sources_are_added_and_bad_ones_dropped() {
    let dir = StaticDir::new("connect");
    let server = spawn_with(Config {
        static_dir: Some(dir.0.clone()),
        csp_connect_src: vec![
            "https://stream.example".into(),
            "x; script-src *".into(),
            "http://127.0.0.1:9000".into(),
        ],
        ..Config::default()
    })
    .await;
    let response = client().get(server.url("/")).send().await.expect("request");
    let policy = directives(header(&response, "content-security-policy").expect("policy"));
    assert_eq!(
        sources(&policy, "connect-src"),
        ["'self'", "https://stream.example", "http://127.0.0.1:9000"]
    );
    assert_eq!(
        policy.iter().filter(|(n, _)| n == "script-src").count(),
        1,
        "an injected directive"
    );
}

#[tokio::test]
async fn head_gets_the_policy_of_get() {
    let dir = StaticDir::new("head");
    let server = spawn_with(Config {
        static_dir: Some(dir.0.clone()),
        ..Config::default()
    })
    .await;
    let http = client();
    let get = http.get(server.url("/")).send().await.expect("GET");
    let head = http.head(server.url("/")).send().await.expect("HEAD");
    assert_eq!(head.status(), 200);
    let policy = header(&get, "content-security-policy").expect("GET policy");
    assert!(policy.contains(INLINE_HASH), "{policy}");
    assert_eq!(header(&head, "content-security-policy"), Some(policy));
    assert_eq!(
        header(&head, "content-length"),
        Some(INDEX.len().to_string().as_str())
    );
}

/// A revalidated page (304) carries no policy, so the browser keeps the cached response's, whose
/// hashes match the cached body; a policy from the empty 304 body would drop them.
#[tokio::test]
async fn not_modified_keeps_the_cached_policy() {
    let dir = StaticDir::new("304");
    let server = spawn_with(Config {
        static_dir: Some(dir.0.clone()),
        ..Config::default()
    })
    .await;
    let http = client();
    let first = http.get(server.url("/")).send().await.expect("request");
    let modified = header(&first, "last-modified")
        .expect("ServeDir sends Last-Modified")
        .to_owned();
    let again = http
        .get(server.url("/"))
        .header("if-modified-since", modified)
        .send()
        .await
        .expect("request");
    assert_eq!(again.status(), 304);
    assert_eq!(header(&again, "content-security-policy"), None);
}

#[test]
fn help_says_what_a_static_dir_gets() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_websse-server"))
        .arg("--help")
        .output()
        .expect("run websse-server --help");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for words in ["Content-Security-Policy", "404", "style=", "SHA-256 hash"] {
        assert!(
            help.contains(words),
            "--help does not say {words:?}:\n{help}"
        );
    }
}

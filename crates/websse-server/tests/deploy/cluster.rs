//! Server instances, nginx and an SSE reader that keeps arrival times.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use serde_json::Value;

use crate::support;

/// One `websse-server` process; its log goes to a file; killed (SIGKILL) on drop.
pub struct Instance {
    child: Child,
    pub url: String,
    pub addr: String,
    log: PathBuf,
}

impl Instance {
    pub fn start(redis: &str, prefix: &str, extra: &[&str], dir: &Path, name: &str) -> Instance {
        let log = dir.join(format!("{name}.log"));
        let stderr = std::fs::File::create(&log).expect("log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_websse-server"))
            .args(["--addr", "127.0.0.1:0", "--test-endpoints"])
            .args(["--redis", redis, "--redis-prefix", prefix])
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .stdin(Stdio::null())
            .spawn()
            .expect("start websse-server");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("listening line");
        let url = line
            .trim()
            .strip_prefix("websse-server listening on ")
            .expect("listening line")
            .to_owned();
        let addr = url.trim_start_matches("http://").to_owned();
        Instance {
            child,
            url,
            addr,
            log,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether this instance logged `message` for stream `sid` with `field` (e.g. `from=6`).
    pub fn logged(&self, message: &str, sid: &str, field: &str) -> bool {
        self.log()
            .lines()
            .any(|l| l.contains(message) && l.contains(&format!("sid={sid}")) && l.contains(field))
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "websse-{name}-{}-{}",
            std::process::id(),
            support::free_port()
        ));
        std::fs::create_dir_all(dir.join("tmp")).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An nginx in front of `upstreams` (round robin), single process, on a free loopback port.
pub struct Nginx {
    child: Child,
    pub port: u16,
}

pub struct NginxConfig<'a> {
    pub upstreams: Vec<&'a str>,
    /// Directives of the `server` block (gzip, timeouts).
    pub server: &'a str,
    /// `Some((cert, key))`: listen with TLS and HTTP/2.
    pub tls: Option<(&'a Path, &'a Path)>,
}

impl Nginx {
    pub fn start(dir: &Path, config: &NginxConfig<'_>) -> Nginx {
        let bin = support::find_program("nginx").expect("nginx");
        let port = support::free_port();
        let d = dir.display();
        let upstreams: String = config
            .upstreams
            .iter()
            .map(|u| format!("server {u};\n"))
            .collect();
        let listen = match config.tls {
            Some((cert, key)) => format!(
                "listen 127.0.0.1:{port} ssl http2;\nssl_certificate {};\nssl_certificate_key {};",
                cert.display(),
                key.display()
            ),
            None => format!("listen 127.0.0.1:{port};"),
        };
        let conf = format!(
            "master_process off;\ndaemon off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log warn;\nevents {{ worker_connections 256; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/tmp/body;\n\
             proxy_temp_path {d}/tmp/proxy;\n  fastcgi_temp_path {d}/tmp/fcgi;\n\
             uwsgi_temp_path {d}/tmp/uwsgi;\n  scgi_temp_path {d}/tmp/scgi;\n\
             upstream app {{\n{upstreams}}}\n  server {{\n{listen}\n{}\n\
             location / {{ proxy_pass http://app; proxy_http_version 1.1; }}\n  }}\n}}\n",
            config.server
        );
        let path = dir.join("nginx.conf");
        std::fs::write(&path, conf).expect("nginx.conf");
        let child = Command::new(bin)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nginx");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Nginx { child, port }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Redis, nginx and openssl, or the reason they are missing (a failure when required).
pub async fn services() -> Option<support::Redis> {
    for program in ["nginx", "openssl"] {
        if support::find_program(program).is_none() {
            let reason = format!("{program} is not installed (cargo xtask test installs it)");
            assert!(!support::services_required(), "{reason}");
            eprintln!("skipped: {reason}");
            return None;
        }
    }
    support::redis().await
}

/// An SSE body being read: events with their arrival times, raw chunk times.
pub struct Reading {
    body: Pin<Box<dyn Stream<Item = reqwest::Result<axum::body::Bytes>> + Send>>,
    parser: websse_core::Parser,
    pub events: Vec<(Instant, websse_core::Event)>,
    pub chunks: Vec<(Instant, usize)>,
    pub broken: bool,
    pub ended: bool,
}

impl Reading {
    pub fn new(response: reqwest::Response) -> Reading {
        Reading {
            body: Box::pin(response.bytes_stream()),
            parser: websse_core::Parser::new(),
            events: Vec::new(),
            chunks: Vec::new(),
            broken: false,
            ended: false,
        }
    }

    /// Read until `until` holds for the events, or the body ends, or `limit` passes.
    pub async fn read_until(
        &mut self,
        limit: Duration,
        mut until: impl FnMut(&[(Instant, websse_core::Event)]) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + limit;
        while !self.ended && !until(&self.events) {
            let Ok(next) = tokio::time::timeout_at(deadline, self.body.next()).await else {
                panic!("the stream stalled");
            };
            match next {
                None => self.ended = true,
                Some(Err(_)) => {
                    self.broken = true;
                    self.ended = true;
                }
                Some(Ok(chunk)) => {
                    let now = Instant::now();
                    self.chunks.push((now, chunk.len()));
                    for event in self.parser.feed(&chunk) {
                        self.events.push((now, event.expect("event within limits")));
                    }
                }
            }
        }
    }

    /// Only the raw chunks (for a compressed body that is not parsed).
    pub async fn read_raw(&mut self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let Ok(next) = tokio::time::timeout_at(deadline, self.body.next()).await else {
                panic!("the stream stalled");
            };
            match next {
                Some(Ok(chunk)) => self.chunks.push((Instant::now(), chunk.len())),
                Some(Err(_)) => {
                    self.broken = true;
                    return;
                }
                None => return,
            }
        }
    }
}

pub fn seq(event: &websse_core::Event) -> u64 {
    let (_, seq) = event.last_event_id().rsplit_once(':').expect("sid:seq id");
    seq.parse().expect("numeric seq")
}

pub fn data(event: &websse_core::Event) -> Value {
    serde_json::from_str(event.data()).expect("JSON data")
}

pub fn deltas<'a>(events: impl IntoIterator<Item = &'a websse_core::Event>) -> String {
    events
        .into_iter()
        .filter(|e| e.event_type() == "delta")
        .map(|e| data(e)["text"].as_str().expect("text").to_owned())
        .collect()
}

pub fn end_reason(event: &websse_core::Event) -> Option<String> {
    (event.event_type() == "done").then(|| data(event)["reason"].as_str().unwrap_or("").to_owned())
}

/// The whole answer to `prompt`, read in one go from `base`.
pub async fn reference(http: &reqwest::Client, base: &str, prompt: &str) -> String {
    let response = http
        .get(format!("{base}/api/chat?prompt={prompt}&speed=1000000"))
        .send()
        .await
        .expect("reference");
    let mut reading = Reading::new(response);
    reading.read_until(Duration::from_secs(20), |_| false).await;
    deltas(reading.events.iter().map(|(_, e)| e))
}

/// Resume `sid` through `base` until the answer ends, joining every piece; panics on a repeated
/// or missing id.
pub async fn resume_to_end(
    http: &reqwest::Client,
    base: &str,
    sid: &str,
    mut events: Vec<websse_core::Event>,
    attempts: usize,
) -> Vec<websse_core::Event> {
    for _ in 0..attempts {
        if events.last().and_then(end_reason).is_some() {
            break;
        }
        let after = events.last().map(seq).expect("an event to resume after");
        let response = http
            .get(format!("{base}/api/chat/{sid}"))
            .header("Last-Event-ID", format!("{sid}:{after}"))
            .send()
            .await
            .expect("resume");
        assert_eq!(response.status(), 200, "resume after {after}");
        let mut reading = Reading::new(response);
        reading.read_until(Duration::from_secs(40), |_| false).await;
        events.extend(reading.events.into_iter().map(|(_, e)| e));
    }
    let seqs: Vec<u64> = events.iter().map(seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "ids repeated or missing: {seqs:?}"
    );
    assert!(
        events.last().and_then(end_reason).is_some(),
        "no end after {attempts} resumes"
    );
    events
}

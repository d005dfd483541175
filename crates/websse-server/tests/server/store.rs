//! The answer log's contract as data: every case of `store_cases.json` runs, through real HTTP,
//! against a server on the in-memory log and against one on real Redis. One list of cases, one
//! runner, two back ends: a behaviour is specified once and each back end must show it.

use std::pin::Pin;
use std::time::Duration;

use futures::{Stream, StreamExt};
use serde_json::Value;
use websse_server::Config;

use crate::support::{self, TIMEOUT, client};

const CASES: &str = include_str!("store_cases.json");

#[tokio::test]
async fn store_cases_in_memory() {
    run_all(None).await;
}

#[tokio::test]
async fn store_cases_in_redis() {
    let Some(redis) = support::redis().await else {
        return;
    };
    run_all(Some(&redis.url)).await;
}

async fn run_all(redis: Option<&str>) {
    let cases: Vec<Value> = serde_json::from_str(CASES).expect("store_cases.json");
    assert!(cases.len() >= 10, "the case list lost cases");
    for (i, case) in cases.iter().enumerate() {
        let name = case["name"].as_str().expect("name");
        eprintln!("case {i}: {name}");
        let mut config = Config {
            test_endpoints: true,
            redis: redis.map(str::to_owned),
            redis_prefix: format!("websse-test-{}-{i}", std::process::id()),
            ..Config::default()
        };
        if let Some(ms) = case["config"]["answer_ttl_ms"].as_u64() {
            config.answer_ttl = Duration::from_millis(ms);
        }
        if let Some(n) = case["config"]["answer_max_events"].as_u64() {
            config.answer_max_events = usize::try_from(n).expect("max events");
        }
        let server = support::spawn_with(config).await;
        let mut run = Run {
            server,
            http: client(),
            sid: String::new(),
            query: String::new(),
            read: Vec::new(),
            kept: None,
            previous: None,
        };
        for step in case["steps"].as_array().expect("steps") {
            run.step(step, name).await;
        }
    }
}

/// An event stream being read: its events so far.
struct Reading {
    body: Pin<Box<dyn Stream<Item = reqwest::Result<axum::body::Bytes>> + Send>>,
    parser: websse_core::Parser,
    events: Vec<websse_core::Event>,
    broken: bool,
    ended: bool,
}

impl Reading {
    fn new(response: reqwest::Response) -> Self {
        Self {
            body: Box::pin(response.bytes_stream()),
            parser: websse_core::Parser::new(),
            events: Vec::new(),
            broken: false,
            ended: false,
        }
    }

    /// Read until `n` events (all of them with `None`) or the end of the body.
    async fn read(&mut self, n: Option<usize>) {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        while !self.ended && n.is_none_or(|n| self.events.len() < n) {
            let next = tokio::time::timeout_at(deadline, self.body.next())
                .await
                .expect("the stream stalled");
            match next {
                None => self.ended = true,
                Some(Err(_)) => {
                    self.broken = true;
                    self.ended = true;
                }
                Some(Ok(chunk)) => {
                    for event in self.parser.feed(&chunk) {
                        self.events.push(event.expect("event within limits"));
                    }
                }
            }
        }
    }
}

struct Run {
    server: support::TestServer,
    http: reqwest::Client,
    sid: String,
    query: String,
    /// What the `start` step read.
    read: Vec<websse_core::Event>,
    kept: Option<Reading>,
    previous: Option<Vec<websse_core::Event>>,
}

fn seq_of(event: &websse_core::Event) -> u64 {
    let (_, seq) = event.last_event_id().rsplit_once(':').expect("sid:seq id");
    seq.parse().expect("numeric seq")
}

fn deltas(events: &[websse_core::Event]) -> String {
    events
        .iter()
        .filter(|e| e.event_type() == "delta")
        .map(|e| {
            let v: Value = serde_json::from_str(e.data()).expect("json");
            v["text"].as_str().expect("text").to_owned()
        })
        .collect()
}

fn end_reason(events: &[websse_core::Event]) -> String {
    let last = events.last().expect("events");
    assert_eq!(
        last.event_type(),
        "done",
        "the stream did not end with done"
    );
    let v: Value = serde_json::from_str(last.data()).expect("json");
    v["reason"].as_str().expect("reason").to_owned()
}

impl Run {
    async fn step(&mut self, step: &Value, case: &str) {
        let op = step["op"].as_str().expect("op");
        let ctx = format!("{case}: {op}");
        match op {
            "start" => {
                self.query = step["query"].as_str().expect("query").to_owned();
                let response = self
                    .http
                    .get(self.server.url(&format!("/api/chat?{}", self.query)))
                    .send()
                    .await
                    .expect("start");
                assert_eq!(response.status(), 200, "{ctx}");
                self.sid = support::header(&response, "x-stream-id")
                    .expect("x-stream-id")
                    .to_owned();
                let mut reading = Reading::new(response);
                let n = step["read"].as_u64().map(|n| n as usize);
                reading.read(n).await;
                assert_eq!(
                    reading.broken,
                    step["broken"].as_bool().unwrap_or(false),
                    "{ctx}: broken"
                );
                self.read = reading.events.clone();
                if step["keep"].as_bool().unwrap_or(false) {
                    self.kept = Some(reading);
                }
            }
            "read_kept" => {
                let mut reading = self.kept.take().expect("a kept stream");
                reading.read(None).await;
                let seqs: Vec<u64> = reading.events.iter().map(seq_of).collect();
                assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{ctx}: {seqs:?}");
                assert_eq!(end_reason(&reading.events), step["end"], "{ctx}");
            }
            "resume" => {
                let last = self.read.last().map_or(0, seq_of);
                let after = match &step["after"] {
                    Value::Number(n) => n.as_u64().expect("after"),
                    Value::String(s) if s == "last" => last,
                    Value::String(s) => {
                        let back: u64 = s
                            .strip_prefix("last-")
                            .and_then(|n| n.parse().ok())
                            .expect("last-N");
                        last - back
                    }
                    other => panic!("{ctx}: after {other}"),
                };
                let response = self
                    .http
                    .get(self.server.url(&format!("/api/chat/{}", self.sid)))
                    .header("Last-Event-ID", format!("{}:{after}", self.sid))
                    .send()
                    .await
                    .expect("resume");
                assert_eq!(response.status().as_u16(), step["status"], "{ctx}");
                if response.status() != 200 {
                    return;
                }
                let mut reading = Reading::new(response);
                reading.read(None).await;
                let events = reading.events;
                assert!(!reading.broken, "{ctx}: broken");
                let seqs: Vec<u64> = events.iter().map(seq_of).collect();
                assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{ctx}: {seqs:?}");
                if let Some(first) = step["first"].as_u64() {
                    assert_eq!(seqs.first().copied(), Some(first), "{ctx}");
                }
                if let Some(end) = step["end"].as_str() {
                    assert_eq!(end_reason(&events), end, "{ctx}");
                }
                let before: Vec<_> = self
                    .read
                    .iter()
                    .filter(|e| seq_of(e) <= after)
                    .cloned()
                    .collect();
                let joined = deltas(&before) + &deltas(&events);
                if step["joins"].as_bool().unwrap_or(false) {
                    assert_eq!(joined, self.reference().await, "{ctx}: joined text");
                }
                if step["joins_prefix"].as_bool().unwrap_or(false) {
                    let reference = self.reference().await;
                    assert!(
                        reference.starts_with(&joined) && joined.len() < reference.len(),
                        "{ctx}: not a proper prefix: {joined:?}"
                    );
                }
                if step["same_as_previous"].as_bool().unwrap_or(false) {
                    let previous = self.previous.as_ref().expect("a previous resume");
                    assert_eq!(deltas(previous), deltas(&events), "{ctx}: grew after stop");
                }
                self.previous = Some(events);
            }
            "resume_unknown" => {
                let mut request = self.http.get(self.server.url("/api/chat/0123456789abcdef"));
                if step["with_id"].as_bool().unwrap_or(false) {
                    request = request.header("Last-Event-ID", "0123456789abcdef:3");
                }
                let response = request.send().await.expect("resume");
                assert_eq!(response.status().as_u16(), step["status"], "{ctx}");
            }
            "stop" | "stop_unknown" => {
                let sid = if op == "stop" {
                    self.sid.clone()
                } else {
                    "0123456789abcdef".to_owned()
                };
                let response = self
                    .http
                    .post(self.server.url(&format!("/api/chat/{sid}/stop")))
                    .send()
                    .await
                    .expect("stop");
                assert_eq!(response.status().as_u16(), step["status"], "{ctx}");
            }
            // Only for time that must pass with no reader watching (a TTL running out, a producer
            // trimming its answer as it finishes): no client can wait for an event of either.
            "sleep" => {
                tokio::time::sleep(Duration::from_millis(step["ms"].as_u64().expect("ms"))).await;
            }
            other => panic!("{case}: unknown op {other:?}"),
        }
    }

    /// The whole answer to the same prompt, read in one go.
    async fn reference(&self) -> String {
        let prompt = self
            .query
            .split('&')
            .find(|kv| kv.starts_with("prompt="))
            .expect("a prompt in the query");
        let response = self
            .http
            .get(
                self.server
                    .url(&format!("/api/chat?{prompt}&speed=1000000")),
            )
            .send()
            .await
            .expect("reference");
        let mut reading = Reading::new(response);
        reading.read(None).await;
        assert_eq!(end_reason(&reading.events), "finished");
        deltas(&reading.events)
    }
}

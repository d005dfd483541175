//! The scenarios behind the test endpoints: each key's script, how often it was served, and the
//! log of its connections.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use axum::http::{HeaderMap, Method};
use serde::Serialize;

use crate::{SharedState, util};

/// Most scenario keys kept; the least recently used one is forgotten first.
const MAX_KEYS: usize = 1024;
/// Most connections logged per key; older entries are dropped.
const MAX_LOG: usize = 256;
/// Longest request body kept in the log (bytes).
const MAX_LOGGED_BODY: usize = 16 * 1024;

/// What became of one logged connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Outcome {
    Open,
    Completed,
    ClientDisconnected,
    Aborted,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct LogEntry {
    #[serde(skip)]
    id: u64,
    method: String,
    headers: BTreeMap<String, String>,
    body: String,
    last_event_id: Option<String>,
    /// Which scripted response was served (0-based), if any.
    pub(super) response: Option<usize>,
    pub(super) outcome: Outcome,
    /// When the request arrived, in milliseconds since the Unix epoch.
    pub(super) started_ms: u64,
    /// When the outcome was settled (the body ended or the client went away), same clock.
    pub(super) ended_ms: Option<u64>,
    /// Ticker connections: the id of the newest event handed to the connection so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) last_sent: Option<u64>,
}

#[derive(Debug, Default)]
pub(super) struct Scenario {
    pub(super) responses: Vec<Arc<Scripted>>,
    pub(super) served: usize,
    pub(super) log: VecDeque<LogEntry>,
    last_used: u64,
}

/// All scenarios, bounded in keys and log length.
#[derive(Debug, Default)]
pub(crate) struct TestStore {
    inner: Mutex<StoreInner>,
}

#[derive(Debug, Default)]
pub(super) struct StoreInner {
    pub(super) scenarios: HashMap<String, Scenario>,
    clock: u64,
}

impl StoreInner {
    /// The scenario for `key`, created if needed (forgetting the least recently used one when
    /// there are too many).
    pub(super) fn scenario(&mut self, key: &str) -> &mut Scenario {
        self.clock += 1;
        let now = self.clock;
        if !self.scenarios.contains_key(key) && self.scenarios.len() >= MAX_KEYS {
            let oldest = self
                .scenarios
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.scenarios.remove(&oldest);
            }
        }
        let scenario = self.scenarios.entry(key.to_owned()).or_default();
        scenario.last_used = now;
        scenario
    }
}

impl TestStore {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, StoreInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the log entry `id` of `key`, if it is still kept.
    pub(super) fn update(&self, key: &str, id: u64, f: impl FnOnce(&mut LogEntry)) {
        let mut inner = self.lock();
        if let Some(entry) = inner
            .scenarios
            .get_mut(key)
            .and_then(|s| s.log.iter_mut().rev().find(|e| e.id == id))
        {
            f(entry);
        }
    }

    pub(super) fn set_outcome(&self, key: &str, id: u64, outcome: Outcome) {
        self.update(key, id, |entry| {
            entry.outcome = outcome;
            if outcome != Outcome::Open {
                entry.ended_ms = Some(util::epoch_millis());
            }
        });
    }

    /// Logs a new connection of `key` as open (the newest entry of its log); returns the entry's
    /// id.
    pub(super) fn log_connection(
        inner: &mut StoreInner,
        key: &str,
        method: &Method,
        headers: &HeaderMap,
        body: &[u8],
    ) -> u64 {
        inner.clock += 1;
        let id = inner.clock;
        let scenario = inner.scenario(key);
        if scenario.log.len() >= MAX_LOG {
            scenario.log.pop_front();
        }
        scenario.log.push_back(LogEntry {
            id,
            method: method.as_str().to_owned(),
            headers: header_map_json(headers),
            body: body_text(body, MAX_LOGGED_BODY),
            last_event_id: headers
                .get("last-event-id")
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            response: None,
            outcome: Outcome::Open,
            started_ms: util::epoch_millis(),
            ended_ms: None,
            last_sent: None,
        });
        id
    }
}

pub(super) fn header_map_json(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        out.entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    out
}

fn body_text(body: &[u8], limit: usize) -> String {
    let cut = &body[..body.len().min(limit)];
    String::from_utf8_lossy(cut).into_owned()
}

/// Marks the log entry when the body is dropped before it finished: the client went away.
pub(super) struct LogGuard {
    pub(super) state: SharedState,
    pub(super) key: String,
    pub(super) id: u64,
    pub(super) done: bool,
}

impl LogGuard {
    pub(super) fn finish(&mut self, outcome: Outcome) {
        self.done = true;
        self.state.tests.set_outcome(&self.key, self.id, outcome);
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        if !self.done {
            self.state
                .tests
                .set_outcome(&self.key, self.id, Outcome::ClientDisconnected);
        }
    }
}

/// A validated response, ready to serve any number of times (built and served by `script`,
/// kept here with the scenario that owns it).
#[derive(Debug)]
pub(super) struct Scripted {
    pub(super) status: axum::http::StatusCode,
    pub(super) headers: axum::http::HeaderMap,
    pub(super) chunks: Vec<(std::time::Duration, axum::body::Bytes)>,
    pub(super) end: End,
}

/// How a scripted body ends.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(super) enum End {
    /// Finish the body cleanly.
    #[default]
    Close,
    /// Keep it open (bounded by `Config::hold_max`) until the client goes away.
    Hold,
    /// Break the connection without finishing the body.
    Abort,
}

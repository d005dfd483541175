//! App state: reducers with explicit state enums, as in Yew's `function_todomvc`.
//!
//! The chat's growing answer text is *not* here: it streams straight into the turn's Markdown
//! view through the typewriter hook (see `hooks::use_typewriter`), so a token never causes a
//! re-render.

use std::collections::VecDeque;
use std::rc::Rc;

use yew::prelude::*;

use crate::markdown::AnswerView;
use crate::spec::{CredentialsKind, FramingKind, StreamSpec, TransportKind};

/// Named event types of the chat stream (design.md section 3).
pub const CHAT_EVENTS: [&str; 3] = ["start", "delta", "done"];

/// Where one answer is.
#[derive(Clone, Debug, PartialEq)]
pub enum Phase {
    /// Request sent, no response yet.
    Connecting,
    /// Response open, text arriving.
    Streaming,
    /// The connection dropped; the client tries again (and resumes with Last-Event-ID).
    Reconnecting {
        /// 1 for the first retry.
        attempt: u32,
        /// Wait before this attempt, in milliseconds.
        delay_ms: u64,
        /// Why the connection was lost (websse's `Disconnect`, as text).
        cause: String,
    },
    /// The server sent `done`. `cut` when its reason was "stopped" (max_tokens, shutdown).
    Done {
        /// The server ended the answer early.
        cut: bool,
    },
    /// The user stopped it; the partial answer stays.
    Stopped,
    /// The server that produced it went away mid-answer (`done` with reason `interrupted`); the
    /// text so far stays.
    Interrupted,
    /// The stream failed with this message.
    Failed(String),
}

impl Phase {
    /// Whether a stream is (or should be) open for this answer.
    pub fn is_active(&self) -> bool {
        matches!(
            self,
            Self::Connecting | Self::Streaming | Self::Reconnecting { .. }
        )
    }

    /// Short machine-readable name (the status element's `data-state`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Streaming => "streaming",
            Self::Reconnecting { .. } => "reconnecting",
            Self::Done { .. } => "done",
            Self::Stopped => "stopped",
            Self::Interrupted => "interrupted",
            Self::Failed(_) => "failed",
        }
    }
}

/// One question and its answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Turn {
    /// Stable key.
    pub id: u64,
    /// What the user asked.
    pub prompt: String,
    /// The answer's state.
    pub phase: Phase,
    /// The element the answer is rendered into (outside the virtual DOM).
    pub text: NodeRef,
    /// The answer's Markdown view; the turn owns it, so history stays rendered.
    pub view: AnswerView,
    /// The request for this answer.
    pub spec: StreamSpec,
    /// The server's id of the answer (from its events), to stop or resume it.
    pub sid: Option<String>,
}

/// The chat page.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChatState {
    /// The conversation, oldest first.
    pub turns: Vec<Turn>,
    /// Transport for the next question.
    pub transport: TransportKind,
    /// Extra chat request fields from the page's query string (speed, bench_tokens, ...): name
    /// and a JSON number, as JSON text.
    pub knobs: Vec<(String, String)>,
    /// The chat endpoint instead of `/api/chat` (hidden `api` query parameter, `/test/...` only):
    /// end-to-end tests stream any text through the chat this way.
    pub api: Option<String>,
    next_id: u64,
    generation: u64,
}

/// What can happen on the chat page.
#[derive(Debug)]
pub enum ChatAction {
    /// Ask a question (stops a running answer first).
    Send(String),
    /// Choose the transport for the next question.
    SetTransport(TransportKind),
    /// The client is connecting.
    Connecting,
    /// The response is open.
    Open,
    /// The client will reconnect.
    Reconnecting {
        /// 1 for the first retry.
        attempt: u32,
        /// Wait before it, in milliseconds.
        delay_ms: u64,
        /// Why the connection was lost (websse's `Disconnect`, as text).
        cause: String,
    },
    /// `done` arrived; `cut` when its reason was not "finished".
    Done {
        /// The server ended the answer early.
        cut: bool,
    },
    /// The stream failed.
    Failed(String),
    /// The answer's producer went away (`done` with reason `interrupted`).
    Interrupted,
    /// The server's id of the streaming answer became known.
    Started(String),
    /// The stream ended without `done`.
    Ended,
    /// The user stopped the answer (stop button or Esc).
    Stop,
    /// Ask the last question again after a failure.
    Retry,
}

/// The chat request knobs the page passes on from its query string (hidden; tests and the UI bench
/// use them). `tps` is short for `tokens_per_second`.
pub const KNOBS: [(&str, &str); 8] = [
    ("speed", "speed"),
    ("tokens_per_second", "tokens_per_second"),
    ("tps", "tokens_per_second"),
    ("bench_tokens", "bench_tokens"),
    ("drop_after", "drop_after"),
    ("max_tokens", "max_tokens"),
    // `/test/markdown`'s pacing, with `api`
    ("chunk", "chunk"),
    ("delay_ms", "delay_ms"),
];

impl ChatState {
    /// The initial state for a page with these query parameters.
    pub fn from_query(params: &[(String, String)]) -> Self {
        let mut state = Self::default();
        for (key, value) in params {
            if key == "transport" {
                if let Some(transport) = TransportKind::parse(value) {
                    state.transport = transport;
                }
                continue;
            }
            // Same origin, test endpoints only: a link must not point the chat elsewhere.
            if key == "api" {
                state.api = value.starts_with("/test/").then(|| value.clone());
                continue;
            }
            let Some((_, field)) = KNOBS.iter().find(|(name, _)| name == key) else {
                continue;
            };
            // A JSON number, read by the browser's JSON.parse: `str::parse::<f64>` would link
            // core's float parser and its tables, about 10 kB of wasm (issue 13).
            if let Some(number) = crate::json::number(value) {
                state.knobs.retain(|(k, _)| k != field);
                state.knobs.push(((*field).to_owned(), number));
            }
        }
        state
    }

    /// The stream that should be open now, if any.
    pub fn active_spec(&self) -> Option<StreamSpec> {
        self.active().map(|turn| turn.spec.clone())
    }

    /// The turn whose answer is streaming.
    pub fn active(&self) -> Option<&Turn> {
        self.turns.last().filter(|turn| turn.phase.is_active())
    }

    /// The state the status line shows: the newest answer's, or `None` before the first question.
    pub fn phase(&self) -> Option<&Phase> {
        self.turns.last().map(|turn| &turn.phase)
    }

    fn spec_for(&self, prompt: &str, generation: u64) -> StreamSpec {
        let events = CHAT_EVENTS.iter().map(|e| (*e).to_owned()).collect();
        let api = self.api.as_deref().unwrap_or("/api/chat");
        match self.transport {
            TransportKind::EventSource => {
                let mut url = String::from(api);
                url.push_str("?prompt=");
                url.push_str(&String::from(js_sys::encode_uri_component(prompt)));
                // Knob names are fixed ASCII words and the values JSON numbers: nothing to encode.
                for (key, value) in &self.knobs {
                    url.push('&');
                    url.push_str(key);
                    url.push('=');
                    url.push_str(value);
                }
                StreamSpec {
                    generation,
                    url,
                    method: "GET".into(),
                    transport: TransportKind::EventSource,
                    events,
                    ..StreamSpec::default()
                }
            }
            TransportKind::Fetch => {
                // {"messages":[{"role":"user","content":"..."}],"speed":2,...}
                let mut body = String::from(r#"{"messages":[{"role":"user","content":"#);
                body.push_str(&crate::json::quote(prompt));
                body.push_str("}]");
                for (key, value) in &self.knobs {
                    body.push_str(",\"");
                    body.push_str(key);
                    body.push_str("\":");
                    body.push_str(value);
                }
                body.push('}');
                StreamSpec {
                    generation,
                    url: api.into(),
                    method: "POST".into(),
                    transport: TransportKind::Fetch,
                    headers: vec![("Content-Type".into(), "application/json".into())],
                    body: Some(body),
                    events,
                    ..StreamSpec::default()
                }
            }
        }
    }

    fn set_active_phase(&mut self, phase: Phase) {
        if let Some(turn) = self.turns.last_mut().filter(|t| t.phase.is_active()) {
            turn.phase = phase;
        }
    }
}

impl Reducible for ChatState {
    type Action = ChatAction;

    fn reduce(self: Rc<Self>, action: ChatAction) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            ChatAction::Send(prompt) => {
                let prompt = prompt.trim().to_owned();
                if prompt.is_empty() {
                    return self;
                }
                next.set_active_phase(Phase::Stopped);
                next.generation += 1;
                let spec = next.spec_for(&prompt, next.generation);
                next.turns.push(Turn {
                    id: next.next_id,
                    prompt,
                    phase: Phase::Connecting,
                    text: NodeRef::default(),
                    view: AnswerView::default(),
                    spec,
                    sid: None,
                });
                next.next_id += 1;
            }
            ChatAction::SetTransport(transport) => next.transport = transport,
            ChatAction::Connecting => {
                // A reconnect attempt keeps showing "reconnecting" until the response is open.
                if !matches!(next.phase(), Some(Phase::Reconnecting { .. })) {
                    next.set_active_phase(Phase::Connecting);
                }
            }
            ChatAction::Open => next.set_active_phase(Phase::Streaming),
            ChatAction::Reconnecting {
                attempt,
                delay_ms,
                cause,
            } => next.set_active_phase(Phase::Reconnecting {
                attempt,
                delay_ms,
                cause,
            }),
            ChatAction::Done { cut } => next.set_active_phase(Phase::Done { cut }),
            ChatAction::Failed(message) => next.set_active_phase(Phase::Failed(message)),
            ChatAction::Interrupted => next.set_active_phase(Phase::Interrupted),
            ChatAction::Started(sid) => {
                if let Some(turn) = next.turns.last_mut().filter(|t| t.phase.is_active()) {
                    if turn.sid.as_deref() == Some(sid.as_str()) {
                        return self;
                    }
                    turn.sid = Some(sid);
                }
            }
            ChatAction::Ended => next.set_active_phase(Phase::Failed(
                "the connection closed before the answer was complete".into(),
            )),
            ChatAction::Stop => next.set_active_phase(Phase::Stopped),
            ChatAction::Retry => {
                let Some(turn) = next.turns.last() else {
                    return self;
                };
                if !matches!(turn.phase, Phase::Failed(_)) {
                    return self;
                }
                next.generation += 1;
                let spec = next.spec_for(&turn.prompt.clone(), next.generation);
                if let Some(turn) = next.turns.last_mut() {
                    turn.spec = spec;
                    turn.phase = Phase::Connecting;
                }
            }
        }
        if next == *self { self } else { Rc::new(next) }
    }
}

/// The inspector's form, mirrored in the query string.
#[derive(Clone, Debug, PartialEq)]
pub struct InspectorForm {
    /// Stream URL, absolute or relative to the page.
    pub url: String,
    /// Transport.
    pub transport: TransportKind,
    /// HTTP method.
    pub method: String,
    /// One `Name: value` per line.
    pub headers: String,
    /// Request body (empty for none).
    pub body: String,
    /// Framing.
    pub framing: FramingKind,
    /// Comma-separated named event types.
    pub events: String,
    /// Credentials mode, `None` for the client's default.
    pub credentials: Option<CredentialsKind>,
    /// Share the connection with the other tabs of this origin that inspect the same request.
    pub tabs: bool,
    /// Close the connection while the page is hidden (`SseRequest::pause_when_hidden`); link
    /// parameter only.
    pub pause: bool,
}

impl Default for InspectorForm {
    fn default() -> Self {
        Self {
            url: String::new(),
            transport: TransportKind::Fetch,
            method: "GET".into(),
            headers: String::new(),
            body: String::new(),
            framing: FramingKind::Sse,
            events: String::new(),
            credentials: None,
            tabs: false,
            pause: false,
        }
    }
}

impl InspectorForm {
    /// Reads the form from query parameters (names from issue 6).
    pub fn from_query(params: &[(String, String)]) -> Self {
        let mut form = Self::default();
        let mut headers = Vec::new();
        for (key, value) in params {
            match key.as_str() {
                "url" => form.url = value.clone(),
                "transport" => {
                    if let Some(t) = TransportKind::parse(value) {
                        form.transport = t;
                    }
                }
                "method" => form.method = value.clone(),
                "body" => form.body = value.clone(),
                "framing" => {
                    if let Some(f) = FramingKind::parse(value) {
                        form.framing = f;
                    }
                }
                "events" => form.events = value.clone(),
                "header" => headers.push(value.clone()),
                "credentials" => form.credentials = CredentialsKind::parse(value),
                "tabs" => form.tabs = matches!(value.as_str(), "1" | "true" | "on"),
                "pause" => form.pause = matches!(value.as_str(), "1" | "true" | "on"),
                _ => {}
            }
        }
        form.headers = headers.join("\n");
        form
    }

    /// The query parameters for this form (defaults left out).
    pub fn to_query(&self) -> Vec<(String, String)> {
        let mut params = vec![("url".to_owned(), self.url.clone())];
        params.push(("transport".into(), self.transport.as_str().into()));
        if !self.method.trim().is_empty() && self.method.trim() != "GET" {
            params.push(("method".into(), self.method.trim().into()));
        }
        for line in self.header_lines() {
            params.push(("header".into(), line.to_owned()));
        }
        if !self.body.is_empty() {
            params.push(("body".into(), self.body.clone()));
        }
        if self.framing != FramingKind::Sse {
            params.push(("framing".into(), self.framing.as_str().into()));
        }
        let events = self.event_types();
        if !events.is_empty() {
            params.push(("events".into(), events.join(",")));
        }
        if let Some(credentials) = self.credentials {
            params.push(("credentials".into(), credentials.as_str().into()));
        }
        if self.tabs {
            params.push(("tabs".into(), "1".into()));
        }
        if self.pause {
            params.push(("pause".into(), "1".into()));
        }
        params
    }

    fn header_lines(&self) -> impl Iterator<Item = &str> {
        self.headers
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
    }

    /// The named event types, trimmed, without empties.
    pub fn event_types(&self) -> Vec<String> {
        self.events
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The stream to open, with `url` resolved against `base` (the page's address).
    ///
    /// # Errors
    /// A URL that does not parse, or a header line without a colon, as a message for the log.
    pub fn to_spec(&self, base: &str, generation: u64) -> Result<StreamSpec, String> {
        let url = self.url.trim();
        if url.is_empty() {
            return Err("enter a URL".into());
        }
        let url = web_sys::Url::new_with_base(url, base)
            .map_err(|_| format!("not a URL: {url}"))?
            .href();
        let mut headers = Vec::new();
        for line in self.header_lines() {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| format!("a header needs \"Name: value\": {line}"))?;
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
        Ok(StreamSpec {
            generation,
            url,
            method: self.method.trim().to_owned(),
            transport: self.transport,
            headers,
            body: (!self.body.is_empty()).then(|| self.body.clone()),
            framing: self.framing,
            events: self.event_types(),
            credentials: self.credentials,
            across_tabs: self.tabs,
            pause_when_hidden: self.pause,
        })
    }
}

/// The inspector's connection.
#[derive(Clone, Debug, PartialEq)]
pub enum Connection {
    /// Not connected.
    Idle,
    /// Request sent.
    Connecting,
    /// Response open.
    Open,
    /// Waiting to reconnect.
    Reconnecting {
        /// 1 for the first retry.
        attempt: u32,
        /// Wait before it, in milliseconds.
        delay_ms: u64,
        /// Why the connection was lost (websse's `Disconnect`, as text).
        cause: String,
    },
    /// Closed while the page is hidden; reconnects when it is visible again.
    Paused,
    /// Ended cleanly or by the user.
    Closed,
    /// Failed with this message.
    Failed(String),
}

impl Connection {
    /// Whether a stream is (or should be) open.
    pub fn is_active(&self) -> bool {
        matches!(
            self,
            Self::Connecting | Self::Open | Self::Reconnecting { .. } | Self::Paused
        )
    }

    /// The text shown and logged for this state.
    pub fn describe(&self) -> String {
        match self {
            Self::Idle => "idle".into(),
            Self::Connecting => "connecting".into(),
            Self::Open => "open".into(),
            Self::Reconnecting {
                attempt,
                delay_ms,
                cause,
            } => format!(
                "{}: {cause}",
                crate::components::reconnecting(*attempt, *delay_ms)
            ),
            Self::Paused => "paused while the page is hidden".into(),
            Self::Closed => "closed".into(),
            Self::Failed(message) => format!("failed: {message}"),
        }
    }
}

/// The log line for a change of role in a stream shared across tabs.
fn describe_sharing(sharing: websse::Sharing) -> String {
    let tabs = match sharing.tabs {
        1 => "1 tab".to_owned(),
        n => format!("{n} tabs"),
    };
    match sharing.role {
        websse::Role::Leader => format!("this tab leads the shared connection ({tabs})"),
        websse::Role::Follower => format!("this tab follows the shared connection ({tabs})"),
        // `Alone`, and whatever a later websse adds.
        _ => "no sharing across tabs in this browser: this tab has its own connection".into(),
    }
}

/// What one log line shows.
#[derive(Clone, Debug, PartialEq)]
pub enum LogKind {
    /// A message: type, last event id, data.
    Event {
        /// Event type.
        event_type: String,
        /// Last event id.
        id: String,
        /// Data.
        data: String,
    },
    /// A connection state change.
    State(String),
}

/// One log line.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    /// Stable key.
    pub seq: u64,
    /// Wall-clock time, `HH:MM:SS.mmm`.
    pub time: String,
    /// What happened.
    pub kind: LogKind,
}

/// The log keeps this many lines (the oldest go first).
pub const LOG_LIMIT: usize = 2000;

/// The inspector page.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InspectorState {
    /// The form.
    pub form: InspectorForm,
    /// The connection.
    pub connection: ConnectionState,
    /// The stream that should be open.
    pub active: Option<StreamSpec>,
    /// For a stream shared across tabs: this tab's role and how many tabs share it, once known.
    pub sharing: Option<websse::Sharing>,
    /// Events and state changes, oldest first, at most [`LOG_LIMIT`]. The reducer clones the
    /// state per action (one per logged event), so entries are shared, not copied: a clone costs
    /// pointer copies, and dropping the oldest entry is O(1).
    pub log: VecDeque<Rc<LogEntry>>,
    generation: u64,
    next_seq: u64,
}

/// Wrapper so `InspectorState` can derive `Default`.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectionState(pub Connection);

impl Default for ConnectionState {
    fn default() -> Self {
        Self(Connection::Idle)
    }
}

/// A form field that is edited as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// URL.
    Url,
    /// Method.
    Method,
    /// Headers.
    Headers,
    /// Body.
    Body,
    /// Event types.
    Events,
    /// Transport select.
    Transport,
    /// Framing select.
    Framing,
    /// Credentials select (empty for the default).
    Credentials,
    /// Share-across-tabs checkbox (`1` when checked).
    Tabs,
}

/// What can happen on the inspector page.
#[derive(Debug)]
pub enum InspectorAction {
    /// A field changed.
    Edit(Field, String),
    /// Connect with the form (`base` is the page address for relative URLs).
    Connect {
        /// The page's address.
        base: String,
        /// Now, for the log.
        time: String,
    },
    /// Disconnect (drops the stream).
    Disconnect {
        /// Now, for the log.
        time: String,
    },
    /// Empty the log.
    Clear,
    /// The connection state changed.
    State(Connection, String),
    /// A message arrived.
    Event {
        /// Type.
        event_type: String,
        /// Last event id.
        id: String,
        /// Data.
        data: String,
        /// Now.
        time: String,
    },
    /// The stream ended without an error.
    Ended(String),
    /// A non-fatal error (message, time): logged, the connection stays as it is.
    Warning(String, String),
    /// A stream shared across tabs: this tab's role or the number of tabs changed (a change of
    /// role is logged).
    Sharing(websse::Sharing, String),
}

impl InspectorState {
    /// The initial state for these query parameters.
    pub fn from_query(params: &[(String, String)]) -> Self {
        Self {
            form: InspectorForm::from_query(params),
            ..Self::default()
        }
    }

    fn push(&mut self, time: String, kind: LogKind) {
        if self.log.len() == LOG_LIMIT {
            self.log.pop_front();
        }
        self.log.push_back(Rc::new(LogEntry {
            seq: self.next_seq,
            time,
            kind,
        }));
        self.next_seq += 1;
    }

    fn set_connection(&mut self, connection: Connection, time: String) {
        if self.connection.0 != connection {
            self.push(time, LogKind::State(connection.describe()));
            if !connection.is_active() {
                self.active = None;
                self.sharing = None;
            }
            self.connection = ConnectionState(connection);
        }
    }
}

impl Reducible for InspectorState {
    type Action = InspectorAction;

    fn reduce(self: Rc<Self>, action: InspectorAction) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            InspectorAction::Edit(field, value) => {
                let form = &mut next.form;
                match field {
                    Field::Url => form.url = value,
                    Field::Method => form.method = value,
                    Field::Headers => form.headers = value,
                    Field::Body => form.body = value,
                    Field::Events => form.events = value,
                    Field::Transport => {
                        form.transport = TransportKind::parse(&value).unwrap_or_default()
                    }
                    Field::Framing => form.framing = FramingKind::parse(&value).unwrap_or_default(),
                    Field::Credentials => form.credentials = CredentialsKind::parse(&value),
                    Field::Tabs => form.tabs = value == "1",
                }
            }
            InspectorAction::Connect { base, time } => {
                next.generation += 1;
                match next.form.to_spec(&base, next.generation) {
                    Ok(spec) => {
                        next.push(
                            time.clone(),
                            LogKind::State(format!(
                                "{} {} via {}",
                                if spec.method.is_empty() {
                                    "GET"
                                } else {
                                    &spec.method
                                },
                                spec.url,
                                spec.transport.as_str()
                            )),
                        );
                        next.active = Some(spec);
                        next.sharing = None;
                        next.connection = ConnectionState(Connection::Idle);
                        next.set_connection(Connection::Connecting, time);
                    }
                    Err(message) => {
                        next.active = None;
                        next.set_connection(Connection::Failed(message), time);
                    }
                }
            }
            InspectorAction::Disconnect { time } => {
                if next.connection.0.is_active() {
                    next.set_connection(Connection::Closed, time);
                }
                next.active = None;
                next.sharing = None;
            }
            InspectorAction::Clear => next.log.clear(),
            InspectorAction::State(connection, time) => {
                if next.connection.0.is_active() {
                    next.set_connection(connection, time);
                }
            }
            InspectorAction::Event {
                event_type,
                id,
                data,
                time,
            } => {
                if next.connection.0.is_active() {
                    next.push(
                        time,
                        LogKind::Event {
                            event_type,
                            id,
                            data,
                        },
                    );
                }
            }
            InspectorAction::Sharing(sharing, time) => {
                if next.connection.0.is_active() {
                    if next.sharing.map(|s| s.role) != Some(sharing.role) {
                        next.push(time, LogKind::State(describe_sharing(sharing)));
                    }
                    next.sharing = Some(sharing);
                }
            }
            InspectorAction::Warning(message, time) => {
                next.push(time, LogKind::State(format!("skipped: {message}")));
            }
            InspectorAction::Ended(time) => {
                if next.connection.0.is_active() {
                    next.set_connection(Connection::Closed, time);
                }
            }
        }
        Rc::new(next)
    }
}

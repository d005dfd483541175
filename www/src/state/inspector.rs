//! The inspector page: a form that describes any request, its connection, and a log of what the
//! stream reported.

use std::cell::{Ref, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;

use websse::{
    ConnectionState, Credentials, Framing, Item, Message, Sharing, SseRequest, Transport,
};
use yew::prelude::*;

use super::StreamEvent;
use crate::spec::StreamSpec;

/// The inspector's form, mirrored in the query string.
#[derive(Clone, Debug, PartialEq)]
pub struct InspectorForm {
    /// Stream URL, absolute or relative to the page.
    pub url: String,
    /// Transport.
    pub transport: Transport,
    /// HTTP method.
    pub method: String,
    /// One `Name: value` per line.
    pub headers: String,
    /// Request body (empty for none).
    pub body: String,
    /// Framing.
    pub framing: Framing,
    /// Comma-separated named event types.
    pub events: String,
    /// Credentials mode, `None` for the client's default.
    pub credentials: Option<Credentials>,
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
            transport: Transport::Fetch,
            method: "GET".into(),
            headers: String::new(),
            body: String::new(),
            framing: Framing::Sse,
            events: String::new(),
            credentials: None,
            tabs: false,
            pause: false,
        }
    }
}

/// A change to one field of the form.
#[derive(Clone, Debug, PartialEq)]
pub enum Edit {
    /// The stream URL.
    Url(String),
    /// The HTTP method.
    Method(String),
    /// The header lines.
    Headers(String),
    /// The request body.
    Body(String),
    /// The comma-separated event types.
    Events(String),
    /// The transport.
    Transport(Transport),
    /// The framing.
    Framing(Framing),
    /// The credentials mode (`None`: the client's default).
    Credentials(Option<Credentials>),
    /// Whether the connection is shared across tabs.
    Tabs(bool),
}

/// One of the server's example streams, as `GET /api/examples` lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    /// What the picker shows.
    pub name: String,
    /// The stream's URL.
    pub url: String,
    /// Its named event types, comma-separated.
    pub events: Option<String>,
    /// Its method, when not GET.
    pub method: Option<String>,
    /// Its framing, when not SSE.
    pub framing: Option<Framing>,
}

fn is_on(value: &str) -> bool {
    matches!(value, "1" | "true" | "on")
}

impl InspectorForm {
    /// Reads the form from the page's query parameters; values that do not parse keep the
    /// default.
    pub fn from_query(params: &[(String, String)]) -> Self {
        let mut form = Self::default();
        let mut headers = Vec::new();
        for (key, value) in params {
            match key.as_str() {
                "url" => form.url = value.clone(),
                "transport" => form.transport = value.parse().unwrap_or(form.transport),
                "method" => form.method = value.clone(),
                "body" => form.body = value.clone(),
                "framing" => form.framing = value.parse().unwrap_or(form.framing),
                "events" => form.events = value.clone(),
                "header" => headers.push(value.as_str()),
                "credentials" => form.credentials = value.parse().ok(),
                "tabs" => form.tabs = is_on(value),
                "pause" => form.pause = is_on(value),
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
        if self.framing != Framing::Sse {
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

    /// Applies one edit.
    pub fn apply(&mut self, edit: Edit) {
        match edit {
            Edit::Url(url) => self.url = url,
            Edit::Method(method) => self.method = method,
            Edit::Headers(headers) => self.headers = headers,
            Edit::Body(body) => self.body = body,
            Edit::Events(events) => self.events = events,
            Edit::Transport(transport) => self.transport = transport,
            Edit::Framing(framing) => self.framing = framing,
            Edit::Credentials(credentials) => self.credentials = credentials,
            Edit::Tabs(tabs) => self.tabs = tabs,
        }
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

    /// The method to send: the one typed, trimmed; GET when it is blank.
    pub fn method(&self) -> &str {
        match self.method.trim() {
            "" => "GET",
            method => method,
        }
    }

    /// The request the form describes. `resolved` is the form's URL resolved against the page's
    /// address (`None` when it does not parse as a URL).
    ///
    /// # Errors
    /// An empty or unparsable URL, or a header line without a colon, as a message for the log.
    pub fn to_request(&self, resolved: Option<&str>) -> Result<SseRequest, String> {
        let url = self.url.trim();
        if url.is_empty() {
            return Err("enter a URL".into());
        }
        let url = resolved.ok_or_else(|| format!("not a URL: {url}"))?;
        let mut request = SseRequest::new(self.method(), url).transport(self.transport);
        for line in self.header_lines() {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| format!("a header needs \"Name: value\": {line}"))?;
            request = request.header(name.trim(), value.trim());
        }
        if !self.body.is_empty() {
            request = request.body_text(self.body.clone());
        }
        if let Some(credentials) = self.credentials {
            request = request.credentials(credentials);
        }
        Ok(request
            .framing(self.framing)
            .events(self.event_types())
            .pause_when_hidden(self.pause))
    }
}

/// The inspector's connection.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Connection {
    /// Not connected yet.
    #[default]
    Idle,
    /// What the stream last reported; `Closed` once it ended cleanly or the user disconnected.
    Live(ConnectionState),
    /// Failed with this message.
    Failed(String),
}

impl Connection {
    /// Whether a stream is (or should be) open.
    pub fn is_active(&self) -> bool {
        matches!(self, Self::Live(state) if *state != ConnectionState::Closed)
    }
}

impl fmt::Display for Connection {
    /// `idle`, websse's text for the state (`open`, `reconnecting (attempt 1, in 1 s): ...`), or
    /// `failed: ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Idle => f.write_str("idle"),
            Self::Live(state) => state.fmt(f),
            Self::Failed(message) => write!(f, "failed: {message}"),
        }
    }
}

/// What one log line shows.
#[derive(Clone, Debug, PartialEq)]
pub enum LogKind {
    /// A message, as the stream delivered it.
    Event(Message),
    /// A connection state change, or a note.
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

#[derive(Debug, Default)]
struct Lines {
    entries: VecDeque<LogEntry>,
    next_seq: u64,
}

/// The inspector's log, oldest first, at most [`LOG_LIMIT`] lines.
///
/// Shared by every state the reducer makes, and appended in place: an event costs O(1) however
/// long the log is, and the page redraws it once per animation frame instead of once per event.
#[derive(Clone, Debug, Default)]
pub struct Log(Rc<RefCell<Lines>>);

impl PartialEq for Log {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl Log {
    /// The lines, oldest first.
    pub fn entries(&self) -> Ref<'_, VecDeque<LogEntry>> {
        Ref::map(self.0.borrow(), |lines| &lines.entries)
    }

    fn push(&self, time: String, kind: LogKind) {
        let mut lines = self.0.borrow_mut();
        if lines.entries.len() == LOG_LIMIT {
            lines.entries.pop_front();
        }
        let seq = lines.next_seq;
        lines.next_seq += 1;
        lines.entries.push_back(LogEntry { seq, time, kind });
    }

    fn clear(&self) {
        self.0.borrow_mut().entries.clear();
    }
}

/// The inspector page.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InspectorState {
    /// The form.
    pub form: InspectorForm,
    /// The connection.
    pub connection: Connection,
    /// The stream that should be open.
    pub active: Option<StreamSpec>,
    /// For a stream shared across tabs: this tab's role and how many tabs share it, once known.
    pub sharing: Option<Sharing>,
    /// Events and state changes.
    pub log: Log,
    generation: u64,
}

/// What can happen on the inspector page.
#[derive(Debug)]
pub enum InspectorAction {
    /// A field of the form changed.
    Edit(Edit),
    /// An example was picked: its URL, event types, method and framing go into the form.
    Example(Example),
    /// Connect with the form.
    Connect {
        /// The form's URL resolved against the page's address; `None` if it is no URL.
        resolved: Option<String>,
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
    /// The stream reported something (at this time, for the log).
    Stream(StreamEvent, String),
}

impl InspectorState {
    /// The initial state for these query parameters.
    pub fn from_query(params: &[(String, String)]) -> Self {
        Self {
            form: InspectorForm::from_query(params),
            ..Self::default()
        }
    }

    fn set_connection(&mut self, connection: Connection, time: String) {
        if self.connection != connection {
            self.log.push(time, LogKind::State(connection.to_string()));
            if !connection.is_active() {
                self.active = None;
                self.sharing = None;
            }
            self.connection = connection;
        }
    }

    /// Applies what the stream reported. Returns `false` when only the log changed (it is
    /// redrawn per frame, not per event).
    fn on_stream(&mut self, event: StreamEvent, time: String) -> bool {
        let active = self.connection.is_active();
        match event {
            // The stream's end (or its error, which comes next) says it better.
            StreamEvent::Item(Item::State(ConnectionState::Closed)) => return false,
            StreamEvent::Item(Item::State(state)) if active => {
                self.set_connection(Connection::Live(state), time);
            }
            StreamEvent::Item(Item::Message(message)) if active => {
                self.log.push(time, LogKind::Event(message));
                return false;
            }
            StreamEvent::Item(Item::Skipped(skipped)) => {
                self.log
                    .push(time, LogKind::State(format!("skipped: {skipped}")));
            }
            StreamEvent::Item(Item::Sharing(sharing)) if active => {
                if self.sharing.map(|s| s.role) != Some(sharing.role) {
                    let note = format!("sharing across tabs: this tab is {sharing}");
                    self.log.push(time, LogKind::State(note));
                }
                self.sharing = Some(sharing);
            }
            StreamEvent::Failed(message) if active => {
                self.set_connection(Connection::Failed(message), time);
            }
            StreamEvent::End if active => {
                self.set_connection(Connection::Live(ConnectionState::Closed), time);
            }
            // After a disconnect, and whatever a later websse adds.
            _ => return false,
        }
        true
    }
}

impl Reducible for InspectorState {
    type Action = InspectorAction;

    fn reduce(self: Rc<Self>, action: InspectorAction) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            InspectorAction::Edit(edit) => next.form.apply(edit),
            InspectorAction::Example(example) => {
                let form = &mut next.form;
                form.url = example.url;
                form.events = example.events.unwrap_or_default();
                if let Some(method) = example.method {
                    form.method = method;
                }
                form.framing = example.framing.unwrap_or_default();
            }
            InspectorAction::Connect { resolved, time } => {
                next.generation += 1;
                match next.form.to_request(resolved.as_deref()) {
                    Ok(request) => {
                        let form = &next.form;
                        // The request was built, so the URL resolved.
                        let url = resolved.unwrap_or_default();
                        let line = format!("{} {url} via {}", form.method(), form.transport);
                        next.log.push(time.clone(), LogKind::State(line));
                        next.active = Some(StreamSpec {
                            request,
                            across_tabs: next.form.tabs,
                            generation: next.generation,
                        });
                        next.sharing = None;
                        next.connection = Connection::Idle;
                        next.set_connection(Connection::Live(ConnectionState::Connecting), time);
                    }
                    Err(message) => {
                        next.active = None;
                        next.set_connection(Connection::Failed(message), time);
                    }
                }
            }
            InspectorAction::Disconnect { time } => {
                if next.connection.is_active() {
                    next.set_connection(Connection::Live(ConnectionState::Closed), time);
                }
                next.active = None;
                next.sharing = None;
            }
            InspectorAction::Clear => next.log.clear(),
            InspectorAction::Stream(event, time) => {
                if !next.on_stream(event, time) {
                    return self;
                }
            }
        }
        Rc::new(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn reduce(state: &Rc<InspectorState>, action: InspectorAction) -> Rc<InspectorState> {
        Rc::clone(state).reduce(action)
    }

    fn stream(event: StreamEvent) -> InspectorAction {
        InspectorAction::Stream(event, "12:00:00.000".into())
    }

    fn message(n: u64) -> InspectorAction {
        stream(StreamEvent::Item(Item::Message(Message::new(
            "tick",
            n.to_string(),
            n.to_string(),
        ))))
    }

    fn log_text(state: &InspectorState) -> Vec<String> {
        state
            .log
            .entries()
            .iter()
            .map(|entry| match &entry.kind {
                LogKind::Event(message) => format!("event {}", message.data()),
                LogKind::State(text) => text.clone(),
            })
            .collect()
    }

    /// A state connected to `/s` (resolved by the page to `http://h/s`).
    fn connected(pairs: &[(&str, &str)]) -> Rc<InspectorState> {
        let state = Rc::new(InspectorState::from_query(&params(pairs)));
        let state = reduce(
            &state,
            InspectorAction::Connect {
                resolved: Some("http://h/s".into()),
                time: "t".into(),
            },
        );
        reduce(
            &state,
            stream(StreamEvent::Item(Item::State(ConnectionState::Open))),
        )
    }

    #[test]
    fn the_query_fills_the_form() {
        let form = InspectorForm::from_query(&params(&[
            ("url", "/api/examples/ticker"),
            ("transport", "eventsource"),
            ("method", "POST"),
            ("header", "A: 1"),
            ("header", "B: 2"),
            ("body", "{}"),
            ("framing", "ndjson"),
            ("events", "start, done"),
            ("credentials", "include"),
            ("tabs", "1"),
            ("pause", "true"),
            ("other", "x"),
        ]));
        assert_eq!(form.url, "/api/examples/ticker");
        assert_eq!(form.transport, Transport::EventSource);
        assert_eq!(form.method, "POST");
        assert_eq!(form.headers, "A: 1\nB: 2");
        assert_eq!(form.body, "{}");
        assert_eq!(form.framing, Framing::Ndjson);
        assert_eq!(form.event_types(), ["start", "done"]);
        assert_eq!(form.credentials, Some(Credentials::Include));
        assert!(form.tabs && form.pause);
    }

    #[test]
    fn unknown_values_keep_the_defaults() {
        let form = InspectorForm::from_query(&params(&[
            ("transport", "carrier-pigeon"),
            ("framing", "xml"),
            ("credentials", "always"),
            ("tabs", "0"),
        ]));
        assert_eq!(form, InspectorForm::default());
    }

    #[test]
    fn the_query_leaves_defaults_out_and_reads_back_the_same_form() {
        assert_eq!(
            InspectorForm::default().to_query(),
            params(&[("url", ""), ("transport", "fetch")])
        );
        let form = InspectorForm {
            url: "/s".into(),
            transport: Transport::EventSource,
            method: " PUT ".into(),
            headers: "A: 1\n\n  B: 2 ".into(),
            body: "x".into(),
            framing: Framing::Raw,
            events: " a,, b ".into(),
            credentials: Some(Credentials::Omit),
            tabs: true,
            pause: true,
        };
        let query = form.to_query();
        assert_eq!(
            query,
            params(&[
                ("url", "/s"),
                ("transport", "eventsource"),
                ("method", "PUT"),
                ("header", "A: 1"),
                ("header", "B: 2"),
                ("body", "x"),
                ("framing", "raw"),
                ("events", "a,b"),
                ("credentials", "omit"),
                ("tabs", "1"),
                ("pause", "1"),
            ])
        );
        let again = InspectorForm::from_query(&query);
        assert_eq!(again.to_query(), query);
    }

    #[test]
    fn typed_edits_change_one_field() {
        let state = Rc::new(InspectorState::default());
        let state = reduce(&state, InspectorAction::Edit(Edit::Url("/a".into())));
        let state = reduce(&state, InspectorAction::Edit(Edit::Framing(Framing::Raw)));
        let state = reduce(&state, InspectorAction::Edit(Edit::Tabs(true)));
        let state = reduce(&state, InspectorAction::Edit(Edit::Credentials(None)));
        assert_eq!(state.form.url, "/a");
        assert_eq!(state.form.framing, Framing::Raw);
        assert!(state.form.tabs);
        assert_eq!(state.connection, Connection::Idle);
    }

    #[test]
    fn an_example_fills_url_events_method_and_framing() {
        let state = Rc::new(InspectorState::from_query(&params(&[("events", "x")])));
        let example = Example {
            name: "n".into(),
            url: "/e".into(),
            events: None,
            method: Some("POST".into()),
            framing: Some(Framing::Ndjson),
        };
        let state = reduce(&state, InspectorAction::Example(example));
        assert_eq!(state.form.url, "/e");
        assert_eq!(state.form.events, "");
        assert_eq!(state.form.method, "POST");
        assert_eq!(state.form.framing, Framing::Ndjson);
    }

    /// What the state wants open.
    fn spec(state: &InspectorState) -> StreamSpec {
        state.active.clone().expect("a stream to open")
    }

    #[test]
    fn connecting_logs_the_request_and_opens_the_stream() {
        let state = connected(&[("url", "/s"), ("header", "A: 1")]);
        assert_eq!(
            spec(&state).request,
            SseRequest::get("http://h/s").header("A", "1")
        );
        assert_eq!(state.connection.to_string(), "open");
        assert_eq!(
            log_text(&state),
            ["GET http://h/s via fetch", "connecting", "open"]
        );
    }

    #[test]
    fn every_field_of_the_form_goes_into_the_request() {
        let state = connected(&[
            ("url", "/s"),
            ("method", " PUT "),
            ("header", " A :  1 "),
            ("header", "B: x: y"),
            ("body", " {} "),
            ("framing", "ndjson"),
            ("events", "a, b"),
            ("credentials", "include"),
            ("pause", "1"),
        ]);
        assert_eq!(
            spec(&state).request,
            SseRequest::new("PUT", "http://h/s")
                .header("A", "1")
                .header("B", "x: y")
                .body_text(" {} ")
                .framing(Framing::Ndjson)
                .events(["a", "b"])
                .credentials(Credentials::Include)
                .pause_when_hidden(true)
        );
        assert!(!spec(&state).across_tabs);
        assert_eq!(log_text(&state)[0], "PUT http://h/s via fetch");
    }

    #[test]
    fn a_blank_method_is_get_and_eventsource_is_kept() {
        let state = connected(&[
            ("url", "/s"),
            ("method", "  "),
            ("transport", "eventsource"),
        ]);
        assert_eq!(
            spec(&state).request,
            SseRequest::get("http://h/s").transport(Transport::EventSource)
        );
        assert_eq!(log_text(&state)[0], "GET http://h/s via eventsource");
    }

    #[test]
    fn the_tabs_box_joins_the_stream_across_tabs() {
        let state = connected(&[("url", "/s"), ("tabs", "1")]);
        let spec = spec(&state);
        assert!(spec.across_tabs);
        assert_eq!(spec.request, SseRequest::get("http://h/s"));
    }

    #[test]
    fn connecting_again_opens_a_new_connection_for_the_same_request() {
        let state = connected(&[("url", "/s")]);
        let again = reduce(
            &state,
            InspectorAction::Connect {
                resolved: Some("http://h/s".into()),
                time: "t".into(),
            },
        );
        assert_eq!(spec(&state).request, spec(&again).request);
        assert_ne!(spec(&state), spec(&again));
    }

    #[test]
    fn a_form_that_cannot_connect_says_why() {
        for (url, resolved, header, why) in [
            ("", None, "", "failed: enter a URL"),
            ("::", None, "", "failed: not a URL: ::"),
            (
                "/s",
                Some("http://h/s"),
                "no colon",
                "failed: a header needs",
            ),
        ] {
            let form = params(&[("url", url), ("header", header)]);
            let state = Rc::new(InspectorState::from_query(&form));
            let state = reduce(
                &state,
                InspectorAction::Connect {
                    resolved: resolved.map(str::to_owned),
                    time: "t".into(),
                },
            );
            assert!(state.connection.to_string().starts_with(why), "{url:?}");
            assert_eq!(state.active, None);
        }
    }

    #[test]
    fn messages_append_to_the_log_in_place() {
        let state = connected(&[("url", "/s")]);
        let after = reduce(&state, message(1));
        // The same state: no re-render per message (the page redraws the log per frame).
        assert!(Rc::ptr_eq(&state, &after));
        let after = reduce(&after, message(2));
        assert_eq!(log_text(&after)[3..], ["event 1", "event 2"]);
    }

    #[test]
    fn the_log_keeps_its_newest_lines() {
        let mut state = connected(&[("url", "/s")]);
        for n in 0..LOG_LIMIT as u64 {
            state = reduce(&state, message(n));
        }
        let entries = state.log.entries();
        assert_eq!(entries.len(), LOG_LIMIT);
        // The three connection lines went first.
        assert_eq!(entries.front().map(|e| e.seq), Some(3));
        assert!(matches!(&entries.back().unwrap().kind, LogKind::Event(m) if m.data() == "1999"));
    }

    #[test]
    fn disconnecting_closes_and_later_items_are_ignored() {
        let state = connected(&[("url", "/s")]);
        let state = reduce(&state, InspectorAction::Disconnect { time: "t".into() });
        assert_eq!(state.connection.to_string(), "closed");
        assert_eq!(state.active, None);
        let lines = log_text(&state).len();
        let after = reduce(&state, message(1));
        let after = reduce(&after, stream(StreamEvent::End));
        assert!(Rc::ptr_eq(&state, &after));
        assert_eq!(log_text(&after).len(), lines);
    }

    #[test]
    fn the_end_of_the_stream_closes_it_and_a_failure_is_logged() {
        let closed = reduce(&connected(&[("url", "/s")]), stream(StreamEvent::End));
        assert_eq!(closed.connection, Connection::Live(ConnectionState::Closed));
        assert_eq!(closed.active, None);
        let failed = reduce(
            &connected(&[("url", "/s")]),
            stream(StreamEvent::Failed("HTTP 404".into())),
        );
        assert_eq!(failed.connection.to_string(), "failed: HTTP 404");
        assert_eq!(
            log_text(&failed).last().map(String::as_str),
            Some("failed: HTTP 404")
        );
    }

    #[test]
    fn clear_empties_the_log_and_redraws() {
        let state = reduce(&connected(&[("url", "/s")]), message(1));
        let cleared = reduce(&state, InspectorAction::Clear);
        assert!(!Rc::ptr_eq(&state, &cleared));
        assert!(cleared.log.entries().is_empty());
    }
}

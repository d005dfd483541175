//! The chat page: questions, their answers' phases, and the request for the streaming one.
//!
//! The growing answer text is *not* here: it streams straight into the turn's Markdown view
//! through the typewriter hook (see `hooks::use_typewriter`), so a token never causes a re-render.

use std::rc::Rc;

use websse::{ConnectionState, Item, SseRequest, Transport};
use yew::prelude::*;

use super::StreamEvent;
use crate::markdown::AnswerView;
use crate::spec::StreamSpec;

/// Named event types of the chat stream (design.md section 3).
pub const CHAT_EVENTS: [&str; 3] = ["start", "delta", "done"];

/// Where one answer is.
#[derive(Clone, Debug, PartialEq)]
pub enum Phase {
    /// The answer's connection, while it lasts: `Open` is "streaming", `Reconnecting` carries the
    /// attempt, the delay and the cause. Never `Closed`: an answer ends in one of the phases below.
    Live(ConnectionState),
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
        matches!(self, Self::Live(_))
    }

    /// Short machine-readable name (the status element's `data-state`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Live(ConnectionState::Open) => "streaming",
            Self::Live(ConnectionState::Reconnecting { .. }) => "reconnecting",
            Self::Live(_) => "connecting",
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
    pub transport: Transport,
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
    SetTransport(Transport),
    /// The answer's stream reported something. Its messages come decoded as the actions below:
    /// deltas go to the typewriter, not through here.
    Stream(StreamEvent),
    /// The server's id of the streaming answer became known (its `start` event).
    Started(String),
    /// The answer's `done` event, with its `reason` if it had one.
    Done(Option<String>),
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

/// Splits a chat event id `<sid>:<seq>`.
pub fn parse_id(id: &str) -> Option<(&str, u64)> {
    let (sid, seq) = id.rsplit_once(':')?;
    Some((sid, seq.parse().ok()?))
}

impl ChatState {
    /// The initial state for a page with these query parameters.
    pub fn from_query(params: &[(String, String)]) -> Self {
        let mut state = Self::default();
        for (key, value) in params {
            if key == "transport" {
                if let Ok(transport) = value.parse() {
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
        let api = self.api.as_deref().unwrap_or("/api/chat");
        let request = match self.transport {
            Transport::EventSource => {
                let mut url = String::from(api);
                url.push_str("?prompt=");
                crate::page::encode_component(prompt, &mut url);
                // Knob names are fixed ASCII words and the values JSON numbers: nothing to encode.
                for (key, value) in &self.knobs {
                    url.push('&');
                    url.push_str(key);
                    url.push('=');
                    url.push_str(value);
                }
                SseRequest::get(url).transport(Transport::EventSource)
            }
            Transport::Fetch => {
                // {"messages":[{"role":"user","content":"..."}],"speed":2,...}
                let mut body = String::from(r#"{"messages":[{"role":"user","content":"#);
                crate::json::quote(prompt, &mut body);
                body.push_str("}]");
                for (key, value) in &self.knobs {
                    body.push_str(",\"");
                    body.push_str(key);
                    body.push_str("\":");
                    body.push_str(value);
                }
                body.push('}');
                SseRequest::post(api)
                    .transport(Transport::Fetch)
                    .header("Content-Type", "application/json")
                    .body_text(body)
            }
        };
        StreamSpec {
            request: request.events(CHAT_EVENTS),
            across_tabs: false,
            generation,
        }
    }

    fn set_active_phase(&mut self, phase: Phase) {
        if let Some(turn) = self.turns.last_mut().filter(|t| t.phase.is_active()) {
            turn.phase = phase;
        }
    }

    fn on_stream(&mut self, event: StreamEvent) {
        match event {
            StreamEvent::Item(Item::State(state)) => match state {
                // A reconnect attempt keeps showing "reconnecting" until the response is open.
                ConnectionState::Connecting
                    if matches!(
                        self.phase(),
                        Some(Phase::Live(ConnectionState::Reconnecting { .. }))
                    ) => {}
                ConnectionState::Connecting
                | ConnectionState::Open
                | ConnectionState::Reconnecting { .. } => {
                    self.set_active_phase(Phase::Live(state));
                }
                // The chat does not pause; its end comes as `done`, an error or `End`.
                _ => {}
            },
            // A skipped event would leave a gap in the answer: that is a failure too.
            StreamEvent::Item(Item::Skipped(skipped)) => {
                self.set_active_phase(Phase::Failed(skipped.to_string()));
            }
            // Messages come decoded (see `ChatAction::Stream`); the chat is not shared across tabs.
            StreamEvent::Item(_) => {}
            StreamEvent::Failed(message) => self.set_active_phase(Phase::Failed(message)),
            StreamEvent::End => self.set_active_phase(Phase::Failed(
                "the connection closed before the answer was complete".into(),
            )),
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
                    phase: Phase::Live(ConnectionState::Connecting),
                    text: NodeRef::default(),
                    view: AnswerView::default(),
                    spec,
                    sid: None,
                });
                next.next_id += 1;
            }
            ChatAction::SetTransport(transport) => next.transport = transport,
            ChatAction::Stream(event) => next.on_stream(event),
            ChatAction::Started(sid) => {
                if let Some(turn) = next.turns.last_mut().filter(|t| t.phase.is_active()) {
                    turn.sid = Some(sid);
                }
            }
            // `reason`: "finished" | "stopped" | "error" | "interrupted" | "gone".
            ChatAction::Done(reason) => next.set_active_phase(match reason.as_deref() {
                Some("interrupted") => Phase::Interrupted,
                Some("gone") => {
                    Phase::Failed("the server no longer has this answer (it expired)".into())
                }
                reason => Phase::Done {
                    cut: reason.is_some_and(|r| r != "finished"),
                },
            }),
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
                    turn.phase = Phase::Live(ConnectionState::Connecting);
                }
            }
        }
        if next == *self { self } else { Rc::new(next) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reduce(state: &Rc<ChatState>, action: ChatAction) -> Rc<ChatState> {
        Rc::clone(state).reduce(action)
    }

    fn state(action: ConnectionState) -> ChatAction {
        ChatAction::Stream(StreamEvent::Item(Item::State(action)))
    }

    fn asked(params: &[(&str, &str)], prompt: &str) -> Rc<ChatState> {
        let params: Vec<_> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let chat = Rc::new(ChatState::from_query(&params));
        reduce(&chat, ChatAction::Send(prompt.into()))
    }

    /// The request of the streaming answer.
    fn request(chat: &ChatState) -> SseRequest {
        chat.active_spec().expect("an answer is streaming").request
    }

    #[test]
    fn a_question_over_fetch_posts_the_prompt_as_json() {
        let chat = asked(&[], "say \"hi\"\n");
        assert_eq!(
            request(&chat),
            SseRequest::post("/api/chat")
                .header("Content-Type", "application/json")
                .body_text(r#"{"messages":[{"role":"user","content":"say \"hi\""}]}"#)
                .events(CHAT_EVENTS)
        );
        assert_eq!(chat.phase().map(Phase::name), Some("connecting"));
    }

    #[test]
    fn a_question_over_eventsource_goes_in_the_url() {
        let chat = asked(&[("transport", "eventsource")], "a&b é");
        assert_eq!(
            request(&chat),
            SseRequest::get("/api/chat?prompt=a%26b%20%C3%A9")
                .transport(Transport::EventSource)
                .events(CHAT_EVENTS)
        );
    }

    #[test]
    fn knobs_go_into_the_body_or_the_url() {
        let knobs = vec![
            ("speed".to_owned(), "2".to_owned()),
            ("max_tokens".to_owned(), "5".to_owned()),
        ];
        let chat = Rc::new(ChatState {
            knobs: knobs.clone(),
            ..ChatState::default()
        });
        assert_eq!(
            request(&reduce(&chat, ChatAction::Send("q".into()))),
            SseRequest::post("/api/chat")
                .header("Content-Type", "application/json")
                .body_text(
                    r#"{"messages":[{"role":"user","content":"q"}],"speed":2,"max_tokens":5}"#
                )
                .events(CHAT_EVENTS)
        );
        let chat = Rc::new(ChatState {
            knobs,
            transport: Transport::EventSource,
            ..ChatState::default()
        });
        assert_eq!(
            request(&reduce(&chat, ChatAction::Send("q".into()))),
            SseRequest::get("/api/chat?prompt=q&speed=2&max_tokens=5")
                .transport(Transport::EventSource)
                .events(CHAT_EVENTS)
        );
    }

    #[test]
    fn only_test_endpoints_replace_the_chat_api() {
        let with_api =
            |api: &str| request(&asked(&[("api", api), ("transport", "eventsource")], "x"));
        let to = |url: &str| {
            SseRequest::get(url)
                .transport(Transport::EventSource)
                .events(CHAT_EVENTS)
        };
        assert_eq!(with_api("/test/markdown"), to("/test/markdown?prompt=x"));
        assert_eq!(
            with_api("https://elsewhere.example/"),
            to("/api/chat?prompt=x")
        );
    }

    #[test]
    fn a_blank_question_changes_nothing() {
        let chat = Rc::new(ChatState::default());
        assert!(Rc::ptr_eq(
            &chat,
            &reduce(&chat, ChatAction::Send("  \n".into()))
        ));
    }

    #[test]
    fn an_answer_streams_then_is_done() {
        let chat = asked(&[], "q");
        let chat = reduce(&chat, ChatAction::Started("s1".into()));
        let chat = reduce(&chat, state(ConnectionState::Open));
        assert_eq!(chat.phase().map(Phase::name), Some("streaming"));
        assert_eq!(chat.active().and_then(|t| t.sid.as_deref()), Some("s1"));
        let chat = reduce(&chat, ChatAction::Done(Some("finished".into())));
        assert_eq!(chat.phase(), Some(&Phase::Done { cut: false }));
        assert_eq!(chat.active_spec(), None);
        // What comes after the end changes nothing.
        let after = reduce(&chat, ChatAction::Stream(StreamEvent::End));
        assert!(Rc::ptr_eq(&chat, &after));
    }

    #[test]
    fn done_reasons_become_phases() {
        for (reason, phase) in [
            (None, Phase::Done { cut: false }),
            (Some("finished"), Phase::Done { cut: false }),
            (Some("stopped"), Phase::Done { cut: true }),
            (Some("interrupted"), Phase::Interrupted),
        ] {
            let chat = reduce(
                &asked(&[], "q"),
                ChatAction::Done(reason.map(str::to_owned)),
            );
            assert_eq!(chat.phase(), Some(&phase), "{reason:?}");
        }
        let chat = reduce(&asked(&[], "q"), ChatAction::Done(Some("gone".into())));
        assert!(matches!(chat.phase(), Some(Phase::Failed(_))));
    }

    #[test]
    fn an_end_without_done_fails_and_retry_asks_again() {
        let chat = asked(&[], "q");
        let first = chat.active_spec().expect("streaming");
        let chat = reduce(&chat, ChatAction::Stream(StreamEvent::End));
        assert!(matches!(chat.phase(), Some(Phase::Failed(_))));
        let chat = reduce(&chat, ChatAction::Retry);
        let again = chat.active_spec().expect("streaming again");
        assert_eq!(first.request, again.request);
        assert_ne!(first, again, "an equal request on a new connection");
        assert_eq!(chat.turns.len(), 1);
    }

    #[test]
    fn retry_does_nothing_unless_the_answer_failed() {
        let chat = asked(&[], "q");
        assert!(Rc::ptr_eq(&chat, &reduce(&chat, ChatAction::Retry)));
    }

    #[test]
    fn a_new_question_stops_the_running_answer() {
        let chat = reduce(&asked(&[], "one"), ChatAction::Send("two".into()));
        assert_eq!(chat.turns[0].phase, Phase::Stopped);
        assert_eq!(chat.turns[1].prompt, "two");
        assert!(chat.turns[1].phase.is_active());
        assert_ne!(chat.turns[0].id, chat.turns[1].id);
    }

    #[test]
    fn stop_and_stream_failures_end_the_answer() {
        let chat = reduce(&asked(&[], "q"), ChatAction::Stop);
        assert_eq!(chat.phase(), Some(&Phase::Stopped));
        let failed = StreamEvent::Failed("HTTP 500".into());
        let chat = reduce(&asked(&[], "q"), ChatAction::Stream(failed));
        assert_eq!(chat.phase(), Some(&Phase::Failed("HTTP 500".into())));
    }

    #[test]
    fn a_closed_state_leaves_the_phase_to_the_end_of_the_stream() {
        let chat = asked(&[], "q");
        assert!(Rc::ptr_eq(
            &chat,
            &reduce(&chat, state(ConnectionState::Closed))
        ));
    }

    #[test]
    fn chat_event_ids_split_at_the_last_colon() {
        assert_eq!(parse_id("a:b:12"), Some(("a:b", 12)));
        assert_eq!(parse_id("abc"), None);
        assert_eq!(parse_id("abc:x"), None);
    }
}

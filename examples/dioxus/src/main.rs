//! websse in a Dioxus 0.7 web app.
//!
//! Two components each own one stream: `Chat` (`POST /api/chat` over fetch) and `Ticker`
//! (`GET /api/examples/ticker` over the browser's `EventSource`). The Unmount button removes
//! them. Each component opens and reads its stream inside `use_future`: the future belongs to
//! the component, Dioxus drops it when the component unmounts, and dropping the stream closes
//! its connection. Nothing else is needed; a [`CloseHandle`](websse::CloseHandle) is for ending
//! a stream while its component stays (the Ticker's Stop button).
//!
//! Query parameters: `ticker` (the ticker's URL), `chat` (the chat endpoint), `prompt`, and
//! `speed` (characters per second of the answer).

use std::rc::Rc;

use dioxus::prelude::*;
use futures::StreamExt;
use websse::{CloseHandle, ConnectionState, Item, SseRequest, Transport};

fn main() {
    dioxus::launch(App);
}

/// What the page streams from, read from the query string.
#[derive(Clone, Debug)]
struct Config {
    ticker: String,
    chat: String,
    prompt: String,
    speed: Option<f64>,
}

impl Config {
    fn from_location() -> Config {
        let query = web_sys::window()
            .and_then(|w| w.location().search().ok())
            .unwrap_or_default();
        let params = web_sys::UrlSearchParams::new_with_str(&query).ok();
        let get = |name: &str| params.as_ref().and_then(|p| p.get(name));
        Config {
            ticker: get("ticker").unwrap_or_else(|| "/api/examples/ticker?interval_ms=500".into()),
            chat: get("chat").unwrap_or_else(|| "/api/chat".into()),
            prompt: get("prompt").unwrap_or_else(|| "What is SSE?".into()),
            speed: get("speed").and_then(|s| s.parse().ok()),
        }
    }
}

#[component]
fn App() -> Element {
    let config = use_hook(Config::from_location);
    let mut mounted = use_signal(|| true);
    rsx! {
        h1 { "websse with Dioxus" }
        button { "data-testid": "toggle", onclick: move |_| mounted.toggle(),
            if mounted() { "Unmount" } else { "Mount" }
        }
        if mounted() {
            section { "data-testid": "streams",
                Ticker { url: config.ticker.clone() }
                Chat { url: config.chat.clone(), prompt: config.prompt.clone(), speed: config.speed }
            }
        }
    }
}

#[derive(serde::Deserialize)]
struct Tick {
    tick: u64,
}

/// The ticker: the browser's own `EventSource` (GET only; it reconnects by itself).
#[component]
fn Ticker(url: String) -> Element {
    let mut tick = use_signal(|| None::<u64>);
    // `websse::Error` is `Clone`: it can sit in a signal as it is.
    let mut state = use_signal(|| Ok::<_, websse::Error>(ConnectionState::Connecting));
    let mut stop = use_signal(|| None::<CloseHandle>);
    // The future (and the stream inside it) belongs to this component: Dioxus drops it on
    // unmount, and the dropped stream closes its connection.
    use_future(move || {
        let url = url.clone();
        async move {
            let opened = SseRequest::get(url)
                .transport(Transport::EventSource)
                .open();
            let mut stream = match opened {
                Ok(stream) => stream,
                Err(error) => return state.set(Err(error)),
            };
            stop.set(Some(stream.close_handle()));
            while let Some(item) = stream.next().await {
                match item {
                    Ok(Item::Message(msg)) => match msg.json::<Tick>() {
                        Ok(t) => tick.set(Some(t.tick)),
                        Err(error) => state.set(Err(error)),
                    },
                    Ok(Item::State(now)) => state.set(Ok(now)),
                    Ok(_) => {}
                    // A fatal error is the stream's last item.
                    Err(error) => state.set(Err(error)),
                }
            }
            // Over: a close (the Stop button) ends the stream without a `Closed` item.
            if state.peek().is_ok() {
                state.set(Ok(ConnectionState::Closed));
            }
            stop.set(None);
        }
    });
    let name = match &*state.read() {
        Ok(now) => now.as_str(),
        Err(_) => "failed",
    };
    let shown = match &*state.read() {
        Ok(_) => name.to_owned(),
        Err(error) => format!("failed: {error}"),
    };
    rsx! {
        p { "data-testid": "ticker",
            "tick "
            strong { "data-testid": "tick",
                match tick() { Some(t) => t.to_string(), None => "-".to_owned() }
            }
            " "
            span { "data-testid": "ticker-state", "data-state": name, "{shown}" }
            " "
            // Ends the stream while the component stays: the loop above sees `None`.
            button {
                "data-testid": "stop-ticker",
                disabled: stop.read().is_none(),
                onclick: move |_| {
                    if let Some(handle) = stop.take() {
                        handle.close();
                    }
                },
                "Stop"
            }
        }
    }
}

/// Where the chat answer is.
#[derive(Clone, Debug)]
enum ChatState {
    Connecting,
    Streaming,
    Done,
    Failed(websse::Error),
}

impl ChatState {
    fn name(&self) -> &'static str {
        match self {
            ChatState::Connecting => "connecting",
            ChatState::Streaming => "streaming",
            ChatState::Done => "done",
            ChatState::Failed(_) => "failed",
        }
    }
}

#[derive(serde::Deserialize)]
struct Delta {
    text: String,
}

/// The chat: fetch, for a POST with a JSON body (which `EventSource` cannot send).
#[component]
fn Chat(url: String, prompt: String, speed: Option<f64>) -> Element {
    let mut state = use_signal(|| ChatState::Connecting);
    // The answer as the deltas that made it: keyed, so a new token adds one node and the diff
    // leaves the others alone.
    let mut deltas = use_signal(Vec::<Rc<str>>::new);
    use_future(move || {
        let mut body = serde_json::json!({ "messages": [{ "role": "user", "content": prompt }] });
        if let Some(speed) = speed {
            body["speed"] = speed.into();
        }
        let opened = SseRequest::post(url.clone())
            .json(&body)
            .events(["start", "delta", "done"])
            .open();
        async move {
            let mut messages = match opened {
                Ok(stream) => stream.messages(),
                Err(error) => return state.set(ChatState::Failed(error)),
            };
            while let Some(msg) = messages.next().await {
                let msg = match msg {
                    Ok(msg) => msg,
                    Err(error) => return state.set(ChatState::Failed(error)),
                };
                match msg.event_type() {
                    "start" => state.set(ChatState::Streaming),
                    "delta" => match msg.json::<Delta>() {
                        Ok(delta) => deltas.write().push(delta.text.into()),
                        Err(error) => return state.set(ChatState::Failed(error)),
                    },
                    // Complete: stop here rather than let fetch reconnect.
                    "done" => return state.set(ChatState::Done),
                    _ => {}
                }
            }
        }
    });
    let shown = match &*state.read() {
        ChatState::Failed(error) => format!("failed: {error}"),
        other => other.name().to_owned(),
    };
    rsx! {
        p { "data-testid": "chat-state", "data-state": state.read().name(), "{shown}" }
        p { "data-testid": "answer",
            for (i, text) in deltas.read().iter().enumerate() {
                span { key: "{i}", "{text}" }
            }
        }
    }
}

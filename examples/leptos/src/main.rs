//! websse in a Leptos 0.8 client-side app.
//!
//! Two components each own one stream: `Chat` (`POST /api/chat` over fetch) and `Ticker`
//! (`GET /api/examples/ticker` over the browser's `EventSource`). The Unmount button removes
//! them. Each component ties its stream's life to its own with the stream's
//! [`CloseHandle`](websse::CloseHandle), which is `Send + Sync` as `on_cleanup` requires:
//!
//! ```ignore
//! let close = stream.close_handle();
//! on_cleanup(move || close.close()); // wakes the task below; the stream ends and is dropped
//! spawn_local(async move { while let Some(item) = stream.next().await { /* set signals */ } });
//! ```
//!
//! Query parameters: `ticker` (the ticker's URL), `chat` (the chat endpoint), `prompt`, and
//! `speed` (characters per second of the answer).

use std::sync::Arc;

use futures::StreamExt;
use leptos::prelude::*;
use leptos::task::spawn_local;
use websse::{ConnectionState, Item, SseRequest, Transport};

fn main() {
    leptos::mount::mount_to_body(App);
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
fn App() -> impl IntoView {
    let config = Config::from_location();
    let (mounted, set_mounted) = signal(true);
    view! {
        <h1>"websse with Leptos"</h1>
        <button data-testid="toggle" on:click=move |_| set_mounted.update(|m| *m = !*m)>
            {move || if mounted.get() { "Unmount" } else { "Mount" }}
        </button>
        <Show when=move || mounted.get()>
            <section data-testid="streams">
                <Ticker url=config.ticker.clone() />
                <Chat
                    url=config.chat.clone()
                    prompt=config.prompt.clone()
                    speed=config.speed
                />
            </section>
        </Show>
    }
}

#[derive(serde::Deserialize)]
struct Tick {
    tick: u64,
}

/// The ticker: the browser's own `EventSource` (GET only; it reconnects by itself).
#[component]
fn Ticker(url: String) -> impl IntoView {
    let (tick, set_tick) = signal(None::<u64>);
    // `websse::Error` is `Clone + Send + Sync`: it can sit in a signal as it is.
    let (state, set_state) = signal(Ok::<_, websse::Error>(ConnectionState::Connecting));
    let opened = SseRequest::get(url)
        .transport(Transport::EventSource)
        .open();
    match opened {
        Ok(mut stream) => {
            // The stream lives in the task; the component keeps only its close handle. On
            // unmount the handle wakes the task, the stream yields `None`, the loop ends and the
            // stream is dropped: the connection is closed before the next frame.
            let close = stream.close_handle();
            on_cleanup(move || close.close());
            spawn_local(async move {
                while let Some(item) = stream.next().await {
                    match item {
                        Ok(Item::Message(msg)) => match msg.json::<Tick>() {
                            Ok(t) => set_tick.set(Some(t.tick)),
                            Err(error) => set_state.set(Err(error)),
                        },
                        Ok(Item::State(now)) => set_state.set(Ok(now)),
                        Ok(_) => {}
                        // A fatal error is the stream's last item.
                        Err(error) => set_state.set(Err(error)),
                    }
                }
            });
        }
        Err(error) => set_state.set(Err(error)),
    }
    let state_name = move || state.with(|s| s.as_ref().map_or("failed", |s| s.as_str()));
    view! {
        <p data-testid="ticker">
            "tick "
            <strong data-testid="tick">
                {move || tick.get().map_or_else(|| "-".to_owned(), |t| t.to_string())}
            </strong>
            " "
            <span data-testid="ticker-state" data-state=state_name>
                {move || state.with(|s| match s {
                    Ok(_) => state_name().to_owned(),
                    Err(error) => format!("failed: {error}"),
                })}
            </span>
        </p>
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
fn Chat(url: String, prompt: String, speed: Option<f64>) -> impl IntoView {
    let (state, set_state) = signal(ChatState::Connecting);
    // The answer as the deltas that made it: each one becomes its own text node, so a new token
    // adds a node instead of re-rendering the whole answer.
    let (deltas, set_deltas) = signal(Vec::<Arc<str>>::new());
    let mut body = serde_json::json!({ "messages": [{ "role": "user", "content": prompt }] });
    if let Some(speed) = speed {
        body["speed"] = speed.into();
    }
    let opened = SseRequest::post(url)
        .json(&body)
        .events(["start", "delta", "done"])
        .open();
    match opened {
        Ok(stream) => {
            let close = stream.close_handle();
            on_cleanup(move || close.close());
            let mut messages = stream.messages();
            spawn_local(async move {
                while let Some(msg) = messages.next().await {
                    let msg = match msg {
                        Ok(msg) => msg,
                        Err(error) => return set_state.set(ChatState::Failed(error)),
                    };
                    match msg.event_type() {
                        "start" => set_state.set(ChatState::Streaming),
                        "delta" => match msg.json::<Delta>() {
                            Ok(delta) => set_deltas.update(|d| d.push(delta.text.into())),
                            Err(error) => return set_state.set(ChatState::Failed(error)),
                        },
                        // Complete: stop here rather than let fetch reconnect.
                        "done" => return set_state.set(ChatState::Done),
                        _ => {}
                    }
                }
            });
        }
        Err(error) => set_state.set(ChatState::Failed(error)),
    }
    view! {
        <p data-testid="chat-state" data-state=move || state.with(ChatState::name)>
            {move || state.with(|s| match s {
                ChatState::Failed(error) => format!("failed: {error}"),
                other => other.name().to_owned(),
            })}
        </p>
        <p data-testid="answer">
            <For
                each=move || deltas.get().into_iter().enumerate()
                key=|(i, _)| *i
                children=|(_, text)| text
            />
        </p>
    }
}

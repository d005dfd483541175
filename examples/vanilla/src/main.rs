//! websse without a framework: plain `wasm-bindgen` and `web-sys`.
//!
//! The page streams a chat answer (`POST /api/chat` over fetch), rendered as Markdown while it
//! arrives with `websse-markdown`, and a ticker (`GET /api/examples/ticker` over the browser's
//! `EventSource`). The ticker is shared: two views (the newest tick, and a count of the ticks
//! seen) each subscribe to it, over one connection. The Unmount button closes every stream
//! through its [`CloseHandle`] and removes their part of the page; Mount opens them again.
//!
//! Query parameters: `ticker` (the ticker's URL), `chat` (the chat endpoint), `prompt`, and
//! `speed` (characters per second of the answer).

use std::cell::RefCell;

use futures::Stream;
use futures::StreamExt;
use futures::channel::oneshot;
use futures::future::join4;
use wasm_bindgen::prelude::*;
use web_sys::{Document, Element, EventTarget, UrlSearchParams};
use websse::{CloseHandle, Error, EventStream, Item, SharedStream, SseRequest, Transport};
use websse_markdown::{MarkdownView, Options};

fn main() {
    // The page's one task: it lives as long as the page.
    wasm_bindgen_futures::spawn_local(async {
        if let Err(error) = app().await {
            web_sys::console::error_1(&error);
        }
    });
}

/// What the page streams from, read from the query string.
struct Config {
    ticker: String,
    chat: String,
    prompt: String,
    speed: Option<f64>,
}

impl Config {
    fn from_query(query: &str) -> Config {
        let params = UrlSearchParams::new_with_str(query).ok();
        let get = |name: &str| params.as_ref().and_then(|p| p.get(name));
        Config {
            ticker: get("ticker").unwrap_or_else(|| "/api/examples/ticker?interval_ms=500".into()),
            chat: get("chat").unwrap_or_else(|| "/api/chat".into()),
            prompt: get("prompt").unwrap_or_else(|| "What is SSE?".into()),
            speed: get("speed").and_then(|s| s.parse().ok()),
        }
    }
}

#[derive(serde::Deserialize)]
struct Tick {
    tick: u64,
}

#[derive(serde::Deserialize)]
struct Delta {
    text: String,
}

async fn app() -> Result<(), JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let document = window.document().ok_or("no document")?;
    let body = document.body().ok_or("no body")?;
    let config = Config::from_query(&window.location().search()?);

    let title = element(&document, "h1", "", "websse with plain wasm-bindgen")?;
    body.append_child(&title)?;
    let toggle = element(&document, "button", "toggle", "Unmount")?;
    body.append_child(&toggle)?;
    loop {
        // Mounted: the streams run until both end by themselves or the button closes them.
        let section = element(&document, "section", "streams", "")?;
        body.append_child(&section)?;
        let ticker = TickerView::new(&document, &section)?;
        let counter = CounterView::new(&document, &section)?;
        let chat = ChatView::new(&document, &section)?;
        // Two subscribers of one shared stream: one connection, each its own copy of the items.
        // The connection opens with the first subscriber and closes with the last.
        let shared = ticker.share(&config);
        let tick_stream = shared.as_ref().map(SharedStream::subscribe);
        let count_stream = shared.as_ref().map(SharedStream::subscribe);
        let chat_stream = chat.open(&config);
        let mut handles: Vec<CloseHandle> = [&tick_stream, &count_stream]
            .into_iter()
            .flatten()
            .map(|s| s.close_handle())
            .collect();
        handles.extend(chat_stream.as_ref().map(EventStream::close_handle));
        let unmount = async {
            clicked(&toggle).await?;
            handles.iter().for_each(CloseHandle::close);
            Ok::<_, JsValue>(())
        };
        let ((), (), (), unmounted) = join4(
            ticker.run(tick_stream),
            counter.run(count_stream),
            chat.run(chat_stream),
            unmount,
        )
        .await;
        unmounted?;
        // Every stream has ended and was dropped: the connections are closed.
        section.remove();

        toggle.set_text_content(Some("Mount"));
        clicked(&toggle).await?;
        toggle.set_text_content(Some("Unmount"));
    }
}

/// The ticker's part of the page.
struct TickerView {
    tick: Element,
    state: Element,
}

impl TickerView {
    fn new(document: &Document, parent: &Element) -> Result<TickerView, JsValue> {
        let block = element(document, "p", "ticker", "tick ")?;
        let tick = element(document, "strong", "tick", "-")?;
        let state = element(document, "span", "ticker-state", "")?;
        block.append_child(&tick)?;
        block.append_with_str_1(" ")?;
        block.append_child(&state)?;
        parent.append_child(&block)?;
        Ok(TickerView { tick, state })
    }

    /// The browser's own `EventSource` (GET only, it reconnects by itself), shared.
    fn share(&self, config: &Config) -> Option<SharedStream> {
        let shared = SseRequest::get(&config.ticker)
            .transport(Transport::EventSource)
            .share();
        shared.map_err(|error| self.show(&error.to_string())).ok()
    }

    async fn run(&self, stream: Option<impl Stream<Item = Result<Item, Error>> + Unpin>) {
        let Some(mut stream) = stream else { return };
        while let Some(item) = stream.next().await {
            match item {
                Ok(Item::Message(msg)) => match msg.json::<Tick>() {
                    Ok(t) => self.tick.set_text_content(Some(&t.tick.to_string())),
                    Err(error) => self.show(&error.to_string()),
                },
                Ok(Item::State(state)) => self.show(state.as_str()),
                Ok(_) => {}
                // A fatal error is the stream's last item.
                Err(error) => self.show(&error.to_string()),
            }
        }
    }

    fn show(&self, state: &str) {
        let _ = self.state.set_attribute("data-state", state);
        self.state.set_text_content(Some(state));
    }
}

/// The second subscriber of the ticker: how many ticks it has seen.
struct CounterView {
    count: Element,
}

impl CounterView {
    fn new(document: &Document, parent: &Element) -> Result<CounterView, JsValue> {
        let block = element(document, "p", "counter", "ticks seen: ")?;
        let count = element(document, "strong", "ticks-seen", "0")?;
        block.append_child(&count)?;
        parent.append_child(&block)?;
        Ok(CounterView { count })
    }

    async fn run(&self, stream: Option<impl Stream<Item = Result<Item, Error>> + Unpin>) {
        let Some(mut stream) = stream else { return };
        let mut seen = 0u64;
        while let Some(item) = stream.next().await {
            if let Ok(Item::Message(_)) = item {
                seen += 1;
                self.count.set_text_content(Some(&seen.to_string()));
            }
        }
    }
}

/// The chat's part of the page.
struct ChatView {
    status: Element,
    answer: Element,
    view: RefCell<Option<MarkdownView>>,
}

impl ChatView {
    fn new(document: &Document, parent: &Element) -> Result<ChatView, JsValue> {
        let status = element(document, "p", "chat-state", "")?;
        let answer = element(document, "div", "answer", "")?;
        parent.append_child(&status)?;
        parent.append_child(&answer)?;
        let view = ChatView {
            status,
            answer,
            view: RefCell::new(None),
        };
        view.show("connecting", "");
        Ok(view)
    }

    /// fetch: a POST with a JSON body, which `EventSource` cannot send.
    fn open(&self, config: &Config) -> Option<EventStream> {
        let mut body = serde_json::json!({
            "messages": [{ "role": "user", "content": config.prompt }],
        });
        if let Some(speed) = config.speed {
            body["speed"] = speed.into();
        }
        let opened = SseRequest::post(&config.chat)
            .json(&body)
            .events(["start", "delta", "done"])
            .open();
        opened
            .map_err(|error| self.show("failed", &error.to_string()))
            .ok()
    }

    async fn run(&self, stream: Option<EventStream>) {
        let Some(stream) = stream else { return };
        // The view owns the answer element's children: it renders completed blocks once and the
        // open tail once per animation frame, with a cursor after the last character. It stays
        // after the answer ends (its copy buttons work while it lives) and goes with this view.
        *self.view.borrow_mut() = Some(MarkdownView::new(
            self.answer.clone(),
            // The defaults: a blinking cursor and copy buttons, no image from another origin.
            Options::default(),
        ));
        let ended = self.read(stream).await;
        // Done, failed or closed: what arrived stays, rendered as final, and the cursor goes.
        if let Some(view) = self.view.borrow_mut().as_mut() {
            view.finish();
        }
        match ended {
            Ok(true) => self.show("done", ""),
            Ok(false) => {}
            Err(error) => self.show("failed", &error),
        }
    }

    /// Feeds the deltas to the view; `Ok(true)` at `done`, `Ok(false)` when the stream closed.
    async fn read(&self, stream: EventStream) -> Result<bool, String> {
        let mut messages = stream.messages();
        while let Some(msg) = messages.next().await {
            let msg = msg.map_err(|error| error.to_string())?;
            match msg.event_type() {
                "start" => self.show("streaming", ""),
                "delta" => {
                    let delta = msg.json::<Delta>().map_err(|error| error.to_string())?;
                    if let Some(view) = self.view.borrow_mut().as_mut() {
                        view.push(&delta.text);
                    }
                }
                // The answer is complete: stop here rather than let fetch reconnect.
                "done" => return Ok(true),
                _ => {}
            }
        }
        Ok(false)
    }

    fn show(&self, state: &str, detail: &str) {
        let _ = self.status.set_attribute("data-state", state);
        let text = if detail.is_empty() {
            state.to_owned()
        } else {
            format!("{state}: {detail}")
        };
        self.status.set_text_content(Some(&text));
    }
}

/// A new element with a `data-testid` (when not empty) and text.
fn element(document: &Document, tag: &str, test_id: &str, text: &str) -> Result<Element, JsValue> {
    let element = document.create_element(tag)?;
    if !test_id.is_empty() {
        element.set_attribute("data-testid", test_id)?;
    }
    if !text.is_empty() {
        element.set_text_content(Some(text));
    }
    Ok(element)
}

/// Resolves at the next click on `target`. The listener and its closure live only as long as
/// this future: both are gone when it completes or is dropped.
async fn clicked(target: &EventTarget) -> Result<(), JsValue> {
    let (sender, receiver) = oneshot::channel();
    let mut sender = Some(sender);
    let listener = Listener::add(target, "click", move || {
        if let Some(sender) = sender.take() {
            let _ = sender.send(());
        }
    })?;
    let _ = receiver.await;
    drop(listener);
    Ok(())
}

/// An event listener, removed when dropped (the closure is owned here, never leaked).
struct Listener {
    target: EventTarget,
    kind: &'static str,
    callback: Closure<dyn FnMut()>,
}

impl Listener {
    fn add(
        target: &EventTarget,
        kind: &'static str,
        callback: impl FnMut() + 'static,
    ) -> Result<Listener, JsValue> {
        let callback = Closure::<dyn FnMut()>::new(callback);
        target.add_event_listener_with_callback(kind, callback.as_ref().unchecked_ref())?;
        Ok(Listener {
            target: target.clone(),
            kind,
            callback,
        })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self
            .target
            .remove_event_listener_with_callback(self.kind, self.callback.as_ref().unchecked_ref());
    }
}

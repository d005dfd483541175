//! `bare` plus one gloo-net EventSource subscription: each message's data goes into the page.

use futures_util::StreamExt;
use gloo_net::eventsource::futures::EventSource;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(start)]
pub fn start() {
    wasm_bindgen_futures::spawn_local(async {
        show("ready");
        let Ok(mut source) = EventSource::new("/sse") else {
            return show("cannot open");
        };
        let Ok(mut messages) = source.subscribe("message") else {
            return show("cannot subscribe");
        };
        while let Some(item) = messages.next().await {
            match item {
                Ok((_, msg)) => show(&msg.data().as_string().unwrap_or_default()),
                Err(_) => show("failed"),
            }
        }
        source.close();
    });
}

/// Appends `text` to the page as one line.
fn show(text: &str) {
    if let Some(body) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
    {
        let _ = body.insert_adjacent_text("beforeend", text);
    }
}

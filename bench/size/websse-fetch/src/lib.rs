//! `bare` plus one websse stream over fetch: each message's data goes into the page.

use futures_util::StreamExt;
use wasm_bindgen::prelude::*;
use websse::{Item, SseRequest};

#[wasm_bindgen(start)]
pub fn start() {
    wasm_bindgen_futures::spawn_local(async {
        show("ready");
        let Ok(mut stream) = SseRequest::get("/sse").open() else {
            return show("cannot open");
        };
        while let Some(item) = stream.next().await {
            match item {
                Ok(Item::Message(msg)) => show(msg.data()),
                Ok(_) => {}
                Err(_) => show("failed"),
            }
        }
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

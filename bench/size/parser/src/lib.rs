//! `bare` plus websse-core's parser: `parse(bytes)` feeds it and writes each event's data into
//! the page, so the parser is all that this app adds.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(start)]
pub fn start() {
    wasm_bindgen_futures::spawn_local(async {
        show("ready");
    });
}

/// Feeds `chunk` to a fresh parser and shows each event's data; returns how many there were.
#[wasm_bindgen]
pub fn parse(chunk: &[u8]) -> u32 {
    let mut parser = websse_core::Parser::new();
    let mut count = 0;
    for event in parser.feed(chunk).flatten() {
        show(event.data());
        count += 1;
    }
    count
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

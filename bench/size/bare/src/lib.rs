//! The baseline the other apps are measured against: start, spawn a future, write into the page.
//! Each other app is this one plus reading one SSE stream into the same `show`.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(start)]
pub fn start() {
    wasm_bindgen_futures::spawn_local(async {
        show("ready");
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

//! A MarkdownView on the page, driven from the page's script: `start()` makes a fresh view in
//! `#answer`, `push(delta)` streams, `finish()` ends the answer. The pacing (3,000 deltas/s) is
//! the script's, so the wasm side is only what an app would call.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;
use websse_markdown::{MarkdownView, Options};

thread_local! {
    static VIEW: RefCell<Option<MarkdownView>> = const { RefCell::new(None) };
}

/// A fresh view in `#answer` (the previous one is dropped, its nodes cleared by the new one).
#[wasm_bindgen]
pub fn start() {
    let el = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("answer"));
    VIEW.with(|v| *v.borrow_mut() = el.map(|e| MarkdownView::new(e, Options::default())));
}

/// Appends a delta; it renders at the next animation frame.
#[wasm_bindgen]
pub fn push(delta: &str) {
    VIEW.with(|v| v.borrow_mut().as_mut().map(|view| view.push(delta)));
}

/// Ends the answer: the final render, cursor removed.
#[wasm_bindgen]
pub fn finish() {
    VIEW.with(|v| v.borrow_mut().as_mut().map(MarkdownView::finish));
}

/// The crate's stylesheet (the cursor's blink), for the page's `<style>`.
#[wasm_bindgen]
pub fn css() -> String {
    websse_markdown::CSS.to_owned()
}

//! `bare` plus websse-markdown: an exported `stream(delta)` pushes into a `MarkdownView` on the
//! page and `done()` finishes it; `once(markdown)` renders a whole text. Its size over
//! `size-pulldown-cmark` is what the Markdown layer adds to the parser it uses.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;
use websse_markdown::{MarkdownView, Options, render_once};

thread_local! {
    static VIEW: RefCell<Option<MarkdownView>> = const { RefCell::new(None) };
}

fn body() -> Option<web_sys::Element> {
    web_sys::window()?.document()?.body().map(Into::into)
}

#[wasm_bindgen(start)]
pub fn start() {
    wasm_bindgen_futures::spawn_local(async {
        if let Some(body) = body() {
            let _ = body.insert_adjacent_text("beforeend", "ready");
        }
    });
}

/// Appends a delta to the streamed answer (created on first use).
#[wasm_bindgen]
pub fn stream(delta: &str) {
    VIEW.with(|v| {
        let mut v = v.borrow_mut();
        if v.is_none() {
            *v = body().map(|b| MarkdownView::new(b, Options::default()));
        }
        if let Some(view) = v.as_mut() {
            view.push(delta);
        }
    });
}

/// Finishes the streamed answer.
#[wasm_bindgen]
pub fn done() {
    VIEW.with(|v| v.borrow_mut().as_mut().map(MarkdownView::finish));
}

/// Renders a whole text into the page.
#[wasm_bindgen]
pub fn once(markdown: &str) {
    if let Some(body) = body() {
        render_once(&body, markdown, &Options::default());
    }
}

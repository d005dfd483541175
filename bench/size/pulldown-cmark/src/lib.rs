//! `bare` plus pulldown-cmark, called the way websse-markdown calls it (tables, strikethrough,
//! task lists; a broken-link callback; offsets; reference definitions): the floor under the
//! Markdown layer's increment.

use pulldown_cmark::{BrokenLink, CowStr, Event, Options, Parser};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(start)]
pub fn start() {
    wasm_bindgen_futures::spawn_local(async {
        show("ready");
    });
}

/// Parses `markdown` and shows its text; returns the number of events and definitions.
#[wasm_bindgen]
pub fn render(markdown: &str) -> u32 {
    let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut broken = 0;
    let callback = |_: BrokenLink<'_>| -> Option<(CowStr<'_>, CowStr<'_>)> {
        broken += 1;
        None
    };
    let mut iter =
        Parser::new_with_broken_link_callback(markdown, opts, Some(callback)).into_offset_iter();
    let mut count = 0;
    for (event, range) in iter.by_ref() {
        if let Event::Text(t) | Event::Code(t) = event {
            show(&t);
        }
        count += range.len() as u32;
    }
    count += iter.reference_definitions().iter().count() as u32;
    drop(iter);
    count + broken
}

/// Appends `text` to the page.
fn show(text: &str) {
    if let Some(body) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
    {
        let _ = body.insert_adjacent_text("beforeend", text);
    }
}

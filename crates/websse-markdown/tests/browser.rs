//! Browser tests (wasm-bindgen-test, run by `wasm-pack test` in Chromium, Firefox and WebKit):
//! the real DOM, real layout, real selection.
#![cfg(target_arch = "wasm32")]

mod common;

use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Element, Node};
use websse_markdown::{CSS, MarkdownView, Options, render_once};

wasm_bindgen_test_configure!(run_in_browser);

fn document() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

/// A visible container in the page, with the crate's stylesheet.
fn container() -> Element {
    let doc = document();
    if doc.get_element_by_id("md-css").is_none() {
        let style = doc.create_element("style").unwrap();
        style.set_id("md-css");
        style.set_text_content(Some(CSS));
        doc.head().unwrap().append_child(&style).unwrap();
    }
    let div = doc.create_element("div").unwrap();
    div.set_attribute("class", "answer").unwrap();
    doc.body().unwrap().append_child(&div).unwrap();
    div
}

fn chunks(text: &str, size: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let mut j = (i + size).min(text.len());
        while !text.is_char_boundary(j) {
            j += 1;
        }
        out.push(&text[i..j]);
        i = j;
    }
    out
}

#[wasm_bindgen_test]
fn final_dom_equals_render_once_for_every_chunking() {
    let opts = Options::default();
    for doc in common::CORPUS {
        let once = container();
        render_once(&once, doc, &opts);
        for size in [1, 3, 7, 64] {
            let el = container();
            let mut view = MarkdownView::new(el.clone(), opts.clone());
            for (k, c) in chunks(doc, size).into_iter().enumerate() {
                view.push(c);
                // a render for some deltas, several deltas in one frame for others
                if k % 3 == 0 {
                    view.flush();
                }
            }
            view.finish();
            assert_eq!(
                el.inner_html(),
                once.inner_html(),
                "chunk size {size} of {doc:?}"
            );
            el.remove();
        }
        once.remove();
    }
}

/// The last visible text character that is answer text (not a copy button or language label).
fn last_char_rect(root: &Element) -> Option<web_sys::DomRect> {
    let walker = document()
        .create_tree_walker_with_what_to_show(root, 4 /* SHOW_TEXT */)
        .ok()?;
    let mut last = None;
    while let Ok(Some(n)) = walker.next_node() {
        let in_chrome = n
            .parent_element()
            .is_some_and(|p| p.closest("button, .md-lang").ok().flatten().is_some());
        let text = n.text_content().unwrap_or_default();
        if !in_chrome && !text.trim().is_empty() {
            last = Some(n);
        }
    }
    let node = last?;
    let text = node.text_content()?;
    let trimmed = text.trim_end();
    if trimmed.len() < text.len() {
        return None; // ends with white space or a line break: the cursor belongs after it
    }
    let end = text.encode_utf16().count() as u32;
    let range = document().create_range().ok()?;
    range.set_start(&node, end - 1).ok()?;
    range.set_end(&node, end).ok()?;
    Some(range.get_bounding_client_rect())
}

#[wasm_bindgen_test]
fn cursor_is_on_the_line_of_the_last_character_while_streaming() {
    let opts = Options {
        cursor_attributes: vec![("data-testid".into(), "cursor".into())],
        ..Options::default()
    };
    let mut checked = 0;
    for doc in common::CORPUS {
        let el = container();
        let mut view = MarkdownView::new(el.clone(), opts.clone());
        for c in chunks(doc, 5) {
            view.push(c);
            view.flush();
            let Some(cursor) = el.query_selector("[data-testid=cursor]").unwrap() else {
                continue;
            };
            assert_eq!(cursor.get_attribute("aria-hidden").as_deref(), Some("true"));
            // an empty block (a fence just opened): the cursor starts its first line, with no
            // character to share a line with
            let block = cursor.parent_element().and_then(|p| p.text_content());
            if block.unwrap_or_default().is_empty() {
                continue;
            }
            let Some(last) = last_char_rect(&el) else {
                continue;
            };
            let cur = cursor.get_bounding_client_rect();
            let overlap = last.top() < cur.bottom() && cur.top() < last.bottom();
            assert!(
                overlap,
                "cursor {:?} not on the line of the last character {:?} after {:?}\n{}",
                (cur.top(), cur.bottom()),
                (last.top(), last.bottom()),
                &*view.text(),
                el.inner_html()
            );
            checked += 1;
        }
        view.finish();
        assert!(
            el.query_selector("[data-testid=cursor]").unwrap().is_none(),
            "cursor left after finish"
        );
        el.remove();
    }
    assert!(checked > 100, "only {checked} points checked");
}

#[wasm_bindgen_test]
fn a_selection_in_the_first_paragraph_survives_the_stream() {
    let doc = common::CORPUS[2];
    let el = container();
    let mut view = MarkdownView::new(el.clone(), Options::default());
    let parts = chunks(doc, 4);
    let mut k = 0;
    // stream until the first paragraph is committed: the block after it starts on a complete line
    while !view.text().contains("Sub title\n") {
        view.push(parts[k]);
        view.flush();
        k += 1;
    }
    let p = el.query_selector("p").unwrap().unwrap();
    let text: Node = p.first_child().unwrap();
    let range = document().create_range().unwrap();
    range.set_start(&text, 2).unwrap();
    range.set_end(&text, 8).unwrap();
    let selection = web_sys::window().unwrap().get_selection().unwrap().unwrap();
    selection.remove_all_ranges().unwrap();
    selection.add_range(&range).unwrap();
    let selected = selection.to_string();
    for c in &parts[k..] {
        view.push(c);
        view.flush();
    }
    view.finish();
    assert_eq!(selection.range_count(), 1);
    let now = selection.get_range_at(0).unwrap();
    assert!(
        now.start_container().unwrap().is_same_node(Some(&text)),
        "selection moved to another node"
    );
    assert!(
        text.is_connected(),
        "the selected text node left the document"
    );
    assert_eq!(String::from(selection.to_string()), String::from(selected));
    selection.remove_all_ranges().unwrap();
    el.remove();
}

#[wasm_bindgen_test]
fn xss_corpus_runs_nothing_and_requests_no_foreign_resource() {
    let opts = Options::default();
    for doc in common::XSS {
        let el = container();
        let mut view = MarkdownView::new(el.clone(), opts.clone());
        for c in chunks(doc, 2) {
            view.push(c);
            view.flush();
        }
        view.finish();
        let once = container();
        render_once(&once, doc, &opts);
        for root in [&el, &once] {
            assert_eq!(
                root.query_selector_all("script, iframe, img, object, embed, style, link")
                    .unwrap()
                    .length(),
                0,
                "{}",
                root.inner_html()
            );
            let all = root.query_selector_all("*").unwrap();
            for i in 0..all.length() {
                let e: Element = all.item(i).unwrap().unchecked_into();
                let names = e.get_attribute_names();
                for n in names.iter() {
                    let n = n.as_string().unwrap().to_ascii_lowercase();
                    assert!(
                        !n.starts_with("on") && n != "style" && n != "src",
                        "attribute {n} on <{}>",
                        e.tag_name()
                    );
                }
                if let Some(href) = e.get_attribute("href") {
                    let h = href.trim().to_ascii_lowercase();
                    assert!(
                        !h.starts_with("javascript:")
                            && !h.starts_with("data:")
                            && !h.starts_with("vbscript:"),
                        "href {href}"
                    );
                }
            }
        }
        el.remove();
        once.remove();
    }
    let perf = web_sys::window().unwrap().performance().unwrap();
    let entries = perf.get_entries_by_type("resource");
    for i in 0..entries.length() {
        let e: web_sys::PerformanceEntry = entries.get(i).unchecked_into();
        assert!(
            !e.name().contains("198.51.100.1") && !e.name().contains("evil.example"),
            "request to {}",
            e.name()
        );
    }
}

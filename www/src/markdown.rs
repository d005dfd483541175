//! Answers as Markdown: each turn owns a [`websse_markdown::MarkdownView`] over its answer element.
//!
//! The view renders outside the virtual DOM (Yew renders the answer element empty and never
//! touches its children): completed blocks once, the open tail at most once per animation frame,
//! the cursor inline after the last character. Nothing of the answer is parsed as HTML.

use std::cell::RefCell;
use std::rc::Rc;

use web_sys::Element;
#[cfg(target_arch = "wasm32")]
use {
    wasm_bindgen::prelude::wasm_bindgen,
    websse_markdown::{MarkdownView, Options},
};

/// The view exists in the browser only. A native build (the state's unit tests) has this empty
/// stand-in, so turns still own a view there.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug)]
struct MarkdownView;

#[cfg(not(target_arch = "wasm32"))]
impl MarkdownView {
    fn new(_container: Element) -> Self {
        MarkdownView
    }
    fn push(&mut self, _delta: &str) {}
    fn is_finished(&self) -> bool {
        true
    }
    fn finish(&mut self) {}
}

/// The chat's rendering options: the cursor carries the chat's `cursor` test hook, code blocks
/// get a copy button, and no image is loaded from another origin.
#[cfg(target_arch = "wasm32")]
fn options() -> Options {
    Options {
        image_origins: Vec::new(),
        cursor: true,
        cursor_class: "cursor".into(),
        cursor_attributes: vec![
            ("data-testid".into(), "cursor".into()),
            ("aria-hidden".into(), "true".into()),
        ],
        copy_buttons: true,
    }
}

/// One answer's view, shared by the turn (which owns it: dropping the last turn clone drops the
/// view) and the typewriter (which feeds it while the answer streams). Cheap to clone.
///
/// Not `Send`, and compared by identity: a turn's view is the same view across renders.
#[derive(Clone, Default)]
pub struct AnswerView(Rc<RefCell<Option<MarkdownView>>>);

impl std::fmt::Debug for AnswerView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnswerView").finish_non_exhaustive()
    }
}

impl PartialEq for AnswerView {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl AnswerView {
    /// Renders into `container` from now on, starting empty (a retried answer starts over).
    pub fn start(&self, container: Element) {
        let mut slot = self.0.borrow_mut();
        // The old view goes first: it owns the container's children until it is dropped.
        *slot = None;
        container.set_text_content(None);
        #[cfg(target_arch = "wasm32")]
        let view = MarkdownView::new(container, options());
        #[cfg(not(target_arch = "wasm32"))]
        let view = MarkdownView::new(container);
        *slot = Some(view);
    }

    /// Appends streamed text; the view shows it at the next animation frame.
    pub fn push(&self, delta: &str) {
        if let Some(view) = self.0.borrow_mut().as_mut() {
            view.push(delta);
        }
    }

    /// The answer has ended (done, stopped, failed): render what arrived as final, without the
    /// cursor.
    pub fn finish(&self) {
        if let Some(view) = self.0.borrow_mut().as_mut()
            && !view.is_finished()
        {
            view.finish();
        }
    }
}

/// Test hook: renders `markdown` into `container` all at once (one push, then finish) with the
/// chat's options, so browser tests can compare a streamed answer with the rendering of the whole
/// text on the same page. The crate guarantees (and tests) that a finished view equals
/// `render_once`; calling `render_once` here would link its separate one-shot path, about 6 kB of
/// gzipped wasm, for a test. Trunk's loader exposes it as `window.wasmBindings.render_markdown`.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen]
pub fn render_markdown(container: &Element, markdown: &str) {
    let mut view = MarkdownView::new(container.clone(), options());
    view.push(markdown);
    view.finish();
    // Dropping a finished view leaves its rendering in place.
}

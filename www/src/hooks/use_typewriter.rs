//! `use_typewriter`: appends streamed text to the DOM once per animation frame, outside the
//! virtual DOM.
//!
//! Rendering a growing answer through Yew would rebuild and re-diff the whole string on every
//! token: O(n) per token, O(n^2) per answer. Here the text never enters the virtual DOM: tokens
//! are collected in `pending`, and one `requestAnimationFrame` callback per frame appends them to
//! a DOM `Text` node with `appendData`. A text node is capped at [`NODE_CHUNK`] bytes and then a
//! new one is started, so even the browser's copy of the node's data stays proportional to the
//! new text. The target element is rendered empty by Yew, so Yew never touches its children.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{Element, Text};
use yew::prelude::*;

/// Largest text node the typewriter appends to before starting a new one.
const NODE_CHUNK: usize = 8 * 1024;

#[derive(Default)]
struct Inner {
    /// Where the text goes (the streaming answer's text element).
    target: Option<Element>,
    /// The text node being appended to, and its length in bytes.
    node: Option<(Text, usize)>,
    /// Text received since the last frame.
    pending: String,
    /// The scheduled frame, if any.
    frame: Option<i32>,
    /// The frame callback; one closure for the hook's lifetime, dropped on unmount.
    on_frame: Option<Closure<dyn FnMut(f64)>>,
}

impl Inner {
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let Some(target) = &self.target else {
            // Nowhere to write (detached): keep nothing.
            self.pending.clear();
            return;
        };
        let full = matches!(&self.node, Some((_, len)) if *len >= NODE_CHUNK);
        if self.node.is_none() || full {
            let Some(document) = target.owner_document() else {
                self.pending.clear();
                return;
            };
            let text = document.create_text_node("");
            if target.append_child(&text).is_err() {
                self.pending.clear();
                return;
            }
            self.node = Some((text, 0));
        }
        if let Some((text, len)) = &mut self.node {
            // appendData cannot fail for an in-range append; ignore the Result defensively.
            let _ = text.append_data(&self.pending);
            *len += self.pending.len();
        }
        self.pending.clear();
    }

    fn cancel_frame(&mut self) {
        if let Some(id) = self.frame.take()
            && let Some(window) = web_sys::window()
        {
            let _ = window.cancel_animation_frame(id);
        }
    }
}

/// Handle returned by [`use_typewriter`]; cheap to clone, stable across renders.
#[derive(Clone)]
pub struct Typewriter {
    inner: Rc<RefCell<Inner>>,
}

impl std::fmt::Debug for Typewriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Typewriter").finish_non_exhaustive()
    }
}

impl PartialEq for Typewriter {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Typewriter {
    /// Queues `text`; it appears at the next animation frame.
    pub fn push(&self, text: &str) {
        let mut inner = self.inner.borrow_mut();
        if inner.target.is_none() || text.is_empty() {
            return;
        }
        inner.pending.push_str(text);
        if inner.frame.is_none()
            && let (Some(window), Some(on_frame)) = (web_sys::window(), &inner.on_frame)
            && let Ok(id) = window.request_animation_frame(on_frame.as_ref().unchecked_ref())
        {
            inner.frame = Some(id);
        }
    }

    /// Writes into `target` from now on, starting from an empty element.
    pub fn attach(&self, target: Element) {
        let mut inner = self.inner.borrow_mut();
        inner.cancel_frame();
        inner.pending.clear();
        inner.node = None;
        target.set_text_content(None);
        inner.target = Some(target);
    }

    /// Writes out what is pending now (the text stays) and stops writing.
    pub fn detach(&self) {
        let mut inner = self.inner.borrow_mut();
        inner.cancel_frame();
        inner.flush();
        inner.node = None;
        inner.target = None;
    }
}

/// A [`Typewriter`] whose frame callback lives as long as the component.
///
/// The hook owns the `requestAnimationFrame` closure; unmounting cancels a scheduled frame and
/// drops it.
#[hook]
pub fn use_typewriter() -> Typewriter {
    let inner: Rc<RefCell<Inner>> = (*use_memo((), |_| {
        let inner = Rc::new(RefCell::new(Inner::default()));
        let weak: Weak<RefCell<Inner>> = Rc::downgrade(&inner);
        let on_frame = Closure::<dyn FnMut(f64)>::new(move |_time: f64| {
            if let Some(inner) = weak.upgrade() {
                let mut inner = inner.borrow_mut();
                inner.frame = None;
                inner.flush();
            }
        });
        inner.borrow_mut().on_frame = Some(on_frame);
        inner
    }))
    .clone();
    {
        let inner = Rc::clone(&inner);
        use_effect_with((), move |_| {
            move || {
                let mut inner = inner.borrow_mut();
                inner.cancel_frame();
                inner.target = None;
                inner.on_frame = None;
            }
        });
    }
    Typewriter { inner }
}

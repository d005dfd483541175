//! `use_typewriter`: appends streamed text to the DOM once per animation frame, outside the
//! virtual DOM.
//!
//! Rendering a growing answer through Yew would rebuild and re-diff the whole string on every
//! token: O(n) per token, O(n^2) per answer. Here the text never enters the virtual DOM: tokens
//! are collected in `pending`, and one `requestAnimationFrame` callback per frame appends them to
//! a DOM `Text` node with `appendData`. The target element is rendered empty by Yew, so Yew never
//! touches its children.
//!
//! The browser's side matters too: one growing paragraph is laid out again as a whole on every
//! append, which is O(n) per frame. So the text goes into segments (`<span class="seg">`): once a
//! segment holds [`SEGMENT`] bytes it is sealed at the next line break (or, in a paragraph without
//! one, at a space once it holds twice that) and a new one starts. A sealed segment is a
//! full-width `inline-block` (see `styles.css`), a formatting context of its own whose layout the
//! browser keeps, so each frame lays out only the open segment and the cursor after it.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use gloo_render::{AnimationFrame, request_animation_frame};
use web_sys::{Element, Text};
use yew::prelude::*;

/// Size at which a segment is sealed at the next line break.
const SEGMENT: usize = 4 * 1024;

#[derive(Default)]
struct Inner {
    /// Where the text goes (the streaming answer's text element).
    target: Option<Element>,
    /// The open segment, its text node, and its length in bytes.
    node: Option<(Element, Text, usize)>,
    /// Text received since the last frame.
    pending: String,
    /// The scheduled frame, if any; dropping it cancels the frame and frees its callback.
    frame: Option<AnimationFrame>,
}

impl Inner {
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        let mut rest = pending.as_str();
        while !rest.is_empty() {
            let Some((_, text, len)) = self.open_segment() else {
                return;
            };
            let split = if *len + rest.len() < SEGMENT {
                None
            } else if let Some(i) = rest.rfind('\n') {
                Some(i + 1)
            } else if *len + rest.len() >= 2 * SEGMENT {
                rest.rfind(' ').map(|i| i + 1)
            } else {
                None
            };
            let (now, later) = rest.split_at(split.unwrap_or(rest.len()));
            // appendData cannot fail for an append; ignore the Result defensively.
            let _ = text.append_data(now);
            *len += now.len();
            if split.is_some()
                && let Some((segment, _, _)) = self.node.take()
            {
                segment.set_class_name("seg sealed");
            }
            rest = later;
        }
        // Keep the allocation for the next frame.
        self.pending = pending;
        self.pending.clear();
    }

    /// The segment being written, created on first use.
    fn open_segment(&mut self) -> Option<&mut (Element, Text, usize)> {
        if self.node.is_none() {
            let target = self.target.as_ref()?;
            let document = target.owner_document()?;
            let segment = document.create_element("span").ok()?;
            segment.set_class_name("seg");
            let text = document.create_text_node("");
            segment.append_child(&text).ok()?;
            target.append_child(&segment).ok()?;
            self.node = Some((segment, text, 0));
        }
        self.node.as_mut()
    }

    fn cancel_frame(&mut self) {
        self.frame = None;
    }

    /// Schedules a frame that flushes `this`, unless one is scheduled already. The callback holds
    /// only a weak reference, so a frame never keeps the typewriter alive.
    fn schedule(this: &Rc<RefCell<Inner>>, inner: &mut Inner) {
        if inner.frame.is_some() {
            return;
        }
        let weak: Weak<RefCell<Inner>> = Rc::downgrade(this);
        inner.frame = Some(request_animation_frame(move |_time| {
            if let Some(inner) = weak.upgrade() {
                let mut inner = inner.borrow_mut();
                // The frame has run; dropping its handle now cancels nothing.
                inner.frame = None;
                inner.flush();
            }
        }));
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
        Inner::schedule(&self.inner, &mut inner);
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

/// A [`Typewriter`] that stops writing when the component goes away.
///
/// Each frame is a [`gloo_render::request_animation_frame`] handle owned by the typewriter;
/// unmounting drops it, which cancels a scheduled frame and frees its callback.
#[hook]
pub fn use_typewriter() -> Typewriter {
    let inner: Rc<RefCell<Inner>> = use_mut_ref(Inner::default);
    {
        let inner = Rc::clone(&inner);
        use_effect_with((), move |_| {
            move || {
                let mut inner = inner.borrow_mut();
                inner.cancel_frame();
                inner.target = None;
            }
        });
    }
    Typewriter { inner }
}

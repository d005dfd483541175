//! The browser layer: applies the core's ops to real nodes, once per animation frame.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use gloo_events::EventListener;
use gloo_render::{AnimationFrame, request_animation_frame};
use wasm_bindgen::JsCast;
use web_sys::{Document, Element, Node};

use crate::stream::normalize_line_ends;
use crate::{MarkdownStream, Op, Options, ROOT, render_ops};

/// Real nodes by [`crate::NodeId`]; the slot of a removed node is overwritten when its id is reused.
struct Applier {
    doc: Document,
    nodes: Vec<Option<Node>>,
    cursor: Option<Element>,
    opts: Options,
}

impl Applier {
    fn new(container: &Element, opts: &Options) -> Self {
        // Clearing is `textContent = null`: no HTML parser involved.
        container.set_text_content(None);
        let doc = container.owner_document().unwrap_or_else(window_document);
        Applier {
            doc,
            nodes: vec![Some(container.clone().unchecked_into())],
            cursor: None,
            opts: opts.clone(),
        }
    }

    fn set(&mut self, id: u32, node: Node) {
        let i = id as usize;
        if self.nodes.len() <= i {
            self.nodes.resize(i + 1, None);
        }
        self.nodes[i] = Some(node);
    }

    fn get(&self, id: u32) -> Option<&Node> {
        self.nodes.get(id as usize).and_then(Option::as_ref)
    }

    /// DOM calls fail only on a wrong op stream (a bug here, not in the page): skip that op.
    fn apply(&mut self, ops: &[Op]) {
        for op in ops {
            match op {
                Op::Element { id, tag, attrs } => {
                    let Ok(el) = self.doc.create_element(tag) else {
                        continue;
                    };
                    for (k, v) in attrs {
                        let _ = el.set_attribute(k, v);
                    }
                    self.set(*id, el.unchecked_into());
                }
                Op::Text { id, text } => {
                    let t = self.doc.create_text_node(text);
                    self.set(*id, t.unchecked_into());
                }
                Op::Append { parent, child } => {
                    if let (Some(p), Some(c)) = (self.get(*parent), self.get(*child)) {
                        let _ = p.append_child(c);
                    }
                }
                Op::AppendData { id, text } => {
                    if let Some(t) = self.get(*id).and_then(|n| n.dyn_ref::<web_sys::Text>()) {
                        let _ = t.append_data(text);
                    }
                }
                Op::Remove { id } => {
                    if *id != ROOT
                        && let Some(n) = self.nodes.get_mut(*id as usize).and_then(Option::take)
                        && let Some(p) = n.parent_node()
                    {
                        let _ = p.remove_child(&n);
                    }
                }
                Op::Replace { old, new } => {
                    if let (Some(o), Some(n)) = (self.get(*old), self.get(*new))
                        && let Some(p) = o.parent_node()
                    {
                        let _ = p.replace_child(n, o);
                    }
                }
                Op::Cursor { parent: Some(p) } => {
                    let cursor = self.cursor();
                    if let (Some(p), Some(c)) = (self.get(*p), cursor) {
                        let _ = p.append_child(&c);
                    }
                }
                Op::Cursor { parent: None } => {
                    if let Some(c) = &self.cursor {
                        c.remove();
                    }
                }
                _ => {}
            }
        }
    }

    fn cursor(&mut self) -> Option<Element> {
        if self.cursor.is_none() {
            let c = self.doc.create_element("span").ok()?;
            let _ = c.set_attribute("class", &self.opts.cursor_class);
            let _ = c.set_attribute("aria-hidden", "true");
            for (k, v) in &self.opts.cursor_attributes {
                let _ = c.set_attribute(k, v);
            }
            self.cursor = Some(c);
        }
        self.cursor.clone()
    }
}

fn window_document() -> Document {
    web_sys::window()
        .and_then(|w| w.document())
        .expect("a document")
}

struct Inner {
    stream: MarkdownStream,
    dom: Applier,
    ops: Vec<Op>,
    /// The frame handle stays here after it fired (dropping a closure from inside its own call
    /// is avoided); the next `schedule` replaces it.
    frame: Option<AnimationFrame>,
    scheduled: bool,
}

impl Inner {
    fn render(&mut self) {
        self.stream.render(&mut self.ops);
        self.dom.apply(&self.ops);
        self.ops.clear();
    }
}

/// A growing Markdown answer rendered into an element. It owns the element's children, its
/// animation-frame callback and its click listener (copy buttons); dropping it cancels the
/// frame, removes the listener and the cursor, and leaves the rendered answer in place.
#[must_use = "dropping it stops rendering"]
pub struct MarkdownView {
    inner: Rc<RefCell<Inner>>,
    _click: Option<EventListener>,
}

impl std::fmt::Debug for MarkdownView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MarkdownView")
            .field("text_len", &self.inner.borrow().stream.text().len())
            .finish()
    }
}

impl MarkdownView {
    /// Take over `container` (its children are removed) and render into it.
    pub fn new(container: Element, options: Options) -> MarkdownView {
        let click = options.copy_buttons.then(|| copy_listener(&container));
        let dom = Applier::new(&container, &options);
        MarkdownView {
            inner: Rc::new(RefCell::new(Inner {
                stream: MarkdownStream::new(options),
                dom,
                ops: Vec::new(),
                frame: None,
                scheduled: false,
            })),
            _click: click,
        }
    }

    /// Append text; the rendering follows at the next animation frame (at most one per frame).
    pub fn push(&mut self, delta: &str) {
        if delta.is_empty() {
            return;
        }
        self.inner.borrow_mut().stream.push(delta);
        self.schedule();
    }

    /// For frameworks that hand over the whole text each time: if `text` extends what was
    /// pushed, push the new suffix; otherwise start again with `text`.
    pub fn set_text(&mut self, text: &str) {
        // The stream keeps line endings as LFs: compare and push in that form.
        let text = &*normalize_line_ends(text);
        let suffix = {
            let inner = self.inner.borrow();
            let old = inner.stream.text();
            (!inner.stream.is_finished() || old == text)
                .then(|| text.strip_prefix(old))
                .flatten()
                .map(str::len)
        };
        match suffix {
            Some(n) => self.push(&text[text.len() - n..]),
            None => {
                let mut guard = self.inner.borrow_mut();
                let inner = &mut *guard;
                inner.stream.reset(&mut inner.ops);
                inner.dom.apply(&inner.ops);
                inner.ops.clear();
                drop(guard);
                self.push(text);
            }
        }
    }

    /// The answer is complete: render now (the DOM equals [`render_once`] of the text) and
    /// remove the cursor.
    pub fn finish(&mut self) {
        let mut guard = self.inner.borrow_mut();
        let inner = &mut *guard;
        inner.frame = None;
        inner.scheduled = false;
        inner.stream.finish(&mut inner.ops);
        inner.dom.apply(&inner.ops);
        inner.ops.clear();
    }

    /// Render pending text now (before reading the DOM, and in tests).
    pub fn flush(&mut self) {
        self.inner.borrow_mut().render();
    }

    /// Everything pushed so far.
    pub fn text(&self) -> std::cell::Ref<'_, str> {
        std::cell::Ref::map(self.inner.borrow(), |i| i.stream.text())
    }

    /// Whether [`finish`](Self::finish) was called.
    pub fn is_finished(&self) -> bool {
        self.inner.borrow().stream.is_finished()
    }

    fn schedule(&mut self) {
        let mut inner = self.inner.borrow_mut();
        if inner.scheduled || inner.stream.is_finished() {
            return;
        }
        inner.scheduled = true;
        let weak: Weak<RefCell<Inner>> = Rc::downgrade(&self.inner);
        inner.frame = Some(request_animation_frame(move |_| {
            if let Some(inner) = weak.upgrade()
                && let Ok(mut inner) = inner.try_borrow_mut()
            {
                inner.scheduled = false;
                inner.render();
            }
        }));
    }
}

impl Drop for MarkdownView {
    fn drop(&mut self) {
        if let Ok(inner) = self.inner.try_borrow()
            && let Some(c) = &inner.dom.cursor
        {
            c.remove();
        }
    }
}

/// One delegated listener for every copy button in the container: the code text goes to
/// `navigator.clipboard`.
fn copy_listener(container: &Element) -> EventListener {
    EventListener::new(container, "click", |event| {
        let Some(button) = event
            .target()
            .and_then(|t| t.dyn_into::<Element>().ok())
            .and_then(|t| t.closest("button.md-copy").ok().flatten())
        else {
            return;
        };
        let code = button
            .parent_element()
            .and_then(|pre| pre.query_selector("code").ok().flatten())
            .and_then(|c| c.text_content())
            .unwrap_or_default();
        if let Some(w) = web_sys::window() {
            // The promise's outcome (a permission refusal) has nowhere useful to go.
            let _ = w.navigator().clipboard().write_text(&code);
        }
    })
}

/// Render `markdown` into `container` at once (history, tests): the same DOM a
/// [`MarkdownView`] leaves after [`finish`](MarkdownView::finish). Copy buttons are rendered
/// but inert: use a finished `MarkdownView` where they should work.
pub fn render_once(container: &Element, markdown: &str, options: &Options) {
    let mut dom = Applier::new(container, options);
    dom.apply(&render_ops(markdown, options));
}

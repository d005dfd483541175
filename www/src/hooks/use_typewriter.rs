//! `use_typewriter`: feeds the streaming answer's Markdown view, outside the virtual DOM.
//!
//! Rendering a growing answer through Yew would rebuild and re-diff the whole answer on every
//! token: O(n) per token, O(n^2) per answer. Here the text never enters the virtual DOM: each
//! delta goes to the turn's [`AnswerView`], whose `MarkdownView` renders completed blocks once and
//! the open tail at most once per animation frame. The typewriter only knows which answer is
//! streaming, and finishes it when it stops streaming.

use std::cell::RefCell;
use std::rc::Rc;

use web_sys::Element;
use yew::prelude::*;

use crate::markdown::AnswerView;

/// Handle returned by [`use_typewriter`]; cheap to clone, stable across renders.
#[derive(Clone)]
pub struct Typewriter {
    /// The streaming answer's view, if any.
    view: Rc<RefCell<Option<AnswerView>>>,
}

impl std::fmt::Debug for Typewriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Typewriter").finish_non_exhaustive()
    }
}

impl PartialEq for Typewriter {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.view, &other.view)
    }
}

impl Typewriter {
    /// Queues `text` for the streaming answer; it appears at the next animation frame.
    pub fn push(&self, text: &str) {
        if let Some(view) = self.view.borrow().as_ref()
            && !text.is_empty()
        {
            view.push(text);
        }
    }

    /// Writes `view` into `target` from now on, starting from an empty element.
    pub fn attach(&self, target: Element, view: AnswerView) {
        view.start(target);
        *self.view.borrow_mut() = Some(view);
    }

    /// The answer stopped streaming (done, stopped, failed): what arrived stays, rendered as
    /// final, and the cursor goes.
    pub fn detach(&self) {
        if let Some(view) = self.view.borrow_mut().take() {
            view.finish();
        }
    }
}

/// A [`Typewriter`] that lets go of the answer when the component goes away (the turn keeps
/// owning its view).
#[hook]
pub fn use_typewriter() -> Typewriter {
    let view: Rc<RefCell<Option<AnswerView>>> = use_mut_ref(|| None);
    {
        let view = Rc::clone(&view);
        use_effect_with((), move |_| {
            move || {
                view.borrow_mut().take();
            }
        });
    }
    Typewriter { view }
}

//! `use_frame_redraw`: at most one re-render per animation frame, however many events ask for it.

use std::cell::RefCell;
use std::rc::Rc;

use gloo_render::{AnimationFrame, request_animation_frame};
use yew::prelude::*;

#[derive(Default)]
struct Frame {
    /// The latest frame asked for; kept after it ran (dropping a frame's handle inside its own
    /// callback would free the closure that is running), replaced by the next request.
    handle: Option<AnimationFrame>,
    pending: bool,
}

/// A callback that re-renders the component at the next animation frame. Calls before that frame
/// share it; unmounting cancels it.
#[hook]
pub fn use_frame_redraw() -> Callback<()> {
    let update = use_force_update();
    let frame: Rc<RefCell<Frame>> = use_mut_ref(Frame::default);
    {
        let frame = Rc::clone(&frame);
        use_effect_with((), move |_| move || drop(frame.borrow_mut().handle.take()));
    }
    Callback::from(move |()| {
        let mut slot = frame.borrow_mut();
        if slot.pending {
            return;
        }
        slot.pending = true;
        let weak = Rc::downgrade(&frame);
        let update = update.clone();
        slot.handle = Some(request_animation_frame(move |_| {
            if let Some(frame) = weak.upgrade() {
                frame.borrow_mut().pending = false;
                update.force_update();
            }
        }));
    })
}

//! `use_sse`: a hook that owns one websse stream for as long as its spec stays the same.

use std::cell::RefCell;
use std::rc::Rc;

use futures::StreamExt;
use futures::future::{AbortHandle, abortable, poll_fn};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::spec::{SpecStream, StreamSpec};
use crate::state::StreamEvent;

/// The stream of the current effect run. Cleanup takes the stream out (dropping it closes the
/// EventSource or aborts the fetch at once, or leaves a shared stream) and aborts the task that
/// polls it.
struct Running {
    slot: Rc<RefCell<Option<SpecStream>>>,
    task: AbortHandle,
}

impl Running {
    fn stop(self) {
        // Take first, drop after the borrow ends: dropping may run JS that calls back.
        let stream = self.slot.borrow_mut().take();
        drop(stream);
        self.task.abort();
    }
}

/// Opens `spec` (if any) and reports every item, then the end, to `on_event` (the latest one
/// passed).
///
/// The stream lives inside the `use_effect_with` for `spec`: a new spec, `None`, or unmounting
/// drops it in the effect's cleanup, which cancels the fetch / closes the EventSource. Nothing is
/// reported after that.
#[hook]
pub fn use_sse(spec: Option<StreamSpec>, on_event: Callback<StreamEvent>) {
    let latest = use_mut_ref(|| on_event.clone());
    *latest.borrow_mut() = on_event;

    use_effect_with(spec, move |spec| {
        let emit = move |event: StreamEvent| {
            let callback = latest.borrow().clone();
            callback.emit(event);
        };
        let running = spec.as_ref().and_then(|spec| match spec.open() {
            Ok(stream) => {
                let slot = Rc::new(RefCell::new(Some(stream)));
                let pump_slot = Rc::clone(&slot);
                let (pump, task) = abortable(async move {
                    loop {
                        let next = poll_fn(|cx| match pump_slot.borrow_mut().as_mut() {
                            Some(stream) => stream.poll_next_unpin(cx).map(Some),
                            None => std::task::Poll::Ready(None),
                        })
                        .await;
                        match next {
                            // Cleanup took the stream: say nothing more.
                            None => return,
                            Some(None) => {
                                emit(StreamEvent::End);
                                return;
                            }
                            Some(Some(Ok(item))) => emit(StreamEvent::Item(item)),
                            Some(Some(Err(error))) => {
                                emit(StreamEvent::Failed(error.to_string()));
                                return;
                            }
                        }
                    }
                });
                spawn_local(async move {
                    let _ = pump.await;
                });
                Some(Running { slot, task })
            }
            Err(error) => {
                emit(StreamEvent::Failed(error.to_string()));
                None
            }
        });
        move || {
            if let Some(running) = running {
                running.stop();
            }
        }
    });
}

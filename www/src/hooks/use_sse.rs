//! `use_sse`: a hook that owns one websse stream for as long as its spec stays the same.

use std::cell::RefCell;
use std::rc::Rc;

use futures::StreamExt;
use futures::future::{AbortHandle, abortable, poll_fn};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::spec::{SpecStream, StreamSpec};

/// What the stream reports to the component.
#[derive(Debug)]
pub enum SseSignal {
    /// A message.
    Message(websse::Message),
    /// A connection-state change.
    State(websse::ConnectionState),
    /// The request could not be opened, or the stream failed; nothing follows.
    Error(String),
    /// Messages were lost (an event over the size limit was skipped); the stream goes on.
    Warning(String),
    /// A stream shared across tabs: this tab's role or the number of tabs sharing changed.
    Sharing(websse::Sharing),
    /// The stream ended (`None`) without an error.
    End,
}

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

/// Opens `spec` (if any) and reports every item to `on_signal` (the latest one passed).
///
/// The stream lives inside the `use_effect_with` for `spec`: a new spec, `None`, or unmounting
/// drops it in the effect's cleanup, which cancels the fetch / closes the EventSource. Nothing is
/// reported after that.
#[hook]
pub fn use_sse(spec: Option<StreamSpec>, on_signal: Callback<SseSignal>) {
    let latest = use_mut_ref(|| on_signal.clone());
    *latest.borrow_mut() = on_signal;

    use_effect_with(spec, move |spec| {
        let emit = move |signal: SseSignal| {
            let callback = latest.borrow().clone();
            callback.emit(signal);
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
                                emit(SseSignal::End);
                                return;
                            }
                            Some(Some(Ok(websse::Item::Message(message)))) => {
                                emit(SseSignal::Message(message));
                            }
                            Some(Some(Ok(websse::Item::State(state)))) => {
                                emit(SseSignal::State(state));
                            }
                            Some(Some(Ok(websse::Item::Skipped(skipped)))) => {
                                emit(SseSignal::Warning(skipped.to_string()));
                            }
                            Some(Some(Ok(websse::Item::Sharing(sharing)))) => {
                                emit(SseSignal::Sharing(sharing));
                            }
                            // What a later websse may add is not for this app.
                            Some(Some(Ok(_))) => {}
                            Some(Some(Err(error))) => {
                                emit(SseSignal::Error(error.to_string()));
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
                emit(SseSignal::Error(error.to_string()));
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

//! `use_window_keydown`: a window `keydown` listener for as long as the component is mounted.

use gloo_events::{EventListener, EventListenerOptions};
use wasm_bindgen::JsCast;
use web_sys::KeyboardEvent;
use yew::prelude::*;

/// Calls the latest `on_key` for every `keydown` on the window.
///
/// The listener is a [`gloo_events::EventListener`] added once on mount; the effect's cleanup
/// drops it, which removes it from the window and frees its closure. It is not passive (gloo's
/// default is), so `on_key` may call `prevent_default`.
#[hook]
pub fn use_window_keydown(on_key: Callback<KeyboardEvent>) {
    let latest = use_mut_ref(|| on_key.clone());
    *latest.borrow_mut() = on_key;

    use_effect_with((), move |_| {
        let listener = web_sys::window().map(|window| {
            let options = EventListenerOptions::enable_prevent_default();
            EventListener::new_with_options(&window, "keydown", options, move |event| {
                if let Some(event) = event.dyn_ref::<KeyboardEvent>() {
                    let callback = latest.borrow().clone();
                    callback.emit(event.clone());
                }
            })
        });
        move || drop(listener)
    });
}

//! A countdown to the next reconnect attempt.

use gloo_timers::callback::Interval;
use yew::prelude::*;

/// How often the countdown is redrawn while it runs.
const TICK_MS: u32 = 100;

/// Milliseconds left of `wait_ms`, counted from the moment `key` took its current value;
/// `None` when `wait_ms` is `None`. While a wait is running, an [`Interval`] redraws the component
/// every 100 ms; the effect's cleanup drops it (so it stops) when `key` changes or the component
/// goes away.
#[hook]
pub fn use_countdown<K: PartialEq + 'static>(key: K, wait_ms: Option<u64>) -> Option<u64> {
    let left = use_state_eq(|| wait_ms);
    {
        let left = left.clone();
        use_effect_with((key, wait_ms), move |(_, wait_ms)| {
            left.set(*wait_ms);
            let interval = wait_ms.map(|wait| {
                let start = js_sys::Date::now();
                Interval::new(TICK_MS, move || {
                    let gone = js_sys::Date::now() - start;
                    // Whole tenths of a second, so equal values do not redraw.
                    let rest = (wait as f64 - gone).max(0.0) as u64 / 100 * 100;
                    left.set(Some(rest));
                })
            });
            move || drop(interval)
        });
    }
    *left
}

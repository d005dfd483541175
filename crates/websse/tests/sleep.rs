//! A sleeping machine, simulated by blocking the page's thread: in a page of its own, since the
//! other browser tests run side by side in theirs and would be held up too.
#![cfg(target_arch = "wasm32")]

use std::time::Duration;

use serde_json::json;
use wasm_bindgen_test::*;
use websse::{ConnectionState, Disconnect};

wasm_bindgen_test_configure!(run_in_browser);

#[path = "common/mod.rs"]
mod common;
use common::*;

/// Blocks the page's only thread for `ms`, as a sleeping machine stops its timers.
fn block_main_thread(ms: f64) {
    let until = now() + ms;
    while now() < until {}
}

#[wasm_bindgen_test]
async fn fetch_a_late_idle_timer_reconnects_at_once() {
    let k = key("slept");
    script(
        &k,
        json!([
            { "chunks": [text_chunk("data: before\n\n")], "end": "hold" },
            { "chunks": [text_chunk("data: after\n\n")], "end": "hold" }
        ]),
    )
    .await;
    let mut stream = open(
        fetch(&k)
            .reconnect(slow_policy())
            .idle_timeout(Duration::from_secs(1)),
    );
    assert_eq!(next_message(&mut stream).await.data(), "before");
    // The 1 s idle timer fires about 3.5 s late: the machine "slept", so the connection is
    // replaced at once instead of after the policy's 20 s.
    block_main_thread(4500.0);
    let start = now();
    let (states, after) = states_until_message(&mut stream).await;
    assert_eq!(after.data(), "after");
    assert!(now() - start < 3000.0, "{} ms: {states:?}", now() - start);
    assert!(
        states.iter().any(|s| matches!(
            s,
            ConnectionState::Reconnecting {
                attempt: 0,
                cause: Disconnect::WokeUp,
                ..
            }
        )),
        "{states:?}"
    );
}

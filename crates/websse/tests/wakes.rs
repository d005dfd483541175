//! Wake-ups, in a page of their own: the other browser tests run side by side in one page, and
//! their activity would poll a stream whose own wake-up is missing.
#![cfg(target_arch = "wasm32")]

use serde_json::json;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[path = "common/mod.rs"]
mod common;
use common::*;

#[wasm_bindgen_test]
async fn eventsource_wakes_once_per_task_and_loses_nothing_across_tasks() {
    let k = key("es-ticks");
    let burst = |from: u32| -> String {
        (from..from + 100)
            .map(|i| format!("data: {i}\n\n"))
            .collect()
    };
    script(
        &k,
        json!([{ "chunks": [
            text_chunk(&burst(0)),
            { "text": burst(100), "delay_ms": 300 },
            { "text": burst(200), "delay_ms": 300 },
        ], "end": "hold" }]),
    )
    .await;
    let started = now();
    let mut stream = open(es(&k));
    for i in 0..300 {
        assert_eq!(next_message(&mut stream).await.data(), i.to_string());
    }
    // A missing wake shows as a stall that only `next_message`'s own 5 s timer ends (its wake
    // polls the stream too); the script takes 0.6 s.
    let ms = now() - started;
    assert!(
        ms < 4500.0,
        "took {ms} ms: a burst waited for another wake-up"
    );
}

//! UI bench: the release build in headless Chromium streams a 20,000-token answer at 3,000
//! tokens/s; reports the longest main-thread task and the main-thread time per animation frame
//! early and late in the answer.
//!
//! Run by `cargo xtask bench` with `WEBSSE_E2E_URL` pointing at a websse-server serving `dist/`.
//! The chat page passes `bench_tokens` and `tps` (tokens_per_second) from its query string on to
//! the chat request.
//!
//! Measurements, all taken in the page:
//! - `longtask` PerformanceObserver entries (tasks over 50 ms), buffered, installed before the
//!   question is sent;
//! - `long-animation-frame` entries where supported (frames over 50 ms, with script time);
//! - a `requestAnimationFrame` loop (frame-to-frame intervals) and a `requestIdleCallback` loop:
//!   busy time of a frame = its interval minus the idle time Chromium handed out in it. That
//!   covers everything the main thread did in the frame: the client's parsing, the app's
//!   handlers, the typewriter's DOM append, style, layout and paint.

use std::time::Duration;

use fantoccini::Client;
use serde_json::Value;
use websse_e2e::frames::{INSTALL, percentile, summarize};
use websse_e2e::{Result, ask, base_url, bench_main, js, open, wait_status};

const TOKENS: u64 = 20_000;
const TPS: u64 = 3_000;

async fn bench(client: Client) -> Result {
    let c = &client;
    open(c, &format!("/?bench_tokens={TOKENS}&tps={TPS}"), "prompt").await?;
    js(c, INSTALL, vec![]).await?;
    let t0 = js(c, "return performance.now();", vec![])
        .await?
        .as_f64()
        .unwrap_or_default();
    ask(c, "bench").await?;
    wait_status(c, &["streaming"], Duration::from_secs(15)).await?;
    let streaming_at = js(c, "return performance.now();", vec![])
        .await?
        .as_f64()
        .unwrap_or_default();
    let end = wait_status(c, &["done", "failed", "stopped"], Duration::from_secs(60)).await?;
    let t1 = js(c, "return performance.now();", vec![])
        .await?
        .as_f64()
        .unwrap_or_default();
    if end != "done" {
        return Err(format!("the bench answer ended as {end}").into());
    }
    let data = js(
        c,
        "window.__bench.stop = true; const b = window.__bench; \
         const a = document.querySelector('[data-testid=\"answer\"]'); \
         return { frames: b.frames, idle: b.idle, longtasks: b.longtasks, loaf: b.loaf, \
                  loafSupported: b.loafSupported, chars: a ? a.textContent.length : 0 };",
        vec![],
    )
    .await?;

    let all = summarize(&data, t0, t1 + 1000.0);
    let span = (t1 - streaming_at).max(1.0);
    let fifth = span / 5.0;
    let early = summarize(&data, streaming_at, streaming_at + fifth);
    let late = summarize(&data, t1 - fifth, t1);

    println!(
        "    {TOKENS} tokens at {TPS} tokens/s: {} characters in {:.1} s (send to done), {} frames",
        data["chars"],
        (t1 - t0) / 1000.0,
        all.frames
    );
    println!(
        "    longest main-thread task (longtask): {}",
        if all.longest_task > 0.0 {
            format!("{:.1} ms", all.longest_task)
        } else {
            "none over 50 ms".to_owned()
        }
    );
    if data["loafSupported"] == Value::Bool(true) {
        println!(
            "    long animation frames: {}, most script time in one: {:.1} ms",
            data["loaf"].as_array().map_or(0, Vec::len),
            all.loaf_script_max
        );
    }
    println!();
    println!(
        "    {:<22} {:>7} {:>13} {:>13} {:>13} {:>15}",
        "part of the answer", "frames", "busy median", "busy p95", "busy max", "frame interval"
    );
    for (name, w) in [
        ("early (first fifth)", &early),
        ("late (last fifth)", &late),
    ] {
        println!(
            "    {:<22} {:>7} {:>10.2} ms {:>10.2} ms {:>10.2} ms {:>9.1} ms p95",
            name,
            w.frames,
            percentile(&w.busy, 0.5),
            percentile(&w.busy, 0.95),
            w.busy.last().copied().unwrap_or_default(),
            percentile(&w.intervals, 0.95),
        );
    }
    println!(
        "    (busy = frame interval minus the idle time Chromium gave requestIdleCallback in it: \
         all main-thread work of the frame)"
    );
    Ok(())
}

fn main() {
    let base = base_url();
    println!("    app: {base}");
    bench_main("ui-bench", bench);
}

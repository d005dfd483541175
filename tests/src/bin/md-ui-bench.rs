//! Markdown UI bench: bench/markdown-ui's page streams Markdown into a `MarkdownView` at 3,000
//! 5-char deltas/s in headless Chromium; reports main-thread time per animation frame (median,
//! p95, max) and the longest task, at 1 KB and 100 KB, for a long list, a code block of
//! 5,000 lines (at 100 KB), a table and a long paragraph line.
//!
//! Run by `cargo xtask bench --ui-only` with `WEBSSE_E2E_URL` pointing at a websse-server serving
//! the page. The 1 KB answers stream in 0.07 s (4 frames): 20 of them are pooled. For 100 KB the
//! last fifth of the stream is shown beside the whole, so that growth with size shows, and a
//! floor: the same text appended by plain script to one text node per frame (in a `pre` for
//! code, else a `p`), no Markdown, to tell the browser's layout from the view's work.

use fantoccini::Client;
use serde_json::{Value, json};
use websse_e2e::frames::{INSTALL, Window, percentile, summarize};
use websse_e2e::{Result, base_url, bench_main, js, open};

const RATE: u64 = 3_000;
const SHAPES: [(&str, &str); 4] = [
    ("list", "a long list"),
    ("code", "a code block"),
    ("table", "a table"),
    ("paragraph", "a long paragraph line"),
];

/// Streams one answer; returns (start, end of streaming, characters).
async fn run(c: &Client, shape: &str, bytes: u64) -> Result<(f64, f64, u64)> {
    let v = c
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             window.__run(arguments[0], arguments[1], arguments[2]).then(done);",
            vec![json!(shape), json!(bytes), json!(RATE)],
        )
        .await?;
    let n = |i: usize| v[i].as_f64().unwrap_or_default();
    Ok((n(0), n(1), n(2) as u64))
}

async fn data(c: &Client) -> Result<Value> {
    js(
        c,
        "const b = window.__bench; return { frames: b.frames, idle: b.idle, \
         longtasks: b.longtasks, loaf: b.loaf };",
        vec![],
    )
    .await
}

/// Several windows as one: frames, busy times and the longest task of each.
fn pool(windows: &[Window]) -> Window {
    let mut all = Window::default();
    for w in windows {
        all.frames += w.frames;
        all.busy.extend(&w.busy);
        all.intervals.extend(&w.intervals);
        all.longest_task = all.longest_task.max(w.longest_task);
    }
    all.busy.sort_by(f64::total_cmp);
    all.intervals.sort_by(f64::total_cmp);
    all
}

fn line(shape: &str, size: &str, w: &Window) {
    println!(
        "    | {shape} | {size} | {} | {:.2} | {:.2} | {:.2} | {} |",
        w.frames,
        percentile(&w.busy, 0.5),
        percentile(&w.busy, 0.95),
        w.busy.last().copied().unwrap_or_default(),
        if w.longest_task > 0.0 {
            format!("{:.0} ms", w.longest_task)
        } else {
            "none".to_owned()
        },
    );
}

async fn bench(client: Client) -> Result {
    let c = &client;
    open(c, "/", "ready").await?;
    js(c, INSTALL, vec![]).await?;
    println!("\n    websse-markdown in Chromium: {RATE} deltas/s of 5 chars, busy ms per frame");
    println!("    | shape | answer | frames | median | p95 | max | longest task over 50 ms |");
    println!("    |---|---|---:|---:|---:|---:|---|");
    for (shape, name) in SHAPES {
        let mut small = Vec::new();
        for _ in 0..20 {
            let (t0, t1, _) = run(c, shape, 1_000).await?;
            small.push(summarize(&data(c).await?, t0, t1 + 20.0));
        }
        line(name, "1 KB (20 runs)", &pool(&small));
        let (t0, t1, chars) = run(c, shape, 100_000).await?;
        let d = data(c).await?;
        line(
            name,
            &format!("{} KB", chars / 1000),
            &summarize(&d, t0, t1 + 20.0),
        );
        let fifth = (t1 - t0) / 5.0;
        line(
            name,
            "last fifth of it",
            &summarize(&d, t1 - fifth, t1 + 20.0),
        );
        // The browser alone: the same text appended to one text node per frame, no Markdown.
        let (t0, t1, _) = run(c, &format!("{shape}-floor"), 100_000).await?;
        let fifth = (t1 - t0) / 5.0;
        line(
            name,
            "floor: appendData, last fifth",
            &summarize(&data(c).await?, t1 - fifth, t1 + 20.0),
        );
    }
    println!(
        "    (busy = frame interval minus the idle time Chromium gave requestIdleCallback in it: \
         all main-thread work of the frame, the view's and the page's pacing script)"
    );
    Ok(())
}

fn main() {
    let base = base_url();
    println!("    page: {base}");
    bench_main("md-ui-bench", bench);
}

//! Leak probe: many connect/close cycles through the inspector, on each transport, counting the
//! browser objects that are still alive afterwards with the browser's own tools.
//!
//! Per transport (fetch, EventSource, and fetch shared across tabs), in a fresh page: a few
//! warm-up cycles, then a snapshot (forced GC, then CDP `Runtime.queryObjects` counts of
//! `EventSource`, `AbortController`, `AbortSignal`, `ReadableStreamDefaultReader`,
//! `ReadableStream`, `Response` and `BroadcastChannel`, the Web Locks held or requested, the app's
//! wasm memory and the JS heap), then N cycles, then the same snapshot. Every count must end where it started (plus a
//! small constant), whatever N is; the wasm memory must not grow by more than a few pages, nor the
//! JS heap by more than 1 MiB.
//!
//! Each cycle is the user's path: a click on Connect, wait for the state to say `open`, a click on
//! Disconnect, wait for `closed`. The clicks are `element.click()` from a script injected through
//! WebDriver (a round trip per WebDriver command would make 1,000 cycles take minutes); they go
//! through the same DOM events and Yew handlers as a user's. Every 50 cycles the log is cleared
//! with its button, so the log's own (bounded) growth does not count as a leak. Before counting, the
//! probe checks that it sees the transport's objects while a stream is open.
//!
//! `cargo xtask test` runs 200 cycles per transport. The full run of the issue:
//! `WEBSSE_LEAK_CYCLES=1000 WEBSSE_E2E_URL=http://127.0.0.1:PORT cargo test -p websse-e2e --test
//! leaks -- --nocapture` against `websse-server --static-dir dist --test-endpoints`.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::json;
use websse_e2e::{Browser, Result, base_url, cdp, js, open, text, tid, wait_for};

/// Cycles per transport unless `WEBSSE_LEAK_CYCLES` says otherwise.
const DEFAULT_CYCLES: u64 = 200;
/// Cycles before the first snapshot, so one-time allocations (the first connection, lazily grown
/// buffers, the log's high-water mark between two clears) are not counted as growth.
const WARM_UP: u64 = CLEAR_EVERY;
/// The log is cleared every this many cycles.
const CLEAR_EVERY: u64 = 50;
/// How many more live objects of one kind the end may have than the start.
const SLACK: u64 = 1;
/// How much the wasm memory may grow: 4 pages of 64 KiB (an allocator rounding, not a leak that
/// grows with the cycle count).
const WASM_SLACK: u64 = 4 * 65_536;
/// How much the JS heap (after a forced GC) may grow: compiled code and inline caches warm up, and
/// ChromeDriver keeps each polled script result in the page (a one-string array per poll of
/// `window.__leakRun`; found with `Runtime.queryObjects(Array.prototype)`: those were the only
/// arrays that grew, and plain-JS fetch or EventSource cycles grow nothing). That is about
/// 75-100 KiB at 1,000 cycles; a leak of 5 KiB a cycle would show at 200.
const HEAP_SLACK: u64 = 1 << 20;
/// The stream each cycle opens: endless, one event a second.
const STREAM: &str = "/api/examples/clock?interval_ms=1000";

/// The objects counted, as (name, prototype expression).
const KINDS: [(&str, &str); 7] = [
    ("EventSource", "EventSource.prototype"),
    ("AbortController", "AbortController.prototype"),
    ("AbortSignal", "AbortSignal.prototype"),
    ("Reader", "ReadableStreamDefaultReader.prototype"),
    ("ReadableStream", "ReadableStream.prototype"),
    ("Response", "Response.prototype"),
    ("BroadcastChannel", "BroadcastChannel.prototype"),
];

/// The runs: (row name, inspector query).
const RUNS: [(&str, &str); 3] = [
    ("fetch", "transport=fetch"),
    ("eventsource", "transport=eventsource"),
    ("fetch, across tabs", "transport=fetch&tabs=1"),
];

/// Runs `n` cycles in the page, in the background; progress in `window.__leakRun`.
const DRIVER: &str = r#"
const [n, clearEvery] = arguments;
const q = s => document.querySelector(s);
const stateEl = () => q('[data-testid="inspector-state"]');
const state = () => (stateEl() || {}).textContent;
const until = (want, ms) => new Promise((resolve, reject) => {
  if (state() === want) return resolve();
  const timer = setTimeout(() => {
    observer.disconnect();
    reject(new Error(`waited ${ms} ms for "${want}", state is "${state()}"`));
  }, ms);
  const observer = new MutationObserver(() => {
    if (state() === want) { clearTimeout(timer); observer.disconnect(); resolve(); }
  });
  observer.observe(stateEl(), { childList: true, characterData: true, subtree: true });
});
const run = (window.__leakRun = { cycles: 0, done: false, error: null, ms: 0 });
(async () => {
  const start = performance.now();
  try {
    for (let i = 0; i < n; i++) {
      q('[data-testid="connect"]').click();
      await until('open', 10000);
      q('[data-testid="disconnect"]').click();
      await until('closed', 10000);
      run.cycles = i + 1;
      if (run.cycles % clearEvery === 0) q('button[aria-label="Clear the log"]').click();
    }
  } catch (e) {
    run.error = `after ${run.cycles} cycles: ${e.message}`;
  }
  run.ms = performance.now() - start;
  run.done = true;
})();
"#;

/// What is alive at one moment.
#[derive(Debug, Clone)]
struct Snapshot {
    counts: Vec<u64>,
    /// Web Locks held or waited for by the page (`navigator.locks.query()`).
    locks: u64,
    wasm: u64,
    heap_used: u64,
}

async fn snapshot(c: &Client) -> Result<Snapshot> {
    // The log's entries are app state, not leaks: empty it the way a user would.
    c.find(Locator::Css("button[aria-label=\"Clear the log\"]"))
        .await?
        .click()
        .await?;
    // Let aborted requests finish unwinding in the network stack before collecting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    cdp::collect_garbage(c).await?;
    let mut counts = Vec::new();
    for (_, prototype) in KINDS {
        counts.push(cdp::count_live(c, prototype).await?);
    }
    let memories = cdp::wasm_memory(c).await?;
    if memories.len() != 1 {
        return Err(format!("expected the app's one wasm memory, found {memories:?}").into());
    }
    let (heap_used, _) = cdp::js_heap(c).await?;
    Ok(Snapshot {
        counts,
        locks: web_locks(c).await?,
        wasm: memories[0],
        heap_used,
    })
}

/// The Web Locks the page holds or waits for.
async fn web_locks(c: &Client) -> Result<u64> {
    let count = c
        .execute_async(
            r#"const done = arguments[0];
               navigator.locks.query().then(
                 s => done(s.held.length + s.pending.length), e => done(String(e)));"#,
            vec![],
        )
        .await?;
    count
        .as_u64()
        .ok_or_else(|| format!("navigator.locks.query(): {count}").into())
}

/// The probe's own check: with a stream open, the objects of that transport are counted (so zero
/// at the end means released, not unseen).
async fn visible_while_open(c: &Client, transport: &str) -> Result {
    let state = || async {
        Result::<String>::Ok(text(c, &tid("inspector-state")).await?.unwrap_or_default())
    };
    c.find(Locator::Css(&tid("connect"))).await?.click().await?;
    wait_for(Duration::from_secs(10), "the stream to open", || async {
        Ok((state().await? == "open").then_some(()))
    })
    .await?;
    cdp::collect_garbage(c).await?;
    let kinds: &[(&str, &str)] = match transport {
        "eventsource" => &[("EventSource", "EventSource.prototype")],
        "fetch" => &[
            ("AbortController", "AbortController.prototype"),
            ("Reader", "ReadableStreamDefaultReader.prototype"),
            ("Response", "Response.prototype"),
        ],
        _ => &[
            ("AbortController", "AbortController.prototype"),
            ("Reader", "ReadableStreamDefaultReader.prototype"),
            ("BroadcastChannel", "BroadcastChannel.prototype"),
        ],
    };
    let mut seen = Vec::new();
    for (name, prototype) in kinds {
        seen.push((*name, cdp::count_live(c, prototype).await?));
    }
    if transport.contains("tabs") {
        seen.push(("Web Lock", web_locks(c).await?));
    }
    c.find(Locator::Css(&tid("disconnect")))
        .await?
        .click()
        .await?;
    wait_for(Duration::from_secs(10), "the stream to close", || async {
        Ok((state().await? == "closed").then_some(()))
    })
    .await?;
    eprintln!("leaks: {transport}: live while open: {seen:?}");
    if let Some((name, _)) = seen.iter().find(|(_, n)| *n == 0) {
        return Err(format!(
            "{transport}: no live {name} while a stream is open: the probe cannot see it"
        )
        .into());
    }
    Ok(())
}

/// Runs `n` cycles and waits for them; `Err` names the cycle and state where it stopped.
async fn cycles(c: &Client, n: u64) -> Result<f64> {
    js(c, DRIVER, vec![json!(n), json!(CLEAR_EVERY)]).await?;
    let limit = Duration::from_secs(30 + n / 4);
    let run = wait_for(limit, &format!("{n} connect/close cycles"), || async {
        let run = js(c, "return window.__leakRun;", vec![]).await?;
        Ok((run["done"] == json!(true)).then_some(run))
    })
    .await?;
    if let Some(error) = run["error"].as_str() {
        return Err(error.to_owned().into());
    }
    Ok(run["ms"].as_f64().unwrap_or_default())
}

fn kib(bytes: u64) -> String {
    format!("{:.0} KiB", bytes as f64 / 1024.0)
}

/// One table row per (transport, snapshot pair).
fn table(rows: &[(String, u64, Snapshot, Snapshot)]) -> String {
    let mut out = String::new();
    let _ = write!(out, "{:<22} {:>6}", "transport", "cycles");
    for (name, _) in KINDS {
        let _ = write!(out, " {name:>17}");
    }
    let _ = writeln!(
        out,
        " {:>17} {:>21} {:>21}",
        "Web Locks", "wasm memory", "JS heap used"
    );
    for (transport, n, start, end) in rows {
        let _ = write!(out, "{transport:<22} {n:>6}");
        for (a, b) in start.counts.iter().zip(&end.counts) {
            let _ = write!(out, " {:>17}", format!("{a} -> {b}"));
        }
        let _ = write!(out, " {:>17}", format!("{} -> {}", start.locks, end.locks));
        let _ = writeln!(
            out,
            " {:>21} {:>21}",
            format!("{} -> {}", kib(start.wasm), kib(end.wasm)),
            format!("{} -> {}", kib(start.heap_used), kib(end.heap_used)),
        );
    }
    out
}

/// The growth that fails the probe, if any.
fn growth(start: &Snapshot, end: &Snapshot) -> Vec<String> {
    let mut problems = Vec::new();
    for ((name, _), (a, b)) in KINDS.iter().zip(start.counts.iter().zip(&end.counts)) {
        if *b > a + SLACK {
            problems.push(format!("{name}: {a} -> {b}"));
        }
    }
    if end.locks > start.locks {
        problems.push(format!("Web Locks: {} -> {}", start.locks, end.locks));
    }
    if end.heap_used > start.heap_used + HEAP_SLACK {
        problems.push(format!(
            "JS heap used: {} -> {}",
            kib(start.heap_used),
            kib(end.heap_used)
        ));
    }
    if end.wasm > start.wasm + WASM_SLACK {
        problems.push(format!(
            "wasm memory: {} -> {}",
            kib(start.wasm),
            kib(end.wasm)
        ));
    }
    problems
}

async fn probe(c: &Client, n: u64) -> Result<Vec<(String, u64, Snapshot, Snapshot)>> {
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for (transport, query) in RUNS {
        open(c, &format!("/?{query}#/inspector"), "inspector-url").await?;
        c.find(Locator::Css(&tid("inspector-url")))
            .await?
            .send_keys(STREAM)
            .await?;
        // A leak that holds connections open stalls the cycles (Chromium opens at most six
        // HTTP/1.1 connections per host): then the table shows what was alive at the stall.
        let fresh = snapshot(c).await?;
        if let Err(e) = cycles(c, WARM_UP).await {
            let now = snapshot(c).await?;
            problems.push(format!("{transport}: the warm-up stopped {e}"));
            problems.extend(
                growth(&fresh, &now)
                    .into_iter()
                    .map(|p| format!("{transport}: {p}")),
            );
            rows.push((format!("{transport} (warm-up)"), WARM_UP, fresh, now));
            continue;
        }
        visible_while_open(c, transport).await?;
        let start = snapshot(c).await?;
        let outcome = cycles(c, n).await;
        let end = snapshot(c).await?;
        rows.push((transport.to_owned(), n, start.clone(), end.clone()));
        match outcome {
            Ok(ms) => eprintln!(
                "leaks: {transport}: {n} cycles in {:.1} s ({:.1} ms each)",
                ms / 1000.0,
                ms / n as f64
            ),
            Err(e) => problems.push(format!("{transport}: the cycles stopped {e}")),
        }
        problems.extend(
            growth(&start, &end)
                .into_iter()
                .map(|p| format!("{transport}: {p}")),
        );
    }
    let table = table(&rows);
    eprintln!("leaks: live objects after a forced GC, start -> end\n{table}");
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(format!("{}\n{table}", problems.join("\n")).into())
    }
}

#[test]
fn connect_close_cycles_leave_no_browser_objects_behind() {
    let n: u64 = match std::env::var("WEBSSE_LEAK_CYCLES") {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("WEBSSE_LEAK_CYCLES={v:?} is not a count")),
        Err(_) => DEFAULT_CYCLES,
    };
    let base = base_url();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let started = Instant::now();
    let outcome: Result = runtime.block_on(async move {
        let browser = Browser::start().await?;
        // Three runs, each n cycles plus snapshots; generous, since a stalled cycle fails
        // on its own 10 s wait anyway.
        let limit = Duration::from_secs(120 + n * 3 / 4);
        let outcome = tokio::time::timeout(limit, probe(&browser.client, n))
            .await
            .unwrap_or_else(|_| Err(format!("the probe took longer than {limit:?}").into()))
            .map(drop);
        browser.close().await;
        outcome
    });
    if let Err(error) = outcome {
        panic!(
            "leak probe against {base} failed after {:.0?}: {error}",
            started.elapsed()
        );
    }
}

/// The table's shape does not depend on the browser.
#[test]
fn growth_is_reported_per_kind() {
    let start = Snapshot {
        counts: vec![1; KINDS.len()],
        locks: 0,
        wasm: 1 << 20,
        heap_used: 0,
    };
    let mut end = start.clone();
    end.counts[0] = 1 + SLACK;
    end.wasm += WASM_SLACK;
    end.heap_used += HEAP_SLACK;
    assert!(growth(&start, &end).is_empty(), "within the slack");
    end.counts[0] += 1;
    end.counts[3] += 5;
    end.wasm += 65_536;
    end.heap_used += 1024;
    end.locks = 1;
    assert_eq!(
        growth(&start, &end),
        [
            format!("EventSource: 1 -> {}", 2 + SLACK),
            "Reader: 1 -> 6".to_owned(),
            "Web Locks: 0 -> 1".to_owned(),
            "JS heap used: 0 KiB -> 1025 KiB".to_owned(),
            "wasm memory: 1024 KiB -> 1344 KiB".to_owned(),
        ]
    );
}

//! Browser throughput bench: events per second through websse's fetch and EventSource
//! transports (the owned `Item` stream, the borrowed `next_batch`, a `SharedStream` with one and
//! four subscribers, four through `next_batch`, and their bound: one stream whose every message
//! is counted four times), the native `EventSource` used from JavaScript, eventsource-parser over
//! fetch from JavaScript, the floor (loops that only read the body's chunks) and the ceiling (the
//! wasm floor plus websse-core's parser, with no delivery layer), the floor of a stream of owned
//! items (`next_batch` with a poll per message), in one headless Chromium page
//! and one run; on two shapes: small events, and OpenAI-shaped JSON events that every reader
//! parses. Every reader fetches with the same options (`cache: "no-store"`, `Accept`): a fetch
//! the HTTP cache may store costs as much as reading the body.
//!
//! Run by `cargo xtask bench` (`--throughput-only` alone) with `WEBSSE_E2E_URL` pointing at a
//! websse-server that serves the page (`bench/throughput/`, built into `target/throughput/site`)
//! with `--test-endpoints`. Arguments: `--events N --size B --rounds R` (the small shape),
//! `--json-events N --json-size B` (the JSON shape; `--json-events 0` leaves it out), `--profile`
//! (a CPU profile of one websse fetch run per shape, CDP `Profiler`: the top frames by self time;
//! `WEBSSE_BENCH_PROFILE=reader,reader` profiles those readers instead).
//! `WEBSSE_BENCH_READERS=reader,reader` runs only those readers and the ratios' bases;
//! `WEBSSE_BENCH_PAGE=speed/` opens the page at that path under the server's root (another build
//! of it).
//!
//! Every reader gets the same stream, `GET /test/flood?events=N&size=B`: N events of B data bytes
//! at full speed, then `event: end`. A run is timed in the page from the request to the `end`
//! event, and checked before it counts: exactly N events, N x B data bytes, the last event's data
//! and the `end` event's data as the server writes them. One untimed warm-up round first (the JS
//! and wasm tiers; the server renders the flood once and then serves it from memory, so it is
//! not what is measured), then R rounds, each running every reader once in an order rotated by one
//! per round so that every reader runs in every position equally often. Ratios are paired: within
//! a round, a reader's rate over the native EventSource's, the median over the rounds.
//!
//! A floor reader is checked to have read the whole body (its length is known from the query).
//! The wasm readers also report the heap allocations made during the run (their page's global
//! allocator counts them): the table shows them per event.
//!
//! Two rates per run: events per second of wall-clock time (what the goal is stated in), and
//! events per second of the renderer main thread's CPU time (CDP `Performance.getMetrics`
//! `ThreadTime`, read before and after the run), which load from other processes on a shared
//! machine does not inflate.

use std::collections::HashMap;
use std::time::Duration;

use fantoccini::Client;
use fantoccini::wd::TimeoutConfiguration;
use serde_json::{Value, json};
use websse_e2e::{Result, base_url, bench_main, cdp, js, wait_for};

/// The readers: the page's name for each, the table's, and whether it runs on the JSON shape.
const READERS: [(&str, &str, bool); 15] = [
    ("websse-fetch", "websse fetch, Item stream (wasm)", true),
    ("websse-batch", "websse fetch, next_batch (wasm)", true),
    ("websse-shared-1", "websse shared, 1 subscriber", true),
    ("websse-shared-4", "websse shared, 4 subscribers", true),
    (
        "websse-fanout-4",
        "websse fetch, 4 counts per message",
        true,
    ),
    (
        "websse-shared-4-batch",
        "websse shared, 4 subs, next_batch",
        true,
    ),
    ("websse-eventsource", "websse EventSource (wasm)", false),
    ("native-eventsource", "native EventSource (JS)", false),
    (
        "eventsource-floor",
        "floor: EventSource, wasm listener",
        false,
    ),
    (
        "eventsource-parser",
        "eventsource-parser 4 + fetch (JS)",
        true,
    ),
    ("floor-js", "floor: read chunks only (JS)", true),
    ("floor-wasm", "floor: read chunks into wasm", true),
    ("parser-only", "ceiling: floor + parser, no delivery", true),
    ("split-only", "bound: floor + split at blank lines", true),
    (
        "items-floor",
        "floor of owned items: batches, a poll each",
        true,
    ),
];

#[derive(Clone, Copy, Debug)]
struct Params {
    events: u64,
    size: u64,
    rounds: usize,
    json_events: u64,
    json_size: u64,
    profile: bool,
}

fn parse_args() -> std::result::Result<Params, String> {
    let mut params = Params {
        events: 500_000,
        size: 16,
        rounds: 8,
        json_events: 100_000,
        json_size: 200,
        profile: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--profile" {
            params.profile = true;
            continue;
        }
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<u64>().map_err(|_| format!("{flag} {v:?}"));
        match flag.as_str() {
            "--events" => params.events = number(&value)?,
            "--size" => params.size = number(&value)?,
            "--rounds" => params.rounds = number(&value)? as usize,
            "--json-events" => params.json_events = number(&value)?,
            "--json-size" => params.json_size = number(&value)?,
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    if params.size < 8 || params.events == 0 || params.rounds == 0 {
        return Err("need --size >= 8, --events >= 1 and --rounds >= 1".into());
    }
    if params.json_events > 0 && params.json_size < JSON_MIN {
        return Err(format!("need --json-size >= {JSON_MIN}"));
    }
    Ok(params)
}

/// The JSON shape's data, as `/test/flood?json=true` writes it (see websse-server's flood.rs).
const JSON_HEAD: &str = "{\"id\":\"chatcmpl-";
const JSON_MID: &str = "\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"";
const JSON_TAIL: &str = "\"},\"finish_reason\":null}]}";
const JSON_MIN: u64 = (JSON_HEAD.len() + 8 + JSON_MID.len() + JSON_TAIL.len()) as u64;

/// One stream the readers read: how many events of what size, and whether JSON.
#[derive(Clone, Copy, Debug)]
struct Shape {
    events: u64,
    size: u64,
    json: bool,
}

impl Shape {
    fn url(&self) -> String {
        format!(
            "/test/flood?events={}&size={}&json={}",
            self.events, self.size, self.json
        )
    }

    fn filler(n: u64) -> String {
        (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect()
    }

    /// The data of event `n` as `/test/flood` writes it.
    fn data(&self, n: u64) -> String {
        if self.json {
            let content = Shape::filler(self.size - JSON_MIN);
            format!("{JSON_HEAD}{n:08}{JSON_MID}{content}{JSON_TAIL}")
        } else {
            format!("{n:08}{}", Shape::filler(self.size - 8))
        }
    }

    /// The whole body's length.
    fn body(&self) -> u64 {
        self.events * (self.size + 8)
            + format!("event: end\ndata: {}\n\n", self.events).len() as u64
    }

    fn label(&self) -> String {
        if self.json {
            format!(
                "{} OpenAI-shaped JSON events of {} bytes, parsed by every reader",
                self.events, self.size
            )
        } else {
            format!("{} events of {} data bytes", self.events, self.size)
        }
    }
}

/// The renderer main thread's CPU time so far, in seconds (CDP `Performance.getMetrics`,
/// `ThreadTime`): the thread where every reader's JavaScript and wasm, and Blink's own
/// EventSource parser, run.
async fn main_thread_cpu(c: &Client) -> Result<f64> {
    let metrics = cdp::execute(c, "Performance.getMetrics", json!({})).await?;
    metrics["metrics"]
        .as_array()
        .and_then(|all| all.iter().find(|m| m["name"] == "ThreadTime"))
        .and_then(|m| m["value"].as_f64())
        .ok_or_else(|| format!("no ThreadTime in {metrics}").into())
}

/// One run: wall milliseconds in the page (request to `end`), main-thread CPU seconds, heap
/// allocations (wasm readers).
#[derive(Clone, Copy, Debug)]
struct Run {
    ms: f64,
    cpu: f64,
    allocs: Option<f64>,
}

/// One checked run of `reader`.
async fn run_once(c: &Client, reader: &str, shape: Shape) -> Result<Run> {
    let Shape { events, size, json } = shape;
    let cpu_before = main_thread_cpu(c).await?;
    let result = c
        .execute_async(
            "const [name, url, json, done] = arguments; \
             window.__throughput.run(name, url, json).then(done, e => done({ error: String(e) }));",
            vec![json!(reader), json!(shape.url()), json!(json)],
        )
        .await?;
    let cpu = main_thread_cpu(c).await? - cpu_before;
    if let Some(error) = result.get("error") {
        return Err(format!("{reader}: {error}").into());
    }
    let got = |key: &str| result.get(key).cloned().unwrap_or(Value::Null);
    let mut want = vec![];
    if reader.starts_with("floor") {
        want.push(("body", json!(shape.body())));
    } else {
        want.extend([
            ("events", json!(events)),
            ("bytes", json!(events * size)),
            ("last", json!(shape.data(events))),
            ("end", json!(events.to_string())),
        ]);
        if json {
            want.push(("content", json!(events * (size - JSON_MIN))));
        }
    }
    for (key, value) in want {
        // Numbers may come back as floats (the wasm side's f64).
        let same = match (got(key).as_f64(), value.as_f64()) {
            (Some(a), Some(b)) => a == b,
            _ => got(key) == value,
        };
        if !same {
            return Err(format!(
                "{reader} received {key} = {}, the server sent {value}: its rate would not count",
                got(key)
            )
            .into());
        }
    }
    let ms = got("ms")
        .as_f64()
        .filter(|ms| *ms > 0.0)
        .ok_or_else(|| format!("{reader}: no time in {result}"))?;
    if cpu <= 0.0 {
        return Err(format!("{reader}: no main-thread CPU time measured").into());
    }
    Ok(Run {
        ms,
        cpu,
        allocs: got("allocs").as_f64(),
    })
}

/// A CPU profile of one run of `reader` (CDP `Profiler`): the top frames by self time.
async fn profile(c: &Client, reader: &str, shape: Shape) -> Result {
    cdp::execute(c, "Profiler.enable", json!({})).await?;
    cdp::execute(
        c,
        "Profiler.setSamplingInterval",
        json!({ "interval": 100 }),
    )
    .await?;
    cdp::execute(c, "Profiler.start", json!({})).await?;
    let run = run_once(c, reader, shape).await;
    let stopped = cdp::execute(c, "Profiler.stop", json!({})).await?;
    cdp::execute(c, "Profiler.disable", json!({})).await?;
    run?;
    let nodes = stopped["profile"]["nodes"]
        .as_array()
        .ok_or("no nodes in the profile")?;
    let mut by_name: HashMap<String, u64> = HashMap::new();
    let mut total = 0;
    for node in nodes {
        let hits = node["hitCount"].as_u64().unwrap_or(0);
        let frame = &node["callFrame"];
        let mut name = frame["functionName"].as_str().unwrap_or("").to_owned();
        if name.is_empty() {
            name = "(anonymous)".into();
        }
        let url = frame["url"].as_str().unwrap_or("");
        let file = url.rsplit('/').next().unwrap_or("");
        if !file.is_empty() {
            name = format!("{name}  [{file}]");
        }
        *by_name.entry(name).or_default() += hits;
        total += hits;
    }
    let mut top: Vec<_> = by_name.into_iter().collect();
    top.sort_by_key(|t| std::cmp::Reverse(t.1));
    println!(
        "\n    profile of one {reader} run ({}): top frames by self time",
        shape.label()
    );
    for (name, hits) in top.iter().take(18) {
        println!(
            "    {:>5.1}%  {name}",
            *hits as f64 * 100.0 / total.max(1) as f64
        );
    }
    Ok(())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// `1234567.0` as `1,234,567`.
fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Rounds of every reader in `names` on `shape`; prints the table and the goals' ratios.
async fn bench_shape(
    c: &Client,
    names: &[&str],
    shape: Shape,
    rounds: usize,
    base: &str,
) -> Result {
    let readers: Vec<(&str, &str)> = READERS
        .iter()
        .filter(|(name, _, on_json)| names.contains(name) && (!shape.json || *on_json))
        .map(|(name, label, _)| (*name, *label))
        .collect();
    let index = |name: &str| readers.iter().position(|(n, _)| *n == name);
    let base_i = index(base).ok_or_else(|| format!("no {base} reader"))?;
    println!("\n==> {}, {rounds} rounds", shape.label());
    // Warm-up: every reader once, checked, not timed.
    for (reader, _) in &readers {
        run_once(c, reader, shape).await?;
    }
    let n = readers.len();
    let (mut wall, mut cpu, mut allocs) = (vec![vec![]; n], vec![vec![]; n], vec![vec![]; n]);
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..n).collect();
        order.rotate_left(round % n);
        for i in order {
            let run = run_once(c, readers[i].0, shape).await?;
            wall[i].push(shape.events as f64 / (run.ms / 1000.0));
            cpu[i].push(shape.events as f64 / run.cpu);
            if let Some(a) = run.allocs {
                allocs[i].push(a / shape.events as f64);
            }
        }
    }
    println!(
        "    every run received exactly {} events and {} data bytes, last and end as sent{}\n",
        shape.events,
        shape.events * shape.size,
        if shape.json {
            ", and the same JSON content"
        } else {
            ""
        }
    );
    let base_label = readers[base_i].0;
    println!(
        "    {:<36} {:>11} {:>25} {:>6} {:>9} {:>13} {:>9} {:>12}",
        "reader",
        "events/s",
        "min .. max",
        "MB/s",
        "x base",
        "events/CPU-s",
        "x base",
        "allocs/event"
    );
    // Within each round, a reader's rate over another's; the median over the rounds.
    let paired = |rates: &[Vec<f64>], i: usize, base: usize| -> Vec<f64> {
        let mut ratios: Vec<f64> = rates[i]
            .iter()
            .zip(&rates[base])
            .map(|(r, b)| r / b)
            .collect();
        ratios.sort_by(f64::total_cmp);
        ratios
    };
    for (i, (_, label)) in readers.iter().enumerate() {
        let mut w = wall[i].clone();
        let med = median(&mut w);
        println!(
            "    {label:<36} {:>11} {:>25} {:>6.1} {:>8.2}x {:>13} {:>8.2}x {:>12}",
            thousands(med),
            format!("{} .. {}", thousands(w[0]), thousands(w[w.len() - 1])),
            med * shape.size as f64 / 1e6,
            median(&mut paired(&wall, i, base_i)),
            thousands(median(&mut cpu[i].clone())),
            median(&mut paired(&cpu, i, base_i)),
            if allocs[i].is_empty() {
                "-".to_owned()
            } else {
                format!("{:.3}", median(&mut allocs[i].clone()))
            },
        );
    }
    println!("    (x base: paired over {base_label})\n");
    // `want`: the goal, if the ratio has one (the floors' say what is left above websse).
    let goal = |a: &str, b: &str, want: Option<f64>| {
        if let (Some(i), Some(j)) = (index(a), index(b)) {
            let mut r = paired(&wall, i, j);
            let m = median(&mut r);
            println!(
                "    {a} / {b}: {m:.2}x events/s ({:.2}x .. {:.2}x), {:.2}x per main-thread CPU \
                 second{}",
                r[0],
                r[r.len() - 1],
                median(&mut paired(&cpu, i, j)),
                match want {
                    Some(w) if m >= w => format!("; goal >= {w}: met"),
                    Some(w) => format!("; goal >= {w}: NOT met"),
                    None => String::new(),
                }
            );
        }
    };
    goal("websse-fetch", "eventsource-parser", Some(1.5));
    goal("websse-batch", "eventsource-parser", Some(1.5));
    goal("websse-eventsource", "native-eventsource", Some(0.95));
    goal("eventsource-floor", "native-eventsource", None);
    goal("websse-eventsource", "eventsource-floor", None);
    goal("websse-shared-1", "websse-fetch", Some(0.9));
    goal("websse-shared-4", "websse-fetch", Some(0.9));
    // The bound for four subscribers: one stream, each message counted four times.
    goal("websse-fanout-4", "websse-fetch", None);
    goal("websse-shared-4", "websse-fanout-4", None);
    goal("websse-shared-4-batch", "websse-batch", None);
    goal("floor-js", "eventsource-parser", None);
    goal("floor-wasm", "eventsource-parser", None);
    goal("parser-only", "eventsource-parser", None);
    goal("websse-batch", "parser-only", None);
    goal("split-only", "eventsource-parser", None);
    // What a stream of owned items costs at least: a poll per item over `next_batch`.
    goal("items-floor", "eventsource-parser", None);
    goal("websse-fetch", "items-floor", None);
    Ok(())
}

/// The page: the server's root, or `WEBSSE_BENCH_PAGE` under it.
fn page_url() -> String {
    let page = std::env::var("WEBSSE_BENCH_PAGE").unwrap_or_default();
    format!("{}/{}", base_url(), page.trim_start_matches('/'))
}

async fn bench(client: Client, params: Params) -> Result {
    let c = &client;
    c.update_timeouts(TimeoutConfiguration::new(
        Some(Duration::from_secs(120)),
        None,
        None,
    ))
    .await?;
    c.goto(&page_url()).await?;
    cdp::execute(c, "Performance.enable", json!({})).await?;
    let state = wait_for(Duration::from_secs(20), "the page to load", || async move {
        let state = js(
            c,
            "const s = document.getElementById('status'); \
             return s ? [s.dataset.state, s.textContent] : null;",
            vec![],
        )
        .await?;
        Ok(match state[0].as_str() {
            Some("ready") | Some("failed") => Some(state),
            _ => None,
        })
    })
    .await?;
    if state[0] != "ready" {
        return Err(format!("the bench page did not start: {}", state[1]).into());
    }
    let names = js(c, "return window.__throughput.names;", vec![]).await?;
    // `WEBSSE_BENCH_READERS=websse-fetch,floor-wasm` runs only those (and the native
    // EventSource, which the ratios are taken over).
    let only = std::env::var("WEBSSE_BENCH_READERS").unwrap_or_default();
    let only: Vec<&str> = only.split(',').filter(|r| !r.is_empty()).collect();
    let names: Vec<&str> = READERS
        .iter()
        .map(|r| r.0)
        .filter(|n| names.as_array().is_some_and(|a| a.iter().any(|v| v == n)))
        .filter(|n| {
            only.is_empty()
                || only.contains(n)
                || ["native-eventsource", "eventsource-parser"].contains(n)
        })
        .collect();
    let small = Shape {
        events: params.events,
        size: params.size,
        json: false,
    };
    let json_shape = Shape {
        events: params.json_events,
        size: params.json_size,
        json: true,
    };
    if params.profile {
        // The readers to profile: `WEBSSE_BENCH_PROFILE=websse-shared-1,websse-shared-4` to look
        // at others than the fetch transport's.
        let wanted = std::env::var("WEBSSE_BENCH_PROFILE").unwrap_or_default();
        let mut profiled: Vec<&str> = wanted.split(',').filter(|r| !r.is_empty()).collect();
        if profiled.is_empty() {
            profiled.push("websse-fetch");
        }
        for shape in [small, json_shape] {
            for &reader in &profiled {
                if shape.events > 0 && names.contains(&reader) {
                    run_once(c, reader, shape).await?;
                    profile(c, reader, shape).await?;
                }
            }
        }
    }
    bench_shape(c, &names, small, params.rounds, "native-eventsource").await?;
    if json_shape.events > 0 {
        bench_shape(c, &names, json_shape, params.rounds, "eventsource-parser").await?;
    }
    println!(
        "\n    (events/s: wall clock in the page from the request to the end event; events/CPU-s: \
         over the renderer main thread's CPU time, which other load on the machine does not \
         inflate; MB/s: data bytes only; allocs/event: heap allocations in wasm per event, \
         wasm readers only)"
    );
    Ok(())
}

fn main() {
    let params = match parse_args() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("throughput-bench: {e}");
            std::process::exit(2);
        }
    };
    println!("    page: {}", page_url());
    bench_main("throughput-bench", |client| bench(client, params));
}

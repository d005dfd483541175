//! Browser throughput bench: events per second through websse's fetch and EventSource
//! transports, the native `EventSource` used from JavaScript, and eventsource-parser over fetch
//! from JavaScript, in one headless Chromium page and one run.
//!
//! Run by `cargo xtask bench` (`--throughput-only` alone) with `WEBSSE_E2E_URL` pointing at a
//! websse-server that serves the page (`bench/throughput/`, built into `target/throughput/site`)
//! with `--test-endpoints`. Arguments: `--events N --size B --rounds R`.
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
//! Two rates per run: events per second of wall-clock time (what the goal is stated in), and
//! events per second of the renderer main thread's CPU time (CDP `Performance.getMetrics`
//! `ThreadTime`, read before and after the run), which load from other processes on a shared
//! machine does not inflate.

use std::time::Duration;

use fantoccini::Client;
use fantoccini::wd::TimeoutConfiguration;
use serde_json::{Value, json};
use websse_e2e::{Result, base_url, bench_main, cdp, js, wait_for};

/// The readers: the page's name for each, and the table's.
const READERS: [(&str, &str); 4] = [
    ("websse-fetch", "websse fetch (wasm)"),
    ("websse-eventsource", "websse EventSource (wasm)"),
    ("native-eventsource", "native EventSource (JS)"),
    ("eventsource-parser", "eventsource-parser 4 + fetch (JS)"),
];
/// The reader the ratios are over.
const BASELINE: usize = 2;

#[derive(Clone, Copy, Debug)]
struct Params {
    events: u64,
    size: u64,
    rounds: usize,
}

fn parse_args() -> std::result::Result<Params, String> {
    let mut params = Params {
        events: 500_000,
        size: 16,
        rounds: 8,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<u64>().map_err(|_| format!("{flag} {v:?}"));
        match flag.as_str() {
            "--events" => params.events = number(&value)?,
            "--size" => params.size = number(&value)?,
            "--rounds" => params.rounds = number(&value)? as usize,
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    if params.size < 8 || params.events == 0 || params.rounds == 0 {
        return Err("need --size >= 8, --events >= 1 and --rounds >= 1".into());
    }
    Ok(params)
}

/// The data of event `n` as `/test/flood` writes it: 8 digits, then `a..z` filler.
fn expected_data(n: u64, size: u64) -> String {
    let filler: String = (0..size - 8)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    format!("{n:08}{filler}")
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

/// One run: wall milliseconds in the page (request to `end`), main-thread CPU seconds.
#[derive(Clone, Copy, Debug)]
struct Run {
    ms: f64,
    cpu: f64,
}

/// One checked run of `reader`.
async fn run_once(c: &Client, reader: &str, events: u64, size: u64) -> Result<Run> {
    let url = format!("/test/flood?events={events}&size={size}");
    let cpu_before = main_thread_cpu(c).await?;
    let result = c
        .execute_async(
            "const [name, url, done] = arguments; \
             window.__throughput.run(name, url).then(done, e => done({ error: String(e) }));",
            vec![json!(reader), json!(url)],
        )
        .await?;
    let cpu = main_thread_cpu(c).await? - cpu_before;
    if let Some(error) = result.get("error") {
        return Err(format!("{reader}: {error}").into());
    }
    let got = |key: &str| result.get(key).cloned().unwrap_or(Value::Null);
    let want = [
        ("events", json!(events)),
        ("bytes", json!(events * size)),
        ("last", json!(expected_data(events, size))),
        ("end", json!(events.to_string())),
    ];
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
    Ok(Run { ms, cpu })
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

async fn bench(client: Client, params: Params) -> Result {
    let c = &client;
    c.update_timeouts(TimeoutConfiguration::new(
        Some(Duration::from_secs(120)),
        None,
        None,
    ))
    .await?;
    c.goto(&format!("{}/", base_url())).await?;
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
    let Params {
        events,
        size,
        rounds,
    } = params;

    // Warm-up: every reader once, checked, not timed (the JS and wasm tiers; and the server
    // renders the flood here, then serves it from memory).
    for (reader, _) in READERS {
        run_once(c, reader, events, size).await?;
    }
    // wall[reader][round] and cpu[reader][round], events per second
    let mut wall = vec![Vec::with_capacity(rounds); READERS.len()];
    let mut cpu = vec![Vec::with_capacity(rounds); READERS.len()];
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..READERS.len()).collect();
        order.rotate_left(round % READERS.len());
        for i in order {
            let run = run_once(c, READERS[i].0, events, size).await?;
            wall[i].push(events as f64 / (run.ms / 1000.0));
            cpu[i].push(events as f64 / run.cpu);
        }
    }

    println!(
        "\n    every run received exactly {events} events and {} data bytes, last and end as sent\n",
        events * size
    );
    println!(
        "    {:<34} {:>11} {:>25} {:>6} {:>8} {:>13} {:>8}",
        "reader", "events/s", "min .. max", "MB/s", "x native", "events/CPU-s", "x native"
    );
    // Within each round, a reader's rate over the baseline's; the median over the rounds.
    let paired = |rates: &[Vec<f64>], i: usize, base: usize| -> Vec<f64> {
        let mut ratios: Vec<f64> = rates[i]
            .iter()
            .zip(&rates[base])
            .map(|(r, b)| r / b)
            .collect();
        ratios.sort_by(f64::total_cmp);
        ratios
    };
    for (i, (_, label)) in READERS.iter().enumerate() {
        let mut w = wall[i].clone();
        let med = median(&mut w);
        println!(
            "    {label:<34} {:>11} {:>25} {:>6.1} {:>7.2}x {:>13} {:>7.2}x",
            thousands(med),
            format!("{} .. {}", thousands(w[0]), thousands(w[w.len() - 1])),
            med * size as f64 / 1e6,
            median(&mut paired(&wall, i, BASELINE)),
            thousands(median(&mut cpu[i].clone())),
            median(&mut paired(&cpu, i, BASELINE)),
        );
    }
    let mut goal = paired(&wall, 0, BASELINE);
    let ratio = median(&mut goal);
    println!(
        "\n    websse fetch / native EventSource: {ratio:.2}x events/s (paired median of {rounds} \
         rounds; {:.2}x .. {:.2}x), {:.2}x per main-thread CPU second; goal >= 2x: {}",
        goal[0],
        goal[goal.len() - 1],
        median(&mut paired(&cpu, 0, BASELINE)),
        if ratio >= 2.0 { "met" } else { "NOT met" }
    );
    println!(
        "    websse fetch / eventsource-parser over fetch: {:.2}x events/s, {:.2}x per main-thread \
         CPU second",
        median(&mut paired(&wall, 0, 3)),
        median(&mut paired(&cpu, 0, 3)),
    );
    println!(
        "    ({events} events of {size} data bytes per run; events/s: wall clock in the page from \
         the request to the end event; events/CPU-s: over the renderer main thread's CPU time, \
         which other load on the machine does not inflate; MB/s: data bytes only)"
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
    println!("    page: {}/", base_url());
    bench_main("throughput-bench", |client| bench(client, params));
}

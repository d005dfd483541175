//! The parser benches of `cargo xtask bench` (`--parser-only` runs them, then the V8 group):
//! websse-core against the Rust peers in one criterion run, and a table of MB/s and ratios read
//! from criterion's own output.

use std::collections::BTreeMap;
use std::path::Path;

use crate::Result;
use crate::proc::Cmd;

const OURS: &str = "websse-core";
/// websse-core's borrowed API (`Parser::feed_with`, no allocation per event), timed on the
/// event-heavy shapes only.
const BORROWED: &str = "websse-core (borrowed)";
const PEERS: [&str; 3] = ["eventsource-stream", "sse-codec", "sseer"];
/// The no-parsing baselines in the `feed_line8m_*` groups, with what each does.
const FLOORS: [(&str, &str); 2] = [
    ("copy-floor", "memchr2 + Vec append per chunk"),
    (
        "block-floor",
        "16 B blocks: fixed-size line-end check + copy",
    ),
];

pub fn run(root: &Path) -> Result {
    println!("==> parser benches (criterion): websse-core, eventsource-stream, sse-codec, sseer");
    Cmd::new("cargo")
        .args(["bench", "-p", "websse-core", "--bench", "parse"])
        .run("cargo bench -p websse-core")?;
    let table = read_criterion(&crate::target_dir(root).join("criterion"))?;
    print_table(&table);
    Ok(())
}

/// group -> implementation -> (bytes per iteration, median ns per iteration: on a shared machine
/// the median of criterion's samples is far less swayed by other processes' bursts than the mean)
type Table = BTreeMap<String, BTreeMap<String, (f64, f64)>>;

fn read_criterion(dir: &Path) -> Result<Table> {
    let mut table = Table::new();
    let groups = std::fs::read_dir(dir)
        .map_err(|e| format!("no criterion output in {}: {e}", dir.display()))?;
    for g in groups.filter_map(|e| e.ok()) {
        let group = g.file_name().to_string_lossy().into_owned();
        let Ok(impls) = std::fs::read_dir(g.path()) else {
            continue;
        };
        for i in impls.filter_map(|e| e.ok()) {
            let name = i.file_name().to_string_lossy().into_owned();
            let known = name == OURS
                || name == BORROWED
                || PEERS.contains(&name.as_str())
                || FLOORS.iter().any(|(floor, _)| *floor == name);
            if !known {
                continue;
            }
            let new = i.path().join("new");
            let (Ok(est), Ok(bench)) = (
                std::fs::read_to_string(new.join("estimates.json")),
                std::fs::read_to_string(new.join("benchmark.json")),
            ) else {
                continue;
            };
            let (Ok(est), Ok(bench)) = (
                serde_json::from_str::<serde_json::Value>(&est),
                serde_json::from_str::<serde_json::Value>(&bench),
            ) else {
                continue;
            };
            let mean = est["median"]["point_estimate"].as_f64();
            let bytes = bench["throughput"]["Bytes"]
                .as_f64()
                .or_else(|| bench["throughput"]["BytesDecimal"].as_f64());
            if let (Some(mean), Some(bytes)) = (mean, bytes) {
                table
                    .entry(group.clone())
                    .or_default()
                    .insert(name, (bytes, mean));
            }
        }
    }
    if table.is_empty() {
        return Err(format!("no benchmark results under {}", dir.display()));
    }
    Ok(table)
}

fn mbps(bytes: f64, ns: f64) -> f64 {
    bytes / ns * 1e3 // bytes/ns * 1e9 / 1e6
}

fn print_table(table: &Table) {
    println!(
        "\nMB/s from criterion's median (higher is better); owned = websse-core's `feed` (an owned \
         Event per event), borrowed = `feed_with` (EventRef, no allocation per event); each ratio \
         = that column / the fastest peer\n"
    );
    println!(
        "{:<20} {:>9} {:>9} {:>19} {:>10} {:>9} {:>7} {:>8}",
        "shape", "owned", "borrowed", PEERS[0], PEERS[1], PEERS[2], "owned", "borrowed"
    );
    let mut worst: Option<(f64, &str)> = None;
    let mut worst_borrowed: Option<(f64, &str)> = None;
    // Groups without peers (websse-core's linearity and feed-loop runs) are summed up after
    // the table. A shape where every peer was skipped still has its row.
    let shapes = table.iter().filter(|(g, _)| {
        g.starts_with("openai") || g.starts_with("anthropic") || g.starts_with("line8m")
    });
    for (group, impls) in shapes {
        let cell = |name: &str| impls.get(name).map(|&(b, ns)| mbps(b, ns));
        let ours = cell(OURS);
        let best_peer = PEERS
            .iter()
            .filter_map(|p| cell(p))
            .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v))));
        let fmt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
        let borrowed = cell(BORROWED);
        let ratio = |ours: Option<f64>| match (ours, best_peer) {
            (Some(o), Some(p)) if p > 0.0 => Some(o / p),
            _ => None,
        };
        let (ratio_owned, ratio_borrowed) = (ratio(ours), ratio(borrowed));
        for (r, worst) in [
            (ratio_owned, &mut worst),
            (ratio_borrowed, &mut worst_borrowed),
        ] {
            if let Some(r) = r
                && worst.is_none_or(|(w, _)| r < w)
            {
                *worst = Some((r, group.as_str()));
            }
        }
        let times = |r: Option<f64>| r.map_or("-".to_string(), |r| format!("{r:.1}x"));
        println!(
            "{group:<20} {:>9} {:>9} {:>19} {:>10} {:>9} {:>7} {:>8}",
            fmt(ours),
            fmt(borrowed),
            fmt(cell(PEERS[0])),
            fmt(cell(PEERS[1])),
            fmt(cell(PEERS[2])),
            times(ratio_owned),
            times(ratio_borrowed)
        );
    }
    if let Some((w, g)) = worst {
        println!("\nsmallest lead over the fastest peer, owned events (feed): {w:.2}x ({g})");
    }
    if let Some((w, g)) = worst_borrowed {
        println!("smallest lead over the fastest peer, borrowed events (feed_with): {w:.2}x ({g})");
    }
    let speed = |g: &str| {
        table
            .get(g)
            .and_then(|m| m.get(OURS))
            .map_or("-".to_string(), |&(b, ns)| {
                format!("{:.0} MB/s", mbps(b, ns))
            })
    };
    let time = |g: &str, name: &str| table.get(g).and_then(|m| m.get(name)).map(|&(_, ns)| ns);
    println!(
        "\none line fed in 16 B chunks vs whole (linear time: the multiple does not grow with the size):"
    );
    for (label, size) in [("1 MiB", "1m"), ("8 MiB", "8m"), ("32 MiB", "32m")] {
        let (whole, small) = (format!("line{size}_whole"), format!("line{size}_16"));
        let multiple = match (time(&whole, OURS), time(&small, OURS)) {
            (Some(w), Some(s)) => format!("{:.2}x", s / w),
            _ => "-".into(),
        };
        println!(
            "  {label:>6}: whole {}, 16 B chunks {}, 16 B costs {multiple} whole",
            speed(&whole),
            speed(&small)
        );
    }
    if let (Some(whole), Some(small)) = (
        time("feed_line8m_whole", OURS),
        time("feed_line8m_16", OURS),
    ) {
        println!(
            "one 8 MiB line, plain feed loop: fed in 16 B chunks costs {:.2}x feeding it whole",
            small / whole
        );
        for (floor, what) in FLOORS {
            if let Some(ns) = time("feed_line8m_16", floor) {
                println!(
                    "  {floor} ({what}; no parsing) in 16 B chunks: {:.2}x websse-core's whole; \
                     websse-core costs {:.2}x it",
                    ns / whole,
                    small / ns
                );
            }
        }
    }
    // The memory-speed floor of a long line: websse-core's time over copy-floor's on the same
    // chunks (1.00x: as fast as copying the bytes).
    let floors = [("whole", "whole"), ("1460", "1460 B"), ("16", "16 B")].map(|(g, label)| {
        let group = format!("feed_line8m_{g}");
        match (time(&group, OURS), time(&group, FLOORS[0].0)) {
            (Some(ours), Some(floor)) => format!("{label} {:.2}x", ours / floor),
            _ => format!("{label} -"),
        }
    });
    println!(
        "one 8 MiB line, websse-core's time over copy-floor's (copying the bytes): {}",
        floors.join(", ")
    );
}

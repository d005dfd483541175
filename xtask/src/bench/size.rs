//! `cargo xtask bench --size-only`: what the app and the library cost in bytes a browser downloads.
//!
//! - The app: Trunk's release build (`dist/`), wasm + JS gzipped, before `wasm-opt` (Trunk's
//!   wasm-bindgen output in `target/wasm-bindgen/release/`) and after (`dist/`: `-Oz` plus the
//!   extra passes `www/index.html` names in `data-wasm-opt-params`).
//! - The library: the framework-less apps of `bench/size/` (their own workspace and lockfile),
//!   each built on its own so websse's features are exactly the ones it asks for, then
//!   `wasm-bindgen --target web`, `wasm-opt -Oz` and `gzip -9`. Each app's size over `bare` (the
//!   same app without an SSE library) is the increment, set next to gloo-net's EventSource.
//! - The floor under the app: Yew's hello world (`bench/size/yew-hello`), built the same way.
//! - With `--twiggy`: the largest items of the app and of the fetch-only increment, by name (the
//!   same `wasm-opt -Oz` without the app's extra passes, keeping the names section for twiggy).
//!
//! Sizes are in kB of 1,000 bytes. The size goals are printed with each row they apply to.

use std::path::{Path, PathBuf};

use crate::Result;
use crate::proc::Cmd;
use crate::tools::{Need, Tools};

/// The app's goal: `dist/` wasm + JS gzipped, in bytes.
const APP_GOAL: u64 = 90_000;
/// The fetch-only increment's goal over `bare`, in bytes.
const FETCH_GOAL: u64 = 15_000;

/// Yew's hello world, built like the other small apps: the floor under the app's size.
const YEW_HELLO: &str = "size-yew-hello";

/// The library apps of `bench/size/`: package name, what it adds to `bare`.
const APPS: [(&str, &str); 8] = [
    ("size-bare", "bare wasm-bindgen app (the baseline)"),
    ("size-websse-fetch", "websse, fetch transport only"),
    (
        "size-websse-event-source",
        "websse, EventSource transport only",
    ),
    ("size-gloo-net", "gloo-net EventSource (the peer)"),
    ("size-parser", "websse-core parser alone"),
    (
        "size-pulldown-cmark",
        "pulldown-cmark alone (Markdown floor)",
    ),
    ("size-markdown", "websse-markdown (view + render_once)"),
    ("size-websse-fetch-perf", "websse, fetch transport + perf"),
];

/// The Markdown layer's goal over pulldown-cmark alone, in bytes.
const MARKDOWN_GOAL: u64 = 5_000;

/// Bytes of one built app: wasm and JS, raw and gzipped.
#[derive(Clone, Copy, Debug, Default)]
struct Size {
    wasm: u64,
    js: u64,
    wasm_gz: u64,
    js_gz: u64,
}

impl Size {
    fn of(wasm: &Path, js: &Path) -> Result<Size> {
        Ok(Size {
            wasm: file_len(wasm)?,
            js: file_len(js)?,
            wasm_gz: gzip_len(wasm)?,
            js_gz: gzip_len(js)?,
        })
    }
    fn gz(&self) -> u64 {
        self.wasm_gz + self.js_gz
    }
}

pub fn run(root: &Path, twiggy: bool) -> Result {
    println!("==> size bench: the app (Trunk release) and the library (bench/size, wasm-opt -Oz)");
    let tools = Tools::ensure(root, Need::size(twiggy))?;
    let target = crate::target_dir(root);

    crate::build_app(root, &tools)?;
    let before = Size::of(
        &target.join("wasm-bindgen/release/websse-www_bg.wasm"),
        &target.join("wasm-bindgen/release/websse-www.js"),
    )?;
    let after = Size::of(
        &find_in(&root.join("dist"), "websse-www-", "_bg.wasm")?,
        &find_in(&root.join("dist"), "websse-www-", ".js")?,
    )?;

    let out = target.join("size");
    let mut apps = Vec::new();
    for (package, _) in APPS {
        apps.push(build_small_app(root, &tools, &out, package)?);
    }
    let yew = build_small_app(root, &tools, &out, YEW_HELLO)?;

    print_table(&before, &after, &yew, &apps);

    if twiggy {
        let app_named = out.join("out/app-named.wasm");
        wasm_opt(
            &tools,
            &target.join("wasm-bindgen/release/websse-www_bg.wasm"),
            &app_named,
            true,
        )?;
        println!("\nthe app's largest items after wasm-opt -Oz (twiggy top):");
        Cmd::new(&tools.twiggy)
            .arg("top")
            .arg(&app_named)
            .args(["-n", "30"])
            .run("twiggy top")?;
        println!("\nwhat the fetch-only websse app adds to bare (twiggy diff):");
        let named = |p: &str| out.join("out").join(p).join("app-named.wasm");
        Cmd::new(&tools.twiggy)
            .arg("diff")
            .arg(named("size-bare"))
            .arg(named("size-websse-fetch"))
            .args(["-n", "30"])
            .run("twiggy diff")?;
    }
    Ok(())
}

/// Builds one `bench/size` app: cargo (release, wasm32), wasm-bindgen, wasm-opt -Oz (and a copy
/// that keeps names, for twiggy).
fn build_small_app(root: &Path, tools: &Tools, out: &Path, package: &str) -> Result<Size> {
    Cmd::new("cargo")
        .args([
            "build",
            "--quiet",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
        ])
        .arg("--manifest-path")
        .arg(root.join("bench/size/Cargo.toml"))
        .args(["-p", package])
        .env("CARGO_TARGET_DIR", out)
        .envs(tools.child_env())
        .run(&format!("cargo build -p {package} (bench/size)"))?;
    let wasm = out
        .join("wasm32-unknown-unknown/release")
        .join(format!("{}.wasm", package.replace('-', "_")));
    let dir = out.join("out").join(package);
    Cmd::new(tools.wasm_bindgen())
        .args(["--target", "web", "--out-name", "app", "--out-dir"])
        .arg(&dir)
        .arg(&wasm)
        .envs(tools.child_env())
        .run(&format!("wasm-bindgen ({package})"))?;
    let opt = dir.join("app_opt.wasm");
    wasm_opt(tools, &dir.join("app_bg.wasm"), &opt, false)?;
    wasm_opt(
        tools,
        &dir.join("app_bg.wasm"),
        &dir.join("app-named.wasm"),
        true,
    )?;
    Size::of(&opt, &dir.join("app.js"))
}

fn wasm_opt(tools: &Tools, input: &Path, output: &Path, names: bool) -> Result {
    let mut cmd = Cmd::new(&tools.wasm_opt).arg("-Oz");
    if names {
        cmd = cmd.arg("-g");
    }
    cmd.arg(input)
        .arg("-o")
        .arg(output)
        .envs(tools.child_env())
        .run("wasm-opt -Oz")
}

fn print_table(before: &Size, after: &Size, yew: &Size, apps: &[Size]) {
    let kb = |b: u64| format!("{:.1}", b as f64 / 1000.0);
    println!("\nsizes in kB (1,000 B); gz = gzip -9\n");
    println!("the app (www/, dist/):");
    println!(
        "  {:<28} {:>9} {:>9} {:>10} {:>9} {:>12}",
        "", "wasm", "JS", "wasm gz", "JS gz", "wasm+JS gz"
    );
    for (label, s) in [
        ("before wasm-opt", before),
        ("after wasm-opt (shipped)", after),
        ("floor: Yew hello world, -Oz", yew),
    ] {
        println!(
            "  {label:<28} {:>9} {:>9} {:>10} {:>9} {:>12}",
            kb(s.wasm),
            kb(s.js),
            kb(s.wasm_gz),
            kb(s.js_gz),
            kb(s.gz())
        );
    }
    println!(
        "  after / before: {:.2}x; goal <= {} kB: {} ({:.2}x the goal)",
        after.gz() as f64 / before.gz() as f64,
        kb(APP_GOAL),
        met(after.gz() <= APP_GOAL),
        after.gz() as f64 / APP_GOAL as f64
    );
    println!(
        "  the app over Yew's hello world: +{} kB gz; Yew's hello world over bare wasm-bindgen: +{} kB gz",
        kb(after.gz().saturating_sub(yew.gz())),
        kb(yew.gz().saturating_sub(apps[0].gz()))
    );

    let bare = apps[0].gz();
    let gloo = apps[3].gz().saturating_sub(bare);
    println!(
        "\nthe library: bench/size apps after wasm-opt -Oz; increment = the app's wasm+JS gz minus bare's"
    );
    println!(
        "  {:<38} {:>9} {:>11} {:>11} {:>13}",
        "", "wasm opt", "wasm+JS gz", "increment", "vs gloo-net"
    );
    for ((package, what), s) in APPS.iter().zip(apps) {
        let inc = s.gz().saturating_sub(bare);
        let (inc_cell, ratio) = if *package == "size-bare" {
            ("-".to_string(), "-".to_string())
        } else {
            (
                format!("+{}", kb(inc)),
                format!("{:.2}x", inc as f64 / gloo.max(1) as f64),
            )
        };
        println!(
            "  {what:<38} {:>9} {:>11} {:>11} {:>13}",
            kb(s.wasm),
            kb(s.gz()),
            inc_cell,
            ratio
        );
    }
    let fetch = apps[1].gz().saturating_sub(bare);
    let es = apps[2].gz().saturating_sub(bare);
    println!(
        "  goal: fetch only <= +{} kB: {} ({:.2}x the goal); +{} B with perf (websse's default)",
        kb(FETCH_GOAL),
        met(fetch <= FETCH_GOAL),
        fetch as f64 / FETCH_GOAL as f64,
        apps[7].gz().saturating_sub(apps[1].gz())
    );
    println!(
        "  goal: EventSource only <= gloo-net's +{} kB: {} ({:.2}x)",
        kb(gloo),
        met(es <= gloo),
        es as f64 / gloo.max(1) as f64
    );
    print_markdown(apps);
}

/// websse-markdown over pulldown-cmark called the same way: what the layer itself costs.
fn print_markdown(apps: &[Size]) {
    let layer = apps[6].gz().saturating_sub(apps[5].gz());
    let kb = |b: u64| format!("{:.1}", b as f64 / 1000.0);
    println!(
        "  websse-markdown over pulldown-cmark alone: +{} kB gz; goal <= +{} kB: {}",
        kb(layer),
        kb(MARKDOWN_GOAL),
        met(layer <= MARKDOWN_GOAL)
    );
}

fn met(yes: bool) -> &'static str {
    if yes { "met" } else { "NOT met" }
}

fn file_len(path: &Path) -> Result<u64> {
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The size of `gzip -9` of the file (the command's output is counted, not kept).
fn gzip_len(path: &Path) -> Result<u64> {
    let out = std::process::Command::new("gzip")
        .args(["-9", "-c", "-n"])
        .arg(path)
        .output()
        .map_err(|e| format!("cannot run gzip: {e}"))?;
    if !out.status.success() {
        return Err(format!("gzip -9 {} failed", path.display()));
    }
    Ok(out.stdout.len() as u64)
}

/// The file in `dir` named `{prefix}*{suffix}` (Trunk's hashed names).
fn find_in(dir: &Path, prefix: &str, suffix: &str) -> Result<PathBuf> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(suffix))
        })
        .ok_or_else(|| format!("no {prefix}*{suffix} in {}", dir.display()))
}

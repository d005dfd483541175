//! The browser throughput section of `cargo xtask bench` (`--throughput-only` runs it alone):
//! events per second through websse's fetch transport (the owned `Item` stream, the borrowed
//! `next_batch`, a `SharedStream` with one and four subscribers) and EventSource transport, the
//! native `EventSource` used from JavaScript, eventsource-parser (npm) over fetch, the floor
//! (loops that only read the body's chunks) and the ceiling (the wasm floor plus websse-core's
//! parser, nothing delivered), in one headless Chromium page and one run, reading
//! small events, then OpenAI-shaped JSON events, at full speed from websse-server's
//! `/test/flood`; with a CPU profile of one websse fetch run per shape first. Then every reader
//! again on a speed-first build of the same page.
//!
//! The page is `bench/throughput/`: a wasm-bindgen crate (its own workspace and `Cargo.lock`, like
//! the examples) for websse's two transports, and `bench.js` for the two JavaScript readers.
//! Built like an app ships: `cargo build --release` with the root workspace's release profile
//! (checked to be the same here), then `wasm-bindgen --target web` into
//! `target/throughput/site/pkg/`. The speed-first build (the bench's `speed` profile:
//! `opt-level = 3` everywhere, as cargo's default release profile has it) goes into
//! `target/throughput/site/speed/`: an app's own crate holds the code generic over its types (its
//! async loop, its serde deserializers), which is built at the app's level, not websse's.
//! eventsource-parser comes from `npm ci` against `bench/throughput/package-lock.json`, run in
//! `target/throughput/npm/` so the source tree stays clean, and is served as static ES modules. The driver,
//! `tests/src/bin/throughput-bench.rs`, runs the readers interleaved and prints the table.

use std::path::{Path, PathBuf};

use crate::proc::{Cmd, Server};
use crate::{Result, tools};

/// Events per timed run, and timed rounds (each round runs every reader once, in rotated order).
/// A run of a fast reader lasts about 50 ms: shorter ones moved by a fifth from run to run.
const EVENTS: u64 = 1_000_000;
const SIZE: u64 = 16;
const ROUNDS: u64 = 10;
/// The second shape: OpenAI-shaped JSON events of this many data bytes, parsed by every reader.
const JSON_EVENTS: u64 = 100_000;
const JSON_SIZE: u64 = 200;

pub fn run(root: &Path) -> Result {
    println!(
        "\n==> browser throughput: {EVENTS} events of {SIZE} data bytes per run, {ROUNDS} \
         interleaved rounds, in headless Chromium"
    );
    let tools = tools::Tools::ensure(root, tools::Need::all())?;
    let site = build(root, &tools)?;
    let bin = crate::build_server(root, &tools)?;
    let server = Server::start_test(tools.child_env(), &bin, Some(&site))?;
    let driver = |page: &str, profile: bool| {
        Cmd::new("cargo")
            .args([
                "run",
                "--quiet",
                "-p",
                "websse-e2e",
                "--bin",
                "throughput-bench",
            ])
            .args(["--", "--events", &EVENTS.to_string()])
            .args(["--size", &SIZE.to_string(), "--rounds", &ROUNDS.to_string()])
            .args(["--json-events", &JSON_EVENTS.to_string()])
            .args(["--json-size", &JSON_SIZE.to_string()])
            .args(if profile { &["--profile"][..] } else { &[] })
            .envs(tools.child_env())
            .env("WEBSSE_E2E_URL", server.url())
            .env("WEBSSE_E2E_BROWSER", "chromium")
            .env("WEBSSE_BENCH_PAGE", page)
            .run("throughput-bench")
    };
    driver("", true)?;
    // Every reader again, not only websse's: the JavaScript readers' rates depend on what else
    // the page ran (their JIT's state, the garbage left), so a pass with fewer readers is not
    // comparable.
    println!(
        "\n==> the same page built speed-first (opt-level 3 everywhere, the app's crate included)"
    );
    driver("speed/", false)
}

/// Builds the page into `target/throughput/site/` (the app's release profile) and
/// `target/throughput/site/speed/` (the bench's `speed` profile); returns the first.
fn build(root: &Path, tools: &tools::Tools) -> Result<PathBuf> {
    let dir = root.join("bench/throughput");
    let target = crate::target_dir(root).join("throughput");
    let site = target.join("site");
    // The page is built as apps ship: with the root workspace's release profile.
    let profile = super::profile::check_mirrored(root, &dir)?;
    println!("    release profile (the root's): {}", profile.join(" "));
    Cmd::new("cargo")
        .args(["fmt", "--check"])
        .current_dir(&dir)
        .envs(tools.child_env())
        .run("cargo fmt --check (bench/throughput)")?;
    let wanted = tools::wasm_bindgen_version(root)?;
    let locked = tools::wasm_bindgen_version(&dir)?;
    if locked != wanted {
        return Err(format!(
            "bench/throughput/Cargo.lock has wasm-bindgen {locked}, the workspace {wanted}: run \
             `cargo update -p wasm-bindgen --precise {wanted}` in bench/throughput"
        ));
    }
    if site.exists() {
        std::fs::remove_dir_all(&site)
            .map_err(|e| format!("cannot clear {}: {e}", site.display()))?;
    }
    let parser = crate::tools::npm_ci(&dir, &target.join("npm"))?
        .join("node_modules/eventsource-parser/dist");
    for (profile, out) in [("release", site.clone()), ("speed", site.join("speed"))] {
        Cmd::new("cargo")
            .args([
                "build",
                "--profile",
                profile,
                "--target",
                "wasm32-unknown-unknown",
            ])
            .current_dir(&dir)
            .envs(tools.child_env())
            .env("CARGO_TARGET_DIR", &target)
            .run(&format!(
                "cargo build --profile {profile} (bench/throughput)"
            ))?;
        Cmd::new(tools.wasm_bindgen())
            .args(["--target", "web", "--no-typescript", "--out-name"])
            .args(["throughput", "--out-dir"])
            .arg(out.join("pkg"))
            .arg(target.join(format!(
                "wasm32-unknown-unknown/{profile}/websse_throughput_bench.wasm"
            )))
            .envs(tools.child_env())
            .run("wasm-bindgen (bench/throughput)")?;
        for file in ["index.html", "bench.js"] {
            copy(&dir.join(file), &out.join(file))?;
        }
        let modules = out.join("eventsource-parser");
        std::fs::create_dir_all(&modules)
            .map_err(|e| format!("cannot create {}: {e}", modules.display()))?;
        let entries = std::fs::read_dir(&parser)
            .map_err(|e| format!("cannot read {}: {e}", parser.display()))?;
        for entry in entries.filter_map(|e| e.ok()) {
            let name = entry.file_name();
            if name.to_string_lossy().ends_with(".js") {
                copy(&entry.path(), &modules.join(name))?;
            }
        }
    }
    Ok(site)
}

fn copy(from: &Path, to: &Path) -> Result {
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))
}

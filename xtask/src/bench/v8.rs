//! The V8 group of `cargo xtask bench`: websse-core compiled to wasm32 against eventsource-parser
//! 4.x (with a streaming `TextDecoder`) in one Node process, on the shapes of the native benches.
//!
//! `bench/v8` is its own cargo workspace (own Cargo.lock, like the examples): a `cdylib` with raw
//! exports around websse-core, built once per variant:
//! - `shipped`: the root workspace's release profile, mirrored in `bench/v8/Cargo.toml` (checked
//!   here), with its per-package override for websse-core: what an app ships;
//! - `z`: the same without the override (the parser at `opt-level = "z"` like the rest);
//! - `o3`: everything at `opt-level = 3`;
//! - `simd128`: `shipped` with `-C target-feature=+simd128`;
//! - `shipped-borrowed`: the `shipped` build fed through `Parser::feed_with` (the borrowed API
//!   websse's fetch transport uses) rather than `Parser::feed`.
//!
//! `bench.mjs` checks that every variant yields eventsource-parser's events (type, last event ID,
//! data) on every shape before it times anything, then times paired reps and prints the table.
//! eventsource-parser comes from `npm ci` of `bench/v8/package-lock.json`, run here into the
//! target directory (nothing is installed by hand).

use std::path::Path;

use crate::Result;
use crate::proc::Cmd;

const WASM_TARGET: &str = "wasm32-unknown-unknown";
const ARTIFACT: &str = "websse_bench_v8.wasm";

/// (variant, cargo profile, extra RUSTFLAGS)
const VARIANTS: [(&str, &str, &str); 4] = [
    ("z", "z", ""),
    ("shipped", "release", ""),
    ("o3", "o3", ""),
    ("simd128", "release", "-C target-feature=+simd128"),
];

pub fn run(root: &Path) -> Result {
    println!(
        "\n==> V8 bench: websse-core (wasm32: {}) against eventsource-parser 4.x in Node",
        VARIANTS.map(|(name, ..)| name).join(", ")
    );
    let dir = root.join("bench/v8");
    // `shipped` is the app's build: bench/v8 mirrors the root's release profile.
    super::profile::check_mirrored(root, &dir)?;
    crate::tools::Tools::ensure(root, crate::tools::Need::wasm_target())?;
    let target = crate::target_dir(root).join("bench-v8");
    let mut wasm_args = Vec::new();
    for (name, profile, rustflags) in VARIANTS {
        // A variant with its own RUSTFLAGS gets its own target directory, so that switching
        // flags does not rebuild the others each time.
        let target_dir = if rustflags.is_empty() {
            target.join("cargo")
        } else {
            target.join(format!("cargo-{name}"))
        };
        Cmd::new("cargo")
            .args([
                "build",
                "--locked",
                "--profile",
                profile,
                "--target",
                WASM_TARGET,
            ])
            .arg("--target-dir")
            .arg(&target_dir)
            .current_dir(&dir)
            .env("RUSTFLAGS", rustflags)
            .run(&format!("cargo build (bench/v8, {name})"))?;
        let wasm = target_dir.join(WASM_TARGET).join(profile).join(ARTIFACT);
        let size = std::fs::metadata(&wasm)
            .map_err(|e| format!("no {}: {e}", wasm.display()))?
            .len();
        println!("    {name}: {} ({size} bytes)", wasm.display());
        wasm_args.push(format!("{name}={}", wasm.display()));
        if name == "shipped" {
            // The same build through `Parser::feed_with`, which websse's fetch transport calls.
            wasm_args.push(format!("shipped-borrowed={}#borrowed", wasm.display()));
        }
    }
    let work = crate::tools::npm_ci(&dir, &target.join("node"))?;
    // Node resolves `import 'eventsource-parser'` from the script's own directory: the script
    // runs next to the node_modules that npm ci made.
    std::fs::copy(dir.join("bench.mjs"), work.join("bench.mjs"))
        .map_err(|e| format!("cannot copy bench/v8/bench.mjs: {e}"))?;
    Cmd::new("node")
        .arg(work.join("bench.mjs"))
        .args(wasm_args)
        .current_dir(&work)
        .run("node bench.mjs (bench/v8)")
}

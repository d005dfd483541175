//! The example apps in `examples/` (Leptos, Dioxus, plain wasm-bindgen): built the way a user
//! would build them, served by websse-server, and tested end to end (`tests/tests/examples.rs`).
//!
//! Each example is its own workspace with its own `Cargo.lock`, so the frameworks stay out of the
//! main workspace's graph. All three build into one target directory, `target/examples/`, so the
//! dependencies they share (websse, wasm-bindgen, serde, ...) compile once. Each is built with
//! `cargo build --release --target wasm32-unknown-unknown`, then `wasm-bindgen --target web`
//! writes `pkg/app.js` next to the example's `index.html`, which loads it from an external module
//! script (`boot.js`): no Trunk, and the pages run under a CSP without `'unsafe-inline'`.
//!
//! The site is `target/examples/site/`: `index.html` links the examples at `/leptos/`,
//! `/dioxus/` and `/vanilla/`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::engines::{self, Engine};
use crate::proc::{Cmd, Server};
use crate::tools::{self, Tools};
use crate::{Ctx, Result};

/// The examples, each a directory under `examples/`.
pub const EXAMPLES: [&str; 3] = ["leptos", "dioxus", "vanilla"];

/// The `cargo xtask test` step, once per engine: build the examples (a no-op after the first
/// engine's step), serve them with the test endpoints on, and run the end-to-end tests in
/// `engine` (ignored in the main end-to-end step, which serves the app).
pub fn test(ctx: &mut Ctx, engine: Engine) -> Result {
    let site = build_all(&ctx.root, &ctx.tools)?;
    let bin = crate::build_server(&ctx.root, &ctx.tools)?;
    let server = Server::start_test(ctx.tools.child_env(), &bin, Some(&site))?;
    println!("    examples and API: {}", server.url());
    let display = engines::start_display(ctx, engine)?;
    let cmd = Cmd::new("cargo")
        .args(["test", "-p", "websse-e2e", "--test", "examples"])
        .args(["--", "--ignored"])
        .envs(ctx.tools.child_env())
        .envs(engines::env(ctx, engine, display.as_ref()))
        .env("WEBSSE_E2E_URL", server.url());
    ctx.run_tests(
        cmd,
        &format!(
            "cargo test -p websse-e2e --test examples ({})",
            engine.name()
        ),
    )
}

/// `cargo xtask examples [--addr ADDR]`: build the examples and serve them with the demo API.
pub fn serve(root: &Path, args: &[String]) -> Result {
    let addr = match args {
        [] => "127.0.0.1:8080",
        [flag, addr] if flag == "--addr" => addr.as_str(),
        _ => return Err(format!("examples: expected [--addr ADDR], got {args:?}")),
    };
    let tools = Tools::ensure(root, tools::Need::app())?;
    let site = build_all(root, &tools)?;
    let bin = crate::build_server(root, &tools)?;
    let site_arg = site.to_string_lossy();
    let mut server = Server::start(
        tools.child_env(),
        &bin,
        &["--static-dir", site_arg.as_ref(), "--addr", addr],
    )?;
    let url = server.url().to_owned();
    println!("\n    websse examples:");
    for name in EXAMPLES {
        println!("      {url}/{name}/");
    }
    println!("    (Ctrl-C stops the server)\n");
    server.wait()
}

/// Builds every example into `target/examples/site/NAME/` and returns the site directory.
fn build_all(root: &Path, tools: &Tools) -> Result<PathBuf> {
    let target = crate::target_dir(root).join("examples");
    let site = target.join("site");
    std::fs::create_dir_all(&site).map_err(|e| format!("cannot create {}: {e}", site.display()))?;
    copy(&root.join("examples/index.html"), &site.join("index.html"))?;
    let wasm_bindgen = tools::wasm_bindgen_version(root)?;
    let mut times = Vec::new();
    for name in EXAMPLES {
        let started = Instant::now();
        build(root, tools, name, &target, &site, &wasm_bindgen)?;
        times.push(format!("{name} {:.1}s", started.elapsed().as_secs_f64()));
    }
    println!("    examples built: {}", times.join(", "));
    Ok(site)
}

/// `cargo build` + `wasm-bindgen` for one example, and its static files next to `pkg/`.
fn build(
    root: &Path,
    tools: &Tools,
    name: &str,
    target: &Path,
    site: &Path,
    wasm_bindgen: &str,
) -> Result {
    let dir = root.join("examples").join(name);
    let lock = dir.join("Cargo.lock");
    let lock_before = std::fs::read_to_string(&lock).ok();
    println!("==> example {name}");
    // Not members of the main workspace, so `cargo fmt --all` does not see them.
    Cmd::new("cargo")
        .args(["fmt", "--check"])
        .current_dir(&dir)
        .envs(tools.child_env())
        .run(&format!("cargo fmt --check (examples/{name})"))?;
    Cmd::new("cargo")
        .args(["build", "--release", "--target", "wasm32-unknown-unknown"])
        .current_dir(&dir)
        .envs(tools.child_env())
        .env("CARGO_TARGET_DIR", target)
        .run(&format!("cargo build (examples/{name})"))?;
    if std::fs::read_to_string(&lock).ok() != lock_before {
        println!(
            "    note: cargo updated examples/{name}/Cargo.lock (websse's dependencies changed?); \
             commit it"
        );
    }
    // One wasm-bindgen CLI serves the app and every example: the versions must agree.
    let locked = tools::wasm_bindgen_version(&dir)?;
    if locked != wasm_bindgen {
        return Err(format!(
            "examples/{name}/Cargo.lock has wasm-bindgen {locked}, the workspace {wasm_bindgen}: \
             run `cargo update -p wasm-bindgen --precise {wasm_bindgen}` in examples/{name}"
        ));
    }
    let out = site.join(name);
    if out.exists() {
        std::fs::remove_dir_all(&out)
            .map_err(|e| format!("cannot clear {}: {e}", out.display()))?;
    }
    let wasm = target
        .join("wasm32-unknown-unknown/release")
        .join(format!("websse-example-{name}.wasm"));
    Cmd::new(tools.wasm_bindgen())
        .args([
            "--target",
            "web",
            "--no-typescript",
            "--out-name",
            "app",
            "--out-dir",
        ])
        .arg(out.join("pkg"))
        .arg(&wasm)
        .envs(tools.child_env())
        .run(&format!("wasm-bindgen (examples/{name})"))?;
    for file in ["index.html", "boot.js", "style.css"] {
        copy(&dir.join(file), &out.join(file))?;
    }
    Ok(())
}

fn copy(from: &Path, to: &Path) -> Result {
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))
}

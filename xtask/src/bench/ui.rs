//! The UI benches of `cargo xtask bench` (`--ui-only` runs them alone): a long answer typed by
//! the app in headless Chromium, then websse-markdown's `MarkdownView` in a page of its own.

use std::path::{Path, PathBuf};

use super::profile;
use crate::proc::{Cmd, Server};
use crate::{Result, tools};

pub fn run(root: &Path) -> Result {
    println!("\n==> UI bench: a 20,000-token answer at 3,000 tokens/s in headless Chromium");
    let tools = tools::Tools::ensure(root, tools::Need::all())?;
    crate::build_app(root, &tools)?;
    let bin = crate::build_server(root, &tools)?;
    let server = Server::start(
        tools.child_env(),
        &bin,
        &["--static-dir", "dist", "--addr", "127.0.0.1:0"],
    )?;
    Cmd::new("cargo")
        .args(["run", "-p", "websse-e2e", "--bin", "ui-bench"])
        .envs(tools.child_env())
        .env("WEBSSE_E2E_URL", server.url())
        .run("ui-bench")?;
    drop(server);
    markdown_ui_bench(root, &tools, &bin)
}

/// websse-markdown in the browser: bench/markdown-ui's page (a `MarkdownView` fed at 3,000
/// deltas/s by the page's script), built like an app ships it, served by websse-server and
/// measured by `md-ui-bench` in headless Chromium.
fn markdown_ui_bench(root: &Path, tools: &tools::Tools, server_bin: &PathBuf) -> Result {
    println!("\n==> Markdown UI bench: a MarkdownView at 3,000 deltas/s in headless Chromium");
    let dir = root.join("bench/markdown-ui");
    profile::check_mirrored(root, &dir)?;
    let target = crate::target_dir(root).join("markdown-ui");
    Cmd::new("cargo")
        .args([
            "build",
            "--quiet",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
        ])
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .envs(tools.child_env())
        .run("cargo build (bench/markdown-ui)")?;
    let site = target.join("site");
    Cmd::new(tools.wasm_bindgen())
        .args(["--target", "web", "--out-name", "app", "--out-dir"])
        .arg(&site)
        .arg(target.join("wasm32-unknown-unknown/release/markdown_ui_bench.wasm"))
        .envs(tools.child_env())
        .run("wasm-bindgen (bench/markdown-ui)")?;
    std::fs::copy(dir.join("index.html"), site.join("index.html"))
        .map_err(|e| format!("cannot copy bench/markdown-ui/index.html: {e}"))?;
    let site_arg = site.to_string_lossy().into_owned();
    let server = Server::start(
        tools.child_env(),
        server_bin,
        &["--static-dir", &site_arg, "--addr", "127.0.0.1:0"],
    )?;
    Cmd::new("cargo")
        .args(["run", "-p", "websse-e2e", "--bin", "md-ui-bench"])
        .envs(tools.child_env())
        .env("WEBSSE_E2E_URL", server.url())
        .run("md-ui-bench")
}

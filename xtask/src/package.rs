//! The publishing checks of `cargo xtask test`: the libraries package and verify as crates.io
//! would build them, and their docs build without a warning on the host and on wasm32.

use std::path::{Path, PathBuf};

use crate::Ctx;
use crate::Result;
use crate::proc::Cmd;

/// The crates a user depends on (the server, app, tests and xtask are not published).
const LIBRARIES: [&str; 2] = ["websse-core", "websse"];

/// `cargo package` of both libraries: builds each from its packaged files alone, websse against
/// the packaged websse-core (cargo's temporary local registry), which is what `cargo publish
/// --dry-run` checks, without needing either name on crates.io.
pub fn dry_run(ctx: &mut Ctx) -> Result {
    forget_packaged_copies(&ctx.root)?;
    let mut cmd = Cmd::new("cargo").arg("package");
    for lib in LIBRARIES {
        cmd = cmd.args(["-p", lib]);
    }
    // The working tree may hold uncommitted work when run locally; CI runs on a clean clone.
    cmd.arg("--allow-dirty")
        .envs(ctx.tools.child_env())
        .run("cargo package (websse-core, websse)")
}

/// Makes cargo forget what it kept of earlier packaged copies of our libraries.
///
/// `cargo package` verifies websse against the just-packaged websse-core through a temporary
/// local registry under `target/package`, which cargo treats like any registry: it extracts each
/// crate once to `$CARGO_HOME/registry/src/<hash of the registry's path>/websse-core-<version>`
/// and compiles it once into `target/debug`, trusting that a registry's crate with the same
/// version never changes. Ours change with every commit, so an earlier run from the same checkout
/// path (a CI clone made at the same place a few commits back) leaves its websse-core behind, and
/// the new websse is compiled against the old one, failing on any API added since. So both are
/// removed first: the extracted copies (cargo extracts again from the new `.crate`) and the
/// fingerprints of builds named after our libraries (the workspace's own copies then rebuild
/// once, a few seconds; a fresh clone has none).
fn forget_packaged_copies(root: &Path) -> Result {
    if let Some(home) = cargo_home() {
        for registry in entries(&home.join("registry").join("src")) {
            remove_ours(&registry)?;
        }
    }
    let fingerprints = crate::target_dir(root).join("debug").join(".fingerprint");
    remove_ours(&fingerprints)
}

/// Removes the directories in `dir` named `<library>-<version or build hash>`
/// (`websse-core-0.1.0`, `websse-1f2e...`), never `websse-server-...` or `websse-e2e-...`.
fn remove_ours(dir: &Path) -> Result {
    for entry in entries(dir) {
        let Some(name) = entry.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        let ours = LIBRARIES.iter().any(|lib| {
            name.strip_prefix(lib)
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|rest| {
                    // A version (`0.1.0`) or a build hash (16 hex digits), not `core-...`.
                    rest.starts_with(|c: char| c.is_ascii_digit())
                        || (rest.len() == 16 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
                })
        });
        if ours && entry.is_dir() {
            std::fs::remove_dir_all(&entry)
                .map_err(|e| format!("removing {}: {e}", entry.display()))?;
        }
    }
    Ok(())
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
}

/// websse with each transport alone, and with neither, builds without a warning on wasm32 (the
/// features are for apps that want less code; each subset must stay usable).
pub fn feature_subsets(ctx: &mut Ctx) -> Result {
    for features in ["fetch", "event-source", "fetch,json", ""] {
        Cmd::new("cargo")
            .args([
                "clippy",
                "--target",
                "wasm32-unknown-unknown",
                "-p",
                "websse",
            ])
            .args(["--no-default-features", "--features", features])
            .args(["--", "-D", "warnings"])
            .envs(ctx.tools.child_env())
            .run(&format!("clippy websse --features {features:?} (wasm32)"))?;
    }
    Ok(())
}

/// `cargo doc` of both libraries with every rustdoc warning an error, on the host and on
/// wasm32 (where websse's transports exist, and what docs.rs builds for it).
pub fn docs(ctx: &mut Ctx) -> Result {
    for target in [None, Some("wasm32-unknown-unknown")] {
        let mut cmd = Cmd::new("cargo").args(["doc", "--no-deps"]);
        for lib in LIBRARIES {
            cmd = cmd.args(["-p", lib]);
        }
        if let Some(target) = target {
            cmd = cmd.args(["--target", target]);
        }
        cmd.envs(ctx.tools.child_env())
            .env("RUSTDOCFLAGS", "-D warnings")
            .run(&format!(
                "cargo doc -D warnings ({})",
                target.unwrap_or("host")
            ))?;
    }
    Ok(())
}

//! The publishing checks of `cargo xtask test`: the libraries package and verify as crates.io
//! would build them, and their docs build without a warning on the host and on wasm32.

use crate::Ctx;
use crate::Result;
use crate::proc::Cmd;

/// The crates a user depends on (the server, app, tests and xtask are not published).
const LIBRARIES: [&str; 2] = ["websse-core", "websse"];

/// `cargo package` of both libraries: builds each from its packaged files alone, websse against
/// the packaged websse-core (cargo's temporary local registry), which is what `cargo publish
/// --dry-run` checks, without needing either name on crates.io.
pub fn dry_run(ctx: &mut Ctx) -> Result {
    let mut cmd = Cmd::new("cargo").arg("package");
    for lib in LIBRARIES {
        cmd = cmd.args(["-p", lib]);
    }
    // The working tree may hold uncommitted work when run locally; CI runs on a clean clone.
    cmd.arg("--allow-dirty")
        .envs(ctx.tools.child_env())
        .run("cargo package (websse-core, websse)")
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

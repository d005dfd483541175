//! `cargo xtask bench`: runs the benches that its flags select, in this order:
//!
//! - [`parser`]: websse-core against the Rust peers natively (criterion), then [`v8`]: the same
//!   parser in wasm against eventsource-parser in Node;
//! - [`ui`]: the app and websse-markdown's view in headless Chromium;
//! - [`throughput`]: events per second through four readers in one Chromium page;
//! - [`markdown`]: websse-markdown streamed against one-shot, and marked re-lexing per delta;
//! - [`deploy`]: the server behind nginx and on Redis;
//! - [`size`]: what the app and the library cost in bytes.
//!
//! [`profile`] is what the benches that build wasm share: the release-profile check.

mod deploy;
mod markdown;
mod parser;
mod profile;
mod size;
mod throughput;
mod ui;
mod v8;

use std::path::Path;

use crate::Result;

pub fn run(root: &Path, args: &[String]) -> Result {
    let (mut parser, mut ui, mut throughput, mut markdown, mut deploy) =
        (true, true, true, true, true);
    let mut v8_only = false;
    // The size table runs with everything, or alone with --size-only (--twiggy adds profiles).
    let mut twiggy = false;
    let size = !args
        .iter()
        .any(|a| a.ends_with("-only") && a != "--size-only");
    for a in args {
        match a.as_str() {
            "--parser-only" => (ui, throughput, markdown, deploy) = (false, false, false, false),
            "--v8-only" => {
                (parser, ui, throughput, markdown, deploy, v8_only) =
                    (false, false, false, false, false, true)
            }
            "--ui-only" => (parser, throughput, markdown, deploy) = (false, false, false, false),
            "--throughput-only" => (parser, ui, markdown, deploy) = (false, false, false, false),
            "--markdown-only" => (parser, ui, throughput, deploy) = (false, false, false, false),
            "--deploy-only" => (parser, ui, throughput, markdown) = (false, false, false, false),
            "--size-only" => {
                (parser, ui, throughput, markdown, deploy) = (false, false, false, false, false)
            }
            "--twiggy" => twiggy = true,
            other => return Err(format!("bench: unknown argument {other:?}")),
        }
    }
    if parser {
        parser::run(root)?;
    }
    if parser || v8_only {
        v8::run(root)?;
    }
    if ui {
        ui::run(root)?;
    }
    if throughput {
        throughput::run(root)?;
    }
    if markdown {
        markdown::run(root)?;
    }
    if deploy {
        deploy::run(root)?;
    }
    if size {
        size::run(root, twiggy)?;
    }
    Ok(())
}

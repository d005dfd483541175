//! `cargo xtask`: the project's own automation.
//!
//! - `cargo xtask demo [--addr ADDR] [--allow-origin ORIGIN]... [--redis URL] [--instances N]`:
//!   build the app with Trunk (release) and serve it, with the API, from websse-server;
//!   `--allow-origin` opens the API to a front end served elsewhere (e.g. `trunk serve` or an
//!   example app on another port); `--redis` keeps the answers in that Redis; `--instances 2`
//!   starts a Redis (unless `--redis` names one), two instances on it and nginx in front of them
//!   on ADDR, to show a resume landing on the other instance.
//! - `cargo xtask examples [--addr ADDR]`: build the example apps in `examples/` (Leptos, Dioxus,
//!   plain wasm-bindgen) and serve them, with the API, from websse-server.
//! - `cargo xtask test [--keep-going] [--browsers chromium,firefox,webkit]`: the whole suite
//!   (format, lints, native tests, browser tests, app build, end-to-end tests), each step named,
//!   timed and summarised; every browser step runs once per engine (see [`engines`]).
//! - `cargo xtask bench`: everything below, in one run (see [`bench`], one file per group).
//!   `--parser-only`: the native parser benches against the Rust peers, then the V8 group
//!   (`bench/v8.rs`: websse-core in wasm against eventsource-parser in Node; `--v8-only` alone);
//!   `--ui-only`: the UI bench in headless Chromium; `--throughput-only`: events per second
//!   through four readers in one Chromium page (`bench/throughput.rs`); `--markdown-only`:
//!   websse-markdown streamed against one-shot natively and marked re-lexing per delta in Node;
//!   `--deploy-only`: the server behind nginx and on Redis (`bench/deploy.rs`);
//!   `--size-only [--twiggy]`: the size table (app and library gzipped after wasm-opt, see
//!   `bench/size.rs`), with twiggy profiles.
//! - `cargo xtask modgraph`: the module-graph step of `test` alone: every target of every
//!   workspace crate, checked for modules that import each other in a cycle (see [`modgraph`]).
//! - `cargo xtask fuzz [SECONDS]`: the differential fuzz target of websse-core.
//! - `cargo xtask leaks [CYCLES]`: the leak probe (`tests/tests/leaks.rs`) with CYCLES connect/close
//!   cycles per run (fetch, EventSource, fetch shared across tabs; default 1000), its table printed.
//!
//! Every command first makes sure the tools it needs are present and installs what is missing
//! (see [`tools`]), so a fresh machine with only rustup and cargo works unaided.

mod bench;
mod engines;
mod examples;
mod modgraph;
mod package;
mod proc;
mod tools;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use proc::{Cmd, Server};

/// Result type of the xtask: errors are messages for a person at a terminal.
type Result<T = (), E = String> = std::result::Result<T, E>;

/// The benches that are workspaces of their own (each with its own lockfile, built as an app is).
const BENCH_WORKSPACES: [&str; 4] = [
    "bench/markdown-ui",
    "bench/size",
    "bench/throughput",
    "bench/v8",
];

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  demo [--addr ADDR] [--allow-origin ORIGIN]... [--redis URL] [--instances N]
                              build the app (release) and serve it with the API (default 127.0.0.1:8080);
                              --allow-origin lets a front end on another origin (or *) call the API;
                              --redis keeps answers in Redis; --instances 2 runs Redis, two instances
                              and nginx (round robin) in front of them on ADDR
  examples [--addr ADDR]      build the Leptos, Dioxus and wasm-bindgen examples and serve them
  test [--keep-going] [--browsers LIST]
                              format, lints, native tests, browser tests, app build, end-to-end tests;
                              the browser steps run in each engine of LIST (chromium,firefox,webkit
                              or all; default all three)
  bench                       all of the benches below, in one run
  bench --parser-only         the parser natively against the Rust peers, then in V8 (--v8-only)
  bench --ui-only             the UI bench: a long answer typed in headless Chromium
  bench --markdown-only       websse-markdown: streamed vs one-shot natively, marked re-lexing in Node
  bench --throughput-only     events/s through websse (both transports), the native EventSource
                              and eventsource-parser, in one Chromium page
  bench --deploy-only         the server deployed: resume time to first byte on Redis vs memory,
                              first-token latency through nginx vs direct, delta throughput
  bench --size-only [--twiggy]
                              sizes: the app and the library, gzipped after wasm-opt -Oz
  fuzz [SECONDS]              run the websse-core differential fuzz target (default 60 s)
  leaks [CYCLES]              leak probe: CYCLES connect/close cycles per transport (default 1000)
  modgraph                    check that no crate's modules import each other in a cycle
  setup                       only check and install the prerequisites
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    if let Err(e) = std::env::set_current_dir(&root) {
        eprintln!("xtask: cannot enter {}: {e}", root.display());
        return ExitCode::FAILURE;
    }
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo(&root, &args[1..]),
        Some("examples") => examples::serve(&root, &args[1..]),
        Some("test") => test(&root, &args[1..]),
        Some("bench") => bench::run(&root, &args[1..]),
        Some("fuzz") => fuzz(&root, &args[1..]),
        Some("leaks") => leaks(&root, &args[1..]),
        Some("modgraph") => modgraph::check(&root),
        Some("setup") => {
            let need = tools::Need::all().with_engines(&engines::DEFAULT);
            tools::Tools::ensure(&root, need).map(|_| ())
        }
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unknown or missing command\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    // xtask/Cargo.toml lives one level below the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `cargo xtask demo`.
fn demo(root: &Path, args: &[String]) -> Result {
    let mut addr = "127.0.0.1:8080".to_string();
    let mut origins: Vec<String> = Vec::new();
    let mut redis: Option<String> = None;
    let mut instances: usize = 1;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--addr" => {
                addr = it
                    .next()
                    .ok_or("--addr needs a value such as 127.0.0.1:8080")?
                    .clone()
            }
            "--allow-origin" => origins.push(
                it.next()
                    .ok_or("--allow-origin needs an origin such as http://127.0.0.1:3000, or *")?
                    .clone(),
            ),
            "--redis" => {
                redis = Some(
                    it.next()
                        .ok_or("--redis needs a URL such as redis://127.0.0.1:6379")?
                        .clone(),
                )
            }
            "--instances" => {
                instances = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| (1..=8).contains(n))
                    .ok_or("--instances needs a number from 1 to 8")?
            }
            other => return Err(format!("demo: unknown argument {other:?}\n\n{USAGE}")),
        }
    }
    let need = if instances > 1 {
        tools::Need::app().with_services()
    } else {
        tools::Need::app()
    };
    let tools = tools::Tools::ensure(root, need)?;
    build_app(root, &tools)?;
    let server = build_server(root, &tools)?;
    // Several instances need a shared Redis: the one given, or one started here.
    let own_redis = match (&redis, instances > 1) {
        (None, true) => Some(proc::Service::redis()?),
        _ => None,
    };
    let redis = redis.or_else(|| own_redis.as_ref().map(proc::Service::redis_url));
    let listen = addr.clone();
    let addr = if instances > 1 {
        "127.0.0.1:0".to_owned()
    } else {
        addr
    };
    println!("==> starting websse-server on {addr}");
    // The inspector is for any SSE URL: the demo's CSP lets its pages connect to any http(s)
    // origin (scripts stay strict). The server's own default is `connect-src 'self'`.
    let mut server_args = vec![
        "--static-dir",
        "dist",
        "--addr",
        &addr,
        "--connect-src",
        "https:",
        "--connect-src",
        "http:",
    ];
    for origin in &origins {
        server_args.extend(["--allow-origin", origin.as_str()]);
    }
    if let Some(url) = &redis {
        server_args.extend(["--redis", url.as_str()]);
    }
    let mut srv = Server::start(tools.child_env(), &server, &server_args)?;
    let mut others = Vec::new();
    for _ in 1..instances {
        others.push(Server::start(tools.child_env(), &server, &server_args)?);
    }
    let _nginx = if instances > 1 {
        let upstreams: Vec<String> = std::iter::once(&srv)
            .chain(&others)
            .map(|s| s.url().trim_start_matches("http://").to_owned())
            .collect();
        println!("    instances: {}", upstreams.join(", "));
        let dir = target_dir(root).join("demo-nginx");
        Some(proc::Service::nginx(&dir, &listen, &upstreams)?)
    } else {
        None
    };
    let shown = if instances > 1 {
        format!("http://{listen}")
    } else {
        srv.url().to_owned()
    };
    println!("\n    websse demo: {shown}/\n    (Ctrl-C stops it)\n");
    if let Some(url) = &redis {
        println!("    answers are kept in Redis at {url}\n");
    }
    if !origins.is_empty() {
        println!(
            "    the API answers CORS requests from: {}\n",
            origins.join(", ")
        );
    }
    srv.wait()
}

/// Builds `www/` with Trunk in release mode into `dist/`.
fn build_app(root: &Path, tools: &tools::Tools) -> Result {
    Cmd::new(&tools.trunk)
        .args(["build", "--release", "--dist", "dist"])
        .current_dir(root)
        .envs(tools.child_env())
        .run("trunk build --release")
}

/// Builds the websse-server binary (dev profile) and returns its path.
pub(crate) fn build_server(root: &Path, tools: &tools::Tools) -> Result<PathBuf> {
    Cmd::new("cargo")
        .args([
            "build",
            "--quiet",
            "-p",
            "websse-server",
            "--bin",
            "websse-server",
        ])
        .envs(tools.child_env())
        .run("cargo build -p websse-server")?;
    let bin = target_dir(root).join("debug").join("websse-server");
    if bin.exists() {
        Ok(bin)
    } else {
        Err(format!(
            "built websse-server but {} is missing",
            bin.display()
        ))
    }
}

pub(crate) fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// One named step of `cargo xtask test`.
struct Step {
    name: &'static str,
    run: Box<dyn FnMut(&mut Ctx) -> Result>,
}

/// What the steps share: the tools, and the test counts read from the runners' closing lines.
struct Ctx {
    root: PathBuf,
    tools: tools::Tools,
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Ctx {
    /// Runs a test runner, echoing its output and adding up its `test result:` lines.
    fn run_tests(&mut self, cmd: Cmd, what: &str) -> Result {
        let outcome = cmd.run_counting(what)?;
        self.passed += outcome.passed;
        self.failed += outcome.failed;
        self.ignored += outcome.ignored;
        if outcome.runs == 0 {
            return Err(format!("{what}: no test runner reported a result"));
        }
        outcome.status
    }
}

/// `cargo xtask test`.
fn test(root: &Path, args: &[String]) -> Result {
    let mut keep_going = false;
    let mut browsers = engines::DEFAULT.to_vec();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--keep-going" => keep_going = true,
            "--browsers" => {
                browsers = engines::parse_list(it.next().ok_or("--browsers needs a list")?)?
            }
            _ => return Err(format!("test: unknown argument {a:?}\n\n{USAGE}")),
        }
    }
    let started = Instant::now();
    println!("==> [0] prerequisites");
    let need = tools::Need::all().with_engines(&browsers);
    let tools = tools::Tools::ensure(root, need)?;
    let mut ctx = Ctx {
        root: root.to_path_buf(),
        tools,
        passed: 0,
        failed: 0,
        ignored: 0,
    };
    let steps = test_steps(&browsers);
    let names: Vec<&str> = steps.iter().map(|s| s.name).collect();
    let total = steps.len();
    let mut results: Vec<(&str, f64, Result, String)> = Vec::new();
    for (i, mut step) in steps.into_iter().enumerate() {
        println!("\n==> [{}/{total}] {}", i + 1, step.name);
        let t = Instant::now();
        let before = (ctx.passed, ctx.failed, ctx.ignored);
        let r = (step.run)(&mut ctx);
        let counts = if (ctx.passed, ctx.failed, ctx.ignored) == before {
            String::new()
        } else {
            format!(
                "  ({} passed, {} failed, {} skipped)",
                ctx.passed - before.0,
                ctx.failed - before.1,
                ctx.ignored - before.2
            )
        };
        let secs = t.elapsed().as_secs_f64();
        match &r {
            Ok(()) => println!("<== [{}/{total}] {}: ok in {secs:.1}s", i + 1, step.name),
            Err(e) => println!(
                "<== [{}/{total}] {}: FAILED in {secs:.1}s: {e}",
                i + 1,
                step.name
            ),
        }
        let failed = r.is_err();
        results.push((step.name, secs, r, counts));
        if failed && !keep_going {
            break;
        }
    }
    println!(
        "\n==> summary ({:.1}s in all)",
        started.elapsed().as_secs_f64()
    );
    for (name, secs, r, counts) in &results {
        let mark = if r.is_ok() { "ok    " } else { "FAILED" };
        println!("    {mark} {secs:>7.1}s  {name}{counts}");
    }
    for name in names.iter().skip(results.len()) {
        println!("    not run           {name}");
    }
    let failed_steps: Vec<&str> = results
        .iter()
        .filter(|(_, _, r, _)| r.is_err())
        .map(|(n, ..)| *n)
        .collect();
    println!(
        "tests: {} passed, {} failed, {} skipped",
        ctx.passed, ctx.failed, ctx.ignored
    );
    if failed_steps.is_empty() {
        Ok(())
    } else {
        Err(format!("failing step(s): {}", failed_steps.join(", ")))
    }
}

/// The test pipeline, in order; each browser step once per engine of `browsers`.
fn test_steps(browsers: &[engines::Engine]) -> Vec<Step> {
    let per_engine = |name: fn(engines::Engine) -> &'static str,
                      run: fn(&mut Ctx, engines::Engine) -> Result| {
        browsers
            .iter()
            .map(move |&e| Step {
                name: name(e),
                run: Box::new(move |ctx| run(ctx, e)),
            })
            .collect::<Vec<_>>()
    };
    let mut steps = vec![
        Step {
            name: "format (cargo fmt --check)",
            run: Box::new(|ctx| {
                Cmd::new("cargo")
                    .args(["fmt", "--all", "--check"])
                    .envs(ctx.tools.child_env())
                    .run("cargo fmt --all --check")?;
                // The benches' workspaces of their own, which `--all` does not see (the examples
                // are checked when they are built).
                for bench in BENCH_WORKSPACES {
                    Cmd::new("cargo")
                        .args(["fmt", "--all", "--check", "--manifest-path"])
                        .arg(ctx.root.join(bench).join("Cargo.toml"))
                        .envs(ctx.tools.child_env())
                        .run(&format!("cargo fmt --all --check ({bench})"))?;
                }
                Ok(())
            }),
        },
        Step {
            name: "module graph (no cycles)",
            run: Box::new(|ctx| modgraph::check(&ctx.root)),
        },
        Step {
            name: "lints (clippy, host and wasm32)",
            run: Box::new(|ctx| {
                Cmd::new("cargo")
                    .args([
                        "clippy",
                        "--workspace",
                        "--exclude",
                        "websse-www",
                        "--all-targets",
                    ])
                    .args(["--", "-D", "warnings"])
                    .envs(ctx.tools.child_env())
                    .env("WEBSSE_TEST_SERVER", "http://127.0.0.1:9")
                    .run("clippy (host)")?;
                Cmd::new("cargo")
                    .args(["clippy", "--target", "wasm32-unknown-unknown"])
                    .args(["-p", "websse-core", "--no-default-features"])
                    .args(["--", "-D", "warnings"])
                    .envs(ctx.tools.child_env())
                    .run("clippy (wasm32, websse-core no_std)")?;
                Cmd::new("cargo")
                    .args(["clippy", "--target", "wasm32-unknown-unknown"])
                    .args(["-p", "websse", "-p", "websse-www", "--all-targets"])
                    .args(["--", "-D", "warnings"])
                    .envs(ctx.tools.child_env())
                    .env("WEBSSE_TEST_SERVER", "http://127.0.0.1:9")
                    .run("clippy (wasm32, websse + app)")
            }),
        },
        Step {
            name: "library docs (cargo doc -D warnings, host and wasm32) and feature subsets",
            run: Box::new(|ctx| {
                package::docs(ctx)?;
                package::feature_subsets(ctx)
            }),
        },
        Step {
            name: "publishing dry run (cargo package websse-core websse)",
            run: Box::new(package::dry_run),
        },
        Step {
            name: "native tests (cargo test, the app's reducers included; store suite on memory and Redis, instances behind nginx)",
            run: Box::new(|ctx| {
                // The Redis half of the store suite and the deployment tests run against this
                // redis-server (they start nginx themselves, one config per test); with
                // WEBSSE_REQUIRE_SERVICES they fail rather than skip when something is missing.
                let redis = proc::Service::redis()?;
                // The app's reducers and query forms are pure and tested natively too.
                let cmd = Cmd::new("cargo")
                    .args(["test", "--workspace", "--exclude", "websse-e2e"])
                    .envs(ctx.tools.child_env())
                    .env("WEBSSE_TEST_REDIS", redis.redis_url())
                    .env("WEBSSE_REQUIRE_SERVICES", "1");
                ctx.run_tests(cmd, "cargo test")
            }),
        },
    ];
    steps.extend(per_engine(
        engines::Engine::browser_step,
        engines::browser_tests,
    ));
    steps.push(Step {
        name: "app build (trunk build --release)",
        run: Box::new(|ctx| build_app(&ctx.root, &ctx.tools)),
    });
    steps.extend(per_engine(engines::Engine::e2e_step, engines::e2e));
    steps.extend(per_engine(engines::Engine::examples_step, examples::test));
    steps
}
/// `cargo xtask leaks [CYCLES]`: the e2e leak probe against the release app, with its table shown.
fn leaks(root: &Path, args: &[String]) -> Result {
    let cycles: u64 = match args.first() {
        None => 1000,
        Some(n) => n
            .parse()
            .map_err(|_| format!("leaks: {n:?} is not a cycle count\n\n{USAGE}"))?,
    };
    let tools = tools::Tools::ensure(root, tools::Need::all())?;
    build_app(root, &tools)?;
    let bin = build_server(root, &tools)?;
    let server = Server::start_test(tools.child_env(), &bin, Some(Path::new("dist")))?;
    Cmd::new("cargo")
        .args([
            "test",
            "-p",
            "websse-e2e",
            "--test",
            "leaks",
            "--",
            "--nocapture",
        ])
        .envs(tools.child_env())
        .env("WEBSSE_E2E_URL", server.url())
        .env("WEBSSE_LEAK_CYCLES", cycles.to_string())
        .run("cargo test -p websse-e2e --test leaks")
}

/// `cargo xtask fuzz [SECONDS]`.
fn fuzz(root: &Path, args: &[String]) -> Result {
    let secs: u64 = match args.first() {
        None => 60,
        Some(s) => s
            .parse()
            .map_err(|_| format!("fuzz: {s:?} is not a number of seconds"))?,
    };
    let tools = tools::Tools::ensure(root, tools::Need::fuzz())?;
    let fuzz_dir = root.join("crates/websse-core/fuzz");
    let targets = std::fs::read_dir(fuzz_dir.join("fuzz_targets"))
        .map_err(|e| format!("no fuzz targets in {}: {e}", fuzz_dir.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let p = e.path();
            (p.extension()? == "rs").then(|| p.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect::<Vec<_>>();
    if targets.is_empty() {
        return Err("no fuzz targets found".into());
    }
    let per = (secs / targets.len() as u64).max(1);
    for t in &targets {
        println!("==> fuzzing {t} for {per}s");
        Cmd::new(&tools.rustup)
            .args(["run", "nightly", "cargo", "fuzz", "run", t.as_str()])
            .arg("--")
            .arg(format!("-max_total_time={per}"))
            .current_dir(&fuzz_dir)
            .envs(tools.child_env())
            .run(&format!("cargo fuzz run {t}"))?;
    }
    Ok(())
}

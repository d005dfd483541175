//! The browser engines that the browser tests and the end-to-end tests run in: Chromium (through
//! chromedriver), Firefox (geckodriver) and WebKit (WebKitGTK's MiniBrowser through
//! WebKitWebDriver, under an Xvfb that xtask starts and stops).
//!
//! `cargo xtask test --browsers chromium,firefox,webkit` picks them; each browser step runs once
//! per engine as its own named, timed step. The end-to-end harness reads the engine from
//! `WEBSSE_E2E_BROWSER` (see `tests/src/lib.rs`).
//!
//! Tests that need the Chrome DevTools Protocol cannot run in the other engines; they are not
//! run there (`--skip`), and each is named with its reason and counted as skipped in the summary.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::proc::{Cmd, Server};
use crate::{Ctx, Result};

/// A browser engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Chromium,
    Firefox,
    Webkit,
}

/// All engines, in the order their steps run.
pub const ALL: [Engine; 3] = [Engine::Chromium, Engine::Firefox, Engine::Webkit];

/// The engines `cargo xtask test` runs without `--browsers`: those that pass reliably here.
pub const DEFAULT: [Engine; 3] = ALL;

impl Engine {
    /// The name `--browsers` and `WEBSSE_E2E_BROWSER` use.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Chromium => "chromium",
            Engine::Firefox => "firefox",
            Engine::Webkit => "webkit",
        }
    }

    /// The name of this engine's `crates/websse` browser-test step.
    pub fn browser_step(self) -> &'static str {
        match self {
            Engine::Chromium => "browser tests of crates/websse in Chromium (wasm-pack --chrome)",
            Engine::Firefox => "browser tests of crates/websse in Firefox (wasm-pack --firefox)",
            Engine::Webkit => "browser tests of crates/websse in WebKit (runner + WebKitWebDriver)",
        }
    }

    /// The name of this engine's end-to-end step.
    pub fn e2e_step(self) -> &'static str {
        match self {
            Engine::Chromium => "end-to-end tests in headless Chromium (websse-e2e)",
            Engine::Firefox => "end-to-end tests in headless Firefox (websse-e2e)",
            Engine::Webkit => "end-to-end tests in WebKit MiniBrowser on Xvfb (websse-e2e)",
        }
    }

    /// The name of this engine's examples step.
    pub fn examples_step(self) -> &'static str {
        match self {
            Engine::Chromium => {
                "examples (leptos, dioxus, vanilla): build + end-to-end in Chromium"
            }
            Engine::Firefox => "examples (leptos, dioxus, vanilla): build + end-to-end in Firefox",
            Engine::Webkit => "examples (leptos, dioxus, vanilla): build + end-to-end in WebKit",
        }
    }

    /// End-to-end tests this engine cannot run, with the reason: not run, named and counted.
    pub fn e2e_skips(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Engine::Chromium => &[],
            Engine::Firefox | Engine::Webkit => &[
                (
                    "connect_close_cycles_leave_no_browser_objects_behind",
                    "the leak probe needs the Chrome DevTools Protocol (forced GC, \
                     Runtime.queryObjects, heap usage), which only Chromium has",
                ),
                (
                    "a_frozen_leader_is_replaced_within_3_s",
                    "freezing a page (Page.setWebLifecycleState) needs the Chrome DevTools \
                     Protocol; the silent-leader takeover is covered in every engine by the \
                     browser test a_silent_leader_is_replaced_within_3_s",
                ),
            ],
        }
    }
}

/// Reads `chromium,firefox,webkit` (or `all`).
pub fn parse_list(list: &str) -> Result<Vec<Engine>> {
    if list.trim() == "all" {
        return Ok(ALL.to_vec());
    }
    let mut engines = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let engine = ALL.into_iter().find(|e| e.name() == name).ok_or_else(|| {
            format!("--browsers: unknown engine {name:?} (chromium, firefox, webkit, all)")
        })?;
        if !engines.contains(&engine) {
            engines.push(engine);
        }
    }
    if engines.is_empty() {
        return Err("--browsers needs at least one of chromium, firefox, webkit".into());
    }
    // Steps run in a fixed order whatever order the list names them in.
    engines.sort_by_key(|e| ALL.iter().position(|a| a == e));
    Ok(engines)
}

/// Environment for a child that drives `engine`: the e2e harness's `WEBSSE_E2E_BROWSER`, the
/// driver and browser paths, and the X display for WebKit.
pub fn env(ctx: &Ctx, engine: Engine, display: Option<&Xvfb>) -> Vec<(OsString, OsString)> {
    let t = &ctx.tools;
    let mut env: Vec<(OsString, OsString)> =
        vec![("WEBSSE_E2E_BROWSER".into(), engine.name().into())];
    match engine {
        Engine::Chromium => {}
        Engine::Firefox => {
            env.push(("GECKODRIVER".into(), t.geckodriver.clone().into()));
            env.push(("FIREFOX".into(), t.firefox.clone().into()));
        }
        Engine::Webkit => {
            env.push(("WEBKIT_DRIVER".into(), t.webkit_driver.clone().into()));
            env.push(("WEBKIT_BROWSER".into(), t.minibrowser.clone().into()));
        }
    }
    if let Some(x) = display {
        env.push(("DISPLAY".into(), x.display.clone().into()));
    }
    env
}

/// The wasm-bindgen test binaries (crate, test) that run in every engine (the markdown crate
/// needs no server, but sharing the run keeps one place that knows how each engine is driven).
const BROWSER_TESTS: [(&str, &str); 4] = [
    ("crates/websse", "browser"),
    // A page of its own: it blocks the page's thread to simulate a sleeping machine.
    ("crates/websse", "sleep"),
    // A page of its own: nothing else there polls a stream whose wake-up is missing.
    ("crates/websse", "wakes"),
    ("crates/websse-markdown", "browser"),
];

/// The browser tests of [`BROWSER_TESTS`] in `engine`, against a fresh test server.
pub fn browser_tests(ctx: &mut Ctx, engine: Engine) -> Result {
    let bin = crate::build_server(&ctx.root, &ctx.tools)?;
    let server = Server::start_test(ctx.tools.child_env(), &bin, None)?;
    println!("    test server: {}", server.url());
    for (krate, test) in BROWSER_TESTS {
        let wasm_pack = Cmd::new(&ctx.tools.wasm_pack).envs(ctx.tools.child_env());
        let cmd = match engine {
            Engine::Chromium => wasm_pack
                .args(["test", "--headless", "--chrome", "--chromedriver"])
                .arg(&ctx.tools.chromedriver),
            Engine::Firefox => wasm_pack
                .args(["test", "--headless", "--firefox", "--geckodriver"])
                .arg(&ctx.tools.geckodriver)
                // The runner starts geckodriver itself; this names the browser it drives.
                .env(
                    "GECKODRIVER_ARGS",
                    format!("--binary {}", ctx.tools.firefox.display()),
                ),
            Engine::Webkit => {
                webkit_browser_tests(ctx, server.url(), krate, test)?;
                continue;
            }
        };
        let cmd = cmd
            .arg(krate)
            .args(["--test", test])
            .env("WEBSSE_TEST_SERVER", server.url())
            // The runner's limit is for a whole test binary (its tests run side by side in one
            // page), 20 s by default: too close for a loaded machine.
            .env("WASM_BINDGEN_TEST_TIMEOUT", "120");
        ctx.run_tests(
            cmd,
            &format!("wasm-pack test {krate} --test {test} ({})", engine.name()),
        )?;
    }
    Ok(())
}

/// The end-to-end tests of the app (`cargo test -p websse-e2e`) in `engine`.
pub fn e2e(ctx: &mut Ctx, engine: Engine) -> Result {
    let bin = crate::build_server(&ctx.root, &ctx.tools)?;
    let server = Server::start_test(ctx.tools.child_env(), &bin, Some(Path::new("dist")))?;
    println!("    app and API: {}", server.url());
    let display = start_display(ctx, engine)?;
    let cmd = Cmd::new("cargo")
        .args(["test", "-p", "websse-e2e", "--"])
        .args(skip_args(ctx, engine))
        .envs(ctx.tools.child_env())
        .envs(env(ctx, engine, display.as_ref()))
        .env("WEBSSE_E2E_URL", server.url());
    ctx.run_tests(
        cmd,
        &format!("cargo test -p websse-e2e ({})", engine.name()),
    )?;
    drop(server);
    cluster_e2e(ctx, engine, &bin, display.as_ref())
}

/// The chat tests that cross instances, against the app served by two websse-server instances on
/// one Redis behind nginx (round robin), as `cargo xtask demo --instances 2` runs it: an answer
/// broken mid-way resumes through the other instance over both transports, and Stop reaches the
/// instance that generates the answer.
fn cluster_e2e(ctx: &mut Ctx, engine: Engine, bin: &PathBuf, display: Option<&Xvfb>) -> Result {
    const TESTS: [&str; 2] = [
        "a_dropped_connection_resumes_without_repeats_or_gaps",
        "stop_asks_the_server_to_stop_generating",
    ];
    let redis = crate::proc::Service::redis()?;
    let redis_url = redis.redis_url();
    let args = [
        "--static-dir",
        "dist",
        "--addr",
        "127.0.0.1:0",
        "--redis",
        redis_url.as_str(),
    ];
    let instances = [
        Server::start(ctx.tools.child_env(), bin, &args)?,
        Server::start(ctx.tools.child_env(), bin, &args)?,
    ];
    let upstreams: Vec<String> = instances
        .iter()
        .map(|s| s.url().trim_start_matches("http://").to_owned())
        .collect();
    let listen = format!("127.0.0.1:{}", crate::proc::free_port()?);
    let dir = crate::target_dir(&ctx.root).join(format!("e2e-nginx-{}", engine.name()));
    let _nginx = crate::proc::Service::nginx(&dir, &listen, &upstreams)?;
    println!(
        "    two instances ({}) behind nginx: http://{listen}",
        upstreams.join(", ")
    );
    let cmd = Cmd::new("cargo")
        .args(["test", "-p", "websse-e2e", "--test", "chat", "--"])
        .args(TESTS)
        .arg("--exact")
        .envs(ctx.tools.child_env())
        .envs(env(ctx, engine, display))
        .env("WEBSSE_E2E_URL", format!("http://{listen}"));
    ctx.run_tests(
        cmd,
        &format!(
            "cargo test -p websse-e2e --test chat, two instances behind nginx ({})",
            engine.name()
        ),
    )
}

/// `--skip NAME` for each test `engine` cannot run; says which and why, and counts them.
pub fn skip_args(ctx: &mut Ctx, engine: Engine) -> Vec<String> {
    let mut args = Vec::new();
    for (test, why) in engine.e2e_skips() {
        println!("    skipped in {}: {test}: {why}", engine.name());
        ctx.ignored += 1;
        args.extend(["--skip".to_owned(), (*test).to_owned()]);
    }
    args
}

/// Xvfb on a free display for WebKit (MiniBrowser has no headless mode); nothing for the others.
pub fn start_display(ctx: &Ctx, engine: Engine) -> Result<Option<Xvfb>> {
    if engine != Engine::Webkit {
        return Ok(None);
    }
    Xvfb::start(&ctx.tools.xvfb).map(Some)
}

/// An Xvfb server; dropping the guard stops it.
pub struct Xvfb {
    child: Child,
    /// `:N`.
    pub display: String,
}

/// The lock file and the socket of X display `:n`.
fn display_files(n: u32) -> [PathBuf; 2] {
    [
        PathBuf::from(format!("/tmp/.X{n}-lock")),
        PathBuf::from(format!("/tmp/.X11-unix/X{n}")),
    ]
}

/// Whether display `:n` can be taken: neither of its files is there, or its lock names a
/// process that is gone (an X server killed before it could clean up), whose files are then
/// removed. Without `/proc` a lock is taken to be live.
fn display_free(n: u32) -> bool {
    let [lock, socket] = display_files(n);
    match std::fs::read_to_string(&lock) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => !socket.exists(),
        Ok(text) => {
            let gone = text.trim().parse::<u32>().is_ok_and(|pid| {
                Path::new("/proc/self").exists() && !Path::new(&format!("/proc/{pid}")).exists()
            });
            gone && std::fs::remove_file(&lock).is_ok() && {
                let _ = std::fs::remove_file(&socket);
                true
            }
        }
        Err(_) => false,
    }
}

impl Xvfb {
    fn start(bin: &PathBuf) -> Result<Xvfb> {
        let n = (99..200)
            .find(|&n| display_free(n))
            .ok_or("no free X display between :99 and :199")?;
        let display = format!(":{n}");
        let child = Command::new(bin)
            .args([
                display.as_str(),
                "-screen",
                "0",
                "1280x1024x24",
                "-nolisten",
                "tcp",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", bin.display()))?;
        let mut x = Xvfb { child, display };
        let [_, socket] = display_files(n);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            if let Ok(Some(status)) = x.child.try_wait() {
                return Err(format!("Xvfb {} exited ({status}) at start", x.display));
            }
            if Instant::now() > deadline {
                return Err(format!("Xvfb {} did not come up within 10 s", x.display));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        println!("    Xvfb on DISPLAY={}", x.display);
        Ok(x)
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SIGTERM, so that Xvfb removes its lock file and socket; `Child::kill` is SIGKILL,
            // which left both behind on every run until no display was free.
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let deadline = Instant::now() + Duration::from_secs(3);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // Gone now; if it was stopped hard, what it left is ours to remove.
        if let Some(n) = self.display.strip_prefix(':').and_then(|n| n.parse().ok()) {
            let [lock, socket] = display_files(n);
            let ours = std::fs::read_to_string(&lock)
                .is_ok_and(|text| text.trim() == self.child.id().to_string());
            if ours {
                let _ = std::fs::remove_file(lock);
                let _ = std::fs::remove_file(socket);
            }
        }
    }
}

/// The `crates/websse` browser tests in WebKitGTK. wasm-bindgen-test-runner drives chromedriver,
/// geckodriver and safaridriver, not WebKitWebDriver; so wasm-pack runs without `--headless`,
/// where the runner only serves the test page over HTTP (`NO_HEADLESS` mode), and xtask opens
/// that page in a WebKitWebDriver session itself, echoes the page's `#output` as it grows and
/// reads the `test result:` line from it; then it stops the runner.
fn webkit_browser_tests(ctx: &mut Ctx, server_url: &str, krate: &str, test: &str) -> Result {
    let display = Xvfb::start(&ctx.tools.xvfb)?;
    let port = free_port()?;
    // `--chrome` only because wasm-pack wants a browser named; without `--headless` the runner
    // starts no driver.
    let mut runner = Command::new(&ctx.tools.wasm_pack);
    runner
        .args(["test", "--chrome", "--chromedriver"])
        .arg(&ctx.tools.chromedriver)
        .arg(krate)
        .args(["--test", test])
        .envs(ctx.tools.child_env())
        .env("WEBSSE_TEST_SERVER", server_url)
        .env("WASM_BINDGEN_TEST_ADDRESS", format!("127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .process_group(0);
    println!(
        "    $ wasm-pack test --chrome {krate} --test {test} (interactive mode, page on 127.0.0.1:{port})"
    );
    let mut child = runner
        .spawn()
        .map_err(|e| format!("could not start wasm-pack: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout from wasm-pack")?;
    let runner = Group(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            println!("{line}");
            if let Some(url) = line.split("now available at ").nth(1) {
                let _ = tx.send(url.trim().to_owned());
            }
        }
    });
    // The first build of the test crate can take minutes on a cold machine.
    let page = rx
        .recv_timeout(Duration::from_secs(30 * 60))
        .map_err(|_| "the wasm-bindgen test runner never served its page")?;

    let driver_port = free_port()?;
    let driver = Command::new(&ctx.tools.webkit_driver)
        .arg(format!("--port={driver_port}"))
        .env("DISPLAY", &display.display)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", ctx.tools.webkit_driver.display()))?;
    let _driver = Group(driver);
    let wd = WebDriver::session(
        driver_port,
        json!({ "capabilities": { "alwaysMatch": {
            "webkitgtk:browserOptions": {
                "binary": ctx.tools.minibrowser,
                "args": ["--automation"],
            }
        }}}),
    )?;
    let outcome = wd.run_page(&page);
    wd.close();
    drop(runner);
    let output = outcome?;
    let mut runs = 0;
    for line in output.lines() {
        if let Some((passed, failed, ignored)) = crate::proc::parse_test_result(line) {
            runs += 1;
            ctx.passed += passed;
            ctx.failed += failed;
            ctx.ignored += ignored;
            if failed > 0 {
                return Err(format!(
                    "wasm-bindgen tests of {krate} in WebKit: {failed} failed"
                ));
            }
        }
    }
    if runs == 0 {
        return Err(format!(
            "wasm-bindgen tests of {krate} in WebKit: no test result line"
        ));
    }
    Ok(())
}

fn free_port() -> Result<u16> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// A child started in its own process group (`process_group(0)`); dropping the guard ends the
/// group: wasm-pack starts cargo, which starts the runner that holds the port; WebKitWebDriver
/// starts MiniBrowser.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let group = format!("-{}", self.0.id());
            let kill = |signal: &str| {
                let _ = Command::new("kill")
                    .args([signal, "--", &group])
                    .stderr(Stdio::null())
                    .status();
            };
            kill("-TERM");
            // Whatever did not stop on TERM within 5 s is killed, so this never hangs.
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(self.0.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            kill("-KILL");
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Just enough of a W3C WebDriver client (HTTP/1.1, one request per connection) for one session.
struct WebDriver {
    port: u16,
    session: String,
}

impl WebDriver {
    fn session(port: u16, capabilities: Value) -> Result<WebDriver> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match request(port, "POST", "/session", Some(&capabilities)) {
                Ok(v) => {
                    let session = v["value"]["sessionId"]
                        .as_str()
                        .ok_or_else(|| format!("WebKitWebDriver: no session: {v}"))?
                        .to_owned();
                    return Ok(WebDriver { port, session });
                }
                Err(e) if Instant::now() > deadline => {
                    return Err(format!("WebKitWebDriver: no session: {e}"));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    fn cmd(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let v = request(
            self.port,
            method,
            &format!("/session/{}{path}", self.session),
            body,
        )?;
        if let Some(err) = v["value"]["error"].as_str() {
            return Err(format!(
                "WebDriver {path}: {err}: {}",
                v["value"]["message"]
            ));
        }
        Ok(v["value"].clone())
    }

    /// Opens the runner's page and waits for its closing line (at most 10 min), echoing output.
    fn run_page(&self, url: &str) -> Result<String> {
        self.cmd("POST", "/url", Some(&json!({ "url": url })))?;
        let deadline = Instant::now() + Duration::from_secs(600);
        let mut shown = 0;
        loop {
            let text = self.cmd(
                "POST",
                "/execute/sync",
                Some(&json!({
                    "script": "const o = document.getElementById('output'); return o ? o.textContent : '';",
                    "args": [],
                })),
            )?;
            let text = text.as_str().unwrap_or_default().to_owned();
            if text.len() > shown && text.is_char_boundary(shown) {
                print!("{}", &text[shown..]);
                let _ = std::io::stdout().flush();
                shown = text.len();
            }
            if text.contains("test result:") {
                println!();
                return Ok(text);
            }
            if Instant::now() > deadline {
                return Err("the WebKit test page gave no result within 10 min".into());
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn close(&self) {
        let _ = request(
            self.port,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
    }
}

fn request(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut stream =
        TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("WebDriver: {e}"))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| format!("WebDriver: {e}"))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| format!("WebDriver: {e}"))?;
    let response = String::from_utf8_lossy(&response);
    let (head, rest) = response
        .split_once("\r\n\r\n")
        .ok_or("WebDriver: a response without a body")?;
    let rest = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    serde_json::from_str(&rest).map_err(|e| format!("WebDriver: {e}: {rest}"))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

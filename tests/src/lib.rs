//! Harness for the end-to-end tests: a real browser (through its W3C WebDriver and fantoccini)
//! against the release build of `www/` served by `websse-server`.
//!
//! `cargo xtask test` builds the app, starts `websse-server --static-dir dist --test-endpoints`
//! and runs `cargo test -p websse-e2e` with `WEBSSE_E2E_URL` set, once per engine with
//! `WEBSSE_E2E_BROWSER` set to `chromium` (the default), `firefox` or `webkit` (see [`Engine`]).
//! Each test gets its own driver and browser profile; tests take a process-wide lock so that only
//! one browser runs at a time on a small machine (WebKitWebDriver serves one session anyway).

pub mod frames;

use std::future::Future;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// A boxed error for test bodies.
pub type Error = Box<dyn std::error::Error + Send + Sync>;
/// Result of a test body.
pub type Result<T = ()> = std::result::Result<T, Error>;

/// The Chromium flags the project runs headless Chromium with (docs/design.md section 4).
pub const CHROME_FLAGS: [&str; 9] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1200,900",
];

/// The app under test, e.g. `http://127.0.0.1:PORT` (no trailing slash).
///
/// # Panics
/// If `WEBSSE_E2E_URL` is not set: these tests need the server that `cargo xtask test` starts.
pub fn base_url() -> String {
    match std::env::var("WEBSSE_E2E_URL") {
        Ok(url) if !url.trim().is_empty() => url.trim().trim_end_matches('/').to_owned(),
        _ => panic!(
            "WEBSSE_E2E_URL is not set: the end-to-end tests need the release build and a \
             websse-server; run them with `cargo xtask test`"
        ),
    }
}

/// The browser engine the tests drive, from `WEBSSE_E2E_BROWSER`.
///
/// | value      | driver (env var, else default)                       | browser                        |
/// |------------|------------------------------------------------------|--------------------------------|
/// | `chromium` | `$CHROMEDRIVER`, else `/usr/bin/chromedriver`        | `$CHROME`, else `/usr/bin/chromium`, `--headless=new` |
/// | `firefox`  | `$GECKODRIVER`, else `geckodriver` on `PATH`         | `$FIREFOX`, else `/usr/bin/firefox-esr`, `-headless` |
/// | `webkit`   | `$WEBKIT_DRIVER`, else `/usr/bin/WebKitWebDriver`    | `$WEBKIT_BROWSER`, else WebKitGTK's `MiniBrowser --automation`, on `$DISPLAY` (Xvfb) |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// Chromium through chromedriver.
    Chromium,
    /// Firefox (Gecko) through geckodriver.
    Firefox,
    /// WebKitGTK's MiniBrowser through WebKitWebDriver.
    Webkit,
}

/// WebKitGTK's MiniBrowser on Debian/Ubuntu (package `webkit2gtk-driver` pulls it in).
pub const MINIBROWSER: &str = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";

impl Engine {
    /// The engine named by `WEBSSE_E2E_BROWSER` (default `chromium`).
    ///
    /// # Panics
    /// On a value that names no engine.
    pub fn current() -> Engine {
        match std::env::var("WEBSSE_E2E_BROWSER")
            .as_deref()
            .map(str::trim)
        {
            Err(_) | Ok("" | "chromium" | "chrome") => Engine::Chromium,
            Ok("firefox") => Engine::Firefox,
            Ok("webkit") => Engine::Webkit,
            Ok(other) => {
                panic!("WEBSSE_E2E_BROWSER={other:?}: expected chromium, firefox or webkit")
            }
        }
    }

    /// The engine's name as `WEBSSE_E2E_BROWSER` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Chromium => "chromium",
            Engine::Firefox => "firefox",
            Engine::Webkit => "webkit",
        }
    }

    /// Whether the Chrome DevTools Protocol ([`cdp`]) is there: Chromium only.
    pub fn has_cdp(self) -> bool {
        self == Engine::Chromium
    }

    fn driver_command(self, port: u16) -> Command {
        let (var, default) = match self {
            Engine::Chromium => ("CHROMEDRIVER", "/usr/bin/chromedriver"),
            Engine::Firefox => ("GECKODRIVER", "geckodriver"),
            Engine::Webkit => ("WEBKIT_DRIVER", "/usr/bin/WebKitWebDriver"),
        };
        let mut cmd = Command::new(std::env::var(var).unwrap_or_else(|_| default.into()));
        // Its own process group, so that ending the driver ends the browser it started too
        // (WebKitWebDriver can leave MiniBrowser running when its session ends).
        cmd.process_group(0);
        match self {
            Engine::Chromium | Engine::Webkit => {
                cmd.arg(format!("--port={port}"));
            }
            Engine::Firefox => {
                cmd.args(["--port", &port.to_string(), "--log", "error"]);
            }
        }
        cmd
    }

    fn capabilities(self, profile: &std::path::Path) -> serde_json::Map<String, Value> {
        let mut caps = serde_json::Map::new();
        match self {
            Engine::Chromium => {
                let mut args: Vec<String> = CHROME_FLAGS.iter().map(|s| (*s).to_owned()).collect();
                args.push(format!("--user-data-dir={}", profile.display()));
                let mut chrome_options = json!({ "args": args });
                if let Ok(binary) = std::env::var("CHROME") {
                    chrome_options["binary"] = json!(binary);
                } else if std::path::Path::new("/usr/bin/chromium").exists() {
                    chrome_options["binary"] = json!("/usr/bin/chromium");
                }
                caps.insert("browserName".into(), json!("chrome"));
                caps.insert("goog:chromeOptions".into(), chrome_options);
            }
            Engine::Firefox => {
                let mut options = json!({
                    "args": ["-headless", "--width=1200", "--height=900"],
                });
                if let Ok(binary) = std::env::var("FIREFOX") {
                    options["binary"] = json!(binary);
                } else if std::path::Path::new("/usr/bin/firefox-esr").exists() {
                    options["binary"] = json!("/usr/bin/firefox-esr");
                }
                caps.insert("browserName".into(), json!("firefox"));
                caps.insert("moz:firefoxOptions".into(), options);
            }
            Engine::Webkit => {
                let binary =
                    std::env::var("WEBKIT_BROWSER").unwrap_or_else(|_| MINIBROWSER.to_owned());
                caps.insert(
                    "webkitgtk:browserOptions".into(),
                    json!({ "binary": binary, "args": ["--automation"] }),
                );
            }
        }
        caps
    }
}

/// One browser session with its own driver and profile directory.
#[derive(Debug)]
pub struct Browser {
    /// The WebDriver client.
    pub client: Client,
    driver: Child,
    profile: PathBuf,
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Browser {
    /// Starts the [`Engine::current`] engine's driver on a free port and opens a session: headless
    /// Chromium with the project's flags and a fresh `--user-data-dir`, headless Firefox, or
    /// WebKitGTK's MiniBrowser (headed, on the `$DISPLAY` that xtask's Xvfb provides).
    ///
    /// # Errors
    /// If the driver does not start or the session cannot be created.
    pub async fn start() -> Result<Self> {
        let engine = Engine::current();
        let port = free_port()?;
        let mut command = engine.driver_command(port);
        let driver = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {:?}: {e}", command.get_program()))?;
        let profile =
            std::env::temp_dir().join(format!("websse-e2e-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&profile)?;
        let mut browser_guard = DriverGuard(Some(driver));
        let caps = engine.capabilities(&profile);

        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(format!("no WebDriver session at {url}: {e}").into()),
            }
        };
        let driver = browser_guard.0.take().ok_or("the driver vanished")?;
        Ok(Self {
            client,
            driver,
            profile,
        })
    }

    /// Ends the session (the browser quits), then the driver and anything left in its process
    /// group.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        end_group(&mut self.driver);
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Kills the driver if session creation fails.
struct DriverGuard(Option<Child>);

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            end_group(&mut child);
        }
    }
}

/// Kills a driver started with [`Engine::driver_command`] and its process group (the browser).
fn end_group(driver: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", driver.id())])
        .stderr(Stdio::null())
        .status();
    let _ = driver.kill();
    let _ = driver.wait();
}

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How long one test body may take unless it says otherwise ([`run_within`]).
pub const TEST_LIMIT: Duration = Duration::from_secs(90);

/// Runs one test body with a fresh browser, one test at a time; closes the browser whatever the
/// outcome, then fails the test on an error or after [`TEST_LIMIT`].
///
/// # Panics
/// When the body returns an error (that is the test failing).
pub fn run<F, Fut>(body: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Result>,
{
    run_within(TEST_LIMIT, body);
}

/// [`run`] with its own time limit, for a test that drives many pages at once.
///
/// # Panics
/// When the body returns an error or takes longer than `limit`.
pub fn run_within<F, Fut>(limit: Duration, body: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Result>,
{
    let base = base_url();
    let _serial = serial();
    let outcome = with_browser(async move |client| {
        tokio::time::timeout(limit, body(client))
            .await
            .unwrap_or_else(|_| Err(format!("the test took longer than {limit:?}").into()))
    });
    if let Err(error) = outcome {
        panic!(
            "end-to-end test failed in {} against {base}: {error}",
            Engine::current().name()
        );
    }
}

/// The body of a bench binary: runs `body` with a fresh browser, closes the browser whatever the
/// outcome, and exits with status 1 and `name`'s error if it failed.
pub fn bench_main<F, Fut>(name: &str, body: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Result>,
{
    if let Err(error) = with_browser(body) {
        eprintln!("{name} failed: {error}");
        std::process::exit(1);
    }
}

/// Starts a browser on a fresh single-threaded runtime, runs `body` with its client, and closes
/// the browser whatever the outcome.
fn with_browser<F, Fut>(body: F) -> Result
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Result>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async move {
        let browser = Browser::start().await?;
        let outcome = body(browser.client.clone()).await;
        browser.close().await;
        outcome
    })
}

/// Polls `probe` every 25 ms until it returns `Some`, or fails after `timeout` with `what`.
///
/// # Errors
/// On timeout, or when the probe fails.
pub async fn wait_for<T, F, Fut>(timeout: Duration, what: &str, mut probe: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await? {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            return Err(format!("timed out after {timeout:?} waiting for {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Runs `script` in the page and returns its value.
///
/// # Errors
/// When WebDriver fails.
pub async fn js(client: &Client, script: &str, args: Vec<Value>) -> Result<Value> {
    Ok(client.execute(script, args).await?)
}

/// The exact `textContent` of the first element matching `css`, or `None` if there is none.
///
/// # Errors
/// When WebDriver fails.
pub async fn text(client: &Client, css: &str) -> Result<Option<String>> {
    let value = js(
        client,
        "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
        vec![json!(css)],
    )
    .await?;
    Ok(value.as_str().map(str::to_owned))
}

/// An attribute of the first element matching `css`.
///
/// # Errors
/// When WebDriver fails.
pub async fn attr(client: &Client, css: &str, name: &str) -> Result<Option<String>> {
    let value = js(
        client,
        "const e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null;",
        vec![json!(css), json!(name)],
    )
    .await?;
    Ok(value.as_str().map(str::to_owned))
}

/// CSS selector of a `data-testid`.
pub fn tid(id: &str) -> String {
    format!("[data-testid=\"{id}\"]")
}

/// Opens `path` (relative to [`base_url`]) and waits for the app to render `ready` (a test id).
///
/// # Errors
/// When the page does not come up within 15 s.
pub async fn open(client: &Client, path: &str, ready: &str) -> Result {
    let url = format!("{}{path}", base_url());
    // geckodriver can return from a navigation to a URL with a `#fragment` before the new
    // document has replaced the old one, so that `ready` would be found in the old page: mark
    // the old document and wait until it is gone (unless only the fragment changes, which keeps
    // the document).
    let old = js(
        client,
        "window.__websseOldDocument = true; return location.href;",
        vec![],
    )
    .await?;
    let old = old.as_str().unwrap_or_default();
    let same_document = url.contains('#') && old.split('#').next() == url.split('#').next();
    client.goto(&url).await?;
    let css = tid(ready);
    wait_for(Duration::from_secs(15), &format!("{css} to render"), || {
        let css = css.clone();
        async move {
            let gone = js(
                client,
                "return window.__websseOldDocument !== true;",
                vec![],
            )
            .await?;
            if !same_document && gone != json!(true) {
                return Ok(None);
            }
            Ok(client
                .find_all(Locator::Css(&css))
                .await?
                .first()
                .map(|_| ()))
        }
    })
    .await
}

/// The chat status element's `data-state`.
///
/// # Errors
/// When WebDriver fails.
pub async fn status(client: &Client) -> Result<String> {
    Ok(attr(client, &tid("status"), "data-state")
        .await?
        .unwrap_or_default())
}

/// Waits until the chat status is one of `states`, and returns it.
///
/// # Errors
/// On timeout.
pub async fn wait_status(client: &Client, states: &[&str], timeout: Duration) -> Result<String> {
    wait_for(timeout, &format!("status in {states:?}"), || async move {
        let now = status(client).await?;
        Ok(states.contains(&now.as_str()).then_some(now))
    })
    .await
}

/// The newest answer's text (exact).
///
/// # Errors
/// When WebDriver fails.
pub async fn answer(client: &Client) -> Result<String> {
    Ok(text(client, &tid("answer")).await?.unwrap_or_default())
}

/// The newest answer's rendered DOM (`innerHTML`), without the cursor.
///
/// # Errors
/// When WebDriver fails.
pub async fn answer_html(client: &Client) -> Result<String> {
    let value = js(
        client,
        r#"const e = document.querySelector('[data-testid="answer"]');
           if (!e) return null;
           const copy = e.cloneNode(true);
           copy.querySelectorAll('[data-testid="cursor"]').forEach(c => c.remove());
           return copy.innerHTML;"#,
        vec![],
    )
    .await?;
    Ok(value.as_str().map(str::to_owned).unwrap_or_default())
}

/// The newest answer's text as a reader sees it: without the cursor and the code blocks' chrome
/// (copy buttons, `aria-hidden` labels).
///
/// # Errors
/// When WebDriver fails.
pub async fn answer_visible_text(client: &Client) -> Result<String> {
    let value = js(
        client,
        r#"const e = document.querySelector('[data-testid="answer"]');
           if (!e) return '';
           const copy = e.cloneNode(true);
           copy.querySelectorAll('button, [aria-hidden="true"]').forEach(c => c.remove());
           return copy.textContent;"#,
        vec![],
    )
    .await?;
    Ok(value.as_str().map(str::to_owned).unwrap_or_default())
}

/// `markdown` rendered in one go by the page itself (the app's `render_markdown` test hook: the
/// whole text pushed at once into a view with the chat's options, then finished, which the crate
/// guarantees equals its `render_once`), as `innerHTML`.
///
/// # Errors
/// When WebDriver fails or the page has no such hook.
pub async fn one_shot_html(client: &Client, markdown: &str) -> Result<String> {
    let value = js(
        client,
        r#"const render = window.wasmBindings && window.wasmBindings.render_markdown;
           if (!render) return { error: 'no window.wasmBindings.render_markdown' };
           const div = document.createElement('div');
           render(div, arguments[0]);
           return div.innerHTML;"#,
        vec![json!(markdown)],
    )
    .await?;
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("one-shot render failed: {value}").into())
}

/// The `k` for which the newest answer's DOM equals the one-shot render of the first `k` pieces
/// concatenated (`k` >= 1), if any: a stopped or failed answer must show exactly a prefix of the
/// stream, rendered as final.
///
/// # Errors
/// When WebDriver fails or the page has no render hook.
pub async fn rendered_prefix(client: &Client, pieces: &[String]) -> Result<Option<usize>> {
    let value = js(
        client,
        r#"const [pieces] = arguments;
           const render = window.wasmBindings && window.wasmBindings.render_markdown;
           if (!render) return { error: 'no window.wasmBindings.render_markdown' };
           const answer = document.querySelector('[data-testid="answer"]').cloneNode(true);
           answer.querySelectorAll('[data-testid="cursor"]').forEach(c => c.remove());
           const shown = answer.innerHTML;
           let text = '';
           for (let k = 1; k <= pieces.length; k++) {
             text += pieces[k - 1];
             const div = document.createElement('div');
             render(div, text);
             if (div.innerHTML === shown) return k;
           }
           return -1;"#,
        vec![json!(pieces)],
    )
    .await?;
    match value.as_i64() {
        Some(k) if k > 0 => Ok(Some(k as usize)),
        Some(_) => Ok(None),
        None => Err(format!("prefix search failed: {value}").into()),
    }
}

/// Types `prompt` into the prompt box and presses Enter.
///
/// # Errors
/// When WebDriver fails.
pub async fn ask(client: &Client, prompt: &str) -> Result {
    let input = client.find(Locator::Css(&tid("prompt"))).await?;
    input.send_keys(prompt).await?;
    input.send_keys("\u{E007}").await?;
    Ok(())
}

/// Chooses the chat transport (`eventsource` or `fetch`).
///
/// # Errors
/// When WebDriver fails.
pub async fn choose_transport(client: &Client, transport: &str) -> Result {
    let select = client.find(Locator::Css(&tid("transport"))).await?;
    select.select_by_value(transport).await?;
    Ok(())
}

/// Puts `text` into the prompt box as it is (newlines included) and clicks Send.
///
/// # Errors
/// When WebDriver fails.
pub async fn send_text(client: &Client, text: &str) -> Result {
    js(
        client,
        r#"document.querySelector('[data-testid="prompt"]').value = arguments[0];
           document.querySelector('[data-testid="send"]').click();"#,
        vec![json!(text)],
    )
    .await?;
    Ok(())
}

/// The full answer the server gives for `prompt`, read straight from `GET /api/chat` with the
/// page's own `fetch` at top speed: the oracle the UI's text is compared with.
///
/// # Errors
/// When the request fails.
pub async fn server_answer(client: &Client, prompt: &str) -> Result<String> {
    Ok(server_deltas(client, prompt).await?.concat())
}

/// The deltas of the answer the server gives for `prompt`, in order (see [`server_answer`]).
///
/// # Errors
/// When the request fails.
pub async fn server_deltas(client: &Client, prompt: &str) -> Result<Vec<String>> {
    let value = client
        .execute_async(
            r#"
            const [prompt, done] = arguments;
            fetch('/api/chat?speed=1000000&prompt=' + encodeURIComponent(prompt))
              .then(r => r.text())
              .then(body => {
                const out = [];
                for (const block of body.split(/\r?\n\r?\n/)) {
                  let type = 'message'; const data = [];
                  for (const line of block.split(/\r?\n/)) {
                    if (line.startsWith('event:')) type = line.slice(6).trim();
                    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
                  }
                  if (type === 'delta' && data.length) out.push(JSON.parse(data.join('\n')).text);
                }
                done(out);
              })
              .catch(e => done({ error: String(e) }));
            "#,
            vec![json!(prompt)],
        )
        .await?;
    value
        .as_array()
        .map(|deltas| {
            deltas
                .iter()
                .map(|d| d.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .ok_or_else(|| format!("oracle request failed: {value}").into())
}

/// Saves a PNG screenshot of the page: always to `target/screenshots/NAME`, and also to
/// `docs/NAME` (the README's pictures, which are committed) when `WEBSSE_UPDATE_SCREENSHOTS` is
/// set, so that an ordinary test run leaves the work tree clean.
///
/// # Errors
/// When the screenshot or the write fails.
pub async fn screenshot(client: &Client, name: &str) -> Result {
    let png = client.screenshot().await?;
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| repo.join("target"), PathBuf::from)
        .join("screenshots");
    std::fs::create_dir_all(&target)?;
    std::fs::write(target.join(name), &png)?;
    if std::env::var_os("WEBSSE_UPDATE_SCREENSHOTS").is_none() {
        return Ok(());
    }
    let path = repo.join("docs").join(name);
    std::fs::write(&path, png)?;
    Ok(())
}
pub mod cdp;

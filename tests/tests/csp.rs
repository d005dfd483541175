//! The app under the server's strict Content-Security-Policy: every stop/close/drop path of both
//! transports runs without a page error, and the policy the page runs under is the server's.
//!
//! A recorder pushes `error`, `unhandledrejection` and `securitypolicyviolation` events into
//! `window.__websseErrors`, so a policy that blocks the app's start, an `eval` on a drop path
//! (`EvalError`) or a panic in a callback all end up there, named. In Chromium it goes into every
//! document before the page's own scripts (CDP `Page.addScriptToEvaluateOnNewDocument`, which the
//! page's CSP does not apply to). Firefox and WebKit have no CDP: there the recorder is installed
//! through WebDriver's execute script right after the app has rendered (also outside the page's
//! CSP), so errors raised while the page loads are not recorded there, only those after it (an app
//! that does not start still fails the test, on its wait for the prompt); the test says so.

use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use websse_e2e::{
    Engine, Result, answer, ask, attr, base_url, cdp, choose_transport, js, open, run, text, tid,
    wait_for, wait_status,
};

/// Installs the recorder; idempotent, so running it again after load changes nothing.
const RECORDER: &str = r#"(() => {
  if (window.__websseErrors) return;
  const errors = (window.__websseErrors = []);
  const text = v => {
    if (v === undefined || v === null) return String(v);
    if (v instanceof Error) return `${v.name}: ${v.message}`;
    return String(v);
  };
  addEventListener('error', e => errors.push({
    kind: 'error',
    message: e.error !== undefined ? text(e.error) : text(e.message),
    where: e.filename ? `${e.filename}:${e.lineno}` : (e.target && (e.target.src || e.target.href)) || '',
  }), true);
  addEventListener('unhandledrejection', e => errors.push({
    kind: 'unhandledrejection',
    message: text(e.reason),
  }));
  addEventListener('securitypolicyviolation', e => errors.push({
    kind: 'securitypolicyviolation',
    message: `${e.effectiveDirective} blocked ${e.blockedURI || '(inline)'} ${e.sample || ''}`.trim(),
    directive: e.effectiveDirective,
    policy: e.originalPolicy,
  }), true);
})();"#;

/// The recorded page errors.
async fn errors(c: &Client) -> Result<Vec<Value>> {
    let value = js(c, "return window.__websseErrors ?? null;", vec![]).await?;
    match value {
        Value::Array(list) => Ok(list),
        other => Err(format!("the error recorder is not installed ({other})").into()),
    }
}

async fn clear_errors(c: &Client) -> Result {
    js(c, "window.__websseErrors.length = 0;", vec![]).await?;
    Ok(())
}

/// Fails with the recorded errors, if any, saying what was running.
async fn no_errors(c: &Client, during: &str) -> Result {
    let list = errors(c).await?;
    if list.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = list.iter().map(Value::to_string).collect();
    Err(format!(
        "{} page error(s) during {during}:\n  {}",
        list.len(),
        lines.join("\n  ")
    )
    .into())
}

/// The `Content-Security-Policy` the server sends for `/`, read with the page's own fetch.
async fn served_policy(c: &Client) -> Result<String> {
    let value = c
        .execute_async(
            r#"const done = arguments[0];
               fetch('/', { cache: 'no-store' })
                 .then(r => done(r.headers.get('content-security-policy')))
                 .catch(e => done({ error: String(e) }));"#,
            vec![],
        )
        .await?;
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("the server sent no Content-Security-Policy for / ({value})").into())
}

async fn click(c: &Client, css: &str) -> Result {
    c.find(Locator::Css(css)).await?.click().await?;
    Ok(())
}

/// Goes to a page through the app's own navigation links (a hash change: the page component
/// unmounts, its hooks' cleanups run).
async fn nav(c: &Client, hash: &str, ready: &str) -> Result {
    click(c, &format!("nav a[href=\"{hash}\"]")).await?;
    let css = tid(ready);
    wait_for(
        Duration::from_secs(10),
        &format!("{hash} to render"),
        || {
            let css = css.clone();
            async move { Ok(c.find_all(Locator::Css(&css)).await?.first().map(|_| ())) }
        },
    )
    .await
}

async fn answer_longer_than(c: &Client, n: usize) -> Result {
    wait_for(Duration::from_secs(15), "the answer to grow", || async {
        Ok((answer(c).await?.chars().count() > n).then_some(()))
    })
    .await
}

/// Chat: ask, stop mid-stream, ask again, and leave for the inspector while it streams.
async fn chat_paths(c: &Client, transport: &str) -> Result {
    choose_transport(c, transport).await?;
    ask(c, "What is SSE?").await?;
    wait_status(c, &["streaming"], Duration::from_secs(10)).await?;
    answer_longer_than(c, 5).await?;
    click(c, &tid("stop")).await?;
    wait_status(c, &["stopped"], Duration::from_secs(5)).await?;
    no_errors(c, &format!("chat over {transport}: stop mid-stream")).await?;

    ask(c, "How does Last-Event-ID resume a stream?").await?;
    wait_status(c, &["streaming"], Duration::from_secs(10)).await?;
    answer_longer_than(c, 5).await?;
    nav(c, "#/inspector", "inspector-url").await?;
    no_errors(
        c,
        &format!("chat over {transport}: leaving while streaming"),
    )
    .await
}

async fn inspector_state(c: &Client) -> Result<String> {
    Ok(text(c, &tid("inspector-state")).await?.unwrap_or_default())
}

async fn wait_inspector(c: &Client, state: &str) -> Result {
    let waited = wait_for(
        Duration::from_secs(10),
        &format!("inspector state {state:?}"),
        || async move { Ok((inspector_state(c).await? == state).then_some(())) },
    )
    .await;
    match waited {
        Ok(()) => Ok(()),
        Err(e) => {
            let url = js(
                c,
                "return document.querySelector('[data-testid=\"inspector-url\"]').value;",
                vec![],
            )
            .await?;
            let now = inspector_state(c).await?;
            let errors = errors(c).await?;
            Err(format!("{e} (state {now:?}, url {url}, page errors {errors:?})").into())
        }
    }
}

/// Waits until the log holds at least `n` events.
async fn events_at_least(c: &Client, n: usize) -> Result {
    wait_for(
        Duration::from_secs(10),
        "events in the log",
        || async move {
            let count = c.find_all(Locator::Css(&tid("event"))).await?.len();
            Ok((count >= n).then_some(()))
        },
    )
    .await
}

/// Inspector: connect to an endless example stream, disconnect, connect again, and leave for the
/// chat while connected.
async fn inspector_paths(c: &Client, transport: &str, url: &str) -> Result {
    let input = c.find(Locator::Css(&tid("inspector-url"))).await?;
    // Select all and type over it (WebDriver's clear fires no input event, so the app's form
    // state would keep the old URL).
    input.send_keys("\u{E009}a\u{E000}").await?;
    input.send_keys(url).await?;
    c.find(Locator::Css(".inspector select[aria-label=\"Transport\"]"))
        .await?
        .select_by_value(transport)
        .await?;
    click(c, "button[aria-label=\"Clear the log\"]").await?;
    click(c, &tid("connect")).await?;
    wait_inspector(c, "open").await?;
    events_at_least(c, 1).await?;
    click(c, &tid("disconnect")).await?;
    wait_inspector(c, "closed").await?;
    no_errors(c, &format!("inspector over {transport}: disconnect")).await?;

    click(c, &tid("connect")).await?;
    wait_inspector(c, "open").await?;
    events_at_least(c, 2).await?;
    nav(c, "#/", "prompt").await?;
    no_errors(
        c,
        &format!("inspector over {transport}: leaving while connected"),
    )
    .await
}

#[test]
fn stop_close_and_drop_paths_raise_no_page_error_under_the_servers_csp() {
    run(|c| async move {
        let engine = Engine::current();
        if engine.has_cdp() {
            cdp::before_page_scripts(&c, RECORDER).await?;
        } else {
            eprintln!(
                "csp: {} has no CDP: the error recorder starts after the app renders, \
                 so errors during the page load itself are not recorded in this engine",
                engine.name()
            );
        }
        if let Err(e) = open(&c, "/?speed=40", "prompt").await {
            // A policy that blocks the app's start shows up here, named.
            let recorded = errors(&c).await.unwrap_or_default();
            return Err(format!("the app did not start: {e}; page errors: {recorded:?}").into());
        }
        // The recorder must be in place (and, as the brief of this test asks, installing it
        // again after load through WebDriver must not reset it).
        js(&c, RECORDER, vec![]).await?;
        no_errors(&c, "loading the app").await?;

        // The page runs under the server's policy: an inline script the policy does not name is
        // blocked and reported, with the page's policy text, which must be the server's header.
        let served = served_policy(&c).await?;
        for needed in [
            "script-src 'self' 'wasm-unsafe-eval' 'sha256-",
            "default-src 'self'",
        ] {
            if !served.contains(needed) {
                return Err(format!("the served policy lacks {needed:?}: {served}").into());
            }
        }
        if served.contains("'unsafe-eval'") || served.contains("'unsafe-inline'") {
            return Err(format!("the served policy is not strict: {served}").into());
        }
        js(
            &c,
            "const s = document.createElement('script');
             s.textContent = 'window.__cspProbeRan = true;';
             document.head.append(s);",
            vec![],
        )
        .await?;
        let seen = wait_for(
            Duration::from_secs(5),
            "the probe's CSP violation",
            || async {
                let list = errors(&c).await?;
                Ok((!list.is_empty()).then_some(list))
            },
        )
        .await
        .map_err(|e| format!("an inline script ran unreported: is the page under a CSP? ({e})"))?;
        let ran = js(&c, "return window.__cspProbeRan === true;", vec![]).await?;
        assert_eq!(ran, json!(false), "the unhashed inline script ran");
        assert_eq!(seen.len(), 1, "one violation expected: {seen:?}");
        assert_eq!(seen[0]["kind"], json!("securitypolicyviolation"));
        assert_eq!(seen[0]["directive"], json!("script-src-elem"));
        assert_eq!(
            seen[0]["policy"].as_str(),
            Some(served.as_str()),
            "the page runs under another policy than the server sends"
        );
        clear_errors(&c).await?;

        // The drop paths, both transports, on both pages.
        for transport in ["fetch", "eventsource"] {
            chat_paths(&c, transport).await?;
            inspector_paths(&c, transport, "/api/examples/clock?interval_ms=100").await?;
        }
        for transport in ["fetch", "eventsource"] {
            nav(&c, "#/inspector", "inspector-url").await?;
            inspector_paths(&c, transport, "/api/examples/ticker?interval_ms=100").await?;
        }

        // The app still responds: a new answer streams and stops on request.
        choose_transport(&c, "fetch").await?;
        ask(&c, "EventSource or fetch?").await?;
        wait_status(&c, &["streaming"], Duration::from_secs(10)).await?;
        answer_longer_than(&c, 5).await?;
        click(&c, &tid("stop")).await?;
        wait_status(&c, &["stopped"], Duration::from_secs(5)).await?;
        let state = attr(&c, &tid("status"), "data-state").await?;
        assert_eq!(state.as_deref(), Some("stopped"));
        no_errors(&c, "the final round").await?;
        eprintln!("csp: no page errors under {}: {served}", base_url());
        Ok(())
    });
}

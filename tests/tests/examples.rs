//! The example apps (`examples/leptos`, `examples/dioxus`, `examples/vanilla`) in each browser
//! engine (`WEBSSE_E2E_BROWSER`): the chat answer and the ticks arrive, and unmounting the component that owns the
//! streams closes their connections, as the server sees it.
//!
//! `cargo xtask test` (step "examples") builds each example into `target/examples/site/NAME/`,
//! serves that directory with `websse-server --static-dir target/examples/site --test-endpoints`
//! and runs `cargo test -p websse-e2e --test examples -- --ignored` with `WEBSSE_E2E_URL` set to
//! it. The tests are `#[ignore]`d so that the step serving the main app (which has no examples)
//! skips them instead of failing.
//!
//! Every page takes `?ticker=URL&chat=URL&prompt=..&speed=..`; pointing `ticker` and `chat` at
//! `/test/sse/{key}` lets a test script the streams and read each connection's outcome from
//! `/test/log/{key}`.

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use websse_e2e::{Result, attr, base_url, js, open, server_answer, text, tid, wait_for};

const PROMPT: &str = "What is SSE?";

macro_rules! example_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            #[ignore = "needs the built examples: run by `cargo xtask test` (examples step)"]
            fn streams_the_chat_answer_and_the_ticks() {
                websse_e2e::run(|c| super::streams_answer_and_ticks(c, stringify!($name)));
            }

            #[test]
            #[ignore = "needs the built examples: run by `cargo xtask test` (examples step)"]
            fn unmount_closes_both_connections_within_a_second() {
                websse_e2e::run(|c| super::unmount_closes_connections(c, stringify!($name)));
            }
        }
    )*};
}

example_tests!(leptos, dioxus, vanilla);

/// The real `/api/chat` and `/api/examples/ticker`: the whole answer arrives, exactly as the
/// server sends it, and the tick count goes up.
async fn streams_answer_and_ticks(c: Client, example: &str) -> Result {
    let path =
        format!("/{example}/?speed=3000&ticker=%2Fapi%2Fexamples%2Fticker%3Finterval_ms%3D100");
    open(&c, &path, "toggle").await?;
    let expected = server_answer(&c, PROMPT).await?;
    assert!(
        expected.len() > 200,
        "the oracle answer is suspiciously short"
    );

    wait_for(Duration::from_secs(20), "the chat to finish", || async {
        let state = attr(&c, &tid("chat-state"), "data-state").await?;
        match state.as_deref() {
            Some("done") => Ok(Some(())),
            Some("failed") => {
                Err(format!("the chat failed: {:?}", text(&c, &tid("chat-state")).await?).into())
            }
            _ => Ok(None),
        }
    })
    .await?;
    if example == "vanilla" {
        // Rendered as Markdown with websse-markdown (docs/frameworks.md).
        assert_markdown_answer(&c).await?;
    } else {
        assert_eq!(
            text(&c, &tid("answer")).await?.unwrap_or_default(),
            expected
        );
    }

    let first = wait_tick(&c, 2).await?;
    let later = wait_tick(&c, first + 3).await?;
    assert!(
        later > first,
        "the ticks do not go up: {first} then {later}"
    );
    assert_eq!(
        attr(&c, &tid("ticker-state"), "data-state")
            .await?
            .as_deref(),
        Some("open")
    );
    no_csp_violations(&c).await
}

/// The finished answer is rendered Markdown: the demo answer's heading, list, table and code
/// block are elements, no raw syntax shows, and the cursor is gone.
async fn assert_markdown_answer(c: &Client) -> Result {
    let found = js(
        c,
        r#"const a = document.querySelector('[data-testid="answer"]');
           const n = s => a.querySelectorAll(s).length;
           const copy = a.cloneNode(true);
           copy.querySelectorAll('button, [aria-hidden="true"]').forEach(e => e.remove());
           const text = copy.textContent;
           return { h: n('h2'), li: n('li'), td: n('table td'), pre: n('pre > code'),
                    cursor: n('.md-cursor'),
                    raw: ['## ', '```', '| ---', '**'].filter(r => text.includes(r)) };"#,
        vec![],
    )
    .await?;
    for key in ["h", "li", "td", "pre"] {
        assert!(
            found[key].as_u64().unwrap_or(0) >= 1,
            "vanilla: no {key} in the answer: {found}"
        );
    }
    assert_eq!(
        found["cursor"],
        json!(0),
        "vanilla: the cursor stays: {found}"
    );
    assert_eq!(
        found["raw"],
        json!([]),
        "vanilla: raw Markdown shows: {found}"
    );
    Ok(())
}

/// Scripted streams that hold their connections: unmounting closes both (the server logs
/// `client_disconnected` within a second), nothing reconnects, and a remount opens exactly one
/// new connection per stream, which the next unmount closes again.
async fn unmount_closes_connections(c: Client, example: &str) -> Result {
    let (ticker, chat) = script_held_streams(example).await?;
    let path = format!("/{example}/?ticker=%2Ftest%2Fsse%2F{ticker}&chat=%2Ftest%2Fsse%2F{chat}");
    open(&c, &path, "toggle").await?;

    for round in 1..=2 {
        let shown = wait_for(
            Duration::from_secs(10),
            "tick 3 and the partial answer",
            || async {
                let tick = text(&c, &tid("tick")).await?;
                let answer = text(&c, &tid("answer")).await?;
                let state = attr(&c, &tid("chat-state"), "data-state").await?;
                Ok((tick.as_deref() == Some("3")
                    && answer.as_deref() == Some("Hello, wor")
                    && state.as_deref() == Some("streaming"))
                .then_some(()))
            },
        )
        .await;
        if let Err(e) = shown {
            let page = js(&c, "return document.body.innerText", vec![]).await?;
            return Err(format!("round {round}: {e}; the page shows {page}").into());
        }
        for key in [&ticker, &chat] {
            let outcomes = outcomes(key).await?;
            assert_eq!(
                outcomes.len(),
                round,
                "{key}: connections before unmount: {outcomes:?}"
            );
            assert_eq!(outcomes[round - 1], "open", "{key}: {outcomes:?}");
        }
        let body = &log(&chat).await?[round - 1]["body"];
        let body: Value = serde_json::from_str(body.as_str().unwrap_or_default())?;
        assert_eq!(
            body["messages"][0]["content"], PROMPT,
            "the chat request's body"
        );

        click_toggle(&c, "Unmount").await?;
        let clicked = Instant::now();
        for key in [&ticker, &chat] {
            wait_for(
                Duration::from_secs(1).saturating_sub(clicked.elapsed()),
                &format!("{key}: the server to see the client disconnect (round {round})"),
                || async {
                    let outcomes = outcomes(key).await?;
                    Ok(
                        (outcomes.get(round - 1).map(String::as_str)
                            == Some("client_disconnected"))
                        .then_some(()),
                    )
                },
            )
            .await?;
        }
        println!(
            "{example}: round {round}: both connections closed {:?} after the click",
            clicked.elapsed()
        );
        assert!(
            c.find_all(Locator::Css(&tid("streams"))).await?.is_empty(),
            "the streams are still on the page after unmount"
        );

        // Nothing reconnects: at `retry: 200` a leftover stream would have tried by now.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        for key in [&ticker, &chat] {
            let outcomes = outcomes(key).await?;
            assert_eq!(
                outcomes.len(),
                round,
                "{key}: a connection opened after unmount: {outcomes:?}"
            );
        }
        if round == 1 {
            click_toggle(&c, "Mount").await?;
        }
    }
    no_csp_violations(&c).await
}

/// Scripts a ticker and a chat answer that send a little and then hold their connections, and
/// returns their keys (ticker, chat).
async fn script_held_streams(example: &str) -> Result<(String, String)> {
    let ticker = format!("examples-{example}-ticker-{}", std::process::id());
    let chat = format!("examples-{example}-chat-{}", std::process::id());
    // `retry: 200`: a stream left behind would reconnect quickly, within the test's watch.
    script(
        &ticker,
        &[
            ("retry: 200\ndata: {\"tick\":1}\n\n", 0),
            ("data: {\"tick\":2}\n\n", 50),
            ("data: {\"tick\":3}\n\n", 50),
        ],
    )
    .await?;
    script(
        &chat,
        &[
            (
                "retry: 200\nevent: start\ndata: {\"stream_id\":\"s\",\"model\":\"script\"}\n\n",
                0,
            ),
            ("event: delta\ndata: {\"text\":\"Hello\"}\n\n", 50),
            ("event: delta\ndata: {\"text\":\", wor\"}\n\n", 50),
        ],
    )
    .await?;
    Ok((ticker, chat))
}

/// Vanilla only: two subscribers of one shared ticker both see every tick, over one connection.
#[test]
#[ignore = "needs the built examples: run by `cargo xtask test` (examples step)"]
fn vanilla_two_subscribers_share_one_connection() {
    websse_e2e::run(|c| async move {
        let (ticker, chat) = script_held_streams("vanilla-share").await?;
        let path = format!("/vanilla/?ticker=%2Ftest%2Fsse%2F{ticker}&chat=%2Ftest%2Fsse%2F{chat}");
        open(&c, &path, "toggle").await?;
        wait_tick(&c, 3).await?;
        wait_for(
            Duration::from_secs(5),
            "the second subscriber to count 3 ticks",
            || async {
                let seen = text(&c, &tid("ticks-seen")).await?.unwrap_or_default();
                Ok((seen.trim() == "3").then_some(()))
            },
        )
        .await?;
        assert_eq!(
            outcomes(&ticker).await?,
            ["open"],
            "one connection for both subscribers"
        );
        Ok(())
    });
}

/// Dioxus only: the Ticker's Stop button closes its stream through a `CloseHandle` kept in a
/// signal, while the component (and the chat beside it) stays.
#[test]
#[ignore = "needs the built examples: run by `cargo xtask test` (examples step)"]
fn dioxus_stop_button_closes_the_ticker_and_leaves_the_chat() {
    websse_e2e::run(|c| async move {
        let (ticker, chat) = script_held_streams("dioxus-stop").await?;
        let path = format!("/dioxus/?ticker=%2Ftest%2Fsse%2F{ticker}&chat=%2Ftest%2Fsse%2F{chat}");
        open(&c, &path, "toggle").await?;
        wait_tick(&c, 3).await?;
        c.find(Locator::Css(&tid("stop-ticker")))
            .await?
            .click()
            .await?;
        let clicked = Instant::now();
        wait_for(
            Duration::from_secs(1),
            "the ticker's disconnect",
            || async { Ok((outcomes(&ticker).await? == ["client_disconnected"]).then_some(())) },
        )
        .await?;
        println!(
            "dioxus: Stop closed the ticker {:?} after the click",
            clicked.elapsed()
        );
        wait_for(
            Duration::from_secs(2),
            "the ticker to show closed",
            || async {
                let state = attr(&c, &tid("ticker-state"), "data-state").await?;
                Ok((state.as_deref() == Some("closed")).then_some(()))
            },
        )
        .await?;
        // Nothing reconnects: at `retry: 200` a leftover ticker would have tried by now.
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(
            outcomes(&ticker).await?,
            ["client_disconnected"],
            "the ticker reconnected"
        );
        assert_eq!(
            outcomes(&chat).await?,
            ["open"],
            "the chat must stay connected"
        );
        assert_eq!(
            text(&c, &tid("answer")).await?.as_deref(),
            Some("Hello, wor")
        );
        Ok(())
    });
}

/// Waits until the ticker shows at least `at_least`, and returns what it shows.
async fn wait_tick(c: &Client, at_least: u64) -> Result<u64> {
    wait_for(
        Duration::from_secs(10),
        &format!("tick {at_least}"),
        || async {
            let tick = text(c, &tid("tick")).await?.unwrap_or_default();
            Ok(tick.trim().parse::<u64>().ok().filter(|t| *t >= at_least))
        },
    )
    .await
}

/// Clicks the mount/unmount button, which must read `label`.
async fn click_toggle(c: &Client, label: &str) -> Result {
    let button = c.find(Locator::Css(&tid("toggle"))).await?;
    let now = button.text().await?;
    if now.trim() != label {
        return Err(format!("the toggle reads {now:?}, expected {label:?}").into());
    }
    button.click().await?;
    Ok(())
}

/// The page's `index.html` counts Content-Security-Policy violations (boot.js).
async fn no_csp_violations(c: &Client) -> Result {
    let violations = js(
        c,
        "return document.documentElement.dataset.cspViolations || null",
        vec![],
    )
    .await?;
    assert_eq!(
        violations,
        Value::Null,
        "the page broke its Content-Security-Policy"
    );
    Ok(())
}

/// Scripts `/test/sse/{key}`: every connection gets `chunks` (text, delay in ms), then holds.
async fn script(key: &str, chunks: &[(&str, u64)]) -> Result {
    let chunks: Vec<Value> = chunks
        .iter()
        .map(|(text, delay)| json!({ "text": text, "delay_ms": delay }))
        .collect();
    let script = json!({ "responses": [{ "chunks": chunks, "end": "hold" }] });
    let (status, body) = http(
        "POST",
        &format!("/test/script/{key}"),
        Some(&script.to_string()),
    )
    .await?;
    if status != 200 {
        return Err(format!("scripting {key}: HTTP {status}: {body}").into());
    }
    Ok(())
}

/// The connections the server logged for `key`.
async fn log(key: &str) -> Result<Vec<Value>> {
    let (status, body) = http("GET", &format!("/test/log/{key}"), None).await?;
    if status != 200 {
        return Err(format!("log of {key}: HTTP {status}: {body}").into());
    }
    let log: Value = serde_json::from_str(&body)?;
    Ok(log["connections"].as_array().cloned().unwrap_or_default())
}

/// Each logged connection's outcome (`open`, `completed`, `client_disconnected`, `aborted`).
async fn outcomes(key: &str) -> Result<Vec<String>> {
    Ok(log(key)
        .await?
        .iter()
        .map(|c| c["outcome"].as_str().unwrap_or_default().to_owned())
        .collect())
}

/// One HTTP/1.0 request to the server under test, from the test process (not the page): the
/// status and the body.
async fn http(method: &str, path: &str, body: Option<&str>) -> Result<(u16, String)> {
    let base = base_url();
    let host = base
        .strip_prefix("http://")
        .ok_or("WEBSSE_E2E_URL is not http://")?;
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    let body = body.unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await??;
    let response = String::from_utf8(response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or("no end of the response head")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in {head:?}"))?;
    Ok((status, body.to_owned()))
}

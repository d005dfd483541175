//! The chat page in each browser engine (`WEBSSE_E2E_BROWSER`): typewriter, cursor, stop, transports, resume, escaping.
//!
//! Answers are Markdown: a finished answer's DOM is compared with the one-shot rendering of the
//! server's text, made by the page itself (see `websse_e2e::one_shot_html`).

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::json;
use websse_e2e::{
    Result, answer, answer_html, answer_visible_text, ask, choose_transport, js, one_shot_html,
    open, rendered_prefix, run, screenshot, server_answer, server_deltas, status, text, tid,
    wait_for, wait_status,
};

const WHAT: &str = "What is SSE?";

/// Clicks the suggestion whose text is `question`.
async fn click_suggestion(client: &Client, question: &str) -> Result {
    for button in client.find_all(Locator::Css(&tid("suggestion"))).await? {
        if button.text().await? == question {
            button.click().await?;
            return Ok(());
        }
    }
    Err(format!("no suggestion {question:?}").into())
}

/// Number of elements matching a test id.
async fn count(client: &Client, id: &str) -> Result<usize> {
    Ok(client.find_all(Locator::Css(&tid(id))).await?.len())
}

#[test]
fn answer_grows_over_time_then_ends_complete() {
    run(|c| async move {
        let expected = {
            open(&c, "/", "prompt").await?;
            server_answer(&c, WHAT).await?
        };
        assert!(
            expected.len() > 200,
            "the oracle answer is suspiciously short"
        );
        open(&c, "/?speed=150", "suggestion").await?;
        click_suggestion(&c, WHAT).await?;

        // Sample the text while it streams: it must take several distinct lengths. (Not always
        // growing: a table's header line reads as a paragraph with pipes until its delimiter
        // row arrives.)
        let mut lengths: Vec<usize> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let now = answer_visible_text(&c).await?;
            if lengths.last() != Some(&now.len()) {
                lengths.push(now.len());
            }
            let state = status(&c).await?;
            if state == "done" {
                break;
            }
            assert!(
                ["connecting", "streaming"].contains(&state.as_str()),
                "unexpected status {state}"
            );
            assert!(Instant::now() < deadline, "no end after 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let grown: Vec<_> = lengths.iter().filter(|&&n| n > 0).collect();
        assert!(
            grown.len() >= 5,
            "the answer did not grow token by token: lengths seen {lengths:?}"
        );
        assert_eq!(answer_html(&c).await?, one_shot_html(&c, &expected).await?);
        assert_eq!(
            count(&c, "cursor").await?,
            0,
            "the cursor stays after the answer"
        );
        screenshot(&c, "screenshot-chat.png").await?;
        Ok(())
    });
}

#[test]
fn cursor_blinks_while_streaming_and_esc_stops() {
    run(|c| async move {
        open(&c, "/?speed=40", "prompt").await?;
        ask(&c, WHAT).await?;
        wait_for(Duration::from_secs(10), "the cursor", || async {
            Ok((count(&c, "cursor").await? == 1 && !answer(&c).await?.is_empty()).then_some(()))
        })
        .await?;
        let style = js(
            &c,
            r#"
            const el = document.querySelector('[data-testid="cursor"]');
            const s = getComputedStyle(el);
            const answer = document.querySelector('[data-testid="answer"]');
            let frames = null;
            for (const sheet of document.styleSheets) {
              for (const rule of sheet.cssRules) {
                if (rule.type === CSSRule.KEYFRAMES_RULE && rule.name === s.animationName) {
                  frames = Array.from(rule.cssRules).map(k => [k.keyText, k.style.opacity]);
                }
              }
            }
            return {
              name: s.animationName, duration: s.animationDuration,
              timing: s.animationTimingFunction, count: s.animationIterationCount,
              width: s.width, height: s.height, frames,
              // the cursor sits inside the answer, after everything else in its block
              after: answer.contains(el) && el.nextSibling === null,
            };
            "#,
            vec![],
        )
        .await?;
        assert_ne!(style["name"], json!("none"), "no animation: {style}");
        assert_eq!(style["duration"], json!("0.5s"), "{style}");
        assert_eq!(style["timing"], json!("linear"), "{style}");
        assert_eq!(style["count"], json!("infinite"), "{style}");
        assert_eq!(style["width"], json!("2px"), "{style}");
        assert_eq!(style["height"], json!("20px"), "{style}");
        assert_eq!(
            style["frames"],
            json!([["0%", "1"], ["100%", "0"]]),
            "opacity must go 1 -> 0: {style}"
        );
        assert_eq!(
            style["after"],
            json!(true),
            "the cursor is not after the text: {style}"
        );

        // Esc stops the answer.
        c.find(Locator::Css(&tid("prompt")))
            .await?
            .send_keys("\u{E00C}")
            .await?;
        wait_status(&c, &["stopped"], Duration::from_secs(5)).await?;
        assert_eq!(
            count(&c, "cursor").await?,
            0,
            "the cursor stays after stopping"
        );
        Ok(())
    });
}

#[test]
fn stop_halts_growth_and_keeps_the_partial_answer() {
    run(|c| async move {
        open(&c, "/", "prompt").await?;
        let deltas = server_deltas(&c, WHAT).await?;
        open(&c, "/?speed=60", "prompt").await?;
        ask(&c, WHAT).await?;
        wait_for(Duration::from_secs(10), "some text", || async {
            Ok((answer(&c).await?.len() > 20).then_some(()))
        })
        .await?;
        c.find(Locator::Css(&tid("stop"))).await?.click().await?;
        wait_status(&c, &["stopped"], Duration::from_secs(5)).await?;
        let stopped = answer_html(&c).await?;
        // No event says the page will not grow: watch it for a while. At 60 characters per
        // second, 800 ms would add about 48 characters.
        tokio::time::sleep(Duration::from_millis(800)).await;
        let later = answer_html(&c).await?;
        assert_eq!(stopped, later, "the answer kept growing after stop");
        // What arrived stays, rendered as final: exactly the one-shot rendering of a prefix.
        let shown = rendered_prefix(&c, &deltas).await?;
        assert!(
            shown.is_some_and(|k| k < deltas.len()),
            "the stopped answer is not a rendered prefix ({shown:?} of {} deltas): {stopped}",
            deltas.len()
        );
        assert_eq!(count(&c, "cursor").await?, 0, "the cursor stays after stop");
        let note = js(
            &c,
            "return document.querySelector('.bubble.assistant:last-of-type .note')?.textContent ?? null",
            vec![],
        )
        .await?;
        assert_eq!(
            note,
            json!("stopped"),
            "the answer is not marked as stopped"
        );
        Ok(())
    });
}

#[test]
fn both_transports_give_the_same_text() {
    run(|c| async move {
        let prompt = "How does reconnection work?";
        open(&c, "/", "prompt").await?;
        let expected = server_answer(&c, prompt).await?;
        let mut seen = Vec::new();
        for transport in ["eventsource", "fetch"] {
            open(&c, "/?speed=3000", "prompt").await?;
            choose_transport(&c, transport).await?;
            ask(&c, prompt).await?;
            wait_status(&c, &["done", "failed"], Duration::from_secs(30)).await?;
            assert_eq!(status(&c).await?, "done", "{transport} failed");
            seen.push((transport, answer_html(&c).await?));
        }
        let one_shot = one_shot_html(&c, &expected).await?;
        for (transport, html) in seen {
            assert_eq!(html, one_shot, "{transport} rendered another answer");
        }
        Ok(())
    });
}

#[test]
fn a_dropped_connection_resumes_without_repeats_or_gaps() {
    run(|c| async move {
        open(&c, "/", "prompt").await?;
        let expected = server_answer(&c, WHAT).await?;
        for transport in ["fetch", "eventsource"] {
            // The server breaks the first connection after event 12; the client reconnects with
            // Last-Event-ID and the server sends exactly the rest.
            open(&c, "/?speed=400&drop_after=12", "prompt").await?;
            choose_transport(&c, transport).await?;
            ask(&c, WHAT).await?;
            // The drop shows: the client waits the server's retry (1 s) before reconnecting.
            wait_status(&c, &["reconnecting"], Duration::from_secs(20)).await?;
            if transport == "fetch" {
                // fetch knows its delay, and the status line counts it down.
                let shown = reconnect_countdown(&c).await?;
                assert!(
                    shown.len() >= 2,
                    "{transport}: the reconnect countdown did not tick: {shown:?}"
                );
                assert!(
                    shown.windows(2).all(|w| w[1] < w[0]),
                    "{transport}: the countdown went up: {shown:?}"
                );
            }
            wait_status(&c, &["done", "failed", "stopped"], Duration::from_secs(40)).await?;
            assert_eq!(
                status(&c).await?,
                "done",
                "{transport}: no clean end after the drop"
            );
            assert_eq!(
                answer_html(&c).await?,
                one_shot_html(&c, &expected).await?,
                "{transport}: the rendering differs after resume"
            );
        }
        Ok(())
    });
}

/// The distinct "next try in N s" values the status shows while it is reconnecting (bounded).
async fn reconnect_countdown(c: &Client) -> Result<Vec<f64>> {
    let mut shown: Vec<f64> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && status(c).await? == "reconnecting" {
        let line = text(c, &tid("status")).await?.unwrap_or_default();
        let seconds = line
            .split("next try in ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse::<f64>().ok());
        if let Some(s) = seconds
            && shown.last() != Some(&s)
        {
            shown.push(s);
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    Ok(shown)
}

#[test]
fn markup_in_the_answer_is_shown_as_text() {
    run(|c| async move {
        // The embedded model quotes an unknown prompt in its answer.
        let payload = "<img src=x onerror=window.__xss=1><b>bold</b>";
        open(&c, "/?speed=5000", "prompt").await?;
        ask(&c, payload).await?;
        wait_status(&c, &["done", "failed"], Duration::from_secs(20)).await?;
        let text = answer(&c).await?;
        assert!(
            text.contains(payload),
            "the markup is not in the answer as text: {text:?}"
        );
        let check = js(
            &c,
            r#"const conv = document.querySelector('.conversation');
               return { imgs: conv.querySelectorAll('img').length,
                        bold: conv.querySelectorAll('b').length,
                        xss: window.__xss ?? null };"#,
            vec![],
        )
        .await?;
        assert_eq!(check, json!({ "imgs": 0, "bold": 0, "xss": null }));
        Ok(())
    });
}

#[test]
fn shift_enter_adds_a_line_and_enter_sends() {
    run(|c| async move {
        open(&c, "/?speed=5000", "prompt").await?;
        let input = c.find(Locator::Css(&tid("prompt"))).await?;
        // Shift pressed (U+E008) for Enter, then pressed again, which releases it: WebDriver's
        // send-keys toggles a modifier on each press. (Not U+E000, the null key: WebKitWebDriver
        // does not release modifiers on it, and "second" would arrive as "SECOND".)
        input
            .send_keys("first\u{E008}\u{E007}\u{E008}second")
            .await?;
        assert_eq!(input.prop("value").await?.as_deref(), Some("first\nsecond"));
        assert_eq!(status(&c).await?, "idle", "Shift+Enter sent the question");
        input.send_keys("\u{E007}").await?;
        wait_status(&c, &["done"], Duration::from_secs(20)).await?;
        assert_eq!(input.prop("value").await?.as_deref(), Some(""));
        let bubble = js(
            &c,
            "return document.querySelector('.bubble.user').textContent;",
            vec![],
        )
        .await?;
        assert_eq!(bubble, json!("first\nsecond"));
        Ok(())
    });
}

/// The resumed answer `sid` from the first event on, as the page's `fetch` reads it within
/// `ms`: the reason of its `done` event, or `null` if none came in time.
async fn resumed_done_reason(c: &Client, sid: &str, ms: u64) -> Result<serde_json::Value> {
    Ok(c.execute_async(
        r#"
        const [sid, ms, done] = arguments;
        const abort = new AbortController();
        const timer = setTimeout(() => abort.abort(), ms);
        fetch('/api/chat/' + sid, { headers: { 'Last-Event-ID': sid + ':0' }, signal: abort.signal })
          .then(r => r.text())
          .then(body => {
            clearTimeout(timer);
            const m = body.match(/event: done\r?\n(?:id:[^\n]*\n)?data: ([^\n]*)/);
            done(m ? JSON.parse(m[1]).reason : null);
          })
          .catch(() => done(null));
        "#,
        vec![json!(sid), json!(ms)],
    )
    .await?)
}

#[test]
fn stop_asks_the_server_to_stop_generating() {
    run(|c| async move {
        open(&c, "/?speed=40", "prompt").await?;
        ask(&c, WHAT).await?;
        wait_for(Duration::from_secs(10), "some text", || async {
            Ok((answer(&c).await?.len() > 10).then_some(()))
        })
        .await?;
        let sid = js(
            &c,
            "return document.querySelector('.bubble.assistant:last-of-type')?.dataset.streamId ?? null",
            vec![],
        )
        .await?;
        let sid = sid
            .as_str()
            .ok_or("the answer has no data-stream-id")?
            .to_owned();
        c.find(Locator::Css(&tid("stop"))).await?.click().await?;
        wait_status(&c, &["stopped"], Duration::from_secs(5)).await?;
        // A dropped connection alone would leave the answer generating at 40 characters a
        // second for many more seconds; stopped, a resume ends at once with `stopped`.
        let reason = wait_for(
            Duration::from_secs(5),
            "the server to record the stop",
            || async {
                let reason = resumed_done_reason(&c, &sid, 1500).await?;
                Ok((reason == json!("stopped")).then_some(reason))
            },
        )
        .await?;
        assert_eq!(reason, json!("stopped"));
        Ok(())
    });
}

#[test]
fn an_interrupted_answer_keeps_its_text_and_says_so() {
    run(|c| async move {
        let key = format!("interrupted-{}", std::process::id());
        let script = json!({ "responses": [{ "chunks": [{ "text":
            "event: start\nid: feed01:0\ndata: {\"stream_id\":\"feed01\",\"model\":\"m\"}\n\n\
             event: delta\nid: feed01:1\ndata: {\"text\":\"Half an **answer**\"}\n\n\
             event: done\nid: feed01:2\ndata: {\"reason\":\"interrupted\"}\n\n" }],
            "end": "close" }] });
        open(&c, "/", "prompt").await?;
        let scripted = c
            .execute_async(
                "const [key, body, done] = arguments; \
                 fetch('/test/script/' + key, { method: 'POST', headers: { 'content-type': 'application/json' }, body }) \
                   .then(r => done(r.status)).catch(e => done(String(e)));",
                vec![json!(key), json!(script.to_string())],
            )
            .await?;
        assert_eq!(scripted, json!(200), "scripting the stream");
        open(&c, &format!("/?api=/test/sse/{key}"), "prompt").await?;
        ask(&c, WHAT).await?;
        wait_status(&c, &["interrupted"], Duration::from_secs(10)).await?;
        assert_eq!(answer_visible_text(&c).await?.trim(), "Half an answer");
        let bold = js(
            &c,
            "return document.querySelector('[data-testid=answer] strong')?.textContent ?? null",
            vec![],
        )
        .await?;
        assert_eq!(bold, json!("answer"), "the text so far stays rendered");
        let state = js(
            &c,
            "return document.querySelector('.bubble.assistant:last-of-type')?.dataset.state ?? null",
            vec![],
        )
        .await?;
        assert_eq!(state, json!("interrupted"));
        Ok(())
    });
}

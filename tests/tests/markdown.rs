//! Streamed Markdown in the chat, in each browser engine (`WEBSSE_E2E_BROWSER`): the demo's answers
//! render as Markdown; any text streamed through `/test/markdown` in any chunk size ends as the
//! one-shot rendering; the cursor stays on the line of the last character; stop and resume keep
//! the rendering right.
//!
//! The chat is pointed at the test endpoint with its hidden `api` query parameter; the text goes
//! in as the prompt (the endpoint streams the last user message back).

use std::time::Duration;

use serde_json::{Value, json};
use websse_e2e::{
    Result, answer_html, answer_visible_text, choose_transport, js, one_shot_html, open,
    rendered_prefix, run, send_text, status, tid, wait_for, wait_status,
};

/// An LLM-style answer with most of what the renderer must get right when it arrives in pieces:
/// nested and loose lists, fences with and without a language, a table, links, emphasis, a
/// block quote, a setext heading, a lazy continuation line, and a fence that is never closed.
const CORPUS: &str = r#"# Streaming **Markdown**

Here is a paragraph with *emphasis*, `inline code`, ~~struck~~ text and a [link](https://example.com/docs?a=1&b=2).
A lazy second line of the same paragraph.

Setext heading
--------------

1. First item
   - nested *one*
   - nested `two`
2. Second item

   with a second paragraph, which makes the list loose late

> A quote with **bold**
continued lazily.

| Transport | Method | Resume |
| :-- | :-: | --: |
| EventSource | `GET` | built in |
| fetch | `POST` | [yours](https://fetch.spec.whatwg.org/) |

```rust
fn main() {
    println!("{}", 1 + 2);
}
```

```
plain fence
```

- [ ] a task
- [x] a done task

Raw <b>html</b> and <script>window.__md = 1</script> stay text.

```js
const never = "closed";"#;

/// Opens the chat pointed at `/test/markdown` with these extra query parameters.
async fn open_markdown_chat(c: &fantoccini::Client, query: &str) -> Result {
    open(c, &format!("/?api=/test/markdown&{query}"), "prompt").await
}

/// `text` cut into pieces of `chunk` characters, the way the endpoint sends it.
fn pieces(text: &str, chunk: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(chunk).map(|c| c.iter().collect()).collect()
}

/// The pages link no stylesheet of the crate's (it ships the rules as a string, and a strict CSP
/// allows no inline style), so the app's and the vanilla example's stylesheets carry a copy of
/// them; a new crate version must not drift away from it.
#[test]
fn the_app_stylesheet_holds_the_crates_css() {
    for (path, css) in [
        ("www/styles.css", include_str!("../../www/styles.css")),
        (
            "examples/vanilla/style.css",
            include_str!("../../examples/vanilla/style.css"),
        ),
    ] {
        assert!(
            css.contains(websse_markdown::CSS.trim_end()),
            "copy websse_markdown::CSS into {path}"
        );
    }
}

#[test]
fn demo_answers_render_as_markdown() {
    run(|c| async move {
        for (prompt, transport) in [("What is SSE?", "fetch"), ("SSE 是什么？", "eventsource")]
        {
            open(&c, "/?speed=5000", "prompt").await?;
            choose_transport(&c, transport).await?;
            websse_e2e::ask(&c, prompt).await?;
            wait_status(&c, &["done", "failed"], Duration::from_secs(30)).await?;
            assert_eq!(status(&c).await?, "done", "{prompt}");
            let found = js(
                &c,
                r#"const a = document.querySelector('[data-testid="answer"]');
                   const n = s => a.querySelectorAll(s).length;
                   return { h: n('h2'), li: n('ul > li, ol > li'), th: n('table > thead th'),
                            td: n('table > tbody td'), pre: n('pre > code'),
                            code: n(':not(pre) > code'), links: n('a[href^="https://"]'),
                            copy: n('button'), img: n('img'), script: n('script') };"#,
                vec![],
            )
            .await?;
            for (key, min) in [
                ("h", 1),
                ("li", 2),
                ("th", 1),
                ("td", 2),
                ("pre", 1),
                ("code", 1),
                ("links", 1),
                ("copy", 1),
            ] {
                assert!(
                    found[key].as_u64().unwrap_or(0) >= min,
                    "{prompt}: fewer than {min} {key}: {found}"
                );
            }
            assert_eq!(found["img"], json!(0), "{found}");
            let text = answer_visible_text(&c).await?;
            for raw in ["## ", "```", "| ---", "](http", "**"] {
                assert!(!text.contains(raw), "{prompt}: raw {raw:?} shown: {text}");
            }
        }
        Ok(())
    });
}

#[test]
fn streamed_markdown_equals_the_one_shot_render_in_any_chunk_size() {
    run(|c| async move {
        let mut one_shot = None;
        for (chunk, transport) in [
            (1, "fetch"),
            (3, "eventsource"),
            (7, "fetch"),
            (64, "fetch"),
        ] {
            open_markdown_chat(&c, &format!("chunk={chunk}")).await?;
            choose_transport(&c, transport).await?;
            send_text(&c, CORPUS).await?;
            wait_status(&c, &["done", "failed"], Duration::from_secs(30)).await?;
            assert_eq!(status(&c).await?, "done", "chunk {chunk} via {transport}");
            let expected = match &one_shot {
                Some(html) => String::clone(html),
                None => {
                    let html = one_shot_html(&c, CORPUS).await?;
                    one_shot = Some(html.clone());
                    html
                }
            };
            assert_eq!(
                answer_html(&c).await?,
                expected,
                "chunk {chunk} via {transport}: the streamed DOM differs from the one-shot DOM"
            );
            let cursors = c
                .find_all(fantoccini::Locator::Css(&tid("cursor")))
                .await?
                .len();
            assert_eq!(cursors, 0, "chunk {chunk}: the cursor stays after done");
            let ran = js(&c, "return window.__md ?? null", vec![]).await?;
            assert_eq!(ran, Value::Null, "a script in the answer ran");
        }
        Ok(())
    });
}

#[test]
fn the_cursor_stays_on_the_line_of_the_last_character() {
    run(|c| async move {
        open_markdown_chat(&c, "chunk=2&delay_ms=12").await?;
        send_text(&c, CORPUS).await?;
        // Check on every animation frame while the answer streams: the cursor's box overlaps the
        // line box of the last visible character before it, and sits to its right. Frames where
        // the cursor's block has no character yet (a list item just opened), or where a line
        // break follows the last character, are counted apart.
        let report = c
            .execute_async(
                r#"
                const done = arguments[arguments.length - 1];
                const skip = n => n.parentElement &&
                  n.parentElement.closest('button, [aria-hidden="true"]');
                const out = { checked: 0, empty: 0, after_break: 0, failures: [] };
                const until = performance.now() + 20000;
                const check = () => {
                  const answer = document.querySelector('[data-testid="answer"]');
                  const cursor = answer && answer.querySelector('[data-testid="cursor"]');
                  const state = document.querySelector('[data-testid="status"]').dataset.state;
                  if (state === 'done' || performance.now() > until) { done(out); return; }
                  if (cursor) {
                    const block = cursor.parentElement;
                    const walker = document.createTreeWalker(block, NodeFilter.SHOW_TEXT);
                    let last = null, at = -1, tail = '';
                    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
                      if (skip(n) || !(cursor.compareDocumentPosition(n) & Node.DOCUMENT_POSITION_PRECEDING)) continue;
                      const i = n.data.search(/\S\s*$/);
                      if (i >= 0) { last = n; at = i; tail = n.data.slice(i + 1); }
                      else { tail += n.data; }
                    }
                    if (!last) { out.empty++; }
                    // A line break just arrived (a code line ended): the next character goes on
                    // the new line, and so does the cursor.
                    else if (tail.includes('\n')) { out.after_break++; }
                    else {
                      const range = document.createRange();
                      range.setStart(last, at); range.setEnd(last, at + 1);
                      const rects = range.getClientRects();
                      const ch = rects[rects.length - 1];
                      const cu = cursor.getBoundingClientRect();
                      out.checked++;
                      const sameLine = cu.top < ch.bottom && cu.bottom > ch.top;
                      const after = cu.left >= ch.right - 1;
                      if (!(sameLine && after) && out.failures.length < 5) {
                        out.failures.push({ char: last.data[at], block: block.tagName,
                          ch: [ch.left, ch.top, ch.right, ch.bottom],
                          cursor: [cu.left, cu.top, cu.right, cu.bottom],
                          html: answer.innerHTML.slice(-300) });
                      }
                    }
                  }
                  requestAnimationFrame(check);
                };
                requestAnimationFrame(check);
                "#,
                vec![],
            )
            .await?;
        let checked = report["checked"].as_u64().unwrap_or(0);
        assert!(checked >= 20, "too few frames checked: {report}");
        assert_eq!(
            report["failures"],
            json!([]),
            "the cursor left the last character's line: {report}"
        );
        wait_status(&c, &["done"], Duration::from_secs(20)).await?;
        let cursors = c
            .find_all(fantoccini::Locator::Css(&tid("cursor")))
            .await?
            .len();
        assert_eq!(cursors, 0, "the cursor stays after done");
        Ok(())
    });
}

#[test]
fn stop_keeps_a_rendered_prefix_and_resume_renders_the_whole_answer() {
    run(|c| async move {
        // Stop half-way: the answer shows exactly what arrived, rendered as final, and no more.
        let chunk = 4;
        open_markdown_chat(&c, &format!("chunk={chunk}&delay_ms=20")).await?;
        send_text(&c, CORPUS).await?;
        wait_for(Duration::from_secs(15), "a third of the answer", || async {
            Ok((answer_visible_text(&c).await?.len() > CORPUS.len() / 3).then_some(()))
        })
        .await?;
        c.find(fantoccini::Locator::Css(&tid("stop")))
            .await?
            .click()
            .await?;
        wait_status(&c, &["stopped"], Duration::from_secs(5)).await?;
        let stopped = answer_html(&c).await?;
        // No event says the page will not grow: watch it for a while (20 ms per delta).
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(
            answer_html(&c).await?,
            stopped,
            "it kept growing after stop"
        );
        let all = pieces(CORPUS, chunk);
        let shown = rendered_prefix(&c, &all).await?;
        assert!(
            shown.is_some_and(|k| k < all.len()),
            "the stopped answer is not a rendered prefix ({shown:?} of {}): {stopped}",
            all.len()
        );
        let cursors = c
            .find_all(fantoccini::Locator::Css(&tid("cursor")))
            .await?
            .len();
        assert_eq!(cursors, 0, "the cursor stays after stop");

        // The connection breaks after event 40 (in a list or the table, depending on the chunk);
        // the client resumes with Last-Event-ID and the final DOM is the one-shot DOM.
        for (transport, chunk) in [("fetch", 5), ("eventsource", 6)] {
            open_markdown_chat(&c, &format!("chunk={chunk}&drop_after=40")).await?;
            choose_transport(&c, transport).await?;
            send_text(&c, CORPUS).await?;
            // The client waits the stream's retry (1 s) before it reconnects.
            wait_status(&c, &["reconnecting"], Duration::from_secs(20)).await?;
            wait_status(&c, &["done", "failed"], Duration::from_secs(30)).await?;
            assert_eq!(status(&c).await?, "done", "{transport}");
            assert_eq!(
                answer_html(&c).await?,
                one_shot_html(&c, CORPUS).await?,
                "{transport}: the rendering differs after the resume"
            );
        }
        Ok(())
    });
}

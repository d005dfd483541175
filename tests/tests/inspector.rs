//! The inspector page in each browser engine (`WEBSSE_E2E_BROWSER`): example streams, shared links, markup as text,
//! disconnect seen from the server side.

use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use websse_e2e::{Result, js, open, run, screenshot, tid, wait_for};

/// The logged events as (type, id, data).
async fn events(client: &Client) -> Result<Vec<(String, String, String)>> {
    let value = js(
        client,
        r#"return Array.from(document.querySelectorAll('[data-testid="event"]'))
             .map(e => [e.dataset.type, e.dataset.id, e.textContent]);"#,
        vec![],
    )
    .await?;
    let rows = value.as_array().cloned().unwrap_or_default();
    Ok(rows
        .iter()
        .map(|row| {
            let cell = |i: usize| row[i].as_str().unwrap_or_default().to_owned();
            (cell(0), cell(1), cell(2))
        })
        .collect())
}

/// Scripts `/test/sse/{key}` through the page (same origin), returns nothing.
async fn script(client: &Client, key: &str, spec: Value) -> Result {
    let value = client
        .execute_async(
            r#"const [key, spec, done] = arguments;
               fetch('/test/script/' + key, { method: 'POST',
                     headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) })
                 .then(r => done(r.status)).catch(e => done(String(e)));"#,
            vec![json!(key), spec],
        )
        .await?;
    if value != json!(200) {
        return Err(format!("scripting {key} failed: {value}").into());
    }
    Ok(())
}

/// `GET /test/log/{key}` through the page.
async fn server_log(client: &Client, key: &str) -> Result<Value> {
    Ok(client
        .execute_async(
            r#"const [key, done] = arguments;
               fetch('/test/log/' + key).then(r => r.json()).then(done)
                 .catch(e => done({ error: String(e) }));"#,
            vec![json!(key)],
        )
        .await?)
}

fn unique_key(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{name}-{nanos}")
}

#[test]
fn inspector_shows_named_events_from_an_example_stream() {
    run(|c| async move {
        // Pick the server's "events" example from the list (fills URL, event types, framing).
        select_example(&c, "events").await?;
        let url = c
            .find(Locator::Css(&tid("inspector-url")))
            .await?
            .prop("value")
            .await?
            .unwrap_or_default();
        assert!(
            url.starts_with("/api/examples/events"),
            "url field: {url:?}"
        );
        // EventSource delivers named events only when asked for by name.
        c.find(Locator::Css("select[aria-label=\"Transport\"]"))
            .await?
            .select_by_value("eventsource")
            .await?;
        c.find(Locator::Css(&tid("connect"))).await?.click().await?;

        let log = wait_for(
            Duration::from_secs(20),
            "the update and end events",
            || async {
                let log = events(&c).await?;
                Ok(log.iter().any(|(t, _, _)| t == "end").then_some(log))
            },
        )
        .await?;
        let kinds: Vec<(&str, &str)> = log
            .iter()
            .map(|(t, id, _)| (t.as_str(), id.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("update", "1"),
                ("update", "2"),
                ("update", "3"),
                ("update", "4"),
                ("update", "5"),
                ("end", "6")
            ]
        );
        let first: Value = serde_json::from_str(&log[0].2)?;
        assert_eq!(first["n"], json!(1));
        // The state changes are logged too, and the link to this setup is in the address bar.
        let page_url = c.current_url().await?;
        assert!(
            page_url.query().unwrap_or_default().contains("url="),
            "the query string does not hold the setup: {page_url}"
        );
        let states = js(
            &c,
            "return Array.from(document.querySelectorAll('.log li.state .data')).map(e => e.textContent);",
            vec![],
        )
        .await?;
        assert!(
            states
                .as_array()
                .is_some_and(|s| s.iter().any(|x| x == "open")),
            "no state change logged: {states}"
        );
        // The stream has ended; EventSource may still try once more (the server answers 204).
        c.find(Locator::Css(&tid("disconnect")))
            .await?
            .click()
            .await
            .ok();
        js(
            &c,
            "document.querySelector('.log').scrollIntoView({ block: 'end' }); return true;",
            vec![],
        )
        .await?;
        screenshot(&c, "screenshot-inspector.png").await?;
        Ok(())
    });
}

#[test]
fn a_shared_link_connects_and_markup_stays_text() {
    run(|c| async move {
        let key = unique_key("xss");
        let payload = r#"<script>window.__xss=1</script><img src=x onerror="window.__xss=2">"#;
        open(&c, "/#/inspector", "inspector-url").await?;
        script(
            &c,
            &key,
            json!({ "responses": [{
                "headers": { "content-type": "text/event-stream" },
                "chunks": [{ "text": format!("event: evil\nid: 7\ndata: {payload}\n\n") }],
                "end": "close"
            }]}),
        )
        .await?;
        for transport in ["fetch", "eventsource"] {
            // A relative URL, resolved against the page; opening the link connects at once.
            open(
                &c,
                &format!("/?url=/test/sse/{key}&transport={transport}&events=evil#/inspector"),
                "inspector-url",
            )
            .await?;
            let log = wait_for(Duration::from_secs(15), "the evil event", || async {
                let log = events(&c).await?;
                Ok((!log.is_empty()).then_some(log))
            })
            .await?;
            assert_eq!(
                log[0],
                ("evil".to_owned(), "7".to_owned(), payload.to_owned()),
                "{transport}"
            );
            let check = js(
                &c,
                r#"const log = document.querySelector('.log');
                   return { scripts: log.querySelectorAll('script').length,
                            imgs: log.querySelectorAll('img').length, xss: window.__xss ?? null };"#,
                vec![],
            )
            .await?;
            assert_eq!(
                check,
                json!({ "scripts": 0, "imgs": 0, "xss": null }),
                "{transport}"
            );
            c.find(Locator::Css(&tid("disconnect")))
                .await?
                .click()
                .await
                .ok();
        }
        Ok(())
    });
}

#[test]
fn disconnect_closes_the_connection_on_the_server() {
    run(|c| async move {
        let key = unique_key("hold");
        open(&c, "/#/inspector", "inspector-url").await?;
        script(
            &c,
            &key,
            json!({ "responses": [{
                "headers": { "content-type": "text/event-stream" },
                "chunks": [{ "text": "id: 1\ndata: first\n\n" }],
                "end": "hold"
            }]}),
        )
        .await?;
        let input = c.find(Locator::Css(&tid("inspector-url"))).await?;
        input.send_keys(&format!("/test/sse/{key}")).await?;
        c.find(Locator::Css(&tid("connect"))).await?.click().await?;
        wait_for(Duration::from_secs(10), "the first event", || async {
            let log = events(&c).await?;
            Ok((log.first().map(|e| e.2.as_str()) == Some("first")).then_some(()))
        })
        .await?;
        c.find(Locator::Css(&tid("disconnect")))
            .await?
            .click()
            .await?;
        // The server sees the client go away (fetch aborted by dropping the stream).
        let outcome = wait_for(
            Duration::from_secs(10),
            "the server to see the disconnect",
            || async {
                let log = server_log(&c, &key).await?;
                let outcome = log["connections"][0]["outcome"].as_str().map(str::to_owned);
                Ok(outcome.filter(|o| o != "open"))
            },
        )
        .await?;
        assert_eq!(outcome, "client_disconnected");
        let log = server_log(&c, &key).await?;
        assert_eq!(
            log["connections"].as_array().map(Vec::len),
            Some(1),
            "the client reconnected after disconnect: {log}"
        );
        Ok(())
    });
}

/// Opens the inspector and picks the server's example called `name` from the list (which fills in
/// the URL, method, event types and framing).
async fn select_example(c: &Client, name: &str) -> Result {
    open(c, "/#/inspector", "inspector-url").await?;
    let value = wait_for(Duration::from_secs(10), "the example list", || async {
        let found = js(
            c,
            r#"const [name] = arguments;
               const s = document.querySelector('[data-testid="example"]');
               if (!s) return null;
               const o = Array.from(s.options).find(o => o.textContent.startsWith(name + ' '));
               return o ? o.value : null;"#,
            vec![json!(name)],
        )
        .await?;
        Ok(found.as_str().map(str::to_owned))
    })
    .await?;
    c.find(Locator::Css(&tid("example")))
        .await?
        .select_by_value(&value)
        .await?;
    Ok(())
}

/// [`select_example`], then connects on the default transport, fetch.
async fn connect_to_example(c: &Client, name: &str) -> Result {
    select_example(c, name).await?;
    c.find(Locator::Css(&tid("connect"))).await?.click().await?;
    Ok(())
}

/// The `n` fields of the JSON objects in `text`, which holds them back to back (any whitespace
/// between them).
fn object_numbers(text: &str) -> Result<Vec<u64>> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .map(|object| {
            let object = object?;
            object["n"]
                .as_u64()
                .ok_or_else(|| format!("an object without n: {object}").into())
        })
        .collect()
}

#[test]
fn inspector_reads_the_ndjson_example() {
    // The app builds websse without its default features: the NDJSON and raw framings are there
    // only because it asks for them (otherwise connecting fails with FramingNotEnabled).
    run(|c| async move {
        connect_to_example(&c, "ndjson").await?;
        let log = wait_for(Duration::from_secs(20), "five NDJSON messages", || async {
            let log = events(&c).await?;
            Ok((log.len() >= 5).then_some(log))
        })
        .await?;
        let numbers = log
            .iter()
            .map(|(_, _, data)| object_numbers(data))
            .collect::<Result<Vec<_>>>()?;
        assert_eq!(numbers, [[1], [2], [3], [4], [5]], "one object per message");
        Ok(())
    });
}

#[test]
fn inspector_reads_the_raw_json_example() {
    run(|c| async move {
        connect_to_example(&c, "json-stream").await?;
        // Raw framing: each chunk is one message, however the network cuts the stream.
        let text = wait_for(Duration::from_secs(20), "the fifth raw object", || async {
            let text: String = events(&c).await?.into_iter().map(|(_, _, d)| d).collect();
            Ok(text.contains("\"n\":5").then_some(text))
        })
        .await?;
        assert_eq!(object_numbers(&text)?, [1, 2, 3, 4, 5], "raw text: {text}");
        Ok(())
    });
}

//! One connection for many tabs, in each browser engine (`WEBSSE_E2E_BROWSER`): eight
//! pages of one browser context inspect the same ticker with "one connection for all tabs" on.
//! The server's test log must show one connection while every page receives every event; closing
//! the leader page must make another page reconnect with `Last-Event-ID` within 2 s, and every
//! page's ids must stay consecutive (no gap, no duplicate) across the handover.
//!
//! Then the edges of a page's life: a hidden leader must not pause the one connection while a
//! follower is visible, and a frozen leader must hand over within 3 s.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fantoccini::wd::WindowHandle;
use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use websse_e2e::{Engine, Result, base_url, js, open, run_within, text, tid, wait_for};

/// Pages (windows of one WebDriver session, so one browser context and one origin).
const PAGES: usize = 8;
/// The ticker's pace and length: long enough for the slowest engine to open eight pages.
const INTERVAL_MS: u64 = 200;
const COUNT: u64 = 1500;
/// Longest time from closing the leader page to the new leader's connection.
const HANDOVER_LIMIT: Duration = Duration::from_secs(2);
/// Longest wait for the pages to agree on a leader and on the number of tabs.
const SETTLE_LIMIT: Duration = Duration::from_secs(90);
/// Longest the whole test may take (WebKit starts eight apps slowly on two busy cores).
const TEST_LIMIT: Duration = Duration::from_secs(240);

fn unique_key(name: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{name}-{nanos}")
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

/// What one page shows: the sharing badge and the ids of the events in its log, in order.
#[derive(Debug)]
struct PageView {
    role: Option<String>,
    tabs: Option<u32>,
    ids: Vec<u64>,
}

/// The test's channel to the pages, apart from the library's (`websse:` + key).
const REPORTS: &str = "websse-e2e-share";

/// Makes the current page answer on [`REPORTS`] with what it shows. Reading eight pages through
/// one channel takes one WebDriver command instead of eight window switches (each of which takes
/// up to a second in WebKit with eight windows open).
async fn install_reporter(client: &Client, page: usize) -> Result {
    js(
        client,
        r#"const [page, name] = arguments;
           const channel = new BroadcastChannel(name);
           window.__websseShareReports = channel;
           const text = id => {
             const e = document.querySelector('[data-testid="' + id + '"]');
             return e ? e.textContent : null;
           };
           channel.onmessage = e => {
             if (!e.data || !e.data.ask) return;
             channel.postMessage({ reply: e.data.ask, page, role: text('sharing-role'),
               tabs: text('sharing-tabs'),
               ids: Array.from(document.querySelectorAll('[data-testid="event"]'))
                      .map(e => e.dataset.id) });
           };
           return true;"#,
        vec![json!(page), json!(REPORTS)],
    )
    .await?;
    Ok(())
}

/// What the pages `alive` show, asked for by the current page (which must be one of them).
async fn views(client: &Client, alive: &[usize]) -> Result<BTreeMap<usize, PageView>> {
    let value = client
        .execute_async(
            r#"const [name, expected, done] = arguments;
               const ask = String(Math.random()).slice(2);
               const channel = new BroadcastChannel(name);
               const replies = {};
               let finished = false;
               const finish = () => {
                 if (finished) return;
                 finished = true;
                 channel.close();
                 done(Object.values(replies));
               };
               channel.onmessage = e => {
                 if (!e.data || e.data.reply !== ask) return;
                 replies[e.data.page] = e.data;
                 if (Object.keys(replies).length >= expected) finish();
               };
               channel.postMessage({ ask });
               setTimeout(finish, 5000);"#,
            vec![json!(REPORTS), json!(alive.len())],
        )
        .await?;
    let mut out = BTreeMap::new();
    for reply in value.as_array().into_iter().flatten() {
        let Some(page) = reply["page"].as_u64().and_then(|p| usize::try_from(p).ok()) else {
            continue;
        };
        if !alive.contains(&page) {
            continue;
        }
        let ids = reply["ids"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|id| {
                id.as_str()
                    .and_then(|id| id.parse().ok())
                    .ok_or_else(|| format!("page {page}: an event id that is not a tick: {id}"))
            })
            .collect::<std::result::Result<Vec<u64>, String>>()?;
        out.insert(
            page,
            PageView {
                role: reply["role"].as_str().map(str::to_owned),
                tabs: reply["tabs"].as_str().and_then(|t| t.trim().parse().ok()),
                ids,
            },
        );
    }
    Ok(out)
}

/// The connections `GET /test/log/{key}` lists, fetched by the current page.
async fn connections(client: &Client, key: &str) -> Result<Vec<Value>> {
    let value = client
        .execute_async(
            r#"const [key, done] = arguments;
               fetch('/test/log/' + key, { cache: 'no-store' }).then(r => r.json()).then(done)
                 .catch(e => done({ error: String(e) }));"#,
            vec![json!(key)],
        )
        .await?;
    value["connections"]
        .as_array()
        .cloned()
        .ok_or_else(|| format!("no test log for {key}: {value}").into())
}

/// What every page in `alive` shows; asks again (for up to 20 s) until all have answered.
async fn all_views(client: &Client, alive: &[usize]) -> Result<BTreeMap<usize, PageView>> {
    let answered = RefCell::new(Vec::new());
    let waited = wait_for(Duration::from_secs(20), "every page to answer", || async {
        let pages = views(client, alive).await?;
        *answered.borrow_mut() = pages.keys().copied().collect();
        Ok((pages.len() == alive.len()).then_some(pages))
    })
    .await;
    waited.map_err(|e| {
        let answered = answered.borrow();
        format!("{e}: only pages {answered:?} of {alive:?} answered").into()
    })
}

/// Waits until the pages `alive` agree: exactly one leads, the rest follow, and all count as many
/// tabs as there are pages; returns the leader.
async fn settled(client: &Client, alive: &[usize]) -> Result<usize> {
    let tabs = u32::try_from(alive.len())?;
    let last = RefCell::new(String::new());
    let waited = wait_for(
        SETTLE_LIMIT,
        &format!("{} pages to show one leader and {tabs} tabs", alive.len()),
        || async {
            let pages = views(client, alive).await?;
            *last.borrow_mut() = format!(
                "{:?}",
                pages
                    .iter()
                    .map(|(i, p)| (i, p.role.clone(), p.tabs))
                    .collect::<Vec<_>>()
            );
            let leaders: Vec<usize> = pages
                .iter()
                .filter(|(_, p)| p.role.as_deref() == Some("leads"))
                .map(|(i, _)| *i)
                .collect();
            let agree = pages.len() == alive.len()
                && pages.values().all(|p| {
                    p.tabs == Some(tabs) && matches!(p.role.as_deref(), Some("leads" | "follows"))
                });
            Ok((agree && leaders.len() == 1).then(|| leaders[0]))
        },
    )
    .await;
    waited.map_err(|e| format!("{e}; the badges (page, role, tabs) were {}", last.borrow()).into())
}

/// Waits until every page in `alive` has shown an event with an id of at least `mark(page)`.
async fn reached(
    client: &Client,
    alive: &[usize],
    what: &str,
    mark: impl Fn(usize) -> u64,
) -> Result {
    wait_for(Duration::from_secs(20), what, || async {
        let pages = views(client, alive).await?;
        Ok((pages.len() == alive.len()
            && pages
                .iter()
                .all(|(i, p)| p.ids.last().is_some_and(|last| *last >= mark(*i))))
        .then_some(()))
    })
    .await
}

/// Every id one more than the one before: nothing lost, nothing twice.
fn check_consecutive(page: usize, ids: &[u64]) -> Result {
    for pair in ids.windows(2) {
        if pair[1] != pair[0] + 1 {
            return Err(format!(
                "page {page}: id {} follows {} (a {}); ids {}..={}",
                pair[1],
                pair[0],
                if pair[1] <= pair[0] {
                    "duplicate or reordering"
                } else {
                    "gap"
                },
                ids[0],
                ids[ids.len() - 1]
            )
            .into());
        }
    }
    Ok(())
}

/// The inspector's shared link to the ticker `key` over fetch, with sharing across tabs on or off.
fn inspector_link(key: &str, tabs: bool) -> String {
    inspector_link_with(key, tabs, "")
}

/// [`inspector_link`] with more link parameters (`&pause=1`).
fn inspector_link_with(key: &str, tabs: bool, more: &str) -> String {
    let stream = format!("/test/ticker/{key}?interval_ms={INTERVAL_MS}&count={COUNT}");
    format!(
        "{}/?url={}&transport=fetch{}{more}#/inspector",
        base_url(),
        stream
            .replace('?', "%3F")
            .replace('=', "%3D")
            .replace('&', "%26"),
        if tabs { "&tabs=1" } else { "" },
    )
}

/// Opens `pages` windows (the session's own and new ones) on `link`, each with the reporter.
async fn open_pages(client: &Client, pages: usize, link: &str) -> Result<Vec<WindowHandle>> {
    let mut windows = vec![client.window().await?];
    for _ in 1..pages {
        windows.push(client.new_window(false).await?.handle);
    }
    for (page, window) in windows.iter().enumerate() {
        client.switch_to_window(window.clone()).await?;
        client.goto(link).await?;
        install_reporter(client, page).await?;
    }
    Ok(windows)
}

#[test]
fn eight_pages_share_one_connection_and_hand_over_without_gaps() {
    run_within(TEST_LIMIT, |c| async move {
        let engine = Engine::current().name();
        let key = unique_key("share");
        let link = inspector_link(&key, true);

        // Eight pages of one browser context, each a window of its own (a visible page: no
        // background-tab throttling), on the same link, which connects at once. All are loaded
        // before any is waited for, so the engine starts their apps side by side.
        let opening = Instant::now();
        let windows = open_pages(&c, PAGES, &link).await?;
        let mut alive: Vec<usize> = (0..PAGES).collect();
        let leader = settled(&c, &alive).await?;
        println!(
            "[{engine}] {PAGES} pages open and agreed on one leader (page {leader}) in {:?}",
            opening.elapsed()
        );

        // Every page receives the events: wait for a few more on each.
        let before = all_views(&c, &alive).await?;
        let marks: BTreeMap<usize, u64> = before
            .iter()
            .map(|(i, p)| (*i, p.ids.last().copied().unwrap_or(0)))
            .collect();
        reached(&c, &alive, "5 more events on every page", |i| {
            marks.get(&i).copied().unwrap_or(0) + 5
        })
        .await?;
        for (i, page) in &all_views(&c, &alive).await? {
            check_consecutive(*i, &page.ids)?;
        }
        let log = connections(&c, &key).await?;
        let shared_connections = log.len();
        if shared_connections != 1 || log[0]["outcome"] != "open" {
            return Err(format!(
                "{PAGES} pages sharing the stream should make exactly one connection; the \
                 server logged {shared_connections}: {log:?}"
            )
            .into());
        }
        if !log[0]["last_event_id"].is_null() {
            return Err(format!("the first connection sent Last-Event-ID: {}", log[0]).into());
        }

        // A yardstick for the browser's part of the handover: the leader page also holds a Web
        // Lock of the test's own, which another page waits for; the browser grants it when it
        // lets go of the closed page's locks, the library's among them.
        let probe = format!("websse-e2e-probe:{key}");
        c.switch_to_window(windows[leader].clone()).await?;
        c.execute_async(
            r#"const [name, done] = arguments;
               navigator.locks.request(name, () => { done(true); return new Promise(() => {}); });"#,
            vec![json!(probe)],
        )
        .await?;
        alive.retain(|&i| i != leader);
        c.switch_to_window(windows[alive[0]].clone()).await?;
        js(
            &c,
            r#"const [name] = arguments;
               window.__websseProbeGranted = null;
               navigator.locks.request(name, () => { window.__websseProbeGranted = Date.now(); });
               return true;"#,
            vec![json!(probe)],
        )
        .await?;

        // Close the leader page; another page must take over with Last-Event-ID.
        c.switch_to_window(windows[leader].clone()).await?;
        let closed_at = epoch_ms();
        c.close_window().await?;
        c.switch_to_window(windows[alive[0]].clone()).await?;
        let log = wait_for(
            HANDOVER_LIMIT + Duration::from_secs(10),
            "a second connection after the leader page closed",
            || {
                let (c, key) = (&c, &key);
                async move {
                    let log = connections(c, key).await?;
                    Ok((log.len() >= 2).then_some(log))
                }
            },
        )
        .await?;
        let second = &log[1];
        let started = second["started_ms"].as_u64().ok_or("no started_ms")?;
        let handover = Duration::from_millis(started.saturating_sub(closed_at));
        let old_ended = log[0]["ended_ms"].as_u64().map_or_else(
            || "not yet".to_owned(),
            |t| format!("{} ms", t as i64 - closed_at as i64),
        );
        let released = wait_for(
            Duration::from_secs(10),
            "the browser to release the closed page's probe lock",
            || async {
                let granted = js(&c, "return window.__websseProbeGranted;", vec![]).await?;
                Ok(granted.as_u64())
            },
        )
        .await
        .map_or_else(
            |_| "not within 10 s".to_owned(),
            |t| format!("{} ms", t as i64 - closed_at as i64),
        );
        println!(
            "[{engine}] handover: the new connection began {handover:?} after the test asked \
             WebDriver to close the leader page, with Last-Event-ID {} (the old connection had \
             sent up to {}; the server saw it end {old_ended} after the close; the browser \
             released the closed page's Web Locks {released} after it)",
            second["last_event_id"], log[0]["last_sent"]
        );
        if handover > HANDOVER_LIMIT {
            return Err(format!(
                "the new leader connected {handover:?} after the leader page closed (limit \
                 {HANDOVER_LIMIT:?}); the browser released the closed page's Web Locks \
                 {released} after the close"
            )
            .into());
        }
        let resumed: u64 = second["last_event_id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| {
                format!("the new leader's connection has no numeric Last-Event-ID: {second}")
            })?;
        let old_sent = log[0]["last_sent"].as_u64().unwrap_or(0);
        let seen = marks.values().copied().max().unwrap_or(0);
        if resumed > old_sent || resumed < seen {
            return Err(format!(
                "Last-Event-ID {resumed} is not the newest id the pages had: they had seen \
                 {seen} before the close, and the old connection sent up to {old_sent}"
            )
            .into());
        }

        // The remaining pages agree on a new leader, and run on well past the handover.
        let new_leader = settled(&c, &alive).await?;
        let target = resumed + 20;
        reached(
            &c,
            &alive,
            &format!("every remaining page to reach id {target}"),
            |_| target,
        )
        .await?;
        let pages = all_views(&c, &alive).await?;
        for (i, page) in &pages {
            check_consecutive(*i, &page.ids)?;
            let first = page.ids.first().copied().unwrap_or(0);
            if first > resumed {
                return Err(format!(
                    "page {i} began at id {first}, after the handover at {resumed}"
                )
                .into());
            }
        }
        let log = connections(&c, &key).await?;
        let summary: Vec<String> = log
            .iter()
            .map(|e| {
                format!(
                    "{{Last-Event-ID {}, {}, last sent {}}}",
                    e["last_event_id"], e["outcome"], e["last_sent"]
                )
            })
            .collect();
        println!(
            "[{engine}] connections seen by the server: {shared_connections} while {PAGES} pages \
             shared the stream, {} in all after the handover: {}; new leader page \
             {new_leader}; ids per page: {}",
            log.len(),
            summary.join(", "),
            pages
                .iter()
                .map(|(i, p)| format!(
                    "{i}: {}..={}",
                    p.ids.first().unwrap_or(&0),
                    p.ids.last().unwrap_or(&0)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if log.len() != 2 {
            return Err(format!(
                "expected exactly two connections (the first leader's and the new leader's), \
                 the server logged {}: {summary:?}",
                log.len()
            )
            .into());
        }
        if log[0]["outcome"] != "client_disconnected" {
            return Err(format!(
                "the closed leader's connection should have ended: {}",
                log[0]
            )
            .into());
        }
        Ok(())
    });
}

/// The control: without sharing, each page has its own connection (so eight pages would need
/// eight, more than the six a browser opens to one origin over HTTP/1.1, and the seventh page
/// would not even load). Three pages are enough to see it.
#[test]
fn without_sharing_each_page_has_its_own_connection() {
    run_within(TEST_LIMIT, |c| async move {
        const UNSHARED: usize = 3;
        let key = unique_key("unshared");
        let alive: Vec<usize> = (0..UNSHARED).collect();
        open_pages(&c, UNSHARED, &inspector_link(&key, false)).await?;
        reached(&c, &alive, "events on every page", |_| 3).await?;
        let log = connections(&c, &key).await?;
        let pages = all_views(&c, &alive).await?;
        println!(
            "[{}] without sharing: {UNSHARED} pages, {} connections",
            Engine::current().name(),
            log.len()
        );
        if log.len() != UNSHARED {
            return Err(format!(
                "{UNSHARED} pages without sharing should make {UNSHARED} connections, the server \
                 logged {}",
                log.len()
            )
            .into());
        }
        if let Some((i, page)) = pages.iter().find(|(_, p)| p.role.is_some()) {
            return Err(format!("page {i} shows a sharing badge without sharing: {page:?}").into());
        }

        // The checkbox does what the link's `tabs=1` does, and the link it makes says so.
        let key = unique_key("checkbox");
        open(&c, "/#/inspector", "inspector-url").await?;
        c.find(Locator::Css(&tid("inspector-url")))
            .await?
            .send_keys(&format!(
                "/test/ticker/{key}?interval_ms={INTERVAL_MS}&count={COUNT}"
            ))
            .await?;
        c.find(Locator::Css(&tid("share-tabs")))
            .await?
            .click()
            .await?;
        c.find(Locator::Css(&tid("connect"))).await?.click().await?;
        let badge = wait_for(Duration::from_secs(20), "the sharing badge", || async {
            let role = text(&c, &tid("sharing-role")).await?;
            let tabs = text(&c, &tid("sharing-tabs")).await?;
            Ok(role.zip(tabs))
        })
        .await?;
        if badge != ("leads".to_owned(), "1".to_owned()) {
            return Err(format!("one page alone should lead a sharing of 1 tab: {badge:?}").into());
        }
        let url = c.current_url().await?;
        if !url.query_pairs().any(|(k, v)| k == "tabs" && v == "1") {
            return Err(format!("the page's link does not keep tabs=1: {url}").into());
        }
        Ok(())
    });
}

/// Makes the current page look hidden (`visibilityState`, `hidden`) and tells it, as the browser
/// does when the user switches to another tab; headless windows are never hidden by themselves.
async fn simulate_hidden(client: &Client) -> Result {
    js(
        client,
        r#"Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
           Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
           document.dispatchEvent(new Event('visibilitychange'));
           return true;"#,
        vec![],
    )
    .await?;
    Ok(())
}

/// A leader page that goes to the background while a follower page stays visible: the leader
/// must not pause the shared connection (it was asked to pause when hidden, `pause=1`), so the
/// follower keeps receiving every event and the server sees one connection throughout.
#[test]
fn a_hidden_leader_keeps_the_connection_for_a_visible_follower() {
    run_within(TEST_LIMIT, |c| async move {
        let key = unique_key("hidden");
        let link = inspector_link_with(&key, true, "&pause=1");
        let windows = open_pages(&c, 2, &link).await?;
        let alive = [0, 1];
        let leader = settled(&c, &alive).await?;
        let follower = 1 - leader;
        c.switch_to_window(windows[leader].clone()).await?;
        simulate_hidden(&c).await?;
        c.switch_to_window(windows[follower].clone()).await?;
        let mark = all_views(&c, &[follower]).await?[&follower]
            .ids
            .last()
            .copied()
            .unwrap_or(0);
        // 3 s at one event per 200 ms.
        reached(
            &c,
            &[follower],
            "15 more events on the visible follower",
            |_| mark + 15,
        )
        .await?;
        let view = &all_views(&c, &[follower]).await?[&follower];
        check_consecutive(follower, &view.ids)?;
        let log = connections(&c, &key).await?;
        println!(
            "[{}] hidden leader: the follower went from id {mark} to {:?}; connections: {}",
            Engine::current().name(),
            view.ids.last(),
            log.len()
        );
        if log.len() != 1 || log[0]["outcome"] != "open" {
            return Err(format!(
                "the hidden leader's connection should stay open, the only one: {log:?}"
            )
            .into());
        }
        Ok(())
    });
}

/// A leader page that is frozen (the browser's Page Lifecycle `frozen` state, through CDP: it
/// runs no more code, its timers and channel are stopped) must not hold the stream hostage:
/// another page leads within 3 s, resuming after the newest id, and no page loses or repeats an
/// event. When the frozen page comes back it follows; it does not connect again.
#[test]
fn a_frozen_leader_is_replaced_within_3_s() {
    run_within(TEST_LIMIT, |c| async move {
        let key = unique_key("frozen");
        let windows = open_pages(&c, 3, &inspector_link(&key, true)).await?;
        let mut alive: Vec<usize> = (0..3).collect();
        let leader = settled(&c, &alive).await?;
        let before = all_views(&c, &alive).await?;
        let mark = before
            .values()
            .filter_map(|p| p.ids.last())
            .max()
            .copied()
            .unwrap_or(0);
        reached(&c, &alive, "5 more events on every page", |_| mark + 5).await?;

        c.switch_to_window(windows[leader].clone()).await?;
        let frozen_at = epoch_ms();
        websse_e2e::cdp::execute(
            &c,
            "Page.setWebLifecycleState",
            json!({ "state": "frozen" }),
        )
        .await?;
        alive.retain(|&i| i != leader);
        c.switch_to_window(windows[alive[0]].clone()).await?;
        let log = wait_for(Duration::from_secs(10), "a second connection", || {
            let (c, key) = (&c, &key);
            async move {
                let log = connections(c, key).await?;
                Ok((log.len() >= 2).then_some(log))
            }
        })
        .await?;
        let started = log[1]["started_ms"].as_u64().ok_or("no started_ms")?;
        let handover = Duration::from_millis(started.saturating_sub(frozen_at));
        println!(
            "[{}] frozen leader: the new connection began {handover:?} after the freeze, with \
             Last-Event-ID {} (the old one sent up to {}, outcome {})",
            Engine::current().name(),
            log[1]["last_event_id"],
            log[0]["last_sent"],
            log[0]["outcome"]
        );
        if handover > Duration::from_secs(3) {
            return Err(format!("the handover took {handover:?} (limit 3 s)").into());
        }
        let resumed: u64 = log[1]["last_event_id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .ok_or("the new leader sent no numeric Last-Event-ID")?;
        reached(&c, &alive, "10 more events after the handover", |_| {
            resumed + 10
        })
        .await?;
        for (i, page) in &all_views(&c, &alive).await? {
            check_consecutive(*i, &page.ids)?;
        }

        // The frozen page comes back: it follows the new leader, and nothing reconnects.
        c.switch_to_window(windows[leader].clone()).await?;
        websse_e2e::cdp::execute(
            &c,
            "Page.setWebLifecycleState",
            json!({ "state": "active" }),
        )
        .await?;
        let all: Vec<usize> = (0..3).collect();
        settled(&c, &all).await?;
        let log = connections(&c, &key).await?;
        let open = log.iter().filter(|e| e["outcome"] == "open").count();
        if open != 1 || log.len() != 2 {
            return Err(
                format!("after the resume: one open connection of two expected: {log:?}").into(),
            );
        }
        Ok(())
    });
}

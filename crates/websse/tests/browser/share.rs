//! Shared streams: the fan-out in one tab, and the tab protocol (Web Locks + BroadcastChannel)
//! with the test playing the other tab. The end-to-end test with many real tabs is
//! tests/tests/share.rs.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::{
    fast_policy, key, log, now, one_fast_reconnect_later, script, sleep, sse_url, text_chunk,
    until_log,
};
use futures::StreamExt;
use futures::future::{Either, select};
use js_sys::{Array, Promise, Reflect};
use serde_json::{Value, json};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use websse::{
    ConnectionState, Error, Item, Message, Role, SharedStream, Skipped, SseRequest, Subscription,
    Transport,
};

/// A promise and the function that resolves it.
fn promise() -> (Promise, js_sys::Function) {
    let mut resolve = None;
    let promise = Promise::new(&mut |res, _| resolve = Some(res));
    (promise, resolve.unwrap())
}

/// One response that sends `events` and holds the connection.
fn held(events: &str) -> Value {
    json!({ "chunks": [text_chunk(events)], "end": "hold" })
}

fn shared(key: &str, transport: Transport) -> SharedStream {
    SseRequest::get(sse_url(key))
        .transport(transport)
        .share()
        .expect("share")
}

async fn next_within(sub: &mut Subscription, ms: u32) -> Option<Result<Item, Error>> {
    match select(sub.next(), Box::pin(sleep(ms))).await {
        Either::Left((item, _)) => item,
        Either::Right(_) => panic!("no item within {ms} ms (state {:?})", sub.state()),
    }
}

/// Every item until `n` messages have arrived.
async fn until_messages(sub: &mut Subscription, n: usize) -> Vec<Item> {
    let mut items = Vec::new();
    while messages(&items).len() < n {
        match next_within(sub, 5000).await {
            Some(Ok(item)) => items.push(item),
            other => panic!("{other:?} after {items:?}"),
        }
    }
    items
}

/// The message items, in order.
fn messages(items: &[Item]) -> Vec<&Item> {
    items
        .iter()
        .filter(|i| matches!(i, Item::Message(_)))
        .collect()
}

/// The sharing notices, in order.
fn sharing(items: &[Item]) -> Vec<websse::Sharing> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Sharing(s) => Some(*s),
            _ => None,
        })
        .collect()
}

fn msg(data: &str, id: &str) -> Item {
    Item::Message(Message::new("message", data, id))
}

#[wasm_bindgen_test]
async fn subscribers_get_the_same_items_over_one_connection() {
    for (name, transport) in [
        ("share-fetch", Transport::Fetch),
        ("share-es", Transport::EventSource),
    ] {
        let k = key(name);
        script(
            &k,
            json!([held(
                "id: 1\ndata: a\n\nid: 2\ndata: b\n\nid: 3\ndata: c\n\n"
            )]),
        )
        .await;
        let stream = shared(&k, transport);
        let mut subs: Vec<Subscription> = (0..3).map(|_| stream.subscribe()).collect();
        // Another part of the page shares the same request: same key, same connection.
        let elsewhere = shared(&k, transport);
        assert_eq!(elsewhere.key(), stream.key());
        subs.push(elsewhere.subscribe());
        assert_eq!(stream.subscribers(), 4, "{name}");
        let mut seen = Vec::new();
        for sub in &mut subs {
            seen.push(until_messages(sub, 3).await);
        }
        assert_eq!(
            seen[0],
            [
                Item::State(ConnectionState::Connecting),
                Item::State(ConnectionState::Open),
                msg("a", "1"),
                msg("b", "2"),
                msg("c", "3"),
            ],
            "{name}"
        );
        assert!(
            seen.iter().all(|items| items == &seen[0]),
            "{name}: {seen:?}"
        );
        assert_eq!(log(&k).await.len(), 1, "{name}: one connection");
    }
}

#[wasm_bindgen_test]
async fn a_late_subscriber_starts_with_the_current_state() {
    let k = key("share-late");
    script(&k, json!([held("data: a\n\n")])).await;
    let stream = shared(&k, Transport::Fetch);
    let mut first = stream.subscribe();
    until_messages(&mut first, 1).await;
    let mut late = stream.subscribe();
    assert_eq!(
        next_within(&mut late, 1000).await.unwrap().unwrap(),
        Item::State(ConnectionState::Open)
    );
}

#[wasm_bindgen_test]
async fn dropping_every_subscriber_closes_the_connection_and_a_new_one_reopens_it() {
    for (name, transport) in [
        ("share-drop-fetch", Transport::Fetch),
        ("share-drop-es", Transport::EventSource),
    ] {
        let k = key(name);
        script(&k, json!([held("data: a\n\n"), held("data: again\n\n")])).await;
        // The fast policy: a fetch reconnect that should not happen would come within the
        // probe's delay (see `one_fast_reconnect_later`).
        let stream = SseRequest::get(sse_url(&k))
            .transport(transport)
            .reconnect(fast_policy())
            .share()
            .expect("share");
        let mut a = stream.subscribe();
        let mut b = stream.subscribe();
        until_messages(&mut a, 1).await;
        until_messages(&mut b, 1).await;
        drop(b);
        // No event says a connection will stay open: give a wrong close time to be logged.
        sleep(300).await;
        assert_eq!(log(&k).await[0]["outcome"], "open", "{name}: one left");
        drop(a);
        until_log(&k, 2000.0, "the connection closed", |log| {
            log[0]["outcome"] == "client_disconnected"
        })
        .await;
        assert_eq!(stream.subscribers(), 0);
        one_fast_reconnect_later().await;
        assert_eq!(
            log(&k).await.len(),
            1,
            "{name}: no reconnect without subscribers"
        );
        let mut c = stream.subscribe();
        let items = until_messages(&mut c, 1).await;
        assert_eq!(items.last(), Some(&msg("again", "")), "{name}");
        assert_eq!(log(&k).await.len(), 2, "{name}: reopened");
    }
}

#[wasm_bindgen_test]
async fn closing_one_subscription_leaves_the_others() {
    let k = key("share-close");
    script(&k, json!([held("data: a\n\n")])).await;
    let stream = shared(&k, Transport::Fetch);
    let mut a = stream.subscribe();
    let mut b = stream.subscribe();
    until_messages(&mut a, 1).await;
    let handle = b.close_handle();
    handle.close();
    assert_eq!(
        next_within(&mut b, 1000).await.unwrap().unwrap(),
        Item::State(ConnectionState::Closed)
    );
    assert!(next_within(&mut b, 1000).await.is_none());
    assert_eq!(stream.subscribers(), 1);
    // No event says a connection will stay open: give a wrong close time to be logged.
    sleep(200).await;
    assert_eq!(log(&k).await[0]["outcome"], "open");
    a.close();
    // The same end as through a close handle: `Closed`, then `None`.
    assert_eq!(
        next_within(&mut a, 1000).await.unwrap().unwrap(),
        Item::State(ConnectionState::Closed)
    );
    assert!(next_within(&mut a, 1000).await.is_none());
    until_log(&k, 2000.0, "the connection closed", |log| {
        log[0]["outcome"] == "client_disconnected"
    })
    .await;
}

#[wasm_bindgen_test]
async fn subscribers_read_the_same_messages_in_batches_or_items() {
    let k = key("share-batches");
    let events: String = (0..50)
        .map(|i| format!("id: {i}\ndata: {i:04}\n\n"))
        .collect();
    script(&k, json!([held(&events)])).await;
    let stream = shared(&k, Transport::Fetch);
    let mut by_batch = stream.subscribe();
    let mut by_item = stream.subscribe();
    let items = until_messages(&mut by_item, 50).await;
    let expected: Vec<Item> = (0..50)
        .map(|i| msg(&format!("{i:04}"), &i.to_string()))
        .collect();
    assert_eq!(messages(&items), expected.iter().collect::<Vec<_>>());
    let mut got = Vec::new();
    while got.len() < 50 {
        let batch = match select(by_batch.next_batch(), Box::pin(sleep(5000))).await {
            Either::Left((Some(Ok(batch)), _)) => batch,
            Either::Left((other, _)) => panic!("{other:?} after {got:?}"),
            Either::Right(_) => panic!("no batch within 5000 ms after {got:?}"),
        };
        got.extend(batch.messages().map(|m| Item::Message(m.to_message())));
    }
    assert_eq!(got, expected);
    assert_eq!(log(&k).await.len(), 1, "one connection");
}

#[wasm_bindgen_test]
async fn a_lagging_subscriber_loses_messages_with_a_notice_and_the_fast_one_gets_all() {
    let k = key("share-lag");
    let events: String = (0..200).map(|i| format!("data: {i:04}\n\n")).collect();
    script(&k, json!([held(&events)])).await;
    let stream = SseRequest::get(sse_url(&k))
        .max_buffered(1024)
        .share()
        .unwrap();
    let mut fast = stream.subscribe();
    let mut slow = stream.subscribe();
    let fast_items = until_messages(&mut fast, 200).await;
    let fast_data: Vec<&str> = messages(&fast_items)
        .into_iter()
        .filter_map(|i| match i {
            Item::Message(m) => Some(m.data()),
            _ => None,
        })
        .collect();
    let expected: Vec<String> = (0..200).map(|i| format!("{i:04}")).collect();
    assert_eq!(fast_data, expected, "the fast subscriber gets everything");
    assert!(
        !fast_items.iter().any(|i| matches!(i, Item::Skipped(_))),
        "{fast_items:?}"
    );
    // The slow one read nothing so far: its queue held at most ~1 KiB, and said what it lost.
    let (mut received, mut dropped) = (Vec::new(), 0);
    while received.len() as u64 + dropped < 200 {
        match next_within(&mut slow, 2000).await {
            Some(Ok(Item::Message(m))) => received.push(m.into_data()),
            Some(Ok(Item::Skipped(Skipped::Lagged { count }))) => dropped += count,
            Some(Ok(Item::State(_))) => {}
            other => panic!("{other:?}"),
        }
    }
    // What one queued message counts for: its data (no id here) and its own size.
    let one = "0000".len() + std::mem::size_of::<Message>();
    assert!(dropped > 0, "nothing dropped");
    assert!(received.len() <= 1024 / one + 1, "{} kept", received.len());
    assert_eq!(received[0], "0000");
    assert!(received.windows(2).all(|w| w[0] < w[1]), "{received:?}");
}

#[wasm_bindgen_test]
async fn a_fatal_error_ends_every_subscriber() {
    let k = key("share-404");
    script(&k, json!([{ "status": 404 }])).await;
    let stream = shared(&k, Transport::Fetch);
    let mut subs = [stream.subscribe(), stream.subscribe()];
    for sub in &mut subs {
        loop {
            match next_within(sub, 5000).await {
                Some(Ok(Item::State(_))) => {}
                Some(Err(Error::Status { status: 404 })) => break,
                other => panic!("{other:?}"),
            }
        }
        assert!(next_within(sub, 1000).await.is_none());
    }
}

#[wasm_bindgen_test]
async fn across_tabs_alone_in_the_browser_this_tab_leads() {
    let k = key("share-lead");
    script(&k, json!([held("id: 1\ndata: a\n\n")])).await;
    let stream = SseRequest::get(sse_url(&k))
        .across_tabs(true)
        .share()
        .unwrap();
    let mut sub = stream.subscribe();
    let items = until_messages(&mut sub, 1).await;
    let sharing = sharing(&items);
    assert_eq!(
        sharing.first().map(|s| (s.role, s.tabs)),
        Some((Role::Leader, 1)),
        "{items:?}"
    );
    assert_eq!(items.last(), Some(&msg("a", "1")));
    assert_eq!(stream.sharing().map(|s| s.role), Some(Role::Leader));
}

/// The lock and channel of a share key (protocol version 1).
fn lock_name(key: &str) -> String {
    format!("websse:v1:{key}")
}

/// What the page posted: when, and its string fields.
type Heard = Rc<RefCell<Vec<(f64, Vec<String>)>>>;

/// The test's end of a stream's channel: it posts what another tab would, and keeps what the
/// page posts.
struct Channel {
    channel: web_sys::BroadcastChannel,
    heard: Heard,
    /// Resolves with the request fingerprint when the page says hello.
    hello: Promise,
    _listener: gloo_events::EventListener,
}

impl Channel {
    fn open(key: &str) -> Channel {
        let channel = web_sys::BroadcastChannel::new(&lock_name(key)).unwrap();
        let heard: Heard = Rc::default();
        let (hello, said_hello) = promise();
        let listener = {
            let heard = Rc::clone(&heard);
            gloo_events::EventListener::new(&channel, "message", move |event| {
                let data = event.unchecked_ref::<web_sys::MessageEvent>().data();
                let fields: Array = data.unchecked_into();
                let text: Vec<String> = fields.iter().filter_map(|f| f.as_string()).collect();
                if text.get(1).map(String::as_str) == Some("hello")
                    && let Some(fingerprint) = text.get(2)
                {
                    said_hello
                        .call1(&JsValue::UNDEFINED, &JsValue::from_str(fingerprint))
                        .unwrap();
                }
                heard.borrow_mut().push((now(), text));
            })
        };
        Channel {
            channel,
            heard,
            hello,
            _listener: listener,
        }
    }

    fn post(&self, fields: Vec<JsValue>) {
        self.channel
            .post_message(&fields.into_iter().collect::<Array>())
            .unwrap();
    }

    fn item(&self, leader: &str, fields: &[&str]) {
        let mut all: Vec<JsValue> = vec!["websse".into(), 1.0.into(), "item".into(), leader.into()];
        all.extend(fields.iter().map(|f| JsValue::from_str(f)));
        self.post(all);
    }

    fn message(&self, leader: &str, data: &str, id: &str) {
        self.item(leader, &["m", "message", data, id]);
    }

    fn lead(&self, leader: &str, fingerprint: &str, resume: &str) {
        self.post(vec![
            "websse".into(),
            1.0.into(),
            "lead".into(),
            leader.into(),
            fingerprint.into(),
            resume.into(),
        ]);
    }

    fn beat(&self, leader: &str) {
        self.post(vec![
            "websse".into(),
            1.0.into(),
            "beat".into(),
            leader.into(),
            2.0.into(),
            0.0.into(),
        ]);
    }

    /// The request fingerprint the page said hello with.
    async fn fingerprint(&self) -> String {
        match select(JsFuture::from(self.hello.clone()), Box::pin(sleep(2000))).await {
            Either::Left((Ok(fingerprint), _)) => fingerprint.as_string().unwrap(),
            _ => panic!("the page never said hello: {:?}", self.heard.borrow()),
        }
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.channel.close();
    }
}

/// A stream shared across tabs under `key`, with a fetch to the scenario `scenario`.
fn across(scenario: &str, key: &str) -> SharedStream {
    SseRequest::get(sse_url(scenario))
        .share_key(key)
        .across_tabs(true)
        .share()
        .unwrap()
}

/// The test plays another tab: it holds the stream's Web Lock, so the page's stream follows;
/// it relays items over the channel; then it lets go, and the page's stream takes over.
#[wasm_bindgen_test]
async fn a_follower_yields_relayed_items_then_takes_over_with_the_newest_id() {
    let k = key("share-handover");
    // The new leader's connection: the server resends event 2, which the follower already has.
    script(&k, json!([held("id: 2\ndata: b\n\nid: 3\ndata: c\n\n")])).await;
    let name = format!("handover-{k}");
    let other_tab = OtherTab::lead(&lock_name(&name)).await;
    let channel = Channel::open(&name);
    let stream = across(&k, &name);
    let mut sub = stream.subscribe();
    let fingerprint = channel.fingerprint().await;
    assert!(log(&k).await.is_empty(), "a follower does not connect");
    channel.lead("L1", &fingerprint, "");
    channel.item("L1", &["s", "open"]);
    channel.message("L1", "a", "1");
    channel.message("L1", "b", "2");
    let mut items = until_messages(&mut sub, 2).await;
    assert_eq!(log(&k).await.len(), 0);

    // The other tab goes: this one gets the lock and resumes after event 2.
    other_tab.release();
    items.extend(until_messages(&mut sub, 1).await);
    let messages = messages(&items);
    assert_eq!(
        messages,
        [&msg("a", "1"), &msg("b", "2"), &msg("c", "3")],
        "no gap, no repeat: {items:?}"
    );
    let roles: Vec<Role> = sharing(&items).iter().map(|s| s.role).collect();
    assert_eq!(roles.first(), Some(&Role::Follower), "{items:?}");
    assert_eq!(roles.last(), Some(&Role::Leader), "{items:?}");
    let log = log(&k).await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["last_event_id"], "2");
    // The page said it leads, with its fingerprint and the id it resumed after.
    let heard = channel.heard.borrow();
    let lead = heard
        .iter()
        .find(|(_, f)| f.get(1).map(String::as_str) == Some("lead"))
        .map(|(_, f)| f.clone())
        .expect("a lead message");
    assert_eq!(lead[3..], [fingerprint, "2".to_owned()], "{lead:?}");
}

/// A leader that stops responding (frozen, stalled) keeps its Web Lock and relays nothing: the
/// page notices the silence and takes the lock within 3 s, resuming after the newest id, with
/// no event lost or repeated.
#[wasm_bindgen_test]
async fn a_silent_leader_is_replaced_within_3_s() {
    let k = key("share-silent");
    script(&k, json!([held("id: 2\ndata: b\n\nid: 3\ndata: c\n\n")])).await;
    let name = format!("silent-{k}");
    let _frozen_tab = OtherTab::lead(&lock_name(&name)).await;
    let channel = Channel::open(&name);
    let stream = across(&k, &name);
    let mut sub = stream.subscribe();
    let fingerprint = channel.fingerprint().await;
    channel.lead("L1", &fingerprint, "");
    channel.item("L1", &["s", "open"]);
    channel.message("L1", "a", "1");
    channel.message("L1", "b", "2");
    let mut items = until_messages(&mut sub, 2).await;
    // Alive for a while: no takeover while it beats. Beats come on a live leader's clock, so
    // this part takes time by design.
    for _ in 0..8 {
        channel.beat("L1");
        sleep(250).await;
    }
    assert!(log(&k).await.is_empty(), "took over from a live leader");
    // Then silent, still holding the lock.
    let silent_at = now();
    items.extend(until_messages(&mut sub, 1).await);
    let log = log(&k).await;
    assert_eq!(log.len(), 1, "{log:?}");
    let took = log[0]["started_ms"].as_f64().unwrap() - silent_at;
    assert!(
        took < 3000.0,
        "took over {took} ms after the leader fell silent"
    );
    assert_eq!(log[0]["last_event_id"], "2");
    assert_eq!(
        messages(&items),
        [&msg("a", "1"), &msg("b", "2"), &msg("c", "3")],
        "{items:?}"
    );
    assert_eq!(stream.sharing().map(|s| s.role), Some(Role::Leader));
}

/// A tab that missed the last lead message still sees the change of leader in the items
/// themselves (every leader has its own random id): the new leader's repeats are dropped, and
/// the old leader's late items too.
#[wasm_bindgen_test]
async fn a_new_leader_whose_lead_message_was_missed_causes_no_repeats() {
    let k = key("share-missed-lead");
    let name = format!("missed-{k}");
    let _other = OtherTab::lead(&lock_name(&name)).await;
    let channel = Channel::open(&name);
    let stream = across(&k, &name);
    let mut sub = stream.subscribe();
    channel.fingerprint().await;
    channel.message("L1", "1", "1");
    channel.message("L1", "2", "2");
    channel.message("L1", "3", "3");
    let mut items = until_messages(&mut sub, 3).await;
    // L2 took over after event 1 (its lead message never reached this page) and the server
    // sends 2 and 3 again; L1's last item arrives late.
    channel.message("L2", "2", "2");
    channel.message("L2", "3", "3");
    channel.message("L1", "late", "9");
    channel.message("L2", "4", "4");
    // A channel delivers in the order things were posted: once this last one is here, every
    // repeat or late item that got through would be here before it.
    channel.message("L2", "5", "5");
    while !items.contains(&msg("5", "5")) {
        items.extend(until_messages(&mut sub, 1).await);
    }
    assert_eq!(
        messages(&items),
        [
            &msg("1", "1"),
            &msg("2", "2"),
            &msg("3", "3"),
            &msg("4", "4"),
            &msg("5", "5")
        ],
        "{items:?}"
    );
}

/// Sparse ids: events without an id of their own carry the last one. After a handover at id
/// 7, the server resends the two id-less events after event 7 (this tab delivered them) and then
/// new ones that still carry 7: only the repeats are dropped.
#[wasm_bindgen_test]
async fn sparse_ids_across_a_handover_lose_nothing() {
    let k = key("share-sparse");
    script(
        &k,
        json!([held("data: y\n\ndata: z\n\ndata: new1\n\ndata: new2\n\n")]),
    )
    .await;
    let name = format!("sparse-{k}");
    let other_tab = OtherTab::lead(&lock_name(&name)).await;
    let channel = Channel::open(&name);
    let stream = across(&k, &name);
    let mut sub = stream.subscribe();
    let fingerprint = channel.fingerprint().await;
    channel.lead("L1", &fingerprint, "");
    channel.message("L1", "x", "7");
    channel.message("L1", "y", "7");
    channel.message("L1", "z", "7");
    let mut items = until_messages(&mut sub, 3).await;
    other_tab.release();
    items.extend(until_messages(&mut sub, 2).await);
    let data: Vec<&str> = messages(&items)
        .iter()
        .filter_map(|i| match i {
            Item::Message(m) => Some(m.data()),
            _ => None,
        })
        .collect();
    assert_eq!(data, ["x", "y", "z", "new1", "new2"], "{items:?}");
    assert_eq!(log(&k).await[0]["last_event_id"], "7");
}

/// One key names one request: a different request under the same key is refused with a typed
/// error, in this tab at `share()` and across tabs when the leader leads another request.
#[wasm_bindgen_test]
async fn mismatched_requests_under_one_key_are_a_typed_error() {
    let k = key("share-mismatch");
    let name = format!("mismatch-{k}");
    let first = SseRequest::get(sse_url(&format!("{k}-a")))
        .share_key(&name)
        .share()
        .unwrap();
    let second = SseRequest::get(sse_url(&format!("{k}-b")))
        .share_key(&name)
        .share();
    assert!(
        matches!(&second, Err(Error::SharedRequestMismatch { key }) if *key == name),
        "{second:?}"
    );
    drop(first);

    let tabs = format!("mismatch-tabs-{k}");
    let _other = OtherTab::lead(&lock_name(&tabs)).await;
    let channel = Channel::open(&tabs);
    let stream = across(&k, &tabs);
    let mut sub = stream.subscribe();
    channel.fingerprint().await;
    channel.lead("L1", "another request", "");
    channel.message("L1", "not ours", "1");
    let end = loop {
        match next_within(&mut sub, 3000).await {
            Some(Ok(Item::Message(m))) => panic!("delivered {m:?} of another request"),
            Some(Ok(_)) => {}
            Some(Err(error)) => break error,
            None => panic!("ended without an error"),
        }
    };
    assert!(
        matches!(&end, Error::SharedRequestMismatch { key } if *key == tabs),
        "{end:?}"
    );
    assert!(next_within(&mut sub, 1000).await.is_none());
}

/// After every subscriber left, a later one starts a fresh stream: no `Last-Event-ID` from the
/// one before.
#[wasm_bindgen_test]
async fn a_later_subscriber_after_all_left_starts_fresh() {
    let k = key("share-fresh");
    script(
        &k,
        json!([held("id: 5\ndata: a\n\n"), held("id: 1\ndata: again\n\n")]),
    )
    .await;
    let stream = shared(&k, Transport::Fetch);
    let mut a = stream.subscribe();
    until_messages(&mut a, 1).await;
    drop(a);
    until_log(&k, 2000.0, "the connection closed", |log| {
        log[0]["outcome"] == "client_disconnected"
    })
    .await;
    let mut b = stream.subscribe();
    let items = until_messages(&mut b, 1).await;
    assert_eq!(items.last(), Some(&msg("again", "1")));
    let log = log(&k).await;
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(log[1]["last_event_id"].is_null(), "{:?}", log[1]);
}

/// Another protocol version is ignored safely: a tab of an older version (its lock and channel
/// have no version in their names, its messages no tag) neither blocks this one from leading
/// nor feeds it items; and messages of another version on this channel are dropped.
#[wasm_bindgen_test]
async fn another_protocol_version_is_ignored() {
    let k = key("share-version");
    script(&k, json!([held("id: 1\ndata: ours\n\n")])).await;
    let name = format!("version-{k}");
    // An old tab leads under the unversioned name and relays in the old format.
    let _old_tab = OtherTab::lead(&format!("websse:{name}")).await;
    let old_channel = web_sys::BroadcastChannel::new(&format!("websse:{name}")).unwrap();
    let stream = across(&k, &name);
    let mut sub = stream.subscribe();
    let channel = Channel::open(&name);
    let old: Array = [
        JsValue::from("item"),
        1.0.into(),
        "m".into(),
        "message".into(),
        "old".into(),
        "1".into(),
    ]
    .into_iter()
    .collect();
    old_channel.post_message(&old).unwrap();
    channel.post(old.iter().collect());
    let mut v2 = vec![
        JsValue::from("websse"),
        2.0.into(),
        "item".into(),
        "L9".into(),
    ];
    v2.extend(["m", "message", "v2", "1"].map(JsValue::from));
    channel.post(v2);
    let items = until_messages(&mut sub, 1).await;
    assert_eq!(messages(&items), [&msg("ours", "1")], "{items:?}");
    assert_eq!(stream.sharing().map(|s| s.role), Some(Role::Leader));
    assert_eq!(log(&k).await.len(), 1);
    old_channel.close();
}

/// A leader whose stream ended tells the other tabs before it lets go of the lock, so that no
/// tab takes the lead of a stream that is over; and it does let go, so a tab that opens the
/// stream later is not stuck behind it.
#[wasm_bindgen_test]
async fn a_leader_whose_stream_ended_says_so_before_another_tab_may_lead() {
    let k = key("share-ended");
    script(
        &k,
        json!([{ "chunks": [text_chunk("id: 1\ndata: last\n\n")], "end": "close" }]),
    )
    .await;
    let name = format!("ended-{k}");
    let channel = Channel::open(&name);
    let stream = SseRequest::get(sse_url(&k))
        .reconnect(websse::ReconnectPolicy::never())
        .share_key(&name)
        .across_tabs(true)
        .share()
        .unwrap();
    let mut sub = stream.subscribe();
    until_messages(&mut sub, 1).await;
    assert_eq!(stream.sharing().map(|s| s.role), Some(Role::Leader));
    // Another tab waits for the lock while the page leads.
    let other = OtherTab::request(&lock_name(&name));
    loop {
        match next_within(&mut sub, 5000).await {
            Some(Ok(Item::State(ConnectionState::Closed))) => break,
            Some(Ok(_)) => {}
            other => panic!("{other:?}"),
        }
    }
    // The subscription is kept (not dropped): the lock must still pass on, after the others heard.
    other.until_granted(5000).await;
    let granted = other.granted_at().unwrap();
    let closed_heard = channel
        .heard
        .borrow()
        .iter()
        .find(|(_, m)| m.join(" ").ends_with("s closed"))
        .map(|(t, _)| *t);
    let closed_heard = closed_heard.expect("the end was relayed");
    assert!(
        closed_heard <= granted,
        "the end was heard at {closed_heard}, after the lock passed at {granted}"
    );
    assert!(next_within(&mut sub, 1000).await.is_none());
    assert_eq!(log(&k).await.len(), 1);
}

/// The browser's EventSource cannot be given a starting id: a follower that takes over connects
/// afresh (documented), and does not fail.
#[wasm_bindgen_test]
async fn an_eventsource_follower_takes_over_afresh() {
    let k = key("share-es-handover");
    script(&k, json!([held("id: 3\ndata: c\n\n")])).await;
    let name = format!("es-handover-{k}");
    let other_tab = OtherTab::lead(&lock_name(&name)).await;
    let channel = Channel::open(&name);
    let stream = SseRequest::get(sse_url(&k))
        .transport(Transport::EventSource)
        .share_key(&name)
        .across_tabs(true)
        .share()
        .unwrap();
    let mut sub = stream.subscribe();
    channel.fingerprint().await;
    channel.message("L1", "a", "1");
    let mut items = until_messages(&mut sub, 1).await;
    other_tab.release();
    items.extend(until_messages(&mut sub, 1).await);
    let messages = messages(&items);
    assert_eq!(messages, [&msg("a", "1"), &msg("c", "3")], "{items:?}");
    let log = log(&k).await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(
        log[0]["last_event_id"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "{log:?}"
    );
}

/// A follower ends with the error the leader's stream ended with, not a description of it.
#[wasm_bindgen_test]
async fn followers_end_with_the_leaders_error() {
    let cases: [(&[&str], Error); 6] = [
        (
            &["e", "js", "boom"],
            Error::Js {
                message: "boom".into(),
            },
        ),
        (
            &["e", "unsupported", "custom headers"],
            Error::EventSourceUnsupported("custom headers"),
        ),
        (
            &["e", "content-type", "text/html"],
            Error::ContentType {
                content_type: "text/html".into(),
            },
        ),
        (&["e", "closed"], Error::EventSourceClosed),
        (
            &["e", "framing-not-enabled", "ndjson"],
            Error::FramingNotEnabled("ndjson"),
        ),
        (
            &["e", "feature-not-enabled", "pause-when-hidden"],
            Error::FeatureNotEnabled("pause-when-hidden"),
        ),
    ];
    for (fields, expected) in cases {
        let name = format!("errors-{}", key("share"));
        let _leader = OtherTab::lead(&lock_name(&name)).await;
        let channel = Channel::open(&name);
        let stream = SseRequest::get(sse_url(&name))
            .share_key(name.clone())
            .across_tabs(true)
            .share()
            .unwrap();
        let mut sub = stream.subscribe();
        channel.fingerprint().await;
        channel.item("L1", fields);
        let error = loop {
            match next_within(&mut sub, 3000).await {
                Some(Ok(_)) => {}
                Some(Err(error)) => break error,
                None => panic!("ended without the error"),
            }
        };
        assert_eq!(error.to_string(), expected.to_string(), "{fields:?}");
        assert_eq!(format!("{error:?}"), format!("{expected:?}"));
        assert!(next_within(&mut sub, 1000).await.is_none());
    }
}

/// Another tab, played by the test: it asks for the stream's Web Lock and holds it, once
/// granted, until released.
struct OtherTab {
    granted: Rc<Cell<Option<f64>>>,
    /// Resolves when the lock is granted.
    grant: Promise,
    release: Rc<RefCell<Option<js_sys::Function>>>,
    _grant: Closure<dyn FnMut(JsValue) -> Promise>,
}

impl OtherTab {
    /// Asks for the lock (granted when free; see [`OtherTab::granted_at`]).
    fn request(name: &str) -> OtherTab {
        let granted = Rc::new(Cell::new(None));
        let release: Rc<RefCell<Option<js_sys::Function>>> = Rc::default();
        let (grant_promise, resolve_grant) = promise();
        let grant = {
            let (granted, release) = (Rc::clone(&granted), Rc::clone(&release));
            Closure::<dyn FnMut(JsValue) -> Promise>::new(move |_lock| {
                granted.set(Some(now()));
                resolve_grant.call0(&JsValue::UNDEFINED).unwrap();
                Promise::new(&mut |resolve, _| *release.borrow_mut() = Some(resolve))
            })
        };
        let locks = Reflect::get(&js_sys::global(), &"navigator".into())
            .and_then(|n| Reflect::get(&n, &"locks".into()))
            .unwrap();
        let request: js_sys::Function = Reflect::get(&locks, &"request".into())
            .unwrap()
            .unchecked_into();
        request
            .call2(&locks, &name.into(), grant.as_ref().unchecked_ref())
            .unwrap();
        OtherTab {
            granted,
            grant: grant_promise,
            release,
            _grant: grant,
        }
    }

    /// Asks for the lock and waits until this "tab" holds it.
    async fn lead(name: &str) -> OtherTab {
        let tab = OtherTab::request(name);
        tab.until_granted(5000).await;
        tab
    }

    /// Waits until the lock is granted, or panics after `ms`.
    async fn until_granted(&self, ms: u32) {
        if let Either::Right(_) =
            select(JsFuture::from(self.grant.clone()), Box::pin(sleep(ms))).await
        {
            panic!("the lock was not granted within {ms} ms");
        }
    }

    /// When the lock was granted (`Date.now()`), if it was.
    fn granted_at(&self) -> Option<f64> {
        self.granted.get()
    }

    fn release(&self) {
        if let Some(release) = self.release.borrow_mut().take() {
            release.call0(&JsValue::UNDEFINED).unwrap();
        }
    }
}

impl Drop for OtherTab {
    fn drop(&mut self) {
        self.release();
    }
}

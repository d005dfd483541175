//! The wasm half of the browser throughput bench: websse's transports read a `/test/flood`
//! stream the way an app would, counting the events and their data bytes until the `end` event
//! (and with `json`, parsing each event's data and summing the lengths of its content).
//!
//! `bench.js` calls the exported `run_*` functions; the native `EventSource`, eventsource-parser
//! and the JS floor are plain JavaScript there, and do the same per event. Every run also reports
//! the heap allocations made while it ran (`allocs`), counted by this crate's global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use futures::StreamExt;
use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use websse::{Batch, Item, Message, SseRequest, Transport};

/// The system allocator, counting allocations (the page is single-threaded).
struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

#[allow(unsafe_code)]
// SAFETY: forwards every call to `System` unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|a| a.set(a.get() + 1));
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|a| a.set(a.get() + 1));
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(Cell::get)
}

/// An OpenAI-shaped chunk, owned (what `Message::json` gives).
#[derive(serde::Deserialize)]
struct Completion {
    choices: Vec<Choice>,
}

#[derive(serde::Deserialize)]
struct Choice {
    delta: Delta,
}

#[derive(serde::Deserialize)]
struct Delta {
    content: String,
}

fn js_err(e: impl std::fmt::Display) -> JsValue {
    JsValue::from_str(&e.to_string())
}

fn now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

/// What one reader counted.
#[derive(Default, PartialEq, Debug)]
struct Counts {
    events: u32,
    bytes: usize,
    content: usize,
    last: Option<String>,
    end: Option<String>,
}

impl Counts {
    /// Counts one message; `true` at the `end` event.
    fn message(&mut self, msg: &Message, json: bool) -> Result<bool, JsValue> {
        if msg.event_type() == "end" {
            self.end = Some(msg.data().to_owned());
            return Ok(true);
        }
        self.events += 1;
        self.bytes += msg.data().len();
        if json {
            let c: Completion = msg.json().map_err(js_err)?;
            self.content += c.choices.first().map_or(0, |c| c.delta.content.len());
        }
        Ok(false)
    }

    /// Counts one batch through the borrowed API, keeping the last message's data in `last` (a
    /// buffer reused across messages, no allocation per message); `true` at the `end` event.
    fn batch(&mut self, batch: &Batch, json: bool, last: &mut String) -> Result<bool, JsValue> {
        if let Some(Item::Skipped(skipped)) = batch.item() {
            return Err(js_err(format!("skipped: {skipped}")));
        }
        for msg in batch.messages() {
            if msg.event_type() == "end" {
                self.end = Some(msg.data().to_owned());
                return Ok(true);
            }
            self.events += 1;
            self.bytes += msg.data().len();
            if json {
                let c: CompletionRef<'_> = msg.json().map_err(js_err)?;
                self.content += c.choices[0].delta.content.len();
            }
            last.clear();
            last.push_str(msg.data());
        }
        Ok(false)
    }

    fn result(
        self,
        started: f64,
        allocs_before: u64,
        last: Option<String>,
    ) -> Result<JsValue, JsValue> {
        let ms = now() - started;
        let allocs = allocs() - allocs_before;
        let end = self.end.ok_or("the stream ended without its end event")?;
        let result = Object::new();
        let set =
            |key: &str, value: JsValue| Reflect::set(&result, &JsValue::from_str(key), &value);
        set("events", self.events.into())?;
        set("bytes", (self.bytes as f64).into())?;
        set("content", (self.content as f64).into())?;
        set(
            "last",
            last.map_or(JsValue::NULL, |m| JsValue::from_str(&m)),
        )?;
        set("end", JsValue::from_str(&end))?;
        set("ms", ms.into())?;
        set("allocs", (allocs as f64).into())?;
        Ok(result.into())
    }
}

/// Reads the flood at `url` with websse over `transport` (`"fetch"` or `"event-source"`),
/// through the owned API (`while let Some(item) = stream.next().await`), and resolves to
/// `{events, bytes, content, last, end, ms, allocs}`.
///
/// # Errors
/// An unknown transport, a stream error, a skipped event, or a stream that ends without `end`.
#[wasm_bindgen]
pub async fn run_websse(url: String, transport: String, json: bool) -> Result<JsValue, JsValue> {
    let transport = match transport.as_str() {
        "fetch" => Transport::Fetch,
        "event-source" => Transport::EventSource,
        other => return Err(JsValue::from_str(&format!("unknown transport {other:?}"))),
    };
    let allocs_before = allocs();
    let started = now();
    let mut stream = SseRequest::get(url)
        .transport(transport)
        .events(["end"])
        .open()
        .map_err(js_err)?;
    let (counts, last) = read_items(&mut stream, json).await?;
    drop(stream);
    counts.result(started, allocs_before, last)
}

/// Reads `stream` through the owned API (`while let Some(item) = stream.next().await`),
/// counting each message, up to the `end` event; the counts and the last message's data.
async fn read_items(
    stream: &mut (impl futures::Stream<Item = Result<Item, websse::Error>> + Unpin),
    json: bool,
) -> Result<(Counts, Option<String>), JsValue> {
    let mut counts = Counts::default();
    let mut last = None;
    while let Some(item) = stream.next().await {
        match item.map_err(js_err)? {
            Item::Message(msg) => {
                if counts.message(&msg, json)? {
                    break;
                }
                last = Some(msg);
            }
            Item::Skipped(skipped) => return Err(js_err(format!("skipped: {skipped}"))),
            _ => {}
        }
    }
    Ok((counts, last.map(Message::into_data)))
}

/// A websse stream of the flood at `url` over fetch, with its `end` event.
fn open_flood(url: String) -> Result<websse::EventStream, JsValue> {
    SseRequest::get(url).events(["end"]).open().map_err(js_err)
}

/// The floor of a stream of owned items over websse's fetch transport: `next_batch`, and each
/// batch's messages as owned `Item`s (`into_messages`, no copy) through the simplest `Stream`
/// there is (`futures::stream::iter`), read as [`read_items`] reads: one poll per item, with
/// none of an `EventStream`'s checks (a close, the end of the stream, a sentinel).
///
/// # Errors
/// As [`run_websse`].
#[wasm_bindgen]
pub async fn run_items_floor(url: String, json: bool) -> Result<JsValue, JsValue> {
    let allocs_before = allocs();
    let started = now();
    let mut stream = open_flood(url)?;
    let mut counts = Counts::default();
    let mut last = None;
    'read: while let Some(batch) = stream.next_batch().await {
        let messages = batch.map_err(js_err)?.into_messages();
        let mut items =
            futures::stream::iter(messages.map(|m| Ok::<_, websse::Error>(Item::Message(m))));
        while let Some(item) = items.next().await {
            if let Item::Message(msg) = item.map_err(js_err)? {
                if counts.message(&msg, json)? {
                    break 'read;
                }
                last = Some(msg);
            }
        }
    }
    drop(stream);
    counts.result(started, allocs_before, last.map(Message::into_data))
}

/// `n` subscriptions of one websse `SharedStream` of the flood at `url`, over fetch.
fn subscriptions(url: String, n: u32) -> Result<Vec<websse::Subscription>, JsValue> {
    let shared = SseRequest::get(url)
        .events(["end"])
        .share()
        .map_err(js_err)?;
    Ok((0..n).map(|_| shared.subscribe()).collect())
}

/// Runs the subscribers' readers together; their counts and last data, once all agree.
async fn agreed<L: PartialEq>(
    runs: impl IntoIterator<Item = impl std::future::Future<Output = Result<(Counts, L), JsValue>>>,
) -> Result<(Counts, L), JsValue> {
    let mut all = futures::future::join_all(runs).await.into_iter();
    let (first, last) = all.next().ok_or("no subscriber")??;
    for other in all {
        let (counts, other_last) = other?;
        if counts != first || other_last != last {
            return Err("the subscribers received different events".into());
        }
    }
    Ok((first, last))
}

/// Reads the flood through `subscribers` subscriptions of one websse `SharedStream` over fetch,
/// each counting every event; resolves to the first one's counts once all saw `end` (and
/// rejects unless they all counted the same).
///
/// # Errors
/// As [`run_websse`], for any subscriber.
#[wasm_bindgen]
pub async fn run_websse_shared(
    url: String,
    subscribers: u32,
    json: bool,
) -> Result<JsValue, JsValue> {
    let allocs_before = allocs();
    let started = now();
    let runs = subscriptions(url, subscribers)?
        .into_iter()
        .map(|mut sub| async move { read_items(&mut sub, json).await });
    let (first, last) = agreed(runs).await?;
    first.result(started, allocs_before, last)
}

/// As [`run_websse`] over fetch, with each message counted by `readers` counters in turn: the
/// work that as many subscribers of a [`run_websse_shared`] stream do between them, without the
/// sharing. Its rate bounds what a shared stream with that many subscribers can reach.
///
/// # Errors
/// As [`run_websse`].
#[wasm_bindgen]
pub async fn run_websse_fanout(url: String, readers: u32, json: bool) -> Result<JsValue, JsValue> {
    let allocs_before = allocs();
    let started = now();
    let mut stream = open_flood(url)?;
    let mut all: Vec<Counts> = (0..readers.max(1)).map(|_| Counts::default()).collect();
    let mut last = None;
    'read: while let Some(item) = stream.next().await {
        match item.map_err(js_err)? {
            Item::Message(msg) => {
                for counts in &mut all {
                    if counts.message(&msg, json)? {
                        break 'read;
                    }
                }
                last = Some(msg);
            }
            Item::Skipped(skipped) => return Err(js_err(format!("skipped: {skipped}"))),
            _ => {}
        }
    }
    drop(stream);
    let mut all = all.into_iter();
    let first = all.next().ok_or("no reader")?;
    // Only the first saw `end` (the loop stops there); the others counted the same events.
    if all.any(|c| (c.events, c.bytes, c.content) != (first.events, first.bytes, first.content)) {
        return Err("the counters differ".into());
    }
    first.result(started, allocs_before, last.map(Message::into_data))
}

/// As [`run_websse_shared`], each subscriber reading through the borrowed API
/// (`sub.next_batch()`, JSON into borrowed types, as [`run_websse_batch`] does).
///
/// # Errors
/// As [`run_websse`], for any subscriber.
#[wasm_bindgen]
pub async fn run_websse_shared_batch(
    url: String,
    subscribers: u32,
    json: bool,
) -> Result<JsValue, JsValue> {
    let allocs_before = allocs();
    let started = now();
    let runs = subscriptions(url, subscribers)?
        .into_iter()
        .map(|mut sub| async move {
            let mut counts = Counts::default();
            let mut last = String::new();
            while let Some(batch) = sub.next_batch().await {
                if counts.batch(&batch.map_err(js_err)?, json, &mut last)? {
                    break;
                }
            }
            Ok::<_, JsValue>((counts, last))
        });
    let (first, last) = agreed(runs).await?;
    first.result(started, allocs_before, Some(last))
}

/// A body read the way websse's fetch transport reads it: fetched with the readers' options, each
/// chunk copied into wasm memory, into a buffer reused across chunks.
struct Body {
    reader: web_sys::ReadableStreamDefaultReader,
    scratch: Vec<u8>,
}

impl Body {
    async fn fetch(url: &str) -> Result<Body, JsValue> {
        let response: web_sys::Response = wasm_bindgen_futures::JsFuture::from(fetch_like_js(url)?)
            .await?
            .dyn_into()?;
        let reader = response.body().ok_or("no body")?.get_reader().dyn_into()?;
        Ok(Body {
            reader,
            scratch: Vec::new(),
        })
    }

    /// The next chunk, copied in; `None` at the end of the body.
    async fn next_chunk(&mut self) -> Result<Option<&[u8]>, JsValue> {
        let chunk = wasm_bindgen_futures::JsFuture::from(self.reader.read()).await?;
        if Reflect::get(&chunk, &"done".into())?.as_bool() == Some(true) {
            return Ok(None);
        }
        let bytes: Uint8Array = Reflect::get(&chunk, &"value".into())?.dyn_into()?;
        let len = bytes.length() as usize;
        if self.scratch.len() < len {
            self.scratch.resize(len, 0);
        }
        let into = &mut self.scratch[..len];
        bytes.copy_to(into);
        Ok(Some(into))
    }
}

/// The floor for a wasm reader: fetches `url` and only reads the body's chunks, copying each
/// into wasm memory (as websse's fetch transport does), until the body ends; resolves to
/// `{body, ms}`.
///
/// # Errors
/// A failed fetch or read.
#[wasm_bindgen]
pub async fn run_floor(url: String) -> Result<JsValue, JsValue> {
    let started = now();
    let mut reader = Body::fetch(&url).await?;
    let mut body = 0usize;
    while let Some(chunk) = reader.next_chunk().await? {
        body += chunk.len();
    }
    let result = Object::new();
    Reflect::set(&result, &"body".into(), &(body as f64).into())?;
    Reflect::set(&result, &"ms".into(), &(now() - started).into())?;
    Ok(result.into())
}

#[wasm_bindgen]
extern "C" {
    /// The global `fetch`.
    #[wasm_bindgen(js_name = fetch)]
    fn fetch_with_init(url: &str, init: &Object) -> js_sys::Promise;
}

/// `fetch(url, { cache: "no-store", headers: { Accept: "text/event-stream" } })`, as the
/// JavaScript readers and websse's transport ask: a default fetch may write the body to the
/// HTTP cache as it streams, which costs the floor as much as reading it.
fn fetch_like_js(url: &str) -> Result<js_sys::Promise, JsValue> {
    let init = Object::new();
    let headers = Object::new();
    Reflect::set(&headers, &"Accept".into(), &"text/event-stream".into())?;
    Reflect::set(&init, &"cache".into(), &"no-store".into())?;
    Reflect::set(&init, &"headers".into(), &headers)?;
    Ok(fetch_with_init(url, &init))
}

/// The ceiling for websse's fetch transport: the [`run_floor`] loop with websse-core's parser
/// run over each chunk (`Parser::feed_with`, no delivery layer, nothing queued), each event
/// counted as the readers count it (with `json`, its data deserialized into borrowed types).
/// No reader built on the parser can be faster; resolves to `{events, bytes, content, last,
/// end, ms, allocs}`.
///
/// # Errors
/// A failed fetch or read, a parse error, a stream that ends without `end`.
#[wasm_bindgen]
pub async fn run_parser_only(url: String, json: bool) -> Result<JsValue, JsValue> {
    let allocs_before = allocs();
    let started = now();
    let mut reader = Body::fetch(&url).await?;
    let mut parser = websse_core::Parser::new();
    let mut counts = Counts::default();
    let mut last = String::new();
    let mut failed = None;
    while counts.end.is_none() && failed.is_none() {
        let Some(chunk) = reader.next_chunk().await? else {
            break;
        };
        parser.feed_with(chunk, |item| {
            let event = match item {
                Ok(event) => event,
                Err(e) => return failed = Some(js_err(e)),
            };
            if counts.end.is_some() {
                return;
            }
            if event.event_type() == "end" {
                counts.end = Some(event.data().to_owned());
                return;
            }
            counts.events += 1;
            counts.bytes += event.data().len();
            if json {
                match serde_json::from_str::<CompletionRef<'_>>(event.data()) {
                    Ok(c) => counts.content += c.choices[0].delta.content.len(),
                    Err(e) => failed = Some(js_err(e)),
                }
            }
            last.clear();
            last.push_str(event.data());
        });
    }
    if let Some(e) = failed {
        return Err(e);
    }
    counts.result(started, allocs_before, Some(last))
}

#[wasm_bindgen]
extern "C" {
    /// An EventSource's `MessageEvent`, its `data` read as a `String` in one call (as websse's
    /// EventSource transport reads it).
    #[wasm_bindgen(js_name = MessageEvent)]
    type SseMessage;

    #[wasm_bindgen(method, getter)]
    fn data(this: &SseMessage) -> String;
}

/// The floor for a wasm reader of the native `EventSource`: a Rust listener per event that
/// copies its data into wasm and counts it, nothing queued, no stream, no last event ID; resolves
/// to `{events, bytes, content, last, end, ms, allocs}` at the `end` event.
///
/// # Errors
/// The EventSource cannot be made, or fails before the `end` event.
#[wasm_bindgen]
pub async fn run_eventsource_floor(url: String) -> Result<JsValue, JsValue> {
    use std::cell::RefCell;
    use std::rc::Rc;
    let allocs_before = allocs();
    let started = now();
    let source = web_sys::EventSource::new(&url)?;
    let counts = Rc::new(RefCell::new((Counts::default(), String::new())));
    let (done, ended) = futures::channel::oneshot::channel::<Result<(), JsValue>>();
    let done = Rc::new(RefCell::new(Some(done)));
    let on_message = Closure::<dyn FnMut(SseMessage)>::new({
        let counts = Rc::clone(&counts);
        move |event: SseMessage| {
            let data = event.data();
            let (counts, last) = &mut *counts.borrow_mut();
            counts.events += 1;
            counts.bytes += data.len();
            *last = data;
        }
    });
    let on_end = Closure::<dyn FnMut(SseMessage)>::new({
        let (counts, done) = (Rc::clone(&counts), Rc::clone(&done));
        move |event: SseMessage| {
            counts.borrow_mut().0.end = Some(event.data());
            if let Some(done) = done.borrow_mut().take() {
                let _ = done.send(Ok(()));
            }
        }
    });
    let on_error = Closure::<dyn FnMut(JsValue)>::new(move |_| {
        if let Some(done) = done.borrow_mut().take() {
            let _ = done.send(Err("the EventSource failed before the end event".into()));
        }
    });
    source.add_event_listener_with_callback("message", on_message.as_ref().unchecked_ref())?;
    source.add_event_listener_with_callback("end", on_end.as_ref().unchecked_ref())?;
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    let outcome = ended.await.unwrap_or_else(|_| Err("no end".into()));
    // Closed before the listeners go: nothing calls into a dropped closure.
    source.close();
    source.set_onerror(None);
    drop((on_message, on_end, on_error));
    outcome?;
    let (counts, last) = Rc::try_unwrap(counts)
        .map_err(|_| "listeners still hold the counts")?
        .into_inner();
    counts.result(started, allocs_before, Some(last))
}

/// A bound, not a reader: the [`run_floor`] loop with each event found by the cheapest split
/// there is (at each blank line, its data after `data: `, none of the SSE rules) and counted as
/// the readers count it (with `json`, its data deserialized with serde_json). No reader that
/// finds events at least this carefully and deserializes with serde_json can be faster;
/// resolves to `{events, bytes, content, last, end, ms, allocs}`.
///
/// # Errors
/// A failed fetch or read, a block that is not one `data` line or the `end` event, data that is
/// not UTF-8 or not the JSON expected.
#[wasm_bindgen]
pub async fn run_split_only(url: String, json: bool) -> Result<JsValue, JsValue> {
    let allocs_before = allocs();
    let started = now();
    let mut reader = Body::fetch(&url).await?;
    let mut counts = Counts::default();
    let mut last = String::new();
    // The start of an event cut by the end of a chunk.
    let mut carry: Vec<u8> = Vec::new();
    while counts.end.is_none() {
        let Some(mut input) = reader.next_chunk().await? else {
            break;
        };
        if !carry.is_empty() {
            let end = if carry.last() == Some(&b'\n') && input.first() == Some(&b'\n') {
                carry.pop();
                Some(1)
            } else {
                find_blank(input).map(|at| {
                    carry.extend_from_slice(&input[..at]);
                    at + 2
                })
            };
            let Some(end) = end else {
                carry.extend_from_slice(input);
                continue;
            };
            counts.split_event(&carry, json, &mut last)?;
            carry.clear();
            input = &input[end..];
        }
        while counts.end.is_none()
            && let Some(at) = find_blank(input)
        {
            counts.split_event(&input[..at], json, &mut last)?;
            input = &input[at + 2..];
        }
        carry.extend_from_slice(input);
    }
    counts.result(started, allocs_before, Some(last))
}

/// Where the first blank line of `bytes` starts (the first of two LFs in a row).
fn find_blank(bytes: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = find_lf(&bytes[from..]) {
        let at = from + at;
        if bytes.get(at + 1) == Some(&b'\n') {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// The first LF of `bytes`, 8 bytes at a time.
fn find_lf(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const LF: u64 = u64::from_ne_bytes([b'\n'; 8]);
    let (words, tail) = bytes.as_chunks::<8>();
    for (i, word) in words.iter().enumerate() {
        let x = u64::from_le_bytes(*word) ^ LF;
        let marks = x.wrapping_sub(ONES) & !x & HIGHS;
        if marks != 0 {
            return Some(i * 8 + (marks.trailing_zeros() / 8) as usize);
        }
    }
    tail.iter()
        .position(|&b| b == b'\n')
        .map(|at| words.len() * 8 + at)
}

impl Counts {
    /// Counts the event `block` (its lines, without the blank line), found by [`run_split_only`].
    fn split_event(&mut self, block: &[u8], json: bool, last: &mut String) -> Result<(), JsValue> {
        if let Some(n) = block.strip_prefix(b"event: end\ndata: ") {
            self.end = Some(std::str::from_utf8(n).map_err(js_err)?.to_owned());
            return Ok(());
        }
        let data = block
            .strip_prefix(b"data: ")
            .ok_or("a block that is not one data line")?;
        let data = std::str::from_utf8(data).map_err(js_err)?;
        self.events += 1;
        self.bytes += data.len();
        if json {
            let c: CompletionRef<'_> = serde_json::from_str(data).map_err(js_err)?;
            self.content += c.choices[0].delta.content.len();
        }
        last.clear();
        last.push_str(data);
        Ok(())
    }
}

/// An OpenAI-shaped chunk, borrowed (what `MessageRef::json` can give): a streamed chunk has
/// one choice, so an array of one and not a `Vec` (no allocation).
#[derive(serde::Deserialize)]
struct CompletionRef<'a> {
    #[serde(borrow)]
    choices: [ChoiceRef<'a>; 1],
}

#[derive(serde::Deserialize)]
struct ChoiceRef<'a> {
    #[serde(borrow)]
    delta: DeltaRef<'a>,
}

#[derive(serde::Deserialize)]
struct DeltaRef<'a> {
    content: &'a str,
}

/// As [`run_websse`] over fetch, through the borrowed API: `stream.next_batch()` and
/// `batch.messages()`, JSON deserialized into borrowed types.
///
/// # Errors
/// As [`run_websse`].
#[wasm_bindgen]
pub async fn run_websse_batch(url: String, json: bool) -> Result<JsValue, JsValue> {
    let allocs_before = allocs();
    let started = now();
    let mut stream = open_flood(url)?;
    let mut counts = Counts::default();
    let mut last = String::new();
    while let Some(batch) = stream.next_batch().await {
        if counts.batch(&batch.map_err(js_err)?, json, &mut last)? {
            break;
        }
    }
    drop(stream);
    counts.result(started, allocs_before, Some(last))
}

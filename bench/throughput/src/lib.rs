//! The wasm half of the browser throughput bench: websse's fetch and EventSource transports
//! read a `/test/flood` stream the way an app would (`while let Some(item) = stream.next()`),
//! counting the events and their data bytes until the `end` event.
//!
//! `bench.js` calls [`run_websse`]; the native `EventSource` and eventsource-parser runs are
//! plain JavaScript there, and do the same per event.

use futures::StreamExt;
use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;
use websse::{Item, SseRequest, Transport};

/// Reads the flood at `url` with websse over `transport` (`"fetch"` or `"event-source"`) and
/// resolves to `{events, bytes, last, end, ms}`: the messages before the `end` event, their data
/// bytes, the last one's data, the `end` event's data, and the milliseconds from `open()` to the
/// `end` event.
///
/// # Errors
/// An unknown transport, a stream error, a skipped event, or a stream that ends without `end`.
#[wasm_bindgen]
pub async fn run_websse(url: String, transport: String) -> Result<JsValue, JsValue> {
    let transport = match transport.as_str() {
        "fetch" => Transport::Fetch,
        "event-source" => Transport::EventSource,
        other => return Err(JsValue::from_str(&format!("unknown transport {other:?}"))),
    };
    let performance = web_sys::window()
        .and_then(|w| w.performance())
        .ok_or("no performance clock")?;
    let started = performance.now();
    let mut stream = SseRequest::get(url)
        .transport(transport)
        .events(["end"])
        .open()
        .map_err(|e| JsValue::from_str(&e.to_string()))?;
    let (mut events, mut bytes) = (0u32, 0usize);
    let mut last = None;
    let mut end = None;
    while let Some(item) = stream.next().await {
        match item.map_err(|e| JsValue::from_str(&e.to_string()))? {
            Item::Message(msg) if msg.event_type() == "end" => {
                end = Some(msg.into_data());
                break;
            }
            Item::Message(msg) => {
                events += 1;
                bytes += msg.data().len();
                last = Some(msg);
            }
            Item::Skipped(skipped) => {
                return Err(JsValue::from_str(&format!(
                    "websse skipped events: {skipped:?}"
                )));
            }
            _ => {}
        }
    }
    let ms = performance.now() - started;
    drop(stream);
    let end = end.ok_or("the stream ended without its end event")?;
    let result = Object::new();
    let set = |key: &str, value: JsValue| Reflect::set(&result, &JsValue::from_str(key), &value);
    set("events", events.into())?;
    set("bytes", (bytes as f64).into())?;
    set(
        "last",
        last.map_or(JsValue::NULL, |m| JsValue::from_str(m.data())),
    )?;
    set("end", JsValue::from_str(&end))?;
    set("ms", ms.into())?;
    Ok(result.into())
}

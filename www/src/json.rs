//! JSON through the browser's own `JSON.parse` / `JSON.stringify`.
//!
//! The app reads a few fields of small JSON values (a chat delta's `text`, `done`'s `reason`, the
//! server's example list) and writes one request body. The browser's parser costs the app nothing
//! in size; serde_json with its `Value`, error messages and number formatting cost about 10 kB of
//! gzipped wasm (issue 13). Everything here returns `None` for input that is not what it expects:
//! data from the network never panics.

use wasm_bindgen::JsValue;

/// Parses `text` (`JSON.parse`); `None` for anything that is not JSON.
pub fn parse(text: &str) -> Option<JsValue> {
    js_sys::JSON::parse(text).ok()
}

/// The `key` field of a JSON object; `None` for a missing field, or when `value` is no object.
pub fn field(value: &JsValue, key: &str) -> Option<JsValue> {
    if !value.is_object() {
        return None;
    }
    js_sys::Reflect::get(value, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined())
}

/// The `key` field of a JSON object when it is a string.
pub fn string_field(value: &JsValue, key: &str) -> Option<String> {
    field(value, key)?.as_string()
}

/// The items of a JSON array; `None` when `value` is no array.
pub fn array(value: &JsValue) -> Option<js_sys::Array> {
    js_sys::Array::is_array(value).then(|| js_sys::Array::from(value))
}

/// `value` as JSON text (`JSON.stringify`), for a string: quoted and escaped.
pub fn quote(value: &str) -> String {
    js_sys::JSON::stringify(&JsValue::from_str(value))
        .map(String::from)
        // Stringifying a string cannot fail; an empty string keeps the caller's JSON valid.
        .unwrap_or_else(|_| "\"\"".into())
}

/// `text` if it is a JSON number, written the way JavaScript writes it (`1e3` becomes `1000`);
/// `None` for anything else, and for numbers too large to be finite (`1e999`).
pub fn number(text: &str) -> Option<String> {
    let value = parse(text)?;
    let n = value.as_f64()?;
    if !n.is_finite() {
        return None;
    }
    js_sys::JSON::stringify(&value).ok().map(String::from)
}

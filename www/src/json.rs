//! JSON through the browser's own `JSON.parse`, and the one string the app writes as JSON.
//!
//! The app reads a few fields of small JSON values (a chat delta's `text`, `done`'s `reason`, the
//! server's example list). The browser's parser costs the app nothing in size, where serde_json
//! with its `Value`, error messages and number formatting would cost about 10 kB of gzipped wasm.
//! Everything here returns `None` for input that is not what it expects: data from the network
//! never panics.

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

/// Appends `value` to `out` as a JSON string: quoted, with `"`, `\` and control characters
/// escaped. Plain Rust rather than `JSON.stringify`, so the chat's request is built (and tested)
/// without a browser.
pub fn quote(value: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let b = c as u8;
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xf)]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `text` if it is a JSON number, written the way JavaScript writes it (`1e3` becomes `1000`);
/// `None` for anything else, and for numbers too large to be finite (`1e999`).
///
/// Read by the browser: `str::parse::<f64>` would link core's float parser and its tables, about
/// 10 kB of wasm.
pub fn number(text: &str) -> Option<String> {
    let value = parse(text)?;
    let n = value.as_f64()?;
    if !n.is_finite() {
        return None;
    }
    js_sys::JSON::stringify(&value).ok().map(String::from)
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quote_escapes_what_json_requires() {
        let mut out = String::new();
        quote("say \"hi\"\\\n\t\u{1}é", &mut out);
        assert_eq!(out, r#""say \"hi\"\\\n\t\u0001é""#);
    }
}

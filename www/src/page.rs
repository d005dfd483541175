//! The page's address: query parameters in and out, and the clock for the inspector's log.

/// The page's query parameters in order (repeated names kept), decoded.
pub fn params() -> Vec<(String, String)> {
    let search = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default();
    parse_query(&search)
}

/// Decodes `?a=1&b=x+y` (application/x-www-form-urlencoded) into pairs.
pub fn parse_query(search: &str) -> Vec<(String, String)> {
    search
        .trim_start_matches('?')
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            (decode(key), decode(value))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    js_sys::decode_uri_component(&s)
        .map(String::from)
        .unwrap_or(s)
}

/// Encodes pairs as a query string with a leading `?` (empty for no pairs).
pub fn query_string(params: &[(String, String)]) -> String {
    let mut out = String::new();
    for (key, value) in params {
        out.push(if out.is_empty() { '?' } else { '&' });
        encode_component(key, &mut out);
        out.push('=');
        encode_component(value, &mut out);
    }
    out
}

/// Appends `text` to `out` the way `encodeURIComponent` writes it: ASCII letters, digits and
/// `-_.!~*'()` as they are, every other byte of its UTF-8 as `%XX`. Plain Rust, so the state that
/// builds URLs is tested without a browser.
pub fn encode_component(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
}

/// Resolves `url` against the page's address, as the browser would; `None` if it does not parse.
pub fn resolve(url: &str) -> Option<String> {
    web_sys::Url::new_with_base(url.trim(), &href())
        .ok()
        .map(|url| url.href())
}

/// The page's full address (the base for relative stream URLs).
pub fn href() -> String {
    web_sys::window()
        .and_then(|w| w.location().href().ok())
        .unwrap_or_default()
}

/// Replaces the query string (keeping path and hash) without navigating.
pub fn replace_query(params: &[(String, String)]) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let location = window.location();
    let path = location.pathname().unwrap_or_else(|_| "/".into());
    let hash = location.hash().unwrap_or_default();
    let url = format!("{path}{}{hash}", query_string(params));
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
}

/// Local wall-clock time as `HH:MM:SS.mmm`.
pub fn now() -> String {
    let date = js_sys::Date::new_0();
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        date.get_hours(),
        date.get_minutes(),
        date.get_seconds(),
        date.get_milliseconds()
    )
}

#[cfg(test)]
mod tests {
    use super::{encode_component, query_string};

    #[test]
    fn components_are_encoded_as_encode_uri_component_does() {
        let mut out = String::new();
        encode_component("a b&c=d/é?!'()*~-_.", &mut out);
        assert_eq!(out, "a%20b%26c%3Dd%2F%C3%A9%3F!'()*~-_.");
    }

    #[test]
    fn a_query_string_starts_with_a_question_mark() {
        assert_eq!(query_string(&[]), "");
        let params = [
            ("url".to_owned(), "/a b".to_owned()),
            ("x".to_owned(), String::new()),
        ];
        assert_eq!(query_string(&params), "?url=%2Fa%20b&x=");
    }
}

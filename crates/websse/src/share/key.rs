//! What identifies a shared stream: the key that streams join by, and the fingerprint of the
//! request behind it, which tells two requests apart under one key.

use crate::request::Body;
use crate::{Credentials, Framing, SseRequest};

/// The request's URL resolved against the page (`events` on `/a/` and on `/b/` are two
/// streams); as given where there is no page (natively, or a URL that does not parse).
pub(crate) fn resolved_url(url: &str) -> String {
    #[cfg(target_arch = "wasm32")]
    {
        use wasm_bindgen::JsValue;
        let base = js_sys::Reflect::get(&js_sys::global(), &"location".into())
            .ok()
            .filter(JsValue::is_object)
            .and_then(|location| js_sys::Reflect::get(&location, &"href".into()).ok())
            .and_then(|href| href.as_string());
        if let Some(url) = base.and_then(|base| web_sys::Url::new_with_base(url, &base).ok()) {
            return url.href();
        }
    }
    url.to_owned()
}

/// A hash of everything that changes what the server sends or who may share it: transport,
/// method, resolved URL, credentials, fixed headers, body, framing, event types, starting id,
/// and whether it is shared across tabs. FNV-1a, so that a large body does not end up in a
/// channel name. Computed headers (`headers_with`) are code and cannot be compared.
pub(crate) fn fingerprint(request: &SseRequest, url: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes.iter().chain([0xff].iter()) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(request.transport.feature().as_bytes());
    eat(request.method.to_ascii_uppercase().as_bytes());
    eat(url.as_bytes());
    eat(match request.credentials {
        None => b"default",
        Some(Credentials::Omit) => b"omit",
        Some(Credentials::SameOrigin) => b"same-origin",
        Some(Credentials::Include) => b"include",
    });
    match &request.body {
        Some(Body::Text(text)) => eat(text.as_bytes()),
        Some(Body::Bytes(bytes)) => eat(bytes),
        None => eat(b""),
    }
    for (name, value) in &request.headers {
        eat(name.to_ascii_lowercase().as_bytes());
        eat(value.as_bytes());
    }
    for event in &request.events {
        eat(event.as_bytes());
    }
    eat(request.last_event_id.as_bytes());
    eat(framing_name(request.framing).as_bytes());
    eat(if request.across_tabs { b"tabs" } else { b"tab" });
    format!("{hash:016x}")
}

fn framing_name(framing: Framing) -> &'static str {
    match framing {
        Framing::Sse => "sse",
        Framing::Ndjson => "ndjson",
        Framing::Raw => "raw",
    }
}

/// The default share key: readable, and unique per fingerprint.
pub(crate) fn derived_key(request: &SseRequest, url: &str, fingerprint: &str) -> String {
    format!(
        "{} {} {url} {} {fingerprint}",
        request.transport.feature(),
        request.method.to_ascii_uppercase(),
        framing_name(request.framing),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(request: SseRequest) -> String {
        let url = resolved_url(&request.url);
        derived_key(&request, &url, &fingerprint(&request, &url))
    }

    #[test]
    fn derived_keys_tell_requests_apart() {
        let base = key(SseRequest::get("/a"));
        assert_eq!(base, key(SseRequest::get("/a")));
        for other in [
            SseRequest::get("/b"),
            SseRequest::post("/a"),
            SseRequest::get("/a").header("x-user", "1"),
            SseRequest::get("/a").events(["tick"]),
            SseRequest::get("/a").credentials(Credentials::Include),
            SseRequest::get("/a").credentials(Credentials::Omit),
            SseRequest::get("/a").across_tabs(true),
            SseRequest::get("/a").last_event_id("3"),
            SseRequest::get("/a").transport(crate::Transport::EventSource),
        ] {
            assert_ne!(base, key(other.clone()), "{other:?}");
        }
        assert_ne!(
            key(SseRequest::post("/a").body_text("1")),
            key(SseRequest::post("/a").body_text("2"))
        );
    }

    #[test]
    fn what_does_not_change_the_stream_does_not_change_the_key() {
        let base = key(SseRequest::get("/a"));
        assert_eq!(base, key(SseRequest::get("/a").max_buffered(10)));
        assert_eq!(base, key(SseRequest::get("/a").share_key("k")));
        assert_eq!(base, key(SseRequest::new("get", "/a")));
    }
}

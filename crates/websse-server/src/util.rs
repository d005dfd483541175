//! Small helpers shared by the modules: ids, clock formatting, shutdown, stream headers.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use tokio::sync::watch;

/// A fresh, hard-to-guess stream id: 16 lowercase hex digits.
pub(crate) fn new_stream_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    format!("{:016x}", hasher.finish())
}

/// Milliseconds since the Unix epoch.
pub(crate) fn epoch_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

/// `2026-11-21T18:30:05.123Z` for the given epoch milliseconds (UTC, proleptic Gregorian).
pub(crate) fn format_utc(millis: u64) -> String {
    let secs = millis / 1000;
    let ms = millis % 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or_default();
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil-from-days (Howard Hinnant's algorithm), days counted from 1970-01-01.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{ms:03}Z")
}

/// Resolves once the shutdown channel turns `true`; never, without a channel.
pub(crate) async fn shutdown_signal(rx: Option<watch::Receiver<bool>>) {
    if let Some(mut rx) = rx
        && rx.wait_for(|down| *down).await.is_ok()
    {
        return;
    }
    std::future::pending::<()>().await;
}

/// Whether shutdown has already begun.
pub(crate) fn is_shutting_down(rx: Option<&watch::Receiver<bool>>) -> bool {
    rx.is_some_and(|rx| *rx.borrow())
}

/// A `text/event-stream` response with `body` and the headers of [`stream_headers`].
pub(crate) fn event_stream(body: axum::body::Body) -> axum::response::Response {
    let mut response = axum::response::Response::new(body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    stream_headers(response.headers_mut());
    response
}

/// The headers every event stream of ours carries besides the content type.
pub(crate) fn stream_headers(headers: &mut HeaderMap) {
    // `no-transform`: a proxy must not compress or otherwise rewrite the stream, which would
    // hold events back until a block fills.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-transform"),
    );
    headers.insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
}

/// The `Last-Event-ID` request header as text, if present and valid UTF-8.
pub(crate) fn last_event_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}

/// Resolves once a stop was requested through the store or the server shuts down.
pub(crate) async fn stop_signal(
    mut stop: tokio::sync::watch::Receiver<bool>,
    shutdown: Option<tokio::sync::watch::Receiver<bool>>,
) {
    let requested = async move {
        if stop.wait_for(|s| *s).await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = requested => {}
        () = shutdown_signal(shutdown) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_utc_known_dates() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(format_utc(1_795_285_805_123), "2026-11-21T18:30:05.123Z");
    }

    #[test]
    fn stream_ids_are_distinct_hex() {
        let a = new_stream_id();
        let b = new_stream_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    }
}

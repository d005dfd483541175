//! The response rules: what a status means, which content type opens a stream, and how long a
//! `Retry-After` header asks to wait.

use std::time::Duration;

/// What a response status means for an event stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusClass {
    /// 200: the stream opens (if the content type is right).
    Open,
    /// 204: the server wants the client to stop; end cleanly, no reconnect.
    NoContent,
    /// 408, 429, 5xx: transient; the reconnect policy decides.
    Retry,
    /// Anything else (other 4xx, 1xx, other 2xx, 3xx that fetch did not follow): fatal.
    Fatal,
}

/// Classifies a response status. The spec's EventSource fails on anything but 200; websse adds
/// 204 as a clean end (what EventSource servers send to stop a client) and retries the statuses
/// that say "try again later".
pub(crate) fn classify_status(status: u16) -> StatusClass {
    match status {
        200 => StatusClass::Open,
        204 => StatusClass::NoContent,
        408 | 429 | 500..=599 => StatusClass::Retry,
        _ => StatusClass::Fatal,
    }
}

/// Whether a `Content-Type` value is `text/event-stream`, ignoring parameters and case (the
/// spec's EventSource checks the MIME type essence).
pub(crate) fn is_event_stream(content_type: &str) -> bool {
    // Bytes, not `str::split`: no char searcher linked for this (smaller code).
    let bytes = content_type.as_bytes();
    let essence = match bytes.iter().position(|&b| b == b';') {
        Some(end) => &bytes[..end],
        None => bytes,
    };
    essence
        .trim_ascii()
        .eq_ignore_ascii_case(b"text/event-stream")
}

/// Parses a `Retry-After` value: delta-seconds, or an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37
/// GMT`) compared with `now_unix_ms`. A date in the past means "now" (zero). Anything else: `None`.
///
/// Whole milliseconds in integers: no float-to-`Duration` conversion and no Unicode trimming
/// linked for a header that is rarely sent (smaller code).
pub(crate) fn parse_retry_after(value: &str, now_unix_ms: f64) -> Option<Duration> {
    let value = value.as_bytes().trim_ascii();
    if let Some(seconds) = digits(value) {
        return Some(Duration::from_secs(seconds));
    }
    // In floating point, exact for these magnitudes: no overflow checks. A date in the past
    // waits zero (so does a NaN clock); `as` saturates.
    let at_ms = parse_imf_fixdate(value.try_into().ok()?)? * 1000.0;
    Some(Duration::from_millis((at_ms - now_unix_ms).max(0.0) as u64))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` -> seconds since the Unix epoch (a float, exact here).
///
/// IMF-fixdate is fixed-width (RFC 9110, section 5.6.7: `day-name "," SP 2DIGIT SP month SP
/// 4DIGIT SP 2DIGIT ":" 2DIGIT ":" 2DIGIT SP "GMT"`), so each part is read at its offset in a
/// 29-byte array: constant indexes, no bounds checks or splitting iterators linked for a header
/// that is rarely sent (smaller code). The day name is not checked (it is redundant with
/// the date).
fn parse_imf_fixdate(value: &[u8; 29]) -> Option<f64> {
    // `.` stands for any byte, `0` for an ASCII digit; the rest must match as is.
    const SHAPE: &[u8; 29] = b"..., 00 ... 0000 00:00:00 GMT";
    const MONTHS: [[u8; 3]; 12] = [
        *b"Jan", *b"Feb", *b"Mar", *b"Apr", *b"May", *b"Jun", *b"Jul", *b"Aug", *b"Sep", *b"Oct",
        *b"Nov", *b"Dec",
    ];
    for (&b, &shape) in value.iter().zip(SHAPE) {
        let fits = match shape {
            b'.' => true,
            b'0' => b.is_ascii_digit(),
            _ => b == shape,
        };
        if !fits {
            return None;
        }
    }
    // Digits only (checked above): no overflow in four of them.
    let number = |digits: &[u8]| {
        digits
            .iter()
            .fold(0i32, |n, &d| n * 10 + i32::from(d - b'0'))
    };
    let month = MONTHS
        .iter()
        .position(|name| *name == [value[8], value[9], value[10]])?;
    let (day, year) = (number(&value[5..7]), number(&value[12..16]));
    let (h, m, s) = (
        number(&value[17..19]),
        number(&value[20..22]),
        number(&value[23..25]),
    );
    if !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some(
        f64::from(days_from_civil(year, month as i32 + 1, day)) * 86_400.0
            + f64::from(h * 3600 + m * 60 + s),
    )
}

/// A non-empty run of ASCII digits as a number (saturating at `u64::MAX`); anything else: `None`.
fn digits(text: &[u8]) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    text.iter().try_fold(0u64, |n, &b| {
        // `saturating_mul` would check for overflow with a 128-bit multiply in wasm; below this
        // bound `n * 10` cannot overflow, and above it the result saturates anyway.
        let tens = if n > u64::MAX / 10 { u64::MAX } else { n * 10 };
        b.is_ascii_digit()
            .then(|| tens.saturating_add(u64::from(b - b'0')))
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date, for the four-digit years of an
/// IMF-fixdate (Howard Hinnant's algorithm with the year moved on by one 400-year cycle of
/// 146,097 days, so that every division is of a non-negative number: no `div_euclid`).
fn days_from_civil(y: i32, m: i32, d: i32) -> i32 {
    // The year from March, so that the leap day is the last day of it.
    let (y, mp) = if m <= 2 {
        (y + 399, m + 9)
    } else {
        (y + 400, m - 3)
    };
    let doy = (153 * mp + 2) / 5 + d - 1;
    y * 365 + y / 4 - y / 100 + y / 400 + doy - 719_468 - 146_097
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn status_200_opens_204_ends() {
        assert_eq!(classify_status(200), StatusClass::Open);
        assert_eq!(classify_status(204), StatusClass::NoContent);
    }

    #[test]
    fn status_5xx_408_429_retry() {
        for s in [500, 502, 503, 504, 599, 408, 429] {
            assert_eq!(classify_status(s), StatusClass::Retry, "{s}");
        }
    }

    #[test]
    fn status_other_4xx_and_odd_2xx_are_fatal() {
        for s in [400, 401, 403, 404, 410, 201, 206, 301, 304, 100] {
            assert_eq!(classify_status(s), StatusClass::Fatal, "{s}");
        }
    }

    #[test]
    fn content_type_parameters_and_case_are_ignored() {
        assert!(is_event_stream("text/event-stream"));
        assert!(is_event_stream("text/event-stream; charset=utf-8"));
        assert!(is_event_stream("Text/Event-Stream ;charset=utf-8"));
        assert!(!is_event_stream("text/html"));
        assert!(!is_event_stream("text/event-streams"));
        assert!(!is_event_stream(""));
    }

    #[test]
    fn retry_after_delta_seconds() {
        assert_eq!(parse_retry_after("3", 0.0), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 ", 0.0), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("-1", 0.0), None);
        assert_eq!(parse_retry_after("1.5", 0.0), None);
        assert_eq!(parse_retry_after("", 0.0), None);
    }

    #[test]
    fn retry_after_http_date() {
        // 1994-11-06T08:49:37Z = 784111777
        let now = 784_111_777_000.0 - 5_000.0;
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now + 60_000.0),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 UTC", now),
            None
        );
        assert_eq!(parse_retry_after("tomorrow", now), None);
        // Fixed width, as RFC 9110 writes it: a one-digit day is not an IMF-fixdate.
        assert_eq!(parse_retry_after("Sun, 6 Nov 1994 08:49:37 GMT", now), None);
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT ", now),
            Some(Duration::from_secs(5)),
            "surrounding whitespace is trimmed"
        );
        // IMF-fixdate's year is four digits: a huge one is not a date (and cannot overflow).
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 99999999999999999999 08:49:37 GMT", now),
            None
        );
    }

    #[test]
    fn retry_after_digits_saturate_and_reject_the_rest() {
        assert_eq!(digits(b"0042"), Some(42));
        assert_eq!(digits(b"99999999999999999999999"), Some(u64::MAX));
        // Exact up to the last representable value, saturating just past it.
        assert_eq!(digits(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(digits(b"18446744073709551614"), Some(u64::MAX - 1));
        assert_eq!(digits(b"18446744073709551616"), Some(u64::MAX));
        assert_eq!(digits(b"+1"), None);
        assert_eq!(digits(b"1 "), None);
        assert_eq!(digits(b""), None);
        assert_eq!(
            parse_retry_after("99999999999999999999999", 0.0),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        // The ends of a four-digit year (year 0000 in January counts from year -1).
        assert_eq!(days_from_civil(0, 1, 1), -719_528);
        assert_eq!(days_from_civil(0, 3, 1), -719_468);
        assert_eq!(days_from_civil(9999, 12, 31), 2_932_896);
        // Day by day across leap years and centuries: each date is the day after the one before.
        let mut expected = days_from_civil(1899, 12, 31);
        for y in 1900..=2100 {
            let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
            for (m, len) in [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ]
            .into_iter()
            .enumerate()
            {
                for d in 1..=len {
                    expected += 1;
                    assert_eq!(days_from_civil(y, m as i32 + 1, d), expected, "{y}-{m}-{d}");
                }
            }
        }
    }
}

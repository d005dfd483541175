//! One test per rule of the WHATWG "parse an event stream" / "interpret an event stream" steps.
//! Every input is checked whole and at every split point (see `common::check_with`).

mod common;

use std::time::Duration;

use common::{assert_data, assert_events, check, check_with, run_on};
use websse_core::{Error, Parser};

#[test]
fn bom_is_stripped_once_at_body_start() {
    assert_data(b"\xEF\xBB\xBFdata: a\n\n", &["a"]);
    // A second BOM is content: it makes the field name "\u{FEFF}data", an unknown field.
    assert_data(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\ndata: b\n\n", &["b"]);
}

#[test]
fn bom_only_at_start_of_body_not_of_event() {
    assert_data(
        b"data: a\n\n\xEF\xBB\xBFdata: b\n\ndata: c\n\n",
        &["a", "c"],
    );
}

#[test]
fn bom_is_stripped_again_after_finish() {
    let mut parser = Parser::new();
    let first = run_on(&mut parser, [&b"\xEF\xBB\xBFdata: a\n\n"[..]]);
    let second = run_on(&mut parser, [&b"\xEF\xBB"[..], b"\xBFdata: b\n\n"]);
    assert_eq!(first.events(), common::evs(&[("message", "a", "")]));
    assert_eq!(second.events(), common::evs(&[("message", "b", "")]));
}

#[test]
fn partial_bom_is_content_decoded_as_replacement() {
    // EF BB then 'd': not a BOM; the WHATWG decoder turns EF BB into one U+FFFD, so the field
    // name is "\u{FFFD}data", unknown, and nothing is dispatched.
    assert_data(b"\xEF\xBBdata: a\n\ndata: b\n\n", &["b"]);
    assert_data(b"\xEF\xBB", &[]);
}

#[test]
fn lf_cr_and_crlf_end_lines_mixed() {
    assert_data(
        b"data: a\ndata: b\rdata: c\r\n\ndata: d\r\rdata: e\r\n\r\n",
        &["a\nb\nc", "d", "e"],
    );
}

#[test]
fn lone_cr_blank_line_dispatches_without_waiting() {
    let mut parser = Parser::new();
    let got: Vec<_> = parser.feed(b"data: a\r\r").collect();
    assert_eq!(got.len(), 1, "the event must be out before the next byte");
    // An LF that then follows is part of the CRLF, not another blank line.
    assert_eq!(parser.feed(b"\ndata: b\n\n").count(), 1);
}

#[test]
fn crlf_split_across_chunks_is_one_line_end() {
    let mut parser = Parser::new();
    let out = run_on(
        &mut parser,
        [&b"data: a\r"[..], b"\ndata: b\r", b"\n\r", b"\n"],
    );
    assert_eq!(out.events(), common::evs(&[("message", "a\nb", "")]));
}

#[test]
fn comment_lines_are_ignored_and_reported() {
    let out = assert_data(b": hello\ndata: a\n:\n:: x\n\n:tail\n\n", &["a"]);
    assert_eq!(out.comments, [" hello", "", ": x", "tail"]);
}

#[test]
fn comments_not_reported_by_plain_feed() {
    let mut parser = Parser::new();
    let events: Vec<_> = parser.feed(b": ping\n\ndata: a\n\n").collect();
    assert_eq!(events.len(), 1);
}

#[test]
fn field_value_split_at_first_colon() {
    assert_events(b"event: a:b\ndata: c:d: e\n\n", &[("a:b", "c:d: e", "")]);
}

#[test]
fn exactly_one_leading_space_removed() {
    assert_data(
        b"data:a\n\ndata: a\n\ndata:  a\n\ndata:\ta\n\n",
        &["a", "a", " a", "\ta"],
    );
}

#[test]
fn line_without_colon_is_field_with_empty_value() {
    assert_data(b"data\n\ndata\ndata\n\n", &["", "\n"]);
}

#[test]
fn field_names_are_case_sensitive() {
    assert_data(b"Data: a\nDATA: b\ndata: c\n\n", &["c"]);
    assert_events(b"Event: x\nID: 1\ndata: c\n\n", &[("message", "c", "")]);
}

#[test]
fn data_lines_joined_with_lf_and_one_trailing_lf_removed() {
    assert_data(b"data: a\ndata: b\ndata:\n\n", &["a\nb\n"]);
    assert_data(b"data:\ndata:\n\n", &["\n"]);
}

#[test]
fn block_without_data_dispatches_nothing() {
    let out = assert_data(b"event: x\nid: 5\n\n:c\n\n\n\n", &[]);
    // ... but its id still becomes the last event id.
    assert_eq!(out.last_event_id, "5");
}

#[test]
fn block_without_data_resets_event_type() {
    assert_events(b"event: x\n\ndata: a\n\n", &[("message", "a", "")]);
}

#[test]
fn event_type_defaults_to_message_and_resets() {
    assert_events(
        b"event: a\ndata: 1\n\ndata: 2\n\nevent:\ndata: 3\n\nevent: b\nevent: c\ndata: 4\n\n",
        &[
            ("a", "1", ""),
            ("message", "2", ""),
            ("message", "3", ""),
            ("c", "4", ""),
        ],
    );
}

#[test]
fn id_with_nul_is_ignored() {
    let out = assert_events(
        b"id: 1\ndata: a\n\nid: 2\x00\ndata: b\n\n",
        &[("message", "a", "1"), ("message", "b", "1")],
    );
    assert_eq!(out.last_event_id, "1");
}

#[test]
fn empty_id_resets_last_event_id() {
    let out = assert_events(
        b"id: 1\ndata: a\n\nid\ndata: b\n\nid: 2\n\nid:\ndata: c\n\n",
        &[
            ("message", "a", "1"),
            ("message", "b", ""),
            ("message", "c", ""),
        ],
    );
    assert_eq!(out.last_event_id, "");
}

#[test]
fn last_event_id_persists_across_events() {
    assert_events(
        b"id: x\ndata: 1\n\ndata: 2\n\n",
        &[("message", "1", "x"), ("message", "2", "x")],
    );
}

#[test]
fn last_event_id_persists_across_bodies() {
    let mut parser = Parser::new();
    run_on(&mut parser, [&b"id: 7\ndata: a\n\n"[..]]);
    assert_eq!(parser.last_event_id(), "7");
    let out = run_on(&mut parser, [&b"data: b\n\n"[..]]);
    assert_eq!(out.events(), common::evs(&[("message", "b", "7")]));
}

#[test]
fn id_of_unterminated_block_is_discarded_by_finish() {
    let out = check(b"id: 1\ndata: a\n\nid: 2\ndata: b\n");
    assert_eq!(out.last_event_id, "1");
}

#[test]
fn set_last_event_id_resumes() {
    let mut parser = Parser::new();
    parser.set_last_event_id("41");
    let out = run_on(&mut parser, [&b"data: a\n\n"[..]]);
    assert_eq!(out.events(), common::evs(&[("message", "a", "41")]));
}

#[test]
fn retry_only_all_ascii_digits() {
    assert_eq!(
        check(b"retry: 1500\n").retry,
        Some(Duration::from_millis(1500))
    );
    assert_eq!(check(b"retry: 0\n").retry, Some(Duration::ZERO));
    assert_eq!(check(b"retry:007\n").retry, Some(Duration::from_millis(7)));
    for bogus in [
        &b"retry: 10abc\n"[..],
        b"retry: -1\n",
        b"retry: 1.5\n",
        b"retry:  10\n",
        b"retry: 10 \n",
        b"retry:\n",
        b"retry\n",
        b"retry: \xD9\xA3\n",
    ] {
        assert_eq!(check(bogus).retry, None, "{bogus:?}");
    }
    // A bogus value leaves the previous one in place.
    assert_eq!(
        check(b"retry: 5\nretry: x\n").retry,
        Some(Duration::from_millis(5))
    );
}

#[test]
fn retry_overflow_saturates() {
    assert_eq!(
        check(b"retry: 99999999999999999999999999\n").retry,
        Some(Duration::from_millis(u64::MAX))
    );
    // At the edge: u64::MAX is 18446744073709551615.
    for (value, millis) in [
        ("18446744073709551614", u64::MAX - 1),
        ("18446744073709551615", u64::MAX),
        ("18446744073709551616", u64::MAX),
        ("18446744073709551620", u64::MAX),
        ("184467440737095516150", u64::MAX),
        ("1844674407370955161", u64::MAX / 10),
    ] {
        let line = format!("retry: {value}\n");
        assert_eq!(
            check(line.as_bytes()).retry,
            Some(Duration::from_millis(millis)),
            "{value}"
        );
    }
}

#[test]
fn retry_applies_even_in_unterminated_block_and_survives_finish() {
    let mut parser = Parser::new();
    run_on(&mut parser, [&b"data: a\nretry: 20\n"[..]]);
    assert_eq!(parser.retry(), Some(Duration::from_millis(20)));
    run_on(&mut parser, [&b"data: b\n\n"[..]]);
    assert_eq!(parser.retry(), Some(Duration::from_millis(20)));
}

#[test]
fn unknown_fields_are_ignored() {
    assert_data(b"foo: bar\ndata: a\nx\n: y\n\n", &["a"]);
}

#[test]
fn unterminated_final_block_is_discarded() {
    assert_data(b"data: a\n\ndata: b\n", &["a"]);
    assert_data(b"data: a\n\ndata: b", &["a"]);
    assert_data(b"data: a\n\ndata: b\r", &["a"]);
}

#[test]
fn finish_discards_partial_state_before_next_body() {
    let mut parser = Parser::new();
    let first = run_on(&mut parser, [&b"event: x\ndata: a\nda"[..]]);
    assert!(first.items.is_empty());
    let second = run_on(&mut parser, [&b"ta: b\n\n"[..]]);
    // "ta: b" is an unknown field of the new body; nothing of the old event survives.
    assert!(second.items.is_empty());
    let third = run_on(&mut parser, [&b"data: c\n\n"[..]]);
    assert_eq!(third.events(), common::evs(&[("message", "c", "")]));
}

#[test]
fn cr_at_end_of_body_does_not_swallow_lf_of_next_body() {
    let mut parser = Parser::new();
    run_on(&mut parser, [&b"data: a\r"[..]]);
    // The LF starts the new body: a blank line there dispatches nothing, then "data: b".
    let out = run_on(&mut parser, [&b"\ndata: b\n\n"[..]]);
    assert_eq!(out.events(), common::evs(&[("message", "b", "")]));
}

#[test]
fn invalid_utf8_decodes_like_whatwg() {
    // Expected values follow the WHATWG UTF-8 decoder (maximal subparts -> one U+FFFD each).
    let cases: &[(&[u8], &str)] = &[
        (b"\xFF", "\u{FFFD}"),
        (b"\xC0\x80", "\u{FFFD}\u{FFFD}"),
        (b"\xE2\x82", "\u{FFFD}"),
        (b"\xE2\x82A", "\u{FFFD}A"),
        (b"\xF0\x9F\x98", "\u{FFFD}"),
        (b"\xED\xA0\x80", "\u{FFFD}\u{FFFD}\u{FFFD}"),
        (b"\xF4\x90\x80\x80", "\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}"),
        (b"a\x80b", "a\u{FFFD}b"),
        (b"\xF0\x9F\x98\x80", "\u{1F600}"),
        (b"\xE2\x82\xAC", "\u{20AC}"),
    ];
    for (bytes, expected) in cases {
        let mut input = b"data: ".to_vec();
        input.extend_from_slice(bytes);
        input.extend_from_slice(b"\ndata: ");
        input.extend_from_slice(bytes);
        input.extend_from_slice(b"\n\n");
        let both = format!("{expected}\n{expected}");
        assert_data(&input, &[&both]);
        // Per line, the same as std's lossy decoding, which implements the same algorithm.
        assert_eq!(String::from_utf8_lossy(bytes), *expected);
    }
}

#[test]
fn truncated_multibyte_before_line_end_is_one_replacement() {
    assert_data(b"data: \xE2\x82\ndata: \xAC\n\n", &["\u{FFFD}\n\u{FFFD}"]);
}

#[test]
fn invalid_utf8_in_event_type_and_id() {
    assert_events(
        b"event: \xFFx\nid: \xC3\ndata: a\n\n",
        &[("\u{FFFD}x", "a", "\u{FFFD}")],
    );
}

#[test]
fn empty_chunks_yield_nothing() {
    let mut parser = Parser::new();
    assert_eq!(parser.feed(b"").count(), 0);
    assert_eq!(parser.feed(b"data: a\n").count(), 0);
    assert_eq!(parser.feed(b"").count(), 0);
    assert_eq!(parser.feed(b"\n").count(), 1);
}

#[test]
fn dropped_feed_keeps_remaining_events() {
    let mut parser = Parser::new();
    let mut feed = parser.feed(b"data: 1\n\ndata: 2\n\ndata: 3\n\n");
    assert_eq!(feed.next().unwrap().unwrap().data(), "1");
    drop(feed);
    let rest: Vec<_> = parser
        .feed(b"data: 4\n\n")
        .map(|e| e.unwrap().into_data())
        .collect();
    assert_eq!(rest, ["2", "3", "4"]);
}

#[test]
fn limit_error_then_parsing_resumes() {
    let make = || Parser::with_max_event_size(Some(16));
    let input =
        b"data: small\n\nid: 9\ndata: 0123456789abcdef\ndata: more\nid: 10\n\ndata: after\n\n";
    let out = check_with(make, input);
    assert_eq!(
        out.items,
        vec![
            Ok(("message".into(), "small".into(), "".into())),
            Err(Error::EventTooLarge { limit: 16 }),
            // The id before the overflow is committed by the discarded event's blank line; the
            // lines after the overflow (id: 10) are skipped.
            Ok(("message".into(), "after".into(), "9".into())),
        ]
    );
}

#[test]
fn limit_counts_data_buffer_plus_current_line() {
    // "data: 12345" is 11 bytes; the data buffer then holds "12345" (5), and "data: 6" (7) makes 12.
    let out = check_with(
        || Parser::with_max_event_size(Some(12)),
        b"data: 12345\ndata: 6\n\n",
    );
    assert_eq!(out.events(), common::evs(&[("message", "12345\n6", "")]));
    let out = check_with(
        || Parser::with_max_event_size(Some(11)),
        b"data: 12345\ndata: 6\n\n",
    );
    assert_eq!(out.items, vec![Err(Error::EventTooLarge { limit: 11 })]);
}

#[test]
fn limit_error_for_unterminated_huge_line_once() {
    let mut input = b"data: ".to_vec();
    input.extend(std::iter::repeat_n(b'x', 1000));
    let out = check_with(|| Parser::with_max_event_size(Some(100)), &input);
    assert_eq!(out.items, vec![Err(Error::EventTooLarge { limit: 100 })]);
}

#[test]
fn limit_error_comes_with_the_chunk_that_crosses_it() {
    // Memory stays bounded only if the overflow is caught as it happens, not at the line's end:
    // the error must come out of the very chunk that takes the event past the limit, for every
    // chunk size (small ones take the fast path for long `data` values).
    let mut input = b"data: ".to_vec();
    input.extend(std::iter::repeat_n(b'x', 400));
    for size in 1..=80 {
        let mut parser = Parser::with_max_event_size(Some(100));
        let mut errors = Vec::new();
        for (index, chunk) in input.chunks(size).enumerate() {
            for item in parser.feed(chunk) {
                assert_eq!(item, Err(Error::EventTooLarge { limit: 100 }));
                errors.push(index);
            }
        }
        // Byte 101 of the line (index 100) is the first one over the limit.
        assert_eq!(errors, [100 / size], "chunk size {size}");
    }
}

#[test]
fn limit_applies_to_long_comment_and_unknown_lines_alike() {
    let input = b": 0123456789012345678901234\n\nfoo: 0123456789012345678901234\n\ndata: ok\n\n";
    let out = check_with(|| Parser::with_max_event_size(Some(20)), input);
    assert_eq!(
        out.items,
        vec![
            Err(Error::EventTooLarge { limit: 20 }),
            Err(Error::EventTooLarge { limit: 20 }),
            Ok(("message".into(), "ok".into(), "".into())),
        ]
    );
}

#[test]
fn no_limit_allows_large_events() {
    let mut input = b"data: ".to_vec();
    input.extend(std::iter::repeat_n(b'y', 200_000));
    input.extend_from_slice(b"\n\n");
    let mut parser = Parser::with_max_event_size(None);
    let out = run_on(&mut parser, input.chunks(777));
    assert_eq!(out.events()[0].1.len(), 200_000);
    assert_eq!(
        Parser::new().max_event_size(),
        Some(websse_core::DEFAULT_MAX_EVENT_SIZE)
    );
}

#[test]
fn error_is_small_copy_and_displays() {
    let error = Error::EventTooLarge { limit: 5 };
    let copy = error;
    assert_eq!(copy, error);
    assert!(std::mem::size_of::<Error>() <= 16);
    assert_eq!(
        error.to_string(),
        "server-sent event larger than the maximum of 5 bytes"
    );
    let _: &dyn std::error::Error = &error;
}

#[test]
fn event_types_short_long_and_explicit_message() {
    let long = "t".repeat(100);
    let input = format!(
        "event: {long}\ndata: 1\n\nevent: {long}\ndata: 2\n\nevent: message\ndata: 3\n\nevent: short\ndata: 4\n\nevent: \u{20AC}\u{20AC}\u{20AC}\u{20AC}\u{20AC}\u{20AC}\u{20AC}\u{20AC}\ndata: 5\n\n"
    );
    let mut input = input.into_bytes();
    // 22 invalid bytes: the decoded name (22 x U+FFFD) is longer than the bytes were.
    input.extend_from_slice(b"event: ");
    input.extend_from_slice(&[0xFF; 22]);
    input.extend_from_slice(b"\ndata: 6\n\n");
    let euros = "\u{20AC}".repeat(8);
    let bad = "\u{FFFD}".repeat(22);
    assert_events(
        &input,
        &[
            (&long, "1", ""),
            (&long, "2", ""),
            ("message", "3", ""),
            ("short", "4", ""),
            (&euros, "5", ""),
            (&bad, "6", ""),
        ],
    );
}

#[test]
fn parsed_event_equals_constructed_and_debugs_as_text() {
    let mut parser = Parser::new();
    let events: Vec<_> = parser
        .feed(b"event: short\nid: 1\ndata: d\n\ndata: m\n\n")
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        events,
        [
            websse_core::Event::new("short", "d", "1"),
            websse_core::Event::new("message", "m", "1")
        ]
    );
    assert_eq!(
        format!("{:?}", events[0]),
        r#"Event { event_type: "short", data: "d", last_event_id: "1" }"#
    );
}

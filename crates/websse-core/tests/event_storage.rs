//! How an event stores its parts: the data and the last event ID share one allocation (the ID
//! right after the data), a short event type is inline, a long one shared, and the parser reuses
//! the type of the previous event and trades its ID buffers. None of it may show: every test here
//! checks what the public API returns, at every split point where the input is parsed.

mod common;

use common::{assert_events, check, evs, run_on};
use websse_core::{Event, Parser};

/// The longest event type stored inline (`event.rs`); one more byte is shared.
const INLINE_TYPE: usize = 22;

#[test]
fn event_new_keeps_data_and_id_apart() {
    for (data, id) in [
        ("", ""),
        ("a", ""),
        ("", "a"),
        ("ab", "c"),
        ("a", "bc"),
        ("h\u{e9}llo\n\u{1F600}", "\u{1F600}:7"),
    ] {
        let event = Event::new("t", data, id);
        assert_eq!(
            (event.event_type(), event.data(), event.last_event_id()),
            ("t", data, id)
        );
        assert_eq!(event.clone().into_data(), data);
    }
}

#[test]
fn events_equal_only_when_data_and_id_are_equal() {
    // The same bytes in one buffer, split at a different place: different events.
    assert_ne!(Event::new("m", "ab", "c"), Event::new("m", "a", "bc"));
    assert_eq!(Event::new("m", "ab", "c"), Event::new("m", "ab", "c"));
    assert_ne!(Event::new("m", "ab", "c"), Event::new("n", "ab", "c"));
}

#[test]
fn debug_shows_the_parts() {
    let shown = format!("{:?}", Event::new("delta", "hi", "7"));
    assert_eq!(
        shown,
        r#"Event { event_type: "delta", data: "hi", last_event_id: "7" }"#
    );
}

#[test]
fn into_data_leaves_the_id_out() {
    let mut parser = Parser::new();
    let events: Vec<Event> = parser
        .feed(b"id: 1234567890\ndata: abc\n\n")
        .map(|item| item.expect("small"))
        .collect();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].last_event_id(), "1234567890");
    assert_eq!(events[0].clone().into_data(), "abc");
}

#[test]
fn ids_change_every_event() {
    assert_events(
        b"id: a:0\ndata: x\n\nid: a:1\ndata: y\n\nid: a:22\ndata: z\n\n",
        &[
            ("message", "x", "a:0"),
            ("message", "y", "a:1"),
            ("message", "z", "a:22"),
        ],
    );
}

#[test]
fn ids_of_every_length_around_the_old_inline_sizes() {
    // Lengths on both sides of 8, 16, 22/23 and 32 bytes, and a long one; each id then a
    // shorter one, so a reused buffer must not keep a longer id's tail.
    for len in [1, 7, 8, 9, 15, 16, 17, 21, 22, 23, 24, 31, 32, 33, 300] {
        let long = "i".repeat(len);
        let input = format!("id: {long}\ndata: a\n\nid: s\ndata: b\n\ndata: c\n\n");
        let out = assert_events(
            input.as_bytes(),
            &[
                ("message", "a", &long),
                ("message", "b", "s"),
                ("message", "c", "s"),
            ],
        );
        assert_eq!(out.last_event_id, "s");
    }
}

#[test]
fn id_reset_between_events_with_ids() {
    let out = assert_events(
        b"id: 1\ndata: a\n\nid:\ndata: b\n\nid: 22\ndata: c\n\nid\ndata: d\n\n",
        &[
            ("message", "a", "1"),
            ("message", "b", ""),
            ("message", "c", "22"),
            ("message", "d", ""),
        ],
    );
    assert_eq!(out.last_event_id, "");
}

#[test]
fn id_without_data_is_kept_for_later_events() {
    // A block with an id and no data dispatches nothing but sets the last event ID.
    let out = assert_events(
        b"id: 1\ndata: a\n\nid: 2\n\nid: 3\nid: 4\n\ndata: b\n\n",
        &[("message", "a", "1"), ("message", "b", "4")],
    );
    assert_eq!(out.last_event_id, "4");
}

#[test]
fn id_with_multibyte_and_invalid_utf8() {
    assert_events(
        "id: \u{e9}\u{1F600}\ndata: a\n\n".as_bytes(),
        &[("message", "a", "\u{e9}\u{1F600}")],
    );
    assert_events(
        b"id: a\xFFb\ndata: \xC3\n\n",
        &[("message", "\u{FFFD}", "a\u{FFFD}b")],
    );
}

#[test]
fn set_last_event_id_then_ids_from_the_stream() {
    let mut parser = Parser::new();
    parser.set_last_event_id("resume:41");
    let out = run_on(
        &mut parser,
        [&b"data: a\n\nid: resume:42\ndata: b\n\ndata: c\n\n"[..]],
    );
    assert_eq!(
        out.events(),
        evs(&[
            ("message", "a", "resume:41"),
            ("message", "b", "resume:42"),
            ("message", "c", "resume:42"),
        ])
    );
    assert_eq!(parser.last_event_id(), "resume:42");
}

#[test]
fn large_data_with_an_id() {
    // Past the size where the data buffer is handed over instead of copied (64 KiB), with an id
    // appended to it, then a small event that must not see the large one's bytes.
    for len in [64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 200_000] {
        let data = "d".repeat(len);
        let input = format!("id: big:{len}\ndata: {data}\n\ndata: small\n\n");
        let mut parser = Parser::new();
        let out = run_on(&mut parser, input.as_bytes().chunks(1460));
        let id = format!("big:{len}");
        assert_eq!(
            out.events(),
            evs(&[("message", &data, &id), ("message", "small", &id)])
        );
    }
}

#[test]
fn event_types_at_the_inline_boundary() {
    for len in [
        1,
        7,
        8,
        9,
        16,
        17,
        INLINE_TYPE - 1,
        INLINE_TYPE,
        INLINE_TYPE + 1,
        100,
    ] {
        let name = "t".repeat(len);
        let input = format!("event: {name}\ndata: a\n\nevent: {name}\ndata: b\n\ndata: c\n\n");
        assert_events(
            input.as_bytes(),
            &[(&name, "a", ""), (&name, "b", ""), ("message", "c", "")],
        );
    }
    // A multi-byte character that ends right at, or crosses, the inline size.
    for name in [
        format!("{}\u{e9}", "t".repeat(INLINE_TYPE - 2)),
        format!("{}\u{e9}", "t".repeat(INLINE_TYPE - 1)),
    ] {
        let input = format!("event: {name}\ndata: a\n\n");
        assert_events(input.as_bytes(), &[(&name, "a", "")]);
    }
}

#[test]
fn alternating_and_repeated_types_are_not_mixed_up() {
    let long_a = "a".repeat(40);
    let long_b = "b".repeat(40);
    let input = format!(
        "event: x\ndata: 1\n\nevent: y\ndata: 2\n\nevent: x\ndata: 3\n\n\
         event: {long_a}\ndata: 4\n\nevent: {long_b}\ndata: 5\n\nevent: {long_a}\ndata: 6\n\n\
         event: message\ndata: 7\n\nevent: x\ndata: 8\n\nevent: xy\ndata: 9\n\n"
    );
    assert_events(
        input.as_bytes(),
        &[
            ("x", "1", ""),
            ("y", "2", ""),
            ("x", "3", ""),
            (&long_a, "4", ""),
            (&long_b, "5", ""),
            (&long_a, "6", ""),
            ("message", "7", ""),
            ("x", "8", ""),
            ("xy", "9", ""),
        ],
    );
}

#[test]
fn invalid_type_bytes_never_match_a_previous_valid_type() {
    // "\u{FFFD}" is what the invalid byte decodes to; the next event's raw bytes are the
    // UTF-8 of U+FFFD itself, a different input with the same decoded name.
    let out =
        check(b"event: \xFF\ndata: a\n\nevent: \xEF\xBF\xBD\ndata: b\n\nevent: \xFF\ndata: c\n\n");
    assert_eq!(
        out.events(),
        evs(&[
            ("\u{FFFD}", "a", ""),
            ("\u{FFFD}", "b", ""),
            ("\u{FFFD}", "c", "")
        ])
    );
}

#[test]
fn one_data_line_and_its_blank_line_in_one_chunk() {
    // The parser's shortcut for the most common event end; each input also runs at every split
    // point, where the shortcut does not apply, and must give the same events.
    assert_events(
        b"data:x\n\ndata: y\n\ndata:\n\ndata:  z\n\ndata\n\n",
        &[
            ("message", "x", ""),
            ("message", "y", ""),
            ("message", "", ""),
            ("message", " z", ""),
            ("message", "", ""),
        ],
    );
    assert_events(
        b"event: e\nid: 1\ndata: a\n\ndata: b\ndata: c\n\ndata: d\r\n\r\ndata: e\n\r\n",
        &[
            ("e", "a", "1"),
            ("message", "b\nc", "1"),
            ("message", "d", "1"),
            ("message", "e", "1"),
        ],
    );
    // Too large for the limit: the shortcut must not dispatch it.
    let mut parser = Parser::with_max_event_size(Some(8));
    let items: Vec<_> = parser
        .feed(b"data: 123456789\n\ndata: ok\n\n")
        .map(|item| item.map(|event| event.into_data()))
        .collect();
    assert_eq!(
        items,
        [
            Err(websse_core::Error::EventTooLarge { limit: 8 }),
            Ok("ok".to_owned())
        ]
    );
}

#[test]
fn types_of_one_length_that_differ_in_one_byte() {
    // The parser compares a block's type with the previous event's 8 bytes at a time, then the
    // tail: a difference in either part must show.
    let names = [
        "abcdefghij",
        "abcdefghik",
        "abcdefgXij",
        "Xbcdefghij",
        "abcdefghij",
        "abcdefghijklmnop",
        "abcdefghijklmnoq",
        "abcdefghijklmnoq",
    ];
    let mut input = String::new();
    for (i, name) in names.iter().enumerate() {
        input.push_str(&format!("event: {name}\ndata: {i}\n\n"));
    }
    let data: Vec<String> = (0..names.len()).map(|i| i.to_string()).collect();
    let expected: Vec<(&str, &str, &str)> = names
        .iter()
        .zip(&data)
        .map(|(name, data)| (*name, data.as_str(), ""))
        .collect();
    assert_events(input.as_bytes(), &expected);
}

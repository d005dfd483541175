//! The borrowed API, `Parser::feed_with`: the same items as `feed` at every split point of the
//! tricky cases, data borrowed from the chunk when a whole event is in it, and the data buffer reused
//! (not reallocated) from event to event.

mod common;

use common::{Outcome, chunkings, evs, run_borrowed, run_plain};
use websse_core::{Error, Event, EventRef, Parser};

/// `input` in every chunking, through `feed_with` and `feed` on parsers made by `make`: the same
/// outcome each time. Returns it.
fn same_as_owned(make: impl Fn() -> Parser, input: &[u8]) -> Outcome {
    let whole = run_plain(&mut make(), [input]);
    for chunks in chunkings(input) {
        let owned = run_plain(&mut make(), chunks.iter().copied());
        let borrowed = run_borrowed(&mut make(), chunks.iter().copied());
        assert_eq!(borrowed, owned, "chunking {chunks:?}");
        assert_eq!(borrowed, whole, "chunking {chunks:?}");
    }
    whole
}

fn assert_borrowed(input: &[u8], expected: &[(&str, &str, &str)]) -> Outcome {
    let outcome = same_as_owned(Parser::new, input);
    let expected: Vec<Result<_, Error>> = evs(expected).into_iter().map(Ok).collect();
    assert_eq!(outcome.items, expected);
    outcome
}

#[test]
fn data_across_chunks_and_lines() {
    assert_borrowed(
        b"data: first\ndata:  second\r\ndata\rdata: \xF0\x9F\x98\x80\n\n",
        &[("message", "first\n second\n\n\u{1F600}", "")],
    );
}

#[test]
fn crlf_split_across_chunks_is_one_line_end() {
    assert_borrowed(
        b"data: a\r\n\r\ndata: b\r\r\n",
        &[("message", "a", ""), ("message", "b", "")],
    );
}

#[test]
fn bom_stripped_once_at_body_start() {
    assert_borrowed(
        b"\xEF\xBB\xBFdata: a\n\n\xEF\xBB\xBFdata: b\n\n",
        &[("message", "a", "")],
    );
    assert_borrowed(b"\xEF\xBBdata: a\n\n", &[]);
}

#[test]
fn id_set_kept_and_reset() {
    let outcome = assert_borrowed(
        b"id: 7\ndata: a\n\ndata: b\n\nid\ndata: c\n\nid: x\0y\ndata: d\n\nid: 9\n\n",
        &[
            ("message", "a", "7"),
            ("message", "b", "7"),
            ("message", "c", ""),
            ("message", "d", ""),
        ],
    );
    assert_eq!(outcome.last_event_id, "9");
}

#[test]
fn event_type_set_and_reset() {
    assert_borrowed(
        b"event: delta\ndata: a\n\ndata: b\n\nevent: x\n\ndata: c\n\nevent: \xFFz\ndata: d\n\n",
        &[
            ("delta", "a", ""),
            ("message", "b", ""),
            ("message", "c", ""),
            ("\u{FFFD}z", "d", ""),
        ],
    );
}

#[test]
fn repeated_event_types_decode_like_owned() {
    // `feed_with` reuses the text of the previous event type while the bytes are the same: a
    // repeat, a change, invalid bytes (never reused: their text differs from their bytes), the
    // UTF-8 of U+FFFD right after them, and a name longer than the inline limit of owned events.
    let long = "content_block_delta_with_a_long_name";
    let input = format!(
        "event: a\ndata: 1\n\nevent: a\ndata: 2\n\nevent: b\ndata: 3\n\nevent: a\ndata: 4\n\n\
         event: \u{FFFD}\ndata: 5\n\nevent: {long}\ndata: 6\n\nevent: {long}\ndata: 7\n\n"
    )
    .into_bytes();
    let input = [
        &input[..],
        b"event: \xFF\ndata: 8\n\nevent: \xEF\xBF\xBD\ndata: 9\n\nevent: \xFF\ndata: 10\n\n",
    ]
    .concat();
    assert_borrowed(
        &input,
        &[
            ("a", "1", ""),
            ("a", "2", ""),
            ("b", "3", ""),
            ("a", "4", ""),
            ("\u{FFFD}", "5", ""),
            (long, "6", ""),
            (long, "7", ""),
            ("\u{FFFD}", "8", ""),
            ("\u{FFFD}", "9", ""),
            ("\u{FFFD}", "10", ""),
        ],
    );
}

#[test]
fn retry_and_comments() {
    let outcome = assert_borrowed(
        b": ping\nretry: 1500\n:\ndata: a\n: inside\n\nretry: 1x\n\n",
        &[("message", "a", "")],
    );
    assert_eq!(outcome.retry, Some(std::time::Duration::from_millis(1500)));
}

#[test]
fn invalid_utf8_data_decodes_like_owned() {
    assert_borrowed(
        b"data: a\xC3\n\ndata: \xE2\x82\ndata: b\n\n",
        &[("message", "a\u{FFFD}", ""), ("message", "\u{FFFD}\nb", "")],
    );
}

#[test]
fn events_at_the_size_limit() {
    // The size counted is the data buffer plus the line being read: `data: abcd` is 10 bytes;
    // `data: ab` then `data: c` is 2 bytes of data plus a 7-byte line, 9; `data: abcdefgh` 14.
    // Each event at, just under and just over its size.
    for limit in 6..16 {
        let outcome = same_as_owned(
            || Parser::with_max_event_size(Some(limit)),
            b"data: abcd\n\ndata: ab\ndata: c\n\nid: 5\ndata: abcdefgh\n\ndata: x\n\n",
        );
        let too_large = || Err(Error::EventTooLarge { limit });
        let event = |data: &str, id: &str| Ok((String::from("message"), data.into(), id.into()));
        let expected = vec![
            if limit >= 10 {
                event("abcd", "")
            } else {
                too_large()
            },
            if limit >= 9 {
                event("ab\nc", "")
            } else {
                too_large()
            },
            if limit >= 14 {
                event("abcdefgh", "5")
            } else {
                too_large()
            },
            // The blank line of a discarded event still commits its id.
            if limit >= 7 {
                event("x", "5")
            } else {
                too_large()
            },
        ];
        assert_eq!(outcome.items, expected, "limit {limit}");
    }
}

#[test]
fn runs_of_data_only_events() {
    // Data-only events back to back are read in one loop after the first of them; each line
    // below ends that loop in another way, and the run after it must start again correctly.
    assert_borrowed(
        b"data: a\n\ndata:b\n\ndata:  c\n\ndata:\n\ndata: \n\n\
          data: d\r\ndata: e\n\ndata: f\n\r\ndata: g\ndata: h\n\n\
          data: i\n\nid: 5\ndata: j\n\ndata: k\n\nevent: x\ndata: l\n\ndata: m\n\n\
          data: n\n\n: note\ndata: o\n\nretry: 9\ndata: p\n\ndata\n\ndata: q\n\n\
          data: r\n\ndatum: s\n\ndata: t\n\ndata: u\n\rdata: v\n\n",
        &[
            ("message", "a", ""),
            ("message", "b", ""),
            ("message", " c", ""),
            ("message", "", ""),
            ("message", "", ""),
            ("message", "d\ne", ""),
            ("message", "f", ""),
            ("message", "g\nh", ""),
            ("message", "i", ""),
            ("message", "j", "5"),
            ("message", "k", "5"),
            ("x", "l", "5"),
            ("message", "m", "5"),
            ("message", "n", "5"),
            ("message", "o", "5"),
            ("message", "p", "5"),
            ("message", "", "5"),
            ("message", "q", "5"),
            ("message", "r", "5"),
            ("message", "t", "5"),
            ("message", "u", "5"),
            ("message", "v", "5"),
        ],
    );
}

#[test]
fn runs_of_data_only_events_with_text_that_is_not_utf8() {
    // The run validates the text ahead of it once; an invalid byte or a character cut by the end
    // of the chunk stops it there, and the events after it are still read.
    assert_borrowed(
        b"data: a\n\ndata: \xFF\n\ndata: b\n\ndata: \xC3\xA9\n\ndata: c\xE2\x82\n\ndata: d\n\n",
        &[
            ("message", "a", ""),
            ("message", "\u{FFFD}", ""),
            ("message", "b", ""),
            ("message", "\u{E9}", ""),
            ("message", "c\u{FFFD}", ""),
            ("message", "d", ""),
        ],
    );
}

#[test]
fn runs_of_data_only_events_at_the_size_limit() {
    // `data: abc` is 9 bytes, `data: abcdef` 12: in a run, each at, under and over the limit.
    for limit in 6..14 {
        let outcome = same_as_owned(
            || Parser::with_max_event_size(Some(limit)),
            b"data: a\n\ndata: abc\n\ndata: abcdef\n\ndata: b\n\n",
        );
        let too_large = || Err(Error::EventTooLarge { limit });
        let event = |data: &str| Ok((String::from("message"), data.into(), String::new()));
        let expected = vec![
            if limit >= 7 { event("a") } else { too_large() },
            if limit >= 9 {
                event("abc")
            } else {
                too_large()
            },
            if limit >= 12 {
                event("abcdef")
            } else {
                too_large()
            },
            if limit >= 7 { event("b") } else { too_large() },
        ];
        assert_eq!(outcome.items, expected, "limit {limit}");
    }
}

#[test]
fn items_left_by_an_undrained_feed_come_first() {
    let mut parser = Parser::new();
    let mut feed = parser.feed(b"data: a\n\ndata: b\n\n");
    assert_eq!(
        feed.next().map(|item| item.map(Event::into_data)),
        Some(Ok("a".into()))
    );
    drop(feed);
    let mut seen = Vec::new();
    parser.feed_with(b"data: c\n\n", |item| {
        seen.push(item.map(|event| event.to_event()));
    });
    assert_eq!(
        seen,
        [
            Ok(Event::new("message", "b", "")),
            Ok(Event::new("message", "c", ""))
        ]
    );
}

#[test]
fn to_event_equals_the_owned_event() {
    let input = b"event: a-rather-long-event-type-name\nid: 1\ndata: x\n\nevent: t\ndata: y\n\n";
    let owned: Vec<Event> = Parser::new().feed(input).map(Result::unwrap).collect();
    let mut borrowed = Vec::new();
    Parser::new().feed_with(input, |item| borrowed.push(item.unwrap().to_event()));
    assert_eq!(borrowed, owned);
    for event in &owned {
        assert_eq!(Event::from(EventRef::from(event)), *event);
    }
}

#[test]
fn whole_event_in_the_chunk_is_borrowed_from_it() {
    let chunk = b"data: hello\n\n";
    let mut parser = Parser::new();
    let mut calls = 0;
    parser.feed_with(chunk, |item| {
        let data = item.unwrap().data();
        assert_eq!(data, "hello");
        assert!(chunk.as_ptr_range().contains(&data.as_ptr()));
        calls += 1;
    });
    assert_eq!(calls, 1);
}

#[test]
fn buffered_data_reuses_one_buffer() {
    // Events whose data goes through the parser's buffer (several lines, or split across
    // chunks): once the buffer has grown, every event's data is at the same address, so the
    // buffer was cleared and reused, not reallocated.
    let mut parser = Parser::new();
    let mut addresses = Vec::new();
    for i in 0..100 {
        let chunk = format!("data: one\ndata: two {i:03}\n\ndata: spl");
        for chunk in [chunk.as_bytes(), b"it\n\n"] {
            parser.feed_with(chunk, |item| addresses.push(item.unwrap().data().as_ptr()));
        }
    }
    assert_eq!(addresses.len(), 200);
    assert!(addresses[2..].iter().all(|&at| at == addresses[2]));
}

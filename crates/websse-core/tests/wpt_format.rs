//! Ports of the web-platform-tests `eventsource/format-*` cases, written from the spec: each
//! sends a body to an `EventSource` and checks what arrives. Here the body goes to the parser in
//! every chunking (see `common::check`), and `finish()` stands for the end of the response.

mod common;

use std::time::Duration;

use common::{assert_data, assert_events, run_on};
use websse_core::Parser;

#[test]
fn format_bom() {
    // One BOM at the start is stripped; a BOM in the middle is part of a field name.
    assert_data(
        b"\xEF\xBB\xBFdata:1\n\n\xEF\xBB\xBFdata:2\n\ndata:3\n\n",
        &["1", "3"],
    );
}

#[test]
fn format_bom_2() {
    // Only one of two leading BOMs is stripped.
    assert_data(
        b"\xEF\xBB\xBF\xEF\xBB\xBFdata:1\n\ndata:2\n\ndata:3\n\n",
        &["2", "3"],
    );
}

#[test]
fn format_comments() {
    let long = ":".to_owned() + &"x".repeat(2049);
    let body =
        format!("data:1\r:\0\n:\r\ndata:2\n:{long}\rdata:3\n:data:fail\r:{long}\ndata:4\n\n");
    assert_data(body.as_bytes(), &["1\n2\n3\n4"]);
}

#[test]
fn format_data_before_final_empty_line() {
    let out = assert_data(b"retry:1000\ndata:test1\n\nid:test\ndata:test2", &["test1"]);
    assert_eq!(out.retry, Some(Duration::from_millis(1000)));
}

#[test]
fn format_field_data() {
    assert_data(b"data:\n\ndata\ndata\n\ndata:test\n\n", &["", "\n", "test"]);
}

#[test]
fn format_field_event() {
    assert_events(
        b"event:test\ndata:x\n\ndata:x\n\n",
        &[("test", "x", ""), ("message", "x", "")],
    );
}

#[test]
fn format_field_event_empty() {
    assert_events(b"event: \ndata:data\n\n", &[("message", "data", "")]);
}

#[test]
fn format_field_id() {
    // The id is what a reconnection sends as Last-Event-ID.
    let mut parser = Parser::new();
    let first = run_on(&mut parser, [&b"id: 1\ndata: 1\n\n"[..]]);
    assert_eq!(first.events(), common::evs(&[("message", "1", "1")]));
    assert_eq!(parser.last_event_id(), "1");
    let second = run_on(&mut parser, [&b"data: 2\n\n"[..]]);
    assert_eq!(second.events(), common::evs(&[("message", "2", "1")]));
}

#[test]
fn format_field_id_2() {
    // A later id replaces an earlier one; "id" without colon resets it.
    let out = assert_events(
        b"id:1\ndata:a\n\nid:2\ndata:b\n\nid\ndata:c\n\n",
        &[
            ("message", "a", "1"),
            ("message", "b", "2"),
            ("message", "c", ""),
        ],
    );
    assert_eq!(out.last_event_id, "");
}

#[test]
fn format_field_id_3() {
    // An id in a block without data still sets the last event id.
    let out = assert_events(b"id: x\n\ndata: a\n\n", &[("message", "a", "x")]);
    assert_eq!(out.last_event_id, "x");
}

#[test]
fn format_field_id_null() {
    let out = assert_events(
        b"id: 1\ndata: a\n\nid: a\x00bc\ndata: b\n\n",
        &[("message", "a", "1"), ("message", "b", "1")],
    );
    assert_eq!(out.last_event_id, "1");
}

#[test]
fn format_field_parsing() {
    assert_data(
        b"data:\0\ndata:  2\rData:1\ndata\0:2\ndata:1\r\0data:4\nda-ta:3\rdata_5\ndata:3\rdata:\r\n data:32\ndata:4\n\n",
        &["\0\n 2\n1\n3\n\n4"],
    );
}

#[test]
fn format_field_retry() {
    let out = assert_data(b"retry:03000\ndata:x\n\n", &["x"]);
    assert_eq!(out.retry, Some(Duration::from_millis(3000)));
}

#[test]
fn format_field_retry_bogus() {
    let out = assert_data(b"retry:3000\nretry:1000x\ndata:x\n\n", &["x"]);
    assert_eq!(out.retry, Some(Duration::from_millis(3000)));
}

#[test]
fn format_field_retry_empty() {
    let out = assert_data(b"retry\ndata:test\n\n", &["test"]);
    assert_eq!(out.retry, None);
}

#[test]
fn format_field_unknown() {
    assert_data(
        b"data:test\n data\ndata\nfoobar:xxx\njustsometext\n:thisisacommentyay\ndata:test\n\n",
        &["test\n\ntest"],
    );
}

#[test]
fn format_leading_space() {
    assert_data(b"data:\ttest\rdata: \ndata:test\n\n", &["\ttest\n\ntest"]);
}

#[test]
fn format_newlines() {
    assert_data(b"data:test\r\ndata\ndata:test\r\n\r\n", &["test\n\ntest"]);
}

#[test]
fn format_null_character() {
    assert_data(b"data:\0\n\n\n\n", &["\0"]);
}

#[test]
fn format_utf_8() {
    assert_data(
        "data:ok\u{2026}\u{1F600}\n\n".as_bytes(),
        &["ok\u{2026}\u{1F600}"],
    );
}

//! Shared helpers: run a parser over a chunking and compare every chunking with the whole input.
#![allow(dead_code)]

use std::time::Duration;

use websse_core::{Error, Event, Parser};

/// An event as a plain tuple: (type, data, last event id).
pub type Ev = (String, String, String);

/// Everything observable after feeding a body and finishing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub items: Vec<Result<Ev, Error>>,
    pub comments: Vec<String>,
    pub retry: Option<Duration>,
    pub last_event_id: String,
}

impl Outcome {
    pub fn events(&self) -> Vec<Ev> {
        self.items
            .iter()
            .filter_map(|item| item.clone().ok())
            .collect()
    }
}

/// Feeds `chunks` to `parser` (with a comment callback), then `finish`es the body.
pub fn run_on<'c>(parser: &mut Parser, chunks: impl IntoIterator<Item = &'c [u8]>) -> Outcome {
    run(parser, chunks, true)
}

/// Like [`run_on`], through plain `feed` (comments are not observed).
pub fn run_plain<'c>(parser: &mut Parser, chunks: impl IntoIterator<Item = &'c [u8]>) -> Outcome {
    run(parser, chunks, false)
}

fn run<'c>(
    parser: &mut Parser,
    chunks: impl IntoIterator<Item = &'c [u8]>,
    observe_comments: bool,
) -> Outcome {
    fn ev(event: Event) -> Ev {
        (
            event.event_type().to_owned(),
            event.data().to_owned(),
            event.last_event_id().to_owned(),
        )
    }
    let mut items = Vec::new();
    let mut comments = Vec::new();
    for chunk in chunks {
        if observe_comments {
            let feed = parser.feed_with_comments(chunk, |c| comments.push(c.to_owned()));
            items.extend(feed.map(|item| item.map(ev)));
        } else {
            items.extend(parser.feed(chunk).map(|item| item.map(ev)));
        }
    }
    parser.finish();
    Outcome {
        items,
        comments,
        retry: parser.retry(),
        last_event_id: parser.last_event_id().to_owned(),
    }
}

/// Like [`run_plain`], through the borrowed API, `feed_with` (comments are not observed).
pub fn run_borrowed<'c>(
    parser: &mut Parser,
    chunks: impl IntoIterator<Item = &'c [u8]>,
) -> Outcome {
    let mut items = Vec::new();
    for chunk in chunks {
        parser.feed_with(chunk, |item| {
            items.push(item.map(|event| {
                (
                    event.event_type().to_owned(),
                    event.data().to_owned(),
                    event.last_event_id().to_owned(),
                )
            }));
        });
    }
    parser.finish();
    Outcome {
        items,
        comments: Vec::new(),
        retry: parser.retry(),
        last_event_id: parser.last_event_id().to_owned(),
    }
}

/// Every chunking the tests try: whole, split at every point, at every pair of points (short
/// inputs), one byte at a time, and one byte at a time with empty chunks in between.
pub fn chunkings(input: &[u8]) -> Vec<Vec<&[u8]>> {
    let mut all = vec![vec![input]];
    for i in 0..=input.len() {
        all.push(vec![&input[..i], &input[i..]]);
    }
    if input.len() <= 48 {
        for i in 0..=input.len() {
            for j in i..=input.len() {
                all.push(vec![&input[..i], &input[i..j], &input[j..]]);
            }
        }
    }
    all.push(input.chunks(1).collect());
    let mut with_empty = vec![&input[..0]];
    for byte in input.chunks(1) {
        with_empty.push(byte);
        with_empty.push(&input[..0]);
    }
    all.push(with_empty);
    all
}

/// Runs `input` in every chunking through parsers made by `make`; asserts they all agree with
/// the whole input, and returns that outcome.
pub fn check_with(make: impl Fn() -> Parser, input: &[u8]) -> Outcome {
    let whole = run_on(&mut make(), [input]);
    for chunks in chunkings(input) {
        let got = run_on(&mut make(), chunks.iter().copied());
        assert_eq!(
            got, whole,
            "chunking {chunks:?} of {input:?} differs from whole"
        );
    }
    whole
}

/// `check_with` a default parser.
pub fn check(input: &[u8]) -> Outcome {
    check_with(Parser::new, input)
}

/// Builds an expected event list from `(type, data, id)` string slices.
pub fn evs(list: &[(&str, &str, &str)]) -> Vec<Ev> {
    list.iter()
        .map(|(t, d, i)| ((*t).to_owned(), (*d).to_owned(), (*i).to_owned()))
        .collect()
}

/// Asserts that `input`, in every chunking, yields exactly `expected` events (no errors).
pub fn assert_events(input: &[u8], expected: &[(&str, &str, &str)]) -> Outcome {
    let outcome = check(input);
    let expected: Vec<Result<Ev, Error>> = evs(expected).into_iter().map(Ok).collect();
    assert_eq!(
        outcome.items,
        expected,
        "events of {:?}",
        String::from_utf8_lossy(input)
    );
    outcome
}

/// Just the data of `input`'s events (all of type `message`, no id).
pub fn assert_data(input: &[u8], data: &[&str]) -> Outcome {
    let expected: Vec<(&str, &str, &str)> = data.iter().map(|d| ("message", *d, "")).collect();
    assert_events(input, &expected)
}

//! Differential target: the input fed whole and fed in chunks (sizes taken from the input's
//! first bytes, including empty chunks) must give the same items, retry and last event id, over
//! two bodies; the borrowed API (`feed_with`) on the same chunks must give the same items too;
//! and nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use websse_core::{Error, Parser};

type Item = Result<(String, String, String), Error>;

fn run<'a>(
    parser: &mut Parser,
    chunks: impl Iterator<Item = &'a [u8]>,
) -> (Vec<Item>, Vec<String>) {
    let mut items = Vec::new();
    let mut comments = Vec::new();
    for chunk in chunks {
        for item in parser.feed_with_comments(chunk, |c| comments.push(c.to_owned())) {
            items.push(item.map(|e| {
                (
                    e.event_type().to_owned(),
                    e.data().to_owned(),
                    e.last_event_id().to_owned(),
                )
            }));
        }
    }
    parser.finish();
    (items, comments)
}

/// Like [`run`], through `feed_with` (comments are not observed).
fn run_borrowed<'a>(parser: &mut Parser, chunks: impl Iterator<Item = &'a [u8]>) -> Vec<Item> {
    let mut items = Vec::new();
    for chunk in chunks {
        parser.feed_with(chunk, |item| {
            items.push(item.map(|e| {
                (
                    e.event_type().to_owned(),
                    e.data().to_owned(),
                    e.last_event_id().to_owned(),
                )
            }));
        });
    }
    parser.finish();
    items
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    // Byte 0: the limit (0 = none, else 1..=255 bytes); bytes 1..3: chunking seed; rest: the body.
    let limit = (data[0] != 0).then_some(usize::from(data[0]));
    let mut seed = u16::from_le_bytes([data[1], data[2]]) as u32 | 1;
    let body = &data[3..];
    let half = body.len() / 2;
    let (first, second) = body.split_at(half);

    let mut whole = Parser::with_max_event_size(limit);
    let a = run(&mut whole, std::iter::once(first));
    let b = run(&mut whole, std::iter::once(second));

    let mut chunks = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let size = (seed % 9) as usize; // 0..=8, 0 makes an empty chunk
        let size = size.min(rest.len());
        chunks.push(&rest[..size]);
        rest = &rest[size..];
    }
    // Re-split the chunk list at the body boundary.
    let mut chunked = Parser::with_max_event_size(limit);
    let mut at = 0;
    let (mut one, mut two) = (Vec::new(), Vec::new());
    for chunk in chunks {
        let start = at;
        at += chunk.len();
        if at <= half {
            one.push(chunk);
        } else if start >= half {
            two.push(chunk);
        } else {
            one.push(&chunk[..half - start]);
            two.push(&chunk[half - start..]);
        }
    }
    let mut borrowed = Parser::with_max_event_size(limit);
    let e = run_borrowed(&mut borrowed, one.iter().copied());
    let f = run_borrowed(&mut borrowed, two.iter().copied());
    let c = run(&mut chunked, one.into_iter());
    let d = run(&mut chunked, two.into_iter());
    assert_eq!(a.0, e);
    assert_eq!(b.0, f);
    assert_eq!(whole.retry(), borrowed.retry());
    assert_eq!(whole.last_event_id(), borrowed.last_event_id());
    assert_eq!(a, c);
    assert_eq!(b, d);
    assert_eq!(whole.retry(), chunked.retry());
    assert_eq!(whole.last_event_id(), chunked.last_event_id());
});

//! Property: any chunking of any byte stream gives the same items, retry and last event id as
//! feeding it whole.

mod common;

use common::{run_borrowed, run_on, run_plain};
use proptest::prelude::*;
use websse_core::Parser;

/// Lines that exercise every rule, joined by random line ends.
fn line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"".to_vec()),
        Just(b"data".to_vec()),
        Just(b"data:".to_vec()),
        Just(b"event".to_vec()),
        Just(b"id".to_vec()),
        Just(b"retry".to_vec()),
        Just(b":".to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        Just(b"id: a\x00b".to_vec()),
        (
            prop::sample::select(vec![
                &b"data"[..],
                b"event",
                b"id",
                b"retry",
                b"",
                b"Data",
                b"x"
            ]),
            prop::sample::select(vec![&b":"[..], b": ", b":  ", b""]),
            // Mostly short values; some long enough to span several 16-byte blocks, so that
            // small chunks take the parser's fast path for long `data` values.
            prop_oneof![3 => Just(0..12usize), 1 => Just(12..80usize)].prop_flat_map(|len| {
                prop::collection::vec(
                    prop_oneof![
                        4 => b'a'..=b'z',
                        2 => b'0'..=b'9',
                        1 => Just(b':'),
                        1 => Just(b' '),
                        1 => Just(0u8),
                        1 => 0x80u8..=0xFF,
                    ],
                    len,
                )
            }),
        )
            .prop_map(|(name, sep, value)| [name, sep, &value].concat()),
    ]
}

fn stream() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::bool::ANY,
        prop::collection::vec(
            (
                line(),
                prop::sample::select(vec![&b"\n"[..], b"\r", b"\r\n"]),
            ),
            0..24,
        ),
        prop::bool::ANY,
    )
        .prop_map(|(bom, lines, terminated)| {
            let mut out = Vec::new();
            if bom {
                out.extend_from_slice(b"\xEF\xBB\xBF");
            }
            for (i, (line, end)) in lines.iter().enumerate() {
                out.extend_from_slice(line);
                if terminated || i + 1 < lines.len() {
                    out.extend_from_slice(end);
                }
            }
            out
        })
}

/// Split points (sorted, may repeat: repeats make empty chunks).
fn split(input: &[u8], mut cuts: Vec<usize>) -> Vec<&[u8]> {
    cuts.iter_mut().for_each(|c| *c %= input.len() + 1);
    cuts.sort_unstable();
    let mut chunks = Vec::new();
    let mut at = 0;
    for cut in cuts {
        chunks.push(&input[at..cut]);
        at = cut;
    }
    chunks.push(&input[at..]);
    chunks
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_chunking_equals_whole(
        input in stream(),
        cuts in prop::collection::vec(any::<usize>(), 0..16),
        limit in prop::option::of(0usize..120),
    ) {
        let make = || Parser::with_max_event_size(limit);
        let whole = run_on(&mut make(), [&input[..]]);
        let chunked = run_on(&mut make(), split(&input, cuts));
        prop_assert_eq!(&chunked, &whole);
        let bytewise = run_on(&mut make(), input.chunks(1));
        prop_assert_eq!(&bytewise, &whole);
    }

    #[test]
    fn equal_small_chunks_equal_whole(
        input in stream(),
        size in 1usize..70,
        limit in prop::option::of(0usize..120),
    ) {
        // Chunks of one size around the fast path's block (16 B) and threshold (64 B), through
        // both `feed` and `feed_with_comments`.
        let make = || Parser::with_max_event_size(limit);
        let whole = run_on(&mut make(), [&input[..]]);
        let chunked = run_on(&mut make(), input.chunks(size));
        prop_assert_eq!(&chunked, &whole);
        let plain = run_plain(&mut make(), input.chunks(size));
        prop_assert_eq!(&plain.items, &whole.items);
        prop_assert_eq!(plain.retry, whole.retry);
        prop_assert_eq!(&plain.last_event_id, &whole.last_event_id);
    }

    #[test]
    fn borrowed_equals_owned(
        input in stream(),
        cuts in prop::collection::vec(any::<usize>(), 0..16),
        size in 1usize..70,
        limit in prop::option::of(0usize..120),
    ) {
        // `feed_with` yields exactly the items of `feed` (types, data, ids, errors) and leaves
        // the same retry and last event ID, whole, in random chunks, in equal small chunks (the
        // fast path) and byte by byte.
        let make = || Parser::with_max_event_size(limit);
        let chunkings: [Vec<&[u8]>; 4] = [
            vec![&input[..]],
            split(&input, cuts),
            input.chunks(size).collect(),
            input.chunks(1).collect(),
        ];
        for chunks in chunkings {
            let owned = run_plain(&mut make(), chunks.iter().copied());
            let borrowed = run_borrowed(&mut make(), chunks.iter().copied());
            prop_assert_eq!(&borrowed, &owned);
        }
    }

    #[test]
    fn borrowed_and_owned_interleave(
        first in stream(),
        second in stream(),
        cuts in prop::collection::vec(any::<usize>(), 0..16),
        pick in prop::collection::vec(any::<bool>(), 16),
    ) {
        // One parser fed through `feed` and `feed_with` in turn, over two bodies, yields what
        // `feed` alone does: the buffers one API leaves are what the other expects.
        let chunks = split(&first, cuts.clone());
        let later = split(&second, cuts);
        let mut owned = Parser::new();
        let expected = (
            run_plain(&mut owned, chunks.iter().copied()),
            run_plain(&mut owned, later.iter().copied()),
        );
        let mut mixed = Parser::new();
        let mut run_mixed = |chunks: &[&[u8]]| {
            let mut out = Vec::new();
            for (i, chunk) in chunks.iter().enumerate() {
                if pick[i % pick.len()] {
                    mixed.feed_with(chunk, |item| out.push(item.map(|e| e.to_event())));
                } else {
                    out.extend(mixed.feed(chunk));
                }
            }
            mixed.finish();
            out
        };
        let got = (run_mixed(&chunks), run_mixed(&later));
        let items = |o: &common::Outcome| o.items.clone();
        let got_items = |v: &Vec<Result<websse_core::Event, websse_core::Error>>| {
            v.iter()
                .map(|item| item.clone().map(|e| {
                    (e.event_type().to_owned(), e.data().to_owned(), e.last_event_id().to_owned())
                }))
                .collect::<Vec<_>>()
        };
        prop_assert_eq!(got_items(&got.0), items(&expected.0));
        prop_assert_eq!(got_items(&got.1), items(&expected.1));
        prop_assert_eq!(mixed.last_event_id(), owned.last_event_id());
        prop_assert_eq!(mixed.retry(), owned.retry());
    }

    #[test]
    fn two_bodies_equal_whole_each(
        first in stream(),
        second in stream(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        // The state carried across finish() (last id, retry) does not depend on chunking either.
        let mut whole = Parser::new();
        let a = run_on(&mut whole, [&first[..]]);
        let b = run_on(&mut whole, [&second[..]]);
        let mut chunked = Parser::new();
        let c = run_on(&mut chunked, split(&first, cuts.clone()));
        let d = run_on(&mut chunked, split(&second, cuts));
        prop_assert_eq!(a, c);
        prop_assert_eq!(b, d);
    }
}

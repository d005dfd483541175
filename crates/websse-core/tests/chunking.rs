//! Property: any chunking of any byte stream gives the same items, retry and last event id as
//! feeding it whole.

mod common;

use common::{run_on, run_plain};
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

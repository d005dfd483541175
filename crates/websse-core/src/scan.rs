//! Finding bytes: the end of a line, the colon of a field, and the block test of the small-chunk
//! fast path. Nothing here knows the parser's state.

use memchr::memchr2;

/// Haystacks at least this long are searched with `memchr2`; shorter ones (small network chunks,
/// the rest of a short line) a word at a time inline, which saves the call and dispatch overhead.
/// `None`: every length takes the inline loop.
///
/// On wasm32 without `simd128`, `memchr`'s fallback compares 4 bytes at a time (its word is a
/// `usize`), while the loop below compares 16 (wasm has native 64-bit integers), so there the
/// loop takes every length. With `simd128`, `memchr2` has a wasm SIMD implementation.
#[cfg(not(all(target_arch = "wasm32", not(target_feature = "simd128"))))]
const MEMCHR_FROM: Option<usize> = Some(32);
#[cfg(all(target_arch = "wasm32", not(target_feature = "simd128")))]
const MEMCHR_FROM: Option<usize> = None;

/// The first CR or LF in `haystack`: `memchr2`, or a word-at-a-time search (see [`MEMCHR_FROM`]).
///
/// The first byte is tested where this is inlined: a blank line right after a line end (the end
/// of every event) needs no search and no call.
#[inline(always)]
pub(crate) fn find_line_end(haystack: &[u8]) -> Option<usize> {
    match haystack.first() {
        Some(b'\r' | b'\n') => Some(0),
        _ => search_line_end(haystack),
    }
}

/// `chunk` split at its first line end: the line (no CR or LF), the CR or LF that ends it, and
/// the bytes after it. `None` when `chunk` holds no line end.
///
/// Built from checked splits rather than indexing: the parser has no panicking path (the panic
/// messages would link `core::fmt`'s integer formatting into every app that uses it).
#[inline(always)]
pub(crate) fn split_line(chunk: &[u8]) -> Option<(&[u8], u8, &[u8])> {
    let (line, rest) = chunk.split_at_checked(find_line_end(chunk)?)?;
    let (&end, rest) = rest.split_first()?;
    Some((line, end, rest))
}

/// The first CR or LF in `haystack`, for a line expected to be short: its first 32 bytes are
/// tested inline, 16 at a time as in [`find_line_end_words`], before the call to
/// [`search_line_end`].
#[cfg(any(feature = "perf", test))]
#[inline(always)]
pub(crate) fn find_short_line_end(haystack: &[u8]) -> Option<usize> {
    use words::{controls, line_ends, word};
    const NEAR: usize = 2;
    let (pairs, _) = haystack.as_chunks::<16>();
    let mut at = 0;
    for pair in pairs.iter().take(NEAR) {
        let (low, high) = pair.split_at(8);
        let (low, high) = (
            word(low.try_into().unwrap_or(&[0; 8])),
            word(high.try_into().unwrap_or(&[0; 8])),
        );
        if controls(low) | controls(high) != 0 {
            let (low, high) = (line_ends(low), line_ends(high));
            if low != 0 {
                return Some(at + (low.trailing_zeros() / 8) as usize);
            }
            if high != 0 {
                return Some(at + 8 + (high.trailing_zeros() / 8) as usize);
            }
        }
        at += 16;
    }
    search_line_end(haystack.get(at..)?).map(|end| at + end)
}

/// `bytes` up to and including its last LF (empty without one): the part of a chunk that can
/// hold whole events. Searched from the end, 8 bytes at a time.
#[cfg(any(feature = "perf", test))]
pub(crate) fn through_last_lf(bytes: &[u8]) -> &[u8] {
    const LOWS: u64 = u64::from_ne_bytes([0x7F; 8]);
    const LF: u64 = u64::from_ne_bytes([b'\n'; 8]);
    let (head, tail_words) = bytes.as_rchunks::<8>();
    let mut end = bytes.len();
    for word in tail_words.iter().rev() {
        let x = words::word(word) ^ LF;
        // The high bit of each byte of `x` that is zero (an LF), exactly: no borrow crosses
        // from one byte to the next, so the highest mark is a real one.
        let marks = !((x & LOWS).wrapping_add(LOWS) | x | LOWS);
        if marks != 0 {
            let after = end - 8 + 8 - (marks.leading_zeros() / 8) as usize;
            return bytes.get(..after).unwrap_or_default();
        }
        end -= 8;
    }
    match head.iter().rposition(|&byte| byte == b'\n') {
        Some(at) => head.get(..=at).unwrap_or_default(),
        None => &[],
    }
}

/// [`find_line_end`] past the first byte.
#[inline(never)]
fn search_line_end(haystack: &[u8]) -> Option<usize> {
    match MEMCHR_FROM {
        Some(from) if haystack.len() >= from => memchr2(b'\r', b'\n', haystack),
        _ => find_line_end_words(haystack),
    }
}

/// SWAR (SIMD within a register): tests on the 8 bytes of a `u64`.
mod words {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const CR: u64 = u64::from_ne_bytes([b'\r'; 8]);
    const LF: u64 = u64::from_ne_bytes([b'\n'; 8]);

    /// Marks the CR and LF bytes of `word`; the lowest mark is always exact (borrows only run
    /// upward).
    #[inline(always)]
    pub(super) fn line_ends(word: u64) -> u64 {
        let (cr, lf) = (word ^ CR, word ^ LF);
        (cr.wrapping_sub(ONES) & !cr | lf.wrapping_sub(ONES) & !lf) & HIGHS
    }

    /// Non-zero when some byte of `word` is below 0x0E (CR and LF are 0x0D and 0x0A): one test
    /// that clears most words of text, before the exact one.
    #[inline(always)]
    pub(super) fn controls(word: u64) -> u64 {
        word.wrapping_sub(ONES * 0x0E) & !word & HIGHS
    }

    /// Non-zero when some byte of `word` is 0.
    #[inline(always)]
    pub(super) fn zeros(word: u64) -> u64 {
        word.wrapping_sub(ONES) & !word & HIGHS
    }

    #[inline(always)]
    pub(super) fn word(bytes: &[u8; 8]) -> u64 {
        u64::from_le_bytes(*bytes)
    }
}

/// The first CR or LF in `haystack`, 16 and then 8 bytes at a time (see [`words`]), then byte by
/// byte.
#[inline]
fn find_line_end_words(haystack: &[u8]) -> Option<usize> {
    use words::{controls, line_ends, word};
    let mut at = 0;
    let (pairs, rest) = haystack.as_chunks::<16>();
    for pair in pairs {
        let (low, high) = pair.split_at(8);
        let (low, high) = (
            word(low.try_into().unwrap_or(&[0; 8])),
            word(high.try_into().unwrap_or(&[0; 8])),
        );
        if controls(low) | controls(high) == 0 {
            at += 16;
            continue;
        }
        let (low, high) = (line_ends(low), line_ends(high));
        if low | high != 0 {
            return Some(if low != 0 {
                at + (low.trailing_zeros() / 8) as usize
            } else {
                at + 8 + (high.trailing_zeros() / 8) as usize
            });
        }
        at += 16;
    }
    let (words, tail) = rest.as_chunks::<8>();
    for bytes in words {
        let marks = line_ends(word(bytes));
        if marks != 0 {
            return Some(at + (marks.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    tail.iter()
        .position(|&byte| byte == b'\r' || byte == b'\n')
        .map(|i| at + i)
}

/// Chunks shorter than this take [`Parser::stream_data`](crate::Parser::stream_data)'s fast path when they continue a
/// `data` value; longer ones amortise `memchr2` and `memcpy` calls well enough.
pub(crate) const SMALL_CHUNK: usize = 64;
/// The block size of that fast path.
pub(crate) const BLOCK: usize = 16;

/// Whether `block` holds a CR or an LF. Written without an early exit over a fixed-size array,
/// with one flag per byte value, so that the compiler turns it into two vector compares where it
/// has vectors (SSE2 on x86_64: `pcmpeqb` twice, `por`, `pmovmskb`; one flag for both values made
/// it widen the bytes first).
#[cfg(not(all(target_arch = "wasm32", not(target_feature = "simd128"))))]
#[inline(always)]
pub(crate) fn has_line_end(block: &[u8; BLOCK]) -> bool {
    let (mut cr, mut lf) = (false, false);
    for &byte in block {
        cr |= byte == b'\r';
        lf |= byte == b'\n';
    }
    cr | lf
}

/// Whether `block` holds a CR or an LF, as two 64-bit words (see [`find_line_end_words`]):
/// without vectors, the loop above compiles to a compare per byte.
#[cfg(all(target_arch = "wasm32", not(target_feature = "simd128")))]
#[inline(always)]
pub(crate) fn has_line_end(block: &[u8; BLOCK]) -> bool {
    let (low, high) = block.split_at(8);
    let word = |bytes: &[u8]| u64::from_le_bytes(bytes.try_into().unwrap_or([0; 8]));
    words::line_ends(word(low)) | words::line_ends(word(high)) != 0
}

/// `bytes` after `prefix`, if it starts with it: `<[u8]>::strip_prefix` without its
/// `split_at`, whose panic path (a message and a file path of the standard library) stays in a
/// wasm app built for size, where `strip_prefix` is not inlined (smaller code).
#[inline]
pub(crate) fn strip<'a, const N: usize>(bytes: &'a [u8], prefix: &[u8; N]) -> Option<&'a [u8]> {
    match bytes.split_at_checked(N) {
        Some((head, rest)) if head == prefix => Some(rest),
        _ => None,
    }
}

/// `line` split at its first colon: what precedes it and what follows it. `None` when `line`
/// has no colon.
#[inline(always)]
pub(crate) fn split_colon(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let (name, rest) = line.split_at_checked(find_colon(line)?)?;
    Some((name, rest.get(1..)?))
}

/// Whether `bytes` holds a NUL, 8 bytes at a time: for `id` values, which are short, where
/// `<[u8]>::contains` tests one byte at a time.
#[inline]
pub(crate) fn has_nul(bytes: &[u8]) -> bool {
    let (words, tail) = bytes.as_chunks::<8>();
    words
        .iter()
        .any(|bytes| words::zeros(words::word(bytes)) != 0)
        || tail.contains(&0)
}

/// The first colon of a line: field names are short, so look at a few bytes before calling
/// `memchr`.
#[inline(never)]
fn find_colon(line: &[u8]) -> Option<usize> {
    const NEAR: usize = 8;
    match line.iter().take(NEAR).position(|&byte| byte == b':') {
        Some(colon) => Some(colon),
        None => find_byte(b':', line.get(NEAR..)?).map(|i| i + NEAR),
    }
}

/// The first `byte` in `haystack`: `memchr`, except on wasm32 without `simd128`, where a plain
/// loop is smaller than `memchr`'s fallback (4 bytes at a time there, see [`MEMCHR_FROM`]) and
/// fast enough for what it searches: past the first 8 bytes of a line without an early colon.
#[cfg(not(all(target_arch = "wasm32", not(target_feature = "simd128"))))]
fn find_byte(byte: u8, haystack: &[u8]) -> Option<usize> {
    memchr::memchr(byte, haystack)
}
#[cfg(all(target_arch = "wasm32", not(target_feature = "simd128")))]
fn find_byte(byte: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == byte)
}

#[cfg(test)]
mod tests {
    use super::{
        find_line_end, find_line_end_words, find_short_line_end, has_nul, through_last_lf,
    };
    use alloc::vec;

    #[test]
    fn find_line_end_matches_naive_search() {
        // Every length up to past the memchr2 threshold, the line end at every position, over
        // fillers that stress the word trick (bytes next to CR/LF, 0x00, 0x80, 0xFF).
        for filler in [b'a', 0x00, 0x0B, 0x0C, 0x0E, 0x8D, 0x8A, 0x80, 0xFF, 0x01] {
            for len in 0..72 {
                let mut haystack = vec![filler; len];
                assert_eq!(find_line_end(&haystack), None);
                assert_eq!(find_line_end_words(&haystack), None);
                assert_eq!(find_short_line_end(&haystack), None);
                for at in 0..len {
                    for end in [b'\r', b'\n'] {
                        haystack[at] = end;
                        assert_eq!(find_line_end(&haystack), Some(at), "{filler} {len} {at}");
                        assert_eq!(find_line_end_words(&haystack), Some(at));
                        assert_eq!(find_short_line_end(&haystack), Some(at));
                        if at + 1 < len {
                            haystack[at + 1] = b'\r' ^ b'\n' ^ end;
                            assert_eq!(find_line_end(&haystack), Some(at));
                            assert_eq!(find_line_end_words(&haystack), Some(at));
                            haystack[at + 1] = filler;
                        }
                        haystack[at] = filler;
                    }
                }
            }
        }
    }

    #[test]
    fn through_last_lf_matches_naive_search() {
        // Every length up to three words and a bit, LFs at every pair of positions, over
        // fillers next to LF in value and with the high bit set.
        for filler in [b'a', 0x0B, 0x09, 0x8A, 0x0A ^ 0x80, 0xFF, 0x00] {
            for len in 0..28 {
                let mut bytes = vec![filler; len];
                assert_eq!(through_last_lf(&bytes), &[] as &[u8]);
                for first in 0..len {
                    for second in first..len {
                        bytes[first] = b'\n';
                        bytes[second] = b'\n';
                        assert_eq!(through_last_lf(&bytes), &bytes[..=second], "{filler} {len}");
                        bytes[first] = filler;
                        bytes[second] = filler;
                    }
                }
            }
        }
    }

    #[test]
    fn has_nul_matches_naive_search() {
        // The NUL at every position of every length up to three words, over fillers next to
        // it in value (0x01, 0xFF wraps to it) and with the high bit set.
        for filler in [b'a', 0x01, 0x80, 0x81, 0xFF, 0x7F] {
            for len in 0..26 {
                let mut bytes = vec![filler; len];
                assert!(!has_nul(&bytes));
                for at in 0..len {
                    bytes[at] = 0;
                    assert!(has_nul(&bytes), "{filler} {len} {at}");
                    bytes[at] = filler;
                }
            }
        }
    }
}

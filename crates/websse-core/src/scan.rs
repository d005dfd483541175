//! Finding bytes: the end of a line, the colon of a field, and the block test of the small-chunk
//! fast path. Nothing here knows the parser's state.

use memchr::{memchr, memchr2};

/// The first CR or LF in `haystack`: `memchr2`, except that short haystacks (small network
/// chunks) are searched a word at a time inline, which saves the call and dispatch overhead.
#[inline]
pub(crate) fn find_line_end(haystack: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const CR: u64 = u64::from_ne_bytes([b'\r'; 8]);
    const LF: u64 = u64::from_ne_bytes([b'\n'; 8]);
    /// Marks the zero bytes of `word`; the lowest mark is always exact (borrows only run upward).
    fn zero_bytes(word: u64) -> u64 {
        word.wrapping_sub(ONES) & !word & HIGHS
    }
    match haystack.first() {
        // A blank line right after a line end (the end of every event) needs no search.
        Some(b'\r' | b'\n') => return Some(0),
        _ if haystack.len() >= 32 => return memchr2(b'\r', b'\n', haystack),
        _ => {}
    }
    let mut words = haystack.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let word = u64::from_le_bytes([
            word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7],
        ]);
        let marks = zero_bytes(word ^ CR) | zero_bytes(word ^ LF);
        if marks != 0 {
            return Some(at + (marks.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let tail = words.remainder();
    tail.iter()
        .position(|&byte| byte == b'\r' || byte == b'\n')
        .map(|i| at + i)
}

/// Chunks shorter than this take [`Parser::stream_data`](crate::Parser::stream_data)'s fast path when they continue a
/// `data` value; longer ones amortise `memchr2` and `memcpy` calls well enough.
pub(crate) const SMALL_CHUNK: usize = 64;
/// The block size of that fast path.
pub(crate) const BLOCK: usize = 16;

/// Whether `block` holds a CR or an LF. Written without an early exit over a fixed-size array so
/// that the compiler turns it into a few vector instructions where it can (SSE2 on x86_64).
#[inline(always)]
pub(crate) fn has_line_end(block: &[u8; BLOCK]) -> bool {
    let mut found = 0;
    for &byte in block {
        found |= u8::from(byte == b'\r') | u8::from(byte == b'\n');
    }
    found != 0
}

/// The first colon of a line: field names are short, so look at a few bytes before calling
/// `memchr`.
#[inline]
pub(crate) fn find_colon(line: &[u8]) -> Option<usize> {
    const NEAR: usize = 8;
    match line.iter().take(NEAR).position(|&byte| byte == b':') {
        Some(colon) => Some(colon),
        None if line.len() > NEAR => memchr(b':', &line[NEAR..]).map(|i| i + NEAR),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::find_line_end;
    use alloc::vec;

    #[test]
    fn find_line_end_matches_naive_search() {
        // Every length up to past the memchr2 threshold, the line end at every position, over
        // fillers that stress the word trick (bytes next to CR/LF, 0x00, 0x80, 0xFF).
        for filler in [b'a', 0x00, 0x0B, 0x0C, 0x0E, 0x8D, 0x8A, 0x80, 0xFF, 0x01] {
            for len in 0..40 {
                let mut haystack = vec![filler; len];
                assert_eq!(find_line_end(&haystack), None);
                for at in 0..len {
                    for end in [b'\r', b'\n'] {
                        haystack[at] = end;
                        assert_eq!(find_line_end(&haystack), Some(at), "{filler} {len} {at}");
                        if at + 1 < len {
                            haystack[at + 1] = b'\r' ^ b'\n' ^ end;
                            assert_eq!(find_line_end(&haystack), Some(at));
                            haystack[at + 1] = filler;
                        }
                        haystack[at] = filler;
                    }
                }
            }
        }
    }
}

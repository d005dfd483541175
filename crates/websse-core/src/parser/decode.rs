//! Bytes to text: the WHATWG UTF-8 decode step the event stream goes through. Invalid UTF-8
//! becomes U+FFFD, and one byte order mark at the start of a body is dropped, also when it
//! arrives split across chunks.

use alloc::borrow::Cow;
use alloc::string::String;

use super::Parser;
use crate::error::Error;

/// The UTF-8 byte order mark; the UTF-8 decoder strips one at the start of a stream.
const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];
/// `Parser::bom_matched` once the start of the body is behind us.
pub(super) const BOM_DONE: u8 = 3;

/// Bytes to text as the WHATWG UTF-8 decoder does (without BOM handling): maximal invalid
/// subparts become U+FFFD (see [`lossy`]); valid text is borrowed.
pub(super) fn decode(bytes: &[u8]) -> Cow<'_, str> {
    match utf8(bytes) {
        Some(text) => Cow::Borrowed(text),
        None => Cow::Owned(lossy(bytes)),
    }
}

/// `bytes` (not valid UTF-8) with each maximal invalid subpart replaced by U+FFFD: the same
/// text as `String::from_utf8_lossy`, the WHATWG decoder's "replacement" error mode. Written
/// with `from_utf8`, which valid text needs anyway, instead of `from_utf8_lossy`'s own decoder
/// (`Utf8Chunks`, another half kilobyte in a wasm app).
///
/// `Utf8Error` says where the valid prefix ends (`valid_up_to`) and how long the maximal
/// invalid subpart after it is (`error_len`; `None` when the bytes end inside a sequence that
/// could still have been completed, which is one subpart too). Each pass takes at least one
/// byte and validates only up to the next error (the valid prefix twice), so this is linear.
#[cold]
#[inline(never)]
fn lossy(mut bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() + 2);
    loop {
        match core::str::from_utf8(bytes) {
            Ok(valid) => {
                text.push_str(valid);
                return text;
            }
            Err(error) => {
                let (valid, rest) = bytes
                    .split_at_checked(error.valid_up_to())
                    .unwrap_or_default();
                text.push_str(core::str::from_utf8(valid).unwrap_or_default());
                text.push(char::REPLACEMENT_CHARACTER);
                let invalid = error.error_len().unwrap_or(rest.len());
                bytes = rest.get(invalid..).unwrap_or_default();
            }
        }
    }
}

/// The longest prefix of `bytes` that is valid UTF-8 (all of it, or up to an invalid or
/// incomplete sequence).
#[cfg(feature = "perf")]
pub(super) fn valid_prefix(bytes: &[u8]) -> &str {
    match core::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => bytes
            .get(..error.valid_up_to())
            .and_then(utf8)
            .unwrap_or_default(),
    }
}

/// `bytes` as text if they are valid UTF-8. Not inlined, and returning an `Option` (a pointer and
/// a length, in two registers): `from_utf8`'s `Result` comes back through memory, as two 8-byte
/// stores that the caller read back as one 16-byte load, which the CPU cannot forward from the
/// stores: a stall on every event. (wasm has no such stall: there it is inlined.)
#[cfg_attr(not(target_arch = "wasm32"), inline(never))]
fn utf8(bytes: &[u8]) -> Option<&str> {
    core::str::from_utf8(bytes).ok()
}

impl Parser {
    /// The UTF-8 decode step: one leading U+FEFF BYTE ORDER MARK is ignored, at the start of the
    /// body only. The BOM may arrive split across chunks; bytes that turn out not to be one are
    /// ordinary line content.
    #[cold]
    pub(super) fn strip_bom(&mut self, input: &mut &[u8], keep_comments: bool) -> Option<Error> {
        while let Some((matched, next)) = BOM.split_at_checked(usize::from(self.bom_matched))
            && let Some(&expected) = next.first()
        {
            let (&byte, rest) = input.split_first()?;
            if byte == expected {
                *input = rest;
                self.bom_matched += 1;
            } else {
                self.bom_matched = BOM_DONE;
                if !matched.is_empty() {
                    return self.carry(matched, keep_comments);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::{decode, lossy};
    use alloc::string::String;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    /// The bytes that decide UTF-8 decoding: ASCII, every lead-byte class and its edges,
    /// continuation bytes at both ends of each range that a lead byte restricts, and bytes that
    /// are never valid.
    const BYTES: [u8; 20] = [
        b'a', 0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xED, 0xEF,
        0xF0, 0xF4, 0xF5, 0xFE, 0xFF,
    ];

    #[test]
    fn lossy_decoding_matches_std_on_every_short_sequence() {
        // Every sequence of up to 4 of those bytes (20^4 = 160,000): every way a sequence can
        // be cut short, overlong, a surrogate, past U+10FFFF, or stray.
        let mut bytes = Vec::new();
        for len in 0..=4u32 {
            for mut n in 0..BYTES.len().pow(len) {
                bytes.clear();
                for _ in 0..len {
                    bytes.push(BYTES[n % BYTES.len()]);
                    n /= BYTES.len();
                }
                assert_eq!(
                    decode(&bytes),
                    String::from_utf8_lossy(&bytes),
                    "{bytes:x?}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn lossy_decoding_matches_std(
            parts in proptest::collection::vec(
                prop_oneof![
                    any::<char>().prop_map(|c| String::from(c).into_bytes()),
                    proptest::collection::vec(any::<u8>(), 0..4),
                ],
                0..24,
            )
        ) {
            let bytes = parts.concat();
            prop_assert_eq!(decode(&bytes), String::from_utf8_lossy(&bytes));
            if core::str::from_utf8(&bytes).is_err() {
                prop_assert_eq!(lossy(&bytes), String::from_utf8_lossy(&bytes));
            }
        }
    }
}

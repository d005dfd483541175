//! Turning body bytes into messages: SSE (websse-core), NDJSON (cargo feature `ndjson`), raw text
//! (cargo feature `raw-text`).
//!
//! Messages go out borrowed through a `&mut dyn FnMut(Decoded)` (the caller copies them once per
//! chunk into one buffer): one copy of each decoder in the binary, not one per caller's closure.
//! `Decoder::feed` alone takes the caller's closure as a type: there is one caller per app (the
//! fetch driver), and the SSE parser's callback then calls it directly instead of through a
//! second pointer, once per event (smaller code, too).

use std::time::Duration;

use crate::{Framing, MessageRef, Skipped};

/// What a decoder produces: a message, borrowed for the call, or a skip notice.
pub(crate) type Decoded<'a> = Result<MessageRef<'a>, Skipped>;

/// Decodes one event source's body bytes (across reconnections) into messages.
#[derive(Debug)]
pub(crate) enum Decoder {
    Sse(websse_core::Parser),
    #[cfg(feature = "ndjson")]
    Ndjson(Ndjson),
    #[cfg(feature = "raw-text")]
    Raw(Utf8Carry),
}

impl Decoder {
    /// The decoder for `framing`. A framing whose cargo feature is off never gets here
    /// ([`SseRequest::open`](crate::SseRequest::open) refuses it); SSE stands in for it.
    pub(crate) fn new(framing: Framing, max_event_size: Option<usize>) -> Self {
        match framing {
            #[cfg(feature = "ndjson")]
            Framing::Ndjson => Decoder::Ndjson(Ndjson {
                utf8: Utf8Carry::default(),
                line: String::new(),
                skipping: false,
                max: max_event_size,
            }),
            #[cfg(feature = "raw-text")]
            Framing::Raw => Decoder::Raw(Utf8Carry::default()),
            _ => Decoder::Sse(websse_core::Parser::with_max_event_size(max_event_size)),
        }
    }

    /// Feeds the next chunk of a body; `out` gets each message (or size error) it completes.
    pub(crate) fn feed<F: FnMut(Decoded<'_>)>(&mut self, chunk: &[u8], out: &mut F) {
        match self {
            Decoder::Sse(parser) => {
                // The borrowed API: the caller copies each event once, into its chunk's buffer.
                parser.feed_with(chunk, |item| {
                    out(match item {
                        Ok(event) => Ok(MessageRef::new(
                            event.event_type(),
                            event.data(),
                            event.last_event_id(),
                        )),
                        Err(error) => Err(skipped(error)),
                    })
                });
            }
            #[cfg(feature = "ndjson")]
            Decoder::Ndjson(n) => n.feed(chunk, out),
            #[cfg(feature = "raw-text")]
            Decoder::Raw(utf8) => {
                let mut text = String::new();
                utf8.decode(chunk, &mut text);
                if !text.is_empty() {
                    out(Ok(MessageRef::new("message", &text, "")));
                }
            }
        }
    }

    /// The body ended (cleanly or not). SSE drops the incomplete event (per spec); NDJSON yields a
    /// last line without newline; raw text yields U+FFFD for a truncated character.
    #[cfg_attr(
        not(any(feature = "ndjson", feature = "raw-text")),
        allow(unused_variables)
    )]
    pub(crate) fn finish(&mut self, out: &mut dyn FnMut(Decoded<'_>)) {
        match self {
            Decoder::Sse(parser) => parser.finish(),
            #[cfg(feature = "ndjson")]
            Decoder::Ndjson(n) => {
                if n.utf8.finish(&mut n.line) {
                    n.check_size(out);
                }
                n.emit_line(out);
                n.skipping = false;
            }
            #[cfg(feature = "raw-text")]
            Decoder::Raw(utf8) => {
                let mut text = String::new();
                utf8.finish(&mut text);
                if !text.is_empty() {
                    out(Ok(MessageRef::new("message", &text, "")));
                }
            }
        }
    }

    /// The server's reconnection time (SSE only).
    pub(crate) fn retry(&self) -> Option<Duration> {
        match self {
            Decoder::Sse(parser) => parser.retry(),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// The last event id to send as `Last-Event-ID` (SSE only; empty otherwise).
    pub(crate) fn last_event_id(&self) -> &str {
        match self {
            Decoder::Sse(parser) => parser.last_event_id(),
            #[allow(unreachable_patterns)]
            _ => "",
        }
    }

    /// Starts from a stored last event id (SSE only).
    #[allow(irrefutable_let_patterns)]
    pub(crate) fn set_last_event_id(&mut self, id: &str) {
        if let Decoder::Sse(parser) = self {
            parser.set_last_event_id(id);
        }
    }
}

/// What a websse-core error means for the stream: every one of them skips an event.
fn skipped(error: websse_core::Error) -> Skipped {
    match error {
        websse_core::Error::EventTooLarge { limit } => Skipped::TooLarge { limit },
        // websse-core's error is non-exhaustive; what it may add later also skips one event.
        #[allow(unreachable_patterns)]
        _ => Skipped::TooLarge { limit: 0 },
    }
}

/// Newline-delimited JSON: each non-empty line (LF or CRLF terminated) is one message.
#[cfg(feature = "ndjson")]
#[derive(Debug)]
pub(crate) struct Ndjson {
    utf8: Utf8Carry,
    line: String,
    /// The current line went over `max` and is being skipped up to its end.
    skipping: bool,
    max: Option<usize>,
}

#[cfg(feature = "ndjson")]
impl Ndjson {
    fn feed(&mut self, chunk: &[u8], out: &mut dyn FnMut(Decoded<'_>)) {
        let mut rest = chunk;
        while !rest.is_empty() {
            let (part, found) = match memchr_lf(rest) {
                Some(i) => (&rest[..i], Some(i)),
                None => (rest, None),
            };
            if !self.skipping {
                self.utf8.decode(part, &mut self.line);
                self.check_size(out);
            }
            match found {
                Some(i) => {
                    if !self.skipping {
                        self.utf8.finish(&mut self.line);
                        self.emit_line(out);
                    }
                    self.skipping = false;
                    self.utf8 = Utf8Carry::default();
                    rest = &rest[i + 1..];
                }
                None => rest = &[],
            }
        }
    }

    fn check_size(&mut self, out: &mut dyn FnMut(Decoded<'_>)) {
        if let Some(limit) = self.max
            && self.line.len() > limit
        {
            self.line = String::new();
            self.skipping = true;
            out(Err(Skipped::TooLarge { limit }));
        }
    }

    fn emit_line(&mut self, out: &mut dyn FnMut(Decoded<'_>)) {
        let line = self.line.strip_suffix('\r').unwrap_or(&self.line);
        if !line.trim().is_empty() {
            out(Ok(MessageRef::new("message", line, "")));
        }
        self.line.clear();
    }
}

#[cfg(feature = "ndjson")]
fn memchr_lf(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

/// A UTF-8 decoder that carries an incomplete character from one chunk to the next; invalid
/// bytes become U+FFFD, like the browser's `TextDecoder` without `fatal`.
#[cfg(any(feature = "ndjson", feature = "raw-text"))]
#[derive(Debug, Default)]
pub(crate) struct Utf8Carry {
    carry: Vec<u8>,
}

#[cfg(any(feature = "ndjson", feature = "raw-text"))]
impl Utf8Carry {
    /// Decodes `chunk` after the carried bytes, appending to `out`.
    pub(crate) fn decode(&mut self, chunk: &[u8], out: &mut String) {
        if self.carry.is_empty() {
            self.decode_from(chunk, out);
        } else {
            // A character was split: the rare path copies the chunk once behind the carried bytes.
            let mut joined = std::mem::take(&mut self.carry);
            joined.extend_from_slice(chunk);
            self.decode_from(&joined, out);
        }
    }

    fn decode_from(&mut self, mut bytes: &[u8], out: &mut String) {
        loop {
            match std::str::from_utf8(bytes) {
                Ok(text) => {
                    out.push_str(text);
                    return;
                }
                Err(e) => {
                    let (valid, after) = bytes.split_at(e.valid_up_to());
                    // `valid` is valid UTF-8 by the error's contract.
                    out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                    match e.error_len() {
                        Some(n) => {
                            out.push('\u{FFFD}');
                            bytes = &after[n..];
                        }
                        None => {
                            self.carry.extend_from_slice(after);
                            return;
                        }
                    }
                }
            }
        }
    }

    /// The input ended: a carried incomplete character becomes U+FFFD. Returns whether it did.
    pub(crate) fn finish(&mut self, out: &mut String) -> bool {
        if self.carry.is_empty() {
            false
        } else {
            self.carry.clear();
            out.push('\u{FFFD}');
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(framing: Framing, max: Option<usize>, chunks: &[&[u8]]) -> Vec<Result<String, usize>> {
        let mut d = Decoder::new(framing, max);
        let mut got = Vec::new();
        let mut out = |item: Decoded<'_>| {
            got.push(match item {
                Ok(m) => Ok(m.data().to_owned()),
                Err(Skipped::TooLarge { limit }) => Err(limit),
                Err(other) => panic!("{other:?}"),
            })
        };
        for c in chunks {
            d.feed(c, &mut out);
        }
        d.finish(&mut out);
        got
    }

    /// Every split of `input` into two chunks gives the same items as the whole.
    #[cfg(feature = "ndjson")]
    fn all_splits(framing: Framing, input: &[u8]) -> Vec<Result<String, usize>> {
        let whole = run(framing, None, &[input]);
        for i in 0..=input.len() {
            assert_eq!(
                run(framing, None, &[&input[..i], &input[i..]]),
                whole,
                "split at {i}"
            );
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run(framing, None, &bytes), whole, "byte by byte");
        whole
    }

    #[test]
    #[cfg(any(feature = "ndjson", feature = "raw-text"))]
    fn utf8_split_inside_a_character_is_carried() {
        let mut u = Utf8Carry::default();
        let mut s = String::new();
        let euro = "€".as_bytes(); // E2 82 AC
        u.decode(&euro[..1], &mut s);
        u.decode(&euro[1..2], &mut s);
        assert_eq!(s, "");
        u.decode(&euro[2..], &mut s);
        assert_eq!(s, "€");
    }

    #[test]
    #[cfg(any(feature = "ndjson", feature = "raw-text"))]
    fn utf8_invalid_bytes_become_replacement() {
        let mut u = Utf8Carry::default();
        let mut s = String::new();
        u.decode(b"a\xFFb", &mut s);
        assert_eq!(s, "a\u{FFFD}b");
    }

    #[test]
    #[cfg(any(feature = "ndjson", feature = "raw-text"))]
    fn utf8_truncated_at_end_becomes_replacement() {
        let mut u = Utf8Carry::default();
        let mut s = String::new();
        u.decode(&"é".as_bytes()[..1], &mut s);
        assert!(u.finish(&mut s));
        assert_eq!(s, "\u{FFFD}");
    }

    #[test]
    #[cfg(feature = "ndjson")]
    fn ndjson_one_item_per_line_any_split() {
        let input = "{\"a\":\"é€😀\"}\r\n\n{\"b\":2}\n{\"c\":3}".as_bytes();
        assert_eq!(
            all_splits(Framing::Ndjson, input),
            vec![
                Ok("{\"a\":\"é€😀\"}".to_owned()),
                Ok("{\"b\":2}".to_owned()),
                Ok("{\"c\":3}".to_owned()),
            ]
        );
    }

    #[test]
    #[cfg(feature = "ndjson")]
    fn ndjson_oversize_line_is_an_error_and_the_next_line_survives() {
        let got = run(
            Framing::Ndjson,
            Some(8),
            &[b"{\"x\":\"0123", b"456789\"}\n{\"y\":1}\n"],
        );
        assert_eq!(got, vec![Err(8), Ok("{\"y\":1}".to_owned())]);
    }

    #[test]
    #[cfg(feature = "raw-text")]
    fn raw_text_carries_utf8_across_chunks() {
        let text = "aé€😀z";
        let bytes = text.as_bytes();
        for i in 0..=bytes.len() {
            let got: String = run(Framing::Raw, None, &[&bytes[..i], &bytes[i..]])
                .into_iter()
                .map(|r| r.unwrap())
                .collect();
            assert_eq!(got, text, "split at {i}");
        }
    }

    #[test]
    #[cfg(feature = "raw-text")]
    fn raw_text_each_chunk_is_an_item() {
        let got = run(Framing::Raw, None, &[b"ab", b"", b"cd"]);
        assert_eq!(got, vec![Ok("ab".to_owned()), Ok("cd".to_owned())]);
    }

    #[test]
    fn sse_framing_uses_websse_core_and_keeps_retry_and_id() {
        let mut d = Decoder::new(Framing::Sse, None);
        let mut got = Vec::new();
        d.feed(
            b"retry: 250\nid: 7\nevent: delta\ndata: a\ndata: b\n\n",
            &mut |item| match item {
                Ok(m) => got.push(m.to_message()),
                Err(other) => panic!("{other:?}"),
            },
        );
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].event_type(), "delta");
        assert_eq!(got[0].data(), "a\nb");
        assert_eq!(d.retry(), Some(Duration::from_millis(250)));
        assert_eq!(d.last_event_id(), "7");
    }

    #[test]
    fn sse_oversize_event_is_a_typed_error() {
        let got = run(
            Framing::Sse,
            Some(10),
            &[b"data: 0123456789\n\ndata: ok\n\n"],
        );
        assert_eq!(got, vec![Err(10), Ok("ok".to_owned())]);
    }
}

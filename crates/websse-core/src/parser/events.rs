//! Building the events a blank line dispatches: owned [`Event`]s for [`Parser::feed`], borrowed
//! [`EventRef`]s for [`Parser::feed_with`]. The data is decoded once, and the event type and the
//! last event ID are reused from the previous event where they are the same.

use alloc::string::String;
use core::mem;

use super::decode::decode;
use super::{KEEP_CAPACITY, OnEvent, Parser, Raw};
use crate::event::{Event, EventRef, EventType};

/// `a == b` for short names, 8 bytes at a time without a call (wasm32's `memcmp` compares one
/// byte at a time).
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (words_a, tail_a) = a.as_chunks::<8>();
    let (words_b, tail_b) = b.as_chunks::<8>();
    words_a
        .iter()
        .zip(words_b)
        .all(|(x, y)| u64::from_ne_bytes(*x) == u64::from_ne_bytes(*y))
        && tail_a.iter().zip(tail_b).all(|(x, y)| x == y)
}

impl Parser {
    /// Passes the ready event to `on_event`, borrowed, then clears the buffers it used (keeping
    /// their capacity).
    pub(super) fn dispatch_ref(&mut self, raw: Raw<'_>, on_event: OnEvent<'_>) {
        let data = match raw {
            Raw::Chunk(data) => data,
            Raw::Buffer => &self.data,
        };
        // Decoded exactly as for an owned event (see `take_event`).
        let data = decode(data);
        let event_type = match self.event_type.as_slice() {
            b"" => "message",
            name if same_bytes(name, self.type_text.as_bytes()) => &self.type_text,
            name => {
                self.type_text.clear();
                self.type_text.push_str(&decode(name));
                &self.type_text
            }
        };
        on_event(Ok(EventRef {
            event_type,
            data: &data,
            last_event_id: &self.last_event_id,
        }));
        self.event_type.clear();
        if let Raw::Buffer = raw {
            self.data.clear();
        }
    }

    /// The event whose data is in the data buffer (see [`dispatch`](Parser::dispatch)), owned.
    pub(super) fn take_event(&mut self) -> Event {
        // The data is the buffer without its trailing LF (never stored here); bytes that are not
        // UTF-8 decode to U+FFFD exactly like the WHATWG decoder. Decoding the whole buffer equals
        // decoding line by line: the LF between lines is ASCII, which always ends a bad sequence.
        if self.data.len() <= KEEP_CAPACITY {
            // Small: copy out and keep the buffer's capacity for the next event, so a data line
            // that arrives in many small chunks does not regrow it every time.
            let mut data = mem::take(&mut self.data);
            let event = self.event(&data);
            data.clear();
            self.data = data;
            event
        } else {
            // Large: hand the buffer itself over rather than copy it.
            let text = match String::from_utf8(mem::take(&mut self.data)) {
                Ok(data) => data,
                Err(error) => decode(error.as_bytes()).into_owned(),
            };
            self.finish_event(text)
        }
    }

    /// The event of the current block, with `data` (its raw bytes) copied out.
    pub(super) fn event(&mut self, data: &[u8]) -> Event {
        let mut text = String::with_capacity(data.len() + self.last_event_id.len());
        text.push_str(&decode(data));
        self.finish_event(text)
    }

    /// The event of the current block, whose data is `text`: the last event ID goes right after
    /// the data, in the same allocation; the type is `message` unless the event type buffer
    /// holds something else.
    fn finish_event(&mut self, mut text: String) -> Event {
        let data_len = text.len();
        let id = self.last_event_id.as_str();
        if !id.is_empty() {
            text.reserve_exact(id.len());
            text.push_str(id);
        }
        let event_type = match self.event_type.as_slice() {
            b"" => EventType::Message,
            name if same_bytes(name, self.last_type.as_bytes()) => self.last_type.clone(),
            name => {
                let event_type = EventType::new(&decode(name));
                self.last_type = event_type.clone();
                event_type
            }
        };
        self.event_type.clear();
        Event {
            event_type,
            text,
            data_len,
        }
    }
}

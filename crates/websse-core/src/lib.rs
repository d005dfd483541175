//! A spec-exact, linear-time, bounded Server-Sent Events parser.
//!
//! `websse-core` implements the parsing and interpreting steps of the WHATWG HTML
//! ["Server-sent events"](https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation)
//! section. It does no I/O: you feed it the bytes of a response body in whatever chunks they arrive,
//! and take complete events out. Any chunking of the same bytes (empty chunks, one byte at a time, a
//! CRLF, a multi-byte character or the byte order mark split across chunks) yields exactly the same
//! events.
//!
//! ```
//! use websse_core::Parser;
//!
//! let mut parser = Parser::new();
//! let mut seen = Vec::new();
//! for chunk in [&b"retry: 1500\nevent: delta\nid: 7\nda"[..], b"ta: hello\ndata: world\n\r", b"\n"] {
//!     for item in parser.feed(chunk) {
//!         let event = item?;
//!         seen.push((event.event_type().to_owned(), event.data().to_owned()));
//!         assert_eq!(event.last_event_id(), "7");
//!     }
//! }
//! parser.finish(); // end of this response body
//! assert_eq!(seen, [("delta".to_owned(), "hello\nworld".to_owned())]);
//! assert_eq!(parser.retry(), Some(core::time::Duration::from_millis(1500)));
//! assert_eq!(parser.last_event_id(), "7");
//! # Ok::<(), websse_core::Error>(())
//! ```
//!
//! # Properties
//! - **Linear time.** Line ends are found with `memchr2(b'\r', b'\n', ..)`; the parser remembers
//!   where it stopped, so no byte is searched for a line end twice, and a partial `data:` line is
//!   streamed straight into the data buffer instead of being re-copied when it completes. Small
//!   chunks of a long `data` value take a fast path: 16-byte blocks, each checked for a line end
//!   and appended with fixed-size operations, so that many tiny chunks cost little more than one
//!   big one.
//! - **Bounded memory.** Each parser has a maximum event size ([`DEFAULT_MAX_EVENT_SIZE`] unless
//!   set with [`Parser::with_max_event_size`]). An event that grows past it yields one
//!   [`Error::EventTooLarge`], is discarded, and parsing continues after its blank line.
//! - **Prompt.** An event is yielded as soon as the bytes of its blank line have been fed, also when
//!   that line ends with a lone CR (the parser does not wait to see whether an LF follows).
//! - **Owned or borrowed events.** [`Parser::feed`] yields owned [`Event`]s (one allocation
//!   each); [`Parser::feed_with`] passes the same items to a callback as [`EventRef`]s, borrowed
//!   from the chunk or the parser's reused buffers, with no allocation per event: for counting,
//!   forwarding, or converting the data straight into another representation (JSON, a JS string)
//!   without a Rust `String` in between.
//! - **Comments without cost.** [`Parser::feed`] ignores comment lines without allocating;
//!   [`Parser::feed_with_comments`] reports each one to a callback (for heartbeat detection).
//! - **No panics.** No input makes the parser panic: it slices with checked splits, never with
//!   an index or an `unwrap` that could fail (only a failed allocation ends the program, as
//!   anywhere in Rust). This also keeps `core::fmt`'s panic messages out of a wasm app.
//! - `#![no_std]` + `alloc`; the default `std` feature only enables `memchr`'s runtime CPU
//!   feature detection.
//! - **A size knob.** The default `perf` feature gives [`Parser::feed_with`] a loop of its own
//!   for runs of events whose only line is `data`, with each chunk checked as UTF-8 once rather
//!   than each event's data: about twice as fast on short events, for about 0.7 kB of gzipped
//!   wasm. Without it those events take the general loop; the events are the same either way.
#![no_std]
#![deny(missing_docs)]

extern crate alloc;

// One job each: `event` and `error` are what the parser yields, `scan` finds line ends and colons
// (it knows nothing of the parser's state), `parser` is the state machine and uses the other three.
mod error;
mod event;
mod parser;
mod scan;

pub use error::Error;
pub use event::{Event, EventRef};
pub use parser::{DEFAULT_MAX_EVENT_SIZE, Feed, Parser};

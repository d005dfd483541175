//! websse-core in wasm32 for the V8 bench: raw exports (no wasm-bindgen glue in the timed path),
//! driven by `bench.mjs` in Node.
//!
//! The JS side copies each chunk into the input buffer (`input`) and calls `feed` with its
//! length, as the websse fetch transport copies each `Uint8Array` into wasm memory and feeds it.
//! Each event's data length is added up in wasm (the consumer of a Rust app's events is Rust).
//! `feed_record` does the same and also writes every event out (type, id, data), which the JS
//! side compares with eventsource-parser's events before anything is timed. `feed_borrowed` and
//! `feed_record_borrowed` do the same through `Parser::feed_with`, the borrowed API.
//!
//! The shapes come from websse-core's native benches (`benches/shapes`), so both benches parse
//! the same bytes.

// Raw exports need `#[unsafe(no_mangle)]`; nothing else here is unsafe.
#![allow(unsafe_code)]

use std::cell::RefCell;

use websse_core::Parser;

#[allow(dead_code)]
#[path = "../../../crates/websse-core/benches/shapes/mod.rs"]
mod shapes;

struct Bench {
    parser: Parser,
    /// Where JS writes the next chunk.
    input: Vec<u8>,
    /// Recorded events, or the bytes of a shape.
    output: Vec<u8>,
    /// The data bytes of the events so far.
    total: usize,
}

thread_local! {
    static BENCH: RefCell<Bench> = RefCell::new(Bench {
        parser: Parser::new(),
        input: Vec::new(),
        output: Vec::new(),
        total: 0,
    });
}

/// The input buffer, at least `capacity` bytes; its address (valid until the next call to
/// `input`).
#[unsafe(no_mangle)]
pub extern "C" fn input(capacity: usize) -> usize {
    BENCH.with_borrow_mut(|b| {
        if b.input.len() < capacity {
            b.input = vec![0; capacity];
        }
        b.input.as_ptr() as usize
    })
}

/// A new parser (a new response body), and the data count back to zero.
#[unsafe(no_mangle)]
pub extern "C" fn reset() {
    BENCH.with_borrow_mut(|b| {
        b.parser = Parser::new();
        b.total = 0;
    });
}

/// Parses the `len` bytes JS wrote into the input buffer; returns the data bytes so far.
#[unsafe(no_mangle)]
pub extern "C" fn feed(len: usize) -> usize {
    BENCH.with_borrow_mut(|b| {
        let mut total = b.total;
        // The loop of the websse client (`framing.rs`): every item matched.
        for item in b.parser.feed(&b.input[..len]) {
            match item {
                Ok(event) => total += event.data().len(),
                Err(_) => total += 0,
            }
        }
        b.total = total;
        total
    })
}

/// [`feed`] through the borrowed API, `Parser::feed_with` (what websse's fetch transport
/// calls): no allocation per event.
#[unsafe(no_mangle)]
pub extern "C" fn feed_borrowed(len: usize) -> usize {
    BENCH.with_borrow_mut(|b| {
        let mut total = b.total;
        b.parser.feed_with(&b.input[..len], |item| match item {
            Ok(event) => total += event.data().len(),
            Err(_) => total += 0,
        });
        b.total = total;
        total
    })
}

/// The end of the body; returns the data bytes of the run.
#[unsafe(no_mangle)]
pub extern "C" fn finish() -> usize {
    BENCH.with_borrow_mut(|b| {
        b.parser.finish();
        b.total
    })
}

/// Like `feed`, and appends each event to the output as three length-prefixed (u32 LE) UTF-8
/// strings: type, last event ID, data.
#[unsafe(no_mangle)]
pub extern "C" fn feed_record(len: usize) {
    BENCH.with_borrow_mut(|b| {
        let Bench {
            parser,
            input,
            output,
            ..
        } = b;
        for event in parser.feed(&input[..len]).flatten() {
            record(
                output,
                event.event_type(),
                event.last_event_id(),
                event.data(),
            );
        }
    })
}

/// Appends one event to `output` as `feed_record` describes.
fn record(output: &mut Vec<u8>, event_type: &str, last_event_id: &str, data: &str) {
    for field in [event_type, last_event_id, data] {
        output.extend_from_slice(&(field.len() as u32).to_le_bytes());
        output.extend_from_slice(field.as_bytes());
    }
}

/// [`feed_record`] through `Parser::feed_with`.
#[unsafe(no_mangle)]
pub extern "C" fn feed_record_borrowed(len: usize) {
    BENCH.with_borrow_mut(|b| {
        let Bench {
            parser,
            input,
            output,
            ..
        } = b;
        parser.feed_with(&input[..len], |item| {
            if let Ok(event) = item {
                record(
                    output,
                    event.event_type(),
                    event.last_event_id(),
                    event.data(),
                );
            }
        });
    })
}

/// Empties the output.
#[unsafe(no_mangle)]
pub extern "C" fn clear_output() {
    BENCH.with_borrow_mut(|b| b.output = Vec::new());
}

/// The address of the output.
#[unsafe(no_mangle)]
pub extern "C" fn output_ptr() -> usize {
    BENCH.with_borrow(|b| b.output.as_ptr() as usize)
}

/// The length of the output.
#[unsafe(no_mangle)]
pub extern "C" fn output_len() -> usize {
    BENCH.with_borrow(|b| b.output.len())
}

/// Writes shape `id` into the output (0: OpenAI-shaped, 4000 events; 1: Anthropic-shaped with
/// ids, 4000 deltas; 2: one 8 MiB `data` line; 3: 100,000 events of 16 data bytes, as in the
/// browser bench's flood); returns its length.
#[unsafe(no_mangle)]
pub extern "C" fn shape(id: u32) -> usize {
    let bytes = match id {
        0 => shapes::openai(4000),
        1 => shapes::anthropic(4000, true),
        2 => shapes::line(8 * 1024 * 1024),
        _ => (1..=100_000)
            .flat_map(|i| format!("data: {i:08}abcdefgh\n\n").into_bytes())
            .collect(),
    };
    BENCH.with_borrow_mut(|b| {
        b.output = bytes;
        b.output.len()
    })
}

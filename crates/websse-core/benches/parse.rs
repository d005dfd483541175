//! websse-core against the Rust peers on the same bytes, bytes in -> events out.
//!
//! Every implementation is driven the same way: `futures::executor::block_on` over an in-memory
//! `futures::stream::iter` of the pre-split chunks (sse-codec reads an `AsyncRead`, so it gets a
//! minimal reader that hands out one chunk per read; sseer gets each chunk as a `Bytes` for free,
//! as from an HTTP client). The shapes are in `shapes/mod.rs`, shared with the V8 bench
//! (`bench/v8`). Each run counts the data bytes of the events
//! it gets, so all of them do the same work. Group = shape, function id = implementation,
//! throughput = input bytes (`cargo xtask bench` reads these names).
//!
//! The `feed_line8m_*` groups measure websse-core alone through its own API (a plain `feed`
//! loop, as the websse fetch transport uses it), next to a floor that does no parsing at all:
//! they show what 16 B chunks cost compared with one whole chunk, without the stream harness's
//! own cost per chunk.

use std::convert::Infallible;
use std::hint::black_box;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use eventsource_stream::Eventsource;
use futures::executor::block_on;
use futures::{AsyncRead, StreamExt, stream};

mod shapes;
use shapes::{Split, anthropic, line, openai};

/// Chunks are `'static` (each input is leaked once, see [`leak`]) so that sseer can take them as
/// `Bytes` without a copy, the way an HTTP client hands it its body.
type Run = fn(&[&'static [u8]]) -> usize;

/// The input of a shape, leaked so that its chunks are `'static` (a bench binary runs once).
fn leak(bytes: Vec<u8>) -> &'static [u8] {
    bytes.leak()
}

fn split(bytes: &'static [u8], how: Split) -> Vec<&'static [u8]> {
    shapes::split(bytes, how)
}

fn websse_core(chunks: &[&[u8]]) -> usize {
    block_on(async {
        let mut input = stream::iter(chunks.iter().copied());
        let mut parser = websse_core::Parser::new();
        let mut total = 0;
        while let Some(chunk) = input.next().await {
            for event in parser.feed(chunk) {
                total += event.expect("within the default limit").data().len();
            }
        }
        parser.finish();
        total
    })
}

/// websse-core's borrowed API, `feed_with`: each event's fields are borrowed from the chunk or
/// the parser's buffers (no allocation per event), in the same harness.
fn websse_core_borrowed(chunks: &[&[u8]]) -> usize {
    block_on(async {
        let mut input = stream::iter(chunks.iter().copied());
        let mut parser = websse_core::Parser::new();
        let mut total = 0;
        while let Some(chunk) = input.next().await {
            parser.feed_with(chunk, |event| {
                total += event.expect("within the default limit").data().len();
            });
        }
        parser.finish();
        total
    })
}

fn eventsource_stream(chunks: &[&[u8]]) -> usize {
    block_on(async {
        let input = stream::iter(chunks.iter().map(|chunk| Ok::<_, Infallible>(*chunk)));
        let mut events = input.eventsource();
        let mut total = 0;
        while let Some(event) = events.next().await {
            total += event.expect("valid stream").data.len();
        }
        total
    })
}

/// The smallest `AsyncRead` over the chunks: one chunk (or as much as fits) per read.
struct ChunkReader<'a> {
    chunks: std::slice::Iter<'a, &'a [u8]>,
    current: &'a [u8],
}

impl AsyncRead for ChunkReader<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        while self.current.is_empty() {
            match self.chunks.next() {
                Some(chunk) => self.current = chunk,
                None => return Poll::Ready(Ok(0)),
            }
        }
        let n = self.current.len().min(buf.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = &self.current[n..];
        Poll::Ready(Ok(n))
    }
}

fn sse_codec(chunks: &[&[u8]]) -> usize {
    block_on(async {
        let reader = ChunkReader {
            chunks: chunks.iter(),
            current: &[],
        };
        let mut events = sse_codec::decode_stream(reader);
        let mut total = 0;
        while let Some(event) = events.next().await {
            if let sse_codec::Event::Message { data, .. } = event.expect("valid stream") {
                total += data.len();
            }
        }
        total
    })
}

/// sseer takes each chunk as a `Bytes` (free for a `&'static [u8]`) and slices its events'
/// fields out of it without copying.
fn sseer(chunks: &[&'static [u8]]) -> usize {
    block_on(async {
        let input = stream::iter(chunks.iter().map(|chunk| Ok::<_, Infallible>(*chunk)));
        let mut events = sseer::EventStream::new(input);
        let mut total = 0;
        while let Some(event) = events.next().await {
            total += event.expect("valid stream").data.len();
        }
        total
    })
}

/// The borrowed API's function id (`cargo xtask bench` reads it); timed on the event-heavy
/// shapes, not the one-line `line8m_*` ones, where it does the same work as `feed`.
const BORROWED: &str = "websse-core (borrowed)";

const IMPLS: [(&str, Run); 5] = [
    ("websse-core", websse_core),
    (BORROWED, websse_core_borrowed),
    ("eventsource-stream", eventsource_stream),
    ("sse-codec", sse_codec),
    ("sseer", sseer),
];

/// Times one run of `run` on a 1/16 scale model of the shape and extrapolates quadratically
/// (the worst case of the peers when one line arrives in many chunks).
fn estimate(run: Run, small: &[&'static [u8]]) -> Duration {
    let start = Instant::now();
    black_box(run(small));
    start.elapsed() * 256
}

fn bench_all(
    group: &mut BenchmarkGroup<'_, WallTime>,
    chunks: &[&'static [u8]],
    small: Option<(&[&'static [u8]], Duration)>,
) {
    let expected = websse_core(chunks);
    for (name, run) in IMPLS {
        if name == BORROWED && small.is_some() {
            continue;
        }
        if let Some((small, budget)) = small {
            // The peers go quadratic on one huge line fed in small chunks: leave an
            // implementation out of this group when one run is estimated to take too long.
            let estimate = estimate(run, small);
            if estimate > budget {
                eprintln!("{name}: skipped, one run estimated at {estimate:?} (> {budget:?})");
                continue;
            }
        }
        assert_eq!(run(chunks), expected, "{name} disagrees on the data size");
        group.bench_function(name, |b| b.iter(|| run(black_box(chunks))));
    }
}

fn benches(c: &mut Criterion) {
    let openai = leak(openai(4000));
    let anthropic_ids = leak(anthropic(4000, true));
    let anthropic = leak(anthropic(4000, false));
    let line8m = leak(line(8 * 1024 * 1024));
    let line512k = leak(line(512 * 1024));
    let shapes: [(&str, &'static [u8], Split); 8] = [
        ("openai_1460", openai, Split::Every(1460)),
        ("openai_16", openai, Split::Every(16)),
        ("openai_events", openai, Split::Events),
        ("anthropic_1460", anthropic, Split::Every(1460)),
        ("anthropic_ids_1460", anthropic_ids, Split::Every(1460)),
        ("line8m_whole", line8m, Split::Whole),
        ("line8m_1460", line8m, Split::Every(1460)),
        ("line8m_16", line8m, Split::Every(16)),
    ];
    for (shape, bytes, how) in shapes {
        let chunks = split(bytes, how);
        let mut group = c.benchmark_group(shape);
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.sample_size(20);
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(4));
        let small_chunks = split(line512k, how);
        let small = if shape.starts_with("line8m") {
            // Few, flat samples for the 8 MiB shapes: one peer run can take seconds here.
            group.sample_size(10);
            group.sampling_mode(SamplingMode::Flat);
            Some((&small_chunks[..], Duration::from_secs(5)))
        } else {
            None
        };
        bench_all(&mut group, &chunks, small);
        group.finish();
    }

    // Linearity: the same 16 B feeding over one line of 1, 8 (above) and 32 MiB, each next to
    // the same line whole. Linear time means 16 B chunks cost the same multiple of whole at every
    // size; a quadratic parser's multiple grows with the size. (MB/s alone also falls once the
    // buffers outgrow the caches and the allocator maps fresh pages, whole or chunked.)
    // websse-core only: the peers are quadratic here (see the skips above).
    for (shape, size, how) in [
        ("line1m_whole", 1 << 20, Split::Whole),
        ("line1m_16", 1 << 20, Split::Every(16)),
        ("line32m_whole", 32 << 20, Split::Whole),
        ("line32m_16", 32 << 20, Split::Every(16)),
    ] {
        let bytes = line(size);
        let chunks = shapes::split(&bytes, how);
        let mut group = c.benchmark_group(shape);
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.sample_size(10);
        group.sampling_mode(SamplingMode::Flat);
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(3));
        group.bench_function("websse-core", |b| {
            b.iter(|| websse_core(black_box(&chunks)))
        });
        group.finish();
    }
}

/// websse-core through its own API, a plain loop over `feed` (how the websse fetch transport
/// drives it), without the stream harness the peers need.
#[inline(never)]
fn websse_core_loop(chunks: &[&[u8]]) -> usize {
    let mut parser = websse_core::Parser::new();
    let mut total = 0;
    for chunk in chunks {
        for event in parser.feed(chunk) {
            total += event.expect("within the default limit").data().len();
        }
    }
    parser.finish();
    total
}

/// A floor, not a parser: what the obvious code does with the bytes any SSE parser must handle
/// for a long line, namely look for a line end in each chunk (`memchr2`) and append the chunk to
/// a buffer, then hand the buffer over as text. No fields, no events.
#[inline(never)]
fn copy_floor(chunks: &[&[u8]]) -> usize {
    let mut buffer = Vec::new();
    let mut ends = 0;
    for chunk in chunks {
        if memchr::memchr2(b'\r', b'\n', chunk).is_some() {
            ends += 1;
        }
        buffer.extend_from_slice(chunk);
    }
    let text = String::from_utf8(buffer).expect("ASCII");
    black_box(ends);
    text.len()
}

/// The tightest floor written here, in safe code like websse-core: whole 16-byte blocks, each
/// checked for a line end with a fixed-size compare and appended with a fixed-size copy (the
/// shape of websse-core's fast path), and none of a parser's work: no state, no size limit, no
/// events, no iterator.
#[inline(never)]
fn block_floor(chunks: &[&[u8]]) -> usize {
    let mut buffer = Vec::new();
    for chunk in chunks {
        let (blocks, mut rest) = chunk.as_chunks::<16>();
        for (i, block) in blocks.iter().enumerate() {
            let mut found = 0;
            for &byte in block {
                found |= u8::from(byte == b'\r') | u8::from(byte == b'\n');
            }
            if found != 0 {
                rest = &chunk[i * 16..];
                break;
            }
            buffer.extend_from_slice(block);
        }
        if !rest.is_empty() {
            buffer.extend_from_slice(rest);
        }
    }
    String::from_utf8(buffer).expect("ASCII").len()
}

/// What feeding one line whole, in 1460 B and in 16 B chunks costs through websse-core's plain
/// `feed` loop, with the floors above for scale (the memory-speed floor of a long line).
fn feed_loop(c: &mut Criterion) {
    let bytes = line(8 * 1024 * 1024);
    for (shape, how) in [
        ("feed_line8m_whole", Split::Whole),
        ("feed_line8m_1460", Split::Every(1460)),
        ("feed_line8m_16", Split::Every(16)),
    ] {
        let chunks = shapes::split(&bytes, how);
        let mut group = c.benchmark_group(shape);
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.sample_size(20);
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(4));
        group.bench_function("websse-core", |b| {
            b.iter(|| websse_core_loop(black_box(&chunks)))
        });
        for (name, floor) in [
            ("copy-floor", copy_floor as fn(&[&[u8]]) -> usize),
            ("block-floor", block_floor),
        ] {
            assert_eq!(floor(&chunks), bytes.len());
            group.bench_function(name, |b| b.iter(|| floor(black_box(&chunks))));
        }
        group.finish();
    }
}

criterion_group!(parse, benches, feed_loop);
criterion_main!(parse);

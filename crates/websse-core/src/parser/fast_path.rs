//! The fast path for a long `data` line that arrives in small chunks: whole blocks go straight
//! into the data buffer without a search for the line end per byte.

use super::{Parser, Pending};
use crate::scan::{BLOCK, SMALL_CHUNK, has_line_end, split_line};

impl Parser {
    /// Whether `chunk` takes [`stream_data`](Parser::stream_data)'s fast path: it is small and
    /// continues a `data` value.
    #[inline(always)]
    fn streams(&self, chunk: &[u8]) -> bool {
        chunk.len() < SMALL_CHUNK && self.pending == (Pending::Data { strip_space: false })
    }

    /// `chunk` after [`stream_data`](Parser::stream_data)'s fast path if it takes it, for the two
    /// `Feed` constructors: the check inlined into the caller, the work not.
    #[inline(always)]
    pub(super) fn fast_path<'c>(&mut self, chunk: &'c [u8]) -> &'c [u8] {
        if self.streams(chunk) {
            self.stream_data_call(chunk)
        } else {
            chunk
        }
    }

    /// [`stream_data`](Parser::stream_data), not inlined: for the two `Feed` constructors.
    #[inline(never)]
    fn stream_data_call<'c>(&mut self, chunk: &'c [u8]) -> &'c [u8] {
        self.stream_data(chunk)
    }

    /// The fast path for a small chunk in the middle of a `data` value (a long line arriving in
    /// small pieces): whole 16-byte blocks without a line end go straight into the data buffer,
    /// each with one block compare and one fixed-size copy instead of a search and a `memcpy`
    /// call. In the block that holds the line end, the bytes before it are taken too. Returns
    /// what is left for the general parser: the input from that line end on (so the parser goes
    /// on from there and searches none of the taken bytes again), or the tail shorter than a
    /// block.
    #[inline(always)]
    pub(super) fn stream_data<'c>(&mut self, chunk: &'c [u8]) -> &'c [u8] {
        if !self.streams(chunk) {
            return chunk;
        }
        let (blocks, _) = chunk.as_chunks::<BLOCK>();
        // The event size with the whole chunk in: if that is over the limit, let the general
        // parser find the exact point of overflow.
        let size = self.data_mark + self.line_len + chunk.len();
        if self.exceeds(size) {
            return chunk;
        }
        let mut taken = 0;
        for block in blocks {
            if has_line_end(block) {
                let line = split_line(block).map_or(&block[..], |(line, ..)| line);
                self.data.extend_from_slice(line);
                taken += line.len();
                break;
            }
            self.data.extend_from_slice(block);
            taken += BLOCK;
        }
        self.line_len += taken;
        chunk.get(taken..).unwrap_or_default()
    }
}

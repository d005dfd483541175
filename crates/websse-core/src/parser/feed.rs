//! [`Feed`], the iterator over the events one chunk completes, and what it leaves in the parser
//! when it is dropped before the end of its chunk.

use core::fmt;
use core::iter::FusedIterator;

use super::{Comments, Parser};
use crate::error::Error;
use crate::event::Event;

/// The events completed by one chunk: the iterator returned by [`Parser::feed`] and
/// [`Parser::feed_with_comments`].
///
/// It parses as it is pulled. When dropped early it parses the rest of its chunk and keeps the
/// items in the parser for the next call, so nothing is lost.
#[must_use = "the chunk is parsed as the iterator is pulled; events not taken wait in the parser"]
pub struct Feed<'a, F: FnMut(&str) = fn(&str)> {
    pub(super) parser: &'a mut Parser,
    pub(super) input: &'a [u8],
    pub(super) on_comment: Option<F>,
}

impl<F: FnMut(&str)> fmt::Debug for Feed<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Feed")
            .field("parser", &self.parser)
            .field("unparsed", &self.input.len())
            .finish_non_exhaustive()
    }
}

impl<F: FnMut(&str)> Iterator for Feed<'_, F> {
    type Item = Result<Event, Error>;

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        // Inlined into the caller's loop: the common end of a chunk (nothing left, nothing
        // queued) costs two compares, not a call.
        if self.input.is_empty() && self.parser.queue.is_empty() {
            return None;
        }
        self.pull()
    }
}

impl<F: FnMut(&str)> Feed<'_, F> {
    /// The next item: a queued one first, then one parsed from the input.
    #[inline(always)]
    fn pull(&mut self) -> Option<Result<Event, Error>> {
        let mut on_comment = self.on_comment.as_mut().map(|f| f as &mut dyn FnMut(&str));
        self.parser.pull(&mut self.input, &mut on_comment)
    }
}

impl Parser {
    /// [`Feed::next`]'s work, not generic (see [`Comments`]).
    fn pull(
        &mut self,
        input: &mut &[u8],
        on_comment: &mut Comments<'_>,
    ) -> Option<Result<Event, Error>> {
        if !self.queue.is_empty() {
            return self.queue.pop_front();
        }
        // Only bytes complete items: nothing left, nothing to do.
        if input.is_empty() {
            return None;
        }
        self.parse(input, on_comment)
    }
}

impl<F: FnMut(&str)> FusedIterator for Feed<'_, F> {}

impl<F: FnMut(&str)> Drop for Feed<'_, F> {
    #[inline]
    fn drop(&mut self) {
        if !self.input.is_empty() {
            let mut on_comment = self.on_comment.as_mut().map(|f| f as &mut dyn FnMut(&str));
            self.parser.keep_rest(&mut self.input, &mut on_comment);
        }
    }
}

impl Parser {
    /// Parses what an undrained `Feed` left and queues the items.
    #[cold]
    fn keep_rest(&mut self, input: &mut &[u8], on_comment: &mut Comments<'_>) {
        while let Some(item) = self.parse(input, on_comment) {
            self.queue.push_back(item);
        }
    }
}

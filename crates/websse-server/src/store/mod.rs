//! The answer log: an answer is a sequence of entries, `start` (seq 0), one `delta` per token
//! (seq 1..=n) and one end (seq n + 1), written once by a [`Producer`] and read by any number of
//! [`Cursor`]s, each from its own seq on.
//!
//! Two back ends implement [`AnswerLog`]: [`memory::MemoryLog`] (one process, the default) and
//! [`redis::RedisLog`] (Redis Streams, shared by every instance on the same Redis). Both keep the
//! same contract, which `tests/server/store.rs` checks against both with one list of cases:
//!
//! - the end is an entry of the log, so a reader that resumes after it is told it is complete;
//! - a reader that asks for entries the log no longer holds (expired, evicted or trimmed) gets
//!   [`OpenError::Gone`] up front, or an end with [`EndReason::Gone`] while following, never a gap;
//! - a stop request reaches the producer wherever it runs; a reader going away never stops it;
//! - a producer that dies without ending its answer is noticed and the answer ends `interrupted`.

pub(crate) mod memory;
pub(crate) mod redis;

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::watch;

/// Why an answer ended: the `reason` of the `done` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EndReason {
    /// The whole answer was produced.
    Finished,
    /// Cut short: the stop route, `max_tokens`, or shutdown.
    Stopped,
    /// The model failed; the message says how.
    Error(String),
    /// The producer died (its instance crashed or was killed) before ending the answer.
    Interrupted,
    /// Never stored: the answer expired or was trimmed under a reader that was following it.
    Gone,
}

impl EndReason {
    /// The `reason` field of the `done` event.
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            EndReason::Finished => "finished",
            EndReason::Stopped => "stopped",
            EndReason::Error(_) => "error",
            EndReason::Interrupted => "interrupted",
            EndReason::Gone => "gone",
        }
    }

    /// The `message` field of the `done` event, for errors.
    pub(crate) fn message(&self) -> Option<&str> {
        match self {
            EndReason::Error(m) => Some(m),
            _ => None,
        }
    }

    /// The reason stored as `reason` (and `message`), read back.
    pub(crate) fn parse(reason: &str, message: Option<String>) -> Self {
        match reason {
            "finished" => EndReason::Finished,
            "stopped" => EndReason::Stopped,
            "interrupted" => EndReason::Interrupted,
            "gone" => EndReason::Gone,
            _ => EndReason::Error(message.unwrap_or_else(|| reason.to_owned())),
        }
    }
}

/// One entry of an answer's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    /// Seq 0: the model that answers.
    Start { model: Arc<str> },
    /// One token of the answer.
    Delta(Arc<str>),
    /// The last entry.
    End(EndReason),
}

/// A back end failed (Redis unreachable, a reply of the wrong shape).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoreError(pub(crate) String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why [`AnswerLog::open`] gave no cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// No answer with this id: never created, or expired or evicted as a whole.
    Unknown,
    /// The answer is there, but the entries from the requested seq on were trimmed.
    Gone,
    /// The reader already has everything, the end included.
    Complete,
    /// The requested seq is beyond what was produced; `last` is the last seq in the log.
    Ahead { last: u64 },
    /// The back end failed.
    Store(StoreError),
}

impl From<StoreError> for OpenError {
    fn from(e: StoreError) -> Self {
        OpenError::Store(e)
    }
}

/// Where answers are kept: created, read from any seq, stopped.
pub(crate) trait AnswerLog: Send + Sync + fmt::Debug {
    /// A new answer whose log holds only its start entry.
    fn create<'a>(&'a self, model: &'a str) -> BoxFuture<'a, Result<Box<dyn Producer>, OpenError>>;
    /// A cursor that yields the entries from seq `from` on, live ones included.
    fn open<'a>(
        &'a self,
        sid: &'a str,
        from: u64,
    ) -> BoxFuture<'a, Result<Box<dyn Cursor>, OpenError>>;
    /// Ask the producer of `sid`, on whichever instance it runs, to end the answer `stopped`.
    /// `Ok(false)`: no such answer.
    fn stop<'a>(&'a self, sid: &'a str) -> BoxFuture<'a, Result<bool, StoreError>>;
}

/// The writing end of one answer. Dropped without [`finish`](Producer::finish) (the generating
/// task panicked or was aborted), the answer ends `interrupted`.
pub(crate) trait Producer: Send + fmt::Debug {
    /// The stream id.
    fn sid(&self) -> &str;
    /// Append one delta. An error means the log will take no more (another instance ended the
    /// answer as interrupted, or the back end failed): stop generating.
    fn push<'a>(&'a mut self, text: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Append the end entry.
    fn finish(self: Box<Self>, reason: EndReason) -> BoxFuture<'static, ()>;
    /// Turns `true` once a stop was requested through [`AnswerLog::stop`].
    fn stop_requested(&self) -> watch::Receiver<bool>;
}

/// A reader's position in one answer's log.
pub(crate) trait Cursor: Send {
    /// The next entry and its seq, waiting for the producer when the reader is caught up. After
    /// an [`Entry::End`] there is nothing more to read.
    fn next(&mut self) -> BoxFuture<'_, Result<(u64, Entry), StoreError>>;
}

//! An answer and the store that keeps it resumable, and the chat messages a model answers.
//!
//! An answer is written once, by a generator (the embedded model in `chat`, or the upstream
//! proxy in `upstream`), and read by any number of connections, each with its own cursor; the
//! [`AnswerStore`] keeps finished answers for a while so that a client can resume one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::errors::ApiError;
use crate::util;

/// Most tokens kept by all stored answers together (finished answers are evicted beyond it).
const MAX_STORED_TOKENS: usize = 2_000_000;
/// An answer nobody has read for this long stops being generated.
const ABANDONED_AFTER: Duration = Duration::from_secs(60);

/// Why an answer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DoneReason {
    /// The whole answer was produced.
    Finished,
    /// Cut short: `max_tokens`, shutdown, or nobody listening any more.
    Stopped,
    /// The upstream model failed; the message says how.
    Error(String),
}

/// What the generator has produced so far; readers watch it.
///
/// Readers get it only through `watch` borrows, so they can read the public fields but only this
/// module's methods change them.
#[derive(Debug)]
pub(crate) struct AnswerState {
    /// The tokens produced so far, in order; event `n` (from 1) carries `tokens[n - 1]`.
    pub(crate) tokens: Vec<Arc<str>>,
    /// Why the answer ended, once it has.
    pub(crate) done: Option<DoneReason>,
    finished_at: Option<Instant>,
    readers: usize,
    unread_since: Instant,
}

/// One answer, shared by its generator and its readers.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The stream id, the `<sid>` of the event ids `<sid>:<seq>`.
    pub(crate) sid: String,
    /// The model name announced in the `start` event.
    pub(crate) model: String,
    state: watch::Sender<AnswerState>,
}

impl Answer {
    /// Append one token and wake the readers.
    pub(crate) fn push(&self, token: impl Into<Arc<str>>) {
        let token = token.into();
        self.state.send_modify(|s| {
            if s.done.is_none() {
                s.tokens.push(token);
            }
        });
    }

    /// Mark the answer complete (only the first call counts) and wake the readers.
    pub(crate) fn finish(&self, reason: DoneReason) {
        self.state.send_modify(|s| {
            if s.done.is_none() {
                s.done = Some(reason);
                s.finished_at = Some(Instant::now());
            }
        });
    }

    /// How many tokens were produced so far.
    pub(crate) fn produced(&self) -> usize {
        self.state.borrow().tokens.len()
    }

    /// Nobody has been reading for a while: stop generating.
    pub(crate) fn abandoned(&self) -> bool {
        let s = self.state.borrow();
        s.readers == 0 && s.unread_since.elapsed() >= ABANDONED_AFTER
    }

    /// The state as it is now (hold the borrow briefly: it blocks the generator).
    pub(crate) fn state(&self) -> watch::Ref<'_, AnswerState> {
        self.state.borrow()
    }

    /// A new reader: counted (so the answer is not abandoned) until
    /// [`unsubscribe`](Answer::unsubscribe), and woken by every change.
    pub(crate) fn subscribe(&self) -> watch::Receiver<AnswerState> {
        self.state.send_if_modified(|s| {
            s.readers += 1;
            false
        });
        self.state.subscribe()
    }

    /// A reader from [`subscribe`](Answer::subscribe) is gone; the last one starts the
    /// abandonment clock.
    pub(crate) fn unsubscribe(&self) {
        self.state.send_if_modified(|s| {
            s.readers = s.readers.saturating_sub(1);
            if s.readers == 0 {
                s.unread_since = Instant::now();
            }
            false
        });
    }
}

/// All answers that can still be resumed, bounded in count and age.
#[derive(Debug)]
pub(crate) struct AnswerStore {
    answers: Mutex<HashMap<String, Arc<Answer>>>,
    max: usize,
    ttl: Duration,
}

impl AnswerStore {
    pub(crate) fn new(max: usize, ttl: Duration) -> Self {
        Self {
            answers: Mutex::new(HashMap::new()),
            max,
            ttl,
        }
    }

    /// A new, empty answer; when the store is full the oldest finished answer makes room.
    pub(crate) fn create(&self, model: String) -> Result<Arc<Answer>, ApiError> {
        let mut answers = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
        let ttl = self.ttl;
        answers.retain(|_, a| {
            a.state
                .borrow()
                .finished_at
                .is_none_or(|at| at.elapsed() < ttl)
        });
        // Make room: at most `max` answers and `MAX_STORED_TOKENS` tokens in all; finished
        // answers go first, oldest first.
        let mut stored: usize = answers
            .values()
            .map(|a| a.state.borrow().tokens.len())
            .sum();
        while answers.len() >= self.max || stored > MAX_STORED_TOKENS {
            let oldest = answers
                .iter()
                .filter_map(|(sid, a)| a.state.borrow().finished_at.map(|at| (at, sid.clone())))
                .min();
            let Some((_, sid)) = oldest else {
                if answers.len() >= self.max {
                    return Err(ApiError::busy(
                        "too many answers are being generated; try again shortly",
                    ));
                }
                break;
            };
            if let Some(gone) = answers.remove(&sid) {
                stored = stored.saturating_sub(gone.state.borrow().tokens.len());
            }
        }
        let sid = util::new_stream_id();
        let answer = Arc::new(Answer {
            sid: sid.clone(),
            model,
            state: watch::Sender::new(AnswerState {
                tokens: Vec::new(),
                done: None,
                finished_at: None,
                readers: 0,
                unread_since: Instant::now(),
            }),
        });
        answers.insert(sid, Arc::clone(&answer));
        Ok(answer)
    }

    /// The answer with this id, unless it is unknown or expired.
    pub(crate) fn get(&self, sid: &str) -> Option<Arc<Answer>> {
        let mut answers = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
        let expired = answers
            .get(sid)?
            .state
            .borrow()
            .finished_at
            .is_some_and(|at| at.elapsed() >= self.ttl);
        if expired {
            answers.remove(sid);
            return None;
        }
        answers.get(sid).cloned()
    }
}

/// One chat message of the request.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub(crate) struct Message {
    pub(crate) role: String,
    pub(crate) content: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_is_bounded_and_evicts_finished_answers_first() {
        let store = AnswerStore::new(2, Duration::from_secs(60));
        let a = store.create("m".to_owned()).expect("a");
        let _b = store.create("m".to_owned()).expect("b");
        // Both still generating: no room.
        assert!(store.create("m".to_owned()).is_err());
        a.push("x");
        a.finish(DoneReason::Finished);
        let _c = store.create("m".to_owned()).expect("c evicts a");
        assert!(store.get(&a.sid).is_none());
    }

    #[test]
    fn finished_answers_expire() {
        let store = AnswerStore::new(10, Duration::ZERO);
        let a = store.create("m".to_owned()).expect("a");
        assert!(
            store.get(&a.sid).is_some(),
            "generating answers never expire"
        );
        a.finish(DoneReason::Stopped);
        assert!(store.get(&a.sid).is_none());
    }

    #[test]
    fn finish_counts_once_and_freezes_tokens() {
        let store = AnswerStore::new(10, Duration::from_secs(60));
        let a = store.create("m".to_owned()).expect("a");
        a.push("one ");
        a.finish(DoneReason::Stopped);
        a.push("two ");
        a.finish(DoneReason::Finished);
        assert_eq!(a.produced(), 1);
        assert_eq!(a.state().done, Some(DoneReason::Stopped));
    }
}

//! The in-memory answer log: one process, bounded in answers, entries and age. The default, so
//! the demo runs with nothing else installed.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio::sync::watch;

use super::{AnswerLog, Cursor, EndReason, Entry, OpenError, Producer, StoreError};
use crate::util;

/// Most entries kept by all stored answers together (finished answers are evicted beyond it).
const MAX_STORED_ENTRIES: usize = 2_000_000;

/// What has been written so far; cursors watch it.
#[derive(Debug)]
struct State {
    /// The retained entries; `entries[0]` has seq `first`.
    entries: VecDeque<Entry>,
    first: u64,
    ended: bool,
    finished_at: Option<Instant>,
}

impl State {
    /// The seq the next entry will get.
    fn next_seq(&self) -> u64 {
        self.first + self.entries.len() as u64
    }
}

#[derive(Debug)]
struct Answer {
    state: watch::Sender<State>,
    stop: watch::Sender<bool>,
}

impl Answer {
    fn append(&self, entry: Entry, max_entries: usize) -> bool {
        self.state.send_if_modified(|s| {
            if s.ended {
                return false;
            }
            if matches!(entry, Entry::End(_)) {
                s.ended = true;
                s.finished_at = Some(Instant::now());
            }
            s.entries.push_back(entry);
            while s.entries.len() > max_entries {
                s.entries.pop_front();
                s.first += 1;
            }
            true
        })
    }

    fn expired(&self, ttl: Duration) -> bool {
        self.state
            .borrow()
            .finished_at
            .is_some_and(|at| at.elapsed() >= ttl)
    }
}

/// Answers of this process, at most `max` of them, each kept `ttl` after its end.
#[derive(Debug)]
pub(crate) struct MemoryLog {
    answers: Mutex<HashMap<String, Arc<Answer>>>,
    max: usize,
    ttl: Duration,
    max_entries: usize,
}

impl MemoryLog {
    /// `max_entries` bounds each answer's log: older entries are dropped beyond it.
    pub(crate) fn new(max: usize, ttl: Duration, max_entries: usize) -> Self {
        Self {
            answers: Mutex::new(HashMap::new()),
            max: max.max(1),
            ttl,
            max_entries: max_entries.max(2),
        }
    }

    fn get(&self, sid: &str) -> Option<Arc<Answer>> {
        let mut answers = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
        if answers.get(sid)?.expired(self.ttl) {
            answers.remove(sid);
            return None;
        }
        answers.get(sid).cloned()
    }

    fn create_now(&self, model: &str) -> Result<MemoryProducer, OpenError> {
        let mut answers = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
        let ttl = self.ttl;
        answers.retain(|_, a| !a.expired(ttl));
        // Make room: finished answers go first, oldest first.
        let mut stored: usize = answers
            .values()
            .map(|a| a.state.borrow().entries.len())
            .sum();
        while answers.len() >= self.max || stored > MAX_STORED_ENTRIES {
            let oldest = answers
                .iter()
                .filter_map(|(sid, a)| a.state.borrow().finished_at.map(|at| (at, sid.clone())))
                .min();
            let Some((_, sid)) = oldest else {
                if answers.len() >= self.max {
                    return Err(OpenError::Store(StoreError(
                        "too many answers are being generated; try again shortly".to_owned(),
                    )));
                }
                break;
            };
            if let Some(gone) = answers.remove(&sid) {
                stored = stored.saturating_sub(gone.state.borrow().entries.len());
            }
        }
        let sid = util::new_stream_id();
        let answer = Arc::new(Answer {
            state: watch::Sender::new(State {
                entries: VecDeque::from([Entry::Start {
                    model: model.into(),
                }]),
                first: 0,
                ended: false,
                finished_at: None,
            }),
            stop: watch::Sender::new(false),
        });
        answers.insert(sid.clone(), Arc::clone(&answer));
        Ok(MemoryProducer {
            sid,
            answer,
            max_entries: self.max_entries,
            finished: false,
        })
    }

    fn open_now(&self, sid: &str, from: u64) -> Result<MemoryCursor, OpenError> {
        let answer = self.get(sid).ok_or(OpenError::Unknown)?;
        let rx = answer.state.subscribe();
        {
            let s = rx.borrow();
            let next = s.next_seq();
            if from < s.first {
                return Err(OpenError::Gone);
            }
            if from > next || (from == next && s.ended) {
                return Err(if s.ended {
                    OpenError::Complete
                } else {
                    OpenError::Ahead { last: next - 1 }
                });
            }
        }
        Ok(MemoryCursor { rx, next: from })
    }
}

impl AnswerLog for MemoryLog {
    fn create<'a>(&'a self, model: &'a str) -> BoxFuture<'a, Result<Box<dyn Producer>, OpenError>> {
        let result = self
            .create_now(model)
            .map(|p| Box::new(p) as Box<dyn Producer>);
        Box::pin(async move { result })
    }

    fn open<'a>(
        &'a self,
        sid: &'a str,
        from: u64,
    ) -> BoxFuture<'a, Result<Box<dyn Cursor>, OpenError>> {
        let result = self
            .open_now(sid, from)
            .map(|c| Box::new(c) as Box<dyn Cursor>);
        Box::pin(async move { result })
    }

    fn stop<'a>(&'a self, sid: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        let found = self.get(sid).map(|a| a.stop.send_replace(true)).is_some();
        Box::pin(async move { Ok(found) })
    }
}

/// The producer of one in-memory answer.
#[derive(Debug)]
pub(crate) struct MemoryProducer {
    sid: String,
    answer: Arc<Answer>,
    max_entries: usize,
    finished: bool,
}

impl Producer for MemoryProducer {
    fn sid(&self) -> &str {
        &self.sid
    }

    fn push<'a>(&'a mut self, text: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        let ok = self
            .answer
            .append(Entry::Delta(text.into()), self.max_entries);
        Box::pin(async move {
            if ok {
                Ok(())
            } else {
                Err(StoreError("the answer has already ended".to_owned()))
            }
        })
    }

    fn finish(mut self: Box<Self>, reason: EndReason) -> BoxFuture<'static, ()> {
        self.answer.append(Entry::End(reason), self.max_entries);
        self.finished = true;
        Box::pin(async {})
    }

    fn stop_requested(&self) -> watch::Receiver<bool> {
        self.answer.stop.subscribe()
    }
}

impl Drop for MemoryProducer {
    fn drop(&mut self) {
        if !self.finished {
            self.answer
                .append(Entry::End(EndReason::Interrupted), self.max_entries);
        }
    }
}

/// A reader of one in-memory answer.
#[derive(Debug)]
struct MemoryCursor {
    rx: watch::Receiver<State>,
    next: u64,
}

impl Cursor for MemoryCursor {
    fn next(&mut self) -> BoxFuture<'_, Result<(u64, Entry), StoreError>> {
        Box::pin(async move {
            loop {
                {
                    let s = self.rx.borrow_and_update();
                    if self.next < s.first {
                        // Trimmed under a reader that fell behind.
                        return Ok((self.next, Entry::End(EndReason::Gone)));
                    }
                    let index = usize::try_from(self.next - s.first).unwrap_or(usize::MAX);
                    if let Some(entry) = s.entries.get(index) {
                        let seq = self.next;
                        self.next += 1;
                        return Ok((seq, entry.clone()));
                    }
                }
                if self.rx.changed().await.is_err() {
                    return Ok((self.next, Entry::End(EndReason::Interrupted)));
                }
            }
        })
    }
}

//! What a tab has delivered, to drop what a new leader sends again after a handover.
//!
//! A new leader connects with the newest event id it has delivered as `Last-Event-ID`; the
//! server sends what came after that event, some of which a tab may have delivered already
//! (it was ahead of the new leader). Each tab counts the messages it delivered under each recent
//! id, and after a change of leader drops at most that many messages per id, then delivers
//! everything from the first message that is not such a repeat.

use std::collections::VecDeque;

use crate::Message;

/// How many recent event ids a tab remembers to recognise messages it already delivered.
pub(crate) const REMEMBERED_IDS: usize = 256;

/// How many leaders whose items are dropped a tab remembers.
const RETIRED_LEADERS: usize = 8;

#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// The last event id of the newest message delivered (`None`: no message yet).
    newest: Option<String>,
    /// The most recent distinct non-empty ids with how many messages were delivered under each,
    /// oldest first.
    recent: VecDeque<(String, u32)>,
    /// The leader whose items are delivered.
    leader: Option<String>,
    /// Leaders that have been replaced: their late items are dropped.
    retired: VecDeque<String>,
    /// After a change of leader: how many more repeats to drop per id, until the first message
    /// that is not one.
    budget: Option<Vec<(String, u32)>>,
}

/// Whether an item comes from the leader whose items are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum From {
    /// The current leader.
    Current,
    /// A leader this tab had not heard of (it missed its lead message): a handover.
    New,
    /// A leader that has been replaced.
    Retired,
}

impl Seen {
    /// The id a new connection resumes after (empty: start afresh).
    pub(crate) fn resume_id(&self) -> &str {
        self.newest.as_deref().unwrap_or_default()
    }

    /// `leader` leads now, and connected after `resume` (empty when unknown or none). Any change
    /// of leader is a handover: the first messages may repeat what this tab delivered.
    pub(crate) fn lead(&mut self, leader: &str, resume: &str) {
        // A replaced leader's late word (a lead message still on its way) changes nothing.
        if self.leader.as_deref() == Some(leader) || self.retired.iter().any(|l| l == leader) {
            return;
        }
        if let Some(old) = self.leader.replace(leader.to_owned()) {
            if self.retired.len() == RETIRED_LEADERS {
                self.retired.pop_front();
            }
            self.retired.push_back(old);
        }
        if self.newest.is_none() {
            self.budget = None;
            return;
        }
        // The server resends what followed the event `resume`: of the messages delivered under
        // that id, all but the event itself may come again; of later ids, all of them.
        let budget = self
            .recent
            .iter()
            .map(|(id, count)| {
                let count = if id == resume {
                    count.saturating_sub(1)
                } else {
                    *count
                };
                (id.clone(), count)
            })
            .filter(|(_, count)| *count > 0)
            .collect();
        self.budget = Some(budget);
    }

    /// Where an item from `leader` stands; a new leader becomes the current one.
    pub(crate) fn from(&mut self, leader: &str) -> From {
        match &self.leader {
            Some(current) if current == leader => From::Current,
            _ if self.retired.iter().any(|l| l == leader) => From::Retired,
            _ => {
                // Its lead message was missed, so where it resumed is unknown: every message
                // delivered under an id may come again.
                self.lead(leader, "");
                From::New
            }
        }
    }

    /// Whether `message` is new (to deliver) rather than a repeat after a handover; counts it.
    pub(crate) fn admit(&mut self, message: &Message) -> bool {
        let id = message.last_event_id();
        if let Some(budget) = &mut self.budget {
            match budget.iter_mut().find(|(seen, _)| seen == id) {
                Some((_, left)) if *left > 0 && !id.is_empty() => {
                    *left -= 1;
                    return false;
                }
                _ => self.budget = None,
            }
        }
        if !id.is_empty() {
            match self.recent.back_mut() {
                Some((last, count)) if last == id => *count += 1,
                _ => {
                    if self.recent.len() == REMEMBERED_IDS {
                        self.recent.pop_front();
                    }
                    self.recent.push_back((id.to_owned(), 1));
                }
            }
        }
        match &mut self.newest {
            Some(newest) if newest == id => {}
            newest => *newest = Some(id.to_owned()),
        }
        true
    }

    #[cfg(test)]
    pub(crate) fn remembered(&self) -> usize {
        self.recent.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(data: &str, id: &str) -> Message {
        Message::new("message", data, id)
    }

    fn admitted<'a>(seen: &mut Seen, messages: &[(&'a str, &str)]) -> Vec<&'a str> {
        messages
            .iter()
            .filter(|(data, id)| seen.admit(&msg(data, id)))
            .map(|(data, _)| *data)
            .collect()
    }

    #[test]
    fn after_a_handover_repeats_are_dropped_until_the_first_new_message() {
        let mut seen = Seen::default();
        seen.lead("a", "");
        admitted(&mut seen, &[("1", "1"), ("2", "2"), ("3", "3"), ("4", "4")]);
        assert_eq!(seen.resume_id(), "4");
        // The new leader had only seen 2: it resumes after it, and the server sends 3 and 4 again.
        seen.lead("b", "2");
        let got = admitted(
            &mut seen,
            &[("3", "3"), ("4", "4"), ("5", "5"), ("5b", "5")],
        );
        assert_eq!(got, ["5", "5b"]);
    }

    #[test]
    fn sparse_ids_drop_only_as_many_repeats_as_were_delivered() {
        let mut seen = Seen::default();
        seen.lead("a", "");
        // Event 7 and two events without an id of their own: all three carry the id 7.
        admitted(&mut seen, &[("x", "7"), ("y", "7"), ("z", "7")]);
        // The new leader resumes after 7: the server sends y and z again, then new events that
        // still carry 7.
        seen.lead("b", "7");
        let got = admitted(
            &mut seen,
            &[("y", "7"), ("z", "7"), ("new1", "7"), ("new2", "7")],
        );
        assert_eq!(got, ["new1", "new2"]);
    }

    #[test]
    fn a_new_leader_that_resumes_at_the_newest_id_loses_nothing() {
        let mut seen = Seen::default();
        seen.lead("a", "");
        admitted(&mut seen, &[("x", "7")]);
        seen.lead("b", "7");
        assert_eq!(admitted(&mut seen, &[("new", "7")]), ["new"]);
    }

    #[test]
    fn items_of_a_replaced_leader_are_dropped_and_an_unknown_leader_is_a_handover() {
        let mut seen = Seen::default();
        assert_eq!(seen.from("a"), From::New);
        admitted(&mut seen, &[("1", "1"), ("2", "2")]);
        seen.lead("b", "2");
        assert_eq!(seen.from("a"), From::Retired);
        assert_eq!(seen.from("b"), From::Current);
        // A leader whose lead message was missed: its repeats are dropped all the same.
        assert_eq!(seen.from("c"), From::New);
        assert_eq!(admitted(&mut seen, &[("2", "2"), ("3", "3")]), ["3"]);
        assert_eq!(seen.from("b"), From::Retired);
    }

    #[test]
    fn a_first_leader_delivers_everything() {
        let mut seen = Seen::default();
        seen.lead("a", "");
        assert_eq!(
            admitted(&mut seen, &[("a", "7"), ("b", "7"), ("c", "")]),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn events_without_ids_cannot_be_matched_after_a_handover() {
        let mut seen = Seen::default();
        seen.lead("a", "");
        admitted(&mut seen, &[("a", "")]);
        seen.lead("b", "");
        assert_eq!(admitted(&mut seen, &[("a", "")]), ["a"], "documented");
    }

    #[test]
    fn remembered_ids_are_bounded() {
        let mut seen = Seen::default();
        for i in 0..10 * REMEMBERED_IDS {
            seen.admit(&msg("x", &i.to_string()));
        }
        assert_eq!(seen.remembered(), REMEMBERED_IDS);
        for i in 0..10 * RETIRED_LEADERS {
            seen.lead(&i.to_string(), "");
        }
        assert_eq!(seen.retired.len(), RETIRED_LEADERS);
    }
}

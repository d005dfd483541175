//! What a tab has delivered, to drop what a new leader sends again after a handover.
//!
//! A new leader connects with the newest event id it has delivered as `Last-Event-ID`; the
//! server sends again what came after that event (some servers include the event itself), and a
//! tab that was ahead of the new leader has delivered some of it already. Each tab remembers its
//! recent messages (id and a hash of type and data); after a change of leader, the first
//! messages that repeat that sequence, in order, are dropped, and everything from the first one
//! that does not is delivered. So at most as many messages are dropped per id as were delivered
//! under it: with sparse ids (events without an id of their own carry the last one), new events
//! that still carry the inherited id are not mistaken for repeats.

use std::collections::VecDeque;

use crate::MessageRef;

/// How many recent messages a tab remembers to recognise repeats.
pub(crate) const REMEMBERED: usize = 512;

/// How many leaders whose items are dropped a tab remembers.
const RETIRED_LEADERS: usize = 8;

#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// The last event id of the newest message delivered (`None`: no message yet).
    newest: Option<String>,
    /// The most recent messages with a non-empty id: the id and a hash of type and data,
    /// oldest first.
    recent: VecDeque<(String, u64)>,
    /// The leader whose items are delivered.
    leader: Option<String>,
    /// Leaders that have been replaced: their late items are dropped.
    retired: VecDeque<String>,
    /// After a change of leader: where the repeats stand in `recent` (`Some(None)`: the first
    /// message decides).
    catch_up: Option<Option<usize>>,
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

/// FNV-1a of the type and data: equal messages under one id are repeats.
fn digest(message: MessageRef<'_>) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [message.event_type(), message.data()] {
        for &b in part.as_bytes().iter().chain([0xff].iter()) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

impl Seen {
    /// The id a new connection resumes after (empty: start afresh).
    pub(crate) fn resume_id(&self) -> &str {
        self.newest.as_deref().unwrap_or_default()
    }

    /// `leader` leads now (it connected after `resume`, which the lead message says; the
    /// repeats are recognised whatever it is). Any change of leader is a handover: the first
    /// messages may repeat what this tab delivered.
    pub(crate) fn lead(&mut self, leader: &str, _resume: &str) {
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
        self.catch_up = (!self.recent.is_empty()).then_some(None);
    }

    /// Where an item from `leader` stands; a new leader becomes the current one.
    pub(crate) fn from(&mut self, leader: &str) -> From {
        match &self.leader {
            Some(current) if current == leader => From::Current,
            _ if self.retired.iter().any(|l| l == leader) => From::Retired,
            _ => {
                self.lead(leader, "");
                From::New
            }
        }
    }

    /// Whether `message` is new (to deliver) rather than a repeat after a handover; remembers it.
    pub(crate) fn admit(&mut self, message: MessageRef<'_>) -> bool {
        let id = message.last_event_id();
        let hash = (!id.is_empty()).then(|| digest(message));
        if let Some(cursor) = self.catch_up {
            let same = |(seen, h): &(String, u64)| seen == id && Some(*h) == hash;
            let at = match cursor {
                // The first message after the handover: where does it repeat the past?
                None => self.recent.iter().position(same),
                Some(next) => self.recent.get(next).filter(|e| same(e)).map(|_| next),
            };
            match at {
                Some(at) if hash.is_some() => {
                    self.catch_up = Some(Some(at + 1));
                    return false;
                }
                _ => self.catch_up = None,
            }
        }
        if let Some(hash) = hash {
            if self.recent.len() == REMEMBERED {
                self.recent.pop_front();
            }
            self.recent.push_back((id.to_owned(), hash));
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

    fn msg<'a>(data: &'a str, id: &'a str) -> MessageRef<'a> {
        MessageRef::new("message", data, id)
    }

    fn admitted<'a>(seen: &mut Seen, messages: &[(&'a str, &str)]) -> Vec<&'a str> {
        messages
            .iter()
            .filter(|(data, id)| seen.admit(msg(data, id)))
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
        // A server that resends event 7 itself too.
        seen.lead("c", "7");
        let got = admitted(
            &mut seen,
            &[
                ("x", "7"),
                ("y", "7"),
                ("z", "7"),
                ("new1", "7"),
                ("new2", "7"),
                ("new3", "7"),
            ],
        );
        assert_eq!(got, ["new3"]);
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
    fn a_server_that_resends_the_resume_event_itself_causes_no_repeat() {
        let mut seen = Seen::default();
        seen.lead("a", "");
        admitted(&mut seen, &[("a", "1"), ("b", "2")]);
        seen.lead("b", "2");
        assert_eq!(admitted(&mut seen, &[("b", "2"), ("c", "3")]), ["c"]);
    }

    #[test]
    fn a_different_message_under_a_delivered_id_ends_the_catch_up() {
        let mut seen = Seen::default();
        seen.lead("a", "");
        admitted(&mut seen, &[("a", "1"), ("b", "2")]);
        seen.lead("b", "1");
        assert_eq!(
            admitted(&mut seen, &[("other", "2"), ("b", "2")]),
            ["other", "b"]
        );
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
        for i in 0..10 * REMEMBERED {
            seen.admit(msg("x", &i.to_string()));
        }
        assert_eq!(seen.remembered(), REMEMBERED);
        for i in 0..10 * RETIRED_LEADERS {
            seen.lead(&i.to_string(), "");
        }
        assert_eq!(seen.retired.len(), RETIRED_LEADERS);
    }
}

//! The task that runs a shared stream's transport (in this tab, or as the leader of the tabs)
//! and copies its items into the hub and to the other tabs; as a follower it watches the
//! leader and takes over when it falls silent.
//!
//! Ownership: the hub holds a [`Running`] while it has subscribers. Dropping it stops the driver
//! (which drops the transport on its next poll) and leaves the tabs (a waiting lock request is
//! withdrawn, a held lock released, the channel and every listener closed).

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};

use futures_core::Stream;

use super::member::{Control, Member, now};
use super::wire::Wire;
use crate::share::hub::Hub;
use crate::wasm::{Settled, Timer};
use crate::{ConnectionState, Error, EventStream, Item, Role, Sharing};

/// How often a leader says it is alive (and counts the tabs). Browsers run the timers of a
/// hidden page at most once a second; that is still well within [`SILENT_MS`].
const BEAT_MS: u32 = 500;
/// How long a visible follower waits for a silent leader (frozen, crashed, stalled) before it
/// takes over: with the watch period and the jitter, a handover within 3 s.
const SILENT_MS: f64 = 1500.0;
/// A hidden follower waits longer: a visible one should lead, and its own timers are slow.
const HIDDEN_SILENT_MS: f64 = 10_000.0;
/// How long a visible follower lets a hidden leader lead (its throttled timers slow every tab's
/// reconnects) before it takes over; not at once, so that switching tabs does not reconnect.
const HIDDEN_LEADER_MS: f64 = 10_000.0;
/// How often a follower checks on the leader.
const WATCH_MS: u32 = 250;
/// At most this random extra wait before taking over, so that two followers rarely both do.
const JITTER_MS: f64 = 300.0;
/// How long a leader whose stream ended keeps the lock: the other tabs hear of the end first, so
/// none of them takes the lead of a stream that is over.
const LINGER_MS: u32 = 1000;

/// What a hub keeps while it has subscribers; dropping it releases everything.
pub(crate) struct Running {
    control: Rc<Control>,
    member: Option<Rc<Member>>,
}

impl crate::share::hub::Connection for Running {
    /// Stops the driver (it drops the transport on its next poll); the membership stays until
    /// the subscribers are gone, so that no other tab leads a stream that ended.
    fn stop(&self) {
        self.control.stop();
    }

    fn is_stopped(&self) -> bool {
        self.control.stopped.get()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.control.stop();
        if let Some(member) = &self.member {
            member.leave();
        }
    }
}

/// Starts a hub's connection: at once for a stream shared in this tab; for one shared across
/// tabs, when this tab gets the lock (until then it follows).
pub(crate) fn start(hub: &Rc<RefCell<Hub>>) -> Running {
    let control = Rc::new(Control::default());
    let across_tabs = hub.borrow().across_tabs();
    let member = across_tabs
        .then(|| Member::join(hub, &control))
        .flatten()
        .map(Rc::new);
    if across_tabs && member.is_none() {
        hub.borrow_mut().set_sharing(Sharing::new(Role::Alone, 1));
    }
    let lock = member.as_ref().and_then(|m| m.request_lock(false));
    let driver = Driver {
        hub: Rc::downgrade(hub),
        control: Rc::clone(&control),
        member: member.clone(),
        lock,
        leader: None,
        resume: String::new(),
        stream: None,
        beat: None,
        count: None,
        watch: None,
        take_over_at: None,
        linger: None,
    };
    wasm_bindgen_futures::spawn_local(driver);
    Running { control, member }
}

/// A new leader id: random, so that two leaders never share one (a count from the last leader
/// would repeat when a tab missed its lead message).
fn leader_id() -> String {
    let part = || (js_sys::Math::random() * 9_007_199_254_740_991.0) as u64;
    format!("{:x}{:x}", part(), part())
}

struct Driver {
    hub: Weak<RefCell<Hub>>,
    control: Rc<Control>,
    /// The membership across tabs (`None`: a stream of this tab, or alone).
    member: Option<Rc<Member>>,
    /// The lock request: it settles when the lock is let go, taken or refused.
    lock: Option<Settled>,
    /// This tab's leader id, while its transport runs.
    leader: Option<String>,
    /// The id the leader's connection resumed after.
    resume: String,
    stream: Option<EventStream>,
    beat: Option<Timer>,
    count: Option<Settled>,
    watch: Option<Timer>,
    /// A follower that found the leader silent takes over at this time (with jitter).
    take_over_at: Option<f64>,
    /// A leader whose stream ended holds the lock a little longer.
    linger: Option<Timer>,
}

impl Future for Driver {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if let Some(linger) = &mut this.linger {
            if Pin::new(linger).poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.control.release_lock();
            return Poll::Ready(());
        }
        if this.control.stopped.get() {
            return Poll::Ready(());
        }
        this.control.register(cx);
        let Some(hub) = this.hub.upgrade() else {
            return Poll::Ready(());
        };
        if let Some(member) = this.member.clone() {
            if let Poll::Ready(()) = this.tabs(&hub, &member, cx) {
                return Poll::Ready(());
            }
            if this.leader.is_none() {
                return Poll::Pending;
            }
        } else if this.leader.is_none() {
            let leader = leader_id();
            let (request, _) = hub.borrow_mut().take_lead(&leader);
            this.leader = Some(leader);
            if let Poll::Ready(()) = this.open(&hub, request, cx) {
                return Poll::Ready(());
            }
        }
        this.read(&hub, cx)
    }
}

impl Driver {
    /// The part of a member of the tabs: the lock, the lifecycle, the beat or the watch.
    /// `Ready` when the driver is done.
    fn tabs(
        &mut self,
        hub: &Rc<RefCell<Hub>>,
        member: &Rc<Member>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        let control = Rc::clone(&self.control);
        let lifecycle = control.lifecycle.replace(false);
        if control.frozen.get() {
            // A frozen page runs no code: it must neither lead nor be next in line.
            if self.leader.is_some() {
                self.step_down(hub);
                control.release_lock();
            }
            member.withdraw();
            self.lock = None;
            return Poll::Pending;
        }
        if self.lock.is_none() && !control.granted.get() {
            // Back from a freeze, or the lead was taken: queue for the lock again.
            self.lock = member.request_lock(false);
            member.hello(hub);
            control.heard.set(now());
        }
        if let Some(lock) = &mut self.lock
            && let Poll::Ready(_) = Pin::new(lock).poll(cx)
        {
            if control.granted.get() || self.leader.is_some() {
                // Held, and no longer: another tab took it. Queue for it again.
                control.granted.set(false);
                if self.leader.is_some() {
                    self.step_down(hub);
                }
                control.heard.set(now());
                self.lock = member.request_lock(false);
            } else {
                // The browser refused the lock (an opaque origin, say): this tab goes alone and
                // hears the other tabs no more.
                member.leave();
                self.member = None;
                hub.borrow_mut().set_sharing(Sharing::new(Role::Alone, 1));
                return Poll::Pending;
            }
        }
        if control.granted.get() && self.leader.is_none() {
            return self.lead(hub, member, cx);
        }
        if self.leader.is_some() {
            if lifecycle {
                // Hidden or visible now: the followers hear it at once.
                self.beat = None;
            }
            self.beat(hub, member, cx);
        } else {
            self.watch(member, cx);
        }
        Poll::Pending
    }

    /// This tab got the lock: it connects, resuming after the newest id it delivered, and tells
    /// the others.
    fn lead(&mut self, hub: &Rc<RefCell<Hub>>, member: &Member, cx: &mut Context<'_>) -> Poll<()> {
        let leader = leader_id();
        let (request, resume) = hub.borrow_mut().take_lead(&leader);
        *self.control.leader.borrow_mut() = Some(leader.clone());
        member.post(&Wire::Lead {
            leader: leader.clone(),
            fingerprint: hub.borrow().fingerprint().to_owned(),
            resume: resume.clone(),
        });
        self.leader = Some(leader);
        self.resume = resume;
        self.take_over_at = None;
        self.watch = None;
        self.beat = None;
        self.open(hub, request, cx)
    }

    /// Another tab leads now: this one's transport goes.
    fn step_down(&mut self, hub: &Rc<RefCell<Hub>>) {
        self.stream = None;
        hub.borrow_mut().set_connection(None);
        self.leader = None;
        self.beat = None;
        self.count = None;
        *self.control.leader.borrow_mut() = None;
        let mut hub = hub.borrow_mut();
        let tabs = hub.sharing().map_or(2, |s| s.tabs.max(2));
        hub.set_sharing(Sharing::new(Role::Follower, tabs));
    }

    fn open(
        &mut self,
        hub: &Rc<RefCell<Hub>>,
        request: crate::SseRequest,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        match request.open() {
            Ok(stream) => {
                hub.borrow_mut().set_connection(Some(stream.close_handle()));
                self.stream = Some(stream);
                Poll::Pending
            }
            Err(error) => {
                self.relay(&Err(error.clone()));
                if let Some(leader) = &self.leader {
                    hub.borrow_mut().deliver_from(leader, Err(error));
                }
                self.ended(cx)
            }
        }
    }

    /// A leader says it is alive, answers new tabs and counts them.
    fn beat(&mut self, hub: &Rc<RefCell<Hub>>, member: &Member, cx: &mut Context<'_>) {
        let Some(leader) = self.leader.clone() else {
            return;
        };
        if self.control.hello.replace(false) {
            // A tab joined: tell it who leads and where the stream stands.
            member.post(&Wire::Lead {
                leader: leader.clone(),
                fingerprint: hub.borrow().fingerprint().to_owned(),
                resume: self.resume.clone(),
            });
            let state = hub.borrow().state();
            self.relay(&Ok(Item::State(state)));
            self.beat = None;
        }
        let mut beat_now = self.beat.is_none();
        if let Some(timer) = &mut self.beat
            && Pin::new(timer).poll(cx).is_ready()
        {
            beat_now = true;
        }
        if beat_now {
            let tabs = hub.borrow().sharing().map_or(1, |s| s.tabs);
            member.post(&Wire::Beat {
                leader,
                tabs,
                hidden: self.control.hidden.get(),
            });
            if self.count.is_none() {
                self.count = member.query();
            }
            let mut timer = Timer::new(BEAT_MS);
            let _ = Pin::new(&mut timer).poll(cx);
            self.beat = Some(timer);
        }
        if let Some(count) = &mut self.count
            && let Poll::Ready(snapshot) = Pin::new(count).poll(cx)
        {
            self.count = None;
            if let Ok(snapshot) = snapshot {
                let tabs = member.count(&snapshot).max(1);
                hub.borrow_mut()
                    .set_sharing(Sharing::new(Role::Leader, tabs));
            }
        }
    }

    /// A follower checks on the leader, and takes the lock from one that fell silent (or that
    /// stayed hidden while this tab is visible).
    fn watch(&mut self, member: &Member, cx: &mut Context<'_>) {
        loop {
            let timer = self.watch.get_or_insert_with(|| Timer::new(WATCH_MS));
            if Pin::new(timer).poll(cx).is_pending() {
                break;
            }
            self.watch = None;
        }
        let control = &self.control;
        let t = now();
        let silent = t - control.heard.get();
        let hidden = control.hidden.get();
        let take_over = if hidden {
            silent > HIDDEN_SILENT_MS
        } else {
            silent > SILENT_MS
                || control
                    .leader_hidden_since
                    .get()
                    .is_some_and(|since| t - since > HIDDEN_LEADER_MS)
        };
        if !take_over {
            self.take_over_at = None;
            return;
        }
        let at = *self
            .take_over_at
            .get_or_insert_with(|| t + js_sys::Math::random() * JITTER_MS);
        if t >= at {
            self.take_over_at = None;
            // Granted at once: the silent leader's lock request fails, and it steps down if it
            // ever runs again.
            self.lock = member.request_lock(true);
            control.heard.set(t);
        }
    }

    /// Reads the transport and copies its items into the hub (and, leading, to the other tabs).
    fn read(&mut self, hub: &Rc<RefCell<Hub>>, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let (Some(stream), Some(leader)) = (self.stream.as_mut(), self.leader.as_deref())
            else {
                return Poll::Pending;
            };
            // In a tab of its own, read at the pace of the fastest subscriber (the fetch body
            // then waits in the network); a leader reads on for the other tabs.
            let paced = self.member.is_none();
            if paced && !hub.borrow().wants_more() {
                hub.borrow_mut().park(cx.waker());
                return Poll::Pending;
            }
            // What is left of the last chunk goes first.
            if hub.borrow().has_pending() {
                hub.borrow_mut().deliver_pending();
                continue;
            }
            // A batch at a time: on the fetch transport, every message one chunk of the body
            // completed, handed to the hub as one chunk that the subscribers share.
            let item = match stream.poll_next_batch(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(batch))) => match batch.into_parts() {
                    Ok((chunk, from, to)) => {
                        if let Some(member) = &self.member {
                            for message in chunk.iter(from, to) {
                                member.post_fields(&Wire::message_fields(leader, message));
                            }
                        }
                        hub.borrow_mut()
                            .deliver_chunk_from(leader, chunk, from, to, paced);
                        if self.control.stopped.get() {
                            return Poll::Ready(());
                        }
                        continue;
                    }
                    Err(item) => Ok(item),
                },
                Poll::Ready(Some(Err(error))) => Err(error),
                // Ended without saying so (it always says; to be safe): a clean end.
                Poll::Ready(None) => Ok(Item::State(ConnectionState::Closed)),
            };
            // A failed connection says `Closed` and then its error, both queued at once: take
            // the error, so that the subscribers (and the other tabs) end with it and not
            // cleanly; the hub says `Closed` before it.
            let item = match item {
                Ok(Item::State(ConnectionState::Closed)) => match Pin::new(stream).poll_next(cx) {
                    Poll::Ready(Some(Err(error))) => Err(error),
                    _ => item,
                },
                item => item,
            };
            let leader = leader.to_owned();
            self.relay(&item);
            if hub.borrow_mut().deliver_from(&leader, item) {
                return self.ended(cx);
            }
            if self.control.stopped.get() {
                return Poll::Ready(());
            }
        }
    }

    /// The stream is over (and said so to every tab): the transport goes now; a leader keeps the
    /// lock for [`LINGER_MS`], then lets go.
    fn ended(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.stream = None;
        if self.member.is_none() || !self.control.granted.get() {
            return Poll::Ready(());
        }
        let mut linger = Timer::new(LINGER_MS);
        if Pin::new(&mut linger).poll(cx).is_ready() {
            self.control.release_lock();
            return Poll::Ready(());
        }
        self.linger = Some(linger);
        Poll::Pending
    }

    /// A leader sends an item to the other tabs.
    fn relay(&self, item: &Result<Item, Error>) {
        if let (Some(member), Some(leader)) = (&self.member, &self.leader)
            && let Some(fields) = Wire::item_fields(leader, item)
        {
            member.post_fields(&fields);
        }
    }
}

//! The browser side of a [`SharedStream`](crate::SharedStream): the driver that runs the
//! transport and copies its items into the hub, and, for streams shared across tabs, the tab's
//! membership: a Web Lock request (the holder leads), a `BroadcastChannel` to relay items to the
//! other tabs, and the tab count.
//!
//! Ownership: the hub holds a [`Running`] while it has subscribers. Dropping it stops the driver
//! (a task that drops the transport on its next poll), aborts a pending lock request, releases a
//! held lock, and closes the channel and its listener.
//!
//! Wire format on the channel (arrays of strings and numbers, structured-cloned):
//! `["hello"]` a tab joined; `["lead", epoch]` a tab took the lead; `["tabs", n]` the count;
//! `["item", epoch, kind, ...]` an item from the leader of generation `epoch`.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_core::Stream;
use js_sys::{Array, Promise, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::Hub;
use crate::{
    ConnectionState, Disconnect, Error, EventStream, Item, Message, Role, Sharing, Skipped,
};

#[wasm_bindgen]
extern "C" {
    /// `navigator.locks` (web-sys has it behind its unstable APIs only).
    #[derive(Clone)]
    type LockManager;

    #[wasm_bindgen(method, catch, js_name = request)]
    fn request(
        this: &LockManager,
        name: &str,
        options: &JsValue,
        callback: &js_sys::Function,
    ) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn query(this: &LockManager) -> Result<Promise, JsValue>;
}

/// How often a leader counts the tabs (the lock's holder and waiters).
const COUNT_EVERY: Duration = Duration::from_secs(1);
/// How long a leader whose stream ended keeps the lock: the other tabs hear of the end first, so
/// none of them takes the lead of a stream that is over.
const LINGER: Duration = Duration::from_secs(1);

/// What a hub keeps while it has subscribers; dropping it releases everything.
pub(crate) struct Running {
    control: Rc<Control>,
    _member: Option<Member>,
}

impl Running {
    /// Stops the driver (it drops the transport on its next poll); the membership stays.
    pub(crate) fn stop(&self) {
        self.control.stop();
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.control.stopped.get()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Stop the driver first, then the membership goes (the lock is released).
        self.control.stop();
    }
}

/// Shared by the driver, the lock callback, the channel listener and [`Running`].
#[derive(Default)]
struct Control {
    stopped: Cell<bool>,
    /// This tab holds the lock: it leads.
    granted: Cell<bool>,
    /// Count the tabs (and tell them) soon.
    count: Cell<bool>,
    waker: RefCell<Option<Waker>>,
    /// Resolving it releases the lock, once granted.
    release: RefCell<Option<js_sys::Function>>,
}

impl Control {
    fn wake(&self) {
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }

    fn stop(&self) {
        self.stopped.set(true);
        self.wake();
    }

    fn release_lock(&self) {
        self.granted.set(false);
        if let Some(resolve) = self.release.borrow_mut().take() {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
    }
}

/// Starts a hub's connection: at once for a stream shared in this tab; for one shared across
/// tabs, when this tab gets the lock (until then it follows).
pub(crate) fn start(hub: &Rc<RefCell<Hub>>) -> Running {
    let control = Rc::new(Control::default());
    let across_tabs = hub.borrow().across_tabs;
    let (member, lock_request) = match across_tabs.then(|| Member::join(hub, &control)) {
        Some(Some((member, lock_request))) => (Some(member), Some(lock_request)),
        _ => (None, None),
    };
    if across_tabs && member.is_none() {
        hub.borrow_mut().set_sharing(Sharing::new(Role::Alone, 1));
    }
    let driver = Driver {
        hub: Rc::downgrade(hub),
        control: Rc::clone(&control),
        relay: member.as_ref().map(Member::relay),
        lock_request,
        stream: None,
        epoch: 0,
        count: None,
        tick: None,
        linger: None,
    };
    wasm_bindgen_futures::spawn_local(driver);
    Running {
        control,
        _member: member,
    }
}

/// What a leader needs to relay and count.
struct Relay {
    channel: web_sys::BroadcastChannel,
    locks: LockManager,
    lock_name: String,
}

/// Runs the transport (once this tab may) and copies its items into the hub (and, leading, to
/// the other tabs). A task of its own, so that the leader relays at the connection's pace
/// whatever its own subscribers do.
struct Driver {
    hub: Weak<RefCell<Hub>>,
    control: Rc<Control>,
    relay: Option<Relay>,
    /// The pending lock request: it fails (instead of granting) where locks are unusable.
    lock_request: Option<JsFuture>,
    stream: Option<EventStream>,
    /// This leader's generation.
    epoch: u64,
    count: Option<JsFuture>,
    tick: Option<crate::wasm::Timer>,
    /// A leader whose stream ended holds the lock a little longer.
    linger: Option<crate::wasm::Timer>,
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
        *this.control.waker.borrow_mut() = Some(cx.waker().clone());
        let Some(hub) = this.hub.upgrade() else {
            return Poll::Ready(());
        };
        if this.stream.is_none() {
            if this.relay.is_some() && !this.control.granted.get() {
                let failed = this
                    .lock_request
                    .as_mut()
                    .is_some_and(|request| Pin::new(request).poll(cx).is_ready());
                if !failed {
                    return Poll::Pending;
                }
                // The browser refused the lock (an opaque origin, say): this tab goes alone.
                this.relay = None;
                hub.borrow_mut().set_sharing(Sharing::new(Role::Alone, 1));
            }
            let request = {
                let mut hub = hub.borrow_mut();
                if this.relay.is_some() {
                    this.epoch = hub.seen.epoch + 1;
                    hub.seen.epoch(this.epoch);
                    let tabs = hub.sharing.map_or(1, |s| s.tabs.max(1));
                    hub.set_sharing(Sharing::new(Role::Leader, tabs));
                }
                hub.request_to_connect()
            };
            if let Some(relay) = &this.relay {
                post(&relay.channel, &["lead".into(), (this.epoch as f64).into()]);
                this.control.count.set(true);
            }
            match request.open() {
                Ok(stream) => this.stream = Some(stream),
                Err(error) => {
                    this.relay(&Err(error.clone()));
                    hub.borrow_mut().deliver(Err(error));
                    return this.ended(cx);
                }
            }
        }
        this.count_tabs(&hub, cx);
        loop {
            let Some(stream) = this.stream.as_mut() else {
                return Poll::Ready(());
            };
            // In a tab of its own, read at the pace of the fastest subscriber (the fetch body
            // then waits in the network); a leader reads on for the other tabs.
            if this.relay.is_none() && !hub.borrow().wants_more() {
                hub.borrow_mut().park(cx.waker());
                return Poll::Pending;
            }
            let item = match Pin::new(&mut *stream).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(item)) => item,
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
            this.relay(&item);
            if hub.borrow_mut().deliver(item) {
                return this.ended(cx);
            }
            if this.control.stopped.get() {
                return Poll::Ready(());
            }
        }
    }
}

impl Driver {
    /// The stream is over (and said so to every tab): the transport goes now; a leader keeps the
    /// lock for [`LINGER`], then lets go.
    fn ended(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.stream = None;
        if self.relay.is_none() || !self.control.granted.get() {
            return Poll::Ready(());
        }
        let mut linger = crate::wasm::sleep(LINGER);
        if Pin::new(&mut linger).poll(cx).is_ready() {
            self.control.release_lock();
            return Poll::Ready(());
        }
        self.linger = Some(linger);
        Poll::Pending
    }

    /// A leader sends an item to the other tabs.
    fn relay(&self, item: &Result<Item, Error>) {
        if let Some(relay) = &self.relay
            && let Some(mut fields) = encode(item)
        {
            fields.splice(0..0, ["item".into(), (self.epoch as f64).into()]);
            post(&relay.channel, &fields);
        }
    }

    /// A leader counts the tabs sharing (every second, and when a tab says hello) and tells
    /// them.
    fn count_tabs(&mut self, hub: &Rc<RefCell<Hub>>, cx: &mut Context<'_>) {
        let Some(relay) = &self.relay else {
            return;
        };
        loop {
            let tick = self
                .tick
                .get_or_insert_with(|| crate::wasm::sleep(COUNT_EVERY));
            if Pin::new(tick).poll(cx).is_pending() {
                break;
            }
            self.tick = None;
            self.control.count.set(true);
        }
        if self.count.is_none() && self.control.count.replace(false) {
            self.count = relay.locks.query().ok().map(JsFuture::from);
        }
        let Some(count) = self.count.as_mut() else {
            return;
        };
        let Poll::Ready(snapshot) = Pin::new(count).poll(cx) else {
            return;
        };
        self.count = None;
        let Ok(snapshot) = snapshot else {
            return;
        };
        let named = |list: &str| {
            Reflect::get(&snapshot, &list.into())
                .ok()
                .and_then(|v| v.dyn_into::<Array>().ok())
                .map_or(0, |locks| {
                    locks
                        .iter()
                        .filter(|lock| {
                            Reflect::get(lock, &"name".into())
                                .ok()
                                .and_then(|n| n.as_string())
                                .is_some_and(|n| n == relay.lock_name)
                        })
                        .count()
                })
        };
        let tabs = u32::try_from(named("held") + named("pending"))
            .unwrap_or(u32::MAX)
            .max(1);
        hub.borrow_mut()
            .set_sharing(Sharing::new(Role::Leader, tabs));
        post(&relay.channel, &["tabs".into(), f64::from(tabs).into()]);
    }
}

/// A tab's membership in a stream shared across tabs: its lock request and its channel.
struct Member {
    channel: web_sys::BroadcastChannel,
    locks: LockManager,
    lock_name: String,
    /// Aborts the lock request while it waits.
    abort: web_sys::AbortController,
    control: Rc<Control>,
    _grant: Closure<dyn FnMut(JsValue) -> Promise>,
    _listener: crate::wasm::Listener,
}

impl Member {
    /// Joins the tabs sharing the hub's key: requests the lock and listens on the channel.
    /// Returns the membership and the lock request (for the driver: it settles before the grant
    /// only when the browser refuses). `None` where the browser lacks Web Locks or
    /// `BroadcastChannel`.
    fn join(hub: &Rc<RefCell<Hub>>, control: &Rc<Control>) -> Option<(Member, JsFuture)> {
        let global = js_sys::global();
        let locks = Reflect::get(&global, &"navigator".into())
            .ok()
            .filter(JsValue::is_object)
            .and_then(|navigator| Reflect::get(&navigator, &"locks".into()).ok())
            .filter(JsValue::is_object)?
            .unchecked_into::<LockManager>();
        if !Reflect::has(&global, &"BroadcastChannel".into()).unwrap_or(false) {
            return None;
        }
        let lock_name = format!("websse:{}", hub.borrow().key);
        let channel = web_sys::BroadcastChannel::new(&lock_name).ok()?;
        let abort = web_sys::AbortController::new().ok()?;
        let grant = {
            let control = Rc::clone(control);
            Closure::<dyn FnMut(JsValue) -> Promise>::new(move |_lock: JsValue| {
                // Held until this promise settles: resolved when the membership is dropped, or
                // a while after the stream ended.
                let held = Promise::new(&mut |resolve, _reject| {
                    *control.release.borrow_mut() = Some(resolve);
                });
                if control.stopped.get() {
                    // This tab's stream is over (or going): pass the lock on.
                    control.release_lock();
                } else {
                    control.granted.set(true);
                    control.wake();
                }
                held
            })
        };
        let options = js_sys::Object::new();
        Reflect::set(&options, &"signal".into(), &abort.signal()).ok()?;
        let lock_request = locks
            .request(&lock_name, &options, grant.as_ref().unchecked_ref())
            .ok()?;
        let listener = {
            let hub = Rc::downgrade(hub);
            let control = Rc::clone(control);
            let channel = channel.clone();
            crate::wasm::Listener::new(
                &channel.clone(),
                "message",
                Box::new(move |event| {
                    if let Some(event) = event.dyn_ref::<web_sys::MessageEvent>() {
                        on_message(&hub, &control, &channel, &event.data());
                    }
                }),
            )
        };
        post(&channel, &["hello".into()]);
        let member = Member {
            channel,
            locks,
            lock_name,
            abort,
            control: Rc::clone(control),
            _grant: grant,
            _listener: listener,
        };
        Some((member, JsFuture::from(lock_request)))
    }

    fn relay(&self) -> Relay {
        Relay {
            channel: self.channel.clone(),
            locks: self.locks.clone(),
            lock_name: self.lock_name.clone(),
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        // A waiting request is withdrawn; a held lock is released (the next tab takes over).
        self.abort.abort();
        self.control.release_lock();
        self.channel.close();
    }
}

/// A message from another tab.
fn on_message(
    hub: &Weak<RefCell<Hub>>,
    control: &Control,
    channel: &web_sys::BroadcastChannel,
    data: &JsValue,
) {
    let (Some(hub), Some(fields)) = (hub.upgrade(), data.dyn_ref::<Array>()) else {
        return;
    };
    if control.stopped.get() {
        // This tab's stream is over: it neither leads nor follows any more.
        return;
    }
    let leading = control.granted.get();
    let number = |i: u32| fields.get(i).as_f64().unwrap_or(0.0);
    match fields.get(0).as_string().as_deref() {
        Some("hello") if leading => {
            // A tab joined: tell it where the stream stands, and count again.
            let (epoch, state) = {
                let hub = hub.borrow();
                (hub.seen.epoch, hub.state)
            };
            if let Some(mut state) = encode(&Ok(Item::State(state))) {
                state.splice(0..0, ["item".into(), (epoch as f64).into()]);
                post(channel, &state);
            }
            control.count.set(true);
            control.wake();
        }
        Some("tabs") if !leading => {
            // At least the leader and this tab (the leader may count before this tab's lock
            // request is registered).
            let tabs = (number(1) as u32).max(2);
            hub.borrow_mut()
                .set_sharing(Sharing::new(Role::Follower, tabs));
        }
        Some("lead") if !leading => {
            hub.borrow_mut().seen.epoch(number(1) as u64);
        }
        Some("item") if !leading => {
            let Some(item) = decode(&fields.slice(2, fields.length())) else {
                return;
            };
            let mut hub = hub.borrow_mut();
            hub.seen.epoch(number(1) as u64);
            hub.deliver(item);
        }
        _ => {}
    }
}

fn post(channel: &web_sys::BroadcastChannel, fields: &[JsValue]) {
    let array: Array = fields.iter().collect();
    // Fails only once the channel is closed: nobody is left to tell.
    let _ = channel.post_message(&array);
}

/// An item as channel fields (`None` for what is not relayed: sharing notices are per tab).
fn encode(item: &Result<Item, Error>) -> Option<Vec<JsValue>> {
    let s = |text: &str| JsValue::from_str(text);
    let n = |number: f64| JsValue::from_f64(number);
    Some(match item {
        Ok(Item::Message(m)) => vec![s("m"), s(m.event_type()), s(m.data()), s(m.last_event_id())],
        Ok(Item::State(state)) => {
            let mut fields = vec![s("s"), s(state.as_str())];
            if let ConnectionState::Reconnecting {
                attempt,
                delay,
                cause,
            } = state
            {
                let (cause, status) = match cause {
                    Disconnect::EndOfBody => ("end", 0),
                    Disconnect::Network => ("network", 0),
                    Disconnect::Status(status) => ("status", *status),
                    Disconnect::IdleTimeout => ("idle", 0),
                    Disconnect::WokeUp => ("woke", 0),
                    Disconnect::Requested => ("requested", 0),
                    Disconnect::Unauthorized => ("unauthorized", 0),
                    _ => ("unreported", 0),
                };
                fields.extend([
                    n(f64::from(*attempt)),
                    // -1: the delay is not known (the browser's EventSource).
                    n(delay.map_or(-1.0, |d| d.as_secs_f64() * 1e3)),
                    s(cause),
                    n(f64::from(status)),
                ]);
            }
            fields
        }
        Ok(Item::Skipped(Skipped::TooLarge { limit })) => {
            vec![s("k"), s("large"), n(*limit as f64)]
        }
        Ok(Item::Skipped(Skipped::Lagged { count })) => vec![s("k"), s("lag"), n(*count as f64)],
        Ok(_) => return None,
        Err(error) => {
            let (code, value) = match error {
                Error::Status { status } => ("status", n(f64::from(*status))),
                Error::ContentType { content_type } => ("content-type", s(content_type)),
                Error::Network { message } => ("network", s(message)),
                Error::IdleTimeout { timeout } => ("idle", n(timeout.as_secs_f64() * 1e3)),
                Error::EventSourceClosed => ("closed", JsValue::UNDEFINED),
                Error::Js { message } => ("js", s(message)),
                Error::EventSourceUnsupported(what) => ("unsupported", s(what)),
                Error::TransportNotEnabled(feature) => ("not-enabled", s(feature)),
                Error::UnsupportedTarget => ("target", JsValue::UNDEFINED),
                // Not a stream's error (JSON is the consumer's); said as text. Unreachable
                // without the `json` feature.
                #[allow(unreachable_patterns)]
                other => ("js", s(&other.to_string())),
            };
            vec![s("e"), s(code), value]
        }
    })
}

/// What [`Error::EventSourceUnsupported`] can name (see `SseRequest::validate`).
const UNSUPPORTED: [&str; 6] = [
    "methods other than GET",
    "custom headers",
    "a request body",
    "an on_unauthorized hook",
    "framings other than SSE",
    "a starting Last-Event-ID",
];

/// Channel fields back into an item (`None` for anything malformed or unknown: another tab may
/// run another version).
fn decode(fields: &Array) -> Option<Result<Item, Error>> {
    let text = |i: u32| fields.get(i).as_string();
    let number = |i: u32| {
        fields
            .get(i)
            .as_f64()
            .filter(|n| n.is_finite() && *n >= 0.0)
    };
    let ms = |i: u32| number(i).map(|ms| Duration::from_secs_f64(ms.min(1e15) / 1e3));
    Some(match text(0)?.as_str() {
        "m" => Ok(Item::Message(Message::new(text(1)?, text(2)?, text(3)?))),
        "s" => Ok(Item::State(match text(1)?.as_str() {
            "connecting" => ConnectionState::Connecting,
            "open" => ConnectionState::Open,
            "paused" => ConnectionState::Paused,
            "closed" => ConnectionState::Closed,
            "reconnecting" => ConnectionState::Reconnecting {
                attempt: number(2)?.min(f64::from(u32::MAX)) as u32,
                delay: ms(3),
                cause: match text(4)?.as_str() {
                    "end" => Disconnect::EndOfBody,
                    "network" => Disconnect::Network,
                    "status" => Disconnect::Status(number(5)?.min(999.0) as u16),
                    "idle" => Disconnect::IdleTimeout,
                    "woke" => Disconnect::WokeUp,
                    "requested" => Disconnect::Requested,
                    "unauthorized" => Disconnect::Unauthorized,
                    _ => Disconnect::Unreported,
                },
            },
            _ => return None,
        })),
        "k" => Ok(Item::Skipped(match text(1)?.as_str() {
            "large" => Skipped::TooLarge {
                limit: number(2)? as usize,
            },
            "lag" => Skipped::Lagged {
                count: number(2)? as u64,
            },
            _ => return None,
        })),
        "e" => Err(match text(1)?.as_str() {
            "status" => Error::Status {
                status: number(2)?.min(999.0) as u16,
            },
            "content-type" => Error::ContentType {
                content_type: text(2)?,
            },
            "network" => Error::Network { message: text(2)? },
            "idle" => Error::IdleTimeout { timeout: ms(2)? },
            "closed" => Error::EventSourceClosed,
            "unsupported" => {
                let what = text(2)?;
                match UNSUPPORTED.iter().find(|known| **known == what) {
                    Some(known) => Error::EventSourceUnsupported(known),
                    None => Error::Js { message: what },
                }
            }
            "not-enabled" => Error::TransportNotEnabled(match text(2)?.as_str() {
                "fetch" => "fetch",
                _ => "event-source",
            }),
            "target" => Error::UnsupportedTarget,
            _ => Error::Js {
                message: text(2).unwrap_or_default(),
            },
        }),
        _ => return None,
    })
}

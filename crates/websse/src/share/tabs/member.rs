//! A tab's membership in a stream shared across tabs: its Web Lock request (the holder leads),
//! the `BroadcastChannel` it relays and listens on, and the page lifecycle it watches
//! (`visibilitychange`, `freeze`, `resume`). Every listener and closure is owned here and
//! released on [`leave`](Member::leave) or drop.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::task::{Context, Waker};

use js_sys::{Array, Promise, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use super::wire::{Field, Wire, channel_name};
use crate::share::hub::Hub;
use crate::wasm::{Listener, Settled};
use crate::{Role, Sharing};

#[wasm_bindgen]
extern "C" {
    /// `navigator.locks` (web-sys has it behind its unstable APIs only).
    #[derive(Clone)]
    pub(super) type LockManager;

    #[wasm_bindgen(method, catch, js_name = request)]
    fn request(
        this: &LockManager,
        name: &str,
        options: &JsValue,
        callback: &js_sys::Function,
    ) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn query(this: &LockManager) -> Result<Promise, JsValue>;

    /// `performance.now()`: monotonic, unlike `Date.now()` (a clock change moves that).
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    pub(super) fn now() -> f64;
}

/// What the driver, the lock callback, the listeners and `Running` share.
#[derive(Default)]
pub(super) struct Control {
    pub(super) stopped: Cell<bool>,
    /// This tab holds the lock.
    pub(super) granted: Cell<bool>,
    /// This tab's leader id while it leads.
    pub(super) leader: RefCell<Option<String>>,
    /// A tab said hello: the leader tells it where the stream stands.
    pub(super) hello: Cell<bool>,
    /// The page's visibility or lifecycle changed since the driver last looked.
    pub(super) lifecycle: Cell<bool>,
    pub(super) hidden: Cell<bool>,
    pub(super) frozen: Cell<bool>,
    /// When the leader was last heard from (`performance.now()`), and since when its page is
    /// hidden, for a follower's watch.
    pub(super) heard: Cell<f64>,
    pub(super) leader_hidden_since: Cell<Option<f64>>,
    waker: Cell<Option<Waker>>,
    /// Resolving it releases the lock, once granted.
    release: RefCell<Option<js_sys::Function>>,
}

impl Control {
    pub(super) fn register(&self, cx: &Context<'_>) {
        self.waker.set(Some(cx.waker().clone()));
    }

    pub(super) fn wake(&self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    pub(super) fn stop(&self) {
        self.stopped.set(true);
        self.wake();
    }

    pub(super) fn release_lock(&self) {
        self.granted.set(false);
        let resolve = self.release.borrow_mut().take();
        if let Some(resolve) = resolve {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
    }

    fn is_leader(&self, leader: &str) -> bool {
        self.leader.borrow().as_deref() == Some(leader)
    }
}

pub(super) struct Member {
    channel: web_sys::BroadcastChannel,
    locks: LockManager,
    name: String,
    /// Withdraws the waiting lock request.
    abort: RefCell<Option<web_sys::AbortController>>,
    control: Rc<Control>,
    left: Cell<bool>,
    grant: Closure<dyn FnMut(JsValue) -> Promise>,
    _listeners: Vec<Listener>,
}

impl Member {
    /// Joins the tabs sharing the hub's key: listens on the channel and to the page's
    /// lifecycle, and says hello. `None` where the browser lacks Web Locks or
    /// `BroadcastChannel`.
    pub(super) fn join(hub: &Rc<RefCell<Hub>>, control: &Rc<Control>) -> Option<Member> {
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
        let name = channel_name(hub.borrow().key());
        let channel = web_sys::BroadcastChannel::new(&name).ok()?;
        let grant = {
            let control = Rc::clone(control);
            Closure::<dyn FnMut(JsValue) -> Promise>::new(move |_lock: JsValue| {
                // Held until this promise settles: resolved when the tab lets go.
                let held = Promise::new(&mut |resolve, _reject| {
                    *control.release.borrow_mut() = Some(resolve);
                });
                if control.stopped.get() || control.frozen.get() {
                    // This tab's stream is over (or the page is frozen): pass the lock on.
                    control.release_lock();
                } else {
                    control.granted.set(true);
                    control.wake();
                }
                held
            })
        };
        let mut listeners = Vec::new();
        listeners.push({
            let hub = Rc::downgrade(hub);
            let control = Rc::clone(control);
            Listener::new(
                &channel,
                "message",
                Box::new(move |event| {
                    if let Some(event) = event.dyn_ref::<web_sys::MessageEvent>() {
                        on_message(&hub, &control, &event.data());
                    }
                }),
            )
        });
        if let Some(document) = Reflect::get(&global, &"document".into())
            .ok()
            .and_then(|d| d.dyn_into::<web_sys::EventTarget>().ok())
        {
            control.hidden.set(is_hidden(&document));
            for event_type in ["visibilitychange", "freeze", "resume"] {
                let control = Rc::clone(control);
                let target = document.clone();
                listeners.push(Listener::new(
                    &document,
                    event_type,
                    Box::new(move |event| {
                        match event.type_().as_str() {
                            "freeze" => control.frozen.set(true),
                            "resume" => control.frozen.set(false),
                            _ => control.hidden.set(is_hidden(&target)),
                        }
                        control.lifecycle.set(true);
                        // The driver runs in this task's microtasks: before the page freezes.
                        control.wake();
                    }),
                ));
            }
        }
        control.heard.set(now());
        let member = Member {
            channel,
            locks,
            name,
            abort: RefCell::new(None),
            control: Rc::clone(control),
            left: Cell::new(false),
            grant,
            _listeners: listeners,
        };
        member.hello(hub);
        Some(member)
    }

    /// Says hello to the other tabs (the leader answers).
    pub(super) fn hello(&self, hub: &Rc<RefCell<Hub>>) {
        let fingerprint = hub.borrow().fingerprint().to_owned();
        self.post(&Wire::Hello { fingerprint });
    }

    /// Asks for the lock (withdrawing a waiting request), or with `steal` takes it from the tab
    /// that holds it. The future settles when the lock is let go, taken, or refused.
    pub(super) fn request_lock(&self, steal: bool) -> Option<Settled> {
        self.withdraw();
        let options = js_sys::Object::new();
        if steal {
            // `steal` and `signal` cannot go together: a steal is granted at once anyway.
            Reflect::set(&options, &"steal".into(), &JsValue::TRUE).ok()?;
        } else {
            let abort = web_sys::AbortController::new().ok()?;
            Reflect::set(&options, &"signal".into(), &abort.signal()).ok()?;
            *self.abort.borrow_mut() = Some(abort);
        }
        let request = self
            .locks
            .request(&self.name, &options, self.grant.as_ref().unchecked_ref())
            .ok()?;
        Some(Settled::new(&request))
    }

    /// Withdraws a waiting lock request (a held lock is not affected).
    pub(super) fn withdraw(&self) {
        if let Some(abort) = self.abort.borrow_mut().take() {
            abort.abort();
        }
    }

    pub(super) fn post(&self, wire: &Wire) {
        if let Some(fields) = wire.encode() {
            self.post_fields(&fields);
        }
    }

    pub(super) fn post_fields(&self, fields: &[Field]) {
        let array: Array = fields
            .iter()
            .map(|field| match field {
                Field::Str(text) => JsValue::from_str(text),
                Field::Num(number) => JsValue::from_f64(*number),
                Field::Other => JsValue::NULL,
            })
            .collect();
        // Fails only once the channel is closed: nobody is left to tell.
        let _ = self.channel.post_message(&array);
    }

    /// How many tabs hold or wait for this stream's lock (`locks.query()`).
    pub(super) fn query(&self) -> Option<Settled> {
        self.locks
            .query()
            .ok()
            .map(|promise| Settled::new(&promise))
    }

    /// Counts this stream's locks, held and waiting, in a `locks.query()` snapshot.
    pub(super) fn count(&self, snapshot: &JsValue) -> u32 {
        let named = |list: &str| {
            Reflect::get(snapshot, &list.into())
                .ok()
                .and_then(|v| v.dyn_into::<Array>().ok())
                .map_or(0, |locks| {
                    locks
                        .iter()
                        .filter(|lock| {
                            Reflect::get(lock, &"name".into())
                                .ok()
                                .and_then(|n| n.as_string())
                                .is_some_and(|n| n == self.name)
                        })
                        .count()
                })
        };
        u32::try_from(named("held") + named("pending")).unwrap_or(u32::MAX)
    }

    /// Leaves for good: the waiting request is withdrawn, a held lock released (the next tab
    /// takes over), and the channel closed.
    pub(super) fn leave(&self) {
        if self.left.replace(true) {
            return;
        }
        self.withdraw();
        self.control.release_lock();
        self.channel.close();
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.leave();
    }
}

fn is_hidden(document: &web_sys::EventTarget) -> bool {
    // `document.hidden` is `visibilityState == "hidden"` (HTML spec); read as a string so that
    // a page that overrides it (tests simulate a hidden page so) is read the same way.
    Reflect::get(document, &"visibilityState".into())
        .ok()
        .and_then(|state| state.as_string())
        .is_some_and(|state| state == "hidden")
}

/// The fields of a posted message (anything but an array is no message of ours).
fn fields(data: &JsValue) -> Option<Vec<Field>> {
    let array = data.dyn_ref::<Array>()?;
    Some(
        array
            .iter()
            .map(|value| {
                if let Some(text) = value.as_string() {
                    Field::Str(text)
                } else if let Some(number) = value.as_f64() {
                    Field::Num(number)
                } else {
                    Field::Other
                }
            })
            .collect(),
    )
}

/// A message from another tab.
fn on_message(hub: &Weak<RefCell<Hub>>, control: &Control, data: &JsValue) {
    let Some(hub) = hub.upgrade() else {
        return;
    };
    if control.stopped.get() {
        // This tab's stream is over: it neither leads nor follows any more.
        return;
    }
    let Some(wire) = fields(data).as_deref().and_then(Wire::decode) else {
        return;
    };
    let leading = control.granted.get();
    match wire {
        Wire::Hello { .. } => {
            if leading {
                control.hello.set(true);
                control.wake();
            }
        }
        Wire::Lead {
            leader,
            fingerprint: theirs,
            resume,
        } => {
            if control.is_leader(&leader) {
                return;
            }
            // Followed even while this tab thinks it leads: the lock is never held twice, so
            // another tab took it (this tab's lock request says so too, a moment later), and
            // its items must not be missed meanwhile. A replaced leader's late word is ignored.
            control.heard.set(now());
            control.leader_hidden_since.set(None);
            let mut hub = hub.borrow_mut();
            if hub.follow(&leader, &theirs, &resume) {
                // Another request under this key: the stream ended with a typed error.
                return;
            }
            let tabs = hub.sharing().map_or(2, |s| s.tabs.max(2));
            hub.set_sharing(Sharing::new(Role::Follower, tabs));
        }
        Wire::Beat {
            leader,
            tabs,
            hidden,
        } => {
            if leading || control.is_leader(&leader) {
                return;
            }
            control.heard.set(now());
            match (hidden, control.leader_hidden_since.get()) {
                (true, None) => control.leader_hidden_since.set(Some(now())),
                (false, _) => control.leader_hidden_since.set(None),
                _ => {}
            }
            let mut hub = hub.borrow_mut();
            if hub.heard_from(&leader) {
                // At least the leader and this tab (the leader may count before this tab's lock
                // request is registered).
                hub.set_sharing(Sharing::new(Role::Follower, tabs.max(2)));
            }
        }
        Wire::Item { leader, item } => {
            if control.is_leader(&leader) {
                return;
            }
            control.heard.set(now());
            hub.borrow_mut().deliver_from(&leader, item);
        }
    }
}

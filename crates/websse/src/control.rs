//! What a stream shares with its close handles and its transport: requests to close and to
//! reconnect, and the task to wake for them. A module of its own so that the stream and the
//! transports both use it without depending on each other.

use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Waker;

use futures_util::task::AtomicWaker;

/// What a [`CloseHandle`](crate::CloseHandle) shares with its stream: the requests to close and to reconnect.
#[derive(Debug, Default)]
pub(crate) struct Control {
    pub(crate) closed: AtomicBool,
    pub(crate) reconnect: AtomicBool,
    /// The task that last polled the stream, woken by [`CloseHandle::close`](crate::CloseHandle::close). An `AtomicWaker`
    /// rather than a `Mutex<Option<Waker>>`: smaller code in every app.
    pub(crate) waker: AtomicWaker,
}

impl Control {
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn register(&self, waker: &Waker) {
        self.waker.register(waker);
    }

    /// Whether a reconnect was asked for since the last call (the request is taken).
    // Read by the transports, so unused natively and with neither transport compiled in.
    #[cfg_attr(
        not(all(
            target_arch = "wasm32",
            any(feature = "fetch", feature = "event-source")
        )),
        allow(dead_code)
    )]
    pub(crate) fn take_reconnect(&self) -> bool {
        self.reconnect.swap(false, Ordering::AcqRel)
    }
}

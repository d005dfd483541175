//! The browser side of a [`SharedStream`](crate::SharedStream): the driver that runs the
//! transport (`driver.rs`), a tab's membership across tabs (`member.rs`: the Web Lock whose
//! holder leads, the `BroadcastChannel`, the page lifecycle) and the wire format between tabs
//! (`wire.rs`, plain Rust and tested natively).

#[cfg(target_arch = "wasm32")]
mod driver;
#[cfg(target_arch = "wasm32")]
mod member;
// Natively the protocol is compiled for its unit tests only.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) mod wire;

#[cfg(target_arch = "wasm32")]
pub(crate) use driver::start;

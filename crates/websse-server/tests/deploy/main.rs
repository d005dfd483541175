//! The server as it is deployed: several instances on one Redis behind nginx, each a real
//! process (so one can be SIGKILLed), nginx a real nginx with its own config per test.
//!
//! Needs `redis-server`, `nginx` and `openssl`; without them each test is skipped with the reason
//! printed, unless `WEBSSE_REQUIRE_SERVICES=1` (as `cargo xtask test` sets, having installed them).

// Shared with the server tests; the deploy tests use only part of it.
#[allow(dead_code)]
#[path = "../server/support.rs"]
mod support;

mod cluster;

mod instances;
mod proxies;

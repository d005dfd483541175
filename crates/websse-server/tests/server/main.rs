//! Integration tests: a real listener on 127.0.0.1:0, a real HTTP client (reqwest), streams
//! parsed with websse-core.

mod support;

mod chat;
mod csp;
mod examples;
mod flood;
mod limits;
mod store;
mod testing;
mod upstream;

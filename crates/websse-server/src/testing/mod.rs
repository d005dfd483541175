//! Test endpoints (`--test-endpoints`): scripted responses with exact bytes, chunk boundaries and
//! delays, a resumable ticker, a per-scenario log of connections, an echo, and a chat-shaped
//! stream of any given text (`/test/markdown`). Every scenario has its own `{key}`, so tests
//! running side by side do not see each other.
//!
//! One module per endpoint family: [`script`] (`/test/script`, `/test/sse`), [`ticker`], [`log`],
//! [`echo`] and [`markdown`]; [`store`] keeps the scenarios they share.

use axum::Router;

use crate::SharedState;
use crate::errors::ApiError;

mod echo;
mod log;
mod markdown;
mod script;
mod store;
mod ticker;

pub(crate) use store::TestStore;

/// Longest scenario key.
const MAX_KEY_LEN: usize = 128;
/// Longest sum of delays in one response.
const MAX_TOTAL_DELAY_MS: u64 = 120_000;

pub(crate) fn routes() -> Router<SharedState> {
    Router::new()
        .merge(script::routes())
        .merge(ticker::routes())
        .merge(log::routes())
        .merge(echo::routes())
        .merge(markdown::routes())
}

fn check_key(key: &str) -> Result<(), ApiError> {
    let ok = !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "scenario key must be 1 to {MAX_KEY_LEN} characters of A-Z a-z 0-9 - _ ."
        )))
    }
}

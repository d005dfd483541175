//! What the fetch transport does after a connection ends: a pure function of how it ended, the
//! request's settings and the attempts so far, so that every rule is tested without a browser.

use std::time::Duration;

use crate::{Disconnect, Error, SseRequest};

/// How one connection ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// `204 No Content`: the server says stop.
    NoContent,
    /// Nothing will make another request succeed (a 404, a wrong content type, ...).
    Fatal(Error),
    /// The page was hidden ([`pause_when_hidden`](SseRequest::pause_when_hidden)).
    Hidden,
    /// The server answered 401.
    Unauthorized,
    /// The body ended cleanly. `healthy`: the connection stayed open for `reset_after`.
    EndOfBody { healthy: bool },
    /// The connection failed or broke off (network, 408/429/5xx, idle timeout).
    Lost {
        why: Disconnect,
        cause: Error,
        retry_after: Option<Duration>,
        healthy: bool,
    },
    /// Reconnect at once: the app asked, or the page woke up (see [`Disconnect::WokeUp`]).
    Now(Disconnect),
}

/// What to do next.
#[derive(Debug)]
pub(crate) enum Next {
    /// End the stream cleanly (`Closed`, then `None`).
    Close,
    /// End the stream with this error (`Closed`, the error, then `None`).
    Fail(Error),
    /// Wait until the page is visible, then connect.
    Pause,
    /// Run the request's `on_unauthorized` hook, then connect at once.
    Refresh,
    /// Connect after `delay`: reconnect attempt `attempt`, because of `cause`.
    Wait {
        attempt: u32,
        delay: Duration,
        cause: Disconnect,
    },
    /// Connect at once, without counting an attempt.
    Now(Disconnect),
}

/// The memory of one stream's reconnects: consecutive failed attempts, and whether the last
/// connect already answered 401 after a refresh.
#[derive(Debug, Default)]
pub(crate) struct Reconnects {
    attempt: u32,
    refreshed: bool,
}

/// What [`Reconnects::next`] needs to know besides the outcome.
pub(crate) struct Context<'a> {
    pub(crate) request: &'a SseRequest,
    /// The id a new request would send as `Last-Event-ID` (empty: none).
    pub(crate) last_event_id: &'a str,
    /// The server's `retry` field, if it sent one.
    pub(crate) server_retry: Option<Duration>,
    /// A random number in `[0, 1)` for the jitter.
    pub(crate) random: f64,
}

impl Reconnects {
    /// The step after `outcome`.
    pub(crate) fn next(&mut self, outcome: Outcome, cx: &Context<'_>) -> Next {
        let refreshed = std::mem::take(&mut self.refreshed);
        let policy = &cx.request.reconnect;
        let (why, cause, retry_after, healthy) = match outcome {
            Outcome::NoContent => return Next::Close,
            Outcome::Fatal(error) => return Next::Fail(error),
            Outcome::Hidden => return Next::Pause,
            Outcome::Now(cause) => return Next::Now(cause),
            Outcome::Unauthorized => {
                // One refresh per 401: a second one in a row means the fresh credentials are
                // refused too, and asking again would loop.
                // Without the cargo feature the hook is never set (`open` refuses it), and this
                // branch is compiled out.
                if cfg!(feature = "auth") && cx.request.on_unauthorized.is_some() && !refreshed {
                    self.refreshed = true;
                    return Next::Refresh;
                }
                return Next::Fail(Error::Status { status: 401 });
            }
            Outcome::EndOfBody { healthy } => {
                let request = cx.request;
                if !request.end_of_body.reconnects(
                    request.framing,
                    &request.method,
                    cx.last_event_id,
                ) {
                    return Next::Close;
                }
                (Disconnect::EndOfBody, None, None, healthy)
            }
            Outcome::Lost {
                why,
                cause,
                retry_after,
                healthy,
            } => (why, Some(cause), retry_after, healthy),
        };
        if healthy {
            self.attempt = 0;
        }
        self.attempt = self.attempt.saturating_add(1);
        let attempt = self.attempt;
        if !policy.allows(attempt) {
            return match cause {
                Some(error) => Next::Fail(error),
                None => Next::Close,
            };
        }
        let computed = policy.delay(attempt, cx.server_retry, cx.random);
        let delay = match retry_after {
            // The server's wait, bounded; from the second attempt in a row never shorter than
            // the policy's own, so that `Retry-After: 0` (or a date in the past, from a clock
            // that runs ahead) cannot make a failing server be retried at the round-trip rate.
            Some(wait) if attempt >= 2 => policy.server_delay(wait).max(computed),
            Some(wait) => policy.server_delay(wait),
            None => computed,
        };
        Next::Wait {
            attempt,
            delay,
            cause: why,
        }
    }
}

/// Whether a wait of `expected_ms` that took `passed_ms` says that the machine slept meanwhile:
/// then whatever the connection was waiting for is stale. Browsers run timers late in hidden
/// tabs (about once a minute after a while) and after long tasks, so only a lateness beyond those
/// counts.
pub(crate) fn slept(expected_ms: f64, passed_ms: f64, hidden: bool) -> bool {
    let allowed = if hidden {
        HIDDEN_LATENESS_MS
    } else {
        VISIBLE_LATENESS_MS
    };
    passed_ms - expected_ms > allowed
}

/// How late a timer of a visible page may be before it counts as a sleep of the machine.
pub(crate) const VISIBLE_LATENESS_MS: f64 = 2_000.0;
/// The same for a hidden page, whose timers browsers throttle to once a minute.
pub(crate) const HIDDEN_LATENESS_MS: f64 = 90_000.0;

#[cfg(test)]
impl PartialEq for Next {
    /// Errors compare by their message (`Error` holds JS messages and is not `PartialEq`).
    fn eq(&self, other: &Self) -> bool {
        format!("{self:?}") == format!("{other:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EndOfBody, Framing, ReconnectPolicy};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn request() -> SseRequest {
        SseRequest::get("/s").reconnect(ReconnectPolicy {
            jitter: 0.0,
            ..ReconnectPolicy::default()
        })
    }

    fn cx<'a>(request: &'a SseRequest, last_event_id: &'a str) -> Context<'a> {
        Context {
            request,
            last_event_id,
            server_retry: None,
            random: 0.0,
        }
    }

    fn lost(status: u16, retry_after: Option<Duration>) -> Outcome {
        Outcome::Lost {
            why: Disconnect::Status(status),
            cause: Error::Status { status },
            retry_after,
            healthy: false,
        }
    }

    fn wait(attempt: u32, delay: Duration, cause: Disconnect) -> Next {
        Next::Wait {
            attempt,
            delay,
            cause,
        }
    }

    #[test]
    fn retry_after_zero_is_honoured_once_then_the_policy_is_the_floor() {
        let r = request();
        let mut reconnects = Reconnects::default();
        let zero = Some(Duration::ZERO);
        assert_eq!(
            reconnects.next(lost(503, zero), &cx(&r, "")),
            wait(1, Duration::ZERO, Disconnect::Status(503))
        );
        assert_eq!(
            reconnects.next(lost(503, zero), &cx(&r, "")),
            wait(2, ms(2000), Disconnect::Status(503))
        );
        assert_eq!(
            reconnects.next(lost(503, zero), &cx(&r, "")),
            wait(3, ms(4000), Disconnect::Status(503))
        );
    }

    #[test]
    fn a_longer_retry_after_wins_over_the_policy() {
        let r = request();
        let mut reconnects = Reconnects::default();
        let minute = Some(Duration::from_secs(60));
        reconnects.next(lost(429, minute), &cx(&r, ""));
        assert_eq!(
            reconnects.next(lost(429, minute), &cx(&r, "")),
            wait(2, Duration::from_secs(60), Disconnect::Status(429))
        );
    }

    #[test]
    fn a_healthy_connection_resets_the_attempts() {
        let r = request();
        let mut reconnects = Reconnects::default();
        for n in 1..=3 {
            assert!(matches!(
                reconnects.next(lost(500, None), &cx(&r, "")),
                Next::Wait { attempt, .. } if attempt == n
            ));
        }
        let healthy = Outcome::Lost {
            why: Disconnect::Network,
            cause: Error::Network {
                message: "reset".into(),
            },
            retry_after: None,
            healthy: true,
        };
        assert_eq!(
            reconnects.next(healthy, &cx(&r, "")),
            wait(1, ms(1000), Disconnect::Network)
        );
    }

    #[test]
    fn the_policy_gives_up_with_the_cause_or_cleanly() {
        let r = request().reconnect(ReconnectPolicy {
            max_attempts: Some(1),
            ..ReconnectPolicy::default()
        });
        let mut reconnects = Reconnects::default();
        assert!(matches!(
            reconnects.next(lost(500, None), &cx(&r, "")),
            Next::Wait { attempt: 1, .. }
        ));
        assert_eq!(
            reconnects.next(lost(500, None), &cx(&r, "")),
            Next::Fail(Error::Status { status: 500 })
        );
        let mut reconnects = Reconnects::default();
        let end = || Outcome::EndOfBody { healthy: false };
        assert!(matches!(
            reconnects.next(end(), &cx(&r, "7")),
            Next::Wait { .. }
        ));
        assert_eq!(reconnects.next(end(), &cx(&r, "7")), Next::Close);
    }

    #[test]
    fn end_of_body_follows_the_request() {
        let post = SseRequest::post("/chat");
        let mut reconnects = Reconnects::default();
        let end = || Outcome::EndOfBody { healthy: true };
        assert_eq!(reconnects.next(end(), &cx(&post, "")), Next::Close);
        assert!(matches!(
            reconnects.next(end(), &cx(&post, "s:4")),
            Next::Wait {
                cause: Disconnect::EndOfBody,
                ..
            }
        ));
        let ndjson = SseRequest::get("/lines").framing(Framing::Ndjson);
        assert_eq!(reconnects.next(end(), &cx(&ndjson, "")), Next::Close);
        let forced = ndjson.end_of_body(EndOfBody::Reconnect);
        assert!(matches!(
            reconnects.next(end(), &cx(&forced, "")),
            Next::Wait { .. }
        ));
    }

    #[test]
    fn a_401_refreshes_once_then_fails() {
        if !cfg!(feature = "auth") {
            return;
        }
        let r = request().on_unauthorized(|| async {});
        let mut reconnects = Reconnects::default();
        assert_eq!(
            reconnects.next(Outcome::Unauthorized, &cx(&r, "s:1")),
            Next::Refresh
        );
        assert_eq!(
            reconnects.next(Outcome::Unauthorized, &cx(&r, "s:1")),
            Next::Fail(Error::Status { status: 401 })
        );
        // Not in a row: a later 401 refreshes again.
        let mut reconnects = Reconnects::default();
        assert_eq!(
            reconnects.next(Outcome::Unauthorized, &cx(&r, "")),
            Next::Refresh
        );
        reconnects.next(Outcome::EndOfBody { healthy: true }, &cx(&r, "s:2"));
        assert_eq!(
            reconnects.next(Outcome::Unauthorized, &cx(&r, "s:2")),
            Next::Refresh
        );
    }

    #[test]
    fn a_401_without_a_hook_is_fatal() {
        let r = request();
        assert_eq!(
            Reconnects::default().next(Outcome::Unauthorized, &cx(&r, "")),
            Next::Fail(Error::Status { status: 401 })
        );
    }

    #[test]
    fn wake_ups_reconnect_at_once_without_counting() {
        let r = request();
        let mut reconnects = Reconnects::default();
        reconnects.next(lost(500, None), &cx(&r, ""));
        assert_eq!(
            reconnects.next(Outcome::Now(Disconnect::WokeUp), &cx(&r, "")),
            Next::Now(Disconnect::WokeUp)
        );
        assert!(matches!(
            reconnects.next(lost(500, None), &cx(&r, "")),
            Next::Wait { attempt: 2, .. }
        ));
    }

    #[test]
    fn only_a_timer_far_later_than_throttling_is_a_sleep() {
        assert!(!slept(1000.0, 1000.0, false));
        assert!(!slept(1000.0, 2500.0, false), "a long task");
        assert!(slept(1000.0, 4000.0, false));
        assert!(
            !slept(1000.0, 61_000.0, true),
            "a throttled background timer"
        );
        assert!(slept(1000.0, 1000.0 + HIDDEN_LATENESS_MS + 1.0, true));
    }
}

//! Reconnection: the backoff policy of the fetch transport.

use std::time::Duration;

/// How the fetch transport reconnects.
///
/// The delay before reconnect attempt *n* (1-based, counting consecutive failures) is
/// `min(b × multiplier^(n-1), max(max_delay, base))`, shortened by up to `jitter` (a fraction) at
/// random, where `base` is the server's `retry` field if it sent one and `initial_delay`
/// otherwise, and `b` is `base` for the first attempt and `max(base, min_delay)` after that. So
/// the first reconnect honours the server's `retry` exactly, as the spec's EventSource does, even
/// `retry: 0`, but a server that keeps failing is retried with a growing delay, never in a tight
/// loop.
///
/// A `Retry-After` header on a 408/429/5xx answer replaces the computed delay. Whatever the
/// server asks for (`retry` or `Retry-After`) is bounded by `max_server_delay`.
/// The attempt count goes back to zero once a connection has stayed open for `reset_after`.
///
/// The native [`EventSource`](crate::Transport::EventSource) reconnects by itself; there the
/// policy is not used.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconnectPolicy {
    /// The delay used as base when the server sent no `retry` field (default 1 s).
    pub initial_delay: Duration,
    /// The floor of the base from the second consecutive attempt on (default 100 ms), so that
    /// `retry: 0` does not retry a failing server in a tight loop.
    pub min_delay: Duration,
    /// The factor the delay grows by with each further attempt (default 2).
    pub multiplier: f64,
    /// The largest computed delay (default 30 s; a larger server `retry` is still honoured, up
    /// to `max_server_delay`).
    pub max_delay: Duration,
    /// The longest wait a server can ask for, with its `retry` field or a `Retry-After` header
    /// (default 5 minutes): a larger value, or a far-future date, is cut to this.
    pub max_server_delay: Duration,
    /// The fraction (0.0 to 1.0) by which a delay may be shortened at random, so that many
    /// clients dropped at once do not come back at once (default 0.2).
    pub jitter: f64,
    /// A connection that stayed open this long was healthy: the attempt count is reset
    /// (default 10 s).
    pub reset_after: Duration,
    /// Give up after this many consecutive reconnect attempts (`None`, the default: never give
    /// up; `Some(0)`: never reconnect).
    pub max_attempts: Option<u32>,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            initial_delay: Duration::from_secs(1),
            min_delay: Duration::from_millis(100),
            multiplier: 2.0,
            max_delay: Duration::from_secs(30),
            max_server_delay: Duration::from_secs(300),
            jitter: 0.2,
            reset_after: Duration::from_secs(10),
            max_attempts: None,
        }
    }
}

impl ReconnectPolicy {
    /// A policy that never reconnects: the first lost connection ends the stream.
    pub fn never() -> Self {
        ReconnectPolicy {
            max_attempts: Some(0),
            ..ReconnectPolicy::default()
        }
    }

    /// The delay before reconnect attempt `attempt` (1-based), given the server's `retry` value
    /// and a random number in `[0, 1)` (out-of-range or NaN values are clamped).
    pub fn delay(&self, attempt: u32, server_retry: Option<Duration>, random: f64) -> Duration {
        let base = server_retry.map_or(self.initial_delay, |retry| self.server_delay(retry));
        let cap_delay = self.max_delay.max(base);
        let cap = cap_delay.as_secs_f64();
        // One multiplication for every attempt: the first one's `multiplier^0` is exactly 1,
        // which leaves its base as is.
        let (from, exponent) = if attempt <= 1 {
            (base, 0)
        } else {
            let exponent = i32::try_from(attempt - 1).unwrap_or(i32::MAX);
            (base.max(self.min_delay), exponent)
        };
        let grown = from.as_secs_f64() * self.multiplier.max(1.0).powi(exponent);
        // `f64::min` takes `cap` over an infinite or NaN growth (`0 × ∞`) too.
        let capped = grown.min(cap);
        let jitter = clamp_unit(self.jitter) * clamp_unit(random);
        let secs = capped * (1.0 - jitter);
        if secs >= cap {
            return cap_delay;
        }
        // Whole nanoseconds: `as` saturates (NaN: 0), so no panicking conversion, and no
        // `Duration::try_from_secs_f64` linked into every app (smaller code).
        Duration::from_nanos((secs * 1e9) as u64)
    }

    /// A wait the server asked for (`retry` field or `Retry-After`), bounded by
    /// [`max_server_delay`](ReconnectPolicy::max_server_delay).
    pub fn server_delay(&self, requested: Duration) -> Duration {
        requested.min(self.max_server_delay)
    }

    /// Whether attempt number `attempt` (1-based) is still allowed.
    pub fn allows(&self, attempt: u32) -> bool {
        self.max_attempts.is_none_or(|max| attempt <= max)
    }
}

/// `x` within `[0, 1]`, NaN as 0 (`f64::max` takes the number over a NaN, where `clamp` would
/// return the NaN).
#[allow(clippy::manual_clamp)]
fn clamp_unit(x: f64) -> f64 {
    x.max(0.0).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn no_jitter() -> ReconnectPolicy {
        ReconnectPolicy {
            jitter: 0.0,
            ..ReconnectPolicy::default()
        }
    }

    #[test]
    fn backoff_doubles_from_the_initial_delay() {
        let p = no_jitter();
        assert_eq!(p.delay(1, None, 0.5), ms(1000));
        assert_eq!(p.delay(2, None, 0.5), ms(2000));
        assert_eq!(p.delay(3, None, 0.5), ms(4000));
    }

    #[test]
    fn backoff_starts_from_the_server_retry() {
        let p = no_jitter();
        assert_eq!(p.delay(1, Some(ms(200)), 0.0), ms(200));
        assert_eq!(p.delay(3, Some(ms(200)), 0.0), ms(800));
    }

    #[test]
    fn backoff_is_capped() {
        let p = no_jitter();
        assert_eq!(p.delay(10, None, 0.0), Duration::from_secs(30));
        assert_eq!(p.delay(u32::MAX, None, 0.0), Duration::from_secs(30));
    }

    #[test]
    fn server_retry_above_the_cap_is_honoured() {
        let p = no_jitter();
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(60)), 0.0),
            Duration::from_secs(60)
        );
        assert_eq!(
            p.delay(5, Some(Duration::from_secs(60)), 0.0),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn jitter_only_shortens_within_its_fraction() {
        let p = ReconnectPolicy::default(); // jitter 0.2
        assert_eq!(p.delay(1, None, 0.0), ms(1000));
        assert_eq!(p.delay(1, None, 1.0), ms(800));
        let mid = p.delay(1, None, 0.5);
        assert!(mid > ms(800) && mid < ms(1000), "{mid:?}");
    }

    #[test]
    fn jitter_clamps_bad_random_values() {
        let p = ReconnectPolicy::default();
        assert_eq!(p.delay(1, None, f64::NAN), ms(1000));
        assert_eq!(p.delay(1, None, 7.0), ms(800));
        assert_eq!(p.delay(1, None, -1.0), ms(1000));
    }

    #[test]
    fn a_growth_that_is_infinite_or_not_a_number_is_capped() {
        let p = ReconnectPolicy {
            min_delay: Duration::ZERO,
            multiplier: f64::INFINITY,
            ..no_jitter()
        };
        // 1 s × ∞, and 0 × ∞ (NaN).
        assert_eq!(p.delay(2, None, 0.0), Duration::from_secs(30));
        assert_eq!(
            p.delay(2, Some(Duration::ZERO), 0.0),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn max_attempts_bounds_attempts() {
        let p = ReconnectPolicy {
            max_attempts: Some(2),
            ..ReconnectPolicy::default()
        };
        assert!(p.allows(1) && p.allows(2) && !p.allows(3));
        assert!(!ReconnectPolicy::never().allows(1));
        assert!(ReconnectPolicy::default().allows(u32::MAX));
    }

    #[test]
    fn retry_zero_is_honoured_once_then_backs_off_from_the_floor() {
        let p = no_jitter();
        let zero = Some(Duration::ZERO);
        assert_eq!(p.delay(1, zero, 0.0), Duration::ZERO);
        assert_eq!(p.delay(2, zero, 0.0), ms(200));
        assert_eq!(p.delay(3, zero, 0.0), ms(400));
        assert_eq!(p.delay(20, zero, 0.0), Duration::from_secs(30));
        // No attempt after the first is ever zero, whatever the server says.
        assert!((2..100).all(|n| p.delay(n, zero, 0.0) >= p.min_delay));
    }

    #[test]
    fn server_delays_are_bounded() {
        let p = no_jitter();
        let week = Duration::from_secs(7 * 24 * 3600);
        assert_eq!(p.server_delay(week), Duration::from_secs(300));
        assert_eq!(p.server_delay(ms(1500)), ms(1500));
        assert_eq!(p.delay(1, Some(week), 0.0), Duration::from_secs(300));
        assert_eq!(p.delay(9, Some(week), 0.0), Duration::from_secs(300));
    }
}

//! Per-client rate limiting: a token bucket per client id (the `x-client-id` header, or
//! `anonymous`), switched on, changed or off while the server runs — what a gateway does to
//! shed one client's flood while other clients keep their service. A refused request gets 429
//! before it takes a slot or a queue place, so a flood that is limited costs the server little.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// The header naming a request's client.
pub const CLIENT_HEADER: &str = "x-client-id";

/// Clients tracked at most; beyond it the least recently seen half is forgotten (a forgotten
/// client starts with a full bucket), so many client ids cannot grow memory without bound.
const MAX_CLIENTS: usize = 65_536;

/// A token bucket per client, shared by a server's handlers and its owner.
#[derive(Debug, Default)]
pub struct ClientLimit {
    state: Mutex<LimitState>,
    refused: AtomicU64,
}

#[derive(Debug, Default)]
struct LimitState {
    /// Requests per second per client (`None`: no limit).
    rate: Option<f64>,
    /// Per client: tokens and when they were counted.
    buckets: HashMap<String, (f64, Instant)>,
}

impl ClientLimit {
    /// Sets the limit (requests per second per client, bursts up to one second's worth), or
    /// lifts it with `None`; buckets start full.
    pub fn set(&self, per_client_rps: Option<f64>) {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.rate = per_client_rps.filter(|r| r.is_finite() && *r > 0.0);
        state.buckets.clear();
    }

    /// The limit in force.
    pub fn rate(&self) -> Option<f64> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).rate
    }

    /// Whether `client` may send a request now (taking a token when it may).
    pub fn allow(&self, client: &str) -> bool {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(rate) = state.rate else {
            return true;
        };
        let now = Instant::now();
        if state.buckets.len() >= MAX_CLIENTS && !state.buckets.contains_key(client) {
            let mut seen: Vec<Instant> = state.buckets.values().map(|(_, t)| *t).collect();
            seen.sort_unstable();
            let cut = seen[seen.len() / 2];
            state.buckets.retain(|_, (_, t)| *t > cut);
        }
        let burst = rate.max(1.0);
        let (tokens, last) = state.buckets.entry(client.to_string()).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            drop(state);
            self.refused.fetch_add(1, Ordering::Relaxed);
            false
        }
    }

    /// Requests refused so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limited_client_is_refused_and_others_are_not() {
        let limit = ClientLimit::default();
        assert!((0..100).all(|_| limit.allow("red")), "no limit: everything passes");
        limit.set(Some(5.0));
        let passed = (0..100).filter(|_| limit.allow("red")).count();
        assert!((5..=6).contains(&passed), "a burst of one second's worth, got {passed}");
        assert!(limit.allow("customer-1"), "another client keeps its bucket");
        assert_eq!(limit.refused(), 100 - passed as u64);
        limit.set(None);
        assert!(limit.allow("red"));
    }
}

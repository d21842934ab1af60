//! Shared server knowledge: one circuit breaker per ICE server URL, for every connection of a call.
//!
//! A server that failed — for the prober, or under one peer connection — is *demoted* for all of
//! them: a call with six participants pays a dead TURN server's timeout once, not five times.
//! After a cool-down the breaker turns *half-open*: the server is offered again (to whoever
//! restarts next) and the next result closes it (works) or opens it again for twice as long.
//!
//! Sans-IO and clock-free: callers pass `now`, tests run on virtual time.
//!
//! ```text
//!   Closed ──failure──▶ Open{until} ──now ≥ until──▶ HalfOpen ──success──▶ Closed
//!      ▲                    ▲                            │
//!      └──────success───────┴────────failure (cool-down ×2)┘
//! ```

use crate::IceConfig;
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct BreakerTiming {
    /// How long a server stays demoted after its first failure.
    pub first_cooldown: Duration,
    /// Cool-downs double after each failed half-open try, up to this.
    pub max_cooldown: Duration,
}

impl Default for BreakerTiming {
    /// 5 s then doubling to 60 s: the health monitor's own backoff (`monitor`), so a server the
    /// prober retries and a server a call retries come back on the same rhythm.
    fn default() -> Self {
        Self {
            first_cooldown: Duration::from_secs(5),
            max_cooldown: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    /// Demoted until `until`; `cause` is the failure, in plain words.
    Open {
        until: Instant,
        cause: String,
    },
    /// Cool-down over: offered again, waiting for a result.
    HalfOpen {
        cause: String,
    },
}

/// A change worth telling the user (and the event timeline) about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreakerEvent {
    /// The server is now left out of new and restarting connections.
    Demoted { url: String, cause: String },
    /// It works again.
    Restored { url: String },
}

#[derive(Debug)]
struct Breaker {
    state: BreakerState,
    /// Half-open tries that failed since it was demoted (each one waits longer).
    failed_tries: usize,
}

impl Breaker {
    /// An expired cool-down turns the breaker half-open.
    fn refresh(&mut self, now: Instant) {
        if let BreakerState::Open { until, cause } = &self.state
            && now >= *until
        {
            self.state = BreakerState::HalfOpen { cause: cause.clone() };
        }
    }
}

/// The breakers of every URL seen so far (unknown URLs are closed).
#[derive(Debug, Default)]
pub struct ServerBreakers {
    timing: BreakerTiming,
    breakers: HashMap<String, Breaker>,
}

impl ServerBreakers {
    pub fn new(timing: BreakerTiming) -> Self {
        Self {
            timing,
            breakers: HashMap::new(),
        }
    }

    /// `url` failed (a probe, or a connection that relied on it). Returns `Demoted` only when
    /// this failure is news: a second connection reporting the same dead server changes nothing.
    pub fn on_failure(&mut self, url: &str, cause: &str, now: Instant) -> Option<BreakerEvent> {
        let timing = self.timing;
        let cooldowns = crate::backoff::Backoff::doubling(timing.first_cooldown, timing.max_cooldown);
        let breaker = self.breakers.entry(url.to_string()).or_insert(Breaker {
            state: BreakerState::Closed,
            failed_tries: 0,
        });
        breaker.refresh(now);
        match &breaker.state {
            BreakerState::Open { .. } => None,
            BreakerState::Closed => {
                breaker.failed_tries = 0;
                breaker.state = BreakerState::Open {
                    until: now + cooldowns.delay(0),
                    cause: cause.to_string(),
                };
                Some(BreakerEvent::Demoted {
                    url: url.to_string(),
                    cause: cause.to_string(),
                })
            }
            BreakerState::HalfOpen { .. } => {
                // The retry failed too: stay demoted, and wait longer before the next one.
                breaker.failed_tries += 1;
                breaker.state = BreakerState::Open {
                    until: now + cooldowns.delay(breaker.failed_tries),
                    cause: cause.to_string(),
                };
                None
            }
        }
    }

    /// `url` worked. Returns `Restored` if it had been demoted.
    pub fn on_success(&mut self, url: &str) -> Option<BreakerEvent> {
        let breaker = self.breakers.get_mut(url)?;
        let was_demoted = breaker.state != BreakerState::Closed;
        breaker.state = BreakerState::Closed;
        breaker.failed_tries = 0;
        was_demoted.then(|| BreakerEvent::Restored { url: url.to_string() })
    }

    /// The state of `url` at `now` (an expired cool-down reads as half-open).
    pub fn state(&mut self, url: &str, now: Instant) -> BreakerState {
        let Some(breaker) = self.breakers.get_mut(url) else {
            return BreakerState::Closed;
        };
        breaker.refresh(now);
        breaker.state.clone()
    }

    /// May a (re)starting connection use `url` now?
    pub fn usable(&mut self, url: &str, now: Instant) -> bool {
        !matches!(self.state(url, now), BreakerState::Open { .. })
    }

    /// `config` without its demoted URLs, and those URLs with their causes ("url (cause)").
    /// If every URL is demoted, `config` is returned whole: trying the servers we know failed
    /// beats trying none.
    pub fn filter(&mut self, config: &IceConfig, now: Instant) -> (IceConfig, Vec<String>) {
        let mut filtered = config.clone();
        let mut left_out = Vec::new();
        for server in &mut filtered.ice_servers {
            server.urls.retain(|url| match self.state(&url.original, now) {
                BreakerState::Open { cause, .. } => {
                    left_out.push(format!("{} ({cause})", url.original));
                    false
                }
                _ => true,
            });
        }
        filtered.ice_servers.retain(|s| !s.urls.is_empty());
        if filtered.ice_servers.is_empty() && !config.ice_servers.is_empty() {
            return (config.clone(), Vec::new());
        }
        (filtered, left_out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "turn:a.example:3478?transport=udp";
    const B: &str = "turn:b.example:3478?transport=udp";
    const S: Duration = Duration::from_secs(1);

    fn config() -> IceConfig {
        IceConfig::from_json(&format!(
            r#"{{"iceServers":[{{"urls":["{A}"],"username":"u","credential":"p"}},{{"urls":["{B}"],"username":"u","credential":"p"}}]}}"#
        ))
        .unwrap()
    }

    fn urls(config: &IceConfig) -> Vec<String> {
        config.urls().map(|(u, _)| u.original.clone()).collect()
    }

    #[test]
    fn opens_once_when_six_connections_report_the_same_dead_server() {
        let t0 = Instant::now();
        let mut breakers = ServerBreakers::new(BreakerTiming::default());
        let events: Vec<_> = (0..6)
            .filter_map(|peer| {
                breakers.on_failure(A, "relay stopped answering", t0 + peer * 10 * Duration::from_millis(1))
            })
            .collect();
        assert_eq!(
            events,
            vec![BreakerEvent::Demoted {
                url: A.into(),
                cause: "relay stopped answering".into()
            }]
        );
        // Every connection restarting now gets the same, filtered set.
        for peer in 0..6 {
            let (filtered, left_out) = breakers.filter(&config(), t0 + S + peer * 100 * Duration::from_millis(1));
            assert_eq!(urls(&filtered), vec![B.to_string()]);
            assert_eq!(left_out, vec![format!("{A} (relay stopped answering)")]);
        }
    }

    #[test]
    fn half_open_after_the_cooldown_then_closed_by_a_success() {
        let t0 = Instant::now();
        let mut breakers = ServerBreakers::new(BreakerTiming::default());
        breakers.on_failure(A, "timeout", t0);
        assert!(!breakers.usable(A, t0 + 4 * S));
        assert_eq!(
            breakers.state(A, t0 + 5 * S),
            BreakerState::HalfOpen {
                cause: "timeout".into()
            }
        );
        assert!(breakers.usable(A, t0 + 5 * S));
        assert_eq!(breakers.on_success(A), Some(BreakerEvent::Restored { url: A.into() }));
        assert_eq!(breakers.state(A, t0 + 5 * S), BreakerState::Closed);
        assert_eq!(breakers.on_success(A), None, "no news the second time");
    }

    #[test]
    fn a_failed_half_open_try_doubles_the_cooldown_up_to_the_cap() {
        let t0 = Instant::now();
        let mut breakers = ServerBreakers::new(BreakerTiming::default());
        breakers.on_failure(A, "timeout", t0);
        let mut now = t0;
        let mut cooldowns = Vec::new();
        for _ in 0..6 {
            // Find when it turns half-open (1 s resolution), then fail the try.
            let opened = now;
            while !breakers.usable(A, now) {
                now += S;
            }
            cooldowns.push((now - opened).as_secs());
            assert_eq!(
                breakers.on_failure(A, "timeout", now),
                None,
                "already demoted: not news"
            );
        }
        assert_eq!(cooldowns, vec![5, 10, 20, 40, 60, 60]);
    }

    #[test]
    fn when_every_server_is_demoted_all_are_tried_rather_than_none() {
        let t0 = Instant::now();
        let mut breakers = ServerBreakers::new(BreakerTiming::default());
        breakers.on_failure(A, "timeout", t0);
        breakers.on_failure(B, "auth failed", t0);
        let (filtered, left_out) = breakers.filter(&config(), t0 + S);
        assert_eq!(urls(&filtered), vec![A.to_string(), B.to_string()]);
        assert!(left_out.is_empty());
    }

    #[test]
    fn a_success_after_a_failure_resets_the_cooldown() {
        let t0 = Instant::now();
        let mut breakers = ServerBreakers::new(BreakerTiming::default());
        breakers.on_failure(A, "timeout", t0);
        breakers.on_failure(A, "timeout", t0 + 5 * S); // half-open try failed: 10 s
        breakers.on_success(A);
        breakers.on_failure(A, "timeout", t0 + 30 * S);
        assert!(breakers.usable(A, t0 + 35 * S), "back to the first cool-down (5 s)");
    }
}

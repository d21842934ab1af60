//! Re-probing while a call runs, sans-IO: decides when each server × transport is probed again
//! and turns results into status *transitions* worth telling the user about.
//!
//! Healthy servers are re-checked every `healthy_interval`; a failing one backs off (doubling up
//! to `max_backoff`) so a dead server is not hammered, yet its recovery is noticed.

use crate::probe::{ProbeResult, ProbeSpec, ProbeStatus, ProbeTransport};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy)]
pub struct MonitorTiming {
    pub healthy_interval: Duration,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for MonitorTiming {
    fn default() -> Self {
        Self {
            healthy_interval: Duration::from_secs(15),
            first_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// A change of a server's status, with a sentence for the user.
#[derive(Debug, Clone, PartialEq, serde::Serialize, ts_rs::TS)]
pub struct HealthTransition {
    pub url: String,
    pub transport: ProbeTransport,
    /// `None` for the first result.
    pub from: Option<ProbeStatus>,
    pub to: ProbeStatus,
    /// Seconds since the UNIX epoch when the new status was observed.
    pub at_unix: u64,
    /// E.g. "turn:a.example:3478 UDP became unreachable at 12:03:41 UTC: timeout after 4 tries".
    pub message: String,
}

struct Entry {
    spec: ProbeSpec,
    status: Option<ProbeStatus>,
    failures: u32,
    next_probe: Option<Instant>, // None while a probe is in flight
}

/// The schedule and memory of the health monitor.
pub struct Monitor {
    timing: MonitorTiming,
    entries: Vec<Entry>,
}

impl Monitor {
    /// Everything is due at `now`.
    pub fn new(specs: Vec<ProbeSpec>, timing: MonitorTiming, now: Instant) -> Monitor {
        let entries = specs
            .into_iter()
            .map(|spec| Entry {
                spec,
                status: None,
                failures: 0,
                next_probe: Some(now),
            })
            .collect();
        Monitor { timing, entries }
    }

    /// Indices of the specs to probe now; they count as in flight until `on_result`.
    pub fn due(&mut self, now: Instant) -> Vec<usize> {
        let mut due = Vec::new();
        for (i, entry) in self.entries.iter_mut().enumerate() {
            if entry.next_probe.is_some_and(|t| t <= now) {
                entry.next_probe = None;
                due.push(i);
            }
        }
        due
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn spec(&self, index: usize) -> &ProbeSpec {
        &self.entries[index].spec
    }

    /// When something is next due (`None` while everything is in flight).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.entries.iter().filter_map(|e| e.next_probe).min()
    }

    /// Record a result; returns the transition if the status changed.
    pub fn on_result(
        &mut self,
        index: usize,
        result: &ProbeResult,
        now: Instant,
        wall: SystemTime,
    ) -> Option<HealthTransition> {
        let timing = self.timing;
        let entry = &mut self.entries[index];
        if result.status.is_ok() {
            entry.failures = 0;
            entry.next_probe = Some(now + timing.healthy_interval);
        } else {
            entry.failures += 1;
            let backoff = crate::backoff::Backoff::doubling(timing.first_backoff, timing.max_backoff);
            entry.next_probe = Some(now + backoff.delay(entry.failures as usize - 1));
        }
        let from = entry.status.replace(result.status);
        if from == Some(result.status) {
            return None;
        }
        let at_unix = wall.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let status_words = result.status.as_str().replace('_', " ");
        let verb = if from.is_none() { "is" } else { "became" };
        let mut message = format!(
            "{} {} {verb} {status_words} at {} UTC",
            entry.spec.url,
            entry.spec.transport,
            clock(at_unix)
        );
        if let Some(error) = &result.error {
            message.push_str(": ");
            message.push_str(error);
        }
        Some(HealthTransition {
            url: entry.spec.url.original.clone(),
            transport: entry.spec.transport,
            from,
            to: result.status,
            at_unix,
            message,
        })
    }
}

/// HH:MM:SS of a UNIX time (UTC).
fn clock(unix: u64) -> String {
    let s = unix % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IceUrl;

    fn spec() -> ProbeSpec {
        ProbeSpec {
            url: IceUrl::parse("turn:a.example:3478").unwrap(),
            transport: ProbeTransport::Udp,
            credentials: None,
        }
    }

    fn result(status: ProbeStatus, error: Option<&str>) -> ProbeResult {
        ProbeResult {
            status,
            rtt_ms: None,
            mapped_address: None,
            relayed_address: None,
            error: error.map(str::to_owned),
            attempts: 4,
            elapsed_ms: 0.0,
        }
    }

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn healthy_servers_are_rechecked_and_failures_back_off() {
        let t0 = Instant::now();
        let wall = UNIX_EPOCH + Duration::from_secs(12 * 3600 + 3 * 60 + 41);
        let mut m = Monitor::new(vec![spec()], MonitorTiming::default(), t0);
        assert_eq!(m.due(t0), vec![0]);
        assert_eq!(m.poll_timeout(), None, "in flight");
        let first = m.on_result(0, &result(ProbeStatus::Ok, None), t0, wall).unwrap();
        assert_eq!(first.message, "turn:a.example:3478 UDP is ok at 12:03:41 UTC");
        assert_eq!(m.poll_timeout(), Some(t0 + 15 * S));
        assert!(m.due(t0 + 14 * S).is_empty());
        assert_eq!(m.due(t0 + 15 * S), vec![0]);
        assert_eq!(
            m.on_result(0, &result(ProbeStatus::Ok, None), t0 + 15 * S, wall),
            None,
            "no change, no event"
        );

        // Failures: 5 s, 10 s, 20 s, 40 s, then capped at 60 s.
        let mut now = t0 + 30 * S;
        let mut gaps = Vec::new();
        for i in 0..6 {
            m.due(now);
            let event = m.on_result(
                0,
                &result(ProbeStatus::Timeout, Some("no answer to 4 requests in 2.4 s")),
                now,
                wall,
            );
            if i == 0 {
                let event = event.unwrap();
                assert_eq!(event.from, Some(ProbeStatus::Ok));
                assert_eq!(
                    event.message,
                    "turn:a.example:3478 UDP became timeout at 12:03:41 UTC: no answer to 4 requests in 2.4 s"
                );
            } else {
                assert!(event.is_none());
            }
            let next = m.poll_timeout().unwrap();
            gaps.push((next - now).as_secs());
            now = next;
        }
        assert_eq!(gaps, vec![5, 10, 20, 40, 60, 60]);
        // Recovery is reported and the healthy interval resumes.
        m.due(now);
        let back = m.on_result(0, &result(ProbeStatus::Ok, None), now, wall).unwrap();
        assert_eq!((back.from, back.to), (Some(ProbeStatus::Timeout), ProbeStatus::Ok));
        assert_eq!(m.poll_timeout(), Some(now + 15 * S));
    }
}

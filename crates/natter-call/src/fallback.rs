//! When a connection breaks, what to do about it — sans-IO, tested on virtual time.
//!
//! `RestartPolicy` (one per peer connection) turns connection-state changes and time into
//! decisions: restart ICE after a short grace period on `disconnected`, at once on `failed`,
//! again with backoff if a restart does not bring the connection back, and give up with a clear
//! final state after a bounded number of attempts.
//!
//! Why these numbers: consent checks run every 500 ms and the stack declares `disconnected` after
//! 2.5 s without an answer (`webrtc_setup`), so `disconnected` already means ~5 lost checks; the
//! extra 1 s grace lets a path that merely hiccuped come back on its own before we tear it down.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct RestartTiming {
    /// Wait this long in `disconnected` before restarting.
    pub disconnected_grace: Duration,
    /// A restart that has not reached `connected` after this long has failed.
    pub attempt_timeout: Duration,
    /// Pause before restart attempt n+1 (the last value repeats).
    pub backoff: &'static [Duration],
    pub max_attempts: u32,
}

impl Default for RestartTiming {
    fn default() -> Self {
        const BACKOFF: &[Duration] = &[Duration::ZERO, Duration::from_secs(1), Duration::from_secs(2), Duration::from_secs(4)];
        Self { disconnected_grace: Duration::from_secs(1), attempt_timeout: Duration::from_secs(6), backoff: BACKOFF, max_attempts: 5 }
    }
}

/// Connection states the policy cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Connecting,
    Connected,
    Disconnected,
    Failed,
}

/// What the policy wants done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Restart ICE now (attempt counts from 1).
    Restart { attempt: u32 },
    /// Stop trying; the connection stays failed. The reason is for the user.
    GiveUp { reason: String },
}

#[derive(Debug)]
pub struct RestartPolicy {
    timing: RestartTiming,
    attempts: u32,
    /// When to act next (restart or judge an attempt).
    deadline: Option<Instant>,
    /// A restart is in progress (waiting for `connected`).
    restarting: bool,
    gave_up: bool,
}

impl RestartPolicy {
    pub fn new(timing: RestartTiming) -> Self {
        Self { timing, attempts: 0, deadline: None, restarting: false, gave_up: false }
    }

    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    pub fn gave_up(&self) -> bool {
        self.gave_up
    }

    pub fn on_state(&mut self, state: LinkState, now: Instant) {
        if self.gave_up {
            return;
        }
        match state {
            LinkState::Connected => {
                self.attempts = 0;
                self.deadline = None;
                self.restarting = false;
            }
            LinkState::Connecting => {}
            LinkState::Disconnected => {
                if !self.restarting && self.deadline.is_none() {
                    self.deadline = Some(now + self.timing.disconnected_grace);
                }
            }
            LinkState::Failed => {
                if !self.restarting {
                    self.deadline = Some(now);
                } else {
                    // This attempt is over: next one after its backoff.
                    self.restarting = false;
                    self.deadline = Some(now + self.backoff_after(self.attempts));
                }
            }
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    pub fn handle_timeout(&mut self, now: Instant) -> Option<Action> {
        let deadline = self.deadline?;
        if now < deadline || self.gave_up {
            return None;
        }
        if self.restarting {
            // The attempt ran out of time without connecting.
            self.restarting = false;
            self.deadline = Some(now + self.backoff_after(self.attempts));
            return None;
        }
        if self.attempts >= self.timing.max_attempts {
            self.gave_up = true;
            self.deadline = None;
            return Some(Action::GiveUp { reason: format!("no path worked after {} ICE restarts", self.attempts) });
        }
        self.attempts += 1;
        self.restarting = true;
        self.deadline = Some(now + self.timing.attempt_timeout);
        Some(Action::Restart { attempt: self.attempts })
    }

    fn backoff_after(&self, attempt: u32) -> Duration {
        let table = self.timing.backoff;
        table.get(attempt as usize).or(table.last()).copied().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Run the policy to its next action.
    fn next_action(p: &mut RestartPolicy, now: &mut Instant) -> Option<Action> {
        loop {
            let at = p.poll_timeout()?;
            *now = (*now).max(at);
            if let Some(a) = p.handle_timeout(*now) {
                return Some(a);
            }
        }
    }

    #[test]
    fn disconnected_restarts_after_the_grace_unless_it_recovers() {
        let t0 = Instant::now();
        let mut p = RestartPolicy::new(RestartTiming::default());
        p.on_state(LinkState::Connected, t0);
        p.on_state(LinkState::Disconnected, t0);
        assert_eq!(p.poll_timeout(), Some(t0 + 1000 * MS));
        p.on_state(LinkState::Connected, t0 + 500 * MS);
        assert_eq!(p.poll_timeout(), None, "recovered on its own: no restart");

        p.on_state(LinkState::Disconnected, t0 + 2000 * MS);
        assert_eq!(p.handle_timeout(t0 + 2999 * MS), None);
        assert_eq!(p.handle_timeout(t0 + 3000 * MS), Some(Action::Restart { attempt: 1 }));
        p.on_state(LinkState::Connected, t0 + 3400 * MS);
        assert_eq!((p.attempts(), p.poll_timeout()), (0, None));
    }

    #[test]
    fn failed_restarts_at_once_then_backs_off_then_gives_up() {
        let t0 = Instant::now();
        let mut now = t0;
        let mut p = RestartPolicy::new(RestartTiming::default());
        p.on_state(LinkState::Failed, t0);
        let mut times = Vec::new();
        let mut last = None;
        while let Some(action) = next_action(&mut p, &mut now) {
            times.push((now - t0).as_millis());
            last = Some(action.clone());
            if matches!(action, Action::Restart { .. }) {
                // every attempt fails outright 100 ms after it starts
                now += 100 * MS;
                p.on_state(LinkState::Failed, now);
            }
        }
        // attempt 1 at 0; each later one = previous + 100 ms (failure) + backoff(1 s, 2 s, 4 s, 4 s)
        assert_eq!(times, vec![0, 1100, 3200, 7300, 11400, 15500]);
        assert_eq!(last, Some(Action::GiveUp { reason: "no path worked after 5 ICE restarts".into() }));
        assert!(p.gave_up());
        p.on_state(LinkState::Failed, now);
        assert_eq!(p.poll_timeout(), None, "final");
    }

    #[test]
    fn a_restart_that_never_connects_times_out() {
        let t0 = Instant::now();
        let mut p = RestartPolicy::new(RestartTiming::default());
        p.on_state(LinkState::Failed, t0);
        assert_eq!(p.handle_timeout(t0), Some(Action::Restart { attempt: 1 }));
        // silence: no state change at all
        assert_eq!(p.poll_timeout(), Some(t0 + 6000 * MS));
        assert_eq!(p.handle_timeout(t0 + 6000 * MS), None);
        assert_eq!(p.poll_timeout(), Some(t0 + 7000 * MS), "attempt timed out; 1 s backoff");
        assert_eq!(p.handle_timeout(t0 + 7000 * MS), Some(Action::Restart { attempt: 2 }));
    }
}

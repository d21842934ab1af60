//! When a connection breaks, what to do about it — sans-IO, tested on virtual time.
//!
//! `RestartPolicy` (one per peer connection) turns connection-state changes and time into
//! decisions: restart ICE after a short grace period on `disconnected`, at once on `failed`,
//! again with backoff if a restart does not bring the connection back, and give up with a clear
//! final state after a bounded number of attempts. `MediaWatch` notices a link that stopped
//! carrying media (a relay died) a second after the last packet, without waiting for ICE.
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
    pub backoff: natter_ice::backoff::Backoff,
    pub max_attempts: u32,
}

impl Default for RestartTiming {
    fn default() -> Self {
        const BACKOFF: natter_ice::backoff::Backoff = natter_ice::backoff::Backoff::table(&[
            Duration::ZERO,
            Duration::from_secs(1),
            Duration::from_secs(2),
            Duration::from_secs(4),
        ]);
        Self {
            disconnected_grace: Duration::from_secs(1),
            attempt_timeout: Duration::from_secs(6),
            backoff: BACKOFF,
            max_attempts: 5,
        }
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
        Self {
            timing,
            attempts: 0,
            deadline: None,
            restarting: false,
            gave_up: false,
        }
    }

    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    pub fn gave_up(&self) -> bool {
        self.gave_up
    }

    /// Stop trying: what went wrong is nothing an ICE restart can fix (e.g. the other side's
    /// DTLS certificate does not match its fingerprint).
    pub fn give_up(&mut self) {
        self.gave_up = true;
        self.deadline = None;
        self.restarting = false;
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
            return Some(Action::GiveUp {
                reason: format!("no path worked after {} ICE restarts", self.attempts),
            });
        }
        self.attempts += 1;
        self.restarting = true;
        self.deadline = Some(now + self.timing.attempt_timeout);
        Some(Action::Restart { attempt: self.attempts })
    }

    fn backoff_after(&self, attempt: u32) -> Duration {
        self.timing.backoff.delay(attempt as usize)
    }
}

/// How long a connected link may carry no media at all before it counts as broken.
///
/// Why 1 s: a remote that sends anything sends Opus every 20 ms (50 packets a second, silence
/// included) and video at up to 30 fps, so one second without a single packet is 50 missing
/// audio packets — not jitter, not loss (the bench's `turn_failover` measures the effect:
/// without this watch the stack's consent checks notice a dead relay only after 2.5 s, and the
/// restart waits 1 s more).
pub const MEDIA_SILENCE_LIMIT: Duration = Duration::from_millis(1000);

/// Notices that a connected link stopped carrying media, long before ICE consent freshness
/// does (sans-IO: fed with packet counters and time).
#[derive(Debug, Default)]
pub struct MediaWatch {
    last_total: u64,
    /// When media last arrived while expected; `None` = not armed (nothing expected yet).
    last_media: Option<Instant>,
    fired: bool,
}

impl MediaWatch {
    /// `total`: media packets/frames received on this link so far; `expecting`: the link is
    /// connected and the remote sends at least one medium (not everything muted). Returns the
    /// moment media stopped, once, when nothing arrived for [`MEDIA_SILENCE_LIMIT`].
    pub fn observe(&mut self, now: Instant, total: u64, expecting: bool) -> Option<Instant> {
        self.observe_with_limit(now, total, expecting, MEDIA_SILENCE_LIMIT)
    }

    /// [`Self::observe`] with a shorter limit, for when other evidence already says the path
    /// broke (the remote restarted ICE): a few hundred milliseconds of silence confirm it.
    pub fn observe_with_limit(
        &mut self,
        now: Instant,
        total: u64,
        expecting: bool,
        limit: Duration,
    ) -> Option<Instant> {
        let arrived = total != self.last_total;
        self.last_total = total;
        if !expecting {
            self.last_media = None;
            self.fired = false;
            return None;
        }
        if arrived {
            self.last_media = Some(now);
            self.fired = false;
            return None;
        }
        let since = self.last_media?;
        if !self.fired && now.duration_since(since) >= limit {
            self.fired = true;
            return Some(since);
        }
        None
    }
}

impl RestartPolicy {
    /// The link stopped carrying media (see [`MediaWatch`]): restart at once, as on `failed`.
    pub fn on_media_stopped(&mut self, now: Instant) {
        if !self.restarting {
            self.on_state(LinkState::Failed, now);
        }
    }

    /// The remote restarted ICE on a link that had stopped carrying media here too: its restart
    /// is this side's attempt (no second one of our own while it runs), judged like ours: a
    /// restart that does not connect within the attempt timeout is followed by the next.
    pub fn on_remote_restart(&mut self, now: Instant) {
        if self.gave_up || self.restarting {
            return;
        }
        self.attempts += 1;
        self.restarting = true;
        self.deadline = Some(now + self.timing.attempt_timeout);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_watch_fires_once_after_a_second_of_silence() {
        let t0 = Instant::now();
        let mut w = MediaWatch::default();
        assert_eq!(w.observe(t0, 0, true), None, "nothing received yet: not armed");
        assert_eq!(
            w.observe(t0 + 5000 * MS, 0, true),
            None,
            "still nothing: a remote that never sent is setup's business"
        );
        assert_eq!(w.observe(t0 + 5250 * MS, 10, true), None);
        assert_eq!(w.observe(t0 + 5500 * MS, 20, true), None);
        assert_eq!(
            w.observe(t0 + 6250 * MS, 20, true),
            None,
            "750 ms of silence is not enough"
        );
        assert_eq!(
            w.observe(t0 + 6500 * MS, 20, true),
            Some(t0 + 5500 * MS),
            "1 s: stopped since the last packet"
        );
        assert_eq!(w.observe(t0 + 6750 * MS, 20, true), None, "once");
        assert_eq!(w.observe(t0 + 7000 * MS, 25, true), None, "media back");
        assert_eq!(
            w.observe(t0 + 8000 * MS, 25, true),
            Some(t0 + 7000 * MS),
            "and it can fire again"
        );
    }

    #[test]
    fn media_watch_ignores_silence_that_is_expected() {
        let t0 = Instant::now();
        let mut w = MediaWatch::default();
        assert_eq!(w.observe(t0, 10, true), None);
        // The remote muted everything (or the link is reconnecting): silence is normal.
        assert_eq!(w.observe(t0 + 3000 * MS, 10, false), None);
        assert_eq!(
            w.observe(t0 + 3250 * MS, 10, true),
            None,
            "disarmed until media flows again"
        );
        assert_eq!(w.observe(t0 + 9000 * MS, 10, true), None);
    }

    #[test]
    fn media_stopped_restarts_at_once_but_not_during_a_restart() {
        let t0 = Instant::now();
        let mut p = RestartPolicy::new(RestartTiming::default());
        p.on_state(LinkState::Connected, t0);
        p.on_media_stopped(t0);
        assert_eq!(p.handle_timeout(t0), Some(Action::Restart { attempt: 1 }));
        p.on_media_stopped(t0 + 100 * MS);
        assert_eq!(
            p.poll_timeout(),
            Some(t0 + 6000 * MS),
            "the running attempt keeps its own deadline"
        );
    }

    #[test]
    fn a_remote_restart_counts_as_the_attempt_under_way() {
        let t0 = Instant::now();
        let mut p = RestartPolicy::new(RestartTiming::default());
        p.on_state(LinkState::Connected, t0);
        p.on_remote_restart(t0);
        assert_eq!(p.attempts(), 1, "the reconnection that follows is a recovery");
        p.on_media_stopped(t0 + 300 * MS);
        assert_eq!(
            p.handle_timeout(t0 + 300 * MS),
            None,
            "no restart of our own while the remote's runs"
        );
        assert_eq!(p.poll_timeout(), Some(t0 + 6000 * MS));
        p.on_state(LinkState::Connected, t0 + 500 * MS);
        assert_eq!((p.attempts(), p.poll_timeout()), (0, None));
    }

    #[test]
    fn a_shorter_limit_confirms_silence_sooner_and_once() {
        let t0 = Instant::now();
        let mut w = MediaWatch::default();
        assert_eq!(w.observe(t0, 10, true), None);
        assert_eq!(
            w.observe_with_limit(t0 + 200 * MS, 10, true, 300 * MS),
            None,
            "200 ms: not yet"
        );
        assert_eq!(w.observe_with_limit(t0 + 350 * MS, 10, true, 300 * MS), Some(t0));
        assert_eq!(w.observe(t0 + 1500 * MS, 10, true), None, "already said");
    }

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
        assert_eq!(
            last,
            Some(Action::GiveUp {
                reason: "no path worked after 5 ICE restarts".into()
            })
        );
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

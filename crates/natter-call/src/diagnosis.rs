//! Why a connection cannot be made, in words a user can act on — and knowing it early.
//!
//! The `webrtc` crate declares a connection that never worked `failed` only after its
//! disconnected + failed timeouts (8.5 s with our timers), and says nothing about why. Yet the
//! answer is usually clear much sooner: once both sides have stopped offering candidates and
//! every candidate pair has failed its checks (25 checks 50 ms apart, see `webrtc_setup`), no
//! path can appear by waiting. `SetupWatch` collects what is known about one connection's setup
//! (candidate types on each side, gathering done, pair states) and `SetupWatch::verdict` says
//! when it is hopeless and why. Sans-IO: the engine feeds it, tests drive it on virtual time.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// How long the remote must have been silent (no new candidate) before we judge: candidates
/// from a slow TURN server may still be on their way.
pub const REMOTE_QUIET: Duration = Duration::from_millis(1000);

/// How long a connection may list no candidate pair at all before that counts as none formed.
pub const NO_PAIRS_GRACE: Duration = Duration::from_secs(3);

/// What we know about one connection while it is being set up.
#[derive(Debug, Clone)]
pub struct SetupWatch {
    opened_at: Instant,
    local_types: BTreeSet<String>,
    remote_types: BTreeSet<String>,
    last_remote_candidate: Option<Instant>,
    local_gathering_done: bool,
    /// The remote signaled end-of-candidates.
    remote_gathering_done: bool,
}

/// Candidate-pair checks as the stack reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PairCounts {
    pub total: usize,
    pub failed: usize,
}

impl SetupWatch {
    pub fn new(now: Instant) -> Self {
        Self {
            opened_at: now,
            local_types: BTreeSet::new(),
            remote_types: BTreeSet::new(),
            last_remote_candidate: None,
            local_gathering_done: false,
            remote_gathering_done: false,
        }
    }

    /// A candidate line we gathered ("candidate:… typ srflx …").
    pub fn on_local_candidate(&mut self, candidate: &str) {
        if let Some(kind) = candidate_type(candidate) {
            self.local_types.insert(kind.to_string());
        }
    }

    /// We have offered every candidate we will find.
    pub fn on_gathering_complete(&mut self) {
        self.local_gathering_done = true;
    }

    /// The remote said it has no more candidates (an empty candidate, or `a=end-of-candidates`):
    /// no need to wait for it to fall quiet.
    pub fn on_remote_gathering_complete(&mut self) {
        self.remote_gathering_done = true;
    }

    pub fn on_remote_candidate(&mut self, candidate: &str, now: Instant) {
        if let Some(kind) = candidate_type(candidate) {
            self.remote_types.insert(kind.to_string());
        }
        self.last_remote_candidate = Some(now);
    }

    /// Is it worth asking the stack for pair states now? (Gathering done on our side, the remote
    /// quiet for `REMOTE_QUIET`.)
    pub fn ready_to_judge(&self, now: Instant) -> bool {
        let quiet_since = self.last_remote_candidate.unwrap_or(self.opened_at);
        self.local_gathering_done
            && (self.remote_gathering_done || now.saturating_duration_since(quiet_since) >= REMOTE_QUIET)
    }

    /// `Some(reason)` when no path can come up by waiting: every pair failed (or none could be
    /// formed) after both sides stopped offering candidates.
    pub fn verdict(&self, pairs: PairCounts, now: Instant) -> Option<String> {
        if !self.ready_to_judge(now) || pairs.failed < pairs.total {
            return None;
        }
        // No pair listed yet is not "none could be formed": the stack lists pairs only once
        // checks are under way, and on a slow path (a relay 100 ms away: allocation, permission,
        // first check) that takes several round trips. Judge that only after a while (a side
        // without candidates forms no pair ever: that is judged at once).
        let pairs_possible = !self.local_types.is_empty() && !self.remote_types.is_empty();
        if pairs.total == 0 && pairs_possible && now.saturating_duration_since(self.opened_at) < NO_PAIRS_GRACE {
            return None;
        }
        Some(self.explain())
    }

    /// The most likely reason no path works, from the candidate types each side offered.
    pub fn explain(&self) -> String {
        let has = |set: &BTreeSet<String>, kind: &str| set.contains(kind);
        let list = |set: &BTreeSet<String>| {
            if set.is_empty() {
                "none".to_string()
            } else {
                set.iter().cloned().collect::<Vec<_>>().join(", ")
            }
        };
        let facts = format!(
            "(our candidates: {}; theirs: {})",
            list(&self.local_types),
            list(&self.remote_types)
        );
        if self.local_types.is_empty() {
            return format!(
                "this device found no usable network path: no local address, and no STUN/TURN server answered {facts}; check the network connection and the ICE servers in Settings"
            );
        }
        if self.remote_types.is_empty() {
            return format!(
                "the other participant sent no network candidates {facts}; they may be offline or behind a network that blocks everything we can use"
            );
        }
        if !has(&self.local_types, "relay") && !has(&self.remote_types, "relay") {
            return format!(
                "no direct path works between the two networks (a symmetric NAT or a firewall on either side blocks it) and neither side has a TURN relay {facts}; add a working TURN server in Settings"
            );
        }
        format!(
            "no path works, not even through the TURN relay {facts}; the relay may not be allowed to reach the other side, or UDP to it is blocked: try a TURN server over TCP or TLS"
        )
    }
}

/// The `typ` of an SDP candidate line.
fn candidate_type(candidate: &str) -> Option<&str> {
    let mut words = candidate.split_whitespace();
    while let Some(word) = words.next() {
        if word == "typ" {
            return words.next();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "candidate:1 1 udp 2130706431 10.0.1.2 5000 typ host";
    const SRFLX: &str = "candidate:2 1 udp 1694498815 198.51.100.11 5000 typ srflx raddr 10.0.1.2 rport 5000";
    const RELAY: &str = "candidate:3 1 udp 16777215 198.51.100.1 40000 typ relay raddr 10.0.1.2 rport 5000";
    const MS: Duration = Duration::from_millis(1);

    fn watch(local: &[&str], remote: &[&str], t0: Instant) -> SetupWatch {
        let mut w = SetupWatch::new(t0);
        for c in local {
            w.on_local_candidate(c);
        }
        w.on_gathering_complete();
        for c in remote {
            w.on_remote_candidate(c, t0 + 100 * MS);
        }
        w
    }

    #[test]
    fn no_verdict_while_pairs_are_still_being_checked() {
        let t0 = Instant::now();
        let w = watch(&[HOST, SRFLX], &[HOST, SRFLX], t0);
        assert_eq!(w.verdict(PairCounts { total: 4, failed: 3 }, t0 + 5000 * MS), None);
    }

    #[test]
    fn no_pair_listed_yet_is_judged_only_after_a_grace() {
        let t0 = Instant::now();
        let w = watch(&[RELAY], &[RELAY], t0);
        let none = PairCounts { total: 0, failed: 0 };
        assert_eq!(
            w.verdict(none, t0 + REMOTE_QUIET + 300 * MS),
            None,
            "a slow relay has not listed its pairs yet"
        );
        assert!(w.verdict(none, t0 + NO_PAIRS_GRACE).is_some());
    }

    #[test]
    fn no_verdict_until_the_remote_has_been_quiet() {
        let t0 = Instant::now();
        let w = watch(&[HOST, SRFLX], &[HOST, SRFLX], t0);
        let all_failed = PairCounts { total: 4, failed: 4 };
        assert_eq!(w.verdict(all_failed, t0 + 100 * MS + REMOTE_QUIET - MS), None);
        assert!(w.verdict(all_failed, t0 + 100 * MS + REMOTE_QUIET).is_some());
    }

    #[test]
    fn end_of_candidates_from_the_remote_ends_the_wait_for_quiet() {
        let t0 = Instant::now();
        let mut w = watch(&[HOST, SRFLX], &[HOST, SRFLX], t0);
        let all_failed = PairCounts { total: 4, failed: 4 };
        assert_eq!(w.verdict(all_failed, t0 + 200 * MS), None);
        w.on_remote_gathering_complete();
        assert!(w.verdict(all_failed, t0 + 200 * MS).is_some());
        // Its pairs still being checked: no verdict yet.
        assert_eq!(w.verdict(PairCounts { total: 4, failed: 2 }, t0 + 200 * MS), None);
    }

    #[test]
    fn no_verdict_before_our_gathering_is_done() {
        let t0 = Instant::now();
        let mut w = SetupWatch::new(t0);
        w.on_local_candidate(HOST);
        w.on_remote_candidate(HOST, t0);
        assert_eq!(w.verdict(PairCounts { total: 1, failed: 1 }, t0 + 10_000 * MS), None);
    }

    #[test]
    fn a_late_relay_candidate_postpones_the_verdict() {
        let t0 = Instant::now();
        let mut w = watch(&[HOST, SRFLX], &[HOST, SRFLX], t0);
        w.on_remote_candidate(RELAY, t0 + 900 * MS);
        assert_eq!(w.verdict(PairCounts { total: 6, failed: 6 }, t0 + 1200 * MS), None);
    }

    #[test]
    fn without_relays_on_either_side_the_reason_is_the_missing_turn_server() {
        let t0 = Instant::now();
        let w = watch(&[HOST, SRFLX], &[HOST, SRFLX], t0);
        let reason = w.verdict(PairCounts { total: 4, failed: 4 }, t0 + 2000 * MS).unwrap();
        assert!(reason.contains("neither side has a TURN relay"), "{reason}");
        assert!(
            reason.contains("our candidates: host, srflx; theirs: host, srflx"),
            "{reason}"
        );
    }

    #[test]
    fn with_a_relay_that_does_not_help_the_reason_says_so() {
        let t0 = Instant::now();
        let w = watch(&[HOST, RELAY], &[HOST, SRFLX], t0);
        let reason = w.verdict(PairCounts { total: 4, failed: 4 }, t0 + 2000 * MS).unwrap();
        assert!(reason.contains("not even through the TURN relay"), "{reason}");
    }

    #[test]
    fn no_candidates_at_all_is_named_for_the_side_that_lacks_them() {
        let t0 = Instant::now();
        let ours = watch(&[], &[HOST], t0)
            .verdict(PairCounts::default(), t0 + 2000 * MS)
            .unwrap();
        assert!(ours.starts_with("this device found no usable network path"), "{ours}");
        let theirs = watch(&[HOST], &[], t0)
            .verdict(PairCounts::default(), t0 + 2000 * MS)
            .unwrap();
        assert!(
            theirs.starts_with("the other participant sent no network candidates"),
            "{theirs}"
        );
    }
}

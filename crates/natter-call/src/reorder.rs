//! The receive-side video jitter buffer: puts RTP packets back in sequence order and, when one is
//! missing, waits a little for it (a retransmission answering our NACK, or a packet overtaken on
//! the way) before giving up on it. Without it a reordered or retransmitted packet is thrown away
//! and the frame it belonged to is lost; with it, loss costs a retransmission round trip instead
//! of a freeze until the next keyframe.
//!
//! When nothing is missing a packet leaves the moment it arrives: the buffer adds no delay to a
//! clean stream. Pure logic on the caller's clock (`now` is a parameter), so it is tested on
//! virtual time.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The longest a gap is waited for, whatever the round-trip time says.
pub const MAX_WAIT: Duration = Duration::from_millis(500);
/// The shortest: two NACK rounds (every 30 ms) on a short path; a reordered packet usually
/// arrives within a few milliseconds.
pub const MIN_WAIT: Duration = Duration::from_millis(100);
/// More held packets than this and the oldest gap is given up at once (a stream that jumped).
const CAPACITY: usize = 1024;

/// What leaves the buffer, in sequence order.
#[derive(Debug, PartialEq, Eq)]
pub enum Released<P> {
    /// The next packet of the stream.
    Packet(P),
    /// `count` packets before the next one never came in time; the caller treats them as lost.
    Gap { count: u64 },
}

/// Counters for the report.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReorderStats {
    /// Packets that arrived after a later one and were put back in place.
    pub reordered: u64,
    /// Packets given up on (never arrived in time).
    pub given_up: u64,
    /// Duplicates and packets that arrived after they were given up on.
    pub discarded: u64,
}

/// One stream's reorder buffer, keyed by RTP sequence number.
#[derive(Debug)]
pub struct ReorderBuffer<P> {
    held: BTreeMap<u64, P>,
    /// The extended sequence number released next.
    next: Option<u64>,
    /// The highest extended sequence number seen (for unwrapping 16-bit numbers).
    highest: u64,
    /// Since when `next` has been missing while later packets wait.
    waiting_since: Option<Instant>,
    max_wait: Duration,
    stats: ReorderStats,
}

impl<P> Default for ReorderBuffer<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P> ReorderBuffer<P> {
    pub fn new() -> Self {
        Self {
            held: BTreeMap::new(),
            next: None,
            highest: 0,
            waiting_since: None,
            max_wait: MIN_WAIT * 2,
            stats: ReorderStats::default(),
        }
    }

    /// How long a gap is waited for: two retransmission round trips (the NACK goes out, the
    /// resend comes back, and once more if the resend was lost too) plus the sender's pacing,
    /// within `MIN_WAIT..=MAX_WAIT`.
    pub fn set_round_trip(&mut self, rtt: Duration) {
        self.max_wait = (rtt.mul_f64(2.5) + Duration::from_millis(90)).clamp(MIN_WAIT, MAX_WAIT);
    }

    pub fn max_wait(&self) -> Duration {
        self.max_wait
    }

    pub fn stats(&self) -> ReorderStats {
        self.stats
    }

    /// The 16-bit number as an extended one, the nearest to what was seen so far.
    fn extend(&self, seq: u16) -> u64 {
        if self.next.is_none() {
            return u64::from(seq) + (1 << 16);
        }
        let base = self.highest;
        let candidate = (base & !0xffff) | u64::from(seq);
        // Pick among the candidate and its neighbours in the adjacent 16-bit cycles.
        [candidate.wrapping_sub(1 << 16), candidate, candidate + (1 << 16)]
            .into_iter()
            .filter(|c| *c >= (1 << 16))
            .min_by_key(|c| c.abs_diff(base))
            .unwrap_or(candidate)
    }

    /// A packet arrived.
    pub fn push(&mut self, seq: u16, packet: P, now: Instant) {
        let ext = self.extend(seq);
        let next = *self.next.get_or_insert(ext);
        if ext < next || self.held.contains_key(&ext) {
            self.stats.discarded += 1;
            return;
        }
        if ext < self.highest {
            self.stats.reordered += 1;
        }
        self.highest = self.highest.max(ext);
        self.held.insert(ext, packet);
        if ext != next && self.waiting_since.is_none() {
            self.waiting_since = Some(now);
        }
    }

    /// The next thing to hand on, if any is due at `now`.
    pub fn pop(&mut self, now: Instant) -> Option<Released<P>> {
        let next = self.next?;
        if let Some(packet) = self.held.remove(&next) {
            self.next = Some(next + 1);
            self.waiting_since = if self.held.is_empty() || self.held.contains_key(&(next + 1)) {
                None
            } else {
                Some(now)
            };
            return Some(Released::Packet(packet));
        }
        let (&first_held, _) = self.held.first_key_value()?;
        let waited = self
            .waiting_since
            .is_some_and(|since| now.saturating_duration_since(since) >= self.max_wait);
        if waited || self.held.len() > CAPACITY {
            let count = first_held - next;
            self.stats.given_up += count;
            self.next = Some(first_held);
            self.waiting_since = None;
            return Some(Released::Gap { count });
        }
        None
    }

    /// When `pop` will next have something to give up on (the caller wakes then if no packet
    /// arrives before).
    pub fn deadline(&self) -> Option<Instant> {
        self.waiting_since.map(|since| since + self.max_wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(buffer: &mut ReorderBuffer<u16>, now: Instant) -> Vec<Released<u16>> {
        std::iter::from_fn(|| buffer.pop(now)).collect()
    }

    #[test]
    fn in_order_packets_leave_at_once() {
        let t0 = Instant::now();
        let mut buffer = ReorderBuffer::new();
        for seq in 10..15u16 {
            buffer.push(seq, seq, t0);
            assert_eq!(drain(&mut buffer, t0), vec![Released::Packet(seq)]);
        }
        assert_eq!(buffer.deadline(), None);
    }

    #[test]
    fn a_reordered_packet_is_put_back_in_place() {
        let t0 = Instant::now();
        let mut buffer = ReorderBuffer::new();
        buffer.push(1, 1, t0);
        buffer.push(3, 3, t0);
        buffer.push(4, 4, t0);
        assert_eq!(drain(&mut buffer, t0), vec![Released::Packet(1)], "3 and 4 wait for 2");
        assert!(buffer.deadline().is_some());
        buffer.push(2, 2, t0 + Duration::from_millis(5));
        assert_eq!(
            drain(&mut buffer, t0 + Duration::from_millis(5)),
            vec![Released::Packet(2), Released::Packet(3), Released::Packet(4)]
        );
        assert_eq!(buffer.stats().reordered, 1);
        assert_eq!(buffer.deadline(), None);
    }

    #[test]
    fn a_retransmission_within_the_wait_fills_the_gap() {
        let t0 = Instant::now();
        let mut buffer = ReorderBuffer::new();
        buffer.set_round_trip(Duration::from_millis(40));
        assert_eq!(buffer.max_wait(), Duration::from_millis(190));
        buffer.push(1, 1, t0);
        drain(&mut buffer, t0);
        buffer.push(3, 3, t0);
        assert!(
            drain(&mut buffer, t0 + Duration::from_millis(150)).is_empty(),
            "still waiting"
        );
        buffer.push(2, 2, t0 + Duration::from_millis(160));
        assert_eq!(
            drain(&mut buffer, t0 + Duration::from_millis(160)),
            vec![Released::Packet(2), Released::Packet(3)]
        );
        assert_eq!(buffer.stats().given_up, 0);
    }

    #[test]
    fn a_gap_is_given_up_after_the_wait_and_a_late_packet_is_discarded() {
        let t0 = Instant::now();
        let mut buffer = ReorderBuffer::new();
        buffer.push(1, 1, t0);
        buffer.push(4, 4, t0);
        assert_eq!(drain(&mut buffer, t0), vec![Released::Packet(1)]);
        let due = buffer.deadline().expect("waiting for 2 and 3");
        assert_eq!(
            drain(&mut buffer, due),
            vec![Released::Gap { count: 2 }, Released::Packet(4)]
        );
        buffer.push(2, 2, due);
        assert!(drain(&mut buffer, due).is_empty());
        assert_eq!(
            buffer.stats(),
            ReorderStats {
                reordered: 0,
                given_up: 2,
                discarded: 1
            }
        );
    }

    #[test]
    fn the_wait_restarts_for_each_new_gap() {
        let t0 = Instant::now();
        let mut buffer = ReorderBuffer::new();
        buffer.push(1, 1, t0);
        buffer.push(3, 3, t0);
        buffer.push(5, 5, t0);
        drain(&mut buffer, t0);
        let first = buffer.deadline().unwrap();
        assert_eq!(
            drain(&mut buffer, first),
            vec![Released::Gap { count: 1 }, Released::Packet(3)]
        );
        assert_eq!(
            buffer.deadline(),
            Some(first + buffer.max_wait()),
            "4 gets its own full wait"
        );
    }

    #[test]
    fn sequence_numbers_wrap() {
        let t0 = Instant::now();
        let mut buffer = ReorderBuffer::new();
        buffer.push(65_534, 1, t0);
        buffer.push(0, 3, t0);
        buffer.push(65_535, 2, t0);
        buffer.push(1, 4, t0);
        assert_eq!(
            drain(&mut buffer, t0),
            vec![
                Released::Packet(1),
                Released::Packet(2),
                Released::Packet(3),
                Released::Packet(4)
            ]
        );
    }

    #[test]
    fn duplicates_are_discarded() {
        let t0 = Instant::now();
        let mut buffer = ReorderBuffer::new();
        buffer.push(7, 7, t0);
        buffer.push(9, 9, t0);
        buffer.push(9, 9, t0);
        drain(&mut buffer, t0);
        buffer.push(7, 7, t0);
        assert_eq!(buffer.stats().discarded, 2);
    }

    #[test]
    fn a_huge_backlog_is_given_up_at_once() {
        let t0 = Instant::now();
        let mut buffer = ReorderBuffer::new();
        buffer.push(0, 0, t0);
        drain(&mut buffer, t0);
        for seq in 2..=(CAPACITY as u16 + 2) {
            buffer.push(seq, seq, t0);
        }
        assert_eq!(buffer.pop(t0), Some(Released::Gap { count: 1 }));
    }
}

//! The audio jitter buffer: RTP packets of one remote arrive early, late, twice, out of order or
//! never; the speaker wants one 20 ms frame every 20 ms. `JitterBuffer` turns the first into the
//! second — sans-IO and clock-free (callers pass `now`), so its behaviour is tested on virtual time.
//!
//! - Packets are ordered by (extended) sequence number; duplicates and packets whose turn has
//!   passed are dropped and counted.
//! - Playout starts once `target` worth of audio is buffered. The target follows the measured
//!   interarrival jitter (RFC 3550 estimator): `2 × jitter + 1 frame`, clamped to 40–200 ms.
//! - A missing packet whose successor is already here becomes a `Recover` with that successor's
//!   payload: Opus packets carry a low-rate copy of the frame before them (in-band FEC), so the
//!   decoder rebuilds the lost frame from it instead of guessing.
//! - Any other missing packet becomes a `Conceal` (the decoder's packet-loss concealment fills it).
//!   If later packets are already here it is skipped (lost); if the buffer ran dry it keeps its slot
//!   (probably just late: the concealment stretches the audio). After `MAX_CONCEALED`
//!   concealments in a row (a 200 ms gap) the buffer starts over and rebuffers to the target.
//!   Concealments of a dry buffer count only once the stream goes on (a packet arrives): the
//!   silence after a participant stopped sending is the end of their stream, not a glitch.
//! - Clock drift: a sender whose clock runs fast fills the buffer; when it holds more than
//!   `target + DRIFT_SLACK`, one frame is dropped (counted) to bring the delay back. A slow sender
//!   drains it, which conceals and rebuffers as above.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One Opus frame.
pub const FRAME: Duration = Duration::from_millis(20);
const MIN_TARGET: Duration = Duration::from_millis(40);
const MAX_TARGET: Duration = Duration::from_millis(200);
/// Concealments in a row before starting over (200 ms).
const MAX_CONCEALED: u32 = 10;
/// How far above the target the buffer may grow before a frame is dropped.
const DRIFT_SLACK: Duration = Duration::from_millis(60);
/// RTP clock of Opus.
const CLOCK_RATE: f64 = 48_000.0;

/// What to play for the next frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout<P> {
    /// The next packet's payload, to decode.
    Frame(P),
    /// The packet for this slot is missing but the next one is here: rebuild this frame from the
    /// redundant copy the next packet carries (Opus in-band FEC); conceal if that fails.
    Recover(P),
    /// The packet for this slot is missing: conceal (decoder PLC).
    Conceal,
    /// Nothing to play yet (buffering, or nothing received): silence.
    Silence,
}

/// Counters for the stats panel and the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    pub played: u64,
    /// Frames lost and guessed by the decoder (not counting those recovered).
    pub concealed: u64,
    /// Frames lost and rebuilt from the next packet's redundant copy (in-band FEC).
    pub recovered: u64,
    /// Arrived after their turn (or after the buffer started over past them).
    pub late: u64,
    pub duplicates: u64,
    /// Dropped to keep the delay near the target (fast sender clock).
    pub dropped_for_drift: u64,
    /// Times playout (re)started after buffering.
    pub rebuffers: u64,
}

struct Packet<P> {
    payload: P,
}

pub struct JitterBuffer<P> {
    packets: BTreeMap<u64, Packet<P>>,
    /// Extended sequence number of the next packet to play; `None` while buffering.
    next: Option<u64>,
    /// Highest extended sequence number seen (for unwrapping 16-bit numbers).
    highest: Option<u64>,
    concealed_in_a_row: u32,
    /// Concealments of a dry buffer, counted once a later packet shows the stream went on.
    concealed_unconfirmed: u64,
    /// RFC 3550 interarrival jitter, in seconds.
    jitter: f64,
    last_transit: Option<f64>,
    epoch: Option<Instant>,
    stats: JitterStats,
}

impl<P: Clone> Default for JitterBuffer<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Clone> JitterBuffer<P> {
    pub fn new() -> Self {
        Self {
            packets: BTreeMap::new(),
            next: None,
            highest: None,
            concealed_in_a_row: 0,
            concealed_unconfirmed: 0,
            jitter: 0.0,
            last_transit: None,
            epoch: None,
            stats: JitterStats::default(),
        }
    }

    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Audio buffered right now.
    pub fn depth(&self) -> Duration {
        FRAME * self.packets.len() as u32
    }

    /// The delay playout aims for, from the measured jitter.
    pub fn target(&self) -> Duration {
        let wanted = Duration::from_secs_f64(2.0 * self.jitter) + FRAME;
        wanted.clamp(MIN_TARGET, MAX_TARGET)
    }

    /// A packet arrived (`seq`, `timestamp`: its RTP header).
    pub fn push(&mut self, seq: u16, timestamp: u32, payload: P, now: Instant) {
        let ext = self.extend(seq);
        self.update_jitter(timestamp, now);
        if self.next.is_some_and(|next| ext < next) {
            self.stats.late += 1;
            return;
        }
        if self.packets.contains_key(&ext) {
            self.stats.duplicates += 1;
            return;
        }
        self.packets.insert(ext, Packet { payload });
        self.stats.concealed += std::mem::take(&mut self.concealed_unconfirmed);
    }

    /// The next 20 ms: call once per frame from the playback clock.
    pub fn pop(&mut self) -> Playout<P> {
        let Some(next) = self.next else {
            // Buffering: start once the target is buffered.
            if self.depth() < self.target() || self.packets.is_empty() {
                return Playout::Silence;
            }
            let first = *self.packets.keys().next().expect("not empty");
            self.next = Some(first);
            self.stats.rebuffers += 1;
            return self.pop();
        };
        // A fast sender clock: more buffered than wanted; skip the oldest frame.
        if self.depth() > self.target() + DRIFT_SLACK
            && let Some((&oldest, _)) = self.packets.iter().next()
            && oldest == next
        {
            self.packets.remove(&oldest);
            self.stats.dropped_for_drift += 1;
            self.next = Some(next + 1);
            return self.pop();
        }
        if let Some(packet) = self.packets.remove(&next) {
            self.next = Some(next + 1);
            self.concealed_in_a_row = 0;
            self.stats.played += 1;
            return Playout::Frame(packet.payload);
        }
        // Missing: conceal, unless it has been missing for too long.
        self.concealed_in_a_row += 1;
        if self.concealed_in_a_row > MAX_CONCEALED {
            // Start over: buffer again from whatever arrives next.
            self.next = None;
            self.concealed_in_a_row = 0;
            return Playout::Silence;
        }
        if let Some(successor) = self.packets.get(&(next + 1)) {
            // Lost, and the packet after it is here: its redundant copy stands in.
            self.next = Some(next + 1);
            self.stats.recovered += 1;
            return Playout::Recover(successor.payload.clone());
        }
        if self.packets.is_empty() {
            self.concealed_unconfirmed += 1;
        } else {
            // Later packets are here, this one is not: lost (or badly reordered). Move on.
            self.stats.concealed += 1;
            self.next = Some(next + 1);
        }
        // Otherwise the buffer ran dry (a slow sender clock, a burst of delay): the packet is
        // probably just late, so keep its slot; the concealment stretches the audio instead.
        Playout::Conceal
    }

    /// 16-bit RTP sequence numbers → 64-bit, continuing across wrap-around.
    fn extend(&mut self, seq: u16) -> u64 {
        let ext = match self.highest {
            None => u64::from(seq) + (1 << 16), // room below for reordering at the start
            Some(highest) => {
                let cycle = highest & !0xFFFF;
                let candidates = [cycle.wrapping_sub(1 << 16), cycle, cycle + (1 << 16)].map(|c| c + u64::from(seq));
                *candidates
                    .iter()
                    .min_by_key(|c| c.abs_diff(highest))
                    .expect("three candidates")
            }
        };
        self.highest = Some(self.highest.map_or(ext, |h| h.max(ext)));
        ext
    }

    /// RFC 3550 §6.4.1: J += (|D| − J) / 16, with D the change in transit time.
    fn update_jitter(&mut self, timestamp: u32, now: Instant) {
        let epoch = *self.epoch.get_or_insert(now);
        let arrival = now.duration_since(epoch).as_secs_f64();
        let transit = arrival - f64::from(timestamp) / CLOCK_RATE;
        if let Some(last) = self.last_transit {
            let d = (transit - last).abs();
            // Ignore absurd jumps (a timestamp reset) rather than let them set the target.
            if d < 1.0 {
                self.jitter += (d - self.jitter) / 16.0;
            }
        }
        self.last_transit = Some(transit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TS_PER_FRAME: u32 = 960; // 20 ms at 48 kHz

    /// Drive a buffer on virtual time: `arrivals` are (arrival time in ms, seq); the playback
    /// clock pops every 20 ms from t = 0 until `until_ms`. Returns what was played, in order.
    fn run(arrivals: &[(u64, u16)], until_ms: u64) -> (Vec<Playout<u16>>, JitterBuffer<u16>) {
        let t0 = Instant::now();
        let mut buffer = JitterBuffer::new();
        let mut arrivals: Vec<(u64, u16)> = arrivals.to_vec();
        arrivals.sort_by_key(|(at, _)| *at);
        let mut arrivals = arrivals.into_iter().peekable();
        let mut out = Vec::new();
        let mut now_ms = 0;
        while now_ms <= until_ms {
            while let Some(&(at, seq)) = arrivals.peek()
                && at <= now_ms
            {
                buffer.push(
                    seq,
                    u32::from(seq).wrapping_mul(TS_PER_FRAME),
                    seq,
                    t0 + Duration::from_millis(at),
                );
                arrivals.next();
            }
            out.push(buffer.pop());
            now_ms += 20;
        }
        (out, buffer)
    }

    fn frames(played: &[Playout<u16>]) -> Vec<u16> {
        played
            .iter()
            .filter_map(|p| if let Playout::Frame(seq) = p { Some(*seq) } else { None })
            .collect()
    }

    #[test]
    fn steady_stream_plays_every_packet_in_order_after_the_initial_delay() {
        let arrivals: Vec<(u64, u16)> = (0..50).map(|i| (u64::from(i) * 20, i)).collect();
        let (played, buffer) = run(&arrivals, 1000);
        assert_eq!(frames(&played), (0..50).collect::<Vec<_>>());
        let first = played.iter().position(|p| matches!(p, Playout::Frame(_))).unwrap();
        assert_eq!(
            first * 20,
            20,
            "starts once the minimum target (40 ms, two frames) is buffered"
        );
        assert_eq!(buffer.stats().concealed, 0);
    }

    #[test]
    fn reordered_packets_play_in_sequence() {
        // Pairs swapped: 1 before 0, 3 before 2, …
        let arrivals: Vec<(u64, u16)> = (0..40u16).map(|i| (u64::from(i ^ 1) * 20 + 1, i)).collect();
        let (played, buffer) = run(&arrivals, 1000);
        assert_eq!(frames(&played), (0..40).collect::<Vec<_>>());
        assert_eq!(buffer.stats().late, 0);
    }

    #[test]
    fn duplicates_are_dropped_and_counted() {
        let mut arrivals: Vec<(u64, u16)> = (0..30).map(|i| (u64::from(i) * 20, i)).collect();
        arrivals.push((205, 10)); // 10 again, while still buffered
        arrivals.push((206, 11));
        let (played, buffer) = run(&arrivals, 800);
        assert_eq!(frames(&played), (0..30).collect::<Vec<_>>());
        assert_eq!(buffer.stats().duplicates, 2);
    }

    #[test]
    fn a_200_ms_gap_is_concealed_then_playout_resumes() {
        // Packets 20..30 are lost (200 ms of audio).
        let arrivals: Vec<(u64, u16)> = (0..60)
            .filter(|i| !(20..30).contains(i))
            .map(|i| (u64::from(i) * 20, i))
            .collect();
        // Until the last packet has had its turn (after that the stream has simply ended).
        let (played, buffer) = run(&arrivals, 1260);
        let stats = buffer.stats();
        // Concealments before the last packet played (after it, the stream has ended).
        let last = played.iter().rposition(|p| matches!(p, Playout::Frame(_))).unwrap();
        let concealed = played[..last].iter().filter(|p| **p == Playout::Conceal).count();
        assert_eq!(concealed, 10, "{stats:?}");
        let expected: Vec<u16> = (0..60).filter(|i| !(20..30).contains(i)).collect();
        assert_eq!(frames(&played), expected);
        // The concealment sits exactly where the gap is (the buffer ran dry: nothing to rebuild
        // the frames from).
        let slots: Vec<&Playout<u16>> = played.iter().skip_while(|p| !matches!(p, Playout::Frame(_))).collect();
        assert!(slots[20..30].iter().all(|p| **p == Playout::Conceal), "{slots:?}");
        assert_eq!(stats.recovered, 0);
    }

    #[test]
    fn packets_arriving_after_their_turn_are_late_not_played() {
        let mut arrivals: Vec<(u64, u16)> = (0..40).filter(|&i| i != 15).map(|i| (u64::from(i) * 20, i)).collect();
        arrivals.push((600, 15)); // 300 ms after it was due
        let (played, buffer) = run(&arrivals, 800);
        assert!(!frames(&played).contains(&15));
        assert_eq!(buffer.stats().late, 1);
        assert_eq!(
            (buffer.stats().concealed, buffer.stats().recovered),
            (0, 1),
            "rebuilt from packet 16"
        );
    }

    #[test]
    fn the_silence_after_a_stream_ends_is_not_counted_as_concealment() {
        let arrivals: Vec<(u64, u16)> = (0..50).map(|i| (u64::from(i) * 20, i)).collect();
        let (played, buffer) = run(&arrivals, 2000);
        assert!(
            played.iter().rev().take(60).any(|p| *p == Playout::Conceal),
            "the decoder still fades out the last sound"
        );
        assert_eq!(buffer.stats().concealed, 0, "{:?}", buffer.stats());
    }

    #[test]
    fn scattered_single_losses_are_rebuilt_from_the_next_packet_not_guessed() {
        // Every 10th packet lost (10 % loss, never two in a row).
        let arrivals: Vec<(u64, u16)> = (0..100)
            .filter(|i| i % 10 != 5)
            .map(|i| (u64::from(i) * 20, i))
            .collect();
        let (played, buffer) = run(&arrivals, 2100);
        let stats = buffer.stats();
        let last = played.iter().rposition(|p| matches!(p, Playout::Frame(_))).unwrap();
        let concealed = played[..last].iter().filter(|p| **p == Playout::Conceal).count();
        assert_eq!((stats.recovered, concealed), (10, 0), "{stats:?}");
        let recovered: Vec<u16> = played
            .iter()
            .filter_map(|p| {
                if let Playout::Recover(next) = p {
                    Some(*next)
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(
            recovered,
            (0..10).map(|i| i * 10 + 6).collect::<Vec<u16>>(),
            "each with the payload of the packet after the lost one"
        );
        assert_eq!(frames(&played).len(), 90, "and every packet that came still plays");
    }

    #[test]
    fn a_fast_sender_clock_does_not_make_the_delay_grow() {
        // The sender's 20 ms are 19.6 ms of ours (2 % fast) for 60 s.
        let arrivals: Vec<(u64, u16)> = (0..3000u32).map(|i| ((f64::from(i) * 19.6) as u64, i as u16)).collect();
        let t0 = Instant::now();
        let mut buffer = JitterBuffer::new();
        let mut max_depth = Duration::ZERO;
        let mut arrivals = arrivals.into_iter().peekable();
        for tick in 0..2900u64 {
            let now_ms = tick * 20;
            while let Some(&(at, seq)) = arrivals.peek()
                && at <= now_ms
            {
                buffer.push(
                    seq,
                    u32::from(seq).wrapping_mul(TS_PER_FRAME),
                    seq,
                    t0 + Duration::from_millis(at),
                );
                arrivals.next();
            }
            buffer.pop();
            max_depth = max_depth.max(buffer.depth());
        }
        let stats = buffer.stats();
        assert!(
            max_depth <= buffer.target() + DRIFT_SLACK + FRAME * 2,
            "delay grew to {max_depth:?}; {stats:?}"
        );
        assert!(stats.dropped_for_drift > 0, "{stats:?}");
        assert_eq!(stats.concealed, 0, "{stats:?}");
    }

    #[test]
    fn a_slow_sender_clock_conceals_and_rebuffers_but_keeps_playing() {
        // 2 % slow: the buffer drains; playout must not stall for good.
        let arrivals: Vec<(u64, u16)> = (0..1500u32).map(|i| ((f64::from(i) * 20.4) as u64, i as u16)).collect();
        let (played, buffer) = run(&arrivals, 30_600);
        let stats = buffer.stats();
        // Every packet plays; the missing 2 % of time is concealed (stretched), nothing is late.
        assert_eq!(frames(&played), (0..1500).collect::<Vec<u16>>(), "{stats:?}");
        assert_eq!(stats.late, 0, "{stats:?}");
        assert!(
            (20..=40).contains(&stats.concealed),
            "about one concealment per 50 frames: {stats:?}"
        );
    }

    #[test]
    fn sequence_numbers_wrap_around() {
        let arrivals: Vec<(u64, u16)> = (0..40u32).map(|i| (u64::from(i) * 20, (65_520 + i) as u16)).collect();
        let (played, _) = run(&arrivals, 1000);
        let expected: Vec<u16> = (0..40u32).map(|i| (65_520 + i) as u16).collect();
        assert_eq!(frames(&played), expected);
    }

    #[test]
    fn jitter_raises_the_target_and_is_capped() {
        // Arrivals jittering by ±30 ms around their schedule.
        let arrivals: Vec<(u64, u16)> = (0..200)
            .map(|i| (u64::from(i) * 20 + if i % 2 == 0 { 30 } else { 0 }, i))
            .collect();
        let (_, buffer) = run(&arrivals, 4200);
        assert!(buffer.target() > MIN_TARGET, "target {:?}", buffer.target());
        assert!(buffer.target() <= MAX_TARGET);
    }
}

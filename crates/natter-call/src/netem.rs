//! A sans-IO network emulator for the adaptation's unit tests: one direction of a path as
//! `natter-rig`'s impairment proxy builds it — an access link with a rate cap and a
//! tail-dropping queue, propagation delay, random loss — on a virtual clock, and a sender that
//! decides as our video writer does (`bwe` estimate → `adapt` budget, feedback pushback, layer
//! choice, encoder rate), fed with transport-wide feedback every 50 ms. No sockets, no sleep:
//! a minute of call runs in milliseconds, so the decisions of [adaptive-media] are tested on
//! the links they were built for, and the figures are the same on every run (seeded loss).

use crate::adapt::{self, LayerChoice};
use crate::bwe::{LinkEstimate, LinkEstimator};
use rtc::interceptor::{BandwidthEstimator, PacketReport};
use rtc::rtcp::transport_feedbacks::cc_feedback_report::Ecn;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// One direction of a path.
#[derive(Debug, Clone)]
pub struct Link {
    /// The access link's rate (`None`: not the bottleneck).
    pub rate_bps: Option<f64>,
    /// The most a packet may wait in the link's queue before it is tail-dropped.
    pub queue_limit: Duration,
    /// One-way propagation delay (each way).
    pub delay: Duration,
    /// Random loss, 0–1.
    pub loss: f64,
    /// When the link finishes sending what is queued.
    busy_until: Option<Instant>,
    rng: u64,
}

impl Link {
    pub fn new(delay: Duration) -> Link {
        Link {
            rate_bps: None,
            queue_limit: Duration::from_millis(300),
            delay,
            loss: 0.0,
            busy_until: None,
            rng: 0x9E37_79B9_7F4A_7C15,
        }
    }

    pub fn capped(mut self, rate_bps: f64) -> Link {
        self.rate_bps = Some(rate_bps);
        self
    }

    pub fn lossy(mut self, loss: f64) -> Link {
        self.loss = loss;
        self
    }

    /// xorshift64*: a fixed sequence, so every run loses the same packets.
    fn random(&mut self) -> f64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A packet of `size` bytes enters the link at `at`: when it arrives, or `None` if lost.
    pub fn carry(&mut self, at: Instant, size: usize) -> Option<Instant> {
        let leaves = match self.rate_bps {
            Some(rate) => {
                let start = self.busy_until.map_or(at, |busy| busy.max(at));
                if start.saturating_duration_since(at) > self.queue_limit {
                    return None; // the queue is full: tail drop
                }
                let done = start + Duration::from_secs_f64(size as f64 * 8.0 / rate);
                self.busy_until = Some(done);
                done
            }
            None => at,
        };
        if self.random() < self.loss {
            return None;
        }
        Some(leaves + self.delay)
    }
}

/// A packet on its way, until feedback tells the sender its fate.
struct InFlight {
    report: PacketReport,
    /// When the sender learns its fate (arrival + the way back; a loss: when later packets show
    /// the gap).
    known_at: Instant,
}

/// One second of a call: what the sender decided and what the link delivered.
#[derive(Debug, Clone, Copy, Default)]
pub struct Second {
    /// Seconds since the start.
    pub at: f64,
    pub estimate_bps: f64,
    pub layer: usize,
    /// What arrived over the last second (audio and video).
    pub delivered_bps: f64,
    pub queue_ms: f64,
}

/// What the sender decided and what the link delivered, second by second.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    pub seconds: Vec<Second>,
    pub packets_sent: u64,
    pub packets_lost: u64,
}

impl Trace {
    /// The seconds in `from..to` (seconds since the start).
    pub fn between(&self, from: f64, to: f64) -> impl Iterator<Item = &Second> {
        self.seconds.iter().filter(move |s| s.at >= from && s.at < to)
    }

    pub fn last(&self) -> Second {
        *self.seconds.last().expect("a second traced")
    }
}

const PACKET_BYTES: usize = 1200;
const AUDIO_PACKET_BYTES: usize = 140;
const FRAME_INTERVAL: Duration = Duration::from_millis(33);
const AUDIO_INTERVAL: Duration = Duration::from_millis(20);
const FEEDBACK_INTERVAL: Duration = Duration::from_millis(50);

/// A sender on a link: our writer's decisions, the link's delivery, the remote's feedback.
pub struct Call {
    pub link: Link,
    start: Instant,
    now: Instant,
    estimate: LinkEstimate,
    estimator: LinkEstimator,
    choice: LayerChoice,
    in_flight: VecDeque<InFlight>,
    next_id: u64,
    /// Bits the video writer sent in the last second, for `encoder_rate`: (when, bits).
    sent: VecDeque<(Instant, f64)>,
    delivered: VecDeque<(Instant, f64)>,
    next_frame: Instant,
    next_audio: Instant,
    next_feedback: Instant,
    next_trace: Instant,
    pub trace: Trace,
}

impl Call {
    pub fn new(link: Link) -> Call {
        let start = Instant::now();
        let estimate = LinkEstimate::default();
        let choice = LayerChoice::new(adapt::video_budget(estimate.get().target_bps, None));
        Call {
            link,
            start,
            now: start,
            estimator: LinkEstimator::new(estimate.clone()),
            estimate,
            choice,
            in_flight: VecDeque::new(),
            next_id: 0,
            sent: VecDeque::new(),
            delivered: VecDeque::new(),
            next_frame: start,
            next_audio: start,
            next_feedback: start + FEEDBACK_INTERVAL,
            next_trace: start + Duration::from_secs(1),
            trace: Trace::default(),
        }
    }

    fn send(&mut self, size: usize) {
        self.next_id += 1;
        self.trace.packets_sent += 1;
        let arrival = self.link.carry(self.now, size);
        if arrival.is_none() {
            self.trace.packets_lost += 1;
        }
        let since_start = |at: Instant| at.duration_since(self.start);
        if let Some(at) = arrival {
            self.delivered.push_back((at, size as f64 * 8.0));
        }
        let report = PacketReport {
            ssrc: 1,
            id: self.next_id,
            rtp_sequence_number: self.next_id as u16,
            is_twcc: true,
            twcc_sequence_number: self.next_id as u16,
            size,
            arrived: arrival.is_some(),
            departure: self.now,
            arrival: arrival.map(since_start),
            ecn: Ecn::default(),
        };
        // A loss shows when a later packet arrives: about when this one would have.
        let known_at = arrival.unwrap_or(self.now + self.link.delay) + self.link.delay;
        self.in_flight.push_back(InFlight { report, known_at });
    }

    /// One video frame as the writer sends it: the layer and rate the estimate allows.
    fn send_frame(&mut self) {
        let state = self.estimate.get();
        let overdue = state.feedback_overdue(self.now, self.start);
        let budget = adapt::feedback_pushback(adapt::video_budget(state.target_bps, state.loss), overdue);
        let queue_ms = state.queue_ms.max(overdue.as_secs_f64() * 1000.0);
        let may_probe = state.measured && !state.pushed_back;
        let layer = self.choice.update_with_queue(budget, may_probe, queue_ms, self.now);
        while self
            .sent
            .front()
            .is_some_and(|(at, _)| self.now.duration_since(*at) > Duration::from_secs(1))
        {
            self.sent.pop_front();
        }
        let sent_bps: f64 = self.sent.iter().map(|(_, bits)| bits).sum();
        let (min, max) = adapt::layer_range(layer, 1_500_000);
        let rate = adapt::encoder_rate(budget, sent_bps).clamp(f64::from(min), f64::from(max));
        // The frame in packets of at most `PACKET_BYTES` (the last one smaller).
        let mut left = ((rate * FRAME_INTERVAL.as_secs_f64() / 8.0) as usize).max(100);
        self.sent.push_back((self.now, (left * 8) as f64));
        while left > 0 {
            let size = left.min(PACKET_BYTES);
            self.send(size);
            left -= size;
        }
    }

    fn feedback(&mut self) {
        let mut reports = Vec::new();
        while self.in_flight.front().is_some_and(|p| p.known_at <= self.now) {
            reports.push(self.in_flight.pop_front().expect("checked").report);
        }
        // TWCC lists packets in sequence order; the estimator wants them so.
        reports.sort_by_key(|r| r.id);
        self.estimator.on_reports(self.now, &reports);
    }

    fn record_second(&mut self) {
        while self
            .delivered
            .front()
            .is_some_and(|(at, _)| self.now.saturating_duration_since(*at) > Duration::from_secs(1))
        {
            self.delivered.pop_front();
        }
        let delivered: f64 = self
            .delivered
            .iter()
            .filter(|(at, _)| *at <= self.now)
            .map(|(_, bits)| bits)
            .sum();
        let state = self.estimate.get();
        self.trace.seconds.push(Second {
            at: self.now.duration_since(self.start).as_secs_f64(),
            estimate_bps: state.target_bps,
            layer: self.choice.layer(),
            delivered_bps: delivered,
            queue_ms: state.queue_ms,
        });
    }

    /// Run the call for `duration` of virtual time.
    pub fn run(&mut self, duration: Duration) {
        let end = self.now + duration;
        while self.now < end {
            let next = self
                .next_frame
                .min(self.next_audio)
                .min(self.next_feedback)
                .min(self.next_trace);
            self.now = next;
            if next == self.next_audio {
                self.send(AUDIO_PACKET_BYTES);
                self.next_audio += AUDIO_INTERVAL;
            }
            if next == self.next_frame {
                self.send_frame();
                self.next_frame += FRAME_INTERVAL;
            }
            if next == self.next_feedback {
                self.feedback();
                self.next_feedback += FEEDBACK_INTERVAL;
            }
            if next == self.next_trace {
                self.record_second();
                self.next_trace += Duration::from_secs(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean(values: impl Iterator<Item = f64>) -> f64 {
        let values: Vec<f64> = values.collect();
        values.iter().sum::<f64>() / values.len().max(1) as f64
    }

    #[test]
    fn a_clear_link_climbs_to_the_full_picture() {
        let mut call = Call::new(Link::new(Duration::from_millis(20)));
        call.run(Duration::from_secs(20));
        let last = call.trace.last();
        assert_eq!(
            last.layer, 0,
            "full-size layer on a clear link: {:?}",
            call.trace.seconds
        );
        assert!(
            last.estimate_bps > 1_000_000.0,
            "the estimate climbed: {:?}",
            call.trace.seconds
        );
        assert_eq!(call.trace.packets_lost, 0);
    }

    #[test]
    fn a_300_kbit_cap_is_found_and_the_small_picture_fits_it() {
        let mut call = Call::new(Link::new(Duration::from_millis(20)).capped(300_000.0));
        call.run(Duration::from_secs(30));
        let settled: Vec<_> = call.trace.between(10.0, 30.0).cloned().collect();
        for second in &settled {
            let at = second.at;
            assert_eq!(second.layer, 1, "{at} s: the half-size layer under 300 kbit/s");
            let estimate = second.estimate_bps;
            assert!(estimate < 450_000.0, "{at} s: estimate {estimate} far above the cap");
            let delivered = second.delivered_bps;
            assert!(delivered <= 310_000.0, "{at} s: the link cannot deliver {delivered}");
        }
        let used = mean(settled.iter().map(|s| s.delivered_bps));
        assert!(
            used > 200_000.0,
            "the cap is used, not starved: {used} bit/s on average"
        );
        let queue = mean(settled.iter().map(|s| s.queue_ms));
        assert!(queue < 150.0, "no standing queue: {queue} ms on average");
        let lost = call.trace.packets_lost as f64 / call.trace.packets_sent as f64;
        assert!(
            lost < 0.05,
            "the queue rarely overflows: {:.1} % tail-dropped",
            lost * 100.0
        );
    }

    #[test]
    fn random_loss_is_not_congestion() {
        let mut call = Call::new(Link::new(Duration::from_millis(20)).lossy(0.05));
        call.run(Duration::from_secs(30));
        let settled = mean(call.trace.between(15.0, 30.0).map(|s| s.estimate_bps));
        assert!(
            settled > 1_000_000.0,
            "5 % random loss on a fast link must not starve the picture: {:?}",
            call.trace.seconds
        );
    }

    #[test]
    fn a_link_that_drops_to_a_sixth_is_followed_down_without_a_runaway_queue() {
        let mut call = Call::new(Link::new(Duration::from_millis(20)).capped(2_000_000.0));
        call.run(Duration::from_secs(20));
        let before = call.trace.last();
        assert!(
            before.estimate_bps > 1_000_000.0,
            "climbed first: {:?}",
            call.trace.seconds
        );
        call.link.rate_bps = Some(300_000.0);
        let lost_before = call.trace.packets_lost;
        call.run(Duration::from_secs(15));
        let after: Vec<_> = call.trace.between(25.0, 35.0).cloned().collect();
        for second in &after {
            let (at, estimate) = (second.at, second.estimate_bps);
            assert!(
                estimate < 500_000.0,
                "{at} s: still {estimate} bit/s on a 300 kbit/s link"
            );
            assert_eq!(second.layer, 1, "{at} s: the small picture");
        }
        // Probing around the new limit: the estimate swings about it, the link stays used.
        let estimate = mean(after.iter().map(|s| s.estimate_bps));
        assert!(
            (200_000.0..400_000.0).contains(&estimate),
            "estimate {estimate} around 300 kbit/s"
        );
        let used = mean(after.iter().map(|s| s.delivered_bps));
        assert!(used > 200_000.0, "the new link is used: {used} bit/s");
        let queue = mean(after.iter().map(|s| s.queue_ms));
        assert!(queue < 150.0, "the queue drained: {queue} ms");
        let dropped = call.trace.packets_lost - lost_before;
        assert!(dropped < 150, "{dropped} packets tail-dropped after the drop");
    }

    #[test]
    fn a_cap_that_lifts_gives_the_full_picture_back() {
        let mut call = Call::new(Link::new(Duration::from_millis(20)).capped(300_000.0));
        call.run(Duration::from_secs(20));
        assert_eq!(call.trace.last().layer, 1);
        call.link.rate_bps = None;
        call.run(Duration::from_secs(40));
        let last = call.trace.last();
        assert_eq!(last.layer, 0, "back to full size within 40 s: {:?}", call.trace.seconds);
    }
}

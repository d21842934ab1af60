//! Bandwidth estimation per connection: how many bits per second the path to one remote carries
//! now, from the remote's transport-wide congestion-control feedback (TWCC), and the bound on
//! what retransmissions may spend of it.
//!
//! The parts come from the stack (`rtc-interceptor`'s GCC pieces: arrival-group slope, overuse
//! detector, loss controller); the rate controller on top is ours because the stack's climbs
//! 8 % per second from its 300 kbit/s start, i.e. ≈ 13 s to reach a 640×360 picture's rate, and
//! never forgets a ceiling. Ours starts at 300 kbit/s like it, doubles per second (× 1.6) until
//! the path first pushes back, backs off to 85 % of what was *received* (to half when a queue of
//! a quarter second has built up), then climbs 15 % per second well below that ceiling and one
//! packet per interval near it; a ceiling older than 5 s, or passed by 10 % without the path
//! pushing back, is forgotten (the link may have recovered).
//!
//! The path pushes back when the delay trend rises, when a queue of `STANDING_QUEUE_MS` (100 ms)
//! stands on it or one of 60 ms keeps growing (a full router queue does not grow, so the trend stops seeing it), or when loss
//! rises ≥ 10 points above the link's background loss. Speed matters more than finesse here:
//! a 700 kbit/s sender on a link that falls to 300 kbit/s fills a 32 KiB router queue in
//! ≈ 650 ms, and from then on its tail drops break pictures. So the queue is read from the
//! least-delayed packet of each feedback, and what arrived is measured on the remote's arrival
//! clock, not on when the (bursty, late) feedback reached us.
//!
//! What leaves: [`LinkEstimate`], a handle shared with the writers (which pick a layer and an
//! encoder bitrate from it) and the report. The pacer paces at [`PACING_FACTOR`] × the estimate
//! so a keyframe leaves in a few frame intervals instead of one burst, and at the estimate
//! itself while a queue builds.
//!
//! [`RetransmissionBudget`] sits between the pacer and the NACK responder: a retransmission of
//! a packet already resent within one round trip is dropped (the generator repeats requests
//! while the first answer is on its way), and retransmissions may spend at most
//! [`retransmission_share`] of the estimate (10 %, more on a lossy link, never over 30 %). The stack's responder has neither bound: on a
//! congested 500 kbit/s link it once offered 10.6 Mbit/s of resends.

use rtc::interceptor::{
    BandwidthEstimator, EstimatorStats, Interceptor, OveruseDetector, Packet, PacketReport, RateCalculator,
    SlopeEstimator, StreamInfo, TaggedPacket, Usage,
};
use rtc::sansio::Protocol;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where every estimate starts (kbit/s × 1000): enough for audio and a small picture.
pub const INITIAL_BPS: f64 = 300_000.0;
/// The floor: audio plus a thumbnail-sized picture.
pub const MIN_BPS: f64 = 80_000.0;
/// The ceiling: what our largest layer could use.
pub const MAX_BPS: f64 = 2_500_000.0;
/// The pacer releases at this multiple of the estimate while the path holds no queue (as
/// Chromium's pacer): a keyframe leaves within a few frame intervals. While a queue builds it
/// releases at the estimate itself (see `LinkEstimator::target_bitrate`).
pub const PACING_FACTOR: f64 = 2.5;
/// Retransmissions may spend this share of the estimate at least…
pub const RETRANSMISSION_SHARE: f64 = 0.10;
/// …and at most this, on a link that loses a lot (see [`retransmission_share`]).
pub const MAX_RETRANSMISSION_SHARE: f64 = 0.30;

/// What retransmissions may spend of the estimate on a link losing `loss` (0–1) of what is sent:
/// enough to resend what is lost (a loss rate and a half: resends are lost too), at least
/// [`RETRANSMISSION_SHARE`], at most [`MAX_RETRANSMISSION_SHARE`]. The writers leave this share
/// out of the video budget, so media and resends together stay within the estimate.
pub fn retransmission_share(loss: Option<f64>) -> f64 {
    (loss.unwrap_or(0.0) * 1.5).clamp(RETRANSMISSION_SHARE, MAX_RETRANSMISSION_SHARE)
}

const CONTROL_INTERVAL: Duration = Duration::from_millis(200);
const CEILING_MEMORY: Duration = Duration::from_secs(5);
/// Queueing delay (ms above the path's least one-way delay) that counts as overuse by itself.
const STANDING_QUEUE_MS: f64 = 100.0;
/// A queue above this that grew over the last two feedbacks is overuse too: a link that just
/// got slower, caught before its queue is 100 ms deep. (One late feedback is not enough: a
/// receiver busy for 100 ms delays every packet it reads then, and catches up after.)
const GROWING_QUEUE_MS: f64 = 60.0;
/// Queueing delay above which a back-off halves the rate (to drain the queue) instead of 15 %.
const DRAIN_QUEUE_MS: f64 = 250.0;
/// Queueing delay above which loss is taken for congestion, not the link's background.
const QUEUEING_MS: f64 = 50.0;
/// Loss is judged over windows of at least this many reported packets.
const LOSS_WINDOW_PACKETS: usize = 20;

/// What is known about one connection's capacity, shared between the stack's interceptors (which
/// write it) and the call engine (which reads it).
#[derive(Debug, Clone, Default)]
pub struct LinkEstimate(Arc<Mutex<EstimateState>>);

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EstimateState {
    /// The estimate, bits per second.
    pub target_bps: f64,
    /// The loss the remote reported (smoothed fraction 0–1), if it reported any.
    pub loss: Option<f64>,
    /// Feedback has arrived (without it `target_bps` is the starting guess).
    pub measured: bool,
    /// Round trip on this connection (from the RTCP reports), for the retransmission bound.
    pub rtt: Option<Duration>,
    /// Retransmissions sent, and those the bound withheld.
    pub retransmitted_packets: u64,
    pub retransmissions_withheld: u64,
    /// The path pushed back (delay rising or heavy loss) at least once.
    pub limited: bool,
    /// It pushed back within the last seconds (the estimate holds below that ceiling).
    pub pushed_back: bool,
    /// How long our packets wait in queues on the path now, ms (see `QueueDelay`).
    pub queue_ms: f64,
    /// When the newest packet the remote's feedback reported on left us, and the least time
    /// from a packet leaving to the feedback about it arriving (round trip + feedback interval):
    /// see [`EstimateState::feedback_overdue`].
    pub acked_departure: Option<Instant>,
    pub feedback_lag_floor: Option<Duration>,
}

impl EstimateState {
    /// How much later than usual the feedback is at `now` for a sender that has been sending
    /// without a pause since `sending_since`: the newest reported packet (or, if later, the
    /// first one after the pause) left longer ago than the least lag seen. Feedback that stops
    /// coming while we send means our packets (or the feedback itself) sit in a queue that grows,
    /// and the feedback that would show it is stuck behind it: on a link that suddenly carries a
    /// sixth of what it did, the writers slow down on this before the delay can say anything.
    /// (Nothing sent, nothing to report: a pause is never "late".)
    pub fn feedback_overdue(&self, now: Instant, sending_since: Instant) -> Duration {
        match (self.acked_departure, self.feedback_lag_floor) {
            (Some(departure), Some(floor)) => now
                .saturating_duration_since(departure.max(sending_since))
                .saturating_sub(floor),
            _ => Duration::ZERO,
        }
    }
}

impl Default for EstimateState {
    fn default() -> Self {
        Self {
            target_bps: INITIAL_BPS,
            loss: None,
            measured: false,
            rtt: None,
            retransmitted_packets: 0,
            retransmissions_withheld: 0,
            limited: false,
            pushed_back: false,
            queue_ms: 0.0,
            acked_departure: None,
            feedback_lag_floor: None,
        }
    }
}

impl LinkEstimate {
    /// A connection without congestion control (`--stack-defaults`): a fixed figure.
    pub fn fixed(bps: f64) -> Self {
        let estimate = LinkEstimate::default();
        estimate.update(|s| s.target_bps = bps);
        estimate
    }

    pub fn get(&self) -> EstimateState {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut EstimateState)) {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn set_rtt(&self, rtt: Duration) {
        self.update(|s| s.rtt = Some(rtt));
    }

    /// The round trip ICE measured, for until the RTCP reports measure one: the requester and the
    /// resend bound time their repeats by it, and the two sides of a link must agree (one that
    /// assumed 100 ms while the other knew 1 ms turned down every repeat request as too early,
    /// and a packet whose resend was lost too was given up).
    pub fn seed_rtt(&self, rtt: Duration) {
        self.update(|s| {
            s.rtt.get_or_insert(rtt);
        });
    }
}

/// The estimator the stack's `CongestionControlInterceptor` drives for one connection.
pub struct LinkEstimator {
    slope: SlopeEstimator,
    detector: OveruseDetector,
    received: ArrivalRate,
    /// Loss counted until a window holds enough packets to say anything (lost, total).
    loss_window: (usize, usize),
    /// The loss reported lately (fast average of windows), for the brake and the resend share.
    recent_loss: Option<f64>,
    /// The loss the link shows whatever we send: a slow average that rises slowly and falls
    /// fast. Only loss *above* it brakes: random loss that was there all along is not
    /// congestion, and backing off from it only starves the picture.
    background_loss: Option<f64>,
    last_loss_brake: Option<Instant>,
    /// Queueing delay on the path (see [`QueueDelay`]).
    queue: QueueDelay,
    target: f64,
    /// The received rate when the path last pushed back, and when.
    ceiling: Option<(f64, Instant)>,
    last_change: Option<Instant>,
    shared: LinkEstimate,
}

impl LinkEstimator {
    pub fn new(shared: LinkEstimate) -> Self {
        Self {
            slope: SlopeEstimator::new(),
            detector: OveruseDetector::new(),
            received: ArrivalRate::default(),
            loss_window: (0, 0),
            recent_loss: None,
            background_loss: None,
            last_loss_brake: None,
            queue: QueueDelay::default(),
            target: INITIAL_BPS,
            ceiling: None,
            last_change: None,
            shared,
        }
    }

    /// The delay-based half: the next target from the usage signal.
    fn control(&mut self, now: Instant, usage: Usage, received: Option<f64>) {
        // A ceiling is forgotten when it is old or when the target went well past it without
        // the path pushing back: the link changed (a cap lifted, another flow ended).
        if self.ceiling.is_some_and(|(ceiling, at)| {
            now.saturating_duration_since(at) > CEILING_MEMORY || self.target > ceiling * 1.1
        }) {
            self.ceiling = None;
        }
        let since_change = self
            .last_change
            .map_or(CONTROL_INTERVAL, |last| now.saturating_duration_since(last));
        match usage {
            Usage::Over => {
                // Back off from what the path delivers, at most once per interval.
                let (Some(received), true) = (received, since_change >= CONTROL_INTERVAL) else {
                    return;
                };
                // A queue already holding a quarter second of our media (a link that just got
                // much slower) is drained by sending well below it for a moment.
                let factor = if self.queue.delay_ms() > DRAIN_QUEUE_MS {
                    0.5
                } else {
                    0.85
                };
                self.target = (received * factor).min(self.target);
                tracing::debug!(
                    target_kbps = self.target / 1000.0,
                    received_kbps = received / 1000.0,
                    queue_ms = self.queue.delay_ms(),
                    "path pushed back (delay)"
                );
                self.ceiling = Some((received, now));
                self.last_change = Some(now);
            }
            Usage::Normal if since_change >= CONTROL_INTERVAL => {
                let seconds = since_change.as_secs_f64().min(1.0);
                self.target = match self.ceiling {
                    None => self.target * 1.6f64.powf(seconds),
                    // Near it: about a packet per interval (60 kbit/s a second).
                    Some((ceiling, _)) if self.target > ceiling * 0.85 => self.target + 12_000.0,
                    Some(_) => self.target * 1.15f64.powf(seconds),
                };
                // Never far above what actually gets through: an idle or app-limited sender
                // must not talk itself into a rate it never tried (a larger layer is tried by
                // stepping up to it, see `adapt::LayerChoice`; the encoder's rate climbs
                // towards the estimate in steps, see `adapt::encoder_rate`).
                if let Some(received) = received {
                    self.target = self.target.min(1.5 * received + 100_000.0);
                }
                self.last_change = Some(now);
            }
            // Draining, or too soon: hold.
            Usage::Normal | Usage::Under => {}
        }
    }

    /// The loss-based half: loss rising ≥ 10 points above the link's background is congestion
    /// (a bottleneck queue overflowing): back off in proportion, at most once per interval.
    fn brake_on_loss(&mut self, now: Instant, sample: f64, received: Option<f64>) {
        let recent = self.recent_loss.map_or(sample, |l| 0.5 * l + 0.5 * sample);
        self.recent_loss = Some(recent);
        let background = *self.background_loss.get_or_insert(recent);
        let follow = if recent < background { 0.3 } else { 0.05 };
        // Loss while packets queue is a bottleneck overflowing, whenever it started: it is
        // never background.
        let queueing = self.queue.delay_ms() > QUEUEING_MS;
        if !queueing {
            self.background_loss = Some(background + follow * (recent - background));
        }
        let excess = if queueing { recent } else { recent - background };
        let due = self
            .last_loss_brake
            .is_none_or(|at| now.saturating_duration_since(at) >= CONTROL_INTERVAL);
        if excess > 0.10 && due {
            self.target *= 1.0 - 0.5 * excess;
            tracing::debug!(
                target_kbps = self.target / 1000.0,
                loss = recent,
                background,
                "path pushed back (loss)"
            );
            self.last_loss_brake = Some(now);
            self.last_change = Some(now);
            // The path pushed back: stop the start-up climb.
            self.ceiling.get_or_insert((received.unwrap_or(self.target), now));
        }
    }

    fn publish(&self) {
        let loss = self.recent_loss;
        let limited = self.ceiling.is_some();
        let target = self.target;
        let queue_ms = self.queue.delay_ms();
        self.shared.update(|s| {
            s.queue_ms = queue_ms;
            s.target_bps = target;
            s.loss = loss;
            s.measured = true;
            s.limited |= limited;
            s.pushed_back = limited;
        });
    }

    /// The estimate itself (the pacer is given [`PACING_FACTOR`] × this).
    pub fn estimate_bps(&self) -> f64 {
        self.target
    }
}

impl BandwidthEstimator for LinkEstimator {
    fn on_reports(&mut self, now: Instant, reports: &[PacketReport]) {
        if reports.is_empty() {
            return;
        }
        let mut usage = self.detector.usage();
        for report in reports {
            if let (true, Some(arrival)) = (report.arrived, report.arrival) {
                self.received.on_arrival(now, arrival, report.size);
            }
            if let Some(trend) = self.slope.accumulate(report) {
                usage = self.detector.update(trend.at, trend.estimate_ms);
            }
        }
        self.queue.on_batch(reports);
        if let Some(newest) = reports.iter().map(|r| r.departure).max() {
            let lag = now.saturating_duration_since(newest);
            self.shared.update(|s| {
                s.acked_departure = s.acked_departure.max(Some(newest));
                // The least lag, allowed to creep up (a new path may be longer).
                s.feedback_lag_floor = Some(match s.feedback_lag_floor {
                    Some(floor) if lag >= floor => floor + (lag - floor) / 100,
                    _ => lag,
                });
            });
        }
        let received = self.received.bits_per_second();
        // A queue that stands full does not grow, so the trend detector stops seeing it; a
        // deep router buffer then holds seconds of our media. Standing delay is overuse too.
        if self.queue.delay_ms() > STANDING_QUEUE_MS
            || (self.queue.delay_ms() > GROWING_QUEUE_MS && self.queue.growing())
        {
            usage = Usage::Over;
        }
        tracing::trace!(
            ?usage,
            queue_ms = self.queue.delay_ms(),
            received_kbps = received.map(|r| r / 1000.0),
            target_kbps = self.target / 1000.0,
            reports = reports.len(),
            "feedback"
        );
        self.loss_window.0 += reports.iter().filter(|r| !r.arrived).count();
        self.loss_window.1 += reports.len();
        self.control(now, usage, received);
        if self.loss_window.1 >= LOSS_WINDOW_PACKETS {
            let sample = self.loss_window.0 as f64 / self.loss_window.1 as f64;
            self.loss_window = (0, 0);
            self.brake_on_loss(now, sample, received);
        }
        self.target = self.target.clamp(MIN_BPS, MAX_BPS);
        self.publish();
    }

    /// What the stack hands its pacer: [`PACING_FACTOR`] × the estimate, so a keyframe leaves
    /// in a few frame intervals; the estimate itself while a queue builds on the path (a
    /// keyframe sent faster than the link then only lengthens the queue, and a full router
    /// queue drops its tail).
    fn target_bitrate(&self) -> f64 {
        let factor = if self.queue.delay_ms() > QUEUEING_MS {
            1.0
        } else {
            PACING_FACTOR
        };
        self.target * factor
    }

    fn stats(&self) -> EstimatorStats {
        let mut stats = EstimatorStats::default();
        stats.delay_based_bitrate = Some(self.target);
        stats.packet_loss = self.recent_loss;
        stats
    }
}

/// How long our packets wait in queues on the path: each one's one-way delay (arrival on the
/// remote's clock − departure on ours; the clocks' offset cancels out) above the least seen over
/// the last ten seconds. Per feedback the *least* queueing of its packets counts (jitter makes
/// some packets late, a queue makes all of them late), averaged with the last figure: a queue
/// that builds shows within two feedbacks (a per-packet average needed ≈ 20 packets, on a
/// 300 kbit/s link most of a second, by which time a router queue can be full).
#[derive(Debug, Default)]
struct QueueDelay {
    epoch: Option<Instant>,
    /// The least one-way delay of each of the last seconds (second index, ms).
    minima: VecDeque<(u64, f64)>,
    smoothed_ms: f64,
    /// Feedbacks in a row that found the queue longer than the one before.
    rising: u32,
}

impl QueueDelay {
    fn on_batch(&mut self, reports: &[PacketReport]) {
        let mut batch_least: Option<f64> = None;
        for report in reports {
            let Some(arrival) = report.arrival else { continue };
            let epoch = *self.epoch.get_or_insert(report.departure);
            let departed = report.departure.saturating_duration_since(epoch);
            let one_way_ms = (arrival.as_secs_f64() - departed.as_secs_f64()) * 1000.0;
            let second = departed.as_secs();
            match self.minima.back_mut() {
                Some((at, least)) if *at == second => *least = least.min(one_way_ms),
                _ => self.minima.push_back((second, one_way_ms)),
            }
            while self.minima.front().is_some_and(|(at, _)| at + 10 < second) {
                self.minima.pop_front();
            }
            let base = self
                .minima
                .iter()
                .map(|(_, least)| *least)
                .fold(f64::INFINITY, f64::min);
            let queued = (one_way_ms - base).max(0.0);
            batch_least = Some(batch_least.map_or(queued, |least| least.min(queued)));
        }
        if let Some(least) = batch_least {
            let before = self.smoothed_ms;
            self.smoothed_ms = 0.5 * self.smoothed_ms + 0.5 * least;
            self.rising = if self.smoothed_ms > before + 5.0 {
                self.rising + 1
            } else {
                0
            };
        }
    }

    fn delay_ms(&self) -> f64 {
        self.smoothed_ms
    }

    /// The last two feedbacks each found a longer queue.
    fn growing(&self) -> bool {
        self.rising >= 2
    }
}

/// What the remote received, bits per second, measured on its arrival clock (mapped onto ours:
/// the offset cancels out in a rate), not on when its feedback reached us: feedback comes in
/// bursts and late when the reverse path queues too, and a rate read from it overstated what a
/// 300 kbit/s link delivered by up to 80 %.
#[derive(Debug)]
struct ArrivalRate {
    rate: RateCalculator,
    /// (our clock, the remote's arrival clock) at the first arrival.
    anchor: Option<(Instant, Duration)>,
    latest: Option<Instant>,
}

/// Over this window: short enough to see a link that just got slower within a few feedbacks.
const ARRIVAL_RATE_WINDOW: Duration = Duration::from_millis(300);

impl Default for ArrivalRate {
    fn default() -> Self {
        Self {
            rate: RateCalculator::new(ARRIVAL_RATE_WINDOW),
            anchor: None,
            latest: None,
        }
    }
}

impl ArrivalRate {
    fn on_arrival(&mut self, now: Instant, arrival: Duration, size: usize) {
        let (anchor_here, anchor_there) = *self.anchor.get_or_insert((now, arrival));
        let at = anchor_here + arrival.saturating_sub(anchor_there);
        // Reordered packets are counted at the latest arrival so far (the calculator wants order).
        let at = self.latest.map_or(at, |latest| latest.max(at));
        self.latest = Some(at);
        self.rate.add(at, size);
    }

    fn bits_per_second(&mut self) -> Option<f64> {
        self.rate.rate_bits_per_second(self.latest?)
    }
}

/// Bounds what the NACK responder resends (see the module docs). Slot: between the pacer (3 000)
/// and the responder (4 000), so what it lets through is still paced and counted.
pub struct RetransmissionBudget {
    estimate: LinkEstimate,
    /// Media SSRC → its RTX SSRC (if negotiated), and the highest sequence number sent on it.
    streams: HashMap<u32, SentStream>,
    rtx: crate::nack::RtxStreams,
    /// Bits retransmissions may still spend, refilled from the estimate.
    tokens: f64,
    refilled_at: Option<Instant>,
    queue: VecDeque<TaggedPacket>,
    read_queue: VecDeque<TaggedPacket>,
}

#[derive(Debug, Default)]
struct SentStream {
    highest: Option<u16>,
    /// When each recently resent sequence number went out.
    resent: HashMap<u16, Instant>,
}

pub const BUDGET_SLOT: usize = 3_500;

/// The smallest bucket of resends: three full-size packets (RTP header and RTX prefix included).
const RESEND_BURST_BITS: f64 = 3.0 * 1_250.0 * 8.0;

impl RetransmissionBudget {
    pub fn new(estimate: LinkEstimate) -> Self {
        Self {
            estimate,
            streams: HashMap::new(),
            rtx: crate::nack::RtxStreams::default(),
            tokens: 0.0,
            refilled_at: None,
            queue: VecDeque::new(),
            read_queue: VecDeque::new(),
        }
    }

    fn refill(&mut self, now: Instant, rate_bps: f64) {
        // Half a second of budget at most, and room for a few full packets whatever the rate:
        // enough for a burst of losses (a keyframe's), not a flood.
        let depth = (rate_bps * 0.5).max(RESEND_BURST_BITS);
        // A link starts with a full bucket: the first keyframe goes out before any budget has
        // accumulated, and a packet of it lost must be resent then (a call at 10 % loss started
        // 300–700 ms late when its first keyframe's resends were withheld).
        self.tokens = match self.refilled_at.replace(now) {
            None => depth,
            Some(at) => (self.tokens + now.saturating_duration_since(at).as_secs_f64() * rate_bps).min(depth),
        };
    }

    /// Should this departing RTP packet leave? Originals always do.
    fn admit(&mut self, now: Instant, packet: &rtc::rtp::Packet) -> bool {
        let state = self.estimate.get();
        self.refill(now, state.target_bps * retransmission_share(state.loss));
        let Some(carried) = self.rtx.carried(packet) else {
            return true;
        };
        let (media_ssrc, seq) = (carried.media_ssrc, carried.sequence_number);
        if !carried.resent {
            let Some(stream) = self.streams.get_mut(&media_ssrc) else {
                return true;
            };
            let is_new = stream
                .highest
                .is_none_or(|h| seq.wrapping_sub(h) != 0 && seq.wrapping_sub(h) < 0x8000);
            if is_new {
                stream.highest = Some(seq);
                return true;
            }
            // The same sequence number again: a resend without RTX.
        }
        // A request for a packet resent less than a round trip ago (plus a little jitter) was
        // sent before that resend could arrive (a requester may repeat itself before that).
        let rtt = state.rtt.unwrap_or(Duration::from_millis(100)) + Duration::from_millis(10);
        let Some(stream) = self.streams.get_mut(&media_ssrc) else {
            return true;
        };
        stream
            .resent
            .retain(|_, at| now.saturating_duration_since(*at) < rtt * 4 + Duration::from_millis(200));
        let bits = (packet.payload.len() + 12) as f64 * 8.0;
        let repeated = stream
            .resent
            .get(&seq)
            .is_some_and(|at| now.saturating_duration_since(*at) < rtt);
        let admitted = !repeated && self.tokens >= bits;
        if admitted {
            self.tokens -= bits;
            stream.resent.insert(seq, now);
        }
        self.estimate.update(|s| {
            if admitted {
                s.retransmitted_packets += 1
            } else {
                s.retransmissions_withheld += 1
            }
        });
        admitted
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for RetransmissionBudget {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.read_queue.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read_queue.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtp(packet) = &msg.message.packet
            && !self.admit(msg.now, packet)
        {
            return Ok(());
        }
        self.queue.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.queue.pop_front()
    }

    fn handle_timeout(&mut self, _now: Instant) -> Result<(), Self::Error> {
        Ok(())
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        None
    }
}

impl Interceptor for RetransmissionBudget {
    fn bind_local_stream(&mut self, info: &StreamInfo) {
        self.streams.entry(info.ssrc).or_default();
        self.rtx.bind(info);
    }

    fn unbind_local_stream(&mut self, info: &StreamInfo) {
        self.streams.remove(&info.ssrc);
        self.rtx.unbind(info);
    }

    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::rtcp::transport_feedbacks::cc_feedback_report::Ecn;

    /// Feedback for packets of `size` bytes sent every `gap` and arriving with `queue_growth`
    /// more delay each (0: the path keeps up), `lost_every` (0: none) lost.
    pub(super) struct Path {
        id: u64,
        pub(super) sent_at: Instant,
        arrival: Duration,
    }

    impl Path {
        pub(super) fn new(t0: Instant) -> Self {
            Self {
                id: 0,
                sent_at: t0,
                arrival: Duration::from_millis(10),
            }
        }

        fn batch(
            &mut self,
            count: usize,
            gap: Duration,
            queue_growth: Duration,
            lost_every: usize,
        ) -> Vec<PacketReport> {
            (0..count)
                .map(|i| {
                    self.id += 1;
                    self.sent_at += gap;
                    self.arrival += gap + queue_growth;
                    let _ = i;
                    let arrived = lost_every == 0 || !self.id.is_multiple_of(lost_every as u64);
                    PacketReport {
                        ssrc: 1,
                        id: self.id,
                        rtp_sequence_number: self.id as u16,
                        is_twcc: true,
                        twcc_sequence_number: self.id as u16,
                        size: 1200,
                        arrived,
                        departure: self.sent_at,
                        arrival: arrived.then_some(self.arrival),
                        ecn: Ecn::default(),
                    }
                })
                .collect()
        }
    }

    /// Run `seconds` of feedback every 50 ms with packets at `rate_bps`.
    pub(super) fn run(
        estimator: &mut LinkEstimator,
        path: &mut Path,
        seconds: f64,
        rate_bps: f64,
        queue_growth: Duration,
        lost_every: usize,
    ) {
        let per_batch = ((rate_bps * 0.05) / (1200.0 * 8.0)).max(1.0) as usize;
        let gap = Duration::from_millis(50) / per_batch as u32;
        for _ in 0..(seconds / 0.05) as usize {
            let reports = path.batch(per_batch, gap, queue_growth, lost_every);
            estimator.on_reports(path.sent_at + Duration::from_millis(20), &reports);
        }
    }

    /// `seconds` on a clear path with a sender that follows the estimate up to `max_bps`, as
    /// the writers do.
    pub(super) fn climb(estimator: &mut LinkEstimator, path: &mut Path, seconds: f64, max_bps: f64) {
        for _ in 0..(seconds * 10.0).round() as usize {
            let rate = estimator.estimate_bps().min(max_bps);
            run(estimator, path, 0.1, rate, Duration::ZERO, 0);
        }
    }

    #[test]
    fn feedback_that_stops_coming_is_overdue_by_how_late_it_is() {
        let t0 = Instant::now();
        let shared = LinkEstimate::default();
        let mut estimator = LinkEstimator::new(shared.clone());
        let mut path = Path::new(t0);
        assert_eq!(
            shared.get().feedback_overdue(t0 + Duration::from_secs(5), t0),
            Duration::ZERO,
            "no feedback yet: nothing to be late"
        );
        // Feedback every 50 ms, 20 ms after its newest packet left: that is the usual lag.
        run(&mut estimator, &mut path, 2.0, 500_000.0, Duration::ZERO, 0);
        let last = path.sent_at + Duration::from_millis(20);
        let state = shared.get();
        assert!(
            state.feedback_overdue(last, t0) < Duration::from_millis(5),
            "on time: {:?}",
            state.feedback_overdue(last, t0)
        );
        // Then nothing for half a second while we keep sending.
        let overdue = state.feedback_overdue(last + Duration::from_millis(500), t0);
        assert!(
            (Duration::from_millis(495)..=Duration::from_millis(505)).contains(&overdue),
            "{overdue:?}"
        );
        // A sender that paused (video off) and started again 30 ms ago is not owed anything older.
        let resumed = last + Duration::from_secs(10);
        let overdue = state.feedback_overdue(resumed + Duration::from_millis(30), resumed);
        assert!(overdue < Duration::from_millis(20), "not 10 s: {overdue:?}");
    }

    #[test]
    fn a_clear_path_is_climbed_fast() {
        let t0 = Instant::now();
        let shared = LinkEstimate::default();
        let mut estimator = LinkEstimator::new(shared.clone());
        let mut path = Path::new(t0);
        assert_eq!(shared.get().target_bps, INITIAL_BPS);
        climb(&mut estimator, &mut path, 3.0, f64::INFINITY);
        let after_3s = shared.get().target_bps;
        assert!(
            after_3s > 2.0 * INITIAL_BPS,
            "three seconds on a clear path: {after_3s}"
        );
        assert!(shared.get().measured && !shared.get().limited);
        assert_eq!(estimator.target_bitrate(), estimator.estimate_bps() * PACING_FACTOR);
    }

    #[test]
    fn a_growing_queue_backs_off_below_what_arrives() {
        let t0 = Instant::now();
        let shared = LinkEstimate::default();
        let mut estimator = LinkEstimator::new(shared.clone());
        let mut path = Path::new(t0);
        run(&mut estimator, &mut path, 1.0, 500_000.0, Duration::ZERO, 0);
        // Twice what the bottleneck carries: each packet queues one more packet's time (19 ms
        // at 500 kbit/s) behind the one before.
        run(&mut estimator, &mut path, 1.5, 500_000.0, Duration::from_millis(19), 0);
        let state = shared.get();
        assert!(state.limited, "overuse seen");
        assert!(state.target_bps < 500_000.0, "backed off: {}", state.target_bps);
        assert!(state.target_bps >= MIN_BPS);
    }

    #[test]
    fn loss_rising_above_the_background_lowers_the_estimate_and_ends_the_start_up_climb() {
        let t0 = Instant::now();
        let shared = LinkEstimate::default();
        let mut estimator = LinkEstimator::new(shared.clone());
        let mut path = Path::new(t0);
        run(&mut estimator, &mut path, 3.0, 400_000.0, Duration::ZERO, 0);
        let before = shared.get().target_bps;
        assert!(!shared.get().limited);
        // A third lost from now on: a queue overflowing.
        run(&mut estimator, &mut path, 2.0, 400_000.0, Duration::ZERO, 3);
        let state = shared.get();
        assert!(
            state.target_bps < before * 0.8,
            "33 % loss: {before} → {}",
            state.target_bps
        );
        assert!(state.loss.unwrap() > 0.25, "{:?}", state.loss);
        assert!(state.limited);
    }

    #[test]
    fn random_loss_that_was_always_there_does_not_starve_the_estimate() {
        let t0 = Instant::now();
        let shared = LinkEstimate::default();
        let mut estimator = LinkEstimator::new(shared.clone());
        let mut path = Path::new(t0);
        // 20 % loss from the start, steady: after the first seconds it is the link's background.
        for _ in 0..100 {
            let rate = estimator.estimate_bps();
            run(&mut estimator, &mut path, 0.1, rate, Duration::ZERO, 5);
        }
        let state = shared.get();
        assert!(
            state.target_bps > INITIAL_BPS,
            "ten seconds at steady 20 % loss: {}",
            state.target_bps
        );
        assert!((state.loss.unwrap() - 0.2).abs() < 0.05, "{:?}", state.loss);
    }

    #[test]
    fn the_resend_share_grows_with_loss_within_bounds() {
        assert_eq!(retransmission_share(None), RETRANSMISSION_SHARE);
        assert_eq!(retransmission_share(Some(0.02)), RETRANSMISSION_SHARE);
        assert!((retransmission_share(Some(0.15)) - 0.225).abs() < 1e-9);
        assert_eq!(retransmission_share(Some(0.6)), MAX_RETRANSMISSION_SHARE);
    }

    #[test]
    fn a_queue_that_stands_full_is_overuse() {
        let t0 = Instant::now();
        let shared = LinkEstimate::default();
        let mut estimator = LinkEstimator::new(shared.clone());
        let mut path = Path::new(t0);
        run(&mut estimator, &mut path, 1.0, 400_000.0, Duration::ZERO, 0);
        // The queue fills to 400 ms in a moment, then stays full (no growth the trend sees).
        path.arrival += Duration::from_millis(400);
        run(&mut estimator, &mut path, 2.0, 400_000.0, Duration::ZERO, 0);
        let state = shared.get();
        assert!(state.limited);
        assert!(state.target_bps < 400_000.0, "{}", state.target_bps);
    }

    /// The link under a 700 kbit/s sender falls to 300 kbit/s: each packet then waits 4/3 of
    /// its own sending interval more than the one before. Within 400 ms of feedback the
    /// estimate must be below the new capacity (a router queue of 32 KiB is full after ≈ 650 ms:
    /// later, the keyframe of the smaller picture is tail-dropped).
    #[test]
    fn a_link_that_suddenly_carries_less_is_noticed_within_a_few_feedbacks() {
        let t0 = Instant::now();
        let shared = LinkEstimate::default();
        let mut estimator = LinkEstimator::new(shared.clone());
        let mut path = Path::new(t0);
        climb(&mut estimator, &mut path, 4.0, 700_000.0);
        assert!(shared.get().target_bps >= 650_000.0, "{}", shared.get().target_bps);
        let gap = Duration::from_secs_f64(1200.0 * 8.0 / 700_000.0);
        run(&mut estimator, &mut path, 0.4, 700_000.0, gap * 4 / 3, 0);
        let state = shared.get();
        assert!(
            state.target_bps < 300_000.0,
            "400 ms after the drop the estimate is {}",
            state.target_bps
        );
    }

    /// A receiver that was busy for 150 ms reads a burst of packets late, then catches up:
    /// that is not a queue on the path, and the estimate must not fall for it.
    #[test]
    fn a_receiver_stalled_once_is_not_a_queue() {
        let t0 = Instant::now();
        let shared = LinkEstimate::default();
        let mut estimator = LinkEstimator::new(shared.clone());
        let mut path = Path::new(t0);
        climb(&mut estimator, &mut path, 3.0, 700_000.0);
        let before = shared.get().target_bps;
        // One feedback's packets all arrive 150 ms late, then everything is on time again.
        path.arrival += Duration::from_millis(150);
        run(&mut estimator, &mut path, 0.05, 700_000.0, Duration::ZERO, 0);
        path.arrival -= Duration::from_millis(150);
        run(&mut estimator, &mut path, 1.0, 700_000.0, Duration::ZERO, 0);
        assert!(!shared.get().limited, "a stall is not a push-back");
        assert!(
            shared.get().target_bps >= before,
            "{before} → {}",
            shared.get().target_bps
        );
    }

    #[test]
    fn a_fixed_estimate_stays() {
        let estimate = LinkEstimate::fixed(800_000.0);
        assert_eq!(estimate.get().target_bps, 800_000.0);
        assert!(!estimate.get().measured);
    }

    fn rtp(ssrc: u32, seq: u16, payload: &[u8]) -> rtc::rtp::Packet {
        let mut packet = rtc::rtp::Packet::default();
        packet.header.ssrc = ssrc;
        packet.header.sequence_number = seq;
        packet.payload = bytes::Bytes::copy_from_slice(payload);
        packet
    }

    fn budget(target_bps: f64) -> RetransmissionBudget {
        let estimate = LinkEstimate::fixed(target_bps);
        estimate.set_rtt(Duration::from_millis(100));
        let mut budget = RetransmissionBudget::new(estimate);
        budget.bind_local_stream(&StreamInfo {
            ssrc: 1,
            ssrc_rtx: Some(2),
            ..Default::default()
        });
        budget.bind_local_stream(&StreamInfo {
            ssrc: 3,
            ..Default::default()
        });
        budget
    }

    #[test]
    fn originals_always_leave_and_a_repeated_resend_within_a_round_trip_does_not() {
        let t0 = Instant::now();
        let mut budget = budget(1_000_000.0);
        assert!(budget.admit(t0, &rtp(1, 10, &[0; 1000])));
        // Let some budget accumulate.
        let t1 = t0 + Duration::from_millis(200);
        assert!(budget.admit(t1, &rtp(1, 11, &[0; 1000])));
        assert!(
            budget.admit(t1, &rtp(2, 500, &[0, 10, 1, 2, 3])),
            "first resend of 10 (RTX)"
        );
        assert!(
            !budget.admit(t1 + Duration::from_millis(30), &rtp(2, 501, &[0, 10, 1, 2, 3])),
            "again within the round trip"
        );
        assert!(
            budget.admit(t1 + Duration::from_millis(115), &rtp(2, 502, &[0, 10, 1, 2, 3])),
            "after a round trip: the first resend was lost too"
        );
        let state = budget.estimate.get();
        assert_eq!((state.retransmitted_packets, state.retransmissions_withheld), (2, 1));
    }

    #[test]
    fn the_first_keyframe_of_a_slow_link_can_be_repaired_at_once() {
        // 300 kbit/s: a tenth of it builds up one 1,200-byte packet's worth in 0.3 s; the
        // keyframe that starts the call cannot wait for that.
        let t0 = Instant::now();
        let mut budget = budget(300_000.0);
        for seq in 10..15 {
            assert!(budget.admit(t0, &rtp(1, seq, &[0; 1188])));
        }
        let resend = |seq: u16| [[0, seq as u8].as_slice(), &[0u8; 1188]].concat();
        let t1 = t0 + Duration::from_millis(20);
        for (rtx_seq, lost) in [(600, 11), (601, 12), (602, 13)] {
            assert!(budget.admit(t1, &rtp(2, rtx_seq, &resend(lost))), "resend of {lost}");
        }
        assert!(
            !budget.admit(t1, &rtp(2, 603, &resend(14))),
            "but no more than a few at once"
        );
    }

    #[test]
    fn a_repeat_request_after_the_round_trip_ice_measured_is_answered() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let estimate = LinkEstimate::fixed(300_000.0);
        estimate.seed_rtt(ms(1));
        estimate.seed_rtt(ms(500)); // a second guess never replaces the first
        let mut budget = RetransmissionBudget::new(estimate.clone());
        budget.bind_local_stream(&StreamInfo {
            ssrc: 1,
            ssrc_rtx: Some(2),
            ..Default::default()
        });
        assert!(budget.admit(t0, &rtp(1, 10, &[0; 500])));
        let resend = [[0u8, 10].as_slice(), &[0u8; 500]].concat();
        assert!(budget.admit(t0 + ms(10), &rtp(2, 700, &resend)));
        // The requester knows the round trip is 1 ms: no resend after 25 ms means it was lost.
        assert!(
            budget.admit(t0 + ms(35), &rtp(2, 701, &resend)),
            "the repeat is answered, not taken for impatience"
        );
        // What the reports measure replaces the seed.
        estimate.set_rtt(ms(200));
        assert!(
            !budget.admit(t0 + ms(60), &rtp(2, 702, &resend)),
            "within a measured round trip it is"
        );
    }

    #[test]
    fn resends_without_rtx_are_recognised_by_their_old_sequence_number() {
        let t0 = Instant::now();
        let mut budget = budget(1_000_000.0);
        assert!(budget.admit(t0, &rtp(3, 100, &[0; 100])));
        assert!(budget.admit(t0, &rtp(3, 101, &[0; 100])));
        let t1 = t0 + Duration::from_millis(200);
        assert!(budget.admit(t1, &rtp(3, 100, &[0; 100])));
        assert!(!budget.admit(t1, &rtp(3, 100, &[0; 100])));
        assert_eq!(budget.estimate.get().retransmitted_packets, 1);
    }

    #[test]
    fn retransmissions_never_spend_more_than_their_share() {
        let t0 = Instant::now();
        let target = 500_000.0;
        let mut budget = budget(target);
        let mut sent_bits = 0.0;
        // Ask for a resend of a new packet every millisecond for 10 s: far more than the share.
        for i in 0..10_000u32 {
            let now = t0 + Duration::from_millis(u64::from(i));
            let seq = (i % 60_000) as u16;
            let payload = [[(seq >> 8) as u8, seq as u8].as_slice(), &[0u8; 1000]].concat();
            if budget.admit(now, &rtp(2, seq, &payload)) {
                sent_bits += (payload.len() + 12) as f64 * 8.0;
            }
        }
        let rate = sent_bits / 10.0;
        // The share, and once the bucket it starts with (half a second of it).
        let bound = target * RETRANSMISSION_SHARE * (1.0 + 0.5 / 10.0) + 1_100.0 * 8.0 / 10.0;
        assert!(rate <= bound, "{rate} bit/s of resends");
        assert!(rate >= target * RETRANSMISSION_SHARE * 0.8, "the share is used: {rate}");
    }
}

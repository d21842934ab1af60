//! What picture each connection gets for the bandwidth its path carries: the video budget left
//! after audio and retransmissions, the simulcast layer (full size or half size) and frame rate
//! that fit it, and when to step up again. Pure decisions on the caller's clock.
//!
//! A participant encodes each layer once, whoever receives it (`capture`), and every connection
//! picks the layer its own estimate carries (`send`): in a mesh, one participant on a bad link
//! gets the small picture without dragging the others down to it. A layer's encoder runs at the
//! lowest budget among the connections that receive it, within the layer's range.
//!
//! Two rules keep a changing link from freezing the picture: a step down waits (≤ 1 s) while the
//! path holds a queue, the large layer meanwhile dropping its rate in place (the small layer
//! starts with a keyframe, which a full router queue would tail-drop); and an encoder climbs
//! towards its budget in steps ([`encoder_rate`]), so an estimate that has not met the link's
//! limit yet is tried before it is used.

use std::time::{Duration, Instant};

/// Simulcast layers, largest first: 0 = the camera's size (640×360 by default), 1 = half.
pub const LAYERS: usize = 2;
/// What audio takes of a link (Opus at ≈ 32 kbit/s with FEC, plus RTP/SRTP/TURN overhead).
pub const AUDIO_BPS: f64 = 45_000.0;
/// Below this video budget the full-size layer is not worth it (it is blocky and freezes on
/// keyframes): the half-size picture looks better.
pub const FULL_SIZE_MIN_BPS: f64 = 380_000.0;
/// Below this the half-size picture drops to half its frame rate, so each frame keeps enough bits.
pub const HALF_RATE_BELOW_BPS: f64 = 40_000.0;
/// The least the full-size layer is run at (while a step down waits).
pub const FULL_LAYER_FLOOR_BPS: u32 = 100_000;
/// The smallest rate we ask an encoder for.
pub const ENCODER_MIN_BPS: u32 = 30_000;
/// With this video budget and no push-back from the path, a step up is worth trying.
pub const PROBE_FROM_BPS: f64 = 250_000.0;
/// How long the budget must allow a larger layer before we step up (stepping down is at once).
const STEP_UP_AFTER: Duration = Duration::from_secs(2);
/// A layer is left for a larger one only with this much room above its threshold (hysteresis).
const STEP_UP_MARGIN: f64 = 1.15;

/// What the video of one connection may use, bits per second, from its estimate: the estimate
/// minus audio, minus the share retransmissions may take, minus a little headroom so the encoder's
/// overshoot does not fill the bottleneck queue. `loss`: what the link loses (more resends).
pub fn video_budget(estimate_bps: f64, loss: Option<f64>) -> f64 {
    ((estimate_bps - AUDIO_BPS) * (1.0 - crate::bwe::retransmission_share(loss)) * 0.95).max(f64::from(ENCODER_MIN_BPS))
}

/// Feedback later than usual by more than this slows the writers down (see
/// [`feedback_pushback`]).
pub const FEEDBACK_OVERDUE: Duration = Duration::from_millis(200);

/// The video budget while the remote's feedback is `overdue` (see
/// `bwe::EstimateState::feedback_overdue`): the budget while feedback comes on time, then
/// scaled by 200 ms / overdue (half at 400 ms, a quarter from 800 ms on), so a link that
/// suddenly carries much less stops being filled before the feedback that shows it gets through
/// its queue (libwebrtc's congestion window does the same with the data in flight).
pub fn feedback_pushback(budget_bps: f64, overdue: Duration) -> f64 {
    if overdue <= FEEDBACK_OVERDUE {
        return budget_bps;
    }
    let scale = (FEEDBACK_OVERDUE.as_secs_f64() / overdue.as_secs_f64()).max(0.25);
    (budget_bps * scale).max(f64::from(ENCODER_MIN_BPS))
}

/// The rate to ask of the encoder of a connection's layer: the budget, but at most a step above
/// what the connection sent over the last second (`sent_bps`). An estimate that has not met the
/// link's limit yet floats above it (it is bounded only by 1.5 × what arrives); an encoder
/// that jumped to it offered a 500 kbit/s link 700 kbit/s and its queue overflowed before the
/// delay said anything. Climbing 25 % + 60 kbit/s a step lets the path push back first.
pub fn encoder_rate(budget_bps: f64, sent_bps: f64) -> f64 {
    budget_bps.min(sent_bps * 1.25 + 60_000.0)
}

/// The range of bitrates an encoder of `layer` is run at, for a camera whose full-size layer is
/// configured at `full_bps`.
pub fn layer_range(layer: usize, full_bps: u32) -> (u32, u32) {
    match layer {
        // Far below the step-down threshold: a link that just got slower keeps the large
        // picture at a low rate (no keyframe) until its queue drains and the small layer's
        // keyframe can pass (see `LayerChoice::update`); it must not keep flooding the link.
        0 => (FULL_LAYER_FLOOR_BPS, full_bps.max(FULL_SIZE_MIN_BPS as u32)),
        _ => (ENCODER_MIN_BPS, (FULL_SIZE_MIN_BPS * STEP_UP_MARGIN) as u32),
    }
}

/// Queueing on the path above which a step down waits (see [`LayerChoice::update`]).
const SWITCH_DOWN_QUEUE_MS: f64 = 60.0;
/// How long a step down may wait for the queue to drain.
const SWITCH_DOWN_WAIT: Duration = Duration::from_millis(1_000);

/// A step up that had to be undone this soon was a failed probe of the link.
const FAILED_STEP_UP: Duration = Duration::from_secs(4);
/// The wait before stepping up again after failed probes doubles up to this.
const MAX_STEP_UP_AFTER: Duration = Duration::from_secs(32);
/// The wait before a step up: [`STEP_UP_AFTER`], doubled by every failed one.
const STEP_UP_BACKOFF: natter_ice::backoff::Backoff =
    natter_ice::backoff::Backoff::doubling(STEP_UP_AFTER, MAX_STEP_UP_AFTER);

/// One connection's choice of layer, with hysteresis. A step up is also how we learn whether
/// the link carries the larger picture (an estimate is only proven by traffic): when it has to
/// be undone within a few seconds, the next attempt waits twice as long.
#[derive(Debug, Clone)]
pub struct LayerChoice {
    layer: usize,
    /// Since when the budget has allowed the next larger layer.
    room_since: Option<Instant>,
    /// Step ups undone soon after (failed probes of the link): each makes the next wait longer.
    failed_step_ups: usize,
    stepped_up_at: Option<Instant>,
    /// Since when a step down has waited for the path's queue to drain.
    down_waiting_since: Option<Instant>,
}

impl LayerChoice {
    /// Start where the starting estimate puts us (the half-size layer at 300 kbit/s).
    pub fn new(budget_bps: f64) -> Self {
        Self {
            layer: Self::fitting(budget_bps),
            room_since: None,
            failed_step_ups: 0,
            stepped_up_at: None,
            down_waiting_since: None,
        }
    }

    fn fitting(budget_bps: f64) -> usize {
        if budget_bps >= FULL_SIZE_MIN_BPS { 0 } else { 1 }
    }

    pub fn layer(&self) -> usize {
        self.layer
    }

    /// The layer for this budget now. Down as soon as the budget is below the layer's floor; up
    /// only after the budget has had room for the larger one (with a margin) for a while — or,
    /// when `may_probe` (the path has not pushed back lately, so the estimate is only as high as
    /// what the smaller layer needed), after a while with at least [`PROBE_FROM_BPS`]: the step
    /// up is then the probe that shows whether the link carries more.
    ///
    /// A step down waits while the path holds a queue (`queue_ms` above
    /// [`SWITCH_DOWN_QUEUE_MS`]), at most [`SWITCH_DOWN_WAIT`]: the smaller layer starts with a
    /// keyframe, and a keyframe behind a full router queue is tail-dropped (then the picture
    /// freezes until the next one gets through). Meanwhile the current layer's encoder follows
    /// the budget down in place, which drains the queue.
    pub fn update_with_queue(&mut self, budget_bps: f64, may_probe: bool, queue_ms: f64, now: Instant) -> usize {
        let previous = self.layer;
        let layer = self.update(budget_bps, may_probe, now);
        if layer <= previous {
            self.down_waiting_since = None;
            return layer;
        }
        let since = *self.down_waiting_since.get_or_insert(now);
        if queue_ms > SWITCH_DOWN_QUEUE_MS && now.saturating_duration_since(since) < SWITCH_DOWN_WAIT {
            self.layer = previous;
            return previous;
        }
        self.down_waiting_since = None;
        layer
    }

    pub fn update(&mut self, budget_bps: f64, may_probe: bool, now: Instant) -> usize {
        // While probing, the small budget is expected: only a push-back (the budget falling below
        // what the probe needed) undoes the step.
        let probing = self.stepped_up_at.is_some() && may_probe;
        let fits = if probing && budget_bps >= PROBE_FROM_BPS {
            self.layer
        } else {
            Self::fitting(budget_bps)
        };
        if let Some(at) = self.stepped_up_at
            && now.saturating_duration_since(at) > FAILED_STEP_UP * 2
        {
            // The last step up held: the link carries it, be quick again next time.
            self.failed_step_ups = 0;
            self.stepped_up_at = None;
        }
        if fits > self.layer {
            if self
                .stepped_up_at
                .is_some_and(|at| now.saturating_duration_since(at) < FAILED_STEP_UP)
            {
                self.failed_step_ups += 1;
            }
            self.layer = fits;
            self.room_since = None;
            self.stepped_up_at = None;
        } else if self.layer > 0
            && (budget_bps >= FULL_SIZE_MIN_BPS * STEP_UP_MARGIN || (may_probe && budget_bps >= PROBE_FROM_BPS))
        {
            let since = *self.room_since.get_or_insert(now);
            if now.saturating_duration_since(since) >= STEP_UP_BACKOFF.delay(self.failed_step_ups) {
                self.layer -= 1;
                self.room_since = None;
                self.stepped_up_at = Some(now);
            }
        } else {
            self.room_since = None;
        }
        self.layer
    }
}

/// Encode every `n`th frame of a layer whose lowest receiver's budget is `budget_bps`.
pub fn frame_divisor(layer: usize, budget_bps: f64) -> u32 {
    if layer + 1 == LAYERS && budget_bps < HALF_RATE_BELOW_BPS {
        2
    } else {
        1
    }
}

/// Encoding taking more than this share of each frame interval is a computer at its limit.
pub const CPU_LIMITED_LOAD: f64 = 0.85;

/// Why our video to one remote is below its best, and in words: `bandwidth` when the estimate
/// (once measured) puts the link on a smaller layer or gives the picture less than its layer's
/// top rate; else `cpu` when encoding takes most of each frame interval (`encode_load`, see
/// `EncodedStreams::encode_load`: frames are being skipped); `none` otherwise.
pub fn quality_limitation(
    estimate: &crate::bwe::EstimateState,
    layer: usize,
    budget_bps: f64,
    size: (u32, u32),
    remote_name: &str,
    encode_load: f64,
) -> (String, Option<String>) {
    let carries = format!("about {} kbit/s", (estimate.target_bps / 10_000.0).round() * 10.0);
    let limited_size = layer > 0 && size.0 > 0;
    let limited_rate = layer == 0 && budget_bps < FULL_SIZE_MIN_BPS * 1.6;
    if !estimate.measured || !(limited_size || limited_rate) {
        if encode_load > CPU_LIMITED_LOAD {
            let words = "This computer is too busy to encode video at its full frame rate: close other programs, or turn off video for a while";
            return ("cpu".into(), Some(words.into()));
        }
        return ("none".into(), None);
    }
    let who = if remote_name.is_empty() {
        "this participant".to_string()
    } else {
        remote_name.to_string()
    };
    let effect = if limited_size {
        format!("video reduced to {}×{}", size.0, size.1)
    } else {
        "video sent at reduced quality".to_string()
    };
    (
        "bandwidth".into(),
        Some(format!("Your connection to {who} carries {carries}: {effect}")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_feedback_slows_the_writer_in_proportion() {
        let ms = Duration::from_millis;
        assert_eq!(feedback_pushback(600_000.0, ms(0)), 600_000.0);
        assert_eq!(
            feedback_pushback(600_000.0, ms(200)),
            600_000.0,
            "on time give or take a feedback interval"
        );
        assert_eq!(feedback_pushback(600_000.0, ms(400)), 300_000.0);
        assert_eq!(feedback_pushback(600_000.0, ms(3_000)), 150_000.0, "a quarter at most");
        assert_eq!(feedback_pushback(60_000.0, ms(3_000)), f64::from(ENCODER_MIN_BPS));
    }

    #[test]
    fn the_budget_leaves_room_for_audio_and_resends() {
        let budget = video_budget(500_000.0, None);
        assert!(budget < 500_000.0 - AUDIO_BPS && budget > 350_000.0, "{budget}");
        assert_eq!(video_budget(10_000.0, None), f64::from(ENCODER_MIN_BPS));
    }

    #[test]
    fn the_starting_estimate_gives_the_half_size_picture() {
        assert_eq!(LayerChoice::new(video_budget(crate::bwe::INITIAL_BPS, None)).layer(), 1);
        assert_eq!(LayerChoice::new(video_budget(1_000_000.0, None)).layer(), 0);
    }

    #[test]
    fn down_at_once_up_after_a_while_with_a_margin() {
        let t0 = Instant::now();
        let mut choice = LayerChoice::new(800_000.0);
        assert_eq!(choice.update(200_000.0, false, t0), 1, "down at once");
        // Just above the threshold is not enough room.
        assert_eq!(
            choice.update(FULL_SIZE_MIN_BPS * 1.05, false, t0 + Duration::from_secs(5)),
            1
        );
        assert_eq!(
            choice.update(600_000.0, false, t0 + Duration::from_secs(6)),
            1,
            "room since now"
        );
        assert_eq!(choice.update(600_000.0, false, t0 + Duration::from_millis(7_900)), 1);
        assert_eq!(
            choice.update(600_000.0, false, t0 + Duration::from_secs(8)),
            0,
            "up after 2 s of room"
        );
    }

    #[test]
    fn a_dip_restarts_the_wait_to_step_up() {
        let t0 = Instant::now();
        let mut choice = LayerChoice::new(200_000.0);
        choice.update(600_000.0, false, t0);
        choice.update(300_000.0, false, t0 + Duration::from_secs(1));
        assert_eq!(choice.update(600_000.0, false, t0 + Duration::from_millis(2_500)), 1);
        assert_eq!(choice.update(600_000.0, false, t0 + Duration::from_millis(4_600)), 0);
    }

    #[test]
    fn a_step_up_the_link_cannot_carry_makes_the_next_one_wait_longer() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut choice = LayerChoice::new(200_000.0);
        choice.update(600_000.0, false, at(0));
        assert_eq!(choice.update(600_000.0, false, at(2_000)), 0, "first attempt after 2 s");
        assert_eq!(
            choice.update(200_000.0, false, at(3_000)),
            1,
            "the link pushed back within a second"
        );
        choice.update(600_000.0, false, at(3_100));
        assert_eq!(choice.update(600_000.0, false, at(5_200)), 1, "not after 2 s this time");
        assert_eq!(choice.update(600_000.0, false, at(7_100)), 0, "after 4 s");
        // It held for long enough: the wait is short again.
        assert_eq!(choice.update(600_000.0, false, at(20_000)), 0);
        assert_eq!(choice.update(200_000.0, false, at(21_000)), 1);
        choice.update(600_000.0, false, at(21_100));
        assert_eq!(choice.update(600_000.0, false, at(23_100)), 0);
    }

    #[test]
    fn without_push_back_a_step_up_is_tried_as_a_probe_and_held_until_the_path_objects() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut choice = LayerChoice::new(200_000.0);
        assert_eq!(choice.update(300_000.0, true, at(0)), 1);
        assert_eq!(
            choice.update(300_000.0, true, at(2_000)),
            0,
            "probe: the small layer's estimate proves nothing"
        );
        assert_eq!(
            choice.update(300_000.0, true, at(2_500)),
            0,
            "held while the path says nothing"
        );
        assert_eq!(
            choice.update(300_000.0, false, at(3_000)),
            1,
            "the path pushed back: down"
        );
        assert_eq!(choice.update(200_000.0, true, at(6_000)), 1, "too little even to probe");
    }

    #[test]
    fn a_step_down_waits_for_the_queue_to_drain_but_not_for_ever() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut choice = LayerChoice::new(800_000.0);
        assert_eq!(
            choice.update_with_queue(150_000.0, false, 300.0, at(0)),
            0,
            "a 300 ms queue: the keyframe would be dropped"
        );
        assert_eq!(choice.update_with_queue(150_000.0, false, 200.0, at(400)), 0);
        assert_eq!(
            choice.update_with_queue(150_000.0, false, 20.0, at(600)),
            1,
            "drained: down"
        );
        let mut stuck = LayerChoice::new(800_000.0);
        assert_eq!(stuck.update_with_queue(150_000.0, false, 300.0, at(0)), 0);
        assert_eq!(
            stuck.update_with_queue(150_000.0, false, 300.0, at(1_000)),
            1,
            "a queue that never drains: down after a second"
        );
        let mut clear = LayerChoice::new(800_000.0);
        assert_eq!(
            clear.update_with_queue(150_000.0, false, 10.0, at(0)),
            1,
            "no queue: down at once"
        );
    }

    #[test]
    fn the_encoder_climbs_towards_the_budget_in_steps_and_follows_it_down_at_once() {
        assert_eq!(
            encoder_rate(800_000.0, 200_000.0),
            310_000.0,
            "a step above what was sent"
        );
        assert_eq!(encoder_rate(300_000.0, 600_000.0), 300_000.0, "down at once");
        assert_eq!(encoder_rate(100_000.0, 0.0), 60_000.0, "from nothing: a start");
    }

    #[test]
    fn a_starved_small_layer_halves_its_frame_rate() {
        assert_eq!(frame_divisor(1, 35_000.0), 2);
        assert_eq!(frame_divisor(1, 150_000.0), 1);
        assert_eq!(
            frame_divisor(0, 35_000.0),
            1,
            "the full-size layer is never that starved"
        );
    }

    #[test]
    fn a_small_layer_on_a_measured_link_is_a_bandwidth_limit_in_words() {
        let mut estimate = crate::bwe::EstimateState {
            target_bps: 304_000.0,
            measured: true,
            ..Default::default()
        };
        let (why, words) = quality_limitation(&estimate, 1, video_budget(304_000.0, None), (320, 180), "Bob", 0.3);
        assert_eq!(why, "bandwidth");
        assert_eq!(
            words.as_deref(),
            Some("Your connection to Bob carries about 300 kbit/s: video reduced to 320×180")
        );
        assert_eq!(
            quality_limitation(&estimate, 0, 1_500_000.0, (640, 360), "Bob", 0.3).0,
            "none"
        );
        assert_eq!(
            quality_limitation(&estimate, 0, 1_500_000.0, (640, 360), "Bob", 0.95).0,
            "cpu",
            "the link is fine, the encoder is not"
        );
        estimate.measured = false;
        assert_eq!(
            quality_limitation(&estimate, 1, 200_000.0, (320, 180), "Bob", 0.3),
            ("none".into(), None),
            "no estimate, no claim"
        );
    }

    #[test]
    fn layer_ranges_meet() {
        let (full_min, full_max) = layer_range(0, 800_000);
        let (half_min, half_max) = layer_range(1, 800_000);
        assert!(half_max > full_min && full_max == 800_000 && half_min == ENCODER_MIN_BPS);
    }
}

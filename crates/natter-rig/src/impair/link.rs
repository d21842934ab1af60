//! One access link of the impairment proxy: what happens to the datagrams one client sends (its
//! uplink) or receives (its downlink). A datagram goes through, in order:
//!
//! 1. **loss**: independent ([`Loss::Random`]) or in bursts ([`Loss::Burst`], a Gilbert–Elliott
//!    chain advanced once per datagram);
//! 2. **the bottleneck** ([`LinkConditions::rate_bps`]): a FIFO served at the rate, holding at
//!    most [`QueueLimit`] bytes; a datagram that does not fit is dropped (tail drop), as a home
//!    router does. A datagram is serialised at the rate in force when its turn comes, so a rate
//!    change applies from the next datagram on;
//! 3. **propagation**: `delay` ± `jitter` (uniform), the datagrams released in the order of
//!    their release times (so jitter larger than their spacing reorders them), or, with
//!    `reorder: false`, never before the previous one (release = max(previous release,
//!    serialised + delay + jitter)).
//!
//! The link runs on its own thread ([`Link::spawn`]); times are computed from when each datagram
//! arrived and when the previous one left the queue, not from when the thread woke, so a late
//! wake-up delays a datagram a little but never changes the link's throughput.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How datagrams are lost on a link, before its queue.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Loss {
    #[default]
    None,
    /// Each datagram independently with this probability (0–1).
    Random(f64),
    /// Gilbert–Elliott: a two-state chain stepped once per datagram. In the good state a
    /// datagram is lost with probability `loss_good`, in the bad one with `loss_bad`; the chain
    /// moves good → bad with probability `good_to_bad`, bad → good with `bad_to_good`.
    Burst {
        good_to_bad: f64,
        bad_to_good: f64,
        loss_good: f64,
        loss_bad: f64,
    },
}

impl Loss {
    /// Bursts that lose `mean_loss` of all datagrams (0–1) in runs of `mean_burst` datagrams on
    /// average: every datagram of the bad state lost, none of the good state (the Gilbert model),
    /// so a burst's length is geometric with mean 1 / `bad_to_good`.
    pub fn bursts(mean_loss: f64, mean_burst: f64) -> Loss {
        assert!(
            (0.0..1.0).contains(&mean_loss) && mean_burst >= 1.0,
            "mean loss in [0, 1), mean burst ≥ 1 datagram"
        );
        let bad_to_good = 1.0 / mean_burst;
        // Stationary share of the bad state: g→b / (g→b + b→g) = mean_loss.
        let good_to_bad = mean_loss * bad_to_good / (1.0 - mean_loss);
        Loss::Burst {
            good_to_bad,
            bad_to_good,
            loss_good: 0.0,
            loss_bad: 1.0,
        }
    }

    /// The share of datagrams this loses in the long run.
    pub fn mean(&self) -> f64 {
        match *self {
            Loss::None => 0.0,
            Loss::Random(p) => p,
            Loss::Burst {
                good_to_bad,
                bad_to_good,
                loss_good,
                loss_bad,
            } => {
                let bad = if good_to_bad + bad_to_good > 0.0 {
                    good_to_bad / (good_to_bad + bad_to_good)
                } else {
                    0.0
                };
                bad * loss_bad + (1.0 - bad) * loss_good
            }
        }
    }
}

/// How much the bottleneck's queue holds before it drops what arrives.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum QueueLimit {
    /// The larger of 100 ms at the rate and 32 KiB: what a home router's buffer holds (it is
    /// sized in bytes or packets, so a slow link queues for longer).
    #[default]
    Router,
    Bytes(usize),
    /// This long at the link's rate (at least one full-size datagram).
    Time(Duration),
}

impl QueueLimit {
    /// The limit in bytes at `rate_bps`.
    pub fn bytes(&self, rate_bps: u64) -> usize {
        let at_rate = |d: Duration| (rate_bps as f64 / 8.0 * d.as_secs_f64()) as usize;
        match *self {
            QueueLimit::Router => at_rate(Duration::from_millis(100)).max(32 * 1024),
            QueueLimit::Bytes(n) => n,
            QueueLimit::Time(d) => at_rate(d).max(1500),
        }
    }
}

/// What a link does to the datagrams it carries. `Default` is a perfect link.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LinkConditions {
    pub loss: Loss,
    /// Propagation delay added to every datagram.
    pub delay: Duration,
    /// Each datagram's delay varies uniformly within ± this (never below zero).
    pub jitter: Duration,
    /// Whether jitter may reorder datagrams (`false`: each leaves no earlier than the previous).
    pub reorder: bool,
    /// The bottleneck's rate in bits/s (the whole datagram counts); `None`: no bottleneck.
    pub rate_bps: Option<u64>,
    pub queue: QueueLimit,
}

impl LinkConditions {
    /// A perfect link.
    pub fn perfect() -> LinkConditions {
        LinkConditions::default()
    }

    /// Each datagram lost with probability `p`.
    pub fn random_loss(mut self, p: f64) -> LinkConditions {
        self.loss = Loss::Random(p);
        self
    }

    /// Loss in bursts: `mean_loss` of the datagrams in runs of `mean_burst` ([`Loss::bursts`]).
    pub fn burst_loss(mut self, mean_loss: f64, mean_burst: f64) -> LinkConditions {
        self.loss = Loss::bursts(mean_loss, mean_burst);
        self
    }

    /// `delay` ± `jitter`, reordering allowed.
    pub fn delay(mut self, delay: Duration, jitter: Duration) -> LinkConditions {
        self.delay = delay;
        self.jitter = jitter;
        self.reorder = true;
        self
    }

    /// `delay` ± `jitter` with every datagram kept in order.
    pub fn delay_in_order(mut self, delay: Duration, jitter: Duration) -> LinkConditions {
        self = self.delay(delay, jitter);
        self.reorder = false;
        self
    }

    /// A bottleneck of `bps` bits/s (queue: [`QueueLimit::Router`] unless set).
    pub fn rate(mut self, bps: u64) -> LinkConditions {
        self.rate_bps = Some(bps);
        self
    }

    pub fn queue(mut self, limit: QueueLimit) -> LinkConditions {
        self.queue = limit;
        self
    }
}

/// What a link (or a direction, summed over clients) has seen, in datagrams and bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Datagrams that reached the proxy on this link (before the filter and the link).
    pub arrived: u64,
    pub arrived_bytes: u64,
    /// Delivered at the other end.
    pub passed: u64,
    pub passed_bytes: u64,
    /// Dropped by the filter given to [`super::UdpProxy::start`].
    pub filtered: u64,
    /// Lost by the link's loss model.
    pub lost: u64,
    /// Dropped because the bottleneck's queue was full (tail drop).
    pub overflowed: u64,
    pub overflowed_bytes: u64,
}

impl LinkStats {
    pub fn add(&mut self, other: &LinkStats) {
        self.arrived += other.arrived;
        self.arrived_bytes += other.arrived_bytes;
        self.passed += other.passed;
        self.passed_bytes += other.passed_bytes;
        self.filtered += other.filtered;
        self.lost += other.lost;
        self.overflowed += other.overflowed;
        self.overflowed_bytes += other.overflowed_bytes;
    }

    /// Datagrams neither delivered nor dropped yet: held by the link (queued or delayed).
    pub fn in_flight(&self) -> u64 {
        self.arrived
            .saturating_sub(self.passed + self.filtered + self.lost + self.overflowed)
    }
}

/// The live counters behind [`LinkStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    arrived: AtomicU64,
    arrived_bytes: AtomicU64,
    passed: AtomicU64,
    passed_bytes: AtomicU64,
    filtered: AtomicU64,
    lost: AtomicU64,
    overflowed: AtomicU64,
    overflowed_bytes: AtomicU64,
}

impl Counters {
    pub(crate) fn arrived(&self, bytes: usize) {
        self.arrived.fetch_add(1, Ordering::Relaxed);
        self.arrived_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn filtered(&self) {
        self.filtered.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> LinkStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        LinkStats {
            arrived: get(&self.arrived),
            arrived_bytes: get(&self.arrived_bytes),
            passed: get(&self.passed),
            passed_bytes: get(&self.passed_bytes),
            filtered: get(&self.filtered),
            lost: get(&self.lost),
            overflowed: get(&self.overflowed),
            overflowed_bytes: get(&self.overflowed_bytes),
        }
    }
}

/// What the link thread is told.
pub(crate) enum Message {
    /// A datagram and when it reached the proxy.
    Datagram(Instant, Vec<u8>),
    Set(LinkConditions),
}

/// A small deterministic PRNG (xorshift64*), seeded through splitmix64 so that nearby seeds give
/// unrelated streams.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// The loss model's state: the Gilbert–Elliott chain's current state.
#[derive(Debug, Clone)]
pub struct LossState {
    rng: Rng,
    bad: bool,
}

impl LossState {
    pub fn new(seed: u64) -> LossState {
        LossState {
            rng: Rng::new(seed),
            bad: false,
        }
    }

    /// Whether the next datagram is lost.
    pub fn lose(&mut self, loss: &Loss) -> bool {
        match *loss {
            Loss::None => false,
            Loss::Random(p) => self.rng.chance(p),
            Loss::Burst {
                good_to_bad,
                bad_to_good,
                loss_good,
                loss_bad,
            } => {
                self.bad = if self.bad {
                    !self.rng.chance(bad_to_good)
                } else {
                    self.rng.chance(good_to_bad)
                };
                self.rng.chance(if self.bad { loss_bad } else { loss_good })
            }
        }
    }
}

/// One access link, run by its thread.
pub(crate) struct Link {
    conditions: LinkConditions,
    loss: LossState,
    jitter: Rng,
    /// Waiting for (or in) serialisation at the bottleneck, and their bytes.
    queue: VecDeque<Vec<u8>>,
    queued_bytes: usize,
    /// When the datagram at the head of `queue` has been serialised.
    head_done: Option<Instant>,
    /// When the bottleneck finished its last datagram.
    free_at: Option<Instant>,
    /// Delayed datagrams by release time (then arrival order).
    delayed: BinaryHeap<Reverse<(Instant, u64, Vec<u8>)>>,
    order: u64,
    last_release: Option<Instant>,
    counters: Arc<Counters>,
}

impl Link {
    /// Run a link on its own thread until `messages` has no sender left; `send` delivers.
    pub(crate) fn spawn(
        name: String,
        conditions: LinkConditions,
        seed: u64,
        messages: Receiver<Message>,
        counters: Arc<Counters>,
        send: impl FnMut(&[u8]) + Send + 'static,
    ) {
        let link = Link {
            conditions,
            loss: LossState::new(seed),
            jitter: Rng::new(seed ^ 0x5151_5151),
            queue: VecDeque::new(),
            queued_bytes: 0,
            head_done: None,
            free_at: None,
            delayed: BinaryHeap::new(),
            order: 0,
            last_release: None,
            counters,
        };
        std::thread::Builder::new()
            .name(name)
            .spawn(move || link.run(messages, send))
            .expect("start a link thread");
    }

    fn run(mut self, messages: Receiver<Message>, mut send: impl FnMut(&[u8])) {
        loop {
            let next = [self.head_done, self.delayed.peek().map(|Reverse((at, _, _))| *at)]
                .into_iter()
                .flatten()
                .min();
            let message = match next {
                Some(at) => messages.recv_timeout(at.saturating_duration_since(Instant::now())),
                None => messages.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match message {
                Ok(message) => {
                    self.advance(Instant::now(), &mut send);
                    match message {
                        Message::Datagram(at, datagram) => self.arrive(at, datagram),
                        Message::Set(conditions) => self.conditions = conditions,
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            self.advance(Instant::now(), &mut send);
        }
    }

    /// A datagram reached the link at `at` (the filter passed it; `arrived` is counted).
    fn arrive(&mut self, at: Instant, datagram: Vec<u8>) {
        if self.loss.lose(&self.conditions.loss) {
            self.counters.lost.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let Some(rate) = self.conditions.rate_bps else {
            if self.queue.is_empty() {
                self.propagate(at, datagram);
            } else {
                // The bottleneck was just lifted: what it still holds leaves first.
                self.enqueue(at, datagram);
            }
            return;
        };
        if self.queued_bytes + datagram.len() > self.conditions.queue.bytes(rate) {
            self.counters.overflowed.fetch_add(1, Ordering::Relaxed);
            self.counters
                .overflowed_bytes
                .fetch_add(datagram.len() as u64, Ordering::Relaxed);
            return;
        }
        self.enqueue(at, datagram);
    }

    fn enqueue(&mut self, at: Instant, datagram: Vec<u8>) {
        self.queued_bytes += datagram.len();
        self.queue.push_back(datagram);
        if self.queue.len() == 1 {
            let start = self.free_at.map_or(at, |free| free.max(at));
            self.head_done = Some(start + self.serialisation(self.queue[0].len()));
        }
    }

    fn serialisation(&self, bytes: usize) -> Duration {
        match self.conditions.rate_bps {
            Some(rate) if rate > 0 => Duration::from_secs_f64(bytes as f64 * 8.0 / rate as f64),
            _ => Duration::ZERO,
        }
    }

    /// Into the delay stage, serialised at `at`.
    fn propagate(&mut self, at: Instant, datagram: Vec<u8>) {
        let LinkConditions {
            delay, jitter, reorder, ..
        } = self.conditions;
        let offset = if jitter.is_zero() {
            0.0
        } else {
            (self.jitter.unit() * 2.0 - 1.0) * jitter.as_secs_f64()
        };
        let mut release = at + Duration::from_secs_f64((delay.as_secs_f64() + offset).max(0.0));
        if !reorder && let Some(last) = self.last_release {
            release = release.max(last);
        }
        self.last_release = Some(self.last_release.map_or(release, |last| last.max(release)));
        self.order += 1;
        self.delayed.push(Reverse((release, self.order, datagram)));
    }

    /// Everything due by `now`: serialisations done (each next one starting when the previous
    /// ended), then releases.
    fn advance(&mut self, now: Instant, send: &mut impl FnMut(&[u8])) {
        while let Some(done) = self.head_done.filter(|done| *done <= now) {
            let datagram = self.queue.pop_front().expect("a head when head_done is set");
            self.queued_bytes -= datagram.len();
            self.free_at = Some(done);
            self.head_done = self.queue.front().map(|next| done + self.serialisation(next.len()));
            self.propagate(done, datagram);
        }
        while self.delayed.peek().is_some_and(|Reverse((at, _, _))| *at <= now) {
            let Reverse((_, _, datagram)) = self.delayed.pop().expect("peeked");
            // Counted before it goes: whoever receives it may read the counters at once.
            self.counters.passed.fetch_add(1, Ordering::Relaxed);
            self.counters
                .passed_bytes
                .fetch_add(datagram.len() as u64, Ordering::Relaxed);
            send(&datagram);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_loss_loses_its_share() {
        let mut state = LossState::new(1);
        let lost = (0..100_000).filter(|_| state.lose(&Loss::Random(0.1))).count();
        assert!((9_500..10_500).contains(&lost), "{lost} of 100000 at 10 %");
        assert!(!(0..1000).any(|_| state.lose(&Loss::None)));
    }

    #[test]
    fn bursts_have_the_asked_mean_loss_and_burst_length() {
        let loss = Loss::bursts(0.05, 4.0);
        assert!((loss.mean() - 0.05).abs() < 1e-9, "{loss:?}");
        let mut state = LossState::new(7);
        let outcomes: Vec<bool> = (0..200_000).map(|_| state.lose(&loss)).collect();
        let lost = outcomes.iter().filter(|l| **l).count() as f64;
        let bursts = outcomes.windows(2).filter(|w| !w[0] && w[1]).count() as f64;
        let share = lost / outcomes.len() as f64;
        assert!((0.04..0.06).contains(&share), "mean loss {share}");
        let mean_burst = lost / bursts;
        assert!((3.5..4.5).contains(&mean_burst), "mean burst {mean_burst}");
        // The same share lost at random comes in runs of ~1: bursts are what differs.
        let mut state = LossState::new(7);
        let outcomes: Vec<bool> = (0..200_000).map(|_| state.lose(&Loss::Random(0.05))).collect();
        let lost = outcomes.iter().filter(|l| **l).count() as f64;
        let bursts = outcomes.windows(2).filter(|w| !w[0] && w[1]).count() as f64;
        assert!(lost / bursts < 1.1, "random loss in runs of {}", lost / bursts);
    }

    #[test]
    fn the_same_seed_gives_the_same_losses() {
        let run = |seed| {
            let mut state = LossState::new(seed);
            (0..1000)
                .map(|_| state.lose(&Loss::bursts(0.1, 3.0)))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }

    #[test]
    fn queue_limits() {
        assert_eq!(
            QueueLimit::Router.bytes(300_000),
            32 * 1024,
            "a slow link: the buffer's bytes"
        );
        assert_eq!(QueueLimit::Router.bytes(10_000_000), 125_000, "a fast one: 100 ms");
        assert_eq!(QueueLimit::Time(Duration::from_millis(100)).bytes(2_000_000), 25_000);
        assert_eq!(
            QueueLimit::Time(Duration::from_millis(1)).bytes(100_000),
            1500,
            "at least a datagram"
        );
    }
}

//! The one schedule of growing delays between attempts in Natter: rejoining signaling,
//! restarting ICE (a table), re-probing a failing server, re-offering a demoted one, stepping up
//! to a larger picture after failed probes (doubling to a cap). Plain data, no clock: the caller
//! adds the delay to its `now`.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// `delays[n]` before attempt n (from 0); the last repeats. Empty: no pause.
    Table(&'static [Duration]),
    /// `first`, then twice the previous, up to `max`.
    Doubling { first: Duration, max: Duration },
}

impl Backoff {
    pub const fn table(delays: &'static [Duration]) -> Backoff {
        Backoff::Table(delays)
    }

    pub const fn doubling(first: Duration, max: Duration) -> Backoff {
        Backoff::Doubling { first, max }
    }

    /// The pause before attempt `attempt` (counting from 0).
    pub fn delay(&self, attempt: usize) -> Duration {
        match *self {
            Backoff::Table(delays) => delays.get(attempt).or(delays.last()).copied().unwrap_or_default(),
            Backoff::Doubling { first, max } => {
                let factor = 2u32.saturating_pow(attempt.min(31) as u32);
                first.saturating_mul(factor).min(max)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_repeats_its_last_delay_and_an_empty_one_waits_not() {
        const BACKOFF: Backoff = Backoff::table(&[Duration::from_millis(250), Duration::from_secs(1)]);
        assert_eq!(BACKOFF.delay(0), Duration::from_millis(250));
        assert_eq!(BACKOFF.delay(1), Duration::from_secs(1));
        assert_eq!(BACKOFF.delay(7), Duration::from_secs(1));
        assert_eq!(Backoff::table(&[]).delay(3), Duration::ZERO);
    }

    #[test]
    fn doubling_stops_at_its_cap_without_overflowing() {
        let backoff = Backoff::doubling(Duration::from_secs(5), Duration::from_secs(60));
        let delays: Vec<u64> = (0..6).map(|n| backoff.delay(n).as_secs()).collect();
        assert_eq!(delays, vec![5, 10, 20, 40, 60, 60]);
        assert_eq!(backoff.delay(usize::MAX), Duration::from_secs(60));
    }
}

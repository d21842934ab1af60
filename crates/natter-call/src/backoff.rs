//! One schedule of growing delays between attempts (rejoining signaling, restarting ICE): a
//! table whose last entry repeats. Plain data, no clock: the caller adds the delay to its `now`.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    delays: &'static [Duration],
}

impl Backoff {
    /// `delays[n]` is the pause before attempt n (from 0); the last repeats. Empty: no pause.
    pub const fn new(delays: &'static [Duration]) -> Backoff {
        Backoff { delays }
    }

    /// The pause before attempt `attempt` (counting from 0).
    pub fn delay(&self, attempt: usize) -> Duration {
        self.delays
            .get(attempt)
            .or(self.delays.last())
            .copied()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_delay_repeats_and_an_empty_table_waits_not() {
        const BACKOFF: Backoff = Backoff::new(&[Duration::from_millis(250), Duration::from_secs(1)]);
        let backoff = BACKOFF;
        assert_eq!(backoff.delay(0), Duration::from_millis(250));
        assert_eq!(backoff.delay(1), Duration::from_secs(1));
        assert_eq!(backoff.delay(7), Duration::from_secs(1));
        assert_eq!(Backoff::new(&[]).delay(3), Duration::ZERO);
    }
}

//! The level of a sound: RMS over a few frames, in dBFS (0 = a full-scale square wave, -100 for
//! digital silence). What a level meter shows; not a voice detector.

/// Level of silence (and the floor of every figure).
pub const SILENCE_DBFS: f32 = -100.0;

/// Accumulates frames and gives their level every so many frames.
#[derive(Debug, Default)]
pub struct LevelMeter {
    sum_of_squares: f64,
    samples: usize,
    frames: usize,
}

impl LevelMeter {
    /// Add one frame; every `every` frames, the level of those frames (and start again).
    pub fn push(&mut self, pcm: &[i16], every: usize) -> Option<f32> {
        self.sum_of_squares += pcm.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>();
        self.samples += pcm.len();
        self.frames += 1;
        if self.frames < every.max(1) {
            return None;
        }
        let level = dbfs(self.sum_of_squares, self.samples);
        *self = LevelMeter::default();
        Some(level)
    }
}

/// RMS level in dBFS of `samples` samples whose squares sum to `sum_of_squares`.
fn dbfs(sum_of_squares: f64, samples: usize) -> f32 {
    if samples == 0 || sum_of_squares <= 0.0 {
        return SILENCE_DBFS;
    }
    let rms = (sum_of_squares / samples as f64).sqrt() / f64::from(i16::MAX);
    ((20.0 * rms.log10()) as f32).max(SILENCE_DBFS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_scale_sine_is_minus_3_and_silence_is_the_floor() {
        let sine: Vec<i16> = (0..960)
            .map(|i| (f64::from(i16::MAX) * (i as f64 * 2.0 * std::f64::consts::PI * 440.0 / 48_000.0).sin()) as i16)
            .collect();
        let mut meter = LevelMeter::default();
        assert_eq!(meter.push(&sine, 2), None);
        let level = meter.push(&sine, 2).unwrap();
        assert!((level + 3.01).abs() < 0.1, "{level}");
        let quiet: Vec<i16> = sine.iter().map(|s| s / 100).collect();
        assert!((meter.push(&quiet, 1).unwrap() + 43.0).abs() < 0.2, "40 dB lower");
        assert_eq!(meter.push(&[0; 960], 1), Some(SILENCE_DBFS));
        assert_eq!(meter.push(&[], 1), Some(SILENCE_DBFS));
    }
}

//! Synthetic sources for headless mode, tests and machines without devices (no physical camera or
//! sound card exists on CI): a moving test pattern with a stamp, and a continuous tone.

use crate::stamp::{FrameStamp, stamp_frame};
use crate::{AUDIO_FRAME_SAMPLES, AUDIO_SAMPLE_RATE, I420Frame};

/// A camera that draws a moving colour pattern; every frame carries a [`FrameStamp`].
///
/// The pattern is a diagonal luma gradient that scrolls by 4 px per frame plus a bright bar that
/// sweeps across by 6 px per frame, over smooth colour ramps that depend on the seed. Drawing is
/// mostly row copies from precomputed tables (≈ 0.1 ms at 640x360), so a headless call with many
/// participants spends its CPU in the codecs, not here.
pub struct SyntheticCamera {
    width: u32,
    height: u32,
    /// `gradient[i] = (i % 256) / 2 + 40`, `width + 256` long: row `r` of frame `n` is the slice
    /// starting at `(r + 4n) % 256`.
    gradient: Vec<u8>,
    /// The chroma planes never change for one camera.
    u: Vec<u8>,
    v: Vec<u8>,
}

impl SyntheticCamera {
    /// `seed` varies the colours per participant. Sizes are rounded down to even numbers.
    pub fn new(width: u32, height: u32, seed: u32) -> Self {
        let (width, height) = ((width & !1).max(2), (height & !1).max(2));
        let (w, h) = (width as usize, height as usize);
        let gradient = (0..w + 256).map(|i| ((i % 256) / 2 + 40) as u8).collect();
        let (cw, ch) = (w / 2, h / 2);
        let hue = seed.wrapping_mul(67) % 256;
        let mut u = vec![0u8; cw * ch];
        let mut v = vec![0u8; cw * ch];
        // Smooth colour ramps (no wrap-around edges, which cost bits and look like artifacts).
        for (row, (u_row, v_row)) in u.chunks_exact_mut(cw).zip(v.chunks_exact_mut(cw)).enumerate() {
            u_row.fill((hue / 2 + 64 + (row * 64 / ch) as u32) as u8);
            for (col, px) in v_row.iter_mut().enumerate() {
                *px = ((255 - hue) / 2 + 64 - (col * 64 / cw) as u32).min(255) as u8;
            }
        }
        Self {
            width,
            height,
            gradient,
            u,
            v,
        }
    }

    /// Draw frame number `counter`, captured at `capture_ms` (wall clock).
    pub fn frame(&mut self, counter: u32, capture_ms: u64) -> I420Frame {
        let (w, h) = (self.width as usize, self.height as usize);
        let mut y = vec![0u8; w * h];
        let shift = (counter as usize % 64) * 4;
        let bar_x = (counter as usize * 6) % w;
        let (bar_start, bar_end) = (bar_x.saturating_sub(11), (bar_x + 12).min(w));
        for (row, line) in y.chunks_exact_mut(w).enumerate() {
            let offset = (row + shift) % 256;
            line.copy_from_slice(&self.gradient[offset..offset + w]);
            line[bar_start..bar_end].fill(220);
        }
        let mut frame = I420Frame {
            width: self.width,
            height: self.height,
            y,
            u: self.u.clone(),
            v: self.v.clone(),
        };
        stamp_frame(&mut frame, FrameStamp { counter, capture_ms });
        frame
    }
}

/// A microphone that plays a sine tone, 48 kHz mono, in 20 ms frames with continuous phase.
pub struct SyntheticMic {
    phase: f64,
    step: f64,
}

impl SyntheticMic {
    pub fn new(freq_hz: f32) -> Self {
        Self {
            phase: 0.0,
            step: std::f64::consts::TAU * f64::from(freq_hz) / f64::from(AUDIO_SAMPLE_RATE),
        }
    }

    pub fn next_frame(&mut self) -> Vec<i16> {
        (0..AUDIO_FRAME_SAMPLES)
            .map(|_| {
                let sample = (self.phase.sin() * 0.3 * f64::from(i16::MAX)) as i16;
                self.phase = (self.phase + self.step) % std::f64::consts::TAU;
                sample
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_frames_differ_and_carry_their_stamp() {
        let mut cam = SyntheticCamera::new(320, 180, 3);
        let a = cam.frame(1, 1000);
        let b = cam.frame(2, 1033);
        assert_ne!(a.y, b.y);
        assert_eq!(
            crate::read_stamp(&b),
            Some(FrameStamp {
                counter: 2,
                capture_ms: 1033
            })
        );
    }

    #[test]
    fn the_pattern_scrolls_the_bar_sweeps_and_the_seed_sets_the_colour() {
        let mut cam = SyntheticCamera::new(320, 180, 3);
        let f = cam.frame(10, 0);
        let row = 150; // below the stamp band
        // Gradient: ((col + row + 4n) % 256) / 2 + 40.
        assert_eq!(f.y[row * 320 + 200], (((200 + row + 40) % 256) / 2 + 40) as u8);
        // The bar is centred on x = 6n.
        assert_eq!(f.y[row * 320 + 60], 220);
        assert_ne!(f.y[row * 320 + 100], 220);
        let g = cam.frame(30, 0);
        assert_eq!(g.y[row * 320 + 180], 220);
        // Another seed, other colours; the same seed, the same colours.
        let other = SyntheticCamera::new(320, 180, 4).frame(10, 0);
        assert_ne!(f.u, other.u);
        assert_eq!(f.u, g.u);
    }

    #[test]
    fn the_tone_is_continuous_across_frames() {
        let mut mic = SyntheticMic::new(440.0);
        let a = mic.next_frame();
        let b = mic.next_frame();
        assert_eq!(a.len(), AUDIO_FRAME_SAMPLES);
        // No jump at the frame boundary larger than one step of a 440 Hz sine at 30 % scale.
        let max_step = (std::f64::consts::TAU * 440.0 / 48_000.0 * 0.3 * 32767.0) as i32 + 2;
        assert!((i32::from(b[0]) - i32::from(a[AUDIO_FRAME_SAMPLES - 1])).abs() <= max_step);
    }
}

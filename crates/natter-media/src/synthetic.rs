//! Synthetic sources for headless mode, tests and machines without devices (no physical camera or
//! sound card exists on CI): a moving test pattern with a stamp, and a continuous tone.

use crate::stamp::{FrameStamp, stamp_frame};
use crate::{AUDIO_FRAME_SAMPLES, AUDIO_SAMPLE_RATE, I420Frame};

/// A camera that draws a moving colour pattern; every frame carries a [`FrameStamp`].
pub struct SyntheticCamera {
    width: u32,
    height: u32,
    seed: u32,
}

impl SyntheticCamera {
    /// `seed` varies the colours per participant. Sizes are rounded down to even numbers.
    pub fn new(width: u32, height: u32, seed: u32) -> Self {
        Self { width: (width & !1).max(2), height: (height & !1).max(2), seed }
    }

    /// Draw frame number `counter`, captured at `capture_ms` (wall clock).
    pub fn frame(&mut self, counter: u32, capture_ms: u64) -> I420Frame {
        let (w, h) = (self.width as usize, self.height as usize);
        let mut y_plane = vec![0u8; w * h];
        let shift = counter as usize * 4;
        // A diagonal luma gradient that scrolls, plus a bright bar that sweeps across.
        let bar_x = (counter as usize * 6) % w;
        for row in 0..h {
            let line = &mut y_plane[row * w..(row + 1) * w];
            for (col, px) in line.iter_mut().enumerate() {
                let base = ((col + row + shift) % 256) as u8 / 2 + 40;
                *px = if col.abs_diff(bar_x) < 12 { 220 } else { base };
            }
        }
        let (cw, ch) = (w / 2, h / 2);
        let hue = (self.seed.wrapping_mul(67) % 256) as u8;
        let mut u = vec![0u8; cw * ch];
        let mut v = vec![0u8; cw * ch];
        for row in 0..ch {
            for col in 0..cw {
                let i = row * cw + col;
                // Smooth colour ramps (no wrap-around edges, which cost bits and look like artifacts).
                u[i] = (u32::from(hue) / 2 + 64 + (row * 64 / ch.max(1)) as u32) as u8;
                v[i] = (u32::from(255 - hue) / 2 + 64 - (col * 64 / cw.max(1)) as u32).min(255) as u8;
            }
        }
        let mut frame = I420Frame { width: self.width, height: self.height, y: y_plane, u, v };
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
        Self { phase: 0.0, step: std::f64::consts::TAU * f64::from(freq_hz) / f64::from(AUDIO_SAMPLE_RATE) }
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
        assert_eq!(crate::read_stamp(&b), Some(FrameStamp { counter: 2, capture_ms: 1033 }));
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

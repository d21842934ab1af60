//! Sources and sinks: what the call's capture pipeline reads pictures and sound from, and what its
//! mixer plays into, whatever is behind them. Headless mode and tests use the synthetic ones
//! below; the app uses real cameras, microphones and speakers (`natter-devices` implements the
//! same traits), so every path runs through one pipeline (`natter-call::media`, `::playout`).
//!
//! A device that disappears while in use reports [`DeviceLost`] with a sentence for the user; the
//! pipeline then switches to another device or to none, and the call goes on.

use crate::{AUDIO_FRAME_SAMPLES, I420Frame, SyntheticCamera, SyntheticMic};
use std::time::{Duration, Instant};

/// The device in use stopped working (unplugged, taken by the system, its server gone).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DeviceLost(pub String);

/// Pictures to send.
pub trait VideoSource: Send {
    /// What the user knows it by ("Integrated Camera", "test pattern").
    fn label(&self) -> String;
    /// A real device that should be closed while the camera is off (its light goes out).
    fn is_device(&self) -> bool;
    /// How often the pipeline should ask for a picture.
    fn poll_interval(&self) -> Duration;
    /// The newest picture not handed out yet (`None`: nothing new since the last call).
    fn next_frame(&mut self) -> Result<Option<I420Frame>, DeviceLost>;
}

/// Sound to send: 48 kHz mono in 20 ms frames (`AUDIO_FRAME_SAMPLES`).
pub trait AudioSource: Send {
    fn label(&self) -> String;
    fn is_device(&self) -> bool;
    /// Every complete 20 ms frame captured since the last call (called about every 20 ms).
    fn read_frames(&mut self) -> Result<Vec<Vec<i16>>, DeviceLost>;
}

/// Where the mixed sound of the others goes: 48 kHz mono.
pub trait AudioSink: Send {
    fn label(&self) -> String;
    fn play(&mut self, pcm: &[i16]) -> Result<(), DeviceLost>;
}

/// The moving, stamped test pattern at a fixed frame rate.
pub struct SyntheticVideo {
    camera: SyntheticCamera,
    interval: Duration,
    next_at: Instant,
    counter: u32,
}

impl SyntheticVideo {
    pub fn new(width: u32, height: u32, fps: u32, seed: u32) -> Self {
        let interval = Duration::from_secs_f64(1.0 / f64::from(fps.max(1)));
        Self {
            camera: SyntheticCamera::new(width, height, seed),
            interval,
            next_at: Instant::now(),
            counter: 0,
        }
    }
}

impl VideoSource for SyntheticVideo {
    fn label(&self) -> String {
        "test pattern (synthetic camera)".into()
    }

    fn is_device(&self) -> bool {
        false
    }

    /// Until the next frame is due: the frames keep a fixed schedule however long encoding took.
    fn poll_interval(&self) -> Duration {
        self.next_at.saturating_duration_since(Instant::now())
    }

    fn next_frame(&mut self) -> Result<Option<I420Frame>, DeviceLost> {
        let now = Instant::now();
        if now < self.next_at {
            return Ok(None);
        }
        // Behind by more than a frame (a stall): skip ahead rather than burst.
        self.next_at = (self.next_at + self.interval).max(now);
        self.counter = self.counter.wrapping_add(1);
        Ok(Some(self.camera.frame(self.counter, crate::now_ms())))
    }
}

impl AudioSource for SyntheticMic {
    fn label(&self) -> String {
        "tone (synthetic microphone)".into()
    }

    fn is_device(&self) -> bool {
        false
    }

    fn read_frames(&mut self) -> Result<Vec<Vec<i16>>, DeviceLost> {
        Ok(vec![self.next_frame()])
    }
}

/// A sink that only counts what it was given: for a call without a speaker (the mixer keeps
/// running, so the jitter-buffer statistics stay true) and for tests.
#[derive(Default)]
pub struct DiscardSink {
    /// Samples played so far.
    pub samples_played: u64,
}

impl AudioSink for DiscardSink {
    fn label(&self) -> String {
        "no speaker".into()
    }

    fn play(&mut self, pcm: &[i16]) -> Result<(), DeviceLost> {
        self.samples_played += pcm.len() as u64;
        Ok(())
    }
}

/// Samples in one 20 ms frame, re-exported for sources that assemble frames themselves.
pub const FRAME_SAMPLES: usize = AUDIO_FRAME_SAMPLES;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_synthetic_video_paces_itself_and_stamps_consecutive_counters() {
        let mut video = SyntheticVideo::new(320, 180, 50, 1);
        let first = video.next_frame().unwrap().expect("a frame at once");
        assert!(
            video.next_frame().unwrap().is_none(),
            "no second frame within the same 20 ms"
        );
        std::thread::sleep(video.poll_interval());
        let second = video.next_frame().unwrap().expect("a frame after one interval");
        let (a, b) = (crate::read_stamp(&first).unwrap(), crate::read_stamp(&second).unwrap());
        assert_eq!(b.counter, a.counter + 1);
    }

    #[test]
    fn the_synthetic_microphone_gives_one_frame_per_read() {
        let mut mic = SyntheticMic::new(440.0);
        let frames = mic.read_frames().unwrap();
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].len(), FRAME_SAMPLES);
    }
}

//! Playback through a real output device (cpal). The call's mixer pushes 48 kHz mono PCM; the
//! device's callback pulls it at the device's own rate and channel count (linear resampling,
//! the mono signal copied to every channel). What the device wants that we have not produced yet
//! is silence; what we produce faster than the device plays is trimmed to `MAX_BUFFERED`.

use crate::stream::{self, LostFlag};
use crate::{DeviceError, DeviceKind};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The mixer's rate.
pub const MIX_RATE: u32 = 48_000;
/// Most audio held for the device (200 ms); older samples are dropped beyond it.
const MAX_BUFFERED: usize = MIX_RATE as usize / 5;

/// An open output device; playback stops when dropped.
pub struct Speaker {
    ring: Arc<Mutex<VecDeque<i16>>>,
    stop: Arc<AtomicBool>,
    lost: LostFlag,
    /// The device's name, as the pickers show it.
    pub name: String,
    /// The device's rate and channels.
    pub device_rate: u32,
    pub channels: u16,
}

impl Speaker {
    /// Open the output device whose id or name contains `wanted` (case-insensitive), or the
    /// system default when `wanted` is `None` or "default".
    pub fn open(wanted: Option<&str>) -> Result<Speaker, DeviceError> {
        let ring = Arc::new(Mutex::new(VecDeque::with_capacity(MAX_BUFFERED)));
        let stop = Arc::new(AtomicBool::new(false));
        let wanted = stream::wanted_name(wanted);
        let ring_for_device = Arc::clone(&ring);
        let lost = LostFlag::default();
        let lost_for_device = lost.clone();
        let (name, device_rate, channels) =
            stream::open_on_own_thread("speaker", DeviceKind::Speaker, Arc::clone(&stop), move || {
                build_stream(wanted.as_deref(), ring_for_device, lost_for_device)
            })?;
        Ok(Speaker {
            ring,
            stop,
            lost,
            name,
            device_rate,
            channels,
        })
    }

    /// Queue 48 kHz mono samples for playback.
    pub fn push(&self, samples: &[i16]) {
        let mut ring = self.ring.lock().unwrap();
        ring.extend(samples.iter().copied());
        let excess = ring.len().saturating_sub(MAX_BUFFERED);
        ring.drain(..excess);
    }

    /// Audio waiting for the device.
    pub fn buffered(&self) -> Duration {
        Duration::from_secs_f64(self.ring.lock().unwrap().len() as f64 / f64::from(MIX_RATE))
    }
}

impl natter_media::AudioSink for Speaker {
    fn label(&self) -> String {
        self.name.clone()
    }

    fn play(&mut self, pcm: &[i16]) -> Result<(), natter_media::DeviceLost> {
        if let Some(why) = self.lost.get() {
            return Err(natter_media::DeviceLost(why));
        }
        self.push(pcm);
        Ok(())
    }
}

impl Drop for Speaker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn build_stream(
    wanted: Option<&str>,
    ring: Arc<Mutex<VecDeque<i16>>>,
    lost: LostFlag,
) -> Result<stream::Opened, DeviceError> {
    use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
    let host = cpal::default_host();
    let device = stream::pick_device(
        wanted,
        host.default_output_device(),
        || host.output_devices().map(Iterator::collect),
        DeviceKind::Speaker,
    )?;
    let name = stream::device_name(&device);
    let fail = |detail: String| DeviceError::classify(DeviceKind::Speaker, &name, &detail);
    let supported = device
        .default_output_config()
        .map_err(|e| fail(format!("no usable output format: {e}")))?;
    let config = supported.config();
    let (rate, channels) = (config.sample_rate, config.channels);
    let mut resampler = Resampler::new(MIX_RATE, rate);
    let device_name = name.clone();
    let on_error = move |e: cpal::Error| lost.on_stream_error(&device_name, &e);
    let stream = match supported.sample_format() {
        cpal::SampleFormat::F32 => device.build_output_stream::<f32, _, _>(
            config,
            move |out: &mut [f32], _| {
                let mut ring = ring.lock().unwrap();
                for frame in out.chunks_mut(usize::from(channels)) {
                    let s = f32::from(resampler.next(&mut ring)) / 32768.0;
                    frame.fill(s);
                }
            },
            on_error,
            None,
        ),
        cpal::SampleFormat::I16 => device.build_output_stream::<i16, _, _>(
            config,
            move |out: &mut [i16], _| {
                let mut ring = ring.lock().unwrap();
                for frame in out.chunks_mut(usize::from(channels)) {
                    frame.fill(resampler.next(&mut ring));
                }
            },
            on_error,
            None,
        ),
        other => return Err(fail(format!("sample format {other:?} is not supported yet"))),
    }
    .map_err(|e| fail(format!("cannot open for playback: {e}")))?;
    stream.play().map_err(|e| fail(format!("cannot start playback: {e}")))?;
    Ok((stream, name, rate, channels))
}

/// Linear resampling from the mixer's rate to the device's, one output sample at a time.
struct Resampler {
    /// Input samples per output sample.
    step: f64,
    position: f64,
    previous: i16,
    current: i16,
}

impl Resampler {
    fn new(from: u32, to: u32) -> Self {
        Self {
            step: f64::from(from) / f64::from(to.max(1)),
            position: 0.0,
            previous: 0,
            current: 0,
        }
    }

    /// The next output sample, reading input from `ring` as needed (silence when it is empty).
    fn next(&mut self, ring: &mut VecDeque<i16>) -> i16 {
        self.position += self.step;
        while self.position >= 1.0 {
            self.position -= 1.0;
            self.previous = self.current;
            self.current = ring.pop_front().unwrap_or(0);
        }
        let t = self.position;
        (f64::from(self.previous) * (1.0 - t) + f64::from(self.current) * t) as i16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_rate_passes_samples_through_in_order() {
        // One sample of latency (the interpolation window), then the input as it was.
        let mut r = Resampler::new(48_000, 48_000);
        let mut ring: VecDeque<i16> = (1..=5).collect();
        let out: Vec<i16> = (0..6).map(|_| r.next(&mut ring)).collect();
        assert_eq!(out, vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(r.next(&mut ring), 0, "silence when nothing is queued");
    }

    #[test]
    fn resampling_keeps_the_duration() {
        // 48 kHz → 44.1 kHz: 4800 input samples (100 ms) make 4410 output samples.
        let mut r = Resampler::new(48_000, 44_100);
        let mut ring: VecDeque<i16> = std::iter::repeat_n(1000, 4800).collect();
        let mut produced = 0;
        while !ring.is_empty() {
            r.next(&mut ring);
            produced += 1;
        }
        assert!((4405..=4415).contains(&produced), "{produced}");
    }
}

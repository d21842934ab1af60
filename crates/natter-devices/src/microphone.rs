//! Capture from a real input device (cpal): whatever the device's rate and channel count, the
//! call gets 48 kHz mono in 20 ms frames (channels averaged, linear resampling). The device's
//! callback fills a bounded buffer; the capture thread takes one frame per 20 ms tick.

use crate::stream::{self, LostFlag};
use crate::{DeviceError, DeviceKind};
use std::collections::VecDeque;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::speaker::MIX_RATE;

/// Samples in one 20 ms frame at 48 kHz.
pub const FRAME_SAMPLES: usize = 960;
/// Most audio kept waiting (200 ms): a stalled consumer loses the oldest, not the newest.
const MAX_BUFFERED: usize = MIX_RATE as usize / 5;
/// A device that delivers nothing for this long is gone, whether or not its driver said so
/// (an unplugged USB microphone or a dead sound server does not always raise a stream error).
const SILENT_DEVICE_IS_LOST_AFTER: Duration = Duration::from_secs(2);

/// An open input device; capture stops when dropped.
pub struct Microphone {
    ring: Arc<Mutex<VecDeque<i16>>>,
    stop: Arc<AtomicBool>,
    lost: LostFlag,
    /// Device callbacks so far, and when that count last moved.
    callbacks: Arc<AtomicU64>,
    last_callback: (u64, Instant),
    pub name: String,
    pub device_rate: u32,
    pub channels: u16,
}

impl Microphone {
    /// Open the input device whose id or name contains `wanted` (case-insensitive), or the
    /// system default when `wanted` is `None` or "default".
    pub fn open(wanted: Option<&str>) -> Result<Microphone, DeviceError> {
        let ring = Arc::new(Mutex::new(VecDeque::with_capacity(MAX_BUFFERED)));
        let stop = Arc::new(AtomicBool::new(false));
        let wanted = stream::wanted_name(wanted);
        let ring_for_device = Arc::clone(&ring);
        let lost = LostFlag::default();
        let lost_for_device = lost.clone();
        let callbacks = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&callbacks);
        let (name, device_rate, channels) =
            stream::open_on_own_thread("microphone", DeviceKind::Microphone, Arc::clone(&stop), move || {
                build_stream(wanted.as_deref(), ring_for_device, lost_for_device, counter)
            })?;
        Ok(Microphone {
            ring,
            stop,
            lost,
            callbacks,
            last_callback: (0, Instant::now()),
            name,
            device_rate,
            channels,
        })
    }

    /// The next 20 ms (960 samples at 48 kHz), or `None` if the device has not delivered them yet.
    pub fn read_frame(&self) -> Option<Vec<i16>> {
        let mut ring = self.ring.lock().unwrap();
        (ring.len() >= FRAME_SAMPLES).then(|| ring.drain(..FRAME_SAMPLES).collect())
    }
}

impl natter_media::AudioSource for Microphone {
    fn label(&self) -> String {
        self.name.clone()
    }

    fn is_device(&self) -> bool {
        true
    }

    fn read_frames(&mut self) -> Result<Vec<Vec<i16>>, natter_media::DeviceLost> {
        if let Some(why) = self.lost.get() {
            return Err(natter_media::DeviceLost(why));
        }
        let callbacks = self.callbacks.load(Ordering::Relaxed);
        if callbacks != self.last_callback.0 {
            self.last_callback = (callbacks, Instant::now());
        } else if self.last_callback.1.elapsed() > SILENT_DEVICE_IS_LOST_AFTER {
            return Err(natter_media::DeviceLost(format!(
                "{} stopped delivering sound",
                self.name
            )));
        }
        Ok(std::iter::from_fn(|| self.read_frame()).take(5).collect())
    }
}

impl Drop for Microphone {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn build_stream(
    wanted: Option<&str>,
    ring: Arc<Mutex<VecDeque<i16>>>,
    lost: LostFlag,
    callbacks: Arc<AtomicU64>,
) -> Result<stream::Opened, DeviceError> {
    use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
    let host = cpal::default_host();
    let device = stream::pick_device(
        wanted,
        host.default_input_device(),
        || host.input_devices().map(Iterator::collect),
        DeviceKind::Microphone,
    )?;
    let name = stream::device_name(&device);
    let fail = |detail: String| DeviceError::classify(DeviceKind::Microphone, &name, &detail);
    let supported = device
        .default_input_config()
        .map_err(|e| fail(format!("no usable input format: {e}")))?;
    let config = supported.config();
    let (rate, channels) = (config.sample_rate, config.channels);
    let mut resampler = Downmix::new(rate, MIX_RATE);
    let device_name = name.clone();
    let on_error = move |e: cpal::Error| lost.on_stream_error(&device_name, &e);
    let per_frame = usize::from(channels.max(1));
    let stream = match supported.sample_format() {
        cpal::SampleFormat::F32 => device.build_input_stream::<f32, _, _>(
            config,
            move |data: &[f32], _| {
                callbacks.fetch_add(1, Ordering::Relaxed);
                let mut ring = ring.lock().unwrap();
                for frame in data.chunks(per_frame) {
                    let mono = frame.iter().sum::<f32>() / frame.len() as f32;
                    resampler.push((mono * 32767.0).clamp(-32768.0, 32767.0) as i16, &mut ring);
                }
                let excess = ring.len().saturating_sub(MAX_BUFFERED);
                ring.drain(..excess);
            },
            on_error,
            None,
        ),
        cpal::SampleFormat::I16 => device.build_input_stream::<i16, _, _>(
            config,
            move |data: &[i16], _| {
                callbacks.fetch_add(1, Ordering::Relaxed);
                let mut ring = ring.lock().unwrap();
                for frame in data.chunks(per_frame) {
                    let mono = frame.iter().map(|&s| i32::from(s)).sum::<i32>() / frame.len() as i32;
                    resampler.push(mono as i16, &mut ring);
                }
                let excess = ring.len().saturating_sub(MAX_BUFFERED);
                ring.drain(..excess);
            },
            on_error,
            None,
        ),
        other => return Err(fail(format!("sample format {other:?} is not supported yet"))),
    }
    .map_err(|e| fail(format!("cannot open for capture: {e}")))?;
    stream.play().map_err(|e| fail(format!("cannot start capture: {e}")))?;
    Ok((stream, name, rate, channels))
}

/// Linear resampling from the device's rate to 48 kHz, one input sample at a time.
struct Downmix {
    /// Output samples per input sample.
    step: f64,
    /// Position of the next output sample, in input samples after `previous`.
    next_out: f64,
    previous: i16,
}

impl Downmix {
    fn new(from: u32, to: u32) -> Self {
        Self {
            step: f64::from(from.max(1)) / f64::from(to),
            next_out: 0.0,
            previous: 0,
        }
    }

    fn push(&mut self, sample: i16, out: &mut VecDeque<i16>) {
        // Emit every output sample that falls between `previous` (t = 0) and `sample` (t = 1).
        while self.next_out < 1.0 {
            let t = self.next_out;
            out.push_back((f64::from(self.previous) * (1.0 - t) + f64::from(sample) * t) as i16);
            self.next_out += self.step;
        }
        self.next_out -= 1.0;
        self.previous = sample;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_rate_keeps_every_sample() {
        let mut d = Downmix::new(48_000, 48_000);
        let mut out = VecDeque::new();
        for s in 1..=5 {
            d.push(s, &mut out);
        }
        assert_eq!(out.into_iter().collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_44_1_khz_device_yields_48_khz() {
        let mut d = Downmix::new(44_100, 48_000);
        let mut out = VecDeque::new();
        for _ in 0..44_100 {
            d.push(1000, &mut out);
        }
        assert!((47_990..=48_010).contains(&out.len()), "{}", out.len());
    }
}

//! Playing what the others say: one jitter buffer and Opus decoder per remote participant, mixed
//! every 20 ms into one 48 kHz mono stream for the speaker (`natter_devices::Speaker`).
//!
//! A mixing thread owns the clock (20 ms ticks, no drift against the wall clock); packets are
//! pushed from the receive tasks. Missing packets are concealed by the decoder (Opus PLC) as the
//! jitter buffer decides (`natter_media::jitter`).

use natter_media::jitter::{JitterBuffer, JitterStats, Playout};
use natter_media::AudioDecoder;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Samples per 20 ms at 48 kHz.
const FRAME_SAMPLES: usize = 960;

struct RemoteAudio {
    buffer: JitterBuffer<Vec<u8>>,
    decoder: AudioDecoder,
}

/// The mixer; dropping it stops playback.
pub struct AudioPlayout {
    remotes: Arc<Mutex<HashMap<String, RemoteAudio>>>,
    stop: Arc<AtomicBool>,
    /// The device's name.
    pub device: String,
}

impl AudioPlayout {
    /// Mix into `speaker` until dropped.
    pub fn start(speaker: natter_devices::Speaker) -> Arc<AudioPlayout> {
        let remotes: Arc<Mutex<HashMap<String, RemoteAudio>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let device = speaker.name.clone();
        let (remotes_for_mixer, stop_for_mixer) = (Arc::clone(&remotes), Arc::clone(&stop));
        std::thread::Builder::new()
            .name("mixer".into())
            .spawn(move || mix_loop(speaker, remotes_for_mixer, stop_for_mixer))
            .expect("start the mixer thread");
        Arc::new(AudioPlayout { remotes, stop, device })
    }

    /// An RTP packet of `remote`'s audio arrived.
    pub fn push(&self, remote: &str, seq: u16, timestamp: u32, payload: Vec<u8>) {
        let mut remotes = self.remotes.lock().unwrap();
        if !remotes.contains_key(remote) {
            match AudioDecoder::new() {
                Ok(decoder) => {
                    remotes.insert(remote.to_string(), RemoteAudio { buffer: JitterBuffer::new(), decoder });
                }
                Err(e) => {
                    tracing::warn!(remote, "cannot decode this participant's audio: {e}");
                    return;
                }
            }
        }
        if let Some(audio) = remotes.get_mut(remote) {
            audio.buffer.push(seq, timestamp, payload, Instant::now());
        }
    }

    /// `remote` left: stop mixing it.
    pub fn remove(&self, remote: &str) {
        self.remotes.lock().unwrap().remove(remote);
    }

    /// Jitter-buffer counters of `remote` (played, concealed, late…), its depth and target.
    pub fn stats(&self, remote: &str) -> Option<(JitterStats, Duration, Duration)> {
        self.remotes.lock().unwrap().get(remote).map(|a| (a.buffer.stats(), a.buffer.depth(), a.buffer.target()))
    }

    /// The report's view of `remote`'s jitter buffer.
    pub fn report(&self, remote: &str) -> Option<crate::report::PlayoutReport> {
        let (stats, depth, target) = self.stats(remote)?;
        Some(crate::report::PlayoutReport {
            played: stats.played,
            concealed: stats.concealed,
            late: stats.late,
            duplicates: stats.duplicates,
            dropped_for_drift: stats.dropped_for_drift,
            depth_ms: depth.as_secs_f64() * 1000.0,
            target_ms: target.as_secs_f64() * 1000.0,
        })
    }
}

impl Drop for AudioPlayout {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn mix_loop(speaker: natter_devices::Speaker, remotes: Arc<Mutex<HashMap<String, RemoteAudio>>>, stop: Arc<AtomicBool>) {
    let frame = natter_media::jitter::FRAME;
    let mut next = Instant::now() + frame;
    let mut mix = vec![0i32; FRAME_SAMPLES];
    while !stop.load(Ordering::Relaxed) {
        mix.fill(0);
        {
            let mut remotes = remotes.lock().unwrap();
            for audio in remotes.values_mut() {
                let pcm = match audio.buffer.pop() {
                    Playout::Frame(packet) => audio.decoder.decode(&packet),
                    Playout::Conceal => audio.decoder.conceal(),
                    Playout::Silence => continue,
                };
                match pcm {
                    Ok(pcm) => {
                        for (m, s) in mix.iter_mut().zip(pcm) {
                            *m += i32::from(s);
                        }
                    }
                    Err(e) => tracing::debug!("audio decode failed: {e}"),
                }
            }
        }
        let out: Vec<i16> = mix.iter().map(|&s| s.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16).collect();
        speaker.push(&out);
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else if now - next > frame * 5 {
            next = now; // we were stalled: do not burst to catch up
        }
        next += frame;
    }
}

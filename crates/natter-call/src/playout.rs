//! Playing what the others say: one jitter buffer and Opus decoder per remote participant, mixed
//! every 20 ms into one 48 kHz mono stream for an `AudioSink` (the speaker, `natter_devices::Speaker`,
//! or nothing when there is none: the mixer still runs so its statistics stay true).
//!
//! A speaker that stops working is replaced by the system default, or by nothing, and the user is
//! told (`ViewEvent::Notice`); the user can switch speakers during the call (`use_speaker`).
//!
//! A mixing thread owns the clock (20 ms ticks, no drift against the wall clock); packets are
//! pushed from the receive tasks. A missing packet is rebuilt from the next one's redundant copy
//! (Opus in-band FEC) or concealed by the decoder (Opus PLC), as the jitter buffer decides
//! (`natter_media::jitter`).

use crate::view::ViewEvent;
use natter_media::jitter::{JitterBuffer, JitterStats, Playout};
use natter_media::{AudioDecoder, AudioSink, DiscardSink};
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

/// Where the mix goes, swappable while the mixer runs.
struct Output {
    sink: Box<dyn AudioSink>,
    /// Where to tell the user about the speaker.
    events: Option<tokio::sync::mpsc::Sender<ViewEvent>>,
}

impl Output {
    fn tell(&self, message: String) {
        tracing::info!(medium = "speaker", "{message}");
        if let Some(events) = &self.events {
            let _ = events.try_send(ViewEvent::Notice {
                medium: crate::view::NoticeAbout::Speaker,
                message,
            });
        }
    }
}

/// The mixer; dropping it stops playback.
pub struct AudioPlayout {
    remotes: Arc<Mutex<HashMap<String, RemoteAudio>>>,
    output: Arc<Mutex<Output>>,
    stop: Arc<AtomicBool>,
}

impl AudioPlayout {
    /// Mix into `sink` until dropped.
    pub fn start(sink: Box<dyn AudioSink>) -> Arc<AudioPlayout> {
        Self::start_with_events(sink, None)
    }

    /// Start mixing at once and open `speaker` (a name, or `None` for the system default) on a
    /// thread of its own (a sound server may take a moment to answer); without a usable speaker
    /// the mix goes nowhere and the user is told through `events`.
    pub fn open(speaker: Option<String>, events: Option<tokio::sync::mpsc::Sender<ViewEvent>>) -> Arc<AudioPlayout> {
        let playout = Self::start_with_events(Box::new(DiscardSink::default()), events);
        let opener = Arc::clone(&playout);
        let spawned = std::thread::Builder::new()
            .name("speaker-open".into())
            .spawn(move || opener.use_speaker(speaker.as_deref()));
        if let Err(e) = spawned {
            tracing::warn!("cannot open the speaker: {e}");
        }
        playout
    }

    fn start_with_events(
        sink: Box<dyn AudioSink>,
        events: Option<tokio::sync::mpsc::Sender<ViewEvent>>,
    ) -> Arc<AudioPlayout> {
        let remotes: Arc<Mutex<HashMap<String, RemoteAudio>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let output = Arc::new(Mutex::new(Output { sink, events }));
        let (remotes_for_mixer, output_for_mixer, stop_for_mixer) =
            (Arc::clone(&remotes), Arc::clone(&output), Arc::clone(&stop));
        std::thread::Builder::new()
            .name("mixer".into())
            .spawn(move || mix_loop(output_for_mixer, remotes_for_mixer, stop_for_mixer))
            .expect("start the mixer thread");
        Arc::new(AudioPlayout { remotes, output, stop })
    }

    /// Play through another speaker (`None`: the system default). Opening happens on this
    /// thread; while it does, the mixer keeps playing into the old one.
    pub fn use_speaker(&self, speaker: Option<&str>) {
        match natter_devices::Speaker::open(speaker) {
            Ok(opened) => {
                tracing::info!(device = %opened.name, rate = opened.device_rate, channels = opened.channels, "playing the others' audio");
                self.output.lock().unwrap().sink = Box::new(opened);
            }
            Err(e) => {
                let mut output = self.output.lock().unwrap();
                output.sink = Box::new(DiscardSink::default());
                output.tell(format!("{e}: you cannot hear the others (they still hear you)"));
            }
        }
    }

    /// The speaker in use ("no speaker" when there is none).
    pub fn device(&self) -> String {
        self.output.lock().unwrap().sink.label()
    }

    /// An RTP packet of `remote`'s audio arrived.
    pub fn push(&self, remote: &str, seq: u16, timestamp: u32, payload: Vec<u8>) {
        let mut remotes = self.remotes.lock().unwrap();
        if !remotes.contains_key(remote) {
            match AudioDecoder::new() {
                Ok(decoder) => {
                    remotes.insert(
                        remote.to_string(),
                        RemoteAudio {
                            buffer: JitterBuffer::new(),
                            decoder,
                        },
                    );
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
        self.remotes
            .lock()
            .unwrap()
            .get(remote)
            .map(|a| (a.buffer.stats(), a.buffer.depth(), a.buffer.target()))
    }

    /// The report's view of `remote`'s jitter buffer.
    pub fn report(&self, remote: &str) -> Option<crate::report::PlayoutReport> {
        let (stats, depth, target) = self.stats(remote)?;
        Some(crate::report::PlayoutReport {
            played: stats.played,
            concealed: stats.concealed,
            recovered: stats.recovered,
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

fn mix_loop(output: Arc<Mutex<Output>>, remotes: Arc<Mutex<HashMap<String, RemoteAudio>>>, stop: Arc<AtomicBool>) {
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
                    Playout::Recover(next) => audio.decoder.recover(&next),
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
        let out: Vec<i16> = mix
            .iter()
            .map(|&s| s.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16)
            .collect();
        let lost = output.lock().unwrap().sink.play(&out).err();
        if let Some(lost) = lost {
            // The default speaker stands in (opened off the lock; it may take a moment).
            let replacement = natter_devices::Speaker::open(None);
            let mut output = output.lock().unwrap();
            match replacement {
                Ok(speaker) => {
                    output.tell(format!("{lost}: playing through {} instead", speaker.name));
                    output.sink = Box::new(speaker);
                }
                Err(e) => {
                    output.tell(format!(
                        "{lost}, and {e}: you cannot hear the others until a speaker is back"
                    ));
                    output.sink = Box::new(DiscardSink::default());
                }
            }
        }
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else if now - next > frame * 5 {
            next = now; // we were stalled: do not burst to catch up
        }
        next += frame;
    }
}

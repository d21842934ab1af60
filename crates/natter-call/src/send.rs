//! The sending end of one connection: encoded frames and audio packets → RTP with the codec and
//! payload type negotiated for that sender (`peer::OutTrack::codec`), never constants. When a
//! renegotiation changes the codec, the writer switches encoder output and packetizer at the
//! next keyframe; sequence numbers continue.

use crate::codecs::{SendCodec, VideoCodec};
use crate::media::{self, EncodedAudio, EncodedFrame, EncodedStreams};
use crate::peer::{OutTrack, PeerLink};
use rtc::rtp::packetizer::{Packetizer, new_packetizer};
use rtc::rtp::sequence::{Sequencer, new_random_sequencer};
use rtc::rtp_transceiver::rtp_sender::RTCRtpCodec;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, watch};
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};

/// RTP packets at most this big (as the `webrtc` crate's own sample track).
const RTP_MTU: usize = 1200;

/// Turns samples into RTP for one sender with its negotiated codec; one per track.
struct RtpWriter {
    ssrc: u32,
    sequencer: Box<dyn Sequencer>,
    packetizer: Option<(SendCodec, Box<dyn Packetizer>)>,
}

impl RtpWriter {
    fn new(ssrc: u32) -> Self {
        Self {
            ssrc,
            sequencer: Box::new(new_random_sequencer()),
            packetizer: None,
        }
    }

    /// RTP packets for one sample of `duration`, for `codec` (a new packetizer when it changed).
    fn packets(&mut self, codec: &SendCodec, data: &bytes::Bytes, duration: Duration) -> Vec<rtc::rtp::Packet> {
        if self.packetizer.as_ref().is_none_or(|(current, _)| current != codec) {
            let payloader = RTCRtpCodec {
                mime_type: codec.mime.clone(),
                clock_rate: codec.clock_rate,
                ..Default::default()
            }
            .payloader();
            let Ok(payloader) = payloader else {
                tracing::warn!(mime = %codec.mime, "no packetizer for this codec");
                return Vec::new();
            };
            let packetizer = new_packetizer(
                Instant::now(),
                RTP_MTU,
                codec.payload_type,
                self.ssrc,
                payloader,
                self.sequencer.clone(),
                codec.clock_rate,
            );
            self.packetizer = Some((codec.clone(), Box::new(packetizer)));
        }
        let (_, packetizer) = self.packetizer.as_mut().expect("just made");
        let samples = (duration.as_secs_f64() * f64::from(codec.clock_rate)).round() as u32;
        packetizer.packetize(Instant::now(), data, samples).unwrap_or_else(|e| {
            tracing::debug!("packetizing failed: {e}");
            Vec::new()
        })
    }
}

async fn write_all(track: &OutTrackRef, packets: Vec<rtc::rtp::Packet>, remote: &str) {
    for packet in packets {
        if let Err(e) = track.track.write_rtp(packet).await {
            tracing::debug!(remote, kind = %track.kind, "RTP write failed: {e}");
            return;
        }
    }
}

/// What the video writer of one connection is doing, for the report and the health panel.
#[derive(Debug, Clone, Default)]
pub struct VideoSendState {
    /// The layer sent and its picture size (0×0 before the first frame).
    pub layer: usize,
    pub width: u32,
    pub height: u32,
    /// The video budget the link's estimate allows (bits per second).
    pub budget_bps: f64,
    /// Video bytes written in the last second, and when each went out (a sliding window).
    recent: std::collections::VecDeque<(Instant, usize)>,
    /// Every change of picture size, with when it happened.
    pub resolution_changes: Vec<(Instant, u32, u32)>,
    /// Frames of the picture this link was to carry since its first frame went out: written, or
    /// skipped (a writer that fell behind, waiting for a keyframe). The receiver's decoded
    /// frames over this are what the link delivered, set-up left out.
    pub frames_sent: u64,
}

impl VideoSendState {
    fn on_written(&mut self, now: Instant, bytes: usize, width: u32, height: u32) {
        if (width, height) != (self.width, self.height) {
            self.resolution_changes.push((now, width, height));
            if self.resolution_changes.len() > 64 {
                self.resolution_changes.remove(0);
            }
            (self.width, self.height) = (width, height);
        }
        self.recent.push_back((now, bytes));
        while self
            .recent
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > Duration::from_secs(1))
        {
            self.recent.pop_front();
        }
    }

    /// Video sent over the last second, bits per second (RTP payload, no retransmissions).
    pub fn bitrate_bps(&self) -> f64 {
        let recent_enough = self
            .recent
            .back()
            .is_some_and(|(at, _)| at.elapsed() < Duration::from_secs(2));
        if recent_enough {
            self.recent.iter().map(|(_, b)| *b as f64 * 8.0).sum()
        } else {
            0.0
        }
    }
}

/// No frame for this long is a pause in sending (video off, a stalled source).
const SENDING_PAUSE: Duration = Duration::from_millis(500);

/// A writer's subscription to one layer of one codec.
struct LayerFeed {
    layer: usize,
    frames: broadcast::Receiver<Arc<EncodedFrame>>,
}

static WRITER_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// What a writer has asked of the encoders, withdrawn when the writer ends.
struct Wants {
    encoded: EncodedStreams,
    id: u64,
}

impl Drop for Wants {
    fn drop(&mut self) {
        for layer in 0..crate::adapt::LAYERS {
            self.encoded.forget(self.id, layer);
        }
        self.encoded.report_loss(self.id, None);
    }
}

/// Video for one connection: follows the negotiated codec and the link's bandwidth estimate
/// (the layer that fits it, see `adapt`), subscribes to that stream's encoder (the capture
/// thread encodes a stream only while someone sends it), starts at a keyframe. A layer switch
/// keeps sending the old layer until the new one's keyframe arrives, so the picture never stops.
pub fn spawn_video_writer(link: &PeerLink, encoded: EncodedStreams, fps: u32) -> tokio::task::JoinHandle<()> {
    let track = OutTrackRef::of(&link.video);
    let mut codec_rx = link.video.codec.subscribe();
    let remote = link.remote.clone();
    let estimate = link.estimate.clone();
    let state = Arc::clone(&link.video_state);
    let reception = link.reception.clone();
    let nominal = Duration::from_secs_f64(1.0 / f64::from(fps.max(1)));
    tokio::spawn(async move {
        let wants = Wants {
            encoded: encoded.clone(),
            id: WRITER_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        };
        let mut writer = RtpWriter::new(track.ssrc);
        let mut choice = crate::adapt::LayerChoice::new(crate::adapt::video_budget(estimate.get().target_bps, None));
        let mut current: Option<(SendCodec, VideoCodec, LayerFeed)> = None;
        let mut pending: Option<LayerFeed> = None;
        let mut waiting_for_keyframe = true;
        // Capture time of the newest picture counted in `frames_sent`; none before the first
        // frame went out (frames count from there on).
        let mut counted_up_to: Option<Instant> = None;
        let mut last_capture: Option<Instant> = None;
        // Since when frames have gone out without a pause (late feedback counts only for what
        // was sent, see `feedback_overdue`).
        let mut sending_since: Option<Instant> = None;
        let mut last_said: Option<Instant> = None;
        // The negotiated codec is read again only when it changed, not per frame.
        let mut negotiation_changed = true;
        loop {
            if std::mem::take(&mut negotiation_changed) {
                let negotiated = codec_rx.borrow_and_update().clone();
                let wanted = negotiated.and_then(|c| c.video.map(|v| (c, v)));
                if current.as_ref().map(|(c, v, _)| (c, v)) != wanted.as_ref().map(|(c, v)| (c, v)) {
                    for layer in 0..crate::adapt::LAYERS {
                        encoded.forget(wants.id, layer);
                    }
                    pending = None;
                    current = wanted.map(|(codec, video)| {
                        let layer = choice.layer();
                        tracing::info!(remote, codec = %codec.describe(), layer, "sending video");
                        encoded.request_keyframe_for_layer(video, layer);
                        (
                            codec,
                            video,
                            LayerFeed {
                                layer,
                                frames: encoded.video(video, layer).subscribe(),
                            },
                        )
                    });
                    waiting_for_keyframe = true;
                }
            }
            let Some((codec, video, feed)) = current.as_mut() else {
                if codec_rx.changed().await.is_err() {
                    return;
                }
                negotiation_changed = true;
                continue;
            };
            // The resend bound needs the round trip (from the remote's reports).
            if let Some(rtt) = reception.get(track.ssrc).and_then(|r| r.rtt_ms) {
                estimate.set_rtt(Duration::from_secs_f64(rtt.max(0.0) / 1000.0));
            }
            // The layer this link carries now; a change subscribes to the new layer first.
            let link = estimate.get();
            encoded.report_loss(wants.id, link.loss);
            let now = Instant::now();
            let overdue = link.feedback_overdue(now, sending_since.unwrap_or(now));
            let budget =
                crate::adapt::feedback_pushback(crate::adapt::video_budget(link.target_bps, link.loss), overdue);
            // Late feedback is a queue we cannot see yet: the layer choice treats it as one.
            let queue_ms = link.queue_ms.max(overdue.as_secs_f64() * 1000.0);
            let layer = choice.update_with_queue(budget, link.measured && !link.pushed_back, queue_ms, now);
            if layer != feed.layer && pending.as_ref().is_none_or(|p| p.layer != layer) {
                tracing::info!(
                    remote,
                    from = feed.layer,
                    to = layer,
                    budget_kbps = (budget / 1000.0).round(),
                    "switching video layer"
                );
                encoded.request_keyframe_for_layer(*video, layer);
                pending = Some(LayerFeed {
                    layer,
                    frames: encoded.video(*video, layer).subscribe(),
                });
            } else if layer == feed.layer && pending.is_some() {
                pending = None;
            }
            // One lock per frame: the budget goes in, what was sent over the last second out.
            let sent_bps = {
                let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
                state.budget_bps = budget;
                state.bitrate_bps()
            };
            let rate = crate::adapt::encoder_rate(budget, sent_bps);
            encoded.want(wants.id, *video, feed.layer, rate);
            match &pending {
                Some(p) => encoded.want(wants.id, *video, p.layer, rate),
                None => (0..crate::adapt::LAYERS)
                    .filter(|l| *l != feed.layer)
                    .for_each(|l| encoded.forget(wants.id, l)),
            }
            let (frame, from_pending) = tokio::select! {
                changed = codec_rx.changed() => {
                    if changed.is_err() { return; }
                    negotiation_changed = true;
                    continue;
                }
                frame = feed.frames.recv() => (frame, false),
                frame = async { pending.as_mut().expect("guarded").frames.recv().await }, if pending.is_some() => (frame, true),
            };
            let frame = match frame {
                Ok(f) => f,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::debug!(remote, "video writer lagged {n} frames");
                    if !from_pending {
                        if counted_up_to.is_some() {
                            state.lock().unwrap_or_else(|e| e.into_inner()).frames_sent += n;
                        }
                        waiting_for_keyframe = true;
                        encoded.request_keyframe_for_layer(*video, feed.layer);
                    }
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            // Each picture counts once, whichever layer brought it first.
            if counted_up_to.is_some_and(|last| frame.captured_at > last) {
                counted_up_to = Some(frame.captured_at);
                state.lock().unwrap_or_else(|e| e.into_inner()).frames_sent += 1;
            }
            if from_pending {
                // The new layer starts at its keyframe; until then the old one goes on.
                if !frame.keyframe {
                    continue;
                }
                let new = pending.take().expect("came from it");
                encoded.forget(wants.id, feed.layer);
                *feed = new;
            } else if waiting_for_keyframe && !frame.keyframe {
                continue;
            }
            let first_frame = counted_up_to.is_none();
            if first_frame {
                counted_up_to = Some(frame.captured_at);
            }
            waiting_for_keyframe = false;
            // RTP time follows capture time, not a nominal rate: a sender that makes 24 of its
            // 30 frames a second must not look to the receiver as if its clock ran slow.
            let duration = last_capture.map_or(nominal, |last| {
                frame
                    .captured_at
                    .saturating_duration_since(last)
                    .min(Duration::from_secs(1))
            });
            if last_capture.is_none_or(|last| frame.captured_at.saturating_duration_since(last) > SENDING_PAUSE) {
                sending_since = Some(Instant::now());
            }
            last_capture = Some(frame.captured_at);
            let packets = writer.packets(codec, &frame.data, duration);
            {
                let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
                state.layer = feed.layer;
                state.frames_sent += u64::from(first_frame);
                state.on_written(Instant::now(), frame.data.len(), frame.width, frame.height);
                if last_said.is_none_or(|at: Instant| at.elapsed() >= Duration::from_millis(500)) {
                    last_said = Some(Instant::now());
                    tracing::debug!(
                        remote,
                        layer = feed.layer,
                        budget_kbps = (budget / 1000.0).round(),
                        sent_kbps = (state.bitrate_bps() / 1000.0).round(),
                        queue_ms = link.queue_ms.round(),
                        frame_bytes = frame.data.len(),
                        "video sent"
                    );
                }
            }
            write_all(&track, packets, &remote).await;
        }
    })
}

/// Audio for one connection (Opus, 20 ms a packet, with the negotiated payload type).
pub fn spawn_audio_writer(
    link: &PeerLink,
    mut packets: broadcast::Receiver<Arc<EncodedAudio>>,
) -> tokio::task::JoinHandle<()> {
    let track = OutTrackRef::of(&link.audio);
    let mut codec_rx: watch::Receiver<Option<SendCodec>> = link.audio.codec.subscribe();
    let remote = link.remote.clone();
    tokio::spawn(async move {
        let mut writer = RtpWriter::new(track.ssrc);
        let mut codec = codec_rx.borrow_and_update().clone();
        loop {
            let packet = tokio::select! {
                // The connection is gone (its codec sender with it): stop.
                changed = codec_rx.changed() => {
                    if changed.is_err() { return; }
                    codec = codec_rx.borrow_and_update().clone();
                    continue;
                }
                packet = packets.recv() => packet,
            };
            let packet = match packet {
                Ok(p) => p,
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let Some(codec) = &codec else { continue };
            let rtp = writer.packets(codec, &packet.data, media::AUDIO_FRAME);
            write_all(&track, rtp, &remote).await;
        }
    })
}

/// Watch RTCP on our video track: a PLI/FIR from this remote makes the next frame of the stream
/// (codec and layer) it receives a keyframe.
pub fn spawn_keyframe_request_listener(link: &PeerLink, encoded: EncodedStreams) -> tokio::task::JoinHandle<()> {
    let track = Arc::clone(&link.video.track);
    let codec_rx = link.video.codec.subscribe();
    let remote = link.remote.clone();
    let state = Arc::clone(&link.video_state);
    tokio::spawn(async move {
        while let Some(event) = track.poll().await {
            if let TrackLocalEvent::OnRtcpPacket(packets) = event
                && packets.iter().any(|p| crate::keyframe::is_keyframe_request(p.as_ref()))
            {
                tracing::debug!(remote, "keyframe requested");
                let layer = state.lock().unwrap_or_else(|e| e.into_inner()).layer;
                match codec_rx.borrow().as_ref().and_then(|c| c.video) {
                    Some(video) => encoded.request_keyframe_for_layer(video, layer),
                    None => encoded.request_keyframe(),
                }
            }
        }
    })
}

/// What a writer task keeps of its track: not the `OutTrack` itself, whose codec sender is the
/// writer's signal to stop (it drops with the connection; a writer holding it would live on).
struct OutTrackRef {
    track: Arc<webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP>,
    kind: rtc::rtp_transceiver::rtp_sender::RtpCodecKind,
    ssrc: u32,
}

impl OutTrackRef {
    fn of(track: &OutTrack) -> Self {
        Self {
            track: Arc::clone(&track.track),
            kind: track.kind,
            ssrc: track.ssrc,
        }
    }
}

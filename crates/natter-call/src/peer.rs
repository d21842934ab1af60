//! One WebRTC peer connection to one remote participant: its tracks, its adaptation state, and
//! the path/RTT read from its stats. The `webrtc` crate's callbacks are turned into `LinkEvent`s
//! (`link_task` forwards them to the core). The decisions about the link live in `call_core`.

use crate::CallError;
use crate::codecs::{SendCodec, VideoCodec};
use crate::report::{CandidateType, PathReport};
use crate::webrtc_setup;
use rtc::media_stream::MediaStreamTrack;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc;
use tokio::sync::watch;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceCandidateInit, RTCPeerConnectionIceEvent,
    RTCPeerConnectionState, RTCStatsReportEntry, StatsSelector,
};
use webrtc::rtp_transceiver::RtpSender;

/// What a peer connection tells its participant.
pub enum LinkEvent {
    LocalCandidate {
        remote: String,
        candidate: RTCIceCandidateInit,
    },
    State {
        remote: String,
        state: RTCPeerConnectionState,
    },
    /// We have offered every candidate we will find (this round).
    GatheringComplete { remote: String },
    /// ICE found a working path (the DTLS handshake comes next); sent once.
    IceConnected { remote: String },
    Track {
        remote: String,
        track: Arc<dyn TrackRemote>,
    },
}

struct Handler {
    remote: String,
    events: mpsc::UnboundedSender<LinkEvent>,
    /// ICE found a path already (told once).
    ice_connected: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        match event.candidate.to_json() {
            Ok(candidate) => {
                let _ = self.events.send(LinkEvent::LocalCandidate {
                    remote: self.remote.clone(),
                    candidate,
                });
            }
            Err(e) => tracing::warn!(remote = %self.remote, "could not serialize a local candidate: {e}"),
        }
    }

    async fn on_ice_gathering_state_change(&self, state: webrtc::peer_connection::RTCIceGatheringState) {
        if state == webrtc::peer_connection::RTCIceGatheringState::Complete {
            let _ = self.events.send(LinkEvent::GatheringComplete {
                remote: self.remote.clone(),
            });
        }
    }

    async fn on_ice_connection_state_change(&self, state: webrtc::peer_connection::RTCIceConnectionState) {
        use webrtc::peer_connection::RTCIceConnectionState as Ice;
        if matches!(state, Ice::Connected | Ice::Completed)
            && !self.ice_connected.swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            let _ = self.events.send(LinkEvent::IceConnected {
                remote: self.remote.clone(),
            });
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.events.send(LinkEvent::State {
            remote: self.remote.clone(),
            state,
        });
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self.events.send(LinkEvent::Track {
            remote: self.remote.clone(),
            track,
        });
    }
}

/// Our outgoing streams to one remote and what it reports receiving of them: what the report
/// needs, and nothing of the connection itself (a track would keep the stack's driver alive).
#[derive(Clone)]
pub struct Outgoing {
    video: (u32, watch::Receiver<Option<SendCodec>>),
    audio: (u32, watch::Receiver<Option<SendCodec>>),
    reception: crate::reception::ReceptionBoard,
    estimate: crate::bwe::LinkEstimate,
    video_state: Arc<Mutex<crate::send::VideoSendState>>,
    joined_at: Instant,
}

impl Outgoing {
    /// Write what we send this remote into its report entry: `sent`, and why our video to it is
    /// limited (`encode_load`: see `EncodedStreams::encode_load`).
    pub fn fill(&self, report: &mut crate::report::PeerReport, encode_load: f64) {
        let estimate = self.estimate.get();
        let state = self.video_state.lock().unwrap_or_else(|p| p.into_inner()).clone();
        report.sent = self.report(&estimate, &state);
        (report.quality_limitation, report.quality_note) = crate::adapt::quality_limitation(
            &estimate,
            state.layer,
            state.budget_bps,
            (state.width, state.height),
            &report.remote_name,
            encode_load,
        );
    }

    fn report(
        &self,
        estimate: &crate::bwe::EstimateState,
        state: &crate::send::VideoSendState,
    ) -> crate::report::SentReport {
        let stream = |(ssrc, codec): &(u32, watch::Receiver<Option<SendCodec>>)| {
            self.reception
                .get(*ssrc)
                .unwrap_or_default()
                .report(codec.borrow().as_ref().map(SendCodec::describe))
        };
        let mut video = stream(&self.video);
        let since_join = |at: Instant| at.saturating_duration_since(self.joined_at).as_secs_f64() * 1000.0;
        video.target_kbps = estimate.measured.then(|| (estimate.target_bps / 1000.0).round());
        video.bitrate_kbps = (state.width > 0).then(|| (state.bitrate_bps() / 1000.0).round());
        video.resolution = (state.width > 0).then(|| format!("{}x{}", state.width, state.height));
        video.frames_sent = (state.width > 0).then_some(state.frames_sent);
        video.resolution_changes = state
            .resolution_changes
            .iter()
            .map(|&(at, width, height)| crate::report::ResolutionChange {
                at_ms: since_join(at),
                width,
                height,
            })
            .collect();
        video.retransmitted_packets = estimate.retransmitted_packets;
        video.retransmissions_withheld = estimate.retransmissions_withheld;
        crate::report::SentReport {
            video,
            audio: stream(&self.audio),
        }
    }
}

/// One of our outgoing tracks: the RTP track we write packets into, its sender, and the codec
/// negotiated for it (published to its writer task after every negotiation).
pub struct OutTrack {
    pub track: Arc<TrackLocalStaticRTP>,
    pub ssrc: u32,
    pub kind: RtpCodecKind,
    pub sender: Arc<dyn RtpSender>,
    /// What the writer sends now; `None` until negotiated (or when nothing we encode was agreed).
    pub codec: watch::Sender<Option<SendCodec>>,
}

impl OutTrack {
    /// Read the sender's negotiated codecs and publish the one to send. Returns it when it
    /// changed (to log and report), `Err` with the codecs on offer when none is usable.
    pub async fn refresh_codec(&self) -> Result<Option<SendCodec>, String> {
        let parameters = self.sender.get_parameters().await.map_err(|e| e.to_string())?;
        let codecs = &parameters.rtp_parameters.codecs;
        let chosen = crate::codecs::choose_send_codec(codecs);
        if chosen.is_none() && !codecs.is_empty() {
            let listed: Vec<String> = codecs.iter().map(|c| c.rtp_codec.mime_type.clone()).collect();
            self.codec.send_replace(None);
            return Err(format!(
                "none of the {} codecs the other side accepts ({}) is one we can send",
                self.kind,
                listed.join(", ")
            ));
        }
        let changed = *self.codec.borrow() != chosen;
        if changed {
            self.codec.send_replace(chosen.clone());
        }
        Ok(if changed { chosen } else { None })
    }
}

/// The peer connection to one remote participant.
pub struct PeerLink {
    pub remote: String,
    /// The remote's name (its tile's label).
    pub remote_name: String,
    pub pc: Arc<dyn PeerConnection>,
    pub video: Arc<OutTrack>,
    pub audio: Arc<OutTrack>,
    /// Background tasks of this link (media writers, receivers), aborted on close.
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
    /// What the remote reports receiving of our streams (RTCP report blocks).
    pub reception: crate::reception::ReceptionBoard,
    /// What the path to this remote carries (see `bwe`); fixed with `stack_defaults`.
    pub estimate: crate::bwe::LinkEstimate,
    /// What our video writer sends this remote (layer, size, bitrate).
    pub video_state: Arc<Mutex<crate::send::VideoSendState>>,
    /// Video codecs by the payload types of our own description (what arrives is read by them).
    pub receive_video_types: Arc<Mutex<std::collections::HashMap<u8, VideoCodec>>>,
}

/// Everything needed to open peer connections the same way for every remote.
#[derive(Clone)]
pub struct LinkSettings {
    pub ice: natter_ice::IceConfig,
    pub relay_only: bool,
    pub bind: SocketAddr,
    /// The `webrtc` crate as it comes, for side-by-side measurements: its default timers, and
    /// none of Natter's recovery (no ICE restarts, no media watch).
    pub stack_defaults: bool,
    /// How our offers number the codecs (what is sent always follows the negotiation).
    pub offer_payload_types: webrtc_setup::PayloadTypes,
    /// The TURN-over-TCP/TLS bridges of these connections (see `bridge`).
    pub bridges: crate::bridge::Bridges,
}

fn webrtc_err(e: impl std::fmt::Display) -> CallError {
    CallError::WebRtc(e.to_string())
}

impl PeerLink {
    pub async fn open(
        settings: &LinkSettings,
        local_id: &str,
        remote: &str,
        remote_name: &str,
        events: mpsc::UnboundedSender<LinkEvent>,
        video_preference: &[VideoCodec],
    ) -> Result<PeerLink, CallError> {
        let reception = crate::reception::ReceptionBoard::default();
        let estimate = if settings.stack_defaults {
            crate::bwe::LinkEstimate::fixed(crate::bwe::MAX_BPS)
        } else {
            crate::bwe::LinkEstimate::default()
        };
        let adaptation = webrtc_setup::Adaptation {
            stack_defaults: settings.stack_defaults,
            estimate: &estimate,
        };
        let (media, registry) =
            webrtc_setup::media_engine_and_interceptors(settings.offer_payload_types, &reception, adaptation)?;
        let handler = Arc::new(Handler {
            remote: remote.to_string(),
            events,
            ice_connected: Default::default(),
        });
        let pc = PeerConnectionBuilder::new()
            .with_configuration(webrtc_setup::rtc_configuration(
                &settings.ice,
                settings.relay_only,
                &settings.bridges,
            ))
            .with_media_engine(media)
            .with_interceptor_registry(registry)
            .with_setting_engine(if settings.stack_defaults {
                webrtc::peer_connection::SettingEngine::default()
            } else {
                webrtc_setup::setting_engine(settings.relay_only)
            })
            .with_handler(handler)
            .with_udp_addrs(vec![settings.bind])
            .build()
            .await
            .map_err(webrtc_err)?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        let numbers = settings.offer_payload_types;
        let video = Arc::new(add_track(&pc, local_id, RtpCodecKind::Video, video_preference, numbers).await?);
        let audio = Arc::new(add_track(&pc, local_id, RtpCodecKind::Audio, video_preference, numbers).await?);
        reception.register(video.ssrc, 90_000);
        reception.register(audio.ssrc, 48_000);
        Ok(PeerLink {
            remote: remote.to_string(),
            remote_name: remote_name.to_string(),
            pc,
            video,
            audio,
            tasks: Vec::new(),
            reception,
            estimate,
            video_state: Arc::default(),
            receive_video_types: Arc::default(),
        })
    }

    /// `joined_at`: when our participant joined (report times count from it).
    pub fn outgoing(&self, joined_at: Instant) -> Outgoing {
        Outgoing {
            video: (self.video.ssrc, self.video.codec.subscribe()),
            audio: (self.audio.ssrc, self.audio.codec.subscribe()),
            reception: self.reception.clone(),
            estimate: self.estimate.clone(),
            video_state: Arc::clone(&self.video_state),
            joined_at,
        }
    }

    /// Our own description was set: what arrives on video is read by its payload types.
    pub fn on_local_description(&mut self, local_sdp: &str) {
        let types = crate::codecs::video_payload_types(local_sdp);
        *self.receive_video_types.lock().unwrap_or_else(|p| p.into_inner()) = types;
    }

    pub async fn close(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        close(&self.pc, &self.remote).await;
    }
}

/// Add our track of `kind`. Its coding names one codec (the stack binds its interceptors —
/// NACK, reports — to the stream through it): the first of `video_preference` for video, which
/// is the remote's first choice when it offered. The transceiver then offers every codec we
/// have, in that order; what is *sent* is decided after negotiation (`OutTrack::refresh_codec`).
async fn add_track(
    pc: &Arc<dyn PeerConnection>,
    local_id: &str,
    kind: RtpCodecKind,
    video_preference: &[VideoCodec],
    numbers: webrtc_setup::PayloadTypes,
) -> Result<OutTrack, CallError> {
    let mut video_order: Vec<VideoCodec> = video_preference.to_vec();
    for codec in VideoCodec::OFFERED {
        if !video_order.contains(&codec) {
            video_order.push(codec);
        }
    }
    let codec = match kind {
        RtpCodecKind::Audio => webrtc_setup::audio_codec(),
        _ => webrtc_setup::video_codec(video_order[0]),
    };
    let ssrc = rand_ssrc();
    let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        format!("natter-{local_id}"),
        format!("natter-{local_id}-{kind}"),
        format!("{kind}"),
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec,
            ..Default::default()
        }],
    )));
    let sender = pc
        .add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
        .await
        .map_err(webrtc_err)?;
    if kind == RtpCodecKind::Video {
        // The stack narrows a transceiver to its track's codec; offer all of ours.
        let all = webrtc_setup::offered_video_codecs(numbers);
        let ordered: Vec<_> = video_order
            .iter()
            .filter_map(|c| {
                all.iter()
                    .find(|p| VideoCodec::from_mime(&p.rtp_codec.mime_type) == Some(*c))
                    .cloned()
            })
            .collect();
        for transceiver in pc.get_transceivers().await {
            if let Ok(Some(s)) = transceiver.sender().await
                && s.id() == sender.id()
            {
                transceiver
                    .set_codec_preferences(ordered.clone())
                    .await
                    .map_err(webrtc_err)?;
            }
        }
    }
    Ok(OutTrack {
        track,
        ssrc,
        kind,
        sender,
        codec: watch::Sender::new(None),
    })
}

/// Longest anyone waits for a stats query of the `webrtc` crate.
const STATS_LIMIT: std::time::Duration = std::time::Duration::from_millis(500);
/// Longest anyone waits for a peer connection to close.
const CLOSE_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Close a peer connection, waiting at most `CLOSE_LIMIT` (the stack may keep a half-made
/// connection busy); the rest of the close then finishes in the background.
pub async fn close(pc: &Arc<dyn PeerConnection>, remote: &str) {
    match tokio::time::timeout(CLOSE_LIMIT, pc.close()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!(remote, "closing peer connection: {e}"),
        Err(_) => tracing::warn!(
            remote,
            "closing the connection took longer than {CLOSE_LIMIT:?}; left to finish in the background"
        ),
    }
}

fn rand_ssrc() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is randomly keyed per instance: its empty hash is a random number.
    (std::collections::hash_map::RandomState::new().build_hasher().finish() as u32) | 1
}

/// How many candidate pairs the stack has, and how many of them failed their checks (`None` if
/// the stack does not answer within `STATS_LIMIT`).
pub async fn pair_counts(pc: &Arc<dyn PeerConnection>) -> Option<crate::diagnosis::PairCounts> {
    use rtc::statistics::stats::ice_candidate_pair::RTCStatsIceCandidatePairState;
    let report = tokio::time::timeout(STATS_LIMIT, pc.get_stats(Instant::now(), StatsSelector::None))
        .await
        .ok()?;
    let mut counts = crate::diagnosis::PairCounts::default();
    for pair in report.candidate_pairs() {
        counts.total += 1;
        if pair.state == RTCStatsIceCandidatePairState::Failed {
            counts.failed += 1;
        }
    }
    Some(counts)
}

/// The share of our connectivity checks that went unanswered on the pairs that work (0–1), once
/// at least 5 were sent: how lossy the path is, before any media flows. `None` without enough.
pub async fn check_loss(pc: &Arc<dyn PeerConnection>) -> Option<f64> {
    use rtc::statistics::stats::ice_candidate_pair::RTCStatsIceCandidatePairState;
    let report = tokio::time::timeout(STATS_LIMIT, pc.get_stats(Instant::now(), StatsSelector::None))
        .await
        .ok()?;
    let (sent, answered) = report
        .candidate_pairs()
        .filter(|p| p.state == RTCStatsIceCandidatePairState::Succeeded || p.nominated)
        .fold((0u64, 0u64), |(s, a), p| {
            (s + p.requests_sent, a + p.responses_received)
        });
    // (`requests_sent` includes the consent checks; the latest may still be on its way.)
    (sent >= 5).then(|| 1.0 - ((answered + 1).min(sent) as f64 / sent as f64))
}

/// The path the connection uses now (selected candidate pair) and its RTT, from the crate's stats.
/// `None` also when the stack does not answer within `STATS_LIMIT` (seen with a connection whose
/// remote left before answering): callers run on event loops that must not stall.
pub async fn current_path(
    pc: &Arc<dyn PeerConnection>,
    bridges: &crate::bridge::Bridges,
) -> Option<(PathReport, Option<f64>)> {
    current_stats(pc, bridges).await.and_then(|(path, _)| path)
}

/// What arrived from the remote so far, summed over its audio and video streams.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct InboundTotals {
    pub bytes_received: u64,
    pub packets_received: u64,
    pub packets_lost: i64,
    /// Largest interarrival jitter of the streams, in milliseconds.
    pub jitter_ms: Option<f64>,
}

/// The path and RTT (if a pair is selected) and the inbound totals, from one stats query.
pub async fn current_stats(
    pc: &Arc<dyn PeerConnection>,
    bridges: &crate::bridge::Bridges,
) -> Option<(Option<(PathReport, Option<f64>)>, InboundTotals)> {
    let report = tokio::time::timeout(STATS_LIMIT, pc.get_stats(Instant::now(), StatsSelector::None))
        .await
        .ok()?;
    let mut inbound = InboundTotals::default();
    for stream in report.inbound_rtp_streams() {
        let received = &stream.received_rtp_stream_stats;
        inbound.bytes_received += stream.bytes_received;
        inbound.packets_received += received.packets_received;
        inbound.packets_lost += received.packets_lost;
        // RFC 3550 jitter is in RTP timestamp units: 90 kHz for our video, 48 kHz for Opus.
        let clock_rate = match received.rtp_stream_stats.kind {
            rtc::rtp_transceiver::rtp_sender::RtpCodecKind::Video => 90_000.0,
            _ => 48_000.0,
        };
        let jitter_ms = received.jitter / clock_rate * 1000.0;
        inbound.jitter_ms = Some(inbound.jitter_ms.map_or(jitter_ms, |j: f64| j.max(jitter_ms)));
    }
    Some((path_of(&report, bridges), inbound))
}

fn path_of(
    report: &webrtc::peer_connection::RTCStatsReport,
    bridges: &crate::bridge::Bridges,
) -> Option<(PathReport, Option<f64>)> {
    let ids_match = |a: &str, b: &str| !a.is_empty() && !b.is_empty() && (a.ends_with(b) || b.ends_with(a));
    // After an ICE restart old pairs may still be listed: the transport names the selected one.
    let selected = report
        .transport()
        .map(|t| t.selected_candidate_pair_id.clone())
        .unwrap_or_default();
    let pair = report
        .candidate_pairs()
        .find(|p| ids_match(&p.stats.id, &selected))
        .or_else(|| report.candidate_pairs().filter(|p| p.nominated).last())
        .or_else(|| report.candidate_pairs().next())?;
    let mut local = None;
    let mut remote = None;
    for entry in report.iter() {
        match entry {
            RTCStatsReportEntry::LocalCandidate(c) if ids_match(&c.stats.id, &pair.local_candidate_id) => {
                local = Some(c)
            }
            RTCStatsReportEntry::RemoteCandidate(c) if ids_match(&c.stats.id, &pair.remote_candidate_id) => {
                remote = Some(c)
            }
            _ => {}
        }
    }
    let local = local?;
    let local_type = CandidateType::from_word(&local.candidate_type.to_string());
    let relay = local_type == CandidateType::Relay;
    // Serde names of RTCIceServerTransportProtocol are "udp" | "tcp" | "tls" (it has no Display).
    let relay_protocol = serde_json::to_value(local.relay_protocol)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut relay_server = relay.then(|| local.url.clone()).filter(|u| !u.is_empty());
    let mut relay_transport = relay.then(|| {
        if relay_protocol.is_empty() || relay_protocol == "Unspecified" {
            "udp".to_string()
        } else {
            relay_protocol
        }
    });
    // A relay reached through our TCP/TLS bridge: report the server the user configured.
    if let Some((original, transport)) = relay_server.as_deref().and_then(|url| bridges.original_of(url)) {
        relay_server = Some(original);
        relay_transport = Some(transport.to_string());
    }
    let path = PathReport {
        local_candidate: local_type,
        // A remote candidate the remote never signaled was learned from its checks: peer-reflexive
        // (the stack does not list those among the remote candidates in its stats).
        remote_candidate: remote.map_or(CandidateType::Prflx, |r| {
            CandidateType::from_word(&r.candidate_type.to_string())
        }),
        protocol: local.protocol.to_lowercase(),
        relay_server,
        relay_transport,
        note: None,
    };
    let rtt = (pair.current_round_trip_time > 0.0).then_some(pair.current_round_trip_time * 1000.0);
    Some((path, rtt))
}

//! One task per link: it owns the link's peer connection (`peer::PeerLink`), performs the
//! core's operations on it in the order given (`call_core::LinkOp`) and reports each result, so
//! that a slow stack call (a stats query, a close) holds up only its own link. It also runs the
//! link's media plane: the writers once connected, a receiver per remote track.

use crate::call_core::{CodecOutcome, Input, LinkOp, OpResult, StackEvent};
use crate::codecs::VideoCodec;
use crate::keyframe::PliPacer;
use crate::media::{self, ViewSink};
use crate::peer::{self, LinkEvent, LinkSettings, PeerLink};
use crate::receive::{Assembled, VideoAssembler, VideoStats};
use crate::reorder::{Released, ReorderBuffer};
use crate::report::PeerState;
use crate::sync::Locked;
use natter_signal::protocol::IceCandidate;
use rtc::peer_connection::configuration::RTCOfferOptions;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{PeerConnection, RTCIceCandidateInit, RTCPeerConnectionState, RTCSessionDescription};

/// What arrived from one remote so far (the report and the media watch read it).
#[derive(Default)]
pub struct Received {
    pub video: Mutex<VideoStats>,
    pub audio_packets: AtomicU64,
}

/// What a link task tells the driver: its `epoch` tells a link from an earlier one to the same
/// remote (whose late events must not be taken for the new one's).
pub enum FromLink {
    /// The connection exists: what the report reads of it.
    Opened {
        pc: Arc<dyn PeerConnection>,
        outgoing: peer::Outgoing,
    },
    Input(Input),
}

pub struct Tagged {
    pub remote: String,
    pub epoch: u64,
    pub what: FromLink,
}

/// What a link needs that is the same for every link of a participant.
#[derive(Clone)]
pub struct LinkContext {
    pub local_id: String,
    pub settings: LinkSettings,
    pub joined_at: Instant,
    pub encoded: media::EncodedStreams,
    pub fps: u32,
    pub view: Option<ViewSink>,
    pub playout: Option<Arc<crate::playout::AudioPlayout>>,
    pub to_driver: mpsc::UnboundedSender<Tagged>,
}

/// The driver's handle on a link task.
pub struct LinkHandle {
    pub epoch: u64,
    ops: mpsc::UnboundedSender<LinkOp>,
}

impl LinkHandle {
    /// Queue `op` (ignored once the link closed).
    pub fn perform(&self, op: LinkOp) {
        let _ = self.ops.send(op);
    }
}

/// Start the task of the link to `remote`; it opens the connection first.
pub fn spawn(
    context: &LinkContext,
    remote: &str,
    remote_name: &str,
    epoch: u64,
    video_preference: Vec<VideoCodec>,
    received: Arc<Received>,
) -> LinkHandle {
    let (ops, ops_rx) = mpsc::unbounded_channel();
    let runner = LinkRunner {
        context: context.clone(),
        remote: remote.to_string(),
        epoch,
        received,
        receivers: Arc::default(),
    };
    let remote_name = remote_name.to_string();
    tokio::spawn(async move { runner.run(remote_name, video_preference, ops_rx).await });
    LinkHandle { epoch, ops }
}

struct LinkRunner {
    context: LinkContext,
    remote: String,
    epoch: u64,
    received: Arc<Received>,
    /// Receive tasks, aborted when the link closes.
    receivers: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl LinkRunner {
    fn tell(&self, what: FromLink) {
        let _ = self.context.to_driver.send(Tagged {
            remote: self.remote.clone(),
            epoch: self.epoch,
            what,
        });
    }

    fn done(&self, result: OpResult) {
        self.tell(FromLink::Input(Input::Done {
            remote: self.remote.clone(),
            result,
        }));
    }

    async fn run(self, remote_name: String, preference: Vec<VideoCodec>, mut ops: mpsc::UnboundedReceiver<LinkOp>) {
        let (events, events_rx) = mpsc::unbounded_channel();
        let settings = &self.context.settings;
        let opened = PeerLink::open(
            settings,
            &self.context.local_id,
            &self.remote,
            &remote_name,
            events,
            &preference,
        );
        let mut link = match opened.await {
            Ok(link) => link,
            Err(e) => return self.done(OpResult::OpenFailed(e.to_string())),
        };
        self.tell(FromLink::Opened {
            pc: Arc::clone(&link.pc),
            outgoing: link.outgoing(self.context.joined_at),
        });
        tokio::spawn(forward_events(self.stack_forwarder(&link), events_rx));
        while let Some(op) = ops.recv().await {
            if op == LinkOp::Close {
                break;
            }
            if let Some(result) = self.perform(&mut link, op).await {
                self.done(result);
            }
        }
        for task in self.receivers.locked().drain(..) {
            task.abort();
        }
        // Closing a connection that never completed can take the stack a while; only this
        // link's task waits for it.
        link.close().await;
        crate::memory::release_freed_memory_soon();
    }

    fn stack_forwarder(&self, link: &PeerLink) -> StackForwarder {
        StackForwarder {
            to_driver: self.context.to_driver.clone(),
            bridges: self.context.settings.bridges.clone(),
            remote: self.remote.clone(),
            epoch: self.epoch,
            receive: ReceiveContext {
                remote: self.remote.clone(),
                label: link.remote_name.clone(),
                joined_at: self.context.joined_at,
                view: self.context.view.clone(),
                playout: self.context.playout.clone(),
                received: Arc::clone(&self.received),
                payload_types: Arc::clone(&link.receive_video_types),
                estimate: link.estimate.clone(),
            },
            receivers: Arc::clone(&self.receivers),
        }
    }

    async fn perform(&self, link: &mut PeerLink, op: LinkOp) -> Option<OpResult> {
        let failed = |op: &'static str| move |e: String| OpResult::Failed { op, error: e };
        let settings = &self.context.settings;
        let result = match op {
            LinkOp::Open { .. } | LinkOp::Close => return None,
            LinkOp::Offer {
                generation,
                ice_restart,
                config,
            } => offer(link, config, ice_restart, settings)
                .await
                .map(|sdp| OpResult::LocalDescription { generation, sdp })
                .unwrap_or_else(failed("offer")),
            LinkOp::Rollback => match rollback(link).await {
                Ok(()) => return None,
                Err(e) => failed("rollback")(e),
            },
            LinkOp::Answer {
                generation,
                offer,
                config,
            } => answer(link, &offer, config, settings)
                .await
                .map(|sdp| OpResult::LocalDescription { generation, sdp })
                .unwrap_or_else(failed("answer")),
            LinkOp::AcceptAnswer { sdp } => match accept_answer(link, &sdp).await {
                Ok(()) => return None,
                Err(e) => failed("accept the answer")(e),
            },
            LinkOp::AddCandidates(candidates) => {
                for candidate in candidates {
                    if let Err(e) = link.pc.add_ice_candidate(to_stack(candidate)).await {
                        tracing::warn!(remote = %self.remote, "remote candidate rejected: {e}");
                    }
                }
                return None;
            }
            LinkOp::RefreshCodecs => {
                let mut outcomes = Vec::new();
                for (kind, track) in [("video", &link.video), ("audio", &link.audio)] {
                    let result = track.refresh_codec().await.map(|c| c.map(|c| c.describe()));
                    outcomes.push(CodecOutcome { kind, result });
                }
                OpResult::Codecs(outcomes)
            }
            LinkOp::StartMedia => {
                let encoded = &self.context.encoded;
                let video = crate::send::spawn_video_writer(link, encoded.clone(), self.context.fps);
                let audio = crate::send::spawn_audio_writer(link, encoded.audio.subscribe());
                let requests = crate::send::spawn_keyframe_request_listener(link, encoded.clone());
                link.tasks.extend([video, audio, requests]);
                return None;
            }
            LinkOp::ReadPath { purpose } => {
                let path = peer::current_path(&link.pc, &settings.bridges).await;
                if let Some(rtt_ms) = path.as_ref().and_then(|(_, rtt)| *rtt) {
                    link.estimate
                        .seed_rtt(Duration::from_secs_f64(rtt_ms.max(0.0) / 1000.0));
                }
                OpResult::Path { purpose, path }
            }
            LinkOp::CountPairs => OpResult::Pairs(peer::pair_counts(&link.pc).await),
            LinkOp::CheckLoss { purpose } => OpResult::CheckLoss {
                purpose,
                loss: peer::check_loss(&link.pc).await,
            },
        };
        Some(result)
    }
}

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

async fn use_servers(
    link: &PeerLink,
    config: Option<natter_ice::IceConfig>,
    settings: &LinkSettings,
) -> Result<(), String> {
    if let Some(config) = config {
        let configuration = crate::webrtc_setup::rtc_configuration(&config, settings.relay_only, &settings.bridges);
        link.pc.set_configuration(configuration).await.map_err(text)?;
    }
    Ok(())
}

async fn offer(
    link: &mut PeerLink,
    config: Option<natter_ice::IceConfig>,
    ice_restart: bool,
    settings: &LinkSettings,
) -> Result<String, String> {
    use_servers(link, config, settings).await?;
    let options = ice_restart.then_some(RTCOfferOptions { ice_restart: true });
    let offer = link.pc.create_offer(options).await.map_err(text)?;
    link.pc.set_local_description(offer.clone()).await.map_err(text)?;
    link.on_local_description(&offer.sdp);
    Ok(offer.sdp)
}

async fn accept_answer(link: &PeerLink, sdp: &str) -> Result<(), String> {
    let answer = RTCSessionDescription::answer(natter_ice::sdp::for_the_stack(sdp)).map_err(text)?;
    link.pc.set_remote_description(answer).await.map_err(text)
}

async fn rollback(link: &PeerLink) -> Result<(), String> {
    let rollback = RTCSessionDescription::rollback(None).map_err(text)?;
    link.pc.set_local_description(rollback).await.map_err(text)
}

async fn answer(
    link: &mut PeerLink,
    offer: &str,
    config: Option<natter_ice::IceConfig>,
    settings: &LinkSettings,
) -> Result<String, String> {
    let offer = RTCSessionDescription::offer(natter_ice::sdp::for_the_stack(offer)).map_err(text)?;
    use_servers(link, config, settings).await?;
    link.pc.set_remote_description(offer).await.map_err(text)?;
    let answer = link.pc.create_answer(None).await.map_err(text)?;
    link.pc.set_local_description(answer.clone()).await.map_err(text)?;
    link.on_local_description(&answer.sdp);
    Ok(answer.sdp)
}

fn to_stack(candidate: IceCandidate) -> RTCIceCandidateInit {
    RTCIceCandidateInit {
        candidate: candidate.candidate,
        sdp_mid: candidate.sdp_mid,
        sdp_mline_index: candidate.sdp_mline_index,
        username_fragment: candidate.username_fragment,
        ..Default::default()
    }
}

fn peer_state(state: RTCPeerConnectionState) -> Option<PeerState> {
    Some(match state {
        RTCPeerConnectionState::New => PeerState::New,
        RTCPeerConnectionState::Connecting => PeerState::Connecting,
        RTCPeerConnectionState::Connected => PeerState::Connected,
        RTCPeerConnectionState::Disconnected => PeerState::Disconnected,
        RTCPeerConnectionState::Failed => PeerState::Failed,
        RTCPeerConnectionState::Closed => PeerState::Closed,
        _ => return None,
    })
}

/// Turns the stack's callbacks into core inputs (tracks it handles itself: a receiver each).
struct StackForwarder {
    to_driver: mpsc::UnboundedSender<Tagged>,
    bridges: crate::bridge::Bridges,
    remote: String,
    epoch: u64,
    receive: ReceiveContext,
    receivers: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

async fn forward_events(forwarder: StackForwarder, mut events: mpsc::UnboundedReceiver<LinkEvent>) {
    while let Some(event) = events.recv().await {
        let event = match event {
            LinkEvent::LocalCandidate { candidate, .. } => {
                // A candidate of a TURN-over-TCP/TLS bridge names the bridge: the report names
                // the server as configured.
                let url = candidate.url.as_ref().filter(|u| !u.is_empty()).map(|url| {
                    forwarder
                        .bridges
                        .original_of(url)
                        .map(|(original, _)| original)
                        .unwrap_or_else(|| url.clone())
                });
                StackEvent::LocalCandidate {
                    candidate: IceCandidate {
                        candidate: candidate.candidate,
                        sdp_mid: candidate.sdp_mid,
                        sdp_mline_index: candidate.sdp_mline_index,
                        username_fragment: candidate.username_fragment,
                    },
                    url,
                }
            }
            LinkEvent::GatheringComplete { .. } => StackEvent::GatheringComplete,
            LinkEvent::IceConnected { .. } => StackEvent::IceConnected,
            LinkEvent::State { state, .. } => match peer_state(state) {
                Some(state) => StackEvent::State(state),
                None => continue,
            },
            LinkEvent::Track { track, .. } => {
                let task = tokio::spawn(receive_track(track, forwarder.receive.clone()));
                forwarder.receivers.locked().push(task);
                continue;
            }
        };
        let input = Input::Stack {
            remote: forwarder.remote.clone(),
            event,
        };
        let tagged = Tagged {
            remote: forwarder.remote.clone(),
            epoch: forwarder.epoch,
            what: FromLink::Input(input),
        };
        if forwarder.to_driver.send(tagged).is_err() {
            return;
        }
    }
}

/// What a receiver of one remote's tracks needs.
#[derive(Clone)]
struct ReceiveContext {
    remote: String,
    label: String,
    joined_at: Instant,
    view: Option<ViewSink>,
    playout: Option<Arc<crate::playout::AudioPlayout>>,
    received: Arc<Received>,
    /// Video codecs by the payload types of our own description.
    payload_types: Arc<Mutex<HashMap<u8, VideoCodec>>>,
    /// The link's estimate: its round trip paces the jitter buffer and keyframe requests.
    estimate: crate::bwe::LinkEstimate,
}

async fn receive_track(track: Arc<dyn TrackRemote>, context: ReceiveContext) {
    if track.kind().await == RtpCodecKind::Video {
        return receive_video(track, context).await;
    }
    while let Some(event) = track.poll().await {
        if let TrackRemoteEvent::OnRtpPacket(packet) = event {
            context.received.audio_packets.fetch_add(1, Ordering::Relaxed);
            if let Some(playout) = &context.playout {
                let header = &packet.header;
                playout.push(
                    &context.remote,
                    header.sequence_number,
                    header.timestamp,
                    packet.payload.to_vec(),
                );
            }
        }
    }
}

/// RTP → access units (here) → decode + stamp check (on a decoder thread, off the async runtime).
async fn receive_video(track: Arc<dyn TrackRemote>, context: ReceiveContext) {
    let ReceiveContext {
        remote,
        label,
        joined_at,
        view,
        received,
        payload_types,
        estimate,
        ..
    } = context;
    let (frame_tx, frame_rx) = std::sync::mpsc::sync_channel::<(VideoCodec, bytes::Bytes)>(30);
    let needs_keyframe = Arc::new(AtomicBool::new(true));
    let decoder = {
        let (remote, received, needs_keyframe) = (remote.clone(), Arc::clone(&received), Arc::clone(&needs_keyframe));
        std::thread::Builder::new()
            .name(format!("decode-{remote}"))
            .spawn(move || {
                let target = media::DecodeTarget {
                    remote: &remote,
                    label: &label,
                    stats: &received.video,
                    joined_at,
                    view: view.as_ref(),
                    needs_keyframe: &needs_keyframe,
                };
                media::decode_loop(frame_rx, target)
            })
    };
    if let Err(e) = decoder {
        tracing::error!(remote, "could not start a decoder thread: {e}");
        return;
    }
    // The assembler follows the payload type of what arrives (a renegotiation may change it).
    let mut assembler: Option<(u8, VideoCodec, VideoAssembler)> = None;
    let mut pli = PliPacer::new(crate::keyframe::PLI_REPEAT_UNKNOWN_RTT);
    // Packets back in order, gaps waited for about a retransmission round trip (see `reorder`).
    let mut reorder: ReorderBuffer<rtc::rtp::Packet> = ReorderBuffer::new();
    let mut media_ssrc = None;
    let mut rtt_read_at = Instant::now();
    loop {
        // `None`: the reorder buffer's deadline passed with nothing new (a gap to give up on).
        let polled = match reorder.deadline() {
            Some(deadline) => tokio::time::timeout_at(deadline.into(), track.poll()).await.ok(),
            None => Some(track.poll().await),
        };
        let now = Instant::now();
        if let Some(event) = polled {
            let Some(event) = event else { break };
            if let TrackRemoteEvent::OnRtpPacket(packet) = event {
                media_ssrc = Some(packet.header.ssrc);
                reorder.push(packet.header.sequence_number, packet, now);
            }
        }
        if now.duration_since(rtt_read_at) > Duration::from_secs(1) {
            rtt_read_at = now;
            if let Some(rtt) = estimate.get().rtt {
                reorder.set_round_trip(rtt);
                pli.set_round_trip(rtt);
            }
        }
        received.video.locked().reorder = reorder.stats();
        while let Some(released) = reorder.pop(now) {
            let Released::Packet(packet) = released else { continue };
            let pt = packet.header.payload_type;
            if assembler.as_ref().is_none_or(|(current, _, _)| *current != pt) {
                let known = payload_types.locked().get(&pt).copied();
                let Some((codec, frames)) = known.and_then(|c| Some((c, VideoAssembler::for_mime(c.mime())?))) else {
                    tracing::debug!(remote, pt, "video with a payload type we did not agree on; ignored");
                    continue;
                };
                tracing::info!(remote, pt, %codec, "receiving video");
                assembler = Some((pt, codec, frames));
                needs_keyframe.store(true, Ordering::Relaxed);
            }
            let (_, codec, frames) = assembler.as_mut().expect("set above");
            let header = &packet.header;
            match frames.push(header.sequence_number, header.timestamp, header.marker, &packet.payload) {
                Assembled::Frame(frame) => {
                    received.video.locked().on_received();
                    if frame_tx.try_send((*codec, frame)).is_err() {
                        tracing::debug!(remote, "decoder is behind; dropping a frame");
                        // What follows depends on the dropped frame: wait for the next keyframe.
                        frames.skip_to_keyframe();
                        needs_keyframe.store(true, Ordering::Relaxed);
                    }
                }
                Assembled::Lost => needs_keyframe.store(true, Ordering::Relaxed),
                Assembled::Pending => {}
            }
        }
        if let Some(media_ssrc) = media_ssrc
            && pli.poll(needs_keyframe.load(Ordering::Relaxed), now)
        {
            let request = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc,
            };
            if let Err(e) = track.write_rtcp(vec![Box::new(request)]).await {
                tracing::debug!(remote, "could not send a keyframe request: {e}");
            }
        }
    }
}

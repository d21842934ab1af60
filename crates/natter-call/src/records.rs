//! What a participant's report is made of while it runs: the core's record of each call
//! (published by the driver after every change), what the media plane counted, and the live
//! connection whose stats a report reads afresh. Shared between the driver (writes) and
//! `Participant::snapshot` (reads); the locks are held only to copy.

use crate::call_core::{CallRecord, MediaSample};
use crate::link_task::Received;
use crate::peer::{self, Outgoing};
use crate::report::{CandidateType, PeerReport, PeerState, SignalingReport, VideoReport};
use crate::sync::Locked;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use webrtc::peer_connection::PeerConnection;

/// Said of a path whose remote end was learned from its checks because its candidates hid the
/// address behind an mDNS name this machine could not resolve.
const MDNS_NOTE: &str = "the remote hides its local addresses behind mDNS names (….local) that could not be resolved here; its address was learned from its connectivity checks (prflx)";

#[derive(Default)]
pub struct Records {
    peers: Mutex<BTreeMap<String, PeerEntry>>,
    /// STUN/TURN URLs that produced at least one local candidate.
    pub gathered_from: Mutex<BTreeSet<String>>,
    pub signaling: Mutex<SignalingReport>,
    /// Why the driver stopped, if it panicked.
    pub crashed: Mutex<Option<String>>,
}

struct PeerEntry {
    call: CallRecord,
    received: Arc<Received>,
    /// The connection, while the call lasts.
    pc: Option<Arc<dyn PeerConnection>>,
    /// Our streams to it and its reports about them (while the call lasts, like `pc`).
    outgoing: Option<Outgoing>,
    /// What we sent a departed remote, as at the end (`sent`, `quality_*`).
    sent_at_end: Option<PeerReport>,
    /// What arrived from it by the connection's stats when they were last read: a report taken
    /// after the remote left (the connection is gone) or while the stack is slow to answer
    /// says these, not zeros beside the frames that were decoded.
    inbound: Option<peer::InboundTotals>,
}

impl PeerEntry {
    fn new(remote: &str, received: Arc<Received>) -> PeerEntry {
        PeerEntry {
            call: CallRecord {
                remote: remote.to_string(),
                remote_name: remote.to_string(),
                ..Default::default()
            },
            received,
            pc: None,
            outgoing: None,
            sent_at_end: None,
            inbound: None,
        }
    }
}

impl Records {
    /// A link to `remote` is being opened (anew, if the remote came back): fresh counters.
    pub fn opening(&self, remote: &str, received: Arc<Received>) {
        let mut peers = self.peers.locked();
        let entry = peers
            .entry(remote.to_string())
            .or_insert_with(|| PeerEntry::new(remote, Arc::clone(&received)));
        entry.received = received;
        entry.sent_at_end = None;
        entry.inbound = None;
    }

    /// The link's connection exists.
    pub fn opened(&self, remote: &str, pc: Arc<dyn PeerConnection>, outgoing: Outgoing) {
        if let Some(entry) = self.peers.locked().get_mut(remote) {
            entry.pc = Some(pc);
            entry.outgoing = Some(outgoing);
        }
    }

    pub fn set_call(&self, record: CallRecord) {
        let mut peers = self.peers.locked();
        let entry = peers
            .entry(record.remote.clone())
            .or_insert_with(|| PeerEntry::new(&record.remote, Arc::default()));
        entry.call = record;
    }

    /// `remote`'s call is over: drop its connection, keep what we sent it as at the end
    /// (`encode_load`: see `EncodedStreams::encode_load`).
    pub fn departed(&self, remote: &str, encode_load: f64) {
        if let Some(entry) = self.peers.locked().get_mut(remote) {
            entry.pc = None;
            if let Some(outgoing) = entry.outgoing.take() {
                let mut at_end = PeerReport::new(remote, &entry.call.remote_name);
                outgoing.fill(&mut at_end, encode_load);
                entry.sent_at_end = Some(at_end);
            }
        }
    }

    pub fn forget(&self, remote: &str) {
        self.peers.locked().remove(remote);
    }

    /// Every connection still open (to close them when leaving).
    pub fn open_connections(&self) -> Vec<(String, Arc<dyn PeerConnection>)> {
        let peers = self.peers.locked();
        peers
            .iter()
            .filter_map(|(remote, entry)| Some((remote.clone(), Arc::clone(entry.pc.as_ref()?))))
            .collect()
    }

    /// What each of `remotes` sent us so far, for the core's media watch.
    pub fn media_samples(&self, remotes: &[String], joined_at: Instant) -> Vec<(String, MediaSample)> {
        let now_ms = joined_at.elapsed().as_secs_f64() * 1000.0;
        let peers = self.peers.locked();
        remotes
            .iter()
            .filter_map(|remote| {
                let received = &peers.get(remote)?.received;
                let video = received.video.locked();
                let sample = MediaSample {
                    received: received.audio_packets.load(Ordering::Relaxed) + video.frames_received,
                    ongoing_freeze: video.ongoing_freeze(now_ms),
                };
                Some((remote.clone(), sample))
            })
            .collect()
    }

    /// Every remote's report now: the call's record, what arrived, and the path and stream
    /// statistics read afresh from the live connection.
    pub async fn peer_reports(
        &self,
        joined_at: Instant,
        encoded: &crate::media::EncodedStreams,
        playout: Option<&crate::playout::AudioPlayout>,
        bridges: &crate::bridge::Bridges,
    ) -> Vec<PeerReport> {
        type Entry = (
            CallRecord,
            Arc<Received>,
            Option<Arc<dyn PeerConnection>>,
            Option<Outgoing>,
            Option<PeerReport>,
            Option<peer::InboundTotals>,
        );
        let entries: Vec<Entry> = {
            let peers = self.peers.locked();
            peers
                .values()
                .map(|p| {
                    let at_end = p.sent_at_end.clone();
                    (
                        p.call.clone(),
                        Arc::clone(&p.received),
                        p.pc.clone(),
                        p.outgoing.clone(),
                        at_end,
                        p.inbound,
                    )
                })
                .collect()
        };
        let mut reports = Vec::new();
        for (call, received, pc, outgoing, sent_at_end, last_inbound) in entries {
            let stats = match pc {
                Some(pc) => peer::current_stats(&pc, bridges).await,
                None => None,
            };
            let video = received.video.locked().clone();
            let mut report = PeerReport {
                remote: call.remote,
                remote_name: call.remote_name,
                state: call.state,
                connect_ms: call.connect_ms,
                first_frame_ms: video.first_shown_ms,
                last_frame_ms: video.last_shown_ms,
                path: call.path,
                rtt_ms: call.rtt_ms,
                left_ms: call.left_ms,
                events: call.events,
                remote_audio_muted: call.remote_audio_muted,
                remote_video_muted: call.remote_video_muted,
                remote_mdns_candidates: call.remote_mdns_candidates,
                ..Default::default()
            };
            let mut inbound = last_inbound;
            if let Some((path, fresh)) = stats {
                if let Some((mut path, rtt)) = path {
                    if path.remote_candidate == CandidateType::Prflx && report.remote_mdns_candidates {
                        path.note = Some(MDNS_NOTE.into());
                    }
                    report.path = Some(path);
                    report.rtt_ms = rtt.or(report.rtt_ms);
                }
                inbound = Some(fresh);
                if let Some(entry) = self.peers.locked().get_mut(&report.remote) {
                    entry.inbound = Some(fresh);
                }
            }
            if let Some(inbound) = inbound {
                report.bytes_received = inbound.bytes_received;
                report.packets_received = inbound.packets_received;
                report.packets_lost = inbound.packets_lost;
                report.jitter_ms = inbound.jitter_ms;
            }
            let now_ms = joined_at.elapsed().as_secs_f64() * 1000.0;
            // Only a stall on a connection that is up and whose sender is sending counts now.
            let sending =
                report.state == PeerState::Connected && !report.remote_video_muted && report.left_ms.is_none();
            let (freeze_count, longest_freeze_ms, freezes) = if sending {
                video.freezes_at(now_ms)
            } else {
                (video.freeze_count, video.longest_freeze_ms, video.freezes.clone())
            };
            report.video = VideoReport {
                frames_received: video.frames_received,
                frames_decoded: video.frames_decoded,
                frames_lost: video.frames_lost,
                frames_unreadable: video.unreadable,
                latency_ms_p50: video.latency_percentile(50.0),
                latency_ms_p95: video.latency_percentile(95.0),
                freeze_count,
                longest_freeze_ms,
                freezes,
                packets_reordered: video.reorder.reordered,
                packets_given_up: video.reorder.given_up,
            };
            report.audio.packets_received = received.audio_packets.load(Ordering::Relaxed);
            if let Some(outgoing) = outgoing {
                outgoing.fill(&mut report, encoded.encode_load());
            } else if let Some(at_end) = sent_at_end {
                report.sent = at_end.sent;
                report.quality_limitation = at_end.quality_limitation;
                report.quality_note = at_end.quality_note;
            }
            report.audio.playout = playout.and_then(|p| p.report(&report.remote));
            reports.push(report);
        }
        reports
    }
}

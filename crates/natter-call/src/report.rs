//! The JSON report of `natter headless --report FILE`. Field names are a contract other tools
//! rely on (see the README): add fields freely, never rename. No credentials ever appear here.

use serde::Serialize;
use ts_rs::TS;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Every expected pair connected and decoded media both ways.
    pub ok: bool,
    /// One line: why `ok` is false (absent when ok).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub room: String,
    pub duration_s: f64,
    pub relay_only: bool,
    pub participants: Vec<ParticipantReport>,
    pub servers: Vec<ServerReport>,
    /// Every change of a server's status seen during the call (first results included).
    pub health_events: Vec<natter_ice::monitor::HealthTransition>,
}

#[derive(Debug, Clone, Default, Serialize, TS)]
pub struct ParticipantReport {
    pub id: String,
    pub name: String,
    pub peers: Vec<PeerReport>,
    /// Frames this participant encoded and sent.
    pub frames_sent: u64,
    /// What this participant sends from: its camera and microphone, and why one is missing.
    #[serde(default)]
    pub local_media: LocalMediaReport,
    /// Its connection to the signaling server: drops and returns (calls go on without it).
    #[serde(default)]
    pub signaling: SignalingReport,
    /// Set if this participant's call engine stopped on an internal error (a bug): what it was.
    /// Its calls were ended and the others saw it leave; other participants went on.
    pub crashed: Option<String>,
}

/// A participant's signaling connection. Calls in progress do not need it; new participants,
/// ICE restarts and microphone/camera notices do.
#[derive(Debug, Clone, Default, Serialize, TS)]
pub struct SignalingReport {
    /// "connected" | "reconnecting" | "refused" (the server refused the rejoin: see `events`).
    pub state: SignalingState,
    /// Times the connection came back after a drop.
    pub reconnects: u32,
    /// `lost` / `reconnected` / `refused`, in words, with the time since joining.
    pub events: Vec<PeerEvent>,
}

/// This participant's own camera and microphone.
#[derive(Debug, Clone, Default, Serialize, TS)]
pub struct LocalMediaReport {
    pub camera: LocalSourceReport,
    pub microphone: LocalSourceReport,
}

/// One local source (camera or microphone) as the user should understand it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, TS)]
pub struct LocalSourceReport {
    /// What is captured from ("Integrated Camera", "test pattern (synthetic camera)"); absent
    /// when no device is open.
    pub device: Option<String>,
    /// Is this medium going out right now (a device is open and the user has not turned it off)?
    pub sending: bool,
    /// The user turned it off.
    pub off: bool,
    /// Why there is no device: "no device" | "busy" | "permission denied" | "failed" | "lost".
    pub problem: Option<String>,
    /// The last thing the user was told about it, in a sentence.
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, TS)]
pub struct PeerReport {
    pub remote: String,
    pub remote_name: String,
    /// W3C RTCPeerConnectionState: "new" | "connecting" | "connected" | "disconnected" | "failed" | "closed".
    pub state: PeerState,
    /// join → ICE + DTLS connected.
    pub connect_ms: Option<f64>,
    /// join → first decoded remote frame.
    pub first_frame_ms: Option<f64>,
    pub path: Option<PathReport>,
    pub video: VideoReport,
    pub audio: AudioReport,
    pub rtt_ms: Option<f64>,
    /// join → the remote left the room (its connection is then closed; `state` is the last
    /// state before it left). Absent while the remote is in the call.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub left_ms: Option<f64>,
    /// join → the most recent decoded frame from this remote.
    pub last_frame_ms: Option<f64>,
    /// What happened to this connection, in order (connected, disconnected, ice_restart, …).
    pub events: Vec<PeerEvent>,
    /// RTP bytes received from this remote (audio + video), from the stack's stats.
    #[serde(default)]
    pub bytes_received: u64,
    /// RTP packets received from this remote (audio + video).
    #[serde(default)]
    pub packets_received: u64,
    /// RTP packets the stack counts as lost (RFC 3550 cumulative loss; may go negative with duplicates).
    #[serde(default)]
    pub packets_lost: i64,
    /// Interarrival jitter (largest of the remote's streams), milliseconds.
    pub jitter_ms: Option<f64>,
    /// The remote turned its microphone / camera off (as it told us through signaling).
    #[serde(default)]
    pub remote_audio_muted: bool,
    #[serde(default)]
    pub remote_video_muted: bool,
    /// What we sent this remote and what it says it received (its RTCP reports).
    #[serde(default)]
    pub sent: SentReport,
    /// Why our video to this remote is below its best (W3C `qualityLimitationReason`):
    /// "bandwidth" (the path carries less: a smaller picture or fewer bits) | "cpu" (encoding takes
    /// most of each frame interval: frames are skipped) | "none".
    #[serde(default)]
    pub quality_limitation: String,
    /// The same for the user, e.g. "Your connection to Bob carries about 300 kbit/s: video
    /// reduced to 320×180". Absent when nothing is limited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub quality_note: Option<String>,
    /// The remote offered host candidates under mDNS names (`….local`), as browsers do.
    #[serde(skip)]
    #[ts(skip)]
    pub remote_mdns_candidates: bool,
}

/// Our streams to one remote, as the remote reports receiving them (W3C `remote-inbound-rtp`).
#[derive(Debug, Clone, Default, Serialize, TS)]
pub struct SentReport {
    pub video: SentStreamReport,
    pub audio: SentStreamReport,
}

/// One of our outgoing streams.
#[derive(Debug, Clone, Default, Serialize, TS)]
pub struct SentStreamReport {
    /// Codec and payload type negotiated for it ("H264/90000 as payload type 108"); absent
    /// until negotiated, or when nothing we can send was agreed.
    pub codec: Option<String>,
    /// RTP packets we sent.
    pub packets_sent: u64,
    /// Reception reports the remote sent about this stream.
    pub reports: u64,
    /// What the remote's last report says it received, lost (cumulative) and the fraction lost
    /// since its previous report (0–1).
    pub remote_packets_received: u64,
    pub remote_packets_lost: i64,
    pub remote_fraction_lost: f64,
    pub remote_jitter_ms: f64,
    /// Round-trip time from the report's LSR/DLSR.
    pub rtt_ms: Option<f64>,
    /// Video only: what the path carries by our bandwidth estimate (absent without congestion
    /// control, e.g. `--stack-defaults`), kbit/s.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub target_kbps: Option<f64>,
    /// Video only: what we sent over the last second, kbit/s (media, no retransmissions).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub bitrate_kbps: Option<f64>,
    /// Video only: the picture size sent now ("640x360"; a lower simulcast layer when the path
    /// carries less).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub resolution: Option<String>,
    /// Video only: every change of the size sent (the first picture included), oldest first.
    #[serde(default)]
    pub resolution_changes: Vec<ResolutionChange>,
    /// Video only: pictures this link was to carry since its first frame went out (written, or
    /// skipped while the writer waited for a keyframe); the remote's decoded frames over this is
    /// what the link delivered, set-up left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub frames_sent: Option<u64>,
    /// Video only: NACKed packets we resent (RTX), and requests our bound on resends declined
    /// (repeats within a round trip, or beyond 10 % of the estimate).
    #[serde(default)]
    pub retransmitted_packets: u64,
    #[serde(default)]
    pub retransmissions_withheld: u64,
}

/// The picture size we sent changed at `at_ms` (ms since joining).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, TS)]
pub struct ResolutionChange {
    pub at_ms: f64,
    pub width: u32,
    pub height: u32,
}

/// One thing that happened to a connection.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct PeerEvent {
    /// join → the event.
    pub at_ms: f64,
    pub kind: EventKind,
    /// Plain words for the user.
    pub detail: String,
}

impl PeerReport {
    pub fn new(remote: &str, remote_name: &str) -> Self {
        PeerReport {
            remote: remote.into(),
            remote_name: remote_name.into(),
            state: PeerState::New,
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, TS, PartialEq)]
pub struct PathReport {
    /// "host" | "srflx" | "prflx" | "relay"
    pub local_candidate: CandidateType,
    pub remote_candidate: CandidateType,
    /// "udp" | "tcp" (between us and the next hop)
    pub protocol: String,
    /// The TURN URL of the relay in use, if any.
    pub relay_server: Option<String>,
    /// "udp" | "tcp" | "tls": how we reach that TURN server.
    pub relay_transport: Option<String>,
    /// Why the path looks as it does, when that is not obvious: e.g. the remote hid its host
    /// addresses behind mDNS names we could not resolve, so its address was learned from its
    /// connectivity checks (`prflx`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, TS)]
pub struct VideoReport {
    pub frames_received: u64,
    pub frames_decoded: u64,
    pub frames_lost: u64,
    /// Decoded frames without a readable stamp: 0 from a synthetic sender (else damage), every
    /// frame from a real camera (which is not stamped).
    pub frames_unreadable: u64,
    pub latency_ms_p50: Option<f64>,
    pub latency_ms_p95: Option<f64>,
    /// Gaps of more than 200 ms between new pictures (stalled video, or a sender that turned its
    /// camera off), counted since joining, with the one going on when the report was taken (on a
    /// connection that is up, from a sender whose camera is on).
    pub freeze_count: u64,
    #[ts(optional)]
    pub longest_freeze_ms: Option<f64>,
    /// The most recent freezes (at most 32), oldest first.
    pub freezes: Vec<Freeze>,
    /// Packets the jitter buffer put back in order (they arrived after a later one), and packets
    /// it stopped waiting for (lost even after resends; the frame they belonged to was lost).
    #[serde(default)]
    pub packets_reordered: u64,
    #[serde(default)]
    pub packets_given_up: u64,
}

/// Video stood still from `from_ms` to `to_ms` (ms since joining): the last picture before the
/// gap and the first one after it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, TS)]
pub struct Freeze {
    pub from_ms: f64,
    pub to_ms: f64,
}

impl Freeze {
    pub fn duration_ms(&self) -> f64 {
        self.to_ms - self.from_ms
    }
}

#[derive(Debug, Clone, Default, Serialize, TS)]
pub struct AudioReport {
    pub packets_received: u64,
    /// When this participant plays the remote's audio (`--speaker`): its jitter buffer.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub playout: Option<PlayoutReport>,
}

/// The jitter buffer of one remote's audio, as played.
#[derive(Debug, Clone, Default, Serialize, TS, PartialEq)]
pub struct PlayoutReport {
    /// Frames played as received.
    pub played: u64,
    /// Frames filled by packet-loss concealment (missing or not yet arrived).
    pub concealed: u64,
    /// Frames lost in transit and rebuilt from the next packet's redundant copy (Opus in-band
    /// FEC): heard as received, so not counted in `concealed`.
    pub recovered: u64,
    /// Packets that arrived after their turn (dropped).
    pub late: u64,
    pub duplicates: u64,
    /// Frames dropped to keep the delay down (sender clock faster than ours).
    pub dropped_for_drift: u64,
    /// Audio buffered when the report was taken, and the delay the buffer aims for.
    pub depth_ms: f64,
    pub target_ms: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ServerReport {
    pub url: String,
    /// "udp" | "tcp" | "tls": the transport this entry probed.
    pub transport: Option<natter_ice::probe::ProbeTransport>,
    /// The prober's verdict: "ok", "auth_failed", "unreachable", "timeout", "protocol_error",
    /// "tls_failed", "forbidden", "quota", "capacity", … (see `natter_ice::probe::ProbeStatus`).
    pub status: String,
    pub rtt_ms: Option<f64>,
    /// What went wrong, in plain words (no credentials).
    pub error: Option<String>,
    pub mapped_address: Option<std::net::SocketAddr>,
    pub relayed_address: Option<std::net::SocketAddr>,
    /// What the calls made of this server: "used" (a selected path relays through it),
    /// "gathered" (candidates came from it, unused), "none".
    pub candidates: String,
}

/// Words of the report that are one of a fixed set: an enum that serializes to exactly that word,
/// compares with it (`state == "connected"`, for tools and tests that read the words) and prints it.
macro_rules! report_words {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $word:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, TS)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $word)] $variant,)+
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, word: &&str) -> bool {
                self.as_str() == *word
            }
        }
    };
}

pub(crate) use report_words;

report_words! {
    /// A peer connection's state, in the W3C `RTCPeerConnectionState` words.
    PeerState {
        #[default]
        New = "new",
        Connecting = "connecting",
        Connected = "connected",
        Disconnected = "disconnected",
        Failed = "failed",
        Closed = "closed",
    }
}

report_words! {
    /// What happened to a connection (or to the signaling connection).
    EventKind {
        /// The connection came up (its path in words).
        #[default]
        Connected = "connected",
        /// It came back on another path after a break.
        Recovered = "recovered",
        /// The path stopped carrying media, or ICE lost it.
        Disconnected = "disconnected",
        /// No path works (why, in words).
        Failed = "failed",
        /// An ICE restart started (which servers it uses, which it left out).
        IceRestart = "ice_restart",
        /// The call was refused: nothing an ICE restart can fix.
        Refused = "refused",
        /// The restarts ran out.
        GaveUp = "gave_up",
        /// What we send with, or why a medium cannot be sent.
        Codec = "codec",
        /// A new session description that failed our check was ignored (the call goes on).
        Ignored = "ignored",
        /// The remote's picture stands still although the connection is up …
        VideoStalled = "video_stalled",
        /// … and moves again.
        VideoResumed = "video_resumed",
        /// The signaling connection dropped …
        Lost = "lost",
        /// … and came back.
        Reconnected = "reconnected",
    }
}

report_words! {
    /// What kind of address an end of a path is (RFC 8445 candidate types).
    CandidateType {
        /// An address of the machine itself.
        #[default]
        Host = "host",
        /// Our address as a STUN server saw it (behind a NAT).
        Srflx = "srflx",
        /// An address learned from the other side's checks.
        Prflx = "prflx",
        /// An address on a TURN relay.
        Relay = "relay",
        /// A type the stack names otherwise.
        Unknown = "unknown",
    }
}

impl CandidateType {
    /// The type for the stack's word for it.
    pub fn from_word(word: &str) -> CandidateType {
        match word {
            "host" => CandidateType::Host,
            "srflx" => CandidateType::Srflx,
            "prflx" => CandidateType::Prflx,
            "relay" => CandidateType::Relay,
            _ => CandidateType::Unknown,
        }
    }
}

report_words! {
    /// The signaling connection: up, being joined again after a drop, or refused for good.
    SignalingState {
        #[default]
        Connected = "connected",
        Reconnecting = "reconnecting",
        Refused = "refused",
    }
}

/// TypeScript declarations of the report types the desktop UI receives (live stats).
pub fn typescript_declarations(cfg: &ts_rs::Config) -> Vec<String> {
    vec![
        ParticipantReport::decl(cfg),
        LocalMediaReport::decl(cfg),
        LocalSourceReport::decl(cfg),
        SignalingReport::decl(cfg),
        PeerReport::decl(cfg),
        PeerEvent::decl(cfg),
        PeerState::decl(cfg),
        EventKind::decl(cfg),
        SignalingState::decl(cfg),
        Freeze::decl(cfg),
        PathReport::decl(cfg),
        CandidateType::decl(cfg),
        VideoReport::decl(cfg),
        SentReport::decl(cfg),
        SentStreamReport::decl(cfg),
        ResolutionChange::decl(cfg),
        AudioReport::decl(cfg),
        PlayoutReport::decl(cfg),
        crate::health::ServerHealth::decl(cfg),
        natter_ice::probe::ProbeResult::decl(cfg),
        natter_ice::probe::ProbeStatus::decl(cfg),
        natter_ice::probe::ProbeTransport::decl(cfg),
        natter_ice::monitor::HealthTransition::decl(cfg),
    ]
}

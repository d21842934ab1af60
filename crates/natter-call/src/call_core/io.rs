//! What goes into the core and what comes out of it: the typed seam between the decisions
//! (`CallCore`) and the I/O that the driver (`participant`) performs.

use crate::codecs::VideoCodec;
use crate::diagnosis::PairCounts;
use crate::report::{Freeze, PathReport, PeerState, SignalingReport};
use crate::view::ViewEvent;
use natter_signal::protocol::{ClientMessage, IceCandidate, ServerMessage, Welcome};

/// Something that happened, fed to [`super::CallCore::handle_input`] with the time it was seen.
#[derive(Debug)]
pub enum Input {
    /// The deadline of [`super::CallCore::poll_timeout`] passed: act on every timer due.
    Timeout,
    /// A message from the signaling server.
    Server(ServerMessage),
    /// The signaling connection ended without our `leave` (server stopped, network dropped).
    SignalingLost,
    /// A rejoin attempt ([`Output::Rejoin`]) failed; `refused`: the server said no for good (why).
    RejoinFailed { refused: Option<String> },
    /// A rejoin attempt worked: signaling is back (the driver already uses the new connection).
    SignalingBack(Welcome),
    /// The peer connection to `remote` told us something.
    Stack { remote: String, event: StackEvent },
    /// An operation asked of `remote`'s link ([`Output::Link`]) or for it finished.
    Done { remote: String, result: OpResult },
    /// The application asks.
    Command(Command),
    /// Our microphone / camera are now off (`true`) or on (after a command or a device change):
    /// the others are told.
    LocalMedia { audio_muted: bool, video_muted: bool },
    /// What each link received so far, asked for by [`Output::SampleMedia`].
    MediaSamples(Vec<(String, MediaSample)>),
    /// New ICE servers are in place ([`Output::UseIceServers`] done): connections move to them.
    IceServersApplied,
}

/// What a peer connection reports on its own.
#[derive(Debug, Clone, PartialEq)]
pub enum StackEvent {
    /// A local candidate (`url`: the STUN/TURN server it came from, as configured); an empty
    /// `candidate.candidate` is end-of-candidates from the stack.
    LocalCandidate {
        candidate: IceCandidate,
        url: Option<String>,
    },
    /// We have offered every candidate we will find (this round).
    GatheringComplete,
    /// ICE found a working path (the DTLS handshake comes next).
    IceConnected,
    /// The connection's state changed.
    State(PeerState),
}

/// The result of an operation the driver ran for a link.
#[derive(Debug, Clone)]
pub enum OpResult {
    /// [`LinkOp::Open`] failed: there is no connection (why).
    OpenFailed(String),
    /// Our description for negotiation `generation` is set on the stack: send it.
    LocalDescription { generation: u64, sdp: String },
    /// An operation failed (which, why); the link stays as it is.
    Failed { op: &'static str, error: String },
    /// What each sender uses after a negotiation ([`LinkOp::RefreshCodecs`]).
    Codecs(Vec<CodecOutcome>),
    /// The path in use and its RTT ([`LinkOp::ReadPath`]); `None`: no pair selected, or the stack
    /// did not answer in time.
    Path {
        purpose: PathFor,
        path: Option<(PathReport, Option<f64>)>,
    },
    /// Candidate pairs ([`LinkOp::CountPairs`]); `None`: the stack did not answer in time.
    Pairs(Option<PairCounts>),
    /// The share of our connectivity checks that went unanswered ([`LinkOp::CheckLoss`]).
    CheckLoss { purpose: LossFor, loss: Option<f64> },
    /// The servers that work now ([`Output::FetchWorkingConfig`]), and those left out (why).
    WorkingConfig {
        purpose: ConfigFor,
        config: natter_ice::IceConfig,
        dropped: Vec<String>,
    },
}

/// One sender's codec after a negotiation.
#[derive(Debug, Clone, PartialEq)]
pub struct CodecOutcome {
    /// "audio" | "video"
    pub kind: &'static str,
    /// `Ok(Some(codec in words))` changed, `Ok(None)` unchanged, `Err(why)` nothing we can send.
    pub result: Result<Option<String>, String>,
}

/// What a path read is for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PathFor {
    /// The connection came up at `at_ms` (after a restart: it recovered).
    Connected { at_ms: f64, was_restarting: bool },
    /// The remote left: the record keeps the last path.
    Left,
}

/// What a loss reading decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossFor {
    /// The connection failed after ICE found a path: the refusal's words.
    FailedHandshake,
    /// ICE found a path long ago and DTLS is still not done.
    StuckHandshake,
}

/// What the working configuration is fetched for.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigFor {
    /// Our ICE restart (why, for the event).
    Restart { why: String },
    /// The remote restarts ICE: answer its offer with our side gathered anew.
    AnswerRestart,
}

/// What arrived from one remote so far (audio packets + video frames) and the freeze going on
/// now, if its picture stands still.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MediaSample {
    pub received: u64,
    pub ongoing_freeze: Option<Freeze>,
}

/// Requests from the application to a running participant.
#[derive(Debug)]
pub enum Command {
    /// Replace the ICE servers: every connection restarts onto them.
    SetIceConfig(natter_ice::IceConfig),
}

/// Something the driver must do, in order, from [`super::CallCore::poll_output`].
#[derive(Debug)]
pub enum Output {
    /// Send on the signaling connection.
    Signal(ClientMessage),
    /// Run `op` on the link to `remote`. Operations on one link run in the order given, on that
    /// link's own task; their results come back as [`Input::Done`].
    Link { remote: String, op: LinkOp },
    /// Which servers work now, for `remote` ([`OpResult::WorkingConfig`]); may probe for seconds.
    FetchWorkingConfig { remote: String, purpose: ConfigFor },
    /// New ICE servers: the driver makes them the base of every later configuration, then feeds
    /// [`Input::IceServersApplied`].
    UseIceServers(natter_ice::IceConfig),
    /// Try to join signaling again (same rejoin key): [`Input::SignalingBack`] or
    /// [`Input::RejoinFailed`].
    Rejoin,
    /// Ask what each of these links received so far ([`Input::MediaSamples`], at once).
    SampleMedia(Vec<String>),
    /// Our encoders send a keyframe now (a new path, a new receiver).
    RequestKeyframe,
    /// A TURN server stopped carrying a call: no other connection should restart onto it.
    ServerFailed { url: String, cause: String },
    /// Tell the window.
    View(ViewEvent),
    /// The remote's record changed (the report shows it).
    Record(CallRecord),
    /// The signaling record changed.
    Signaling(SignalingReport),
    /// `remote` is gone: its connection is closed, its record final (the media plane lets go).
    Departed { remote: String },
    /// `remote`'s record is no longer kept (too many departed).
    Forget { remote: String },
    /// A STUN/TURN server produced one of our candidates (URL as configured).
    GatheredFrom(String),
}

/// An operation on one link's peer connection.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkOp {
    /// Open the connection (`video_preference`: codecs to put first, the remote's order when it
    /// offered). Failure: [`OpResult::OpenFailed`].
    Open {
        video_preference: Vec<VideoCodec>,
    },
    /// Create an offer and set it as our description (`config`: new servers first; an ICE
    /// restart when `ice_restart`).
    Offer {
        generation: u64,
        ice_restart: bool,
        config: Option<natter_ice::IceConfig>,
    },
    /// Withdraw our offer (a collision we yield).
    Rollback,
    /// Set the remote's offer, create our answer, set it (`config`: new servers first).
    Answer {
        generation: u64,
        offer: String,
        config: Option<natter_ice::IceConfig>,
    },
    /// Set the remote's answer to our offer.
    AcceptAnswer {
        sdp: String,
    },
    /// Give the stack the remote's candidates.
    AddCandidates(Vec<IceCandidate>),
    /// Read what each sender uses after a negotiation.
    RefreshCodecs,
    /// Start sending and receiving media (the first time the link connects).
    StartMedia,
    ReadPath {
        purpose: PathFor,
    },
    CountPairs,
    CheckLoss {
        purpose: LossFor,
    },
    /// Close the connection (the last operation of a link).
    Close,
}

/// What the core knows about the call with one remote: the report shows it as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallRecord {
    pub remote: String,
    pub remote_name: String,
    pub state: PeerState,
    pub connect_ms: Option<f64>,
    pub left_ms: Option<f64>,
    pub events: Vec<crate::report::PeerEvent>,
    pub remote_audio_muted: bool,
    pub remote_video_muted: bool,
    /// The remote offered host candidates under mDNS names (`….local`).
    pub remote_mdns_candidates: bool,
    /// The path when it was last read by the core (at leaving); live reports read it afresh.
    pub path: Option<PathReport>,
    pub rtt_ms: Option<f64>,
}

impl CallRecord {
    /// Media should be arriving: the call is up and the remote sends at least one medium.
    pub fn expects_media(&self) -> bool {
        self.state == PeerState::Connected && !(self.remote_audio_muted && self.remote_video_muted)
    }
}

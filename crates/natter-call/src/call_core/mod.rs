//! The participant's decisions as a sans-IO state machine: who offers, what a collision does,
//! when a connection is hopeless, refused, restarted or given up, what signaling loss means for
//! the calls, and every event of the report in words. No sockets, no tasks, no clock.
//!
//! # The run-loop contract
//!
//! The driver (`participant`) owns one `CallCore` and all I/O, and loops:
//!
//! 1. **mutate**: [`CallCore::handle_input`] with one thing that happened and the time it was
//!    seen (a signaling message, a peer-connection event, an operation's result, a command,
//!    [`Input::Timeout`] when the deadline of [`CallCore::poll_timeout`] passed);
//! 2. **drain**: [`CallCore::poll_output`] until `None`, performing each [`Output`] in order
//!    (send a message, queue an operation on a link, fetch the working servers, tell the window);
//!    nothing the driver does may block: slow stack calls run on the link's own task and come
//!    back later as [`Input::Done`];
//! 3. **wait** for the next input or the deadline of [`CallCore::poll_timeout`].
//!
//! Invariants that hold after every `handle_input`:
//! - one negotiation per link at a time ([`link::Negotiation`]); a result for an older
//!   description (its `generation`) is ignored;
//! - our candidates never overtake the description they belong to, and remote candidates reach
//!   the stack only after the remote description;
//! - only the pair's first offerer restarts ICE after a failure ([`link::Role`]); the other side
//!   counts the remote's restart as its own attempt;
//! - a refused or given-up call stays `failed` with its reason: no restarts, no new state;
//! - every record change is an [`Output::Record`] (the report is a projection of this state).
//!
//! Tested on virtual time with in-memory signaling in `tests.rs` (two and three participants).

pub mod io;
pub mod link;
#[cfg(test)]
mod tests;

pub use io::*;

use crate::codecs::VideoCodec;
use crate::diagnosis::PairCounts;
use crate::fallback::{Action, LinkState};
use crate::report::{CandidateType, EventKind, PeerEvent, PeerState, SignalingReport, SignalingState};
use crate::view::{NoticeAbout, Presence, TileState, ViewEvent};
use link::{HeldCandidate, Link, Negotiation, Role, Setup};
use natter_signal::protocol::{ClientMessage, IceCandidate, ServerMessage, Welcome};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Why a connection whose network path worked never connected, in the user's words, when the path
/// answers our connectivity checks without loss: the DTLS handshake did not complete, and on a
/// path that loses nothing that means the certificate the other side presented does not match the
/// fingerprint in its session description (the stack drops the handshake without telling us why;
/// someone may have rewritten the description on the signaling path) or the other side stopped.
/// No ICE restart can fix either, so the call is refused.
pub const DTLS_REFUSED: &str = "the network path works and loses none of our checks, but the secure handshake (DTLS) did not complete: the other side's certificate does not match the fingerprint in its session description (the call setup may have been altered on the way), or the other side stopped answering";

/// The same on a path that loses our checks: the handshake's packets were lost (a very lossy
/// network). Never an accusation of tampering.
pub const DTLS_INCOMPLETE: &str = "the network path works, but the secure handshake (DTLS) did not complete: its packets kept getting lost on the way (a very lossy network), or the other side stopped answering";

/// Unanswered connectivity checks above this share make a path lossy (a handshake may be lost).
const LOSSY_CHECKS: f64 = 0.05;
/// How long DTLS may take once ICE found a path that loses nothing (loopback: a few ms) …
const DTLS_HANDSHAKE_LIMIT: Duration = Duration::from_secs(5);
/// … and one that loses checks: our DTLS resends a lost flight after 0.25, 0.5, 1, 2 … s.
/// Refusing is final, so err on the patient side.
const DTLS_HANDSHAKE_LIMIT_LOSSY: Duration = Duration::from_secs(12);
/// How often a first attempt is judged (`diagnosis`) and connected links checked for media
/// (`fallback::MediaWatch`): the stack tells neither, so they are polled.
const CHECK_INTERVAL: Duration = Duration::from_millis(250);
/// Silence on our side that confirms the path broke when the remote restarts ICE (15 missing
/// Opus packets: not jitter).
const REMOTE_RESTART_SILENCE: Duration = Duration::from_millis(300);
/// A picture that stands still this long on a connection that is up is an event in words.
const VIDEO_STALL_MS: f64 = 2_000.0;
/// How many departed participants' records the report keeps.
const DEPARTED_KEPT: usize = 32;
/// Delays between attempts to reach signaling again (the last one repeats).
const REJOIN_BACKOFF: natter_ice::backoff::Backoff = natter_ice::backoff::Backoff::table(&[
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
]);

/// A named deadline of the core (see [`CallCore::poll_timeout`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Timer {
    /// `remote`'s restart policy is due (restart ICE, judge an attempt, give up).
    Restart(String),
    /// Look whether `remote`'s first attempt can be judged.
    SetupCheck(String),
    /// `remote`'s DTLS handshake is overdue.
    Handshake(String),
    /// Sample what every link received.
    MediaCheck,
    /// Try signaling again.
    Rejoin,
}

/// The signaling connection as the core sees it.
#[derive(Debug, Clone, PartialEq)]
enum Signaling {
    Up,
    /// Lost at `since`; the next attempt at `next_attempt` (`None`: one is under way).
    Reconnecting {
        since: Instant,
        attempt: usize,
        next_attempt: Option<Instant>,
    },
    Refused,
}

/// How the core behaves (fixed for a participant's life).
#[derive(Debug, Clone)]
pub struct CoreSettings {
    /// Our id in the room.
    pub id: String,
    /// Run Natter's recovery (restarts, media watch): off with `--stack-defaults`, which
    /// measures the `webrtc` crate as it comes.
    pub recovery: bool,
}

/// See the module docs.
pub struct CallCore {
    settings: CoreSettings,
    joined_at: Instant,
    links: HashMap<String, Link>,
    /// Every remote we had a call with: live ones and the last [`DEPARTED_KEPT`] departed.
    records: BTreeMap<String, CallRecord>,
    departed: VecDeque<String>,
    names: HashMap<String, String>,
    signaling: Signaling,
    signaling_record: SignalingReport,
    audio_muted: bool,
    video_muted: bool,
    /// When to sample what the links received next (while there are links and recovery is on).
    next_media_check: Option<Instant>,
    outputs: VecDeque<Output>,
    changed: BTreeSet<String>,
    signaling_changed: bool,
}

impl CallCore {
    /// A participant that just joined (`welcome`): it offers to everyone already there.
    pub fn new(settings: CoreSettings, welcome: &Welcome, now: Instant) -> CallCore {
        let mut core = CallCore {
            settings,
            joined_at: now,
            links: HashMap::new(),
            records: BTreeMap::new(),
            departed: VecDeque::new(),
            names: HashMap::new(),
            signaling: Signaling::Up,
            signaling_record: SignalingReport::default(),
            audio_muted: false,
            video_muted: false,
            next_media_check: None,
            outputs: VecDeque::new(),
            changed: BTreeSet::new(),
            signaling_changed: true,
        };
        for peer in &welcome.peers {
            core.names.insert(peer.id.clone(), peer.name.clone());
            core.offer_to(&peer.id, now);
        }
        core.publish();
        core
    }

    /// Start with our microphone and camera as they are (off when the user turned them off in an
    /// earlier call): each remote is told as its call connects, before any media flows.
    pub fn with_local_media(mut self, audio_muted: bool, video_muted: bool) -> CallCore {
        (self.audio_muted, self.video_muted) = (audio_muted, video_muted);
        self
    }

    pub fn id(&self) -> &str {
        &self.settings.id
    }

    /// Feed one thing that happened at `now`. Then drain [`Self::poll_output`].
    pub fn handle_input(&mut self, input: Input, now: Instant) {
        match input {
            Input::Timeout => self.on_timeout(now),
            Input::Server(message) => self.on_server(message, now),
            Input::SignalingLost => self.on_signaling_lost(now),
            Input::RejoinFailed { refused } => self.on_rejoin_failed(refused, now),
            Input::SignalingBack(welcome) => self.on_signaling_back(welcome, now),
            Input::Stack { remote, event } => self.on_stack(&remote, event, now),
            Input::Done { remote, result } => self.on_done(&remote, result, now),
            Input::Command(Command::SetIceConfig(ice)) => {
                tracing::info!(participant = %self.id(), servers = ice.urls().count(), "ICE servers changed; restarting every connection");
                self.outputs.push_back(Output::UseIceServers(ice));
            }
            Input::IceServersApplied => {
                let remotes: Vec<String> = self.links.keys().cloned().collect();
                for remote in remotes {
                    self.restart_ice(&remote, "the ICE servers were changed");
                }
            }
            Input::LocalMedia {
                audio_muted,
                video_muted,
            } => {
                (self.audio_muted, self.video_muted) = (audio_muted, video_muted);
                let remotes: Vec<String> = self.links.keys().cloned().collect();
                for remote in remotes {
                    self.send_media_state(&remote);
                }
            }
            Input::MediaSamples(samples) => self.on_media_samples(samples, now),
        }
        self.publish();
    }

    /// The next thing to do, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The earliest deadline and what it is for; feed [`Input::Timeout`] when it passed.
    pub fn poll_timeout(&self) -> Option<(Instant, Timer)> {
        let mut timers: Vec<(Instant, Timer)> = Vec::new();
        for (remote, link) in &self.links {
            if self.settings.recovery
                && let Some(at) = link.policy.poll_timeout()
            {
                timers.push((at, Timer::Restart(remote.clone())));
            }
            if let Setup::Watching {
                next_check,
                pairs_asked,
                handshake_check,
                loss_asked,
                ..
            } = &link.setup
            {
                if !pairs_asked {
                    timers.push((*next_check, Timer::SetupCheck(remote.clone())));
                }
                if let (Some(at), false) = (handshake_check, loss_asked) {
                    timers.push((*at, Timer::Handshake(remote.clone())));
                }
            }
        }
        if let Some(at) = self.next_media_check {
            timers.push((at, Timer::MediaCheck));
        }
        if let Signaling::Reconnecting {
            next_attempt: Some(at), ..
        } = self.signaling
        {
            timers.push((at, Timer::Rejoin));
        }
        timers.into_iter().min_by_key(|(at, _)| *at)
    }

    /// The record of the call with `remote` (live or departed).
    pub fn record(&self, remote: &str) -> Option<&CallRecord> {
        self.records.get(remote)
    }

    /// Every record, live and departed.
    pub fn records(&self) -> impl Iterator<Item = &CallRecord> {
        self.records.values()
    }

    pub fn signaling_record(&self) -> &SignalingReport {
        &self.signaling_record
    }

    /// The remotes we have a link with now.
    pub fn remotes(&self) -> impl Iterator<Item = &str> {
        self.links.keys().map(String::as_str)
    }

    // ---- signaling messages -------------------------------------------------------------

    fn on_server(&mut self, message: ServerMessage, now: Instant) {
        match message {
            ServerMessage::PeerJoined { id, name } => {
                tracing::info!(participant = %self.id(), remote = %id, "peer joined; waiting for its offer");
                // Someone we had a call with, back on signaling after a drop: keep a call that
                // still works, clear one that ended so its new offer starts afresh.
                self.drop_ended_link(&id);
                self.names.insert(id.clone(), name);
                // A call that went on while its signaling was away is no news.
                if !self.links.contains_key(&id) {
                    self.presence(&id, Presence::Joined);
                }
            }
            ServerMessage::PeerLeft { id } => self.on_peer_left(&id, now),
            ServerMessage::Offer { from, sdp } => self.on_offer(&from, sdp, now),
            ServerMessage::Answer { from, sdp } => self.on_answer(&from, sdp, now),
            ServerMessage::Candidate { from, candidate } => self.on_remote_candidate(&from, candidate, now),
            ServerMessage::MediaState {
                from,
                audio_muted,
                video_muted,
            } => {
                if self.links.contains_key(&from) {
                    let record = self.record_mut(&from);
                    record.remote_audio_muted = audio_muted;
                    record.remote_video_muted = video_muted;
                }
                self.view(ViewEvent::Media {
                    tile_id: from,
                    audio_muted,
                    video_muted,
                });
            }
            ServerMessage::Error { code, message } => {
                tracing::warn!(participant = %self.id(), ?code, "signaling server reported an error: {message}");
            }
            _ => {}
        }
    }

    fn on_peer_left(&mut self, remote: &str, now: Instant) {
        if self.links.remove(remote).is_some() {
            // Keep what the call was like (state, path) and note when it ended.
            let at_ms = self.ms_since_join(now);
            self.record_mut(remote).left_ms = Some(at_ms);
            self.link_op(remote, LinkOp::ReadPath { purpose: PathFor::Left });
            self.link_op(remote, LinkOp::Close);
            self.mark_departed(remote);
        }
        self.status(remote, TileState::Left, "left the call");
        if self.names.contains_key(remote) {
            self.presence(remote, Presence::Left);
        }
        // Its name lives on in its record; the map must not grow with everyone who came by.
        self.names.remove(remote);
    }

    fn on_offer(&mut self, from: &str, sdp: String, now: Instant) {
        // Check before the stack sees it: readable, encrypted media, a fingerprint to hold the
        // other side's DTLS certificate to. Signaling is not trusted.
        if let Err(problem) = natter_ice::sdp::check_remote_sdp(&sdp) {
            return self.refuse_description(from, &problem.to_string(), now);
        }
        // Parsed into the stack's type before anything is opened: a malformed offer must not
        // leave a half-made link.
        if let Err(e) = webrtc::peer_connection::RTCSessionDescription::offer(natter_ice::sdp::for_the_stack(&sdp)) {
            tracing::warn!(participant = %self.id(), remote = from, "offer is not valid SDP: {e}");
            return;
        }
        let is_restart = self.links.get(from).is_some_and(|l| l.remote_description);
        // Glare: both sides offered at once (both changed servers, say). The pair's first
        // offerer keeps its offer and ignores this one; the other side withdraws its own and
        // answers (the "perfect negotiation" roles of the W3C spec).
        if let Some(link) = self.links.get_mut(from)
            && link.negotiation.local_offer_pending()
        {
            if link.role == Role::Offerer {
                tracing::debug!(participant = %self.settings.id, remote = from, "offer collision: keeping ours, the remote rolls back");
                return;
            }
            tracing::debug!(participant = %self.settings.id, remote = from, "offer collision: withdrawing ours and answering theirs");
            // An offer already asked of the stack is withdrawn after it (operations run in order).
            let offer_made = matches!(link.negotiation, Negotiation::LocalOffer { .. });
            link.negotiation = Negotiation::Stable;
            if offer_made {
                self.link_op(from, LinkOp::Rollback);
            }
        }
        if !self.links.contains_key(from) {
            self.open_link(from, Role::Answerer, crate::codecs::offered_video_codecs(&sdp), now);
        }
        let link = self.links.get_mut(from).expect("link exists");
        link.on_remote_description(&sdp, now);
        if is_restart {
            // The remote restarts ICE: our side gathers with the servers that work now
            // (without the relay that just stopped carrying this call, if it did here too).
            self.on_remote_restart(from, now);
            self.links.get_mut(from).expect("link exists").negotiation = Negotiation::AwaitingConfig { offer: sdp };
            self.outputs.push_back(Output::FetchWorkingConfig {
                remote: from.to_string(),
                purpose: ConfigFor::AnswerRestart,
            });
        } else {
            self.answer(from, sdp, None);
        }
    }

    /// Ask the stack for our answer to `offer`, then give it the candidates that waited.
    fn answer(&mut self, remote: &str, offer: String, config: Option<natter_ice::IceConfig>) {
        let Some(link) = self.links.get_mut(remote) else { return };
        let generation = link.next_generation();
        link.negotiation = Negotiation::Answering { generation };
        let pending = std::mem::take(&mut link.pending_remote);
        self.link_op(
            remote,
            LinkOp::Answer {
                generation,
                offer,
                config,
            },
        );
        if !pending.is_empty() {
            self.link_op(remote, LinkOp::AddCandidates(pending));
        }
        self.link_op(remote, LinkOp::RefreshCodecs);
    }

    fn on_answer(&mut self, from: &str, sdp: String, now: Instant) {
        let Some(link) = self.links.get(from) else {
            tracing::warn!(participant = %self.id(), remote = from, "answer from someone to whom we made no offer");
            return;
        };
        if !matches!(link.negotiation, Negotiation::LocalOffer { sent: true, .. }) {
            tracing::warn!(participant = %self.id(), remote = from, "an answer to no offer of ours; ignored");
            return;
        }
        if let Err(problem) = natter_ice::sdp::check_remote_sdp(&sdp) {
            return self.refuse_description(from, &problem.to_string(), now);
        }
        let link = self.links.get_mut(from).expect("checked above");
        link.on_remote_description(&sdp, now);
        link.negotiation = Negotiation::Stable;
        let pending = std::mem::take(&mut link.pending_remote);
        self.link_op(from, LinkOp::AcceptAnswer { sdp });
        if !pending.is_empty() {
            self.link_op(from, LinkOp::AddCandidates(pending));
        }
        self.link_op(from, LinkOp::RefreshCodecs);
    }

    fn on_remote_candidate(&mut self, from: &str, candidate: IceCandidate, now: Instant) {
        tracing::debug!(participant = %self.id(), remote = from, candidate = %candidate.candidate, "remote candidate");
        // Signaling is one ordered WebSocket, so a candidate never overtakes its offer: a
        // candidate from someone we have no connection with is noise, not a reason to open one.
        let Some(link) = self.links.get_mut(from) else {
            tracing::warn!(participant = %self.settings.id, remote = from, "candidate from someone with whom no call is being set up; ignored");
            return;
        };
        if candidate.candidate.is_empty() {
            // End-of-candidates: nothing for the stack, but the setup watch need not wait.
            link.candidates.on_remote_gathering_complete();
            return;
        }
        link.candidates.on_remote_candidate(&candidate.candidate, now);
        let mdns = candidate
            .candidate
            .split_whitespace()
            .nth(4)
            .is_some_and(|address| address.ends_with(".local"));
        if link.takes_remote_candidates() {
            self.link_op(from, LinkOp::AddCandidates(vec![candidate]));
        } else {
            link.pending_remote.push(candidate);
        }
        if mdns && !self.records.get(from).is_some_and(|r| r.remote_mdns_candidates) {
            self.record_mut(from).remote_mdns_candidates = true;
        }
    }

    /// A session description from `remote` failed our check. A call that never connected is
    /// refused (no restarts; the report and the tile say why); an established call keeps going
    /// on what was agreed before and the new description is ignored.
    fn refuse_description(&mut self, remote: &str, problem: &str, now: Instant) {
        let name = self.name_of(remote);
        tracing::warn!(participant = %self.id(), remote, "refused a session description: {problem}");
        if self.links.contains_key(remote) && self.records.get(remote).is_some_and(|r| r.connect_ms.is_some()) {
            self.event(
                remote,
                EventKind::Ignored,
                &format!("ignored a new session description from {name}: {problem}"),
                now,
            );
            return;
        }
        if !self.links.contains_key(remote) {
            self.open_link(remote, Role::Answerer, VideoCodec::OFFERED.to_vec(), now);
        }
        self.refuse_link(remote, problem, now);
    }

    // ---- signaling connection -----------------------------------------------------------

    fn on_signaling_lost(&mut self, now: Instant) {
        self.signaling = Signaling::Reconnecting {
            since: now,
            attempt: 0,
            next_attempt: Some(now + REJOIN_BACKOFF.delay(0)),
        };
        self.signaling_event(
            SignalingState::Reconnecting,
            EventKind::Lost,
            "lost the signaling connection; calls in progress continue; reconnecting…",
            now,
        );
    }

    fn on_rejoin_failed(&mut self, refused: Option<String>, now: Instant) {
        let Signaling::Reconnecting { since, attempt, .. } = self.signaling else {
            return;
        };
        match refused {
            Some(reason) => {
                self.signaling = Signaling::Refused;
                self.signaling_event(SignalingState::Refused, EventKind::Refused, &reason, now);
            }
            None => {
                let attempt = attempt + 1;
                self.signaling = Signaling::Reconnecting {
                    since,
                    attempt,
                    next_attempt: Some(now + REJOIN_BACKOFF.delay(attempt)),
                };
            }
        }
    }

    /// Signaling is back. Keep every call that still works (its peers know our id: the server
    /// gave it back); offer to anyone we have no working call with, as a newcomer would.
    fn on_signaling_back(&mut self, welcome: Welcome, now: Instant) {
        if welcome.id != self.settings.id {
            tracing::warn!(participant = %self.id(), new_id = %welcome.id, "the signaling server gave us another id; calls in progress continue, but cannot be renegotiated");
        }
        let took = match self.signaling {
            Signaling::Reconnecting { since, .. } => {
                format!(" after {:.1} s", now.duration_since(since).as_secs_f64())
            }
            _ => String::new(),
        };
        self.signaling = Signaling::Up;
        self.signaling_record.reconnects += 1;
        self.signaling_event(
            SignalingState::Connected,
            EventKind::Reconnected,
            &format!("signaling is back{took}; {} other(s) in the room", welcome.peers.len()),
            now,
        );
        for peer in welcome.peers {
            self.names.insert(peer.id.clone(), peer.name.clone());
            self.drop_ended_link(&peer.id);
            if !self.links.contains_key(&peer.id) {
                self.offer_to(&peer.id, now);
            }
        }
        // The others may have changed microphone/camera state meanwhile; ours may have too.
        let remotes: Vec<String> = self.links.keys().cloned().collect();
        for remote in remotes {
            self.send_media_state(&remote);
        }
    }

    // ---- the peer connections -----------------------------------------------------------

    fn on_stack(&mut self, remote: &str, event: StackEvent, now: Instant) {
        let Some(link) = self.links.get_mut(remote) else { return };
        match event {
            StackEvent::LocalCandidate { candidate, url } => {
                tracing::debug!(participant = %self.settings.id, remote, candidate = %candidate.candidate, "local candidate");
                link.candidates.on_local_candidate(&candidate.candidate);
                if candidate.candidate.is_empty() {
                    return;
                }
                if let Some(url) = url.filter(|u| !u.is_empty()) {
                    self.outputs.push_back(Output::GatheredFrom(url));
                }
                let link = self.links.get_mut(remote).expect("link exists");
                if link.negotiation.description_unsent() {
                    link.held_local.push(HeldCandidate::Candidate(candidate));
                    return;
                }
                let tagged = link.tagged(candidate);
                self.signal(ClientMessage::Candidate {
                    to: remote.to_string(),
                    candidate: tagged,
                });
            }
            StackEvent::GatheringComplete => {
                link.candidates.on_gathering_complete();
                if link.negotiation.description_unsent() {
                    link.held_local.push(HeldCandidate::EndOfCandidates);
                    return;
                }
                // End-of-candidates (W3C: an empty candidate), so a peer that waits for it can
                // judge its pairs.
                let end = link.end_of_candidates();
                self.signal(ClientMessage::Candidate {
                    to: remote.to_string(),
                    candidate: end,
                });
            }
            StackEvent::IceConnected => {
                link.ice_connected_at.get_or_insert(now);
                if let Setup::Watching { handshake_check, .. } = &mut link.setup {
                    handshake_check.get_or_insert(now + DTLS_HANDSHAKE_LIMIT);
                }
            }
            StackEvent::State(state) => self.on_state(remote, state, now),
        }
    }

    fn on_state(&mut self, remote: &str, state: PeerState, now: Instant) {
        let at_ms = self.ms_since_join(now);
        tracing::info!(participant = %self.id(), remote, %state, elapsed_ms = at_ms, "connection state");
        let never_connected = self.records.get(remote).is_none_or(|r| r.connect_ms.is_none());
        let Some(link) = self.links.get_mut(remote) else { return };
        let was_restarting = link.policy.attempts() > 0;
        // ICE found a path but the connection failed before it ever connected: the DTLS
        // handshake failed (see `DTLS_REFUSED`). Final at once; the words follow the loss.
        if state == PeerState::Failed && never_connected && link.ice_connected_at.is_some() && !link.policy.gave_up() {
            self.give_up_link(remote);
            self.link_op(
                remote,
                LinkOp::CheckLoss {
                    purpose: LossFor::FailedHandshake,
                },
            );
            return;
        }
        let policy_state = match state {
            PeerState::Connected => Some(LinkState::Connected),
            PeerState::Disconnected => Some(LinkState::Disconnected),
            PeerState::Failed => Some(LinkState::Failed),
            PeerState::Connecting => Some(LinkState::Connecting),
            _ => None,
        };
        if let Some(policy_state) = policy_state {
            link.policy.on_state(policy_state, now);
        }
        if state == PeerState::Closed {
            // We close only links we already removed, so this is the remote hanging up
            // (DTLS close_notify overtook its `leave`): keep the call's last state.
            self.record_mut(remote).left_ms.get_or_insert(at_ms);
            return;
        }
        if link.policy.gave_up() {
            return; // final: keep "failed" and the reason
        }
        let relay_in_use = link.relay_in_use.clone();
        if state == PeerState::Connected {
            link.setup = Setup::Judged;
        }
        let first_connect = state == PeerState::Connected && !link.media_started;
        if first_connect {
            link.media_started = true;
        }
        let record = self.record_mut(remote);
        record.state = state;
        if state == PeerState::Connected && record.connect_ms.is_none() {
            record.connect_ms = Some(at_ms);
        }
        match state {
            PeerState::Disconnected => self.event(remote, EventKind::Disconnected, "", now),
            PeerState::Failed => {
                // A connection that never worked: say why, as far as the candidates tell.
                let detail = if never_connected {
                    self.links[remote].candidates.explain()
                } else {
                    "the path in use stopped working and no other path answered".to_string()
                };
                self.event(remote, EventKind::Failed, &detail, now);
            }
            _ => {}
        }
        match state {
            PeerState::Connected => {
                if was_restarting || first_connect {
                    // A new path or a new receiver: a keyframe now rather than after a PLI.
                    self.outputs.push_back(Output::RequestKeyframe);
                }
                if first_connect {
                    self.link_op(remote, LinkOp::StartMedia);
                    // The other side learns our microphone/camera state as the call starts.
                    if self.audio_muted || self.video_muted {
                        self.send_media_state(remote);
                    }
                }
                // `connected` / `recovered` are recorded once the new path is known.
                self.link_op(
                    remote,
                    LinkOp::ReadPath {
                        purpose: PathFor::Connected { at_ms, was_restarting },
                    },
                );
            }
            PeerState::Failed => self.status(
                remote,
                TileState::Connecting,
                "no path works right now; trying other servers…",
            ),
            PeerState::Disconnected => {
                // Tell every other connection: if the relay died, none should restart onto it.
                if let Some(url) = relay_in_use {
                    let cause = format!("stopped carrying the call with {}", self.name_of(remote));
                    self.outputs.push_back(Output::ServerFailed { url, cause });
                }
                self.status(remote, TileState::Connecting, "connection interrupted, checking paths…");
            }
            _ => {}
        }
    }

    fn on_done(&mut self, remote: &str, result: OpResult, now: Instant) {
        match result {
            OpResult::OpenFailed(error) => {
                tracing::warn!(participant = %self.id(), remote, "could not start a call: {error}");
                if self.links.remove(remote).is_some() {
                    self.records.remove(remote);
                    self.changed.remove(remote);
                    self.outputs.push_back(Output::Forget {
                        remote: remote.to_string(),
                    });
                }
            }
            OpResult::LocalDescription { generation, sdp } => self.on_local_description(remote, generation, sdp),
            OpResult::Failed { op, error } => {
                tracing::warn!(participant = %self.id(), remote, op, "{error}");
            }
            OpResult::Codecs(outcomes) => {
                if !self.links.contains_key(remote) {
                    return;
                }
                let name = self.name_of(remote);
                for outcome in outcomes {
                    match outcome.result {
                        Ok(Some(codec)) => {
                            let detail = format!("sending {} {codec}", outcome.kind);
                            tracing::info!(participant = %self.id(), remote, "{detail}");
                            self.event(remote, EventKind::Codec, &detail, now);
                        }
                        Ok(None) => {}
                        Err(problem) => {
                            tracing::warn!(participant = %self.id(), remote, "{problem}");
                            let detail = format!("{name}: {problem}; {name} receives no {} from us", outcome.kind);
                            self.event(remote, EventKind::Codec, &detail, now);
                        }
                    }
                }
            }
            OpResult::Path { purpose, path } => self.on_path(remote, purpose, path),
            OpResult::Pairs(pairs) => self.on_pairs(remote, pairs, now),
            OpResult::CheckLoss { purpose, loss } => self.on_check_loss(remote, purpose, loss, now),
            OpResult::WorkingConfig {
                purpose,
                config,
                dropped,
            } => self.on_working_config(remote, purpose, config, dropped, now),
        }
    }

    fn on_local_description(&mut self, remote: &str, generation: u64, sdp: String) {
        let Some(link) = self.links.get_mut(remote) else { return };
        let message = match link.negotiation {
            Negotiation::LocalOffer {
                generation: current,
                sent: false,
            } if current == generation => {
                link.negotiation = Negotiation::LocalOffer { generation, sent: true };
                ClientMessage::Offer {
                    to: remote.to_string(),
                    sdp: sdp.clone(),
                }
            }
            Negotiation::Answering { generation: current } if current == generation => {
                link.negotiation = Negotiation::Stable;
                ClientMessage::Answer {
                    to: remote.to_string(),
                    sdp: sdp.clone(),
                }
            }
            _ => {
                tracing::debug!(participant = %self.settings.id, remote, generation, "a description no longer wanted (a collision withdrew it)");
                return;
            }
        };
        link.candidate_tag = natter_ice::sdp::candidate_tag(&sdp);
        let held = std::mem::take(&mut link.held_local);
        let held: Vec<IceCandidate> = held
            .into_iter()
            .map(|c| match c {
                HeldCandidate::Candidate(candidate) => link.tagged(candidate),
                HeldCandidate::EndOfCandidates => link.end_of_candidates(),
            })
            .collect();
        self.signal(message);
        for candidate in held {
            self.signal(ClientMessage::Candidate {
                to: remote.to_string(),
                candidate,
            });
        }
    }

    fn on_path(&mut self, remote: &str, purpose: PathFor, path: Option<(crate::report::PathReport, Option<f64>)>) {
        match purpose {
            PathFor::Left => {
                if let Some((path, rtt)) = path
                    && self.records.contains_key(remote)
                {
                    let record = self.record_mut(remote);
                    record.path = Some(path);
                    record.rtt_ms = rtt.or(record.rtt_ms);
                }
            }
            PathFor::Connected { at_ms, was_restarting } => {
                let name = self.name_of(remote);
                let Some(link) = self.links.get_mut(remote) else { return };
                let relay = path.as_ref().and_then(|(p, _)| p.relay_server.clone());
                let previous_relay = std::mem::replace(&mut link.relay_in_use, relay.clone());
                let detail = path
                    .as_ref()
                    .map(|(p, _)| describe_path(p))
                    .unwrap_or_else(|| "connected".into());
                let (kind, event_detail) = if was_restarting {
                    // "Moved the call with Bob to relay turn:b:3478 over TCP in 2.8 s (was relay turn:a:3478)."
                    let record = &self.records[remote];
                    let broke_at = record
                        .events
                        .iter()
                        .rev()
                        .find(|e| matches!(e.kind, EventKind::Disconnected | EventKind::Failed))
                        .map(|e| e.at_ms);
                    let took = broke_at
                        .map(|at| format!(" in {:.1} s", (at_ms - at) / 1000.0))
                        .unwrap_or_default();
                    let was = previous_relay
                        .filter(|url| Some(url) != relay.as_ref())
                        .map(|url| format!(" (was relay {url})"))
                        .unwrap_or_default();
                    (
                        EventKind::Recovered,
                        format!("moved the call with {name} to {detail}{took}{was}"),
                    )
                } else {
                    (EventKind::Connected, detail.clone())
                };
                let record = self.record_mut(remote);
                record.events.push(PeerEvent {
                    at_ms,
                    kind,
                    detail: event_detail,
                });
                // The path as it came up: a report taken after the remote left (its connection
                // closed before a fresh read) still says how the call went.
                if let Some((path, rtt)) = path {
                    record.path = Some(path);
                    record.rtt_ms = rtt.or(record.rtt_ms);
                }
                self.status(remote, TileState::Connected, &detail);
            }
        }
    }

    fn on_working_config(
        &mut self,
        remote: &str,
        purpose: ConfigFor,
        config: natter_ice::IceConfig,
        dropped: Vec<String>,
        now: Instant,
    ) {
        let Some(link) = self.links.get_mut(remote) else { return };
        match purpose {
            ConfigFor::Restart { why } => {
                if link.negotiation != Negotiation::PreparingRestart {
                    return; // a collision made us answer instead
                }
                let generation = link.next_generation();
                link.negotiation = Negotiation::LocalOffer {
                    generation,
                    sent: false,
                };
                let detail = restart_detail(&config, &dropped, &why);
                self.link_op(
                    remote,
                    LinkOp::Offer {
                        generation,
                        ice_restart: true,
                        config: Some(config),
                    },
                );
                self.event(remote, EventKind::IceRestart, &detail, now);
                self.status(remote, TileState::Connecting, "reconnecting through another path…");
            }
            ConfigFor::AnswerRestart => {
                let Negotiation::AwaitingConfig { offer } =
                    std::mem::replace(&mut link.negotiation, Negotiation::Stable)
                else {
                    return;
                };
                let detail = restart_detail(&config, &dropped, "the remote restarted ICE");
                self.event(remote, EventKind::IceRestart, &detail, now);
                self.answer(remote, offer, Some(config));
            }
        }
    }

    // ---- timers -------------------------------------------------------------------------

    fn on_timeout(&mut self, now: Instant) {
        let remotes: Vec<String> = self.links.keys().cloned().collect();
        for remote in &remotes {
            if self.settings.recovery {
                self.on_policy_timer(remote, now);
            }
            self.on_setup_timer(remote, now);
        }
        if self.next_media_check.is_some_and(|at| at <= now) {
            self.next_media_check = Some(now + CHECK_INTERVAL);
            self.outputs.push_back(Output::SampleMedia(remotes));
        }
        if let Signaling::Reconnecting {
            next_attempt: Some(at),
            since,
            attempt,
        } = self.signaling
            && at <= now
        {
            self.signaling = Signaling::Reconnecting {
                since,
                attempt,
                next_attempt: None,
            };
            self.outputs.push_back(Output::Rejoin);
        }
    }

    /// A restart policy came due: restart ICE (if we drive this pair) or give up.
    fn on_policy_timer(&mut self, remote: &str, now: Instant) {
        let Some(link) = self.links.get_mut(remote) else { return };
        match link.policy.handle_timeout(now) {
            None => {}
            Some(Action::Restart { attempt }) if link.role == Role::Offerer => {
                self.restart_ice(remote, &format!("attempt {attempt}"));
            }
            Some(Action::Restart { attempt }) => {
                tracing::info!(participant = %self.id(), remote, attempt, "connection broken; the remote drives the ICE restart");
            }
            Some(Action::GiveUp { reason }) => {
                self.event(remote, EventKind::GaveUp, &reason, now);
                self.record_mut(remote).state = PeerState::Failed;
                self.status(
                    remote,
                    TileState::Failed,
                    &format!("cannot reach this participant: {reason}"),
                );
                self.presence(remote, Presence::Lost);
            }
        }
    }

    /// A first attempt's checks: a handshake overdue, pairs to count.
    fn on_setup_timer(&mut self, remote: &str, now: Instant) {
        let Some(link) = self.links.get_mut(remote) else { return };
        let Setup::Watching {
            next_check,
            pairs_asked,
            handshake_check,
            loss_asked,
        } = &mut link.setup
        else {
            return;
        };
        let watch = &link.candidates;
        let mut ops = Vec::new();
        if !*loss_asked && handshake_check.is_some_and(|at| at <= now) {
            // Stuck, not failed: the stack does not say why; the loss on the path tells.
            *loss_asked = true;
            ops.push(LinkOp::CheckLoss {
                purpose: LossFor::StuckHandshake,
            });
        }
        if !*pairs_asked && *next_check <= now {
            *next_check = now + CHECK_INTERVAL;
            // Only worth asking the stack once the candidates are in.
            if watch.ready_to_judge(now) {
                *pairs_asked = true;
                ops.push(LinkOp::CountPairs);
            }
        }
        for op in ops {
            self.link_op(remote, op);
        }
    }

    fn on_pairs(&mut self, remote: &str, pairs: Option<PairCounts>, now: Instant) {
        let Some(link) = self.links.get_mut(remote) else { return };
        let Setup::Watching { pairs_asked, .. } = &mut link.setup else {
            return;
        };
        *pairs_asked = false;
        let Some(pairs) = pairs else { return };
        tracing::debug!(participant = %self.settings.id, remote, ?pairs, "setup check");
        let Some(reason) = link.candidates.verdict(pairs, now) else {
            return;
        };
        link.setup = Setup::Judged;
        link.policy.on_state(LinkState::Failed, now);
        self.record_mut(remote).state = PeerState::Failed;
        self.event(remote, EventKind::Failed, &reason, now);
        self.status(
            remote,
            TileState::Connecting,
            &format!("cannot connect yet: {reason}; still trying…"),
        );
    }

    fn on_check_loss(&mut self, remote: &str, purpose: LossFor, loss: Option<f64>, now: Instant) {
        // No reading (or too few checks) counts as lossy: refusing is final, so be patient.
        let lossy = loss.is_none_or(|loss| loss >= LOSSY_CHECKS);
        let why = if lossy { DTLS_INCOMPLETE } else { DTLS_REFUSED };
        match purpose {
            LossFor::FailedHandshake => self.narrate_refusal(remote, why, now),
            LossFor::StuckHandshake => {
                let Some(link) = self.links.get_mut(remote) else { return };
                let found = link.ice_connected_at;
                let Setup::Watching {
                    handshake_check,
                    loss_asked,
                    ..
                } = &mut link.setup
                else {
                    return; // connected meanwhile
                };
                *loss_asked = false;
                // A path that answers our checks without loss does not lose handshakes; there the
                // certificate is the likely cause. A lossy one gets longer: resends may get through.
                let too_long = found.is_some_and(|at| now.duration_since(at) >= DTLS_HANDSHAKE_LIMIT_LOSSY);
                if !lossy || too_long {
                    self.refuse_link(remote, why, now);
                } else {
                    *handshake_check = Some(now + CHECK_INTERVAL);
                }
            }
        }
    }

    fn on_media_samples(&mut self, samples: Vec<(String, MediaSample)>, now: Instant) {
        let now_ms = self.ms_since_join(now);
        for (remote, sample) in samples {
            let Some(record) = self.records.get(&remote) else {
                continue;
            };
            let expecting = record.expects_media();
            let video_expected = expecting && !record.remote_video_muted;
            let Some(link) = self.links.get_mut(&remote) else {
                continue;
            };
            link.received = sample.received;
            let stopped = link.media_watch.observe(now, sample.received, expecting);
            // Video that stands still on a connection that is up: said in words, and when it is back.
            let name = self.names.get(&remote).cloned().unwrap_or_else(|| remote.clone());
            let stall = match (sample.ongoing_freeze, link.video_stalled_since) {
                (Some(freeze), None) if video_expected && freeze.duration_ms() >= VIDEO_STALL_MS => {
                    link.video_stalled_since = Some(freeze.from_ms);
                    Some((
                        EventKind::VideoStalled,
                        freeze.from_ms,
                        format!(
                            "{name}'s picture stopped: no new frame for {:.1} s although the connection is up (the path may be congested or losing packets)",
                            freeze.duration_ms() / 1000.0
                        ),
                    ))
                }
                (None, Some(from_ms)) => {
                    link.video_stalled_since = None;
                    Some((
                        EventKind::VideoResumed,
                        now_ms,
                        format!(
                            "{name}'s picture is moving again after {:.1} s",
                            (now_ms - from_ms) / 1000.0
                        ),
                    ))
                }
                _ => None,
            };
            if let Some((kind, at_ms, detail)) = stall {
                tracing::info!(participant = %self.settings.id, remote, %kind, "{detail}");
                self.record_mut(&remote).events.push(PeerEvent { at_ms, kind, detail });
            }
            if let Some(since) = stopped {
                self.note_media_stopped(&remote, since, now);
                if let Some(link) = self.links.get_mut(&remote) {
                    link.policy.on_media_stopped(now);
                }
                self.status(
                    &remote,
                    TileState::Connecting,
                    "connection interrupted, moving to another path…",
                );
            }
        }
    }

    // ---- decisions shared by the handlers -----------------------------------------------

    fn open_link(&mut self, remote: &str, role: Role, video_preference: Vec<VideoCodec>, now: Instant) {
        self.links.insert(remote.to_string(), Link::new(role, now));
        let record = CallRecord {
            remote: remote.to_string(),
            remote_name: self.name_of(remote),
            ..Default::default()
        };
        self.departed.retain(|r| r != remote);
        self.records.insert(remote.to_string(), record);
        self.changed.insert(remote.to_string());
        self.link_op(remote, LinkOp::Open { video_preference });
        if self.settings.recovery && self.next_media_check.is_none() {
            self.next_media_check = Some(now + CHECK_INTERVAL);
        }
        self.status(remote, TileState::Connecting, "gathering network paths…");
    }

    fn offer_to(&mut self, remote: &str, now: Instant) {
        // The side that offered first also drives ICE restarts for this pair (no glare).
        self.open_link(remote, Role::Offerer, VideoCodec::OFFERED.to_vec(), now);
        let link = self.links.get_mut(remote).expect("just opened");
        let generation = link.next_generation();
        link.negotiation = Negotiation::LocalOffer {
            generation,
            sent: false,
        };
        self.link_op(
            remote,
            LinkOp::Offer {
                generation,
                ice_restart: false,
                config: None,
            },
        );
    }

    /// Restart ICE with the servers that work now (fetched first) and send the new offer.
    fn restart_ice(&mut self, remote: &str, why: &str) {
        let Some(link) = self.links.get_mut(remote) else { return };
        // An unanswered offer of ours is replaced; an exchange in the middle is finished first
        // (the restart policy judges this attempt as usual and tries again).
        if !matches!(
            link.negotiation,
            Negotiation::Stable | Negotiation::LocalOffer { sent: true, .. }
        ) {
            tracing::info!(participant = %self.settings.id, remote, why, "an offer/answer exchange is under way; no ICE restart now");
            return;
        }
        link.negotiation = Negotiation::PreparingRestart;
        self.outputs.push_back(Output::FetchWorkingConfig {
            remote: remote.to_string(),
            purpose: ConfigFor::Restart { why: why.to_string() },
        });
    }

    /// The remote restarted ICE. If our side of the link also went silent, the path broke here
    /// too (the remote merely noticed first): say so, and let the reconnection count as the
    /// recovery of this side's call, not as a fresh connection.
    fn on_remote_restart(&mut self, remote: &str, now: Instant) {
        let Some(record) = self.records.get(remote) else { return };
        let expecting = record.expects_media();
        let Some(link) = self.links.get_mut(remote) else { return };
        let received = link.received;
        if let Some(since) = link
            .media_watch
            .observe_with_limit(now, received, expecting, REMOTE_RESTART_SILENCE)
        {
            self.note_media_stopped(remote, since, now);
            if let Some(link) = self.links.get_mut(remote) {
                link.policy.on_remote_restart(now);
            }
        }
    }

    /// The link with `remote` carried nothing since `since`: an event in words (dated when the
    /// outage began, with the last packet), and no other connection restarts onto its relay.
    fn note_media_stopped(&mut self, remote: &str, since: Instant, now: Instant) {
        let name = self.name_of(remote);
        let silent_s = now.duration_since(since).as_secs_f64();
        tracing::info!(participant = %self.id(), remote, silent_s, "no media on a connected link");
        let at_ms = self.ms_since_join(since);
        let detail = format!("no audio or video from {name} for {silent_s:.1} s: the path stopped carrying media");
        self.record_mut(remote).events.push(PeerEvent {
            at_ms,
            kind: EventKind::Disconnected,
            detail,
        });
        if let Some(url) = self.links.get(remote).and_then(|l| l.relay_in_use.clone()) {
            let cause = format!("stopped carrying the call with {name}");
            self.outputs.push_back(Output::ServerFailed { url, cause });
        }
    }

    /// No restarts any more, no state but `failed`.
    fn give_up_link(&mut self, remote: &str) {
        let Some(link) = self.links.get_mut(remote) else { return };
        link.policy.give_up();
        link.setup = Setup::Judged;
        link.negotiation = Negotiation::Stable;
        self.record_mut(remote).state = PeerState::Failed;
    }

    /// Make the call with `remote` final: failed, no ICE restarts, and why, in the report and on
    /// its tile.
    fn refuse_link(&mut self, remote: &str, why: &str, now: Instant) {
        self.give_up_link(remote);
        self.narrate_refusal(remote, why, now);
    }

    fn narrate_refusal(&mut self, remote: &str, why: &str, now: Instant) {
        if !self.links.contains_key(remote) {
            return;
        }
        let reason = format!("refused the call with {}: {why}", self.name_of(remote));
        self.event(remote, EventKind::Refused, &reason, now);
        self.status(remote, TileState::Failed, &reason);
    }

    /// Forget a link to `remote` whose call is over (it hung up, or was refused), so that a new
    /// call can start; a link whose call may still work is kept.
    fn drop_ended_link(&mut self, remote: &str) {
        let ended = self
            .links
            .get(remote)
            .is_some_and(|l| l.policy.gave_up() || self.records.get(remote).is_some_and(|r| r.left_ms.is_some()));
        if ended {
            self.links.remove(remote);
            self.link_op(remote, LinkOp::Close);
            self.mark_departed(remote);
        }
    }

    /// `remote`'s call is over: its record is kept (the oldest beyond [`DEPARTED_KEPT`] are
    /// forgotten, unless they came back).
    fn mark_departed(&mut self, remote: &str) {
        self.outputs.push_back(Output::Departed {
            remote: remote.to_string(),
        });
        self.departed.push_back(remote.to_string());
        while self.departed.len() > DEPARTED_KEPT {
            let oldest = self.departed.pop_front().expect("longer than the limit");
            if !self.links.contains_key(&oldest) {
                self.records.remove(&oldest);
                self.changed.remove(&oldest);
                self.outputs.push_back(Output::Forget { remote: oldest });
            }
        }
        if self.links.is_empty() {
            self.next_media_check = None;
        }
    }

    // ---- narration and small helpers ----------------------------------------------------

    fn ms_since_join(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.joined_at).as_secs_f64() * 1000.0
    }

    fn name_of(&self, remote: &str) -> String {
        self.names.get(remote).cloned().unwrap_or_else(|| remote.to_string())
    }

    fn record_mut(&mut self, remote: &str) -> &mut CallRecord {
        self.changed.insert(remote.to_string());
        let name = self.name_of(remote);
        self.records.entry(remote.to_string()).or_insert_with(|| CallRecord {
            remote: remote.to_string(),
            remote_name: name,
            ..Default::default()
        })
    }

    fn event(&mut self, remote: &str, kind: EventKind, detail: &str, now: Instant) {
        if !self.links.contains_key(remote) {
            return;
        }
        tracing::info!(participant = %self.id(), remote, %kind, "{detail}");
        let at_ms = self.ms_since_join(now);
        self.record_mut(remote).events.push(PeerEvent {
            at_ms,
            kind,
            detail: detail.to_string(),
        });
    }

    /// A change of the signaling connection: report, log, and a notice in the window.
    fn signaling_event(&mut self, state: SignalingState, kind: EventKind, detail: &str, now: Instant) {
        tracing::info!(participant = %self.id(), %kind, "{detail}");
        let at_ms = self.ms_since_join(now);
        self.signaling_record.state = state;
        self.signaling_record.events.push(PeerEvent {
            at_ms,
            kind,
            detail: detail.to_string(),
        });
        self.signaling_changed = true;
        self.view(ViewEvent::Notice {
            medium: NoticeAbout::Signaling,
            message: detail.to_string(),
        });
    }

    fn status(&mut self, remote: &str, state: TileState, detail: &str) {
        self.view(ViewEvent::Status {
            tile_id: remote.to_string(),
            label: self.name_of(remote),
            state,
            detail: detail.to_string(),
        });
    }

    fn presence(&mut self, remote: &str, change: Presence) {
        self.view(ViewEvent::Presence {
            tile_id: remote.to_string(),
            label: self.name_of(remote),
            change,
        });
    }

    fn view(&mut self, event: ViewEvent) {
        self.outputs.push_back(Output::View(event));
    }

    fn signal(&mut self, message: ClientMessage) {
        self.outputs.push_back(Output::Signal(message));
    }

    fn link_op(&mut self, remote: &str, op: LinkOp) {
        self.outputs.push_back(Output::Link {
            remote: remote.to_string(),
            op,
        });
    }

    /// Tell `remote` whether our microphone and camera are off.
    fn send_media_state(&mut self, remote: &str) {
        self.signal(ClientMessage::MediaState {
            to: remote.to_string(),
            audio_muted: self.audio_muted,
            video_muted: self.video_muted,
        });
    }

    /// Every record changed by this input, once.
    fn publish(&mut self) {
        for remote in std::mem::take(&mut self.changed) {
            if let Some(record) = self.records.get(&remote) {
                self.outputs.push_back(Output::Record(record.clone()));
            }
        }
        if std::mem::take(&mut self.signaling_changed) {
            self.outputs.push_back(Output::Signaling(self.signaling_record.clone()));
        }
    }
}

/// "relay turn:b:3478?transport=tcp over TCP" or "direct path (host → srflx)".
pub fn describe_path(path: &crate::report::PathReport) -> String {
    match (&path.relay_server, &path.relay_transport) {
        (Some(server), transport) if path.local_candidate == CandidateType::Relay => {
            format!(
                "relay {server} over {}",
                transport.as_deref().unwrap_or("udp").to_uppercase()
            )
        }
        _ if path.local_candidate == CandidateType::Relay => "a TURN relay".to_string(),
        _ => format!("direct path ({} → {})", path.local_candidate, path.remote_candidate),
    }
}

/// "attempt 2: using turn:b:3478; left out turn:a:3478 (timeout …)".
fn restart_detail(config: &natter_ice::IceConfig, dropped: &[String], why: &str) -> String {
    let using: Vec<String> = config.urls().map(|(u, _)| u.original.clone()).collect();
    let mut detail = format!(
        "{why}: using {}",
        if using.is_empty() {
            "host candidates only".to_string()
        } else {
            using.join(", ")
        }
    );
    if !dropped.is_empty() {
        detail.push_str(&format!("; left out {}", dropped.join(", ")));
    }
    detail
}

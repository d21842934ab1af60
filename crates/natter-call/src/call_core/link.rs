//! The core's state of one link (the call with one remote): who drives it, where its
//! negotiation stands, what its setup and media watches know. Each state carries its own data.

use crate::diagnosis::SetupWatch;
use crate::fallback::{MediaWatch, RestartPolicy, RestartTiming};
use natter_signal::protocol::IceCandidate;
use std::time::Instant;

/// Who made the first offer of this pair. The offerer drives ICE restarts and keeps its offer
/// when both offer at once (the W3C "perfect negotiation" roles: it is the impolite side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Offerer,
    Answerer,
}

/// Where the offer/answer exchange of a link stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Negotiation {
    /// No exchange under way (W3C `stable`).
    Stable,
    /// Our ICE restart waits for the servers that work now before its offer.
    PreparingRestart,
    /// We asked the stack for offer `generation`; `sent` once it went out (`have-local-offer`).
    LocalOffer { generation: u64, sent: bool },
    /// The remote restarts ICE: its offer waits for the working configuration.
    AwaitingConfig { offer: String },
    /// We asked the stack for answer `generation`; sent when it comes back.
    Answering { generation: u64 },
}

impl Negotiation {
    /// An offer of ours is on its way or out (a remote offer now is a collision).
    pub fn local_offer_pending(&self) -> bool {
        matches!(self, Negotiation::PreparingRestart | Negotiation::LocalOffer { .. })
    }

    /// Our description for this exchange is not out yet: our candidates wait for it.
    pub fn description_unsent(&self) -> bool {
        matches!(
            self,
            Negotiation::LocalOffer { sent: false, .. }
                | Negotiation::Answering { .. }
                | Negotiation::AwaitingConfig { .. }
        )
    }
}

/// The first attempt to connect, watched so that a hopeless one is named early.
#[derive(Debug, Clone)]
pub enum Setup {
    Watching {
        /// When to look at the pairs next (once ready to judge).
        next_check: Instant,
        /// A pair count is being read.
        pairs_asked: bool,
        /// When to look at a handshake that ICE's path has not completed yet.
        handshake_check: Option<Instant>,
        /// A loss reading for that is under way.
        loss_asked: bool,
    },
    /// Connected once, or judged (hopeless, refused): nothing more to say about setup.
    Judged,
}

/// A local candidate that waits for our description to go out first.
#[derive(Debug, Clone, PartialEq)]
pub enum HeldCandidate {
    /// As the stack gave it (its own mid/ufrag, if it filled them in, win over our tag).
    Candidate(IceCandidate),
    EndOfCandidates,
}

#[derive(Debug)]
pub struct Link {
    pub role: Role,
    pub negotiation: Negotiation,
    /// Counts our descriptions: a result for an older one is stale.
    pub generation: u64,
    /// The stack has (or is being given) a remote description: candidates can go to it.
    pub remote_description: bool,
    /// Remote candidates that arrived before the remote description.
    pub pending_remote: Vec<IceCandidate>,
    /// Our candidates gathered before our description went out.
    pub held_local: Vec<HeldCandidate>,
    /// What our trickled candidates carry (from our description in use).
    pub candidate_tag: natter_ice::sdp::CandidateTag,
    /// What both sides' candidates tell about the first attempt (and why it failed).
    pub candidates: SetupWatch,
    pub setup: Setup,
    /// When ICE first found a working path (a failure after it is the DTLS handshake's).
    pub ice_connected_at: Option<Instant>,
    pub policy: RestartPolicy,
    /// Media flows (writers and receivers started at the first `connected`).
    pub media_started: bool,
    pub media_watch: MediaWatch,
    /// Media received so far, as last sampled.
    pub received: u64,
    /// The remote's picture has stood still since (ms since joining), on a connection that is up.
    pub video_stalled_since: Option<f64>,
    /// The TURN server (URL as configured) carrying this connection, if relayed.
    pub relay_in_use: Option<String>,
}

impl Link {
    pub fn new(role: Role, now: Instant) -> Link {
        Link {
            role,
            negotiation: Negotiation::Stable,
            generation: 0,
            remote_description: false,
            pending_remote: Vec::new(),
            held_local: Vec::new(),
            candidate_tag: Default::default(),
            candidates: SetupWatch::new(now),
            setup: Setup::Watching {
                next_check: now,
                pairs_asked: false,
                handshake_check: None,
                loss_asked: false,
            },
            ice_connected_at: None,
            policy: RestartPolicy::new(RestartTiming::default()),
            media_started: false,
            media_watch: MediaWatch::default(),
            received: 0,
            video_stalled_since: None,
            relay_in_use: None,
        }
    }

    /// The remote's description goes to the stack: candidates can follow it. A description may
    /// carry its candidates inside (aiortc does): the setup watch counts them as trickled.
    pub fn on_remote_description(&mut self, sdp: &str, now: Instant) {
        let (candidates, complete) = natter_ice::sdp::candidates_in(sdp);
        for candidate in candidates {
            self.candidates.on_remote_candidate(candidate, now);
        }
        if complete {
            self.candidates.on_remote_gathering_complete();
        }
        self.remote_description = true;
    }

    /// The next description's generation.
    pub fn next_generation(&mut self) -> u64 {
        self.generation += 1;
        self.generation
    }

    /// Remote candidates can go to the stack now (not while a restart's offer waits for servers).
    pub fn takes_remote_candidates(&self) -> bool {
        self.remote_description && !matches!(self.negotiation, Negotiation::AwaitingConfig { .. })
    }

    /// End-of-candidates in the W3C shape (an empty candidate with our tag).
    pub fn end_of_candidates(&self) -> IceCandidate {
        self.tagged(IceCandidate {
            candidate: String::new(),
            sdp_mid: None,
            sdp_mline_index: None,
            username_fragment: None,
        })
    }

    /// A local candidate in the W3C shape: what the stack filled in is kept, our tag (`sdpMid`
    /// of our first section, our ufrag) fills what it left empty.
    pub fn tagged(&self, from_stack: IceCandidate) -> IceCandidate {
        let tag = &self.candidate_tag;
        IceCandidate {
            sdp_mid: from_stack.sdp_mid.filter(|m| !m.is_empty()).or_else(|| tag.mid.clone()),
            sdp_mline_index: tag.mline_index.or(from_stack.sdp_mline_index),
            username_fragment: from_stack
                .username_fragment
                .filter(|u| !u.is_empty())
                .or_else(|| tag.ufrag.clone()),
            candidate: from_stack.candidate,
        }
    }
}

//! The core's decisions on virtual time: a room of cores whose signaling is routed in memory
//! (as the signaling server would) and whose peer connections answer every operation at once
//! (the stack's events are what each test says happened). No sockets, no sleeping.

use super::*;
use crate::report::PathReport;
use natter_signal::protocol::PeerInfo;

const FINGERPRINT: &str =
    "sha-256 0F:1E:2D:3C:4B:5A:69:78:87:96:A5:B4:C3:D2:E1:F0:0F:1E:2D:3C:4B:5A:69:78:87:96:A5:B4:C3:D2:E1:F0";

/// A description as a WebRTC stack writes it; `ufrag` tells descriptions apart.
fn description(ufrag: &str) -> String {
    format!(
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\na=fingerprint:{FINGERPRINT}\r\n\
         m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=ice-ufrag:{ufrag}\r\n\
         a=ice-pwd:abcdefghijklmnopqrstuv\r\na=setup:actpass\r\na=rtpmap:96 H264/90000\r\n"
    )
}

/// One participant of the room: its core and what it was asked to do.
struct Party {
    core: CallCore,
    /// Every link operation, in order.
    ops: Vec<(String, LinkOp)>,
    /// Every other output (messages, views, records …), in order.
    said: Vec<String>,
}

/// A room of cores on one virtual clock, with in-memory signaling.
struct Room {
    start: Instant,
    now: Instant,
    parties: BTreeMap<String, Party>,
    /// Inputs waiting to be delivered (to whom, what), in order.
    queue: VecDeque<(String, Input)>,
    /// Does the signaling server run (messages are routed, rejoins work)?
    signaling_up: bool,
    /// What a rejoin attempt is told while the server is up but says no.
    rejoin_refused: Option<String>,
    /// What pair counts and check loss the stacks report.
    pairs: PairCounts,
    check_loss: Option<f64>,
    /// Links whose media flows, as (receiver, sender).
    flowing: BTreeSet<(String, String)>,
    received: BTreeMap<(String, String), u64>,
}

impl Room {
    fn new() -> Room {
        let start = Instant::now();
        Room {
            start,
            now: start,
            parties: BTreeMap::new(),
            queue: VecDeque::new(),
            signaling_up: true,
            rejoin_refused: None,
            pairs: PairCounts::default(),
            check_loss: Some(0.0),
            flowing: BTreeSet::new(),
            received: BTreeMap::new(),
        }
    }

    fn welcome(&self, id: &str) -> Welcome {
        Welcome {
            id: id.to_string(),
            room: "room".into(),
            peers: self
                .parties
                .keys()
                .filter(|p| *p != id)
                .map(|p| PeerInfo {
                    id: p.clone(),
                    name: p.to_uppercase(),
                })
                .collect(),
        }
    }

    /// `id` joins: it offers to everyone there; they hear that it joined.
    fn join(&mut self, id: &str) {
        let settings = CoreSettings {
            id: id.to_string(),
            recovery: true,
        };
        let core = CallCore::new(settings, &self.welcome(id), self.now);
        for other in self.parties.keys() {
            let joined = ServerMessage::PeerJoined {
                id: id.to_string(),
                name: id.to_uppercase(),
            };
            self.queue.push_back((other.clone(), Input::Server(joined)));
        }
        let party = Party {
            core,
            ops: Vec::new(),
            said: Vec::new(),
        };
        self.parties.insert(id.to_string(), party);
        self.drive();
    }

    /// `id` leaves the room (the others hear it).
    fn leave(&mut self, id: &str) {
        self.parties.remove(id);
        for other in self.parties.keys() {
            let left = ServerMessage::PeerLeft { id: id.to_string() };
            self.queue.push_back((other.clone(), Input::Server(left)));
        }
        self.drive();
    }

    fn input(&mut self, to: &str, input: Input) {
        self.queue.push_back((to.to_string(), input));
        self.drive();
    }

    fn stack(&mut self, who: &str, remote: &str, event: StackEvent) {
        let input = Input::Stack {
            remote: remote.to_string(),
            event,
        };
        self.input(who, input);
    }

    /// Both ends of `a`–`b` report `state`.
    fn both(&mut self, a: &str, b: &str, state: PeerState) {
        if state == PeerState::Connected {
            self.stack(a, b, StackEvent::IceConnected);
            self.stack(b, a, StackEvent::IceConnected);
        }
        self.stack(a, b, StackEvent::State(state));
        self.stack(b, a, StackEvent::State(state));
    }

    /// Deliver everything waiting and perform every output, until the room is quiet.
    fn drive(&mut self) {
        for _ in 0..10_000 {
            let ids: Vec<String> = self.parties.keys().cloned().collect();
            for id in &ids {
                while let Some(output) = self.parties.get_mut(id).and_then(|p| p.core.poll_output()) {
                    self.perform(id, output);
                }
            }
            let Some((to, input)) = self.queue.pop_front() else {
                return;
            };
            if let Some(party) = self.parties.get_mut(&to) {
                party.core.handle_input(input, self.now);
            }
        }
        panic!("the room never went quiet");
    }

    /// Move the clock to `now + by`, firing every deadline on the way in order.
    fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        for _ in 0..100_000 {
            let next = self
                .parties
                .iter()
                .filter_map(|(id, p)| Some((p.core.poll_timeout()?.0, id.clone())))
                .min();
            match next {
                Some((at, id)) if at <= end => {
                    self.now = self.now.max(at);
                    self.input(&id, Input::Timeout);
                }
                _ => {
                    self.now = end;
                    return;
                }
            }
        }
        panic!("timers fire without end");
    }

    fn perform(&mut self, who: &str, output: Output) {
        let done = |remote: &str, result| {
            (
                who.to_string(),
                Input::Done {
                    remote: remote.to_string(),
                    result,
                },
            )
        };
        match output {
            Output::Signal(message) => {
                self.said(who, format!("{message:?}"));
                if let Some((to, routed)) = route(who, message)
                    && self.signaling_up
                {
                    self.queue.push_back((to, Input::Server(routed)));
                }
            }
            Output::Link { remote, op } => {
                let ufrag = format!("{who}{remote}{}", self.now.duration_since(self.start).as_millis());
                let reply = match &op {
                    LinkOp::Offer { generation, .. } | LinkOp::Answer { generation, .. } => {
                        Some(OpResult::LocalDescription {
                            generation: *generation,
                            sdp: description(&format!("{ufrag}g{generation}")),
                        })
                    }
                    LinkOp::RefreshCodecs => Some(OpResult::Codecs(Vec::new())),
                    LinkOp::ReadPath { purpose } => Some(OpResult::Path {
                        purpose: *purpose,
                        path: Some((host_path(), Some(1.0))),
                    }),
                    LinkOp::CountPairs => Some(OpResult::Pairs(Some(self.pairs))),
                    LinkOp::CheckLoss { purpose } => Some(OpResult::CheckLoss {
                        purpose: *purpose,
                        loss: self.check_loss,
                    }),
                    _ => None,
                };
                if let Some(result) = reply {
                    self.queue.push_back(done(&remote, result));
                }
                self.parties.get_mut(who).expect("party").ops.push((remote, op));
            }
            Output::FetchWorkingConfig { remote, purpose } => {
                let result = OpResult::WorkingConfig {
                    purpose,
                    config: natter_ice::IceConfig::default(),
                    dropped: Vec::new(),
                };
                self.queue.push_back(done(&remote, result));
            }
            Output::UseIceServers(_) => self.queue.push_back((who.to_string(), Input::IceServersApplied)),
            Output::Rejoin => {
                self.said(who, "rejoin".into());
                let input = match (self.signaling_up, &self.rejoin_refused) {
                    (true, None) => Input::SignalingBack(self.welcome(who)),
                    (true, Some(why)) => Input::RejoinFailed {
                        refused: Some(why.clone()),
                    },
                    (false, _) => Input::RejoinFailed { refused: None },
                };
                self.queue.push_back((who.to_string(), input));
            }
            Output::SampleMedia(remotes) => {
                let samples = remotes
                    .into_iter()
                    .map(|remote| {
                        let key = (who.to_string(), remote.clone());
                        let flowing = self.flowing.contains(&key);
                        let count = self.received.entry(key).or_default();
                        if flowing {
                            *count += 10;
                        }
                        let sample = MediaSample {
                            received: *count,
                            ongoing_freeze: None,
                        };
                        (remote, sample)
                    })
                    .collect();
                self.queue.push_back((who.to_string(), Input::MediaSamples(samples)));
            }
            other => self.said(who, format!("{other:?}")),
        }
    }

    fn said(&mut self, who: &str, what: String) {
        self.parties.get_mut(who).expect("party").said.push(what);
    }

    fn core(&self, id: &str) -> &CallCore {
        &self.parties[id].core
    }

    fn record(&self, id: &str, remote: &str) -> &CallRecord {
        self.core(id).record(remote).expect("a record")
    }

    fn ops(&self, id: &str, remote: &str) -> Vec<&LinkOp> {
        self.parties[id]
            .ops
            .iter()
            .filter(|(r, _)| r == remote)
            .map(|(_, op)| op)
            .collect()
    }

    fn count_ops(&self, id: &str, remote: &str, which: impl Fn(&LinkOp) -> bool) -> usize {
        self.ops(id, remote).into_iter().filter(|op| which(op)).count()
    }

    fn kinds(&self, id: &str, remote: &str) -> Vec<EventKind> {
        self.record(id, remote).events.iter().map(|e| e.kind).collect()
    }

    fn negotiation(&self, id: &str, remote: &str) -> &Negotiation {
        &self.core(id).links[remote].negotiation
    }

    /// Media flows both ways between `a` and `b` (or stops).
    fn media(&mut self, a: &str, b: &str, flowing: bool) {
        for key in [(a.to_string(), b.to_string()), (b.to_string(), a.to_string())] {
            if flowing {
                self.flowing.insert(key);
            } else {
                self.flowing.remove(&key);
            }
        }
    }
}

/// What the signaling server does with a client's message: who gets what.
fn route(from: &str, message: ClientMessage) -> Option<(String, ServerMessage)> {
    let from = from.to_string();
    Some(match message {
        ClientMessage::Offer { to, sdp } => (to, ServerMessage::Offer { from, sdp }),
        ClientMessage::Answer { to, sdp } => (to, ServerMessage::Answer { from, sdp }),
        ClientMessage::Candidate { to, candidate } => (to, ServerMessage::Candidate { from, candidate }),
        ClientMessage::MediaState {
            to,
            audio_muted,
            video_muted,
        } => (
            to,
            ServerMessage::MediaState {
                from,
                audio_muted,
                video_muted,
            },
        ),
        _ => return None,
    })
}

fn host_path() -> PathReport {
    PathReport {
        local_candidate: crate::report::CandidateType::Host,
        remote_candidate: crate::report::CandidateType::Host,
        protocol: "udp".into(),
        ..Default::default()
    }
}

fn is_restart_offer(op: &LinkOp) -> bool {
    matches!(op, LinkOp::Offer { ice_restart: true, .. })
}

/// The path between Alice and Bob stops for good: every attempt fails, for a minute.
fn path_dies_for_good(room: &mut Room) {
    room.media("alice", "bob", false);
    room.both("alice", "bob", PeerState::Failed);
    for _ in 0..12 {
        room.advance(Duration::from_secs(5));
        room.both("alice", "bob", PeerState::Failed);
    }
}

/// Alice is in the room; Bob joins, offers, and both connect.
fn connected_pair() -> Room {
    let mut room = Room::new();
    room.join("alice");
    room.join("bob");
    room.both("alice", "bob", PeerState::Connected);
    room.media("alice", "bob", true);
    room
}

#[test]
fn the_newcomer_offers_the_other_answers_and_both_connect() {
    let room = connected_pair();
    // Bob offered (once), Alice answered (once); nobody offered the other way.
    assert_eq!(
        room.count_ops("bob", "alice", |op| matches!(op, LinkOp::Offer { .. })),
        1
    );
    assert_eq!(
        room.count_ops("alice", "bob", |op| matches!(op, LinkOp::Answer { .. })),
        1
    );
    assert_eq!(
        room.count_ops("alice", "bob", |op| matches!(op, LinkOp::Offer { .. })),
        0
    );
    assert_eq!(
        room.count_ops("bob", "alice", |op| matches!(op, LinkOp::AcceptAnswer { .. })),
        1
    );
    for (me, them) in [("alice", "bob"), ("bob", "alice")] {
        let record = room.record(me, them);
        assert_eq!(record.state, PeerState::Connected);
        assert!(record.connect_ms.is_some());
        assert_eq!(record.remote_name, them.to_uppercase());
        assert_eq!(room.kinds(me, them), vec![EventKind::Connected]);
        assert_eq!(record.events[0].detail, "direct path (host → host)");
        assert_eq!(record.path, Some(host_path()), "the path as it came up is kept");
        // Media starts once, at the first `connected`.
        assert_eq!(room.count_ops(me, them, |op| *op == LinkOp::StartMedia), 1);
        assert_eq!(*room.negotiation(me, them), Negotiation::Stable);
    }
}

#[test]
fn our_candidates_never_overtake_the_description_they_belong_to() {
    let now = Instant::now();
    let welcome = Welcome {
        id: "bob".into(),
        room: "room".into(),
        peers: vec![PeerInfo {
            id: "alice".into(),
            name: "Alice".into(),
        }],
    };
    let settings = CoreSettings {
        id: "bob".into(),
        recovery: true,
    };
    let mut core = CallCore::new(settings, &welcome, now);
    let drain = |core: &mut CallCore| std::iter::from_fn(|| core.poll_output()).collect::<Vec<_>>();
    let opened = drain(&mut core);
    let generation = opened
        .iter()
        .find_map(|o| match o {
            Output::Link {
                op: LinkOp::Offer { generation, .. },
                ..
            } => Some(*generation),
            _ => None,
        })
        .expect("an offer asked of the stack");
    // The stack gathers while it sets our offer: its candidates come before the offer is back.
    let candidate = IceCandidate {
        candidate: "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host".into(),
        sdp_mid: None,
        sdp_mline_index: None,
        username_fragment: None,
    };
    let local = |event| Input::Stack {
        remote: "alice".into(),
        event,
    };
    core.handle_input(local(StackEvent::LocalCandidate { candidate, url: None }), now);
    core.handle_input(local(StackEvent::GatheringComplete), now);
    assert!(
        !drain(&mut core).iter().any(|o| matches!(o, Output::Signal(_))),
        "nothing goes out before the offer"
    );
    let sdp = description("bobufrag");
    let result = OpResult::LocalDescription { generation, sdp };
    core.handle_input(
        Input::Done {
            remote: "alice".into(),
            result,
        },
        now,
    );
    let sent: Vec<ClientMessage> = drain(&mut core)
        .into_iter()
        .filter_map(|o| match o {
            Output::Signal(m) => Some(m),
            _ => None,
        })
        .collect();
    assert!(matches!(sent[0], ClientMessage::Offer { .. }), "{sent:?}");
    let ClientMessage::Candidate { candidate, .. } = &sent[1] else {
        panic!("{sent:?}")
    };
    // Tagged with the offer's section and ufrag, so the remote can place it.
    assert_eq!(candidate.username_fragment.as_deref(), Some("bobufrag"));
    assert_eq!(candidate.sdp_mid.as_deref(), Some("0"));
    let ClientMessage::Candidate { candidate: end, .. } = &sent[2] else {
        panic!("{sent:?}")
    };
    assert!(end.candidate.is_empty(), "end-of-candidates last: {sent:?}");
    assert_eq!(sent.len(), 3);
}

#[test]
fn offers_that_cross_are_settled_by_the_first_offerer_keeping_its_own() {
    let mut room = connected_pair();
    // Both change their ICE servers at the same moment: both restart, both offer.
    let servers = || Input::Command(Command::SetIceConfig(natter_ice::IceConfig::default()));
    room.queue.push_back(("alice".into(), servers()));
    room.queue.push_back(("bob".into(), servers()));
    room.drive();
    // Both offered …
    assert_eq!(room.count_ops("alice", "bob", is_restart_offer), 1);
    assert_eq!(room.count_ops("bob", "alice", is_restart_offer), 1);
    // … Bob made the pair's first offer: his stands; Alice withdrew hers and answered his.
    assert_eq!(room.count_ops("alice", "bob", |op| *op == LinkOp::Rollback), 1);
    assert_eq!(room.count_ops("bob", "alice", |op| *op == LinkOp::Rollback), 0);
    assert_eq!(
        room.count_ops("alice", "bob", |op| matches!(op, LinkOp::Answer { .. })),
        2
    );
    assert_eq!(
        room.count_ops("bob", "alice", |op| matches!(op, LinkOp::AcceptAnswer { .. })),
        2
    );
    assert_eq!(
        room.count_ops("bob", "alice", |op| matches!(op, LinkOp::Answer { .. })),
        0
    );
    assert_eq!(*room.negotiation("alice", "bob"), Negotiation::Stable);
    assert_eq!(*room.negotiation("bob", "alice"), Negotiation::Stable);
    assert!(room.kinds("alice", "bob").contains(&EventKind::IceRestart));
}

#[test]
fn only_the_first_offerer_restarts_a_broken_path_and_the_other_side_follows() {
    let mut room = connected_pair();
    room.media("alice", "bob", false);
    room.both("alice", "bob", PeerState::Failed);
    room.advance(Duration::from_millis(50));
    // Bob offered first: he restarts; Alice waits for his offer and answers it.
    assert_eq!(room.count_ops("bob", "alice", is_restart_offer), 1);
    assert_eq!(room.count_ops("alice", "bob", is_restart_offer), 0);
    assert_eq!(
        room.count_ops("alice", "bob", |op| matches!(
            op,
            LinkOp::Answer { config: Some(_), .. }
        )),
        1
    );
    assert!(room.kinds("bob", "alice").contains(&EventKind::IceRestart));
    // The new path works: a recovery, told with the time it took.
    room.advance(Duration::from_millis(700));
    room.both("alice", "bob", PeerState::Connected);
    let recovered = room.record("bob", "alice").events.last().expect("an event").clone();
    assert_eq!(recovered.kind, EventKind::Recovered);
    assert!(
        recovered.detail.starts_with("moved the call with ALICE to direct path"),
        "{recovered:?}"
    );
    assert!(recovered.detail.contains("in 0.8 s"), "{recovered:?}");
    // Still no restart of Alice's own, however long it runs.
    room.advance(Duration::from_secs(30));
    assert_eq!(room.count_ops("alice", "bob", is_restart_offer), 0);
    assert_eq!(room.count_ops("bob", "alice", is_restart_offer), 1);
}

#[test]
fn a_path_that_stops_carrying_media_is_restarted_before_ice_notices() {
    let mut room = connected_pair();
    room.advance(Duration::from_secs(2));
    assert_eq!(
        room.count_ops("bob", "alice", is_restart_offer),
        0,
        "media flows: nothing to do"
    );
    room.media("alice", "bob", false);
    room.advance(Duration::from_millis(1_300));
    // A second of silence, then Bob restarts although the stack still says `connected`.
    assert_eq!(room.record("bob", "alice").state, PeerState::Connected);
    assert_eq!(room.count_ops("bob", "alice", is_restart_offer), 1);
    let silence = room
        .record("bob", "alice")
        .events
        .iter()
        .find(|e| e.kind == EventKind::Disconnected)
        .cloned();
    let silence = silence.expect("the silence is an event");
    assert!(
        silence.detail.starts_with("no audio or video from ALICE"),
        "{silence:?}"
    );
}

#[test]
fn a_link_that_never_comes_back_is_given_up_after_its_restarts() {
    let mut room = connected_pair();
    path_dies_for_good(&mut room);
    let restarts = room.count_ops("bob", "alice", is_restart_offer);
    assert_eq!(restarts, 5, "a bounded number of attempts");
    let record = room.record("bob", "alice");
    assert_eq!(record.state, PeerState::Failed);
    let gave_up = record
        .events
        .iter()
        .find(|e| e.kind == EventKind::GaveUp)
        .expect("gave up, in words");
    assert_eq!(gave_up.detail, "no path worked after 5 ICE restarts");
    // Final: nothing more happens, and a late `connected` does not revive the record.
    room.advance(Duration::from_secs(60));
    room.both("alice", "bob", PeerState::Connected);
    assert_eq!(room.count_ops("bob", "alice", is_restart_offer), 5);
    assert_eq!(room.record("bob", "alice").state, PeerState::Failed);
}

#[test]
fn a_handshake_that_fails_on_a_clean_path_is_refused_in_words_and_never_restarted() {
    let mut room = Room::new();
    room.join("alice");
    room.join("bob");
    room.stack("bob", "alice", StackEvent::IceConnected);
    room.stack("bob", "alice", StackEvent::State(PeerState::Failed));
    let record = room.record("bob", "alice");
    assert_eq!(record.state, PeerState::Failed);
    let refused = record
        .events
        .iter()
        .find(|e| e.kind == EventKind::Refused)
        .expect("refused");
    assert_eq!(refused.detail, format!("refused the call with ALICE: {DTLS_REFUSED}"));
    room.advance(Duration::from_secs(60));
    assert_eq!(room.count_ops("bob", "alice", is_restart_offer), 0);
}

#[test]
fn a_handshake_stuck_on_a_lossy_path_gets_longer_and_is_never_called_tampering() {
    let mut room = Room::new();
    room.check_loss = Some(0.2);
    room.join("alice");
    room.join("bob");
    room.stack("bob", "alice", StackEvent::IceConnected);
    room.advance(Duration::from_secs(6));
    assert!(
        !room.kinds("bob", "alice").contains(&EventKind::Refused),
        "lossy: patient beyond 5 s"
    );
    room.advance(Duration::from_secs(7));
    let record = room.record("bob", "alice");
    let refused = record
        .events
        .iter()
        .find(|e| e.kind == EventKind::Refused)
        .expect("refused at 12 s");
    assert!(refused.detail.ends_with(DTLS_INCOMPLETE), "{refused:?}");
    assert_eq!(record.state, PeerState::Failed);
}

#[test]
fn an_offer_without_a_fingerprint_is_refused_and_an_established_call_ignores_a_bad_one() {
    let mut room = Room::new();
    room.join("alice");
    let unsigned = description("mallory").replace(&format!("a=fingerprint:{FINGERPRINT}\r\n"), "");
    let offer = ServerMessage::Offer {
        from: "mallory".into(),
        sdp: unsigned.clone(),
    };
    room.input("alice", Input::Server(offer));
    let record = room.record("alice", "mallory");
    assert_eq!(record.state, PeerState::Failed);
    assert!(room.kinds("alice", "mallory").contains(&EventKind::Refused));
    assert_eq!(
        room.count_ops("alice", "mallory", |op| matches!(op, LinkOp::Answer { .. })),
        0
    );

    let mut room = connected_pair();
    let offer = ServerMessage::Offer {
        from: "bob".into(),
        sdp: unsigned,
    };
    room.input("alice", Input::Server(offer));
    assert_eq!(room.record("alice", "bob").state, PeerState::Connected);
    assert!(room.kinds("alice", "bob").contains(&EventKind::Ignored));
}

#[test]
fn a_hopeless_first_attempt_is_named_early_from_the_candidates() {
    let mut room = Room::new();
    room.pairs = PairCounts { total: 4, failed: 4 };
    room.join("alice");
    room.join("bob");
    for (me, them) in [("alice", "bob"), ("bob", "alice")] {
        let host = IceCandidate {
            candidate: "candidate:1 1 udp 2130706431 10.0.0.1 5000 typ host".into(),
            sdp_mid: Some("0".into()),
            sdp_mline_index: Some(0),
            username_fragment: None,
        };
        room.stack(
            me,
            them,
            StackEvent::LocalCandidate {
                candidate: host,
                url: None,
            },
        );
        room.stack(me, them, StackEvent::GatheringComplete);
    }
    room.advance(Duration::from_millis(600));
    let record = room.record("bob", "alice");
    assert_eq!(record.state, PeerState::Failed);
    let failed = record
        .events
        .iter()
        .find(|e| e.kind == EventKind::Failed)
        .expect("named");
    assert!(failed.detail.contains("neither side has a TURN relay"), "{failed:?}");
}

#[test]
fn calls_go_on_while_signaling_is_away_and_rejoining_keeps_them() {
    let mut room = connected_pair();
    room.signaling_up = false;
    room.input("alice", Input::SignalingLost);
    assert_eq!(
        room.core("alice").signaling_record().state,
        SignalingState::Reconnecting
    );
    // Attempts back off: 0.25, 0.5, 1, 2, 4, 4 … s.
    room.advance(Duration::from_millis(260));
    room.advance(Duration::from_millis(500));
    room.advance(Duration::from_millis(1_000));
    let attempts = room.parties["alice"].said.iter().filter(|s| *s == "rejoin").count();
    assert_eq!(attempts, 3);
    room.advance(Duration::from_secs(10));
    let attempts = room.parties["alice"].said.iter().filter(|s| *s == "rejoin").count();
    assert_eq!(attempts, 6, "2 s, 4 s, 4 s later");
    // The call is untouched meanwhile (media flows), and kept when the server is back.
    assert_eq!(room.record("alice", "bob").state, PeerState::Connected);
    room.signaling_up = true;
    room.advance(Duration::from_secs(4));
    let signaling = room.core("alice").signaling_record().clone();
    assert_eq!(signaling.state, SignalingState::Connected);
    assert_eq!(signaling.reconnects, 1);
    let kinds: Vec<EventKind> = signaling.events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, vec![EventKind::Lost, EventKind::Reconnected]);
    assert_eq!(
        room.count_ops("alice", "bob", |op| matches!(op, LinkOp::Open { .. })),
        1,
        "no second call"
    );
    assert_eq!(
        room.count_ops("alice", "bob", |op| matches!(op, LinkOp::Offer { .. })),
        0
    );
}

#[test]
fn after_rejoining_a_call_that_had_ended_starts_again_and_a_refusal_is_final() {
    let mut room = connected_pair();
    path_dies_for_good(&mut room);
    assert_eq!(room.record("bob", "alice").state, PeerState::Failed);
    room.input("bob", Input::SignalingLost);
    room.advance(Duration::from_secs(1));
    // Back: the given-up call is dropped and Bob offers afresh, as a newcomer would.
    assert_eq!(
        room.count_ops("bob", "alice", |op| matches!(op, LinkOp::Open { .. })),
        2
    );
    assert_eq!(
        room.count_ops("bob", "alice", |op| matches!(
            op,
            LinkOp::Offer { ice_restart: false, .. }
        )),
        2
    );
    assert_eq!(room.record("bob", "alice").state, PeerState::New);

    let mut room = connected_pair();
    room.rejoin_refused = Some("the signaling server refused to let us back in (room_locked): no".into());
    room.input("alice", Input::SignalingLost);
    room.advance(Duration::from_secs(30));
    let signaling = room.core("alice").signaling_record();
    assert_eq!(signaling.state, SignalingState::Refused);
    let attempts = room.parties["alice"].said.iter().filter(|s| *s == "rejoin").count();
    assert_eq!(attempts, 1, "a refusal is not retried");
}

#[test]
fn three_participants_make_three_calls_and_a_departure_ends_only_its_own() {
    let mut room = Room::new();
    room.join("alice");
    room.join("bob");
    room.join("carol");
    // Each pair has one call, offered by the later of the two.
    for (offerer, answerer) in [("bob", "alice"), ("carol", "alice"), ("carol", "bob")] {
        assert_eq!(
            room.count_ops(offerer, answerer, |op| matches!(op, LinkOp::Offer { .. })),
            1
        );
        assert_eq!(
            room.count_ops(answerer, offerer, |op| matches!(op, LinkOp::Offer { .. })),
            0
        );
        room.both(offerer, answerer, PeerState::Connected);
    }
    room.advance(Duration::from_secs(1));
    room.leave("bob");
    for stayer in ["alice", "carol"] {
        let record = room.record(stayer, "bob");
        assert!(record.left_ms.is_some(), "{stayer} saw Bob leave");
        let ops = room.ops(stayer, "bob");
        assert_eq!(
            ops.last(),
            Some(&&LinkOp::Close),
            "{stayer} closed Bob's connection last"
        );
        assert!(room.parties[stayer].said.iter().any(|s| s.starts_with("Departed")));
    }
    assert_eq!(room.record("alice", "carol").state, PeerState::Connected);
    assert_eq!(room.record("carol", "alice").left_ms, None);
    assert_eq!(room.count_ops("alice", "carol", |op| *op == LinkOp::Close), 0);
    // Bob comes back: a new call, offered by him as a newcomer, on a new connection.
    room.join("bob");
    assert_eq!(
        room.count_ops("alice", "bob", |op| matches!(op, LinkOp::Open { .. })),
        2
    );
    assert_eq!(
        room.count_ops("alice", "bob", |op| matches!(op, LinkOp::Answer { .. })),
        2
    );
    assert_eq!(room.record("alice", "bob").left_ms, None);
}

#[test]
fn mute_state_reaches_the_others_when_a_call_starts_and_when_it_changes() {
    let mut room = Room::new();
    room.join("alice");
    room.input(
        "alice",
        Input::LocalMedia {
            audio_muted: true,
            video_muted: false,
        },
    );
    room.join("bob");
    room.both("alice", "bob", PeerState::Connected);
    assert!(
        room.record("bob", "alice").remote_audio_muted,
        "told as the call started"
    );
    room.input(
        "alice",
        Input::LocalMedia {
            audio_muted: false,
            video_muted: true,
        },
    );
    let record = room.record("bob", "alice");
    assert!(!record.remote_audio_muted && record.remote_video_muted);
}

/// The presence events `who`'s core gave its view, in order.
fn presence(room: &Room, who: &str) -> Vec<String> {
    room.parties[who]
        .said
        .iter()
        .filter(|s| s.starts_with("View(Presence"))
        .cloned()
        .collect()
}

#[test]
fn joins_departures_and_lost_calls_after_ours_are_announced_once() {
    let mut room = connected_pair();
    assert_eq!(
        presence(&room, "alice"),
        [r#"View(Presence { tile_id: "bob", label: "BOB", change: Joined })"#]
    );
    assert!(
        presence(&room, "bob").is_empty(),
        "Alice was there before Bob came: no news for him"
    );
    room.join("carol");
    room.leave("carol");
    assert_eq!(
        presence(&room, "bob")[1..],
        [r#"View(Presence { tile_id: "carol", label: "CAROL", change: Left })"#]
    );
    path_dies_for_good(&mut room);
    let lost = r#"View(Presence { tile_id: "alice", label: "ALICE", change: Lost })"#;
    assert_eq!(presence(&room, "bob").iter().filter(|s| *s == lost).count(), 1);
}

#[test]
fn a_core_that_starts_muted_says_so_as_each_call_starts() {
    let mut room = Room::new();
    room.join("alice");
    let settings = CoreSettings {
        id: "bob".into(),
        recovery: true,
    };
    // Bob kept his microphone off from an earlier call: his core starts with it off.
    let core = CallCore::new(settings, &room.welcome("bob"), room.now).with_local_media(true, false);
    room.queue.push_back((
        "alice".into(),
        Input::Server(ServerMessage::PeerJoined {
            id: "bob".into(),
            name: "BOB".into(),
        }),
    ));
    room.parties.insert(
        "bob".into(),
        Party {
            core,
            ops: Vec::new(),
            said: Vec::new(),
        },
    );
    room.drive();
    room.both("alice", "bob", PeerState::Connected);
    let record = room.record("alice", "bob");
    assert!(record.remote_audio_muted && !record.remote_video_muted, "{record:?}");
}

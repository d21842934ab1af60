//! Asking a sender again for the video packets that did not arrive (RFC 4585 generic NACK),
//! paced by the round trip: a missing packet is asked for once it has been missing a moment
//! (reordered packets arrive within milliseconds), and again only when the resend had time to come
//! back and did not, at most [`MAX_ASKS`] times and for at most [`GIVE_UP_AFTER`].
//!
//! It replaces the stack's generator, which asks for every missing packet every 100 ms with no
//! limit and, because resends arrive on their own RTX stream, never notices that a resend filled
//! the gap: each lost packet was asked for again and again while its resend was on the way.
//! This one reads the original sequence number at the head of every RTX packet (RFC 4588).
//! An interceptor in the stack's chain (slot of the stack's NACK generator); its decisions are
//! pure functions of what it was shown and when, tested below on virtual time.

use crate::bwe::LinkEstimate;
use rtc::interceptor::{AttributedPacket, Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::rtcp::transport_feedbacks::transport_layer_nack::{TransportLayerNack, nack_pairs_from_sequence_numbers};
use rtc::sansio::Protocol;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

/// A packet is asked for after missing this long (a reordered one usually arrives sooner).
pub const FIRST_ASK_AFTER: Duration = Duration::from_millis(10);
/// Asked again when this much more than a round trip has passed without it.
const RESEND_MARGIN: Duration = Duration::from_millis(20);
/// At most this many requests per packet.
pub const MAX_ASKS: u8 = 5;
/// A packet missing longer than this is no use to the jitter buffer any more.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(1);
/// The missing packets tracked per stream at most (a jump beyond starts afresh).
const MAX_TRACKED: u64 = 512;
const TICK: Duration = Duration::from_millis(10);
/// Round trip assumed before the reports have measured one.
const DEFAULT_RTT: Duration = Duration::from_millis(100);

/// Which SSRCs carry RTX (RFC 4588) for which media stream, as the stack binds them: what the
/// requester and the resend budget both need to see through a resend to the packet it repeats.
#[derive(Debug, Default)]
pub struct RtxStreams {
    rtx_to_media: HashMap<u32, u32>,
}

/// What an RTP packet carries: a packet of `media_ssrc` with this sequence number, either itself
/// or resent on that stream's RTX stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Carried {
    pub media_ssrc: u32,
    pub sequence_number: u16,
    pub resent: bool,
}

impl RtxStreams {
    pub fn bind(&mut self, info: &StreamInfo) {
        if let Some(rtx) = info.ssrc_rtx {
            self.rtx_to_media.insert(rtx, info.ssrc);
        }
    }

    pub fn unbind(&mut self, info: &StreamInfo) {
        if let Some(rtx) = info.ssrc_rtx {
            self.rtx_to_media.remove(&rtx);
        }
    }

    /// The packet an RTP packet carries; `None` for an RTX packet without an original sequence
    /// number (padding).
    pub fn carried(&self, packet: &rtc::rtp::Packet) -> Option<Carried> {
        let ssrc = packet.header.ssrc;
        match self.rtx_to_media.get(&ssrc) {
            // The original sequence number leads the RTX payload.
            Some(&media_ssrc) => {
                let osn = packet.payload.get(..2)?;
                Some(Carried {
                    media_ssrc,
                    sequence_number: u16::from_be_bytes([osn[0], osn[1]]),
                    resent: true,
                })
            }
            None => Some(Carried {
                media_ssrc: ssrc,
                sequence_number: packet.header.sequence_number,
                resent: false,
            }),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Missing {
    since: Instant,
    last_asked: Option<Instant>,
    asked: u8,
}

/// One received stream's gaps, by extended sequence number.
#[derive(Debug, Default)]
struct StreamGaps {
    highest: Option<u64>,
    missing: BTreeMap<u64, Missing>,
}

impl StreamGaps {
    fn extend(&self, seq: u16) -> u64 {
        let Some(highest) = self.highest else {
            return u64::from(seq) + (1 << 16);
        };
        let candidate = (highest & !0xffff) | u64::from(seq);
        [candidate.saturating_sub(1 << 16), candidate, candidate + (1 << 16)]
            .into_iter()
            .min_by_key(|c| c.abs_diff(highest))
            .unwrap_or(candidate)
    }

    /// A packet (an original or a resend) with `seq` arrived.
    fn arrived(&mut self, seq: u16, now: Instant) {
        let ext = self.extend(seq);
        match self.highest {
            None => self.highest = Some(ext),
            Some(highest) if ext > highest => {
                if ext - highest > MAX_TRACKED {
                    // The stream jumped (a new source, a long outage): nothing to ask for.
                    self.missing.clear();
                } else {
                    for lost in highest + 1..ext {
                        self.missing.insert(
                            lost,
                            Missing {
                                since: now,
                                last_asked: None,
                                asked: 0,
                            },
                        );
                    }
                }
                self.highest = Some(ext);
            }
            Some(_) => {
                self.missing.remove(&ext);
            }
        }
    }

    /// The sequence numbers to ask for now, given the round trip.
    fn due(&mut self, now: Instant, rtt: Duration) -> Vec<u16> {
        self.missing
            .retain(|_, m| now.saturating_duration_since(m.since) < GIVE_UP_AFTER && m.asked < MAX_ASKS);
        let mut due = Vec::new();
        for (&ext, missing) in self.missing.iter_mut() {
            let ask = match missing.last_asked {
                None => now.saturating_duration_since(missing.since) >= FIRST_ASK_AFTER,
                Some(at) => now.saturating_duration_since(at) >= rtt + RESEND_MARGIN,
            };
            if ask {
                missing.last_asked = Some(now);
                missing.asked += 1;
                due.push(ext as u16);
            }
        }
        due
    }
}

/// The NACK side of every stream we receive on one connection.
pub struct NackRequester {
    estimate: LinkEstimate,
    streams: HashMap<u32, StreamGaps>,
    rtx: RtxStreams,
    sender_ssrc: u32,
    next_tick: Option<Instant>,
    /// NACKs asked for (packets, counting repeats), for tests and logs.
    requested: u64,
    read_queue: VecDeque<TaggedPacket>,
    write_queue: VecDeque<TaggedPacket>,
}

impl NackRequester {
    /// `estimate`: the connection's, for the round trip (measured from the RTCP reports of what
    /// we send on it).
    pub fn new(estimate: LinkEstimate) -> Self {
        Self {
            estimate,
            streams: HashMap::new(),
            rtx: RtxStreams::default(),
            sender_ssrc: {
                let mut bytes = [0u8; 4];
                getrandom::fill(&mut bytes).expect("the operating system's random number generator works");
                u32::from_be_bytes(bytes)
            },
            next_tick: None,
            requested: 0,
            read_queue: VecDeque::new(),
            write_queue: VecDeque::new(),
        }
    }

    fn on_rtp(&mut self, packet: &rtc::rtp::Packet, now: Instant) {
        let Some(carried) = self.rtx.carried(packet) else {
            return;
        }; // padding only
        let Some(stream) = self.streams.get_mut(&carried.media_ssrc) else {
            return;
        };
        stream.arrived(carried.sequence_number, now);
        if !stream.missing.is_empty() && self.next_tick.is_none() {
            self.next_tick = Some(now + FIRST_ASK_AFTER.min(TICK));
        }
    }

    fn ask(&mut self, now: Instant) {
        let rtt = self.estimate.get().rtt.unwrap_or(DEFAULT_RTT);
        let mut any_missing = false;
        for (&media_ssrc, stream) in self.streams.iter_mut() {
            let due = stream.due(now, rtt);
            any_missing |= !stream.missing.is_empty();
            if due.is_empty() {
                continue;
            }
            self.requested += due.len() as u64;
            let nack = TransportLayerNack {
                sender_ssrc: self.sender_ssrc,
                media_ssrc,
                nacks: nack_pairs_from_sequence_numbers(&due),
            };
            self.write_queue.push_back(TaggedPacket {
                now,
                transport: Default::default(),
                message: AttributedPacket::new(Packet::Rtcp(vec![Box::new(nack)])),
            });
        }
        self.next_tick = any_missing.then_some(now + TICK);
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for NackRequester {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtp(packet) = &msg.message.packet {
            self.on_rtp(packet, msg.now);
        }
        self.read_queue.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read_queue.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write_queue.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.write_queue.pop_front()
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), Self::Error> {
        if self.next_tick.is_some_and(|at| now >= at) {
            self.ask(now);
        }
        Ok(())
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.next_tick
    }
}

impl Interceptor for NackRequester {
    fn bind_remote_stream(&mut self, info: &StreamInfo) {
        if info
            .rtcp_feedback
            .iter()
            .any(|fb| fb.typ == "nack" && fb.parameter.is_empty())
        {
            self.streams.entry(info.ssrc).or_default();
            self.rtx.bind(info);
        }
    }

    fn unbind_remote_stream(&mut self, info: &StreamInfo) {
        self.streams.remove(&info.ssrc);
        self.rtx.unbind(info);
    }

    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::interceptor::RTCPFeedback;

    fn rtp(ssrc: u32, seq: u16, payload: &[u8]) -> rtc::rtp::Packet {
        let mut packet = rtc::rtp::Packet::default();
        packet.header.ssrc = ssrc;
        packet.header.sequence_number = seq;
        packet.payload = bytes::Bytes::copy_from_slice(payload);
        packet
    }

    fn requester(rtt_ms: u64) -> NackRequester {
        let estimate = LinkEstimate::default();
        estimate.set_rtt(Duration::from_millis(rtt_ms));
        let mut requester = NackRequester::new(estimate);
        let nack = RTCPFeedback {
            typ: "nack".into(),
            parameter: String::new(),
        };
        requester.bind_remote_stream(&StreamInfo {
            ssrc: 1,
            ssrc_rtx: Some(2),
            rtcp_feedback: vec![nack],
            ..Default::default()
        });
        requester
    }

    /// The sequence numbers each NACK sent until `until` asked for, ticking every 10 ms.
    fn asked(requester: &mut NackRequester, from: Instant, until: Instant) -> Vec<Vec<u16>> {
        let mut at = from;
        let mut out = Vec::new();
        while at <= until {
            requester.handle_timeout(at).unwrap();
            while let Some(msg) = requester.poll_write() {
                let Packet::Rtcp(packets) = msg.message.packet else {
                    continue;
                };
                for p in packets {
                    let nack = p.as_any().downcast_ref::<TransportLayerNack>().unwrap();
                    out.push(nack.nacks.iter().flat_map(|n| n.packet_list()).collect());
                }
            }
            at += Duration::from_millis(5);
        }
        out
    }

    #[test]
    fn a_missing_packet_is_asked_for_once_then_again_only_after_a_round_trip() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut requester = requester(50);
        requester.on_rtp(&rtp(1, 10, b"a"), t0);
        requester.on_rtp(&rtp(1, 12, b"c"), t0);
        assert!(
            asked(&mut requester, t0, ms(5)).is_empty(),
            "not at once: it may only be late"
        );
        assert_eq!(
            asked(&mut requester, ms(10), ms(75)),
            vec![vec![11]],
            "once, then wait a round trip"
        );
        assert_eq!(
            asked(&mut requester, ms(80), ms(120)),
            vec![vec![11]],
            "the resend did not come: again"
        );
        // The resend arrives on the RTX stream, its original number first.
        requester.on_rtp(&rtp(2, 900, &[0, 11, b'b']), ms(125));
        assert!(
            asked(&mut requester, ms(125), ms(400)).is_empty(),
            "filled: never asked again"
        );
        assert_eq!(requester.next_tick, None, "nothing missing: no more wake-ups");
    }

    #[test]
    fn a_reordered_packet_is_not_asked_for() {
        let t0 = Instant::now();
        let mut requester = requester(50);
        requester.on_rtp(&rtp(1, 1, b"a"), t0);
        requester.on_rtp(&rtp(1, 3, b"c"), t0);
        requester.on_rtp(&rtp(1, 2, b"b"), t0 + Duration::from_millis(3));
        assert!(asked(&mut requester, t0, t0 + Duration::from_millis(200)).is_empty());
        assert_eq!(requester.requested, 0);
    }

    #[test]
    fn requests_stop_after_the_limit() {
        let t0 = Instant::now();
        let mut requester = requester(10);
        requester.on_rtp(&rtp(1, 100, b"a"), t0);
        requester.on_rtp(&rtp(1, 105, b"f"), t0);
        let asks = asked(&mut requester, t0, t0 + Duration::from_secs(2));
        assert_eq!(asks.len(), usize::from(MAX_ASKS));
        assert!(asks.iter().all(|a| a == &vec![101, 102, 103, 104]));
    }

    #[test]
    fn a_jump_is_not_a_flood_of_requests() {
        let t0 = Instant::now();
        let mut requester = requester(10);
        requester.on_rtp(&rtp(1, 0, b"a"), t0);
        requester.on_rtp(&rtp(1, 30_000, b"b"), t0);
        assert!(asked(&mut requester, t0, t0 + Duration::from_millis(100)).is_empty());
    }

    #[test]
    fn sequence_numbers_wrap() {
        let t0 = Instant::now();
        let mut requester = requester(10);
        requester.on_rtp(&rtp(1, 65_534, b"a"), t0);
        requester.on_rtp(&rtp(1, 1, b"d"), t0);
        assert_eq!(
            asked(&mut requester, t0, t0 + Duration::from_millis(12)),
            vec![vec![65_535, 0]]
        );
    }

    #[test]
    fn streams_without_nack_are_left_alone() {
        let t0 = Instant::now();
        let mut requester = requester(10);
        requester.bind_remote_stream(&StreamInfo {
            ssrc: 7,
            ..Default::default()
        });
        requester.on_rtp(&rtp(7, 1, b"a"), t0);
        requester.on_rtp(&rtp(7, 9, b"a"), t0);
        assert!(asked(&mut requester, t0, t0 + Duration::from_millis(100)).is_empty());
    }
}

//! What the other side received of what we send. A call is only good when the *remote* gets our
//! media: Natter once reported `ok` for calls in which the browser on the other end received
//! nothing. RTCP reception report blocks (RFC 3550 §6.4, in the remote's receiver *and* sender
//! reports) about our SSRCs become the W3C `remote-inbound-rtp` figures: packets received, lost,
//! fraction lost, jitter, round-trip time.
//!
//! The `webrtc` crate ends inbound RTCP inside its interceptor chain, reads only receiver-report
//! packets (a browser that also sends puts its report blocks in sender reports) and mistakes the
//! extended highest sequence number for a packet count. So `ReceptionReader` sits in the chain
//! and feeds a `ReceptionBoard` shared with the engine; `StreamReception` is the arithmetic,
//! without I/O.

use rtc::interceptor::{Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtcp::reception_report::ReceptionReport;
use rtc::rtcp::sender_report::SenderReport;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::sync::Locked;

/// Slot in the interceptor registry (a distance from the wire): after every built-in
/// interceptor, before the keyframe forwarder (which lets only keyframe requests through).
pub const READER_SLOT: usize = 13_500;

/// One of our outgoing streams and what the remote said about it.
#[derive(Debug, Clone, Default)]
pub struct StreamReception {
    /// RTP clock rate of the stream (jitter is reported in its units).
    clock_rate: u32,
    first_sequence: Option<u16>,
    pub packets_sent: u64,
    /// Reception report blocks about this stream so far.
    pub reports: u64,
    pub remote_packets_received: u64,
    pub remote_packets_lost: i64,
    /// Fraction lost since the previous report (0–1).
    pub remote_fraction_lost: f64,
    pub remote_jitter_ms: f64,
    pub rtt_ms: Option<f64>,
}

impl StreamReception {
    fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate,
            ..Self::default()
        }
    }

    /// This stream in the report (`codec`: what it is sent as).
    pub fn report(&self, codec: Option<String>) -> crate::report::SentStreamReport {
        crate::report::SentStreamReport {
            codec,
            packets_sent: self.packets_sent,
            reports: self.reports,
            remote_packets_received: self.remote_packets_received,
            remote_packets_lost: self.remote_packets_lost,
            remote_fraction_lost: self.remote_fraction_lost,
            remote_jitter_ms: self.remote_jitter_ms,
            rtt_ms: self.rtt_ms,
            ..Default::default()
        }
    }

    pub fn on_sent(&mut self, sequence: u16) {
        self.first_sequence.get_or_insert(sequence);
        self.packets_sent += 1;
    }

    /// A report block about this stream; `now_ntp` is the middle 32 bits of the NTP time now
    /// (RFC 3550 §6.4.1: RTT = now − LSR − DLSR, all in 1/65536 s).
    pub fn on_report(&mut self, block: &ReceptionReport, now_ntp: u32) {
        self.reports += 1;
        // Packets expected = extended highest sequence − first sequence + 1 (the remote's
        // extended counter starts at the first packet it saw, in cycle 0).
        let expected = match self.first_sequence {
            Some(first) => u64::from(block.last_sequence_number.wrapping_sub(u32::from(first))).wrapping_add(1),
            None => 0,
        };
        // A report about packets we never sent (a bogus block, or wrap-around confusion) must
        // not claim more than we sent.
        let expected = if expected > self.packets_sent.saturating_mul(2).max(1) {
            0
        } else {
            expected
        };
        // total_lost is a signed 24-bit number (duplicates can make it negative).
        let lost = sign_extend_24(block.total_lost);
        self.remote_packets_lost = lost;
        self.remote_packets_received = (expected as i64 - lost).clamp(0, self.packets_sent as i64) as u64;
        self.remote_fraction_lost = f64::from(block.fraction_lost) / 256.0;
        if self.clock_rate > 0 {
            self.remote_jitter_ms = f64::from(block.jitter) / f64::from(self.clock_rate) * 1000.0;
        }
        if block.last_sender_report != 0 {
            let rtt = now_ntp.wrapping_sub(block.last_sender_report).wrapping_sub(block.delay);
            // More than a minute is a wrap or a clock jump, not a round trip.
            if rtt < 60 * 65_536 {
                self.rtt_ms = Some(f64::from(rtt) / 65_536.0 * 1000.0);
            }
        }
    }
}

fn sign_extend_24(value: u32) -> i64 {
    let v = (value & 0x00ff_ffff) as i64;
    if v & 0x0080_0000 != 0 { v - 0x0100_0000 } else { v }
}

/// The middle 32 bits of the NTP time of `now` (wall clock, as the stack stamps its SRs).
fn ntp_middle(now: SystemTime) -> u32 {
    let since_unix = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since_unix.as_secs() + 0x83AA_7E80;
    let fraction = (u64::from(since_unix.subsec_nanos()) << 32) / 1_000_000_000;
    (((seconds << 32) | fraction) >> 16) as u32
}

/// Our outgoing streams on one connection, by SSRC; shared by the reader in the stack's
/// interceptor chain and the engine.
#[derive(Clone, Default)]
pub struct ReceptionBoard(Arc<Mutex<HashMap<u32, StreamReception>>>);

impl ReceptionBoard {
    /// Watch reports about `ssrc` (one of our senders).
    pub fn register(&self, ssrc: u32, clock_rate: u32) {
        self.0
            .locked()
            .entry(ssrc)
            .or_insert_with(|| StreamReception::new(clock_rate));
    }

    pub fn get(&self, ssrc: u32) -> Option<StreamReception> {
        self.0.locked().get(&ssrc).cloned()
    }

    /// The interceptor to put into this connection's chain.
    pub fn reader(&self) -> ReceptionReader {
        ReceptionReader {
            board: self.clone(),
            inbound: VecDeque::new(),
            outbound: VecDeque::new(),
        }
    }

    fn on_sent(&self, ssrc: u32, sequence: u16) {
        if let Some(stream) = self.0.locked().get_mut(&ssrc) {
            stream.on_sent(sequence);
        }
    }

    fn on_blocks(&self, blocks: &[ReceptionReport]) {
        let now_ntp = ntp_middle(SystemTime::now());
        let mut streams = self.0.locked();
        for block in blocks {
            if let Some(stream) = streams.get_mut(&block.ssrc) {
                stream.on_report(block, now_ntp);
            }
        }
    }
}

/// Reads report blocks on their way in and counts our RTP on its way out; passes everything on
/// unchanged.
pub struct ReceptionReader {
    board: ReceptionBoard,
    inbound: VecDeque<TaggedPacket>,
    outbound: VecDeque<TaggedPacket>,
}

impl rtc::sansio::Protocol<TaggedPacket, TaggedPacket, ()> for ReceptionReader {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &msg.message.packet {
            for packet in packets {
                let any = packet.as_any();
                if let Some(sr) = any.downcast_ref::<SenderReport>() {
                    self.board.on_blocks(&sr.reports);
                } else if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
                    self.board.on_blocks(&rr.reports);
                }
            }
        }
        self.inbound.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.inbound.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtp(packet) = &msg.message.packet {
            self.board.on_sent(packet.header.ssrc, packet.header.sequence_number);
        }
        self.outbound.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.outbound.pop_front()
    }
}

impl Interceptor for ReceptionReader {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(ssrc: u32, highest: u32, lost: u32, fraction: u8) -> ReceptionReport {
        ReceptionReport {
            ssrc,
            fraction_lost: fraction,
            total_lost: lost,
            last_sequence_number: highest,
            jitter: 900,
            last_sender_report: 0,
            delay: 0,
        }
    }

    #[test]
    fn packets_received_count_from_our_first_sequence_number() {
        let mut stream = StreamReception::new(90_000);
        for seq in 65_530u16..=65_535 {
            stream.on_sent(seq);
        }
        for seq in 0u16..94 {
            stream.on_sent(seq);
        }
        assert_eq!(stream.packets_sent, 100);
        // The remote saw up to sequence 93 of the next cycle and lost 10.
        stream.on_report(&block(1, (1 << 16) + 93, 10, 25), 0);
        assert_eq!(stream.remote_packets_received, 90);
        assert_eq!(stream.remote_packets_lost, 10);
        assert!((stream.remote_fraction_lost - 25.0 / 256.0).abs() < 1e-9);
        assert!((stream.remote_jitter_ms - 10.0).abs() < 1e-9);
    }

    #[test]
    fn a_report_of_nothing_received_stays_zero_and_bogus_blocks_claim_nothing() {
        let mut stream = StreamReception::new(48_000);
        for seq in 1000u16..1050 {
            stream.on_sent(seq);
        }
        // A block from a receiver that got nothing: highest = 0, the rest unset.
        stream.on_report(&block(1, 0, 0, 0), 0);
        assert_eq!(stream.reports, 1);
        assert_eq!(stream.remote_packets_received, 0);
        // Negative cumulative loss (duplicates) is a signed 24-bit value.
        stream.on_report(&block(1, 1049, 0x00ff_fffe, 0), 0);
        assert_eq!(stream.remote_packets_lost, -2);
        assert_eq!(stream.remote_packets_received, 50);
    }

    #[test]
    fn round_trip_time_from_lsr_and_dlsr() {
        let mut stream = StreamReception::new(90_000);
        stream.on_sent(7);
        let now = 0x1234_0000u32;
        // Our SR went out 250 ms ago; the remote held it 200 ms: 50 ms on the wire both ways.
        let lsr = now - 65_536 / 4;
        let report = ReceptionReport {
            last_sender_report: lsr,
            delay: 65_536 / 5,
            ..block(1, 7, 0, 0)
        };
        stream.on_report(&report, now);
        let rtt = stream.rtt_ms.unwrap();
        assert!((rtt - 50.0).abs() < 0.1, "{rtt}");
    }

    #[test]
    fn the_board_only_tracks_registered_streams() {
        let board = ReceptionBoard::default();
        board.register(42, 90_000);
        board.on_sent(42, 10);
        board.on_sent(43, 10);
        board.on_blocks(&[block(42, 10, 0, 0), block(43, 10, 0, 0)]);
        assert_eq!(board.get(42).map(|s| s.remote_packets_received), Some(1));
        assert!(board.get(43).is_none());
    }

    #[test]
    fn ntp_middle_bits_advance_with_the_clock() {
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        let later = t + std::time::Duration::from_millis(500);
        assert_eq!(ntp_middle(later).wrapping_sub(ntp_middle(t)), 32_768);
    }
}

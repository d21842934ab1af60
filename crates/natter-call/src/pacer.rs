//! The pacer of one connection: video (and its resends) leaves at [`crate::bwe::PACING_FACTOR`] ×
//! the bandwidth estimate, a few packets at a time, so a keyframe does not hit the bottleneck
//! queue in one burst; **audio and RTCP are never held**. The stack's `PacerInterceptor` queues
//! everything in one FIFO, so at the 300 kbit/s start an Opus packet waited behind a whole
//! keyframe (up to 0.7 s) and reached the playout buffer too late. Built on the stack's leaky
//! bucket (`rtc::interceptor::Pacer`); it follows the estimate from the
//! `TargetBitrateChanged` attribute the congestion controller attaches on the read leg, as the
//! stack's pacer does.

use rtc::interceptor::{Attribute, Interceptor, Pacer, Packet, StreamInfo, TaggedPacket};
use rtc::sansio::Protocol;
use rtc::shared::marshal::MarshalSize;
use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

/// Video packets held at most (beyond, new ones are refused: the queue is already seconds long).
const QUEUE_LIMIT: usize = 512;

pub struct VideoPacer {
    bucket: Pacer,
    /// Our audio streams: they pass at once.
    audio_ssrcs: HashSet<u32>,
    held: VecDeque<TaggedPacket>,
    released: VecDeque<TaggedPacket>,
    passing: VecDeque<TaggedPacket>,
    read_queue: VecDeque<TaggedPacket>,
    refused: u64,
}

impl VideoPacer {
    pub fn new(bits_per_second: f64, burst_bits: f64) -> Self {
        Self {
            bucket: Pacer::new(bits_per_second).with_burst_bits(burst_bits),
            audio_ssrcs: HashSet::new(),
            held: VecDeque::new(),
            released: VecDeque::new(),
            passing: VecDeque::new(),
            read_queue: VecDeque::new(),
            refused: 0,
        }
    }

    fn bits(packet: &TaggedPacket) -> f64 {
        match &packet.message.packet {
            Packet::Rtp(rtp) => (rtp.marshal_size() * 8) as f64,
            _ => 0.0,
        }
    }

    /// Video packets waiting.
    pub fn held(&self) -> usize {
        self.held.len()
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for VideoPacer {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Some(Attribute::TargetBitrateChanged { bits_per_second }) = msg
            .message
            .get(&Attribute::TargetBitrateChanged { bits_per_second: 0.0 })
        {
            self.bucket.set_target_bitrate(*bits_per_second);
        }
        self.read_queue.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read_queue.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        let video = matches!(&msg.message.packet, Packet::Rtp(rtp) if !self.audio_ssrcs.contains(&rtp.header.ssrc));
        if !video {
            self.passing.push_back(msg);
            return Ok(());
        }
        self.bucket.refill(msg.now);
        if self.held.len() >= QUEUE_LIMIT {
            self.refused += 1;
            return Ok(());
        }
        self.held.push_back(msg);
        // Release at once what the budget allows (no wake-up needed for a frame that fits).
        self.handle_timeout(self.held.back().map(|m| m.now).expect("just pushed"))
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.passing.pop_front().or_else(|| self.released.pop_front())
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), Self::Error> {
        self.bucket.refill(now);
        while let Some(head) = self.held.front() {
            let bits = Self::bits(head);
            if !self.bucket.can_release(bits) {
                break;
            }
            let mut packet = self.held.pop_front().expect("front checked");
            self.bucket.consume(bits);
            // Departs now: the send history below must see the release instant.
            packet.now = now;
            self.released.push_back(packet);
        }
        Ok(())
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        let head = self.held.front()?;
        // A little after the exact instant: the budget is computed in floating point, and a
        // wake-up a rounding error too early would release nothing and ask for the same
        // instant again (a busy loop).
        self.bucket
            .releasable_at(Self::bits(head))
            .map(|at| at + Duration::from_micros(100))
    }
}

impl Interceptor for VideoPacer {
    fn bind_local_stream(&mut self, info: &StreamInfo) {
        if info.mime_type.to_ascii_lowercase().starts_with("audio/") {
            self.audio_ssrcs.insert(info.ssrc);
        }
    }

    fn unbind_local_stream(&mut self, info: &StreamInfo) {
        self.audio_ssrcs.remove(&info.ssrc);
    }

    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::interceptor::AttributedPacket;

    fn rtp(ssrc: u32, seq: u16, bytes: usize, now: Instant) -> TaggedPacket {
        let mut packet = rtc::rtp::Packet::default();
        packet.header.ssrc = ssrc;
        packet.header.sequence_number = seq;
        packet.payload = bytes::Bytes::from(vec![0u8; bytes]);
        TaggedPacket {
            now,
            transport: Default::default(),
            message: AttributedPacket::new(Packet::Rtp(packet)),
        }
    }

    fn pacer() -> VideoPacer {
        let mut pacer = VideoPacer::new(480_000.0, 2.0 * 1200.0 * 8.0);
        pacer.bind_local_stream(&StreamInfo {
            ssrc: 2,
            mime_type: "audio/opus".into(),
            ..Default::default()
        });
        pacer.bind_local_stream(&StreamInfo {
            ssrc: 1,
            mime_type: "video/H264".into(),
            ..Default::default()
        });
        pacer
    }

    fn drain(pacer: &mut VideoPacer) -> Vec<(u32, u16)> {
        std::iter::from_fn(|| pacer.poll_write())
            .map(|m| match m.message.packet {
                Packet::Rtp(p) => (p.header.ssrc, p.header.sequence_number),
                _ => (0, 0),
            })
            .collect()
    }

    #[test]
    fn audio_passes_a_keyframe_being_paced() {
        let t0 = Instant::now();
        let mut pacer = pacer();
        pacer.handle_timeout(t0).unwrap();
        // A 20-packet keyframe: two leave at once (the burst), the rest wait.
        for seq in 0..20 {
            pacer.handle_write(rtp(1, seq, 1000, t0)).unwrap();
        }
        assert_eq!(drain(&mut pacer).len(), 2);
        assert_eq!(pacer.held(), 18);
        pacer.handle_write(rtp(2, 7, 80, t0)).unwrap();
        assert_eq!(drain(&mut pacer), vec![(2, 7)], "audio does not wait behind video");
        // 480 kbit/s: the remaining 18 × 1012 bytes take ≈ 300 ms.
        let due = pacer.poll_timeout().expect("video waits");
        assert!(due > t0 && due < t0 + Duration::from_millis(50));
        pacer.handle_timeout(t0 + Duration::from_millis(400)).unwrap();
        let rest = drain(&mut pacer);
        assert_eq!(rest.len(), 2, "a burst per wake-up");
        let mut released = rest.len() + 2;
        let mut at = t0 + Duration::from_millis(400);
        for _ in 0..100 {
            let Some(due) = pacer.poll_timeout() else { break };
            assert!(
                due > at || released == 4,
                "every wake-up is later than the last: no busy loop"
            );
            at = due.max(at);
            pacer.handle_timeout(at).unwrap();
            released += drain(&mut pacer).len();
        }
        assert_eq!(released, 20);
        // 400 ms for the first four (the wake-up came late), then 16 × 8 096 bits at 480 kbit/s.
        assert!(at < t0 + Duration::from_millis(700), "{:?}", at - t0);
    }

    #[test]
    fn the_estimate_sets_the_rate() {
        let t0 = Instant::now();
        let mut pacer = pacer();
        let mut feedback = TaggedPacket {
            now: t0,
            transport: Default::default(),
            message: AttributedPacket::new(Packet::Rtcp(vec![])),
        };
        feedback.message.add(Attribute::TargetBitrateChanged {
            bits_per_second: 96_000.0,
        });
        pacer.handle_read(feedback).unwrap();
        assert_eq!(pacer.bucket.target_bitrate(), 96_000.0);
        assert!(pacer.poll_read().is_some(), "feedback goes on to the application");
    }
}

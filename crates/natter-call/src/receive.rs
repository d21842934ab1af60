//! Receive-side media logic without I/O: reassembling H.264 access units from RTP packets and
//! keeping per-stream statistics from the stamps read back out of decoded frames.

pub use crate::report::Freeze;
use bytes::{Bytes, BytesMut};
use rtc::rtp::codec::h264::H264Packet;
use rtc::rtp::packetizer::Depacketizer;

/// What the assembler made of one RTP packet.
#[derive(Debug, PartialEq, Eq)]
pub enum Assembled {
    /// Nothing complete yet.
    Pending,
    /// A complete access unit (Annex-B) ready for the decoder.
    Frame(Bytes),
    /// Packets were lost: the current frame was dropped and the decoder needs a keyframe.
    Lost,
}

/// Turns a stream of H.264 RTP packets (RFC 6184) into access units. A frame is complete when
/// its marker bit arrives with no gap in sequence numbers; any gap drops the frame in progress.
/// Reordering is not repaired (on loopback and relays we measured none); a late packet counts as loss.
pub struct FrameAssembler {
    depacketizer: H264Packet,
    expected_seq: Option<u16>,
    current_ts: Option<u32>,
    buffer: BytesMut,
    corrupt: bool,
}

impl Default for FrameAssembler {
    fn default() -> Self {
        Self { depacketizer: H264Packet::default(), expected_seq: None, current_ts: None, buffer: BytesMut::new(), corrupt: false }
    }
}

impl FrameAssembler {
    pub fn push(&mut self, seq: u16, timestamp: u32, marker: bool, payload: &Bytes) -> Assembled {
        let mut lost = false;
        if let Some(expected) = self.expected_seq
            && seq != expected
        {
            if seq.wrapping_sub(expected) > 0x8000 {
                // Older than what we expect: a duplicate or a late packet. Ignore it.
                return Assembled::Pending;
            }
            lost = true;
        }
        self.expected_seq = Some(seq.wrapping_add(1));
        if self.current_ts != Some(timestamp) {
            // A new frame starts; a frame in progress without its marker is incomplete.
            if !self.buffer.is_empty() {
                lost = true;
            }
            self.buffer.clear();
            self.corrupt = false;
            self.depacketizer = H264Packet::default();
            self.current_ts = Some(timestamp);
        }
        if lost {
            self.corrupt = true;
        }
        match self.depacketizer.depacketize(payload) {
            Ok(nals) => self.buffer.extend_from_slice(&nals),
            Err(_) => self.corrupt = true,
        }
        if !marker {
            return if lost { Assembled::Lost } else { Assembled::Pending };
        }
        let frame = std::mem::take(&mut self.buffer).freeze();
        self.current_ts = None;
        self.depacketizer = H264Packet::default();
        if std::mem::take(&mut self.corrupt) || frame.is_empty() { Assembled::Lost } else { Assembled::Frame(frame) }
    }
}

/// Statistics of one received video stream, fed with the stamps of decoded frames.
#[derive(Debug, Default, Clone)]
pub struct VideoStats {
    /// Complete access units handed to the decoder.
    pub frames_received: u64,
    /// Frames decoded (stamped or not).
    pub frames_decoded: u64,
    /// Frames the sender stamped that never decoded here (gaps in the counters), after the first.
    pub frames_lost: u64,
    /// Frames that decoded without a readable stamp: every frame of a real camera; between
    /// synthetic senders it stays 0 (anything else is damage).
    pub unreadable: u64,
    last_counter: Option<u32>,
    latencies_ms: Vec<f64>,
    /// When the last new picture was shown (ms since joining), for freezes.
    last_shown_ms: Option<f64>,
    /// Stalls longer than [`FREEZE_MS`], the most recent [`FREEZES_KEPT`].
    pub freezes: Vec<Freeze>,
    pub freeze_count: u64,
    pub longest_freeze_ms: Option<f64>,
}

/// A gap between two new pictures longer than this is a freeze: the W3C stats definition
/// (`max(3 × frame interval, frame interval + 150 ms)`) at 30 fps, rounded up.
pub const FREEZE_MS: f64 = 200.0;
/// How many freezes a report lists (the count and the longest cover the rest).
pub const FREEZES_KEPT: usize = 32;

impl VideoStats {
    pub fn on_received(&mut self) {
        self.frames_received += 1;
    }

    /// A decoded frame carried `counter`, captured at `capture_ms` (sender's wall clock), shown at `now_ms`.
    pub fn on_decoded(&mut self, counter: u32, capture_ms: u64, now_ms: u64) {
        if let Some(last) = self.last_counter {
            if counter <= last {
                return; // repeated picture: not a new frame
            }
            self.frames_lost += u64::from(counter - last - 1);
        }
        self.last_counter = Some(counter);
        self.frames_decoded += 1;
        if self.latencies_ms.len() < 100_000 {
            self.latencies_ms.push(now_ms.saturating_sub(capture_ms) as f64);
        }
    }

    /// A decoded frame without a stamp (a real camera's): counted, no loss or latency known.
    pub fn on_unstamped(&mut self) {
        self.frames_decoded += 1;
        self.unreadable += 1;
    }

    /// A new picture was shown `at_ms` after joining: a gap since the last one longer than
    /// [`FREEZE_MS`] is recorded as a freeze (what the user saw as stalled video).
    pub fn on_shown(&mut self, at_ms: f64) {
        if let Some(last) = self.last_shown_ms.replace(at_ms)
            && at_ms - last > FREEZE_MS
        {
            let freeze = Freeze { from_ms: last, to_ms: at_ms };
            self.freeze_count += 1;
            self.longest_freeze_ms = Some(self.longest_freeze_ms.unwrap_or(0.0).max(freeze.duration_ms()));
            if self.freezes.len() == FREEZES_KEPT {
                self.freezes.remove(0);
            }
            self.freezes.push(freeze);
        }
    }

    /// Latency percentile (0..=100) over every decoded frame, `None` before the first.
    pub fn latency_percentile(&self, p: f64) -> Option<f64> {
        percentile(&self.latencies_ms, p)
    }
}

/// Nearest-rank percentile of unsorted samples.
pub fn percentile(samples: &[f64], p: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single_nal(byte: u8) -> Bytes {
        // NAL type 1 (non-IDR slice) with two payload bytes (the depacketizer rejects shorter ones).
        Bytes::from(vec![0x41, byte, 0xAA])
    }

    #[test]
    fn a_frame_completes_on_its_marker() {
        let mut a = FrameAssembler::default();
        assert_eq!(a.push(10, 900, false, &single_nal(1)), Assembled::Pending);
        match a.push(11, 900, true, &single_nal(2)) {
            Assembled::Frame(f) => assert_eq!(&f[..], &[0, 0, 0, 1, 0x41, 1, 0xAA, 0, 0, 0, 1, 0x41, 2, 0xAA]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_gap_drops_the_frame_then_recovers() {
        let mut a = FrameAssembler::default();
        assert_eq!(a.push(1, 100, false, &single_nal(1)), Assembled::Pending);
        assert_eq!(a.push(3, 100, true, &single_nal(3)), Assembled::Lost);
        assert!(matches!(a.push(4, 200, true, &single_nal(4)), Assembled::Frame(_)));
    }

    #[test]
    fn a_missing_marker_packet_is_loss() {
        let mut a = FrameAssembler::default();
        assert_eq!(a.push(1, 100, false, &single_nal(1)), Assembled::Pending);
        // seq 2 (the marker of ts 100) never arrives.
        assert_eq!(a.push(3, 200, false, &single_nal(3)), Assembled::Lost);
        // the frame at ts 200 is also damaged since its first packet arrived after the gap? No:
        // packet 3 starts ts 200 cleanly only if nothing of 200 was lost; we cannot know, so it is dropped.
        assert_eq!(a.push(4, 200, true, &single_nal(4)), Assembled::Lost);
        assert!(matches!(a.push(5, 300, true, &single_nal(5)), Assembled::Frame(_)));
    }

    #[test]
    fn stats_count_gaps_and_latency() {
        let mut s = VideoStats::default();
        s.on_decoded(1, 1000, 1010);
        s.on_decoded(2, 1033, 1050);
        s.on_decoded(5, 1133, 1143);
        s.on_decoded(5, 1133, 1200); // repeat ignored
        assert_eq!((s.frames_decoded, s.frames_lost), (3, 2));
        assert_eq!(s.latency_percentile(50.0), Some(10.0));
        assert_eq!(s.latency_percentile(100.0), Some(17.0));
    }

    #[test]
    fn gaps_longer_than_200_ms_are_freezes() {
        let mut s = VideoStats::default();
        for at in [0.0, 33.0, 66.0, 100.0, 2100.0, 2133.0, 2333.5, 2366.0] {
            s.on_shown(at);
        }
        assert_eq!(s.freeze_count, 2);
        assert_eq!(s.freezes, vec![Freeze { from_ms: 100.0, to_ms: 2100.0 }, Freeze { from_ms: 2133.0, to_ms: 2333.5 }]);
        assert_eq!(s.longest_freeze_ms, Some(2000.0));
    }

    #[test]
    fn only_the_latest_freezes_are_listed() {
        let mut s = VideoStats::default();
        for i in 0..(FREEZES_KEPT as u32 + 5) {
            s.on_shown(f64::from(i) * 1000.0);
        }
        assert_eq!(s.freeze_count, FREEZES_KEPT as u64 + 4);
        assert_eq!(s.freezes.len(), FREEZES_KEPT);
        assert_eq!(s.freezes.last().unwrap().to_ms, f64::from(FREEZES_KEPT as u32 + 4) * 1000.0);
    }

    #[test]
    fn percentile_of_nothing_is_none() {
        assert_eq!(percentile(&[], 50.0), None);
    }
}

//! Receive-side media logic without I/O: reassembling H.264 access units and VP8 frames from RTP
//! packets (`VideoAssembler` picks the one for a stream's codec) and keeping per-stream
//! statistics from the stamps read back out of decoded frames.

pub use crate::report::Freeze;
use bytes::{Bytes, BytesMut};
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_H264, MIME_TYPE_VP8};
use rtc::rtp::codec::h264::H264Packet;
use rtc::rtp::codec::vp8::Vp8Packet;
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

/// Gaps in a stream's RTP sequence numbers: what both assemblers start each packet with.
#[derive(Debug, Default)]
struct SequenceGaps {
    expected: Option<u16>,
}

impl SequenceGaps {
    /// `Some(lost)`: the packet is new, and `lost` when packets before it are missing. `None`:
    /// older than expected (a duplicate or a late packet), to be ignored. Reordering is not
    /// repaired: a late packet has already counted as a loss.
    fn next(&mut self, seq: u16) -> Option<bool> {
        let lost = match self.expected {
            Some(expected) if seq != expected => {
                if seq.wrapping_sub(expected) > 0x8000 {
                    return None;
                }
                true
            }
            _ => false,
        };
        self.expected = Some(seq.wrapping_add(1));
        Some(lost)
    }
}

/// Turns a stream of H.264 RTP packets (RFC 6184) into access units. A frame is complete when
/// its marker bit arrives with no gap in sequence numbers; any gap drops the frame in progress.
/// Reordering is not repaired (on loopback and relays we measured none); a late packet counts as loss.
pub struct FrameAssembler {
    depacketizer: H264Packet,
    sequence: SequenceGaps,
    current_ts: Option<u32>,
    buffer: BytesMut,
    corrupt: bool,
}

impl Default for FrameAssembler {
    fn default() -> Self {
        Self {
            depacketizer: H264Packet::default(),
            sequence: SequenceGaps::default(),
            current_ts: None,
            buffer: BytesMut::new(),
            corrupt: false,
        }
    }
}

impl FrameAssembler {
    pub fn push(&mut self, seq: u16, timestamp: u32, marker: bool, payload: &Bytes) -> Assembled {
        let Some(mut lost) = self.sequence.next(seq) else {
            return Assembled::Pending; // a duplicate or a late packet
        };
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
        if std::mem::take(&mut self.corrupt) || frame.is_empty() {
            Assembled::Lost
        } else {
            Assembled::Frame(frame)
        }
    }
}

/// Turns a stream of VP8 RTP packets (RFC 7741) into VP8 frames, with the loss rules of
/// [`FrameAssembler`]: a frame starts at the packet whose payload descriptor says "start of
/// partition 0" (S=1, PID=0) and is complete at its marker bit with no gap in sequence numbers;
/// a gap drops the frame in progress and reports `Lost`; duplicates and late packets are
/// ignored (a reordered packet counts as loss).
///
/// One rule more than for H.264: after a loss, inter frames are `Lost` too until the next
/// keyframe (the descriptor's first payload byte says which it is), and so are the inter frames
/// of a stream joined mid-way. A VP8 frame carries no frame number, so a decoder cannot notice
/// that the frame before went missing: it would decode against the wrong reference and show a
/// damaged picture, where openh264 refuses. Each `Lost` keeps the keyframe request going.
pub struct Vp8FrameAssembler {
    sequence: SequenceGaps,
    /// The timestamp of the frame in progress, `None` between frames.
    current_ts: Option<u32>,
    buffer: BytesMut,
    /// The frame in progress began with its first packet (S=1, PID=0) ...
    started: bool,
    /// ... which said it is a keyframe.
    keyframe: bool,
    corrupt: bool,
    /// Nothing decodable until a keyframe: none yet, or something was lost since the last one.
    needs_keyframe: bool,
}

impl Default for Vp8FrameAssembler {
    fn default() -> Self {
        Self {
            sequence: SequenceGaps::default(),
            current_ts: None,
            buffer: BytesMut::new(),
            started: false,
            keyframe: false,
            corrupt: false,
            needs_keyframe: true,
        }
    }
}

/// The payload descriptor and the VP8 data of one RTP packet. rtc-rtp 0.21.1's `Vp8Packet`
/// refuses payloads shorter than 4 bytes, which a sender without picture IDs makes whenever a
/// frame's last fragment is 1 or 2 bytes; those (a 1-byte descriptor, no extension) are read here.
fn vp8_payload(payload: &Bytes) -> Option<(Vp8Packet, Bytes)> {
    // A fresh descriptor per packet: `Vp8Packet` keeps the extension flags of the previous one
    // when the next has none.
    let mut descriptor = Vp8Packet::default();
    if let Ok(data) = descriptor.depacketize(payload) {
        return Some((descriptor, data));
    }
    let first = *payload.first()?;
    if payload.len() >= 2 && payload.len() < 4 && first & 0x80 == 0 {
        let descriptor = Vp8Packet {
            s: (first >> 4) & 1,
            pid: first & 0x07,
            ..Vp8Packet::default()
        };
        return Some((descriptor, payload.slice(1..)));
    }
    None
}

impl Vp8FrameAssembler {
    pub fn push(&mut self, seq: u16, timestamp: u32, marker: bool, payload: &Bytes) -> Assembled {
        let Some(mut lost) = self.sequence.next(seq) else {
            return Assembled::Pending; // a duplicate or a late packet
        };
        if self.current_ts != Some(timestamp) {
            // A new frame starts; a frame in progress without its marker is incomplete.
            if self.current_ts.is_some() {
                lost = true;
            }
            self.buffer.clear();
            self.started = false;
            self.keyframe = false;
            self.corrupt = false;
            self.current_ts = Some(timestamp);
        }
        if lost {
            self.corrupt = true;
            self.needs_keyframe = true;
        }
        match vp8_payload(payload) {
            Some((descriptor, data)) => {
                if descriptor.s == 1 && descriptor.pid == 0 {
                    // A second first packet in one frame is as broken as a missing one.
                    self.corrupt |= self.started;
                    self.started = true;
                    // Frame tag (RFC 6386 §9.1): bit 0 of the first byte is 0 on a keyframe.
                    self.keyframe = data.first().is_some_and(|tag| tag & 1 == 0);
                } else if !self.started {
                    // The frame's first packet never came (e.g. we joined mid-frame).
                    self.corrupt = true;
                }
                self.buffer.extend_from_slice(&data);
            }
            None => self.corrupt = true,
        }
        if !marker {
            return if lost { Assembled::Lost } else { Assembled::Pending };
        }
        let frame = std::mem::take(&mut self.buffer).freeze();
        self.current_ts = None;
        self.started = false;
        if std::mem::take(&mut self.corrupt) || frame.is_empty() {
            self.needs_keyframe = true;
            return Assembled::Lost;
        }
        if self.needs_keyframe && !self.keyframe {
            return Assembled::Lost;
        }
        self.needs_keyframe = false;
        Assembled::Frame(frame)
    }

    /// Deliver no inter frame until the next keyframe: for when a frame this assembler delivered
    /// never reached the decoder (it was behind), which the decoder cannot notice by itself.
    pub fn skip_to_keyframe(&mut self) {
        self.needs_keyframe = true;
    }
}

/// The RTP reassembly for one received video stream, by its codec.
pub enum VideoAssembler {
    H264(FrameAssembler),
    Vp8(Vp8FrameAssembler),
}

impl VideoAssembler {
    /// The assembler for a codec's MIME type (`video/H264`, `video/VP8`, any case); `None` for a
    /// codec Natter does not decode.
    pub fn for_mime(mime: &str) -> Option<Self> {
        if mime.eq_ignore_ascii_case(MIME_TYPE_H264) {
            Some(VideoAssembler::H264(FrameAssembler::default()))
        } else if mime.eq_ignore_ascii_case(MIME_TYPE_VP8) {
            Some(VideoAssembler::Vp8(Vp8FrameAssembler::default()))
        } else {
            None
        }
    }

    pub fn push(&mut self, seq: u16, timestamp: u32, marker: bool, payload: &Bytes) -> Assembled {
        match self {
            VideoAssembler::H264(frames) => frames.push(seq, timestamp, marker, payload),
            VideoAssembler::Vp8(frames) => frames.push(seq, timestamp, marker, payload),
        }
    }

    /// A frame this assembler delivered was dropped before the decoder: for VP8, deliver no
    /// inter frame until the next keyframe (see [`Vp8FrameAssembler::skip_to_keyframe`]). Nothing
    /// to do for H.264: openh264 notices the gap in `frame_num` and refuses until a keyframe.
    pub fn skip_to_keyframe(&mut self) {
        match self {
            VideoAssembler::H264(_) => {}
            VideoAssembler::Vp8(frames) => frames.skip_to_keyframe(),
        }
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
    /// When the first and the last new picture were shown (ms since joining).
    pub first_shown_ms: Option<f64>,
    pub last_shown_ms: Option<f64>,
    /// Stalls longer than [`FREEZE_MS`], the most recent [`FREEZES_KEPT`].
    pub freezes: Vec<Freeze>,
    pub freeze_count: u64,
    pub longest_freeze_ms: Option<f64>,
    /// The jitter buffer's counters (see `reorder`).
    pub reorder: crate::reorder::ReorderStats,
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
        self.first_shown_ms.get_or_insert(at_ms);
        if let Some(last) = self.last_shown_ms.replace(at_ms)
            && at_ms - last > FREEZE_MS
        {
            let freeze = Freeze {
                from_ms: last,
                to_ms: at_ms,
            };
            self.freeze_count += 1;
            self.longest_freeze_ms = Some(self.longest_freeze_ms.unwrap_or(0.0).max(freeze.duration_ms()));
            if self.freezes.len() == FREEZES_KEPT {
                self.freezes.remove(0);
            }
            self.freezes.push(freeze);
        }
    }

    /// The picture has stood still since the last one was shown, `now_ms` after joining: the
    /// freeze going on now, if it is longer than [`FREEZE_MS`]. A report taken now counts it; a
    /// freeze is otherwise only recorded when the next picture ends it, and video that never
    /// comes back would look fine.
    pub fn ongoing_freeze(&self, now_ms: f64) -> Option<Freeze> {
        let last = self.last_shown_ms?;
        (now_ms - last > FREEZE_MS).then_some(Freeze {
            from_ms: last,
            to_ms: now_ms,
        })
    }

    /// Freeze count, longest and list as a report taken `now_ms` after joining shows them: with
    /// the freeze going on now.
    pub fn freezes_at(&self, now_ms: f64) -> (u64, Option<f64>, Vec<Freeze>) {
        let mut freezes = self.freezes.clone();
        let (mut count, mut longest) = (self.freeze_count, self.longest_freeze_ms);
        if let Some(ongoing) = self.ongoing_freeze(now_ms) {
            count += 1;
            longest = Some(longest.unwrap_or(0.0).max(ongoing.duration_ms()));
            if freezes.len() == FREEZES_KEPT {
                freezes.remove(0);
            }
            freezes.push(ongoing);
        }
        (count, longest, freezes)
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

    /// One RTP packet as the assembler sees it.
    #[derive(Clone)]
    struct Packet {
        seq: u16,
        ts: u32,
        marker: bool,
        payload: Bytes,
    }

    /// `count` real VP8 frames of the synthetic camera at 640x360 (keyframes at the given
    /// counters), and their RTP packets as the `rtc` sender makes them (mtu 1200), frame by frame.
    /// Sequence numbers start just before the wrap. At 4 Mbps, frames from the 8th on take 4–5
    /// packets (the encoder's rate control starts low).
    fn vp8_stream(
        count: u32,
        keyframes: &[u32],
        picture_id: bool,
    ) -> (Vec<natter_media::EncodedVideo>, Vec<Vec<Packet>>) {
        use rtc::rtp::codec::vp8::Vp8Payloader;
        use rtc::rtp::packetizer::Payloader;
        let mut camera = natter_media::SyntheticCamera::new(640, 360, 2);
        let mut encoder = natter_media::Vp8Encoder::new(640, 360, 30.0, 4_000_000).unwrap();
        let mut payloader = Vp8Payloader::default();
        payloader.enable_picture_id = picture_id;
        let mut seq = 65_530u16;
        let (mut frames, mut packets) = (Vec::new(), Vec::new());
        for counter in 1..=count {
            let encoded = encoder
                .encode(&camera.frame(counter, 0), keyframes.contains(&counter))
                .unwrap();
            let payloads = payloader.payload(1200, &Bytes::from(encoded.data.clone())).unwrap();
            let last = payloads.len() - 1;
            let frame_packets = payloads
                .into_iter()
                .enumerate()
                .map(|(i, payload)| {
                    seq = seq.wrapping_add(1);
                    Packet {
                        seq,
                        ts: counter * 3000,
                        marker: i == last,
                        payload,
                    }
                })
                .collect();
            frames.push(encoded);
            packets.push(frame_packets);
        }
        (frames, packets)
    }

    /// What the assembler said at each frame's marker (or its last packet pushed).
    fn push_all(assembler: &mut VideoAssembler, packets: &[Packet]) -> Vec<Assembled> {
        packets
            .iter()
            .map(|p| assembler.push(p.seq, p.ts, p.marker, &p.payload))
            .collect()
    }

    fn vp8() -> VideoAssembler {
        VideoAssembler::for_mime("video/VP8").unwrap()
    }

    #[test]
    fn vp8_frames_come_back_byte_identical() {
        for picture_id in [true, false] {
            let (frames, packets) = vp8_stream(30, &[1, 20], picture_id);
            assert!(packets[0].len() > 1 && packets.iter().any(|p| p.len() > 1 && p.len() < packets[0].len()));
            let mut assembler = vp8();
            for (frame, packets) in frames.iter().zip(&packets) {
                let results = push_all(&mut assembler, packets);
                let (last, rest) = results.split_last().unwrap();
                assert!(rest.iter().all(|r| *r == Assembled::Pending), "{rest:?}");
                assert_eq!(
                    *last,
                    Assembled::Frame(Bytes::from(frame.data.clone())),
                    "picture id {picture_id}"
                );
            }
        }
    }

    #[test]
    fn vp8_frames_decode_after_reassembly() {
        let (_, packets) = vp8_stream(10, &[1], true);
        let mut assembler = vp8();
        let mut decoder = natter_media::Vp8Decoder::new().unwrap();
        for (counter, packets) in (1..).zip(&packets) {
            let Some(Assembled::Frame(frame)) = push_all(&mut assembler, packets).pop() else {
                panic!("frame {counter}")
            };
            let picture = decoder.decode(&frame).unwrap().expect("picture");
            assert_eq!(natter_media::read_stamp(&picture).map(|s| s.counter), Some(counter));
        }
    }

    /// Frames 1..=40, keyframes at 1 and 20; frame `lossy` (0-based) loses a middle packet, whose
    /// place in the frame is returned.
    fn with_a_lost_middle_packet(lossy: usize) -> (Vec<natter_media::EncodedVideo>, Vec<Vec<Packet>>, usize) {
        let (frames, mut packets) = vp8_stream(40, &[1, 20], true);
        let n = packets[lossy].len();
        assert!(n >= 3, "frame {} has {n} packets", lossy + 1);
        packets[lossy].remove(n / 2);
        (frames, packets, n / 2)
    }

    #[test]
    fn a_lost_vp8_packet_drops_its_frame_and_inter_frames_until_the_keyframe() {
        let (frames, packets, gap_at) = with_a_lost_middle_packet(9);
        let mut assembler = vp8();
        for packets in &packets[..9] {
            assert!(matches!(
                push_all(&mut assembler, packets).pop(),
                Some(Assembled::Frame(_))
            ));
        }
        let results = push_all(&mut assembler, &packets[9]);
        assert!(
            results[..gap_at].iter().all(|r| *r == Assembled::Pending),
            "{results:?}"
        );
        assert_eq!(results[gap_at], Assembled::Lost, "reported at the gap");
        assert_eq!(results.last(), Some(&Assembled::Lost), "and at the marker");
        // Inter frames 11..=19 would decode against the lost frame: withheld, each a loss.
        for packets in &packets[10..19] {
            assert_eq!(push_all(&mut assembler, packets).pop(), Some(Assembled::Lost));
        }
        // The keyframe and everything after it come through intact.
        for (frame, packets) in frames.iter().zip(&packets).skip(19) {
            assert_eq!(
                push_all(&mut assembler, packets).pop(),
                Some(Assembled::Frame(Bytes::from(frame.data.clone())))
            );
        }
    }

    #[test]
    fn after_a_vp8_loss_the_next_complete_keyframe_is_delivered() {
        // The frame just before the keyframe loses a packet: the keyframe is the next frame.
        let (frames, packets, _) = with_a_lost_middle_packet(18);
        let mut assembler = vp8();
        let results: Vec<Option<Assembled>> = packets.iter().map(|p| push_all(&mut assembler, p).pop()).collect();
        for (i, (frame, result)) in frames.iter().zip(results).enumerate() {
            let expected = if i == 18 {
                Assembled::Lost
            } else {
                Assembled::Frame(Bytes::from(frame.data.clone()))
            };
            assert_eq!(result, Some(expected), "frame {}", i + 1);
        }
    }

    #[test]
    fn vp8_duplicates_are_ignored_and_a_reordered_packet_is_a_loss() {
        let (frames, packets) = vp8_stream(25, &[1, 20], true);
        let mut assembler = vp8();
        // Every packet twice: the copies change nothing.
        for (frame, packets) in frames.iter().zip(&packets).take(9) {
            let mut last = None;
            for p in packets {
                last = Some(assembler.push(p.seq, p.ts, p.marker, &p.payload));
                assert_eq!(
                    assembler.push(p.seq, p.ts, p.marker, &p.payload),
                    Assembled::Pending,
                    "a duplicate"
                );
            }
            assert_eq!(last, Some(Assembled::Frame(Bytes::from(frame.data.clone()))));
        }
        // An old packet of a finished frame, long after: ignored.
        let old = &packets[1][0];
        assert_eq!(
            assembler.push(old.seq, old.ts, old.marker, &old.payload),
            Assembled::Pending
        );
        // The first two packets of frame 10 swapped: the gap is a loss, the late one is ignored.
        let mut swapped = packets[9].clone();
        assert!(swapped.len() >= 3);
        swapped.swap(0, 1);
        let results = push_all(&mut assembler, &swapped);
        assert_eq!(results[0], Assembled::Lost);
        assert_eq!(results[1], Assembled::Pending, "the late first packet");
        assert_eq!(results.last(), Some(&Assembled::Lost));
        for packets in &packets[10..19] {
            assert_eq!(push_all(&mut assembler, packets).pop(), Some(Assembled::Lost));
        }
        for (frame, packets) in frames.iter().zip(&packets).skip(19) {
            assert_eq!(
                push_all(&mut assembler, packets).pop(),
                Some(Assembled::Frame(Bytes::from(frame.data.clone())))
            );
        }
    }

    #[test]
    fn a_vp8_stream_joined_mid_frame_starts_at_the_next_keyframe() {
        let (frames, packets) = vp8_stream(25, &[1, 20], true);
        let mut assembler = vp8();
        // We join in the middle of frame 10: its rest is no frame, nor are inter frames 11..=19.
        let results = push_all(&mut assembler, &packets[9][1..]);
        assert_eq!(results.last(), Some(&Assembled::Lost));
        for packets in &packets[10..19] {
            assert_eq!(push_all(&mut assembler, packets).pop(), Some(Assembled::Lost));
        }
        for (frame, packets) in frames.iter().zip(&packets).skip(19) {
            assert_eq!(
                push_all(&mut assembler, packets).pop(),
                Some(Assembled::Frame(Bytes::from(frame.data.clone())))
            );
        }
    }

    #[test]
    fn a_vp8_frame_dropped_after_the_assembler_waits_for_a_keyframe() {
        let (frames, packets) = vp8_stream(25, &[1, 20], true);
        let mut assembler = vp8();
        for packets in &packets[..3] {
            assert!(matches!(
                push_all(&mut assembler, packets).pop(),
                Some(Assembled::Frame(_))
            ));
        }
        assembler.skip_to_keyframe(); // frame 3 never reached the decoder
        for packets in &packets[3..19] {
            assert_eq!(push_all(&mut assembler, packets).pop(), Some(Assembled::Lost));
        }
        assert_eq!(
            push_all(&mut assembler, &packets[19]).pop(),
            Some(Assembled::Frame(Bytes::from(frames[19].data.clone())))
        );
    }

    #[test]
    fn a_1_byte_last_vp8_fragment_without_picture_ids_is_kept() {
        // 1199 bytes of data per packet: a 2399-byte frame ends with a 2-byte packet (descriptor +
        // 1 byte), which rtc-rtp's depacketizer alone refuses.
        let (frames, _) = vp8_stream(1, &[1], false);
        let frame = Bytes::from(frames[0].data[..2399].to_vec());
        let mut payloader = rtc::rtp::codec::vp8::Vp8Payloader::default();
        let payloads = rtc::rtp::packetizer::Payloader::payload(&mut payloader, 1200, &frame).unwrap();
        assert_eq!(payloads.iter().map(Bytes::len).collect::<Vec<_>>(), [1200, 1200, 2]);
        let mut assembler = vp8();
        let results: Vec<Assembled> = (0..)
            .zip(&payloads)
            .map(|(i, p)| assembler.push(i, 90, i == 2, p))
            .collect();
        assert_eq!(results.last(), Some(&Assembled::Frame(frame)));
    }

    #[test]
    fn garbage_vp8_payloads_are_losses_not_panics() {
        let mut assembler = vp8();
        let mut seed = 0x9E37_79B9u32;
        for seq in 0..2000u16 {
            let len = (seed % 40) as usize;
            let payload: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    seed as u8
                })
                .collect();
            if let Assembled::Frame(frame) =
                assembler.push(seq, u32::from(seq / 3), seq % 3 == 2, &Bytes::from(payload))
            {
                assert!(!frame.is_empty());
            }
        }
    }

    #[test]
    fn the_assembler_follows_the_mime_type() {
        assert!(matches!(
            VideoAssembler::for_mime("video/H264"),
            Some(VideoAssembler::H264(_))
        ));
        assert!(matches!(
            VideoAssembler::for_mime("video/h264"),
            Some(VideoAssembler::H264(_))
        ));
        assert!(matches!(
            VideoAssembler::for_mime("VIDEO/VP8"),
            Some(VideoAssembler::Vp8(_))
        ));
        assert!(matches!(
            VideoAssembler::for_mime("video/vp8"),
            Some(VideoAssembler::Vp8(_))
        ));
        for other in ["video/VP9", "video/AV1", "audio/opus", "", "video/H2645"] {
            assert!(VideoAssembler::for_mime(other).is_none(), "{other}");
        }
        // The H.264 one behaves as `FrameAssembler` (nothing to skip: openh264 notices gaps).
        let mut h264 = VideoAssembler::for_mime("video/H264").unwrap();
        h264.skip_to_keyframe();
        assert_eq!(h264.push(10, 900, false, &single_nal(1)), Assembled::Pending);
        assert!(matches!(h264.push(11, 900, true, &single_nal(2)), Assembled::Frame(_)));
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
        assert_eq!(
            s.freezes,
            vec![
                Freeze {
                    from_ms: 100.0,
                    to_ms: 2100.0
                },
                Freeze {
                    from_ms: 2133.0,
                    to_ms: 2333.5
                }
            ]
        );
        assert_eq!(s.longest_freeze_ms, Some(2000.0));
    }

    #[test]
    fn a_freeze_still_going_on_counts_in_a_report_taken_now() {
        let mut stats = VideoStats::default();
        stats.on_shown(1_000.0);
        stats.on_shown(1_033.0);
        assert_eq!(stats.freezes_at(1_100.0), (0, None, vec![]), "67 ms is no freeze");
        let (count, longest, freezes) = stats.freezes_at(13_833.0);
        assert_eq!((count, longest), (1, Some(12_800.0)), "the last 12.8 s stood still");
        assert_eq!(
            freezes,
            vec![Freeze {
                from_ms: 1_033.0,
                to_ms: 13_833.0
            }]
        );
        assert_eq!(stats.freeze_count, 0, "nothing recorded until the picture comes back");
    }

    #[test]
    fn only_the_latest_freezes_are_listed() {
        let mut s = VideoStats::default();
        for i in 0..(FREEZES_KEPT as u32 + 5) {
            s.on_shown(f64::from(i) * 1000.0);
        }
        assert_eq!(s.freeze_count, FREEZES_KEPT as u64 + 4);
        assert_eq!(s.freezes.len(), FREEZES_KEPT);
        assert_eq!(
            s.freezes.last().unwrap().to_ms,
            f64::from(FREEZES_KEPT as u32 + 4) * 1000.0
        );
    }

    #[test]
    fn percentile_of_nothing_is_none() {
        assert_eq!(percentile(&[], 50.0), None);
    }
}

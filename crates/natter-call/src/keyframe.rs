//! Keyframe requests end to end. A receiver that cannot decode (it joined after the keyframe, or
//! packets were lost) sends an RTCP PLI; the sender must answer with a keyframe at once instead of
//! waiting for the next periodic one (Chromium lost 2.3 s that way, see NOTES.md).
//!
//! The `webrtc` crate ends inbound RTCP inside its interceptor chain; `KeyframeRequestForwarder`
//! sits last in that chain and marks PLI/FIR for delivery to the application, where the sending
//! track's event stream hands it to the encoder.

use rtc::interceptor::{Attribute, Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Slot in the interceptor registry: after every built-in interceptor.
pub const FORWARDER_SLOT: usize = 14_000;

/// Passes inbound PLI/FIR to the application; other inbound RTCP ends here as usual.
#[derive(Default)]
pub struct KeyframeRequestForwarder {
    inbound: VecDeque<TaggedPacket>,
    outbound: VecDeque<TaggedPacket>,
}

pub fn is_keyframe_request(packet: &dyn rtc::rtcp::Packet) -> bool {
    let any = packet.as_any();
    any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
}

impl rtc::sansio::Protocol<TaggedPacket, TaggedPacket, ()> for KeyframeRequestForwarder {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &msg.message.packet {
            let requests: Vec<_> = packets
                .iter()
                .filter(|p| is_keyframe_request(p.as_ref()))
                .cloned()
                .collect();
            if requests.is_empty() {
                return Ok(());
            }
            msg.message.packet = Packet::Rtcp(requests);
            msg.message.add(Attribute::DeliverToApplication);
        }
        self.inbound.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.inbound.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.outbound.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.outbound.pop_front()
    }
}

impl Interceptor for KeyframeRequestForwarder {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

/// How often a receiver that still cannot decode repeats its keyframe request until the
/// round-trip time is known (`PliPacer::set_round_trip`).
pub const PLI_REPEAT_UNKNOWN_RTT: Duration = Duration::from_millis(300);

/// Receiver side: when to ask for a keyframe. Asks at once when the decoder needs one, then at
/// most every `interval` while it still does (a PLI can be lost too).
#[derive(Debug)]
pub struct PliPacer {
    interval: Duration,
    last_sent: Option<Instant>,
}

impl PliPacer {
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            last_sent: None,
        }
    }

    /// Repeat a request no sooner than the answer could have come back: a keyframe is the
    /// largest thing a sender makes, and asking again while one is on its way only queues more of
    /// them on a link that is already struggling. On a short path that is 200 ms (libwebrtc's
    /// wait for a keyframe too): a request lost on a lossy link costs that long, not more.
    pub fn set_round_trip(&mut self, rtt: Duration) {
        self.interval =
            (rtt * 2 + Duration::from_millis(100)).clamp(Duration::from_millis(200), Duration::from_secs(1));
    }

    /// Should a PLI go out now, given whether the decoder needs a keyframe?
    pub fn poll(&mut self, needs_keyframe: bool, now: Instant) -> bool {
        if !needs_keyframe {
            return false;
        }
        match self.last_sent {
            Some(last) if now.duration_since(last) < self.interval => false,
            _ => {
                self.last_sent = Some(now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pli_goes_out_at_once_then_paced() {
        let t0 = Instant::now();
        let mut pacer = PliPacer::new(Duration::from_millis(250));
        assert!(!pacer.poll(false, t0));
        assert!(pacer.poll(true, t0));
        assert!(!pacer.poll(true, t0 + Duration::from_millis(100)));
        assert!(pacer.poll(true, t0 + Duration::from_millis(260)));
        assert!(!pacer.poll(false, t0 + Duration::from_millis(600)));
    }

    #[test]
    fn a_request_is_repeated_after_the_answer_could_have_come_back() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut short = PliPacer::new(PLI_REPEAT_UNKNOWN_RTT);
        short.set_round_trip(ms(5));
        assert!(short.poll(true, t0));
        assert!(
            !short.poll(true, t0 + ms(150)),
            "not while the keyframe may be on its way"
        );
        assert!(
            short.poll(true, t0 + ms(200)),
            "a lost request costs 200 ms on a short path"
        );
        let mut long = PliPacer::new(PLI_REPEAT_UNKNOWN_RTT);
        long.set_round_trip(ms(300));
        assert!(long.poll(true, t0));
        assert!(!long.poll(true, t0 + ms(650)));
        assert!(
            long.poll(true, t0 + ms(700)),
            "two round trips and a margin on a long one"
        );
    }

    #[test]
    fn only_keyframe_requests_are_recognised() {
        let pli = PictureLossIndication {
            sender_ssrc: 1,
            media_ssrc: 2,
        };
        assert!(is_keyframe_request(&pli));
        let rr = rtc::rtcp::receiver_report::ReceiverReport::default();
        assert!(!is_keyframe_request(&rr));
    }
}

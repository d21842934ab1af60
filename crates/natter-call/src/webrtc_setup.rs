//! How Natter configures the `webrtc` crate: codecs, ICE servers, timers, sockets. Every deviation
//! from the crate's defaults lives here, with the reason.

use crate::codecs::VideoCodec;
use natter_ice::{IceConfig, TransportPolicy};
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MediaEngine};
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RTCRtpCodecParameters, RtpCodecKind};
use std::time::Duration;
use webrtc::peer_connection::{
    RTCConfiguration, RTCConfigurationBuilder, RTCIceServer, RTCIceTransportPolicy, Registry, SettingEngine,
    SettingEngineBuilder, register_default_interceptors,
};

use crate::CallError;

/// The payload types of *our* offers. What we send is whatever the remote's description
/// numbers these codecs (see `codecs`): these numbers never decide what goes on the wire of a
/// call someone else offered. Settable so that tests can make one Natter number its offer as
/// another stack would (H.264 101, Opus 96…).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadTypes {
    pub h264: u8,
    pub vp8: u8,
    pub opus: u8,
}

impl Default for PayloadTypes {
    fn default() -> Self {
        Self {
            h264: 102,
            vp8: 96,
            opus: 111,
        }
    }
}

pub fn video_codec(codec: VideoCodec) -> RTCRtpCodec {
    let sdp_fmtp_line = match codec {
        VideoCodec::H264 => "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
        VideoCodec::Vp8 => "",
    };
    RTCRtpCodec {
        mime_type: codec.mime().to_owned(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: sdp_fmtp_line.to_owned(),
        rtcp_feedback: vec![],
    }
}

/// Opus as browsers offer it: stereo in the SDP (RFC 7587 says so even for mono), 10 ms minimum
/// packet time, in-band FEC (our encoder adds it; a browser's decoder uses it on loss). No
/// `usedtx`: we ask nobody to stop sending in silence, because a link that carries no packets
/// for 1 s is taken for a dead path (`fallback::MediaWatch`).
pub fn audio_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

impl PayloadTypes {
    fn video(&self, codec: VideoCodec) -> u8 {
        match codec {
            VideoCodec::H264 => self.h264,
            VideoCodec::Vp8 => self.vp8,
        }
    }
}

/// Our video codecs with our payload types, in the order we offer them.
pub fn offered_video_codecs(numbers: PayloadTypes) -> Vec<RTCRtpCodecParameters> {
    VideoCodec::OFFERED
        .iter()
        .map(|&c| RTCRtpCodecParameters {
            rtp_codec: video_codec(c),
            payload_type: numbers.video(c),
        })
        .collect()
}

/// RTX (RFC 4588) for each of our video codecs: retransmissions on their own SSRC and payload
/// type, so a receiver (ours or a browser's) tells a resend from an original and its loss
/// statistics stay true. Numbered after the codec they repair (`apt`) when that number is free,
/// else the first free dynamic payload type.
pub fn rtx_codecs(numbers: PayloadTypes) -> Vec<RTCRtpCodecParameters> {
    let mut used = vec![numbers.h264, numbers.vp8, numbers.opus];
    VideoCodec::OFFERED
        .iter()
        .map(|&c| {
            let primary = numbers.video(c);
            let payload_type = std::iter::once(primary.wrapping_add(1))
                .chain(96..=127)
                .find(|pt| (96..=127).contains(pt) && !used.contains(pt))
                .unwrap_or(127);
            used.push(payload_type);
            RTCRtpCodecParameters {
                rtp_codec: RTCRtpCodec {
                    mime_type: "video/rtx".to_owned(),
                    clock_rate: 90_000,
                    channels: 0,
                    sdp_fmtp_line: format!("apt={primary}"),
                    rtcp_feedback: vec![],
                },
                payload_type,
            }
        })
        .collect()
}

/// The pacer lets this much leave at once (8 full packets): a 30 fps frame of a few packets goes
/// out in one wake-up instead of one per packet (30 connections of a 6-way mesh in one process
/// spent a third of a core more on wake-ups), while a keyframe is still spread out.
const PACER_BURST_BITS: f64 = 8.0 * 1200.0 * 8.0;

/// How a connection recovers from loss and shares the path (see `bwe`). `stack_defaults` keeps
/// the crate's own set (NACK without bounds, no congestion control, no RTX) for comparison.
pub struct Adaptation<'a> {
    pub stack_defaults: bool,
    pub estimate: &'a crate::bwe::LinkEstimate,
}

/// The codecs Natter sends and receives: H.264 constrained baseline and VP8 (each with RTX),
/// Opus. Interceptors: NACK (requests paced by the round trip, see `nack`; resends bounded by
/// `bwe::RetransmissionBudget`), transport-wide congestion control with our estimator and a
/// pacer, RTCP reports; the reception reports of our streams go to `reception`.
pub fn media_engine_and_interceptors(
    numbers: PayloadTypes,
    reception: &crate::reception::ReceptionBoard,
    adaptation: Adaptation<'_>,
) -> Result<(MediaEngine, Registry), CallError> {
    use rtc::interceptor::{CongestionControlBuilder, NackResponderBuilder, Slot, TwccSenderBuilder};
    use rtc::peer_connection::configuration::interceptor_registry::{
        configure_rtcp_reports, configure_simulcast_extension_headers, configure_twcc_receiver_only,
    };
    use rtc::rtp_transceiver::rtp_sender::RTCPFeedback;
    let mut media = MediaEngine::default();
    let wrap = |e: rtc::shared::error::Error| CallError::WebRtc(e.to_string());
    for codec in offered_video_codecs(numbers) {
        media.register_codec(codec, RtpCodecKind::Video).map_err(wrap)?;
    }
    if !adaptation.stack_defaults {
        for codec in rtx_codecs(numbers) {
            media.register_codec(codec, RtpCodecKind::Video).map_err(wrap)?;
        }
    }
    media
        .register_codec(
            RTCRtpCodecParameters {
                rtp_codec: audio_codec(),
                payload_type: numbers.opus,
            },
            RtpCodecKind::Audio,
        )
        .map_err(wrap)?;
    let registry = if adaptation.stack_defaults {
        register_default_interceptors(Registry::new(), &mut media).map_err(wrap)?
    } else {
        // The crate's defaults (`register_default_interceptors`), with our NACK generator, plus
        // send-side congestion control: the same calls it makes, so that nothing is registered
        // twice.
        for parameter in ["", "pli"] {
            media.register_feedback(
                RTCPFeedback {
                    typ: "nack".to_owned(),
                    parameter: parameter.to_owned(),
                },
                RtpCodecKind::Video,
            );
        }
        configure_simulcast_extension_headers(&mut media).map_err(wrap)?;
        // Registers the transport-wide sequence number extension and `transport-cc` feedback
        // both ways, and reports what we receive to the remote's estimator.
        let registry = configure_twcc_receiver_only(Registry::new(), &mut media).map_err(wrap)?;
        let registry = configure_rtcp_reports(registry);
        let estimator = crate::bwe::LinkEstimator::new(adaptation.estimate.clone());
        // The pacer starts at the starting estimate (its own default is 1 Mbit/s), with a
        // queue of about a second at the floor rate rather than 4 096 packets.
        // Video paced from the starting estimate (the crate's pacer starts at 1 Mbit/s and holds
        // audio behind video: see `pacer`).
        let pacer =
            crate::pacer::VideoPacer::new(crate::bwe::INITIAL_BPS * crate::bwe::PACING_FACTOR, PACER_BURST_BITS);
        registry
            .with(Slot::NackResponder, NackResponderBuilder::new().build())
            // Missing packets are asked for again as the round trip allows (see `nack`; the
            // crate's generator asks every 100 ms for as long as they are missing).
            .with(
                Slot::NackGenerator,
                crate::nack::NackRequester::new(adaptation.estimate.clone()),
            )
            .with(
                Slot::from(crate::bwe::BUDGET_SLOT),
                crate::bwe::RetransmissionBudget::new(adaptation.estimate.clone()),
            )
            .with(
                Slot::CongestionControl,
                CongestionControlBuilder::new(estimator).build(),
            )
            .with(Slot::TwccSender, TwccSenderBuilder::new().build())
            .with(Slot::Pacer, pacer)
    };
    // Keyframe requests must reach our encoder (see `keyframe`).
    let registry = registry.with(
        rtc::interceptor::Slot::from(crate::keyframe::FORWARDER_SLOT),
        crate::keyframe::KeyframeRequestForwarder::default(),
    );
    // What the remote says it received of our streams (see `reception`).
    let registry = registry.with(
        rtc::interceptor::Slot::from(crate::reception::READER_SLOT),
        reception.reader(),
    );
    Ok((media, registry))
}

/// The W3C configuration handed to the crate. Credentials leave the `Secret` only here.
/// TURN over TCP/TLS goes through one of `bridges` (see `bridge`).
pub fn rtc_configuration(ice: &IceConfig, relay_only: bool, bridges: &crate::bridge::Bridges) -> RTCConfiguration {
    let servers = ice
        .ice_servers
        .iter()
        .map(|s| RTCIceServer {
            urls: s.urls.iter().map(|url| bridges.agent_url(url)).collect(),
            username: s.username.clone().unwrap_or_default(),
            credential: s.credential.as_ref().map(|c| c.expose().to_owned()).unwrap_or_default(),
        })
        .collect();
    let policy = if relay_only || ice.transport_policy == TransportPolicy::Relay {
        RTCIceTransportPolicy::Relay
    } else {
        RTCIceTransportPolicy::All
    };
    RTCConfigurationBuilder::new()
        .with_ice_servers(servers)
        .with_ice_transport_policy(policy)
        .build()
}

/// Timers. The crate's defaults check a pair every 200 ms and wait 2 s before accepting a relay
/// pair (see NOTES.md); a call app wants the first working path at once.
pub fn setting_engine(relay_only: bool) -> SettingEngine {
    let relay_wait = if relay_only {
        Duration::ZERO
    } else {
        Duration::from_millis(300)
    };
    SettingEngineBuilder::new()
        .with_ice_connection_attempts(Some(Duration::from_millis(50)), Some(25))
        .with_host_acceptance_min_wait(Some(Duration::ZERO))
        .with_srflx_acceptance_min_wait(Some(Duration::from_millis(100)))
        .with_prflx_acceptance_min_wait(Some(Duration::from_millis(200)))
        .with_relay_acceptance_min_wait(Some(relay_wait))
        // Consent checks every 500 ms; `disconnected` after 2.5 s of silence (≈ 5 missed checks),
        // `failed` after 6 s. The fallback policy restarts ICE 1 s into `disconnected`.
        // An ICE restart after a relay died must not keep pairing the dead relay's candidates:
        // re-bind and re-gather from scratch with the (filtered) servers.
        .with_discard_local_candidates_during_ice_restart(true)
        .with_ice_timeouts(
            Some(Duration::from_millis(2500)),
            Some(Duration::from_secs(6)),
            Some(Duration::from_millis(500)),
        )
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtx_payload_types_never_collide() {
        let ours = rtx_codecs(PayloadTypes::default());
        assert_eq!(ours.iter().map(|c| c.payload_type).collect::<Vec<_>>(), vec![103, 97]);
        assert_eq!(ours[0].rtp_codec.sdp_fmtp_line, "apt=102");
        // Numbered like another stack (VP8 100, H.264 101): VP8's RTX cannot be 101.
        let other = rtx_codecs(PayloadTypes {
            h264: 101,
            vp8: 100,
            opus: 96,
        });
        let pts: Vec<u8> = other.iter().map(|c| c.payload_type).collect();
        assert_eq!(pts, vec![102, 97]);
        assert!(pts.iter().all(|pt| ![101, 100, 96].contains(pt)));
    }
}

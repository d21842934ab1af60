//! Which codecs Natter offers, which one it sends on a connection, and how to read the payload
//! types that arrive. Pure logic, no I/O.
//!
//! Payload types are the other side's business: a browser numbers H.264 108 and Opus 111,
//! another stack H.264 101 and Opus 96. Nothing here is a constant that reaches the wire except
//! the numbers of *our own* offers. What we send uses the payload type of the first codec we can
//! encode in the sender's negotiated list (its order is the remote's preference: the offer's
//! when it offered, the answer's when we did); what arrives is read by the numbers of our own
//! description (RFC 3264: the numbers an endpoint lists are the ones it expects to receive).

use rtc::rtp_transceiver::rtp_sender::RTCRtpCodecParameters;
use std::collections::HashMap;

/// A video codec Natter encodes and decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VideoCodec {
    /// Constrained baseline, packetization mode 1 (openh264).
    H264,
    /// VP8 (libvpx).
    Vp8,
}

impl VideoCodec {
    /// Both, in the order Natter offers them: H.264 first (every browser decodes it, and its
    /// encoder is the cheaper one here), VP8 for peers without H.264.
    pub const OFFERED: [VideoCodec; 2] = [VideoCodec::H264, VideoCodec::Vp8];

    pub fn from_mime(mime: &str) -> Option<VideoCodec> {
        match mime.to_ascii_lowercase().as_str() {
            "video/h264" => Some(VideoCodec::H264),
            "video/vp8" => Some(VideoCodec::Vp8),
            _ => None,
        }
    }

    /// The SDP encoding name (`a=rtpmap:PT NAME/90000`).
    pub fn encoding_name(self) -> &'static str {
        match self {
            VideoCodec::H264 => "H264",
            VideoCodec::Vp8 => "VP8",
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            VideoCodec::H264 => rtc::peer_connection::configuration::media_engine::MIME_TYPE_H264,
            VideoCodec::Vp8 => rtc::peer_connection::configuration::media_engine::MIME_TYPE_VP8,
        }
    }

    pub fn index(self) -> usize {
        match self {
            VideoCodec::H264 => 0,
            VideoCodec::Vp8 => 1,
        }
    }
}

impl std::fmt::Display for VideoCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.encoding_name())
    }
}

/// What one sender writes now: decided after each negotiation from the sender's parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendCodec {
    pub mime: String,
    pub payload_type: u8,
    pub clock_rate: u32,
    pub fmtp: String,
    /// For video: which encoder's output to send.
    pub video: Option<VideoCodec>,
}

impl SendCodec {
    /// e.g. "H264/90000 as payload type 108".
    pub fn describe(&self) -> String {
        let name = self.mime.split('/').nth(1).unwrap_or(&self.mime);
        format!("{name}/{} as payload type {}", self.clock_rate, self.payload_type)
    }
}

/// The first codec of a negotiated list that Natter can send: for video H.264 (packetization
/// mode 1, the only one our packetizer speaks) or VP8, for audio Opus. Retransmission, FEC and
/// RED entries are skipped. `None`: nothing we can encode was agreed.
pub fn choose_send_codec(negotiated: &[RTCRtpCodecParameters]) -> Option<SendCodec> {
    negotiated.iter().find_map(|c| {
        let mime = c.rtp_codec.mime_type.as_str();
        let video = VideoCodec::from_mime(mime);
        let usable = match video {
            Some(VideoCodec::H264) => h264_packetization_mode(&c.rtp_codec.sdp_fmtp_line) == 1,
            Some(VideoCodec::Vp8) => true,
            None => mime.eq_ignore_ascii_case("audio/opus"),
        };
        usable.then(|| SendCodec {
            mime: c.rtp_codec.mime_type.clone(),
            payload_type: c.payload_type,
            clock_rate: c.rtp_codec.clock_rate,
            fmtp: c.rtp_codec.sdp_fmtp_line.clone(),
            video,
        })
    })
}

fn h264_packetization_mode(fmtp: &str) -> u8 {
    fmtp_value(fmtp, "packetization-mode")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn fmtp_value<'a>(fmtp: &'a str, key: &str) -> Option<&'a str> {
    fmtp.split(';')
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(key))
        .map(|(_, v)| v.trim())
}

/// The video codecs of a session description's first video section, by payload type
/// (`a=rtpmap:96 VP8/90000`), limited to those Natter decodes.
pub fn video_payload_types(sdp: &str) -> HashMap<u8, VideoCodec> {
    let mut types = HashMap::new();
    let mut in_video = false;
    let mut seen_video = false;
    for line in sdp.lines() {
        let line = line.trim_end();
        if let Some(media) = line.strip_prefix("m=") {
            in_video = media.starts_with("video") && !seen_video;
            seen_video |= in_video;
            continue;
        }
        if !in_video {
            continue;
        }
        let Some(rtpmap) = line.strip_prefix("a=rtpmap:") else {
            continue;
        };
        let Some((pt, encoding)) = rtpmap.split_once(' ') else {
            continue;
        };
        let (Ok(pt), Some(name)) = (pt.parse::<u8>(), encoding.split('/').next()) else {
            continue;
        };
        if let Some(codec) = VideoCodec::from_mime(&format!("video/{name}")) {
            types.insert(pt, codec);
        }
    }
    types
}

/// The video codecs of a remote offer's first video section that Natter can send, in the
/// offer's order (its preference).
pub fn offered_video_codecs(sdp: &str) -> Vec<VideoCodec> {
    let mut in_video = false;
    let mut order: Vec<u8> = Vec::new();
    for line in sdp.lines() {
        if let Some(media) = line.trim_end().strip_prefix("m=") {
            if in_video {
                break;
            }
            if let Some(rest) = media.strip_prefix("video ") {
                in_video = true;
                // m=video PORT PROTO PT PT PT…
                order = rest.split_whitespace().skip(2).filter_map(|p| p.parse().ok()).collect();
            }
        }
    }
    let types = video_payload_types(sdp);
    let mut codecs = Vec::new();
    for pt in order {
        if let Some(&codec) = types.get(&pt)
            && !codecs.contains(&codec)
        {
            codecs.push(codec);
        }
    }
    codecs
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::rtp_transceiver::rtp_sender::RTCRtpCodec;

    fn codec(mime: &str, pt: u8, fmtp: &str) -> RTCRtpCodecParameters {
        RTCRtpCodecParameters {
            rtp_codec: RTCRtpCodec {
                mime_type: mime.into(),
                clock_rate: 90_000,
                channels: 0,
                sdp_fmtp_line: fmtp.into(),
                rtcp_feedback: vec![],
            },
            payload_type: pt,
        }
    }

    #[test]
    fn the_first_codec_we_can_send_wins_with_its_negotiated_number() {
        let negotiated = [
            codec("video/rtx", 97, "apt=96"),
            codec("video/H264", 109, "packetization-mode=0;profile-level-id=42e01f"),
            codec(
                "video/H264",
                108,
                "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
            ),
            codec("video/VP8", 96, ""),
        ];
        let chosen = choose_send_codec(&negotiated).unwrap();
        assert_eq!((chosen.video, chosen.payload_type), (Some(VideoCodec::H264), 108));
        let chosen = choose_send_codec(&negotiated[3..]).unwrap();
        assert_eq!((chosen.video, chosen.payload_type), (Some(VideoCodec::Vp8), 96));
        assert_eq!(choose_send_codec(&[codec("video/VP9", 98, "")]), None);
        let opus = RTCRtpCodecParameters {
            rtp_codec: RTCRtpCodec {
                mime_type: "audio/opus".into(),
                clock_rate: 48_000,
                channels: 2,
                ..Default::default()
            },
            payload_type: 96,
        };
        let chosen = choose_send_codec(&[opus]).unwrap();
        assert_eq!(
            (chosen.video, chosen.payload_type, chosen.describe().as_str()),
            (None, 96, "opus/48000 as payload type 96")
        );
    }

    const CHROMIUM_OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:63 red/48000/2\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 108 109\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\n\
a=rtpmap:102 H264/90000\r\na=rtpmap:103 rtx/90000\r\na=rtpmap:108 H264/90000\r\na=rtpmap:109 rtx/90000\r\n";

    #[test]
    fn video_payload_types_are_read_from_the_video_section_only() {
        let types = video_payload_types(CHROMIUM_OFFER);
        assert_eq!(types.get(&96), Some(&VideoCodec::Vp8));
        assert_eq!(types.get(&108), Some(&VideoCodec::H264));
        assert_eq!(types.get(&111), None);
        assert_eq!(types.get(&97), None);
    }

    #[test]
    fn an_offer_lists_codecs_in_its_own_order() {
        assert_eq!(
            offered_video_codecs(CHROMIUM_OFFER),
            vec![VideoCodec::Vp8, VideoCodec::H264]
        );
        let h264_first = CHROMIUM_OFFER.replace("SAVPF 96 97 102 103 108 109", "SAVPF 108 109 96 97");
        assert_eq!(
            offered_video_codecs(&h264_first),
            vec![VideoCodec::H264, VideoCodec::Vp8]
        );
        assert!(offered_video_codecs("v=0\r\nm=audio 9 RTP/SAVPF 111\r\n").is_empty());
    }
}

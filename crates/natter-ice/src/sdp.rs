//! What we accept from a stranger's session description (the SDP in an offer or answer that
//! arrives over signaling) before it reaches the WebRTC stack.
//!
//! Signaling is not trusted: whoever runs or sits on the signaling path can rewrite an offer. The
//! stack already refuses a DTLS certificate that does not match the `a=fingerprint` it was given;
//! this check makes sure there *is* a fingerprint we can hold the other side to, that every media
//! section is encrypted (SRTP over DTLS, or SCTP over DTLS), and that the ICE credentials are
//! there — and says which of these is wrong in words, instead of a parser error or a call that
//! never connects.

use rtc_sdp::SessionDescription;

/// Largest SDP we look at (signaling caps messages at 64 KiB; a real offer is a few KiB).
pub const MAX_SDP_BYTES: usize = 64 * 1024;

/// The hash we hold the other side's DTLS certificate to, and its length in bytes: SHA-256, what
/// every browser sends and the only one the WebRTC stack verifies (SHA-1 would be too weak).
const FINGERPRINT_HASH: (&str, usize) = ("sha-256", 32);

/// Why a remote description was refused. The `Display` text is for the user (and the log).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpProblem {
    #[error("its session description is {0} bytes, more than the {MAX_SDP_BYTES} we accept")]
    TooLarge(usize),
    #[error("its session description could not be read: {0}")]
    Unreadable(String),
    #[error("its session description has no media sections")]
    NoMedia,
    #[error("it offered unencrypted media ({media} over {proto}); Natter only accepts SRTP over DTLS")]
    Unencrypted { media: String, proto: String },
    #[error("it gave no DTLS certificate fingerprint for {media}, so it could not be verified who is at the other end")]
    NoFingerprint { media: String },
    #[error("its DTLS certificate fingerprint {0:?} is not a SHA-256 fingerprint")]
    BadFingerprint(String),
    #[error("it gave no ICE username/password for {media}")]
    NoIceCredentials { media: String },
    #[error("its DTLS role a=setup:{0} is none of actpass, active, passive")]
    BadSetup(String),
}

/// What the check learnt from a description it accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedSdp {
    /// `m=` sections in use (port ≠ 0), e.g. `["audio", "video"]`.
    pub media: Vec<String>,
    /// The certificate fingerprint the other side's DTLS must present, e.g. `sha-256 AB:CD:…`.
    pub fingerprint: String,
}

/// Check a remote offer or answer. Rejected (port 0) media sections are not judged.
pub fn check_remote_sdp(sdp: &str) -> Result<CheckedSdp, SdpProblem> {
    if sdp.len() > MAX_SDP_BYTES {
        return Err(SdpProblem::TooLarge(sdp.len()));
    }
    let parsed = SessionDescription::unmarshal(&mut std::io::Cursor::new(sdp.as_bytes())).map_err(|e| SdpProblem::Unreadable(shorten(&e.to_string())))?;
    let session_fingerprint = parsed.attribute("fingerprint").map(String::as_str);
    let session_ufrag = parsed.attribute("ice-ufrag").is_some();
    let session_pwd = parsed.attribute("ice-pwd").is_some();
    let session_setup = parsed.attribute("setup").map(String::as_str);

    let mut media = Vec::new();
    let mut fingerprint = None;
    for section in &parsed.media_descriptions {
        let name = &section.media_name;
        if name.port.value == 0 {
            continue;
        }
        // What a stranger wrote goes into logs and the window: at most 80 characters of it.
        let kind = shorten(&name.media);
        let proto = shorten(&name.protos.join("/"));
        if !is_encrypted(&name.protos) {
            return Err(SdpProblem::Unencrypted { media: kind, proto });
        }
        let value = section.attribute("fingerprint").flatten().or(session_fingerprint).ok_or_else(|| SdpProblem::NoFingerprint { media: kind.clone() })?;
        let checked = check_fingerprint(value)?;
        fingerprint.get_or_insert(checked);
        let ufrag = section.attribute("ice-ufrag").is_some() || session_ufrag;
        let pwd = section.attribute("ice-pwd").is_some() || session_pwd;
        if !ufrag || !pwd {
            return Err(SdpProblem::NoIceCredentials { media: kind });
        }
        if let Some(setup) = section.attribute("setup").flatten().or(session_setup)
            && !matches!(setup, "actpass" | "active" | "passive")
        {
            return Err(SdpProblem::BadSetup(shorten(setup)));
        }
        media.push(kind);
    }
    match fingerprint {
        Some(fingerprint) => Ok(CheckedSdp { media, fingerprint }),
        None => Err(SdpProblem::NoMedia),
    }
}

/// SRTP (`UDP/TLS/RTP/SAVP[F]`, `RTP/SAVP[F]` with DTLS keys) or data over DTLS (`…DTLS/SCTP`).
/// Plain `RTP/AVP[F]` would be unencrypted.
fn is_encrypted(protos: &[String]) -> bool {
    let upper: Vec<String> = protos.iter().map(|p| p.to_ascii_uppercase()).collect();
    let has = |token: &str| upper.iter().any(|p| p == token);
    let dtls = has("TLS") || has("DTLS");
    (dtls && (has("SAVPF") || has("SAVP"))) || (dtls && has("SCTP"))
}

/// `sha-256 AB:CD:…` with the right number of hex bytes for the hash.
fn check_fingerprint(value: &str) -> Result<String, SdpProblem> {
    let bad = || SdpProblem::BadFingerprint(shorten(value));
    let (hash, hex) = value.trim().split_once(' ').ok_or_else(bad)?;
    let hash = hash.to_ascii_lowercase();
    let (expected_hash, bytes) = FINGERPRINT_HASH;
    if hash != expected_hash {
        return Err(bad());
    }
    let parts: Vec<&str> = hex.trim().split(':').collect();
    let valid = parts.len() == bytes && parts.iter().all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()));
    if !valid {
        return Err(bad());
    }
    Ok(format!("{hash} {}", hex.trim().to_ascii_uppercase()))
}

/// At most 80 characters of what a stranger sent, for a message.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(80) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP: &str = "sha-256 0F:1E:2D:3C:4B:5A:69:78:87:96:A5:B4:C3:D2:E1:F0:0F:1E:2D:3C:4B:5A:69:78:87:96:A5:B4:C3:D2:E1:F0";

    fn offer(media_proto: &str, extra: &str) -> String {
        format!(
            "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n{extra}\
             m=video 9 {media_proto} 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n\
             a=setup:actpass\r\na=rtpmap:96 H264/90000\r\n"
        )
    }

    #[test]
    fn a_webrtc_offer_with_a_fingerprint_is_accepted() {
        let checked = check_remote_sdp(&offer("UDP/TLS/RTP/SAVPF", &format!("a=fingerprint:{FP}\r\n"))).unwrap();
        assert_eq!(checked.media, vec!["video"]);
        assert!(checked.fingerprint.starts_with("sha-256 0F:1E"), "{}", checked.fingerprint);
    }

    #[test]
    fn unencrypted_rtp_is_refused_in_words() {
        let err = check_remote_sdp(&offer("RTP/AVP", &format!("a=fingerprint:{FP}\r\n"))).unwrap_err();
        assert_eq!(err, SdpProblem::Unencrypted { media: "video".into(), proto: "RTP/AVP".into() });
        assert!(err.to_string().contains("only accepts SRTP"), "{err}");
    }

    #[test]
    fn a_missing_or_weak_fingerprint_is_refused() {
        let err = check_remote_sdp(&offer("UDP/TLS/RTP/SAVPF", "")).unwrap_err();
        assert_eq!(err, SdpProblem::NoFingerprint { media: "video".into() });
        let sha1 = "a=fingerprint:sha-1 0F:1E:2D:3C:4B:5A:69:78:87:96:A5:B4:C3:D2:E1:F0:0F:1E:2D:3C\r\n";
        assert!(matches!(check_remote_sdp(&offer("UDP/TLS/RTP/SAVPF", sha1)), Err(SdpProblem::BadFingerprint(_))));
        let short = "a=fingerprint:sha-256 0F:1E\r\n";
        assert!(matches!(check_remote_sdp(&offer("UDP/TLS/RTP/SAVPF", short)), Err(SdpProblem::BadFingerprint(_))));
    }

    #[test]
    fn garbage_and_empty_descriptions_are_refused() {
        assert!(matches!(check_remote_sdp("hello"), Err(SdpProblem::Unreadable(_))));
        assert_eq!(check_remote_sdp("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"), Err(SdpProblem::NoMedia));
        assert!(matches!(check_remote_sdp(&"a".repeat(MAX_SDP_BYTES + 1)), Err(SdpProblem::TooLarge(_))));
        // A stranger's long text is not repeated in full in the message.
        let long_proto = format!("RTP/{}", "X".repeat(5000));
        let err = check_remote_sdp(&offer(&long_proto, &format!("a=fingerprint:{FP}\r\n"))).unwrap_err().to_string();
        assert!(err.len() < 300, "{} bytes: {err:.100}", err.len());
    }

    #[test]
    fn data_channels_over_dtls_are_encrypted() {
        assert!(is_encrypted(&["UDP".into(), "DTLS".into(), "SCTP".into()]));
        assert!(is_encrypted(&["UDP".into(), "TLS".into(), "RTP".into(), "SAVPF".into()]));
        assert!(!is_encrypted(&["RTP".into(), "SAVPF".into()]), "SDES keys in the SDP: not what WebRTC uses");
        assert!(!is_encrypted(&["RTP".into(), "AVPF".into()]));
    }
}

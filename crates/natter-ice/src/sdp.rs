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
    #[error("none of its DTLS certificate fingerprints is a SHA-256 one, the hash Natter verifies (it gave {0:?})")]
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
    let parsed = SessionDescription::unmarshal(&mut std::io::Cursor::new(sdp.as_bytes()))
        .map_err(|e| SdpProblem::Unreadable(shorten(&e.to_string())))?;
    let session_fingerprints = fingerprints_of(&parsed.attributes);
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
        // Any listed hash may come first (sha-384, sha-512…); one SHA-256 among them, at media
        // or session level, is what we hold the other side to.
        let mut listed = fingerprints_of(&section.attributes);
        if listed.is_empty() {
            listed = session_fingerprints.clone();
        }
        let first = listed
            .first()
            .ok_or_else(|| SdpProblem::NoFingerprint { media: kind.clone() })?;
        let checked = listed
            .iter()
            .find_map(|v| check_fingerprint(v).ok())
            .ok_or_else(|| SdpProblem::BadFingerprint(shorten(first)))?;
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

fn fingerprints_of(attributes: &[rtc_sdp::description::common::Attribute]) -> Vec<&str> {
    attributes
        .iter()
        .filter(|a| a.key.eq_ignore_ascii_case("fingerprint"))
        .filter_map(|a| a.value.as_deref())
        .collect()
}

/// The description as the WebRTC stack should see it: only its SHA-256 fingerprint lines. The
/// stack reads the first `a=fingerprint` of each level and verifies SHA-256 only, so an offer
/// that lists sha-384 first would fail its handshake although it also carries sha-256; dropping
/// the hashes nobody verifies changes nothing of what the certificate is held to. Call after
/// [`check_remote_sdp`] accepted the description (which guarantees a SHA-256 line remains).
pub fn for_the_stack(sdp: &str) -> String {
    let (hash, _) = FINGERPRINT_HASH;
    let keep = |line: &str| match line.trim_start().strip_prefix("a=fingerprint:") {
        Some(value) => value
            .trim_start()
            .split_once(' ')
            .is_some_and(|(h, _)| h.eq_ignore_ascii_case(hash)),
        None => true,
    };
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.split_inclusive('\n') {
        if keep(line) {
            out.push_str(line);
        }
    }
    out
}

/// What our trickled candidates must carry to be placed by any W3C peer: the `mid` of the first
/// media section (with BUNDLE every candidate belongs to it) and our ICE username fragment (so a
/// peer can tell candidates of an ICE restart from the old ones).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CandidateTag {
    pub mid: Option<String>,
    pub mline_index: Option<u16>,
    pub ufrag: Option<String>,
}

/// The tag for candidates of the connection whose local description is `sdp`.
pub fn candidate_tag(sdp: &str) -> CandidateTag {
    let mut tag = CandidateTag::default();
    let mut in_media = false;
    for line in sdp.lines().map(str::trim_end) {
        if line.starts_with("m=") {
            if in_media {
                break;
            }
            in_media = true;
            tag.mline_index = Some(0);
        } else if let Some(mid) = line.strip_prefix("a=mid:").filter(|_| in_media) {
            tag.mid.get_or_insert_with(|| mid.to_string());
        } else if let Some(ufrag) = line.strip_prefix("a=ice-ufrag:") {
            tag.ufrag.get_or_insert_with(|| ufrag.to_string());
        }
    }
    tag
}

/// The `a=candidate:` lines of a description (candidates sent inside the SDP instead of
/// trickled, as aiortc does), and whether it says `a=end-of-candidates`.
pub fn candidates_in(sdp: &str) -> (Vec<&str>, bool) {
    let candidates = sdp
        .lines()
        .filter_map(|l| l.trim_end().strip_prefix("a="))
        .filter(|l| l.starts_with("candidate:"))
        .collect();
    let complete = sdp.lines().any(|l| l.trim_end() == "a=end-of-candidates");
    (candidates, complete)
}

/// SRTP (`UDP/TLS/RTP/SAVP[F]`, `RTP/SAVP[F]` with DTLS keys) or data over DTLS (`…DTLS/SCTP`).
/// Plain `RTP/AVP[F]` would be unencrypted.
fn is_encrypted(protos: &[String]) -> bool {
    let upper: Vec<String> = protos.iter().map(|p| p.to_ascii_uppercase()).collect();
    let has = |token: &str| upper.iter().any(|p| p == token);
    let dtls = has("TLS") || has("DTLS");
    dtls && (has("SAVPF") || has("SAVP") || has("SCTP"))
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
    let valid = parts.len() == bytes
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()));
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

    const FP: &str =
        "sha-256 0F:1E:2D:3C:4B:5A:69:78:87:96:A5:B4:C3:D2:E1:F0:0F:1E:2D:3C:4B:5A:69:78:87:96:A5:B4:C3:D2:E1:F0";

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
        assert!(
            checked.fingerprint.starts_with("sha-256 0F:1E"),
            "{}",
            checked.fingerprint
        );
    }

    #[test]
    fn a_sha256_fingerprint_after_others_is_found_and_kept_for_the_stack() {
        let sha384 = format!("a=fingerprint:sha-384 {}\r\n", ["AB"; 48].join(":"));
        let sha512 = format!("a=fingerprint:sha-512 {}\r\n", ["CD"; 64].join(":"));
        for extra in [
            format!("{sha384}a=fingerprint:{FP}\r\n"),
            format!("{sha512}{sha384}a=fingerprint:{FP}\r\n"),
        ] {
            let sdp = offer("UDP/TLS/RTP/SAVPF", &extra);
            let checked = check_remote_sdp(&sdp).unwrap();
            assert!(
                checked.fingerprint.starts_with("sha-256 0F:1E"),
                "{}",
                checked.fingerprint
            );
            let stack = for_the_stack(&sdp);
            assert!(!stack.contains("sha-384") && !stack.contains("sha-512"), "{stack}");
            assert!(stack.contains(&format!("a=fingerprint:{FP}\r\n")));
            assert_eq!(stack.lines().count(), sdp.lines().count() - extra.lines().count() + 1);
        }
        // At media level too.
        let media_level = offer("UDP/TLS/RTP/SAVPF", "") + &sha384 + &format!("a=fingerprint:{FP}\r\n");
        assert!(check_remote_sdp(&media_level).is_ok());
        // Only hashes we cannot verify: refused, saying what it gave.
        let err = check_remote_sdp(&offer("UDP/TLS/RTP/SAVPF", &sha384)).unwrap_err();
        assert!(
            matches!(err, SdpProblem::BadFingerprint(ref v) if v.starts_with("sha-384")),
            "{err}"
        );
        assert!(err.to_string().contains("SHA-256"), "{err}");
    }

    #[test]
    fn candidates_are_tagged_with_the_first_mid_and_our_ufrag() {
        let sdp = offer("UDP/TLS/RTP/SAVPF", "") + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:1\r\n";
        let tag = candidate_tag(&sdp);
        assert_eq!(
            tag,
            CandidateTag {
                mid: Some("0".into()),
                mline_index: Some(0),
                ufrag: Some("abcd".into())
            }
        );
        assert_eq!(candidate_tag("v=0\r\n"), CandidateTag::default());
    }

    #[test]
    fn candidates_inside_a_description_are_found() {
        let sdp = offer("UDP/TLS/RTP/SAVPF", "")
            + "a=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\na=end-of-candidates\r\n";
        let (candidates, complete) = candidates_in(&sdp);
        assert_eq!(candidates, vec!["candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host"]);
        assert!(complete);
        assert_eq!(candidates_in(&offer("UDP/TLS/RTP/SAVPF", "")), (vec![], false));
    }

    #[test]
    fn unencrypted_rtp_is_refused_in_words() {
        let err = check_remote_sdp(&offer("RTP/AVP", &format!("a=fingerprint:{FP}\r\n"))).unwrap_err();
        assert_eq!(
            err,
            SdpProblem::Unencrypted {
                media: "video".into(),
                proto: "RTP/AVP".into()
            }
        );
        assert!(err.to_string().contains("only accepts SRTP"), "{err}");
    }

    #[test]
    fn a_missing_or_weak_fingerprint_is_refused() {
        let err = check_remote_sdp(&offer("UDP/TLS/RTP/SAVPF", "")).unwrap_err();
        assert_eq!(err, SdpProblem::NoFingerprint { media: "video".into() });
        let sha1 = "a=fingerprint:sha-1 0F:1E:2D:3C:4B:5A:69:78:87:96:A5:B4:C3:D2:E1:F0:0F:1E:2D:3C\r\n";
        assert!(matches!(
            check_remote_sdp(&offer("UDP/TLS/RTP/SAVPF", sha1)),
            Err(SdpProblem::BadFingerprint(_))
        ));
        let short = "a=fingerprint:sha-256 0F:1E\r\n";
        assert!(matches!(
            check_remote_sdp(&offer("UDP/TLS/RTP/SAVPF", short)),
            Err(SdpProblem::BadFingerprint(_))
        ));
    }

    #[test]
    fn garbage_and_empty_descriptions_are_refused() {
        assert!(matches!(check_remote_sdp("hello"), Err(SdpProblem::Unreadable(_))));
        assert_eq!(
            check_remote_sdp("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"),
            Err(SdpProblem::NoMedia)
        );
        assert!(matches!(
            check_remote_sdp(&"a".repeat(MAX_SDP_BYTES + 1)),
            Err(SdpProblem::TooLarge(_))
        ));
        // A stranger's long text is not repeated in full in the message.
        let long_proto = format!("RTP/{}", "X".repeat(5000));
        let err = check_remote_sdp(&offer(&long_proto, &format!("a=fingerprint:{FP}\r\n")))
            .unwrap_err()
            .to_string();
        assert!(err.len() < 300, "{} bytes: {err:.100}", err.len());
    }

    #[test]
    fn data_channels_over_dtls_are_encrypted() {
        assert!(is_encrypted(&["UDP".into(), "DTLS".into(), "SCTP".into()]));
        assert!(is_encrypted(&[
            "UDP".into(),
            "TLS".into(),
            "RTP".into(),
            "SAVPF".into()
        ]));
        assert!(
            !is_encrypted(&["RTP".into(), "SAVPF".into()]),
            "SDES keys in the SDP: not what WebRTC uses"
        );
        assert!(!is_encrypted(&["RTP".into(), "AVPF".into()]));
    }
}

//! The check of a remote session description at our boundary (`natter_ice::sdp::check_remote_sdp`),
//! run on every offer/answer SDP a stranger sends before it reaches the WebRTC stack. Besides "no
//! panic", checks what an accepted description promises: at least one media section, and a
//! fingerprint `sha-256 HH:HH:…` of 32 upper-case hex bytes (the only hash the check accepts).
#![no_main]

use libfuzzer_sys::fuzz_target;
use natter_ice::sdp::check_remote_sdp;

fuzz_target!(|data: &[u8]| {
    let Ok(sdp) = std::str::from_utf8(data) else { return };
    let Ok(checked) = check_remote_sdp(sdp) else { return };
    assert!(!checked.media.is_empty(), "accepted without media: {checked:?}");
    let (hash, hex) = checked
        .fingerprint
        .split_once(' ')
        .expect("fingerprint is '<hash> <hex>'");
    assert_eq!(hash, "sha-256", "fingerprint {:?}", checked.fingerprint);
    let parts: Vec<&str> = hex.split(':').collect();
    assert_eq!(parts.len(), 32, "fingerprint {:?}", checked.fingerprint);
    assert!(
        parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))),
        "fingerprint {:?}",
        checked.fingerprint
    );
});

//! `IceUrl::parse` and `IceConfig::from_json` (the W3C `RTCConfiguration` JSON a user pastes) on
//! arbitrary text. Besides "no panic", checks what the code promises:
//! - a parsed URL's `Display` parses again to the same `IceUrl`, with a port ≥ 1;
//! - an accepted configuration has ≥ 1 URL per server, credentials for every TURN URL, one probe
//!   spec per URL with credentials exactly for `turn:`/`turns:`, and every URL re-parses to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use natter_ice::{CredentialKind, IceConfig, IceUrl};

/// A realistic clock for TURN REST credentials (2023-11-14); the fuzzer does not choose the time.
const NOW_UNIX: u64 = 1_700_000_000;

fn check_url(url: &IceUrl) {
    assert!(url.port >= 1, "port 0 accepted: {url:?}");
    assert!(!url.host.is_empty(), "empty host accepted: {url:?}");
    let again = IceUrl::parse(&url.to_string()).expect("Display of a parsed URL parses");
    assert_eq!(&again, url, "parse(display(url)) != url");
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };

    if let Ok(url) = IceUrl::parse(text) {
        check_url(&url);
    }

    if let Ok(config) = IceConfig::from_json(text) {
        for server in &config.ice_servers {
            assert!(!server.urls.is_empty(), "server without URLs accepted");
            if server.urls.iter().any(|u| u.is_turn()) {
                assert!(server.credential.is_some(), "TURN URL without credential accepted");
                if server.credential_kind == CredentialKind::Password {
                    assert!(
                        server.username.is_some(),
                        "TURN URL with a password but no username accepted"
                    );
                }
            }
            for url in &server.urls {
                check_url(url);
            }
        }
        let specs = config.probe_specs(NOW_UNIX);
        assert_eq!(specs.len(), config.urls().count(), "one probe spec per URL");
        for spec in &specs {
            assert_eq!(
                spec.credentials.is_some(),
                spec.url.is_turn(),
                "credentials exactly for TURN: {:?}",
                spec.url
            );
        }
        serde_json::to_string(&config).expect("a config serializes");
    }
});

//! The signaling wire decoder, as the server (`ClientMessage`) and the client (`ServerMessage`)
//! run it on every WebSocket text message: `serde_json::from_str` on arbitrary text.
//! Property: a message that decodes, re-encoded with `to_json()`, decodes to an equal value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use natter_signal::protocol::{ClientMessage, ServerMessage};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };

    if let Ok(msg) = serde_json::from_str::<ClientMessage>(text) {
        let json = msg.to_json();
        let again = serde_json::from_str::<ClientMessage>(&json)
            .unwrap_or_else(|e| panic!("re-encoded ClientMessage does not decode: {e}: {json}"));
        assert_eq!(again, msg, "ClientMessage round trip: {json}");
    }

    if let Ok(msg) = serde_json::from_str::<ServerMessage>(text) {
        let json = msg.to_json();
        let again = serde_json::from_str::<ServerMessage>(&json)
            .unwrap_or_else(|e| panic!("re-encoded ServerMessage does not decode: {e}: {json}"));
        assert_eq!(again, msg, "ServerMessage round trip: {json}");
    }
});

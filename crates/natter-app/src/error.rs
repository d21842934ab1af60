//! The one error the app's methods return: a `code` the page branches on and a sentence for the
//! user. Built from the crates' typed errors, never from their text.

use serde::Serialize;
use ts_rs::TS;

/// What went wrong, as a closed set the page can branch on (on the wire: camelCase words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum ErrorCode {
    /// The page runs outside the app (no Tauri backend). Raised by the page itself, never by Rust.
    NoBackend,
    /// This system has no config directory (set `NATTER_CONFIG_DIR`).
    NoConfigDir,
    /// The settings (or credentials) file cannot be read.
    SettingsUnreadable,
    /// The settings (or credentials) file cannot be written.
    SettingsUnwritable,
    /// The settings file is damaged: fix or delete it.
    SettingsDamaged,
    /// The system keyring refused to store or give back a credential.
    KeyringRefused,
    /// An ICE configuration (servers + credentials, or W3C JSON) is not valid.
    InvalidIceConfig,
    /// One STUN/TURN URL is not valid (nothing was saved).
    InvalidIceUrl,
    /// The signaling server address of a join is not `ws://…` / `wss://…`.
    InvalidSignalUrl,
    /// A join names no room.
    MissingRoom,
    /// The signaling server cannot be reached: wrong address, server down, network, no answer.
    SignalingUnreachable,
    /// The room was opened with a secret, and the join's is missing or another one.
    RoomLocked,
    /// The signaling server said no for another reason (its words in the message).
    SignalingRefused,
    /// Signaling failed otherwise (another protocol, the connection closed).
    SignalingFailed,
    /// The local media pipeline could not start.
    MediaFailed,
    /// The call could not start for another reason (the WebRTC stack, invalid options).
    CallFailed,
    /// A file for the user (diagnostics, exported servers) could not be written or shown.
    ExportFailed,
    /// A camera, microphone or speaker cannot be used (the message says which and why).
    DeviceFailed,
}

/// An error as the page sees it: `{ code, message }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct AppError {
    pub code: ErrorCode,
    /// One sentence for the user (the crates' own words).
    pub message: String,
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl std::fmt::Display) -> AppError {
        AppError {
            code,
            message: message.to_string(),
        }
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AppError {}

impl From<natter_settings::SettingsError> for AppError {
    fn from(e: natter_settings::SettingsError) -> AppError {
        use natter_settings::SettingsError as E;
        let code = match &e {
            E::NoConfigDir => ErrorCode::NoConfigDir,
            E::Read { .. } => ErrorCode::SettingsUnreadable,
            E::Write { .. } => ErrorCode::SettingsUnwritable,
            E::Corrupt { .. } => ErrorCode::SettingsDamaged,
            E::Keyring(_) => ErrorCode::KeyringRefused,
            E::Ice(_) => ErrorCode::InvalidIceConfig,
        };
        AppError::new(code, e)
    }
}

impl From<natter_ice::IceError> for AppError {
    fn from(e: natter_ice::IceError) -> AppError {
        AppError::new(ErrorCode::InvalidIceConfig, e)
    }
}

impl From<natter_call::CallError> for AppError {
    fn from(e: natter_call::CallError) -> AppError {
        use natter_call::CallError as E;
        let code = match &e {
            E::IceConfig(_) => ErrorCode::InvalidIceConfig,
            E::SignalingUnreachable { .. } => ErrorCode::SignalingUnreachable,
            E::RoomLocked => ErrorCode::RoomLocked,
            E::SignalingRefused { .. } => ErrorCode::SignalingRefused,
            E::Signaling(_) => ErrorCode::SignalingFailed,
            E::Media(_) => ErrorCode::MediaFailed,
            E::Options(_) | E::WebRtc(_) | E::Report { .. } => ErrorCode::CallFailed,
        };
        AppError::new(code, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_code_and_message() {
        let e = AppError::new(ErrorCode::InvalidIceUrl, "bad");
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"code":"invalidIceUrl","message":"bad"}"#
        );
    }

    #[test]
    fn crate_errors_keep_their_kind_and_words() {
        let e: AppError = natter_settings::SettingsError::Corrupt {
            path: "/x/settings.json".into(),
            reason: "EOF".into(),
        }
        .into();
        assert_eq!(e.code, ErrorCode::SettingsDamaged);
        assert!(e.message.contains("/x/settings.json is damaged"), "{}", e.message);

        let e: AppError = natter_call::CallError::Signaling("closed".into()).into();
        assert_eq!(e.code, ErrorCode::SignalingFailed);
        assert_eq!(e.message, "signaling failed: closed");
        let e: AppError = natter_call::CallError::RoomLocked.into();
        assert_eq!(e.code, ErrorCode::RoomLocked);
        assert!(
            e.message.starts_with("the room is locked (room_locked)"),
            "{}",
            e.message
        );
        let e: AppError = natter_call::CallError::SignalingRefused {
            code: natter_signal::protocol::ErrorCode::RateLimited,
            message: "slow down".into(),
        }
        .into();
        assert_eq!(e.code, ErrorCode::SignalingRefused);

        let e: AppError = natter_ice::IceConfig::from_json("{").unwrap_err().into();
        assert_eq!(e.code, ErrorCode::InvalidIceConfig);
    }
}

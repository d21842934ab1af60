//! Why a device cannot be used, in the words the user needs: none there, busy, permission
//! denied, or another failure with the platform's own message.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Which kind of device (on the wire: "camera" | "microphone" | "speaker").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    Camera,
    Microphone,
    Speaker,
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceKind::Camera => "camera",
            DeviceKind::Microphone => "microphone",
            DeviceKind::Speaker => "speaker",
        })
    }
}

/// A device that could not be opened or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    #[error("no {kind} found on this machine")]
    NoneFound { kind: DeviceKind },
    #[error("no {kind} matches `{wanted}` (see `natter devices`)")]
    NoMatch { kind: DeviceKind, wanted: String },
    #[error("{device} is busy: another application is using it (close it, then pick the {kind} again)")]
    Busy { kind: DeviceKind, device: String },
    #[error(
        "permission to use {device} was denied (allow Natter in the system's privacy settings; on Linux, join the `video` or `audio` group)"
    )]
    PermissionDenied { kind: DeviceKind, device: String },
    #[error("{device} cannot be used: {detail}")]
    Failed {
        kind: DeviceKind,
        device: String,
        detail: String,
    },
}

impl DeviceError {
    /// A platform message about `device`, sorted into what the user can act on.
    pub fn classify(kind: DeviceKind, device: &str, detail: &str) -> DeviceError {
        let lower = detail.to_lowercase();
        let device = device.to_string();
        if lower.contains("busy") || lower.contains("ebusy") || lower.contains("in use") {
            DeviceError::Busy { kind, device }
        } else if lower.contains("permission denied")
            || lower.contains("access denied")
            || lower.contains("not permitted")
            || lower.contains("eacces")
        {
            DeviceError::PermissionDenied { kind, device }
        } else {
            // Platform messages end with a full stop; ours goes on after them.
            DeviceError::Failed {
                kind,
                device,
                detail: detail.trim().trim_end_matches('.').to_string(),
            }
        }
    }

    /// Which device kind this is about.
    pub fn kind(&self) -> DeviceKind {
        match self {
            DeviceError::NoneFound { kind }
            | DeviceError::NoMatch { kind, .. }
            | DeviceError::Busy { kind, .. }
            | DeviceError::PermissionDenied { kind, .. }
            | DeviceError::Failed { kind, .. } => *kind,
        }
    }

    /// The short reason a tile shows ("no device", "busy", "permission denied", "failed").
    pub fn reason(&self) -> &'static str {
        match self {
            DeviceError::NoneFound { .. } | DeviceError::NoMatch { .. } => "no device",
            DeviceError::Busy { .. } => "busy",
            DeviceError::PermissionDenied { .. } => "permission denied",
            DeviceError::Failed { .. } => "failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_messages_are_sorted_into_what_the_user_can_do() {
        let busy = DeviceError::classify(
            DeviceKind::Camera,
            "HD Webcam",
            "Could not open device 0: Device or resource busy (os error 16)",
        );
        assert_eq!(busy.reason(), "busy");
        assert!(busy.to_string().contains("another application is using it"), "{busy}");
        let denied = DeviceError::classify(DeviceKind::Camera, "HD Webcam", "Permission denied (os error 13)");
        assert_eq!(denied.reason(), "permission denied");
        let other = DeviceError::classify(DeviceKind::Microphone, "USB Mic", "format not supported");
        assert_eq!(other.to_string(), "USB Mic cannot be used: format not supported");
        let sentence = DeviceError::classify(
            DeviceKind::Speaker,
            "Default Audio Device",
            "It may have been disconnected. ",
        );
        assert_eq!(
            sentence.to_string(),
            "Default Audio Device cannot be used: It may have been disconnected"
        );
        assert_eq!(
            DeviceError::NoneFound {
                kind: DeviceKind::Camera
            }
            .to_string(),
            "no camera found on this machine"
        );
    }
}

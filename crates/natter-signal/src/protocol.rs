//! The wire format: one JSON object per WebSocket text message, tagged by `"type"`.
//! Field names are a contract shared with other implementations (see docs/signaling.md).

use serde::{Deserialize, Serialize};

/// Largest text message the server accepts (SDP with many candidates stays far below).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// An ICE candidate in the W3C `RTCIceCandidateInit` shape (`sdpMid`, `sdpMLineIndex`,
/// `usernameFragment`; absent or `null` optional fields both read as `None`). As in the W3C API,
/// an empty `candidate` string means end-of-candidates for that m-line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceCandidate {
    pub candidate: String,
    #[serde(rename = "sdpMid", default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    #[serde(rename = "sdpMLineIndex", default, skip_serializing_if = "Option::is_none")]
    pub sdp_mline_index: Option<u16>,
    #[serde(rename = "usernameFragment", default, skip_serializing_if = "Option::is_none")]
    pub username_fragment: Option<String>,
}

fn default_true() -> bool {
    true
}

/// A room's password, chosen by whoever opens the room; everyone after must give the same one.
/// Never printed: `Debug` shows `***` (the server logs joins, and messages may be logged).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RoomSecret(pub String);

impl RoomSecret {
    /// Compare in time independent of where the strings differ (no timing hints to a guesser).
    pub fn matches(&self, other: &RoomSecret) -> bool {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl std::fmt::Debug for RoomSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RoomSecret(***)")
    }
}

/// A participant's rejoin key (see `ClientMessage::Join`). Never printed: `Debug` shows `***`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RejoinKey(pub String);

impl RejoinKey {
    pub const MIN_BYTES: usize = 16;
    pub const MAX_BYTES: usize = 128;

    /// Whether the server accepts it: 16–128 printable ASCII characters.
    pub fn is_valid(&self) -> bool {
        (Self::MIN_BYTES..=Self::MAX_BYTES).contains(&self.0.len()) && self.0.bytes().all(|b| b.is_ascii_graphic())
    }
}

impl std::fmt::Debug for RejoinKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RejoinKey(***)")
    }
}

/// What a client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Enter a room (created on first join unless `create` is false).
    Join {
        room: String,
        name: String,
        #[serde(default = "default_true")]
        create: bool,
        /// The room's secret: sets it when this join opens the room; must match it otherwise.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret: Option<RoomSecret>,
        /// A random key the client chose (16–128 printable ASCII characters). The server derives
        /// the participant's id from it and the room, so joining again with the same key after
        /// the connection dropped (or the server restarted) gives back the same id, and nobody
        /// without the key can take it; a connection still holding that id is replaced.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rejoin_key: Option<RejoinKey>,
    },
    Leave {},
    Offer {
        to: String,
        sdp: String,
    },
    Answer {
        to: String,
        sdp: String,
    },
    Candidate {
        to: String,
        candidate: IceCandidate,
    },
    /// Tell participant `to` whether our microphone and camera are off (shown on our tile).
    MediaState {
        to: String,
        audio_muted: bool,
        video_muted: bool,
    },
    Ping {},
}

/// Someone in the room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerInfo {
    pub id: String,
    pub name: String,
}

/// The answer to `join`: your id and who is already there (you offer to each of them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    pub id: String,
    pub room: String,
    pub peers: Vec<PeerInfo>,
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Welcome(Welcome),
    PeerJoined {
        id: String,
        name: String,
    },
    PeerLeft {
        id: String,
    },
    Offer {
        from: String,
        sdp: String,
    },
    Answer {
        from: String,
        sdp: String,
    },
    Candidate {
        from: String,
        candidate: IceCandidate,
    },
    MediaState {
        from: String,
        audio_muted: bool,
        video_muted: bool,
    },
    Pong {},
    Error {
        code: ErrorCode,
        message: String,
    },
}

/// Why the server rejected a message. The connection stays open after every one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, unknown `type`, missing or mistyped fields, or a binary message.
    BadMessage,
    /// Larger than `MAX_MESSAGE_BYTES`.
    TooLarge,
    /// offer/answer/candidate/leave before `join`.
    NotJoined,
    /// `join` while already in a room.
    AlreadyJoined,
    /// `join` with `create: false` for a room that does not exist.
    UnknownRoom,
    /// `to` names nobody in your room.
    UnknownPeer,
    /// Too many messages too fast; this one was dropped.
    RateLimited,
    /// `join` of a room opened with a secret, without it or with another one.
    RoomLocked,
}

impl ErrorCode {
    /// The wire name, e.g. `"unknown_peer"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadMessage => "bad_message",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::NotJoined => "not_joined",
            ErrorCode::AlreadyJoined => "already_joined",
            ErrorCode::UnknownRoom => "unknown_room",
            ErrorCode::RoomLocked => "room_locked",
            ErrorCode::UnknownPeer => "unknown_peer",
            ErrorCode::RateLimited => "rate_limited",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ClientMessage {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("client messages serialize")
    }
}

impl ServerMessage {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server messages serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_are_stable() {
        let msg = ClientMessage::Candidate {
            to: "p2".into(),
            candidate: IceCandidate {
                candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host".into(),
                sdp_mid: Some("0".into()),
                sdp_mline_index: Some(0),
                username_fragment: None,
            },
        };
        let json = msg.to_json();
        assert_eq!(
            json,
            r#"{"type":"candidate","to":"p2","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}}"#
        );
        let welcome = ServerMessage::Welcome(Welcome {
            id: "p1".into(),
            room: "r".into(),
            peers: vec![],
        });
        assert_eq!(
            welcome.to_json(),
            r#"{"type":"welcome","id":"p1","room":"r","peers":[]}"#
        );
        let error = ServerMessage::Error {
            code: ErrorCode::UnknownPeer,
            message: "x".into(),
        };
        assert_eq!(
            error.to_json(),
            r#"{"type":"error","code":"unknown_peer","message":"x"}"#
        );
    }

    #[test]
    fn error_code_names_match_the_wire() {
        use ErrorCode::*;
        for code in [
            BadMessage,
            TooLarge,
            NotJoined,
            AlreadyJoined,
            UnknownRoom,
            UnknownPeer,
            RateLimited,
            RoomLocked,
        ] {
            assert_eq!(serde_json::to_string(&code).unwrap(), format!("\"{code}\""));
        }
    }

    #[test]
    fn candidate_accepts_browser_shape_with_nulls() {
        let msg: ClientMessage =
            serde_json::from_str(r#"{"type":"candidate","to":"p1","candidate":{"candidate":"","sdpMid":null,"sdpMLineIndex":null,"usernameFragment":"abcd"}}"#).unwrap();
        let ClientMessage::Candidate { candidate, .. } = msg else {
            panic!("not a candidate")
        };
        assert_eq!(
            candidate,
            IceCandidate {
                candidate: String::new(),
                sdp_mid: None,
                sdp_mline_index: None,
                username_fragment: Some("abcd".into())
            }
        );
    }

    #[test]
    fn join_creates_by_default() {
        let msg: ClientMessage = serde_json::from_str(r#"{"type":"join","room":"r","name":"n"}"#).unwrap();
        assert_eq!(
            msg,
            ClientMessage::Join {
                room: "r".into(),
                name: "n".into(),
                create: true,
                secret: None,
                rejoin_key: None,
            }
        );
    }
}

//! `IceConfig`: the W3C `RTCConfiguration` subset Natter reads (`iceServers`, `iceTransportPolicy`).

use crate::{IceError, IceUrl, Secret};

/// One entry of `iceServers`: URLs sharing one set of credentials.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct IceServer {
    pub urls: Vec<IceUrl>,
    pub username: Option<String>,
    /// Serialized as `"***"`.
    pub credential: Option<Secret>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportPolicy {
    #[default]
    All,
    Relay,
}

/// A validated ICE configuration.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct IceConfig {
    pub ice_servers: Vec<IceServer>,
    pub transport_policy: TransportPolicy,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawConfig {
    #[serde(default)]
    ice_servers: Vec<RawServer>,
    #[serde(default)]
    ice_transport_policy: Option<String>,
}

#[derive(serde::Deserialize)]
struct RawServer {
    urls: RawUrls,
    username: Option<String>,
    credential: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum RawUrls {
    One(String),
    Many(Vec<String>),
}

impl IceConfig {
    /// Parse `{"iceServers":[{"urls":[...],"username":...,"credential":...}], "iceTransportPolicy": "all"|"relay"}`.
    pub fn from_json(text: &str) -> Result<IceConfig, IceError> {
        let raw: RawConfig = serde_json::from_str(text).map_err(|e| IceError::Json(e.to_string()))?;
        let transport_policy = match raw.ice_transport_policy.as_deref() {
            None | Some("all") => TransportPolicy::All,
            Some("relay") => TransportPolicy::Relay,
            Some(other) => return Err(IceError::Json(format!("iceTransportPolicy must be \"all\" or \"relay\", not {other:?}"))),
        };
        let mut ice_servers = Vec::new();
        for (index, server) in raw.ice_servers.into_iter().enumerate() {
            let texts = match server.urls {
                RawUrls::One(u) => vec![u],
                RawUrls::Many(v) => v,
            };
            if texts.is_empty() {
                return Err(IceError::NoUrls { index });
            }
            let urls = texts.iter().map(|t| IceUrl::parse(t)).collect::<Result<Vec<_>, _>>()?;
            let credential = server.credential.filter(|c| !c.is_empty()).map(Secret::new);
            let username = server.username.filter(|u| !u.is_empty());
            if let Some(turn) = urls.iter().find(|u| u.is_turn())
                && (username.is_none() || credential.is_none())
            {
                return Err(IceError::MissingCredentials { url: turn.original.clone() });
            }
            ice_servers.push(IceServer { urls, username, credential });
        }
        Ok(IceConfig { ice_servers, transport_policy })
    }

    /// Every URL with its credentials, in configuration order.
    pub fn urls(&self) -> impl Iterator<Item = (&IceUrl, &IceServer)> {
        self.ice_servers.iter().flat_map(|s| s.urls.iter().map(move |u| (u, s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_w3c_shape_and_hides_the_password() {
        let cfg = IceConfig::from_json(
            r#"{"iceServers":[{"urls":"stun:127.0.0.1:3478"},{"urls":["turn:127.0.0.1:3478?transport=udp"],"username":"u","credential":"hunter2"}]}"#,
        )
        .unwrap();
        assert_eq!(cfg.urls().count(), 2);
        assert_eq!(cfg.ice_servers[1].credential.as_ref().unwrap().expose(), "hunter2");
        let printed = format!("{cfg:?} {}", serde_json::to_string(&cfg).unwrap());
        assert!(!printed.contains("hunter2"), "{printed}");
    }

    #[test]
    fn turn_without_credentials_is_rejected() {
        let err = IceConfig::from_json(r#"{"iceServers":[{"urls":"turn:h"}]}"#).unwrap_err();
        assert_eq!(err.to_string(), "turn:h: turn: and turns: URLs need a username and credential");
    }

    #[test]
    fn bad_json_says_so() {
        assert!(matches!(IceConfig::from_json("{"), Err(IceError::Json(_))));
        assert!(IceConfig::from_json(r#"{"iceServers":[],"iceTransportPolicy":"none"}"#).is_err());
    }
}

//! `IceConfig`: the W3C `RTCConfiguration` subset Natter reads (`iceServers`, `iceTransportPolicy`).

use crate::{IceError, IceUrl, Secret};

/// One entry of `iceServers`: URLs sharing one set of credentials.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct IceServer {
    pub urls: Vec<IceUrl>,
    pub username: Option<String>,
    /// Serialized as `"***"`.
    pub credential: Option<Secret>,
    /// How `credential` is used: a password as is, or a TURN REST shared secret from which
    /// time-limited credentials are derived (coturn's `--use-auth-secret`).
    pub credential_kind: CredentialKind,
}

/// `"credentialType"` in the JSON: `"password"` (default, W3C) or `"shared-secret"` (Natter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CredentialKind {
    #[default]
    Password,
    SharedSecret,
}

/// Lifetime of credentials derived from a shared secret.
pub const REST_CREDENTIAL_TTL_SECS: u64 = 24 * 3600;

impl IceServer {
    /// The username/password to present at `now_unix` (seconds since the epoch): as configured,
    /// or derived from the shared secret (TURN REST API: username `"<expiry>:<user>"`, password
    /// base64(HMAC-SHA1(secret, username))).
    pub fn credentials_at(&self, now_unix: u64) -> Option<(String, Secret)> {
        let credential = self.credential.as_ref()?;
        match self.credential_kind {
            CredentialKind::Password => Some((self.username.clone()?, credential.clone())),
            CredentialKind::SharedSecret => {
                let user = self.username.clone().unwrap_or_default();
                Some(crate::rest::credentials(
                    credential,
                    &user,
                    now_unix + REST_CREDENTIAL_TTL_SECS,
                ))
            }
        }
    }
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
#[serde(rename_all = "camelCase")]
struct RawServer {
    urls: RawUrls,
    username: Option<String>,
    credential: Option<String>,
    credential_type: Option<String>,
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
            Some(other) => {
                return Err(IceError::Json(format!(
                    "iceTransportPolicy must be \"all\" or \"relay\", not {other:?}"
                )));
            }
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
            let credential_kind = match server.credential_type.as_deref() {
                None | Some("password") => CredentialKind::Password,
                Some("shared-secret") => CredentialKind::SharedSecret,
                Some(other) => {
                    return Err(IceError::Json(format!(
                        "credentialType must be \"password\" or \"shared-secret\", not {other:?}"
                    )));
                }
            };
            let needs_username = credential_kind == CredentialKind::Password;
            if let Some(turn) = urls.iter().find(|u| u.is_turn())
                && ((needs_username && username.is_none()) || credential.is_none())
            {
                return Err(IceError::MissingCredentials {
                    url: turn.original.clone(),
                });
            }
            ice_servers.push(IceServer {
                urls,
                username,
                credential,
                credential_kind,
            });
        }
        Ok(IceConfig {
            ice_servers,
            transport_policy,
        })
    }

    /// What to probe: every URL over the transport an ICE agent would use for it (as browsers
    /// do): `stun:` and `turn:` → UDP, `?transport=tcp` → TCP, `stuns:`/`turns:` → TLS.
    pub fn probe_specs(&self, now_unix: u64) -> Vec<crate::probe::ProbeSpec> {
        use crate::probe::{ProbeSpec, ProbeTransport, TurnCredentials};
        let mut specs = Vec::new();
        for (url, server) in self.urls() {
            let credentials = url
                .is_turn()
                .then(|| server.credentials_at(now_unix))
                .flatten()
                .map(|(username, password)| TurnCredentials { username, password });
            let transports: &[ProbeTransport] = match (url.scheme, url.transport) {
                (crate::Scheme::Stuns | crate::Scheme::Turns, _) => &[ProbeTransport::Tls],
                (_, Some(crate::Transport::Udp)) => &[ProbeTransport::Udp],
                (_, Some(crate::Transport::Tcp)) => &[ProbeTransport::Tcp],
                (_, None) => &[ProbeTransport::Udp],
            };
            for &transport in transports {
                specs.push(ProbeSpec {
                    url: url.clone(),
                    transport,
                    credentials: credentials.clone(),
                });
            }
        }
        specs
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
        assert_eq!(
            err.to_string(),
            "turn:h: turn: and turns: URLs need a username and credential"
        );
    }

    #[test]
    fn shared_secret_entries_derive_time_limited_credentials() {
        let cfg = IceConfig::from_json(
            r#"{"iceServers":[{"urls":"turn:h","username":"alice","credential":"s3cret","credentialType":"shared-secret"}]}"#,
        )
        .unwrap();
        let (user, pass) = cfg.ice_servers[0].credentials_at(1_000).unwrap();
        assert_eq!(user, format!("{}:alice", 1_000 + REST_CREDENTIAL_TTL_SECS));
        assert_ne!(pass.expose(), "s3cret");
        assert!(!format!("{cfg:?}").contains("s3cret"));
        let err =
            IceConfig::from_json(r#"{"iceServers":[{"urls":"turn:h","credential":"x","credentialType":"oauth"}]}"#)
                .unwrap_err();
        assert!(err.to_string().contains("credentialType"), "{err}");
    }

    #[test]
    fn probe_specs_cover_each_transport() {
        let cfg = IceConfig::from_json(
            r#"{"iceServers":[{"urls":["stun:a","turn:b?transport=tcp","turns:c"],"username":"u","credential":"p"}]}"#,
        )
        .unwrap();
        let specs: Vec<String> = cfg
            .probe_specs(0)
            .iter()
            .map(|s| format!("{} {}", s.url, s.transport))
            .collect();
        assert_eq!(specs, ["stun:a UDP", "turn:b?transport=tcp TCP", "turns:c TLS"]);
        assert!(cfg.probe_specs(0)[0].credentials.is_none(), "STUN needs no credentials");
        assert_eq!(cfg.probe_specs(0)[1].credentials.as_ref().unwrap().username, "u");
    }

    #[test]
    fn bad_json_says_so() {
        assert!(matches!(IceConfig::from_json("{"), Err(IceError::Json(_))));
        assert!(IceConfig::from_json(r#"{"iceServers":[],"iceTransportPolicy":"none"}"#).is_err());
    }
}

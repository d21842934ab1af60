//! STUN/TURN URLs (RFC 7064 / RFC 7065): `stun:host[:port]`, `turn:host[:port][?transport=udp|tcp]`.

use crate::IceError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    Stun,
    Stuns,
    Turn,
    Turns,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Udp,
    Tcp,
}

/// A parsed ICE server URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceUrl {
    pub scheme: Scheme,
    /// Host name or IP literal, without IPv6 brackets.
    pub host: String,
    pub port: u16,
    /// `?transport=` if given.
    pub transport: Option<Transport>,
    /// The URL as the user wrote it.
    pub original: String,
}

impl IceUrl {
    pub fn parse(input: &str) -> Result<IceUrl, IceError> {
        let bad = |problem: &str| IceError::BadUrl {
            url: input.to_string(),
            problem: problem.to_string(),
        };
        let trimmed = input.trim();
        let (scheme_text, rest) = trimmed
            .split_once(':')
            .ok_or_else(|| bad("must start with stun:, stuns:, turn: or turns:"))?;
        let scheme = match scheme_text.to_ascii_lowercase().as_str() {
            "stun" => Scheme::Stun,
            "stuns" => Scheme::Stuns,
            "turn" => Scheme::Turn,
            "turns" => Scheme::Turns,
            _ => return Err(bad("scheme must be stun:, stuns:, turn: or turns:")),
        };
        if rest.starts_with("//") {
            return Err(bad("no \"//\" after the scheme (write turn:host:port)"));
        }
        let (authority, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (rest, None),
        };
        let transport = match query {
            None => None,
            Some(q) => {
                if matches!(scheme, Scheme::Stun | Scheme::Stuns) {
                    return Err(bad("stun: URLs take no ?transport= parameter"));
                }
                match q.to_ascii_lowercase().as_str() {
                    "transport=udp" => Some(Transport::Udp),
                    "transport=tcp" => Some(Transport::Tcp),
                    _ => return Err(bad("the only query allowed is ?transport=udp or ?transport=tcp")),
                }
            }
        };
        let (host, port_text) = if let Some(after_bracket) = authority.strip_prefix('[') {
            let (host, after) = after_bracket
                .split_once(']')
                .ok_or_else(|| bad("IPv6 address is missing its closing ]"))?;
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(bad("brackets must hold an IPv6 address, e.g. turn:[2001:db8::1]:3478"));
            }
            match after {
                "" => (host, None),
                p if p.starts_with(':') => (host, Some(&p[1..])),
                _ => return Err(bad("unexpected text after the IPv6 address")),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((h, _)) if h.contains(':') => {
                    return Err(bad("IPv6 addresses must be written in brackets, e.g. turn:[::1]:3478"));
                }
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad("host is missing"));
        }
        if let Some(c) = host.chars().find(|c| c.is_whitespace() || "/@#?[]".contains(*c)) {
            return Err(bad(&format!(
                "host contains {c:?}; write only a host name or IP address"
            )));
        }
        let port = match port_text {
            None => match scheme {
                Scheme::Stun | Scheme::Turn => 3478,
                Scheme::Stuns | Scheme::Turns => 5349,
            },
            Some(p) if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(bad(&format!("port {p:?} is not a number")));
            }
            Some(p) => match p.parse::<u32>() {
                Ok(n) if (1..=65535).contains(&n) => n as u16,
                Ok(n) => return Err(bad(&format!("port {n} is out of range (1-65535)"))),
                Err(_) => return Err(bad(&format!("port {p:?} is not a number"))),
            },
        };
        Ok(IceUrl {
            scheme,
            host: host.to_string(),
            port,
            transport,
            original: trimmed.to_string(),
        })
    }

    pub fn is_turn(&self) -> bool {
        matches!(self.scheme, Scheme::Turn | Scheme::Turns)
    }
}

/// Serialized as the URL text the user wrote (URLs carry no secrets).
impl serde::Serialize for IceUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.original)
    }
}

impl std::fmt::Display for IceUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.original)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        let u = IceUrl::parse("turn:127.0.0.1:3478?transport=udp").unwrap();
        assert_eq!(
            (u.scheme, u.host.as_str(), u.port, u.transport),
            (Scheme::Turn, "127.0.0.1", 3478, Some(Transport::Udp))
        );
        assert_eq!(IceUrl::parse("stun:example.org").unwrap().port, 3478);
        assert_eq!(IceUrl::parse("turns:example.org").unwrap().port, 5349);
        let v6 = IceUrl::parse("turn:[::1]:5000").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 5000));
    }

    #[test]
    fn rejects_with_a_reason() {
        for (input, needle) in [
            ("http://x", "scheme"),
            ("turn:host:70000", "out of range"),
            ("turn:host:abc", "not a number"),
            ("turn:host:+3478", "not a number"),
            ("turn:host:", "not a number"),
            ("turn:[example.org]:3478", "must hold an IPv6 address"),
            ("stun:host?transport=udp", "no ?transport"),
            ("turn:::1", "brackets"),
            ("turn:", "host is missing"),
            ("turn:my host:3478", "host contains ' '"),
            ("stun:user@host", "host contains '@'"),
        ] {
            let err = IceUrl::parse(input).unwrap_err().to_string();
            assert!(err.contains(needle), "{input}: {err}");
        }
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        fn url_text() -> impl Strategy<Value = String> {
            let scheme = prop::sample::select(vec!["stun", "stuns", "turn", "turns", "TURN"]);
            let host = prop_oneof![
                "[a-z][a-z0-9-]{0,20}(\\.[a-z][a-z0-9-]{0,10}){0,3}",
                any::<[u8; 4]>().prop_map(|o| std::net::Ipv4Addr::from(o).to_string()),
                any::<[u16; 8]>().prop_map(|s| format!("[{}]", std::net::Ipv6Addr::from(s))),
            ];
            let port = prop::option::of(1u16..=65535);
            let transport = prop::option::of(prop::sample::select(vec!["udp", "tcp"]));
            (scheme, host, port, transport).prop_map(|(scheme, host, port, transport)| {
                let mut text = format!("{scheme}:{host}");
                if let Some(p) = port {
                    text.push_str(&format!(":{p}"));
                }
                if let Some(t) = transport.filter(|_| scheme.to_ascii_lowercase().starts_with("turn")) {
                    text.push_str(&format!("?transport={t}"));
                }
                text
            })
        }

        proptest! {
            #[test]
            fn parse_display_parse_is_identity(text in url_text()) {
                let parsed = IceUrl::parse(&text).expect("generated URLs are valid");
                let again = IceUrl::parse(&parsed.to_string()).expect("display output parses");
                prop_assert_eq!(&again, &parsed);
                prop_assert!(parsed.port >= 1);
            }

            #[test]
            fn arbitrary_input_never_panics(text in ".{0,64}") {
                let _ = IceUrl::parse(&text);
            }
        }
    }
}

//! TURN REST API ephemeral credentials (draft-uberti-behave-turn-rest, as coturn's
//! `--use-auth-secret` checks them): username `"<expiry unix time>:<user>"`, password
//! base64(HMAC-SHA1(shared secret, username)).

use crate::Secret;
use base64::Engine;
use hmac::{Hmac, Mac};

/// Credentials valid until `expires_unix`.
pub fn credentials(secret: &Secret, user: &str, expires_unix: u64) -> (String, Secret) {
    let username = if user.is_empty() {
        expires_unix.to_string()
    } else {
        format!("{expires_unix}:{user}")
    };
    let mut mac =
        Hmac::<sha1::Sha1>::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes keys of any length");
    mac.update(username.as_bytes());
    let password = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    (username, Secret::new(password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_known_vector() {
        // HMAC-SHA1(key "secret", "1700000000:alice"), computed independently with
        // `printf '1700000000:alice' | openssl dgst -sha1 -hmac secret -binary | base64`.
        let (user, pass) = credentials(&Secret::new("secret"), "alice", 1_700_000_000);
        assert_eq!(user, "1700000000:alice");
        assert_eq!(pass.expose(), KNOWN);
    }

    const KNOWN: &str = include_str!("rest_vector.txt");
}

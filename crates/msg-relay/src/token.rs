//! The server secret and the per-user tokens derived from it.
//!
//! A token is `blake3::keyed_hash(key, username)` with
//! `key = blake3::derive_key(TOKEN_CONTEXT, secret)`: the relay can check any token without
//! storing one, and a token proves exactly one name, so holding Alice's token does not let
//! anyone speak as Bob (the Python relay let every holder of the shared secret log in as
//! anyone). Comparisons go through [`blake3::Hash`]'s `PartialEq`, which is constant-time.
//!
//! Each name has a token generation, 0 until the operator revokes its tokens
//! (`msg-relay token --revoke NAME`); generation `g > 0` hashes the name followed by a NUL
//! byte (which no name contains) and `g`, so a new generation's token shares nothing with the
//! old ones and generation 0 is the token issued before generations existed. The relay keeps
//! the generations in its spool (`tokens.json`); without a spool no token can be revoked one
//! at a time, only all of them by rotating the secret.
//!
//! The operator's requests to a running relay (`POST /admin/revoke`) carry the operator
//! token, derived from the secret with its own context: it is not any user's token.

use std::fmt;

/// Domain separation for the token key: a token is useless for any other purpose.
const TOKEN_CONTEXT: &str = "datacore-messaging msg-relay 2026-01 per-user auth token v1";

/// Domain separation for the operator token.
const OPERATOR_CONTEXT: &str = "datacore-messaging msg-relay 2026-12 operator token v1";

/// The shortest secret the relay accepts. A token and its name let an attacker test guesses
/// of the secret offline, so a short secret would let them mint tokens for every name.
pub const MIN_SECRET_CHARS: usize = 16;

/// The relay's secret, reduced to the keys it needs. The secret itself is not kept.
#[derive(Clone)]
pub struct ServerSecret {
    token_key: [u8; 32],
    /// The operator token itself (it is compared, never used as a key).
    operator: blake3::Hash,
    /// The secret's hash, for the v0.2.0 shared-secret login: comparing hashes keeps the
    /// comparison constant-time whatever the candidate's length.
    shared_hash: blake3::Hash,
}

/// Why a secret cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// No secret, or only whitespace.
    #[error(
        "RELAY_SECRET must be set. Generate one with: openssl rand -hex 32 (or set --secret-file)"
    )]
    Missing,
    /// A secret shorter than [`MIN_SECRET_CHARS`].
    #[error(
        "the relay secret has {chars} characters; use at least {min} (generate one with: openssl rand -hex 32)"
    )]
    TooShort {
        /// Its length in characters.
        chars: usize,
        /// The minimum.
        min: usize,
    },
}

impl ServerSecret {
    /// Checks and keeps a secret. Leading and trailing whitespace (a file's final newline)
    /// is not part of it.
    pub fn new(secret: &str) -> Result<ServerSecret, SecretError> {
        let secret = secret.trim();
        if secret.is_empty() {
            return Err(SecretError::Missing);
        }
        let chars = secret.chars().count();
        if chars < MIN_SECRET_CHARS {
            return Err(SecretError::TooShort {
                chars,
                min: MIN_SECRET_CHARS,
            });
        }
        Ok(ServerSecret {
            token_key: blake3::derive_key(TOKEN_CONTEXT, secret.as_bytes()),
            operator: blake3::Hash::from(blake3::derive_key(OPERATOR_CONTEXT, secret.as_bytes())),
            shared_hash: blake3::hash(secret.as_bytes()),
        })
    }

    /// The token that proves `username` to this relay while its tokens were never revoked
    /// (generation 0).
    pub fn token_for(&self, username: &str) -> UserToken {
        self.token_at(username, 0)
    }

    /// The token that proves `username` at token generation `generation`.
    pub fn token_at(&self, username: &str, generation: u32) -> UserToken {
        if generation == 0 {
            return UserToken(blake3::keyed_hash(&self.token_key, username.as_bytes()));
        }
        let mut hasher = blake3::Hasher::new_keyed(&self.token_key);
        hasher.update(username.as_bytes());
        hasher.update(&[0]);
        hasher.update(&generation.to_le_bytes());
        UserToken(hasher.finalize())
    }

    /// Whether `token` (64 hex digits) proves `username` at generation 0, compared in
    /// constant time.
    pub fn verify_token(&self, username: &str, token: &str) -> bool {
        self.verify_token_at(username, token, 0)
    }

    /// Whether `token` proves `username` at `generation`, compared in constant time.
    pub fn verify_token_at(&self, username: &str, token: &str, generation: u32) -> bool {
        match blake3::Hash::from_hex(token.trim()) {
            // `Hash == Hash` is constant-time (blake3 uses constant_time_eq).
            Ok(presented) => presented == self.token_at(username, generation).0,
            Err(_) => false,
        }
    }

    /// The token of the relay's operator, for its administrative requests.
    pub fn operator_token(&self) -> UserToken {
        UserToken(self.operator)
    }

    /// Whether `token` is the operator token, compared in constant time.
    pub fn verify_operator_token(&self, token: &str) -> bool {
        blake3::Hash::from_hex(token.trim()).is_ok_and(|presented| presented == self.operator)
    }

    /// Whether `candidate` is the shared secret (the v0.2.0 login), compared in constant
    /// time.
    pub fn verify_shared_secret(&self, candidate: &str) -> bool {
        blake3::hash(candidate.trim().as_bytes()) == self.shared_hash
    }
}

impl fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerSecret(<redacted>)")
    }
}

/// A per-user token; `Display` gives the 64 hex digits a client puts in `auth.token`.
#[derive(Clone, PartialEq, Eq)]
pub struct UserToken(blake3::Hash);

impl fmt::Display for UserToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.to_hex().as_str())
    }
}

impl fmt::Debug for UserToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UserToken(<redacted>)")
    }
}

/// The longest user name the relay accepts, in bytes: names end up in file names and org
/// headings on the clients' machines.
pub const MAX_USERNAME_BYTES: usize = 128;

/// Why a user name cannot log in (or get a token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsernameError {
    /// No name.
    #[error("Username required")]
    Empty,
    /// Line breaks or control characters.
    #[error("{0}")]
    Invalid(msg_core::validate::ValidationError),
    /// Longer than [`MAX_USERNAME_BYTES`].
    #[error("username is {bytes} bytes long; the limit is {max}")]
    TooLong {
        /// Its length.
        bytes: usize,
        /// The limit.
        max: usize,
    },
}

/// Checks a name for `auth` and `msg-relay token`: non-empty, one line, no control
/// characters (the rules of `msg_core::validate::actor`), at most [`MAX_USERNAME_BYTES`].
pub fn validate_username(username: &str) -> Result<(), UsernameError> {
    if username.is_empty() {
        return Err(UsernameError::Empty);
    }
    msg_core::validate::actor("username", username).map_err(UsernameError::Invalid)?;
    if username.len() > MAX_USERNAME_BYTES {
        return Err(UsernameError::TooLong {
            bytes: username.len(),
            max: MAX_USERNAME_BYTES,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> ServerSecret {
        ServerSecret::new("0123456789abcdef0123456789abcdef").unwrap()
    }

    #[test]
    fn a_token_proves_its_own_name_only() {
        let secret = secret();
        let alice = secret.token_for("alice").to_string();
        assert_eq!(alice.len(), 64);
        assert!(secret.verify_token("alice", &alice));
        assert!(!secret.verify_token("bob", &alice));
        assert!(!secret.verify_token("alice ", &alice));
        assert!(!secret.verify_token("alice", "not hex"));
        assert!(!secret.verify_token("alice", ""));
    }

    #[test]
    fn each_generation_has_its_own_token_and_generation_0_is_the_original() {
        let secret = secret();
        let original = secret.token_for("alice").to_string();
        assert_eq!(secret.token_at("alice", 0).to_string(), original);
        let second = secret.token_at("alice", 1).to_string();
        assert_ne!(second, original);
        assert!(secret.verify_token_at("alice", &second, 1));
        assert!(!secret.verify_token_at("alice", &second, 0));
        assert!(!secret.verify_token_at("alice", &original, 1));
        assert!(!secret.verify_token_at("alice", &second, 2));
        // The bytes hashed for a later generation would be a name with a NUL in it, which
        // no name may have: no generation's token is another name's.
        assert_eq!(
            secret.token_at("alice", 1).to_string(),
            secret.token_for("alice\0\x01\0\0\0").to_string()
        );
        assert!(validate_username("alice\0\x01\0\0\0").is_err());
    }

    #[test]
    fn the_operator_token_is_no_users_token() {
        let secret = secret();
        let operator = secret.operator_token().to_string();
        assert!(secret.verify_operator_token(&operator));
        assert!(!secret.verify_operator_token(&secret.token_for("").to_string()));
        assert!(!secret.verify_operator_token("not hex"));
        let other = ServerSecret::new("another secret that is long enough").unwrap();
        assert!(!other.verify_operator_token(&operator));
    }

    #[test]
    fn tokens_depend_on_the_secret() {
        let other = ServerSecret::new("another secret that is long enough").unwrap();
        let token = secret().token_for("alice").to_string();
        assert!(!other.verify_token("alice", &token));
        // Stable across runs: a token issued yesterday still works today.
        assert_eq!(token, secret().token_for("alice").to_string());
    }

    #[test]
    fn the_shared_secret_is_checked_exactly() {
        let secret = secret();
        assert!(secret.verify_shared_secret("0123456789abcdef0123456789abcdef"));
        assert!(secret.verify_shared_secret("0123456789abcdef0123456789abcdef\n"));
        assert!(!secret.verify_shared_secret("0123456789abcdef0123456789abcde"));
        assert!(!secret.verify_shared_secret(""));
    }

    #[test]
    fn missing_and_short_secrets_are_refused() {
        assert_eq!(ServerSecret::new("  \n").unwrap_err(), SecretError::Missing);
        assert!(matches!(
            ServerSecret::new("short").unwrap_err(),
            SecretError::TooShort { chars: 5, .. }
        ));
        assert!(SecretError::Missing.to_string().contains("RELAY_SECRET"));
    }

    #[test]
    fn usernames_are_one_line_and_bounded() {
        assert_eq!(validate_username(""), Err(UsernameError::Empty));
        assert!(matches!(
            validate_username("a\nb"),
            Err(UsernameError::Invalid(_))
        ));
        assert!(matches!(
            validate_username(&"x".repeat(129)),
            Err(UsernameError::TooLong { .. })
        ));
        assert_eq!(validate_username("tex@team.example.com"), Ok(()));
    }

    #[test]
    fn debug_output_never_shows_key_material() {
        let secret = secret();
        assert_eq!(format!("{secret:?}"), "ServerSecret(<redacted>)");
        assert!(
            !format!("{:?}", secret.token_for("alice"))
                .contains(&secret.token_for("alice").to_string())
        );
    }
}

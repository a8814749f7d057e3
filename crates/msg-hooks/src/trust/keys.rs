//! Keys: each local identity's secret keys, and public keys as people and contacts see them.
//!
//! An identity (the person, and each of their agents) has two key pairs: Ed25519 to sign
//! what it sends, X25519 to open what is sealed to it. The secrets live in
//! `<root>/.datacore/keys/<identity>.yaml` (the directory 0700, the file 0600), written
//! atomically; a rotation moves the old pair to `retired` (still used to open messages
//! sealed to it while they were on their way) and keeps it.
//!
//! Public keys have three text forms: `ed25519:<base64url>` and `x25519:<base64url>` (each
//! key alone, as `contacts.yaml` holds them), the key card `dck1.<base64url of both>` that
//! `msg keys show` prints and `msg contacts add NAME --key` takes, and the fingerprint
//! `3f2a 9c1b 7d4e 0a11 5b6c` (80 bits of a BLAKE3 hash of both keys) that two people read
//! to each other to confirm a key.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use hpke::{Deserializable, Kem as _, Serializable};
use msg_core::durable;
use msg_core::paths::Paths;
use rand_core::{OsRng, RngCore, TryRngCore};
use serde::{Deserialize, Serialize};

use crate::error::TrustError;

/// The KEM of every sealed message (see `seal.rs`).
pub(crate) type Kem = hpke::kem::X25519HkdfSha256;
/// An X25519 secret key.
pub(crate) type EncryptionSecret = <Kem as hpke::Kem>::PrivateKey;

const SIGNING_PREFIX: &str = "ed25519:";
const ENCRYPTION_PREFIX: &str = "x25519:";
const CARD_PREFIX: &str = "dck1.";
/// What a rotation statement signed by the old key begins with (see [`rotation_statement`]).
const ROTATION_CONTEXT: &[u8] = b"datacore-messaging/key-rotation\0";

/// An identity's public keys: what others need to check its signatures and seal to it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct PublicKeys {
    /// The Ed25519 verifying key.
    pub(crate) signing: [u8; 32],
    /// The X25519 public key.
    pub(crate) encryption: [u8; 32],
}

impl std::fmt::Debug for PublicKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKeys({})", self.fingerprint())
    }
}

impl PublicKeys {
    /// `ed25519:<base64url>`.
    pub(crate) fn signing_text(&self) -> String {
        format!("{SIGNING_PREFIX}{}", URL_SAFE_NO_PAD.encode(self.signing))
    }

    /// `x25519:<base64url>`.
    pub(crate) fn encryption_text(&self) -> String {
        format!(
            "{ENCRYPTION_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(self.encryption)
        )
    }

    /// The key card: `dck1.<base64url of the signing key and the encryption key>`.
    pub(crate) fn card(&self) -> String {
        let mut both = [0u8; 64];
        both[..32].copy_from_slice(&self.signing);
        both[32..].copy_from_slice(&self.encryption);
        format!("{CARD_PREFIX}{}", URL_SAFE_NO_PAD.encode(both))
    }

    /// Reads a key card (`dck1.…`).
    pub(crate) fn from_card(text: &str) -> Result<PublicKeys, TrustError> {
        let bad = |reason: &str| TrustError::BadKey {
            given: shorten(text),
            reason: reason.to_owned(),
        };
        let body = text
            .trim()
            .strip_prefix(CARD_PREFIX)
            .ok_or_else(|| bad("a key card starts with `dck1.` (`msg keys show` prints it)"))?;
        let both = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| bad("not base64url after `dck1.`"))?;
        let both: [u8; 64] = both
            .try_into()
            .map_err(|_| bad("a key card holds 64 bytes"))?;
        let keys = PublicKeys {
            signing: both[..32].try_into().expect("32 bytes"),
            encryption: both[32..].try_into().expect("32 bytes"),
        };
        keys.check().map_err(|reason| bad(&reason))?;
        Ok(keys)
    }

    /// Reads the two keys as `contacts.yaml` holds them (`ed25519:…`, `x25519:…`).
    pub(crate) fn from_texts(signing: &str, encryption: &str) -> Result<PublicKeys, TrustError> {
        let keys = PublicKeys {
            signing: decode_key(signing, SIGNING_PREFIX)?,
            encryption: decode_key(encryption, ENCRYPTION_PREFIX)?,
        };
        keys.check().map_err(|reason| TrustError::BadKey {
            given: shorten(signing),
            reason,
        })?;
        Ok(keys)
    }

    /// Whether the signing key is a point Ed25519 accepts.
    fn check(&self) -> Result<(), String> {
        VerifyingKey::from_bytes(&self.signing)
            .map(|_| ())
            .map_err(|_| "the signing key is not an Ed25519 public key".to_owned())
    }

    /// The fingerprint people compare: 80 bits of BLAKE3 over both keys, as five groups of
    /// four hex digits (`3f2a 9c1b 7d4e 0a11 5b6c`).
    pub(crate) fn fingerprint(&self) -> String {
        let mut hasher = blake3::Hasher::new_derive_key("datacore-messaging key fingerprint v1");
        hasher.update(&self.signing);
        hasher.update(&self.encryption);
        let hash = hasher.finalize();
        let hex = hash.to_hex();
        hex[..20]
            .as_bytes()
            .chunks(4)
            .map(|group| std::str::from_utf8(group).expect("hex"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A short ID of the encryption key, naming a sealed payload's slot for it.
    pub(crate) fn encryption_id(encryption: &[u8; 32]) -> [u8; 8] {
        let hash = blake3::hash(encryption);
        hash.as_bytes()[..8].try_into().expect("8 bytes")
    }
}

fn decode_key(text: &str, prefix: &str) -> Result<[u8; 32], TrustError> {
    let bad = |reason: String| TrustError::BadKey {
        given: shorten(text),
        reason,
    };
    let body = text
        .trim()
        .strip_prefix(prefix)
        .ok_or_else(|| bad(format!("it should start with `{prefix}`")))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| bad(format!("not base64url after `{prefix}`")))?;
    bytes
        .try_into()
        .map_err(|_| bad("a key is 32 bytes".to_owned()))
}

/// At most 24 characters of something given, for an error message.
fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(24).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// One identity's secret keys.
pub(crate) struct SecretKeys {
    signing: SigningKey,
    encryption: EncryptionSecret,
    public: PublicKeys,
}

impl SecretKeys {
    /// New keys from the operating system's randomness.
    pub(crate) fn generate() -> SecretKeys {
        let mut signing = [0u8; 32];
        let mut encryption = [0u8; 32];
        OsRng.unwrap_err().fill_bytes(&mut signing);
        OsRng.unwrap_err().fill_bytes(&mut encryption);
        SecretKeys::from_bytes(&signing, &encryption).expect("any 32 bytes are an X25519 secret")
    }

    /// Keys from their 32-byte secrets.
    pub(crate) fn from_bytes(
        signing: &[u8; 32],
        encryption: &[u8; 32],
    ) -> Result<SecretKeys, TrustError> {
        let signing = SigningKey::from_bytes(signing);
        let encryption =
            EncryptionSecret::from_bytes(encryption).map_err(|_| TrustError::BadKey {
                given: "x25519 secret".into(),
                reason: "not an X25519 secret key".into(),
            })?;
        let public = PublicKeys {
            signing: signing.verifying_key().to_bytes(),
            encryption: Kem::sk_to_pk(&encryption).to_bytes().into(),
        };
        Ok(SecretKeys {
            signing,
            encryption,
            public,
        })
    }

    pub(crate) fn public(&self) -> &PublicKeys {
        &self.public
    }

    pub(crate) fn encryption(&self) -> &EncryptionSecret {
        &self.encryption
    }

    /// The Ed25519 signature of `bytes`.
    pub(crate) fn sign(&self, bytes: &[u8]) -> [u8; 64] {
        self.signing.sign(bytes).to_bytes()
    }

    fn to_file(&self, retired_at: Option<String>) -> KeyPairFile {
        KeyPairFile {
            signing: URL_SAFE_NO_PAD.encode(self.signing.to_bytes()),
            encryption: URL_SAFE_NO_PAD.encode(self.encryption.to_bytes()),
            retired: retired_at,
        }
    }
}

/// Now, as key files write it (an org timestamp).
pub(crate) fn now_text() -> String {
    msg_core::timestamp::format_inactive(msg_core::timestamp::now_local())
}

/// What an old key signs when it hands over to a new one: the identity and both public
/// keys of each, so the statement cannot be moved to another identity or pair.
pub(crate) fn rotation_statement(identity: &str, old: &PublicKeys, new: &PublicKeys) -> Vec<u8> {
    let mut out = super::canonical::Writer::with_capacity(200);
    out.raw(ROTATION_CONTEXT);
    out.raw(&[super::canonical::VERSION]);
    out.field(identity.as_bytes());
    for keys in [old, new] {
        out.field(&keys.signing);
        out.field(&keys.encryption);
    }
    out.finish()
}

/// Whether `signature` is `keys`' signature of `bytes`.
pub(crate) fn verify(keys: &PublicKeys, bytes: &[u8], signature: &[u8; 64]) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(&keys.signing) else {
        return false;
    };
    // `verify_strict`: refuses the weak keys and malleable signatures plain `verify` lets by.
    key.verify_strict(bytes, &ed25519_dalek::Signature::from_bytes(signature))
        .is_ok()
}

/// An identity's key file: its current keys and the retired ones.
pub(crate) struct KeyRing {
    /// The identity.
    pub(crate) identity: String,
    /// When the current keys were made, as written.
    pub(crate) created: String,
    /// The keys in use.
    pub(crate) current: SecretKeys,
    /// Earlier keys, newest first: they open what was sealed to them.
    pub(crate) retired: Vec<SecretKeys>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    identity: String,
    created: String,
    signing: String,
    encryption: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    retired: Vec<KeyPairFile>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyPairFile {
    signing: String,
    encryption: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retired: Option<String>,
}

/// `<root>/.datacore/keys`.
pub(crate) fn keys_dir(paths: &Paths) -> PathBuf {
    paths.root().join(".datacore").join("keys")
}

/// `<root>/.datacore/keys/<identity>.yaml`.
pub(crate) fn key_file(paths: &Paths, identity: &str) -> Result<PathBuf, TrustError> {
    msg_core::validate::path_component("identity", identity)?;
    Ok(keys_dir(paths).join(format!("{identity}.yaml")))
}

impl KeyRing {
    /// The keys of `identity`, `None` when it has none yet. A file that is not a key file,
    /// or that others may read, is an error naming it.
    pub(crate) fn load(paths: &Paths, identity: &str) -> Result<Option<KeyRing>, TrustError> {
        let path = key_file(paths, identity)?;
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(TrustError::Io { path, source }),
        };
        let bad = |message: String| TrustError::BadKeyFile {
            path: path.clone(),
            message,
        };
        let mode = fs::metadata(&path)
            .map_err(|source| TrustError::Io {
                path: path.clone(),
                source,
            })?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(bad(format!(
                "others may read it (mode {:o}); run `chmod 600 {}`",
                mode & 0o777,
                path.display()
            )));
        }
        let file: KeyFile =
            serde_yaml::from_str(&text).map_err(|err| bad(format!("not a key file: {err}")))?;
        if file.identity != identity {
            return Err(bad(format!(
                "it holds the keys of {:?}, not {identity:?}",
                file.identity
            )));
        }
        let pair = |signing: &str, encryption: &str| -> Result<SecretKeys, TrustError> {
            let decode = |text: &str, what: &str| -> Result<[u8; 32], TrustError> {
                URL_SAFE_NO_PAD
                    .decode(text.trim())
                    .ok()
                    .and_then(|bytes| bytes.try_into().ok())
                    .ok_or_else(|| bad(format!("`{what}` is not 32 bytes of base64url")))
            };
            SecretKeys::from_bytes(
                &decode(signing, "signing")?,
                &decode(encryption, "encryption")?,
            )
        };
        Ok(Some(KeyRing {
            identity: file.identity.clone(),
            created: file.created.clone(),
            current: pair(&file.signing, &file.encryption)?,
            retired: file
                .retired
                .iter()
                .map(|old| pair(&old.signing, &old.encryption))
                .collect::<Result<_, _>>()?,
        }))
    }

    /// Writes the key file (0600, in a 0700 directory), atomically and durably.
    pub(crate) fn save(&self, paths: &Paths) -> Result<PathBuf, TrustError> {
        let path = key_file(paths, &self.identity)?;
        let dir = keys_dir(paths);
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| TrustError::Io { path, source }
        };
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).map_err(io(&dir))?;
        let current = self.current.to_file(None);
        let file = KeyFile {
            identity: self.identity.clone(),
            created: self.created.clone(),
            signing: current.signing,
            encryption: current.encryption,
            retired: self.retired.iter().map(|keys| keys.to_file(None)).collect(),
        };
        let mut text = format!(
            "# The secret keys of {} for datacore-messaging. Never share this file:\n\
             # `msg keys show` prints the public keys to give to others.\n",
            self.identity
        );
        text.push_str(&serde_yaml::to_string(&file).expect("a key file serialises"));
        // Created 0600 before anything is in it; the atomic write keeps the mode.
        if !path.exists() {
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&path)
                .map_err(io(&path))?;
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).map_err(io(&path))?;
        durable::write_atomically(&path, text.as_bytes())?;
        Ok(path)
    }

    /// The keys of `identity`, created (and saved) now when it has none; `true` when
    /// created.
    pub(crate) fn ensure(paths: &Paths, identity: &str) -> Result<(KeyRing, bool), TrustError> {
        if let Some(ring) = KeyRing::load(paths, identity)? {
            return Ok((ring, false));
        }
        let ring = KeyRing::generate(identity, now_text());
        ring.save(paths)?;
        Ok((ring, true))
    }

    /// New keys for `identity`, created now.
    pub(crate) fn generate(identity: &str, created: String) -> KeyRing {
        KeyRing {
            identity: identity.to_owned(),
            created,
            current: SecretKeys::generate(),
            retired: Vec::new(),
        }
    }

    /// Replaces the current keys with new ones; the old ones are kept as retired. Returns
    /// the old keys' signature of the rotation statement ([`rotation_statement`]).
    pub(crate) fn rotate(&mut self, created: String) -> [u8; 64] {
        let new = SecretKeys::generate();
        let statement = rotation_statement(&self.identity, self.current.public(), new.public());
        let signature = self.current.sign(&statement);
        let old = std::mem::replace(&mut self.current, new);
        self.retired.insert(0, old);
        self.created = created;
        signature
    }

    /// Every encryption secret, current first: what a sealed message may be sealed to.
    pub(crate) fn encryption_secrets(&self) -> impl Iterator<Item = &SecretKeys> {
        std::iter::once(&self.current).chain(self.retired.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn fixed(seed: u8) -> SecretKeys {
        SecretKeys::from_bytes(&[seed; 32], &[seed.wrapping_add(1); 32]).unwrap()
    }

    #[test]
    fn public_keys_read_back_in_every_text_form() {
        let keys = *fixed(1).public();
        assert_eq!(PublicKeys::from_card(&keys.card()).unwrap(), keys);
        assert_eq!(
            PublicKeys::from_texts(&keys.signing_text(), &keys.encryption_text()).unwrap(),
            keys
        );
        assert!(keys.card().starts_with("dck1."));
        assert_eq!(keys.fingerprint().len(), 24);
        assert_ne!(keys.fingerprint(), fixed(2).public().fingerprint());
        for bad in ["", "dck1.", "dck1.!!!", "dck2.AAAA", &keys.card()[..60]] {
            assert!(PublicKeys::from_card(bad).is_err(), "{bad:?}");
        }
        let err =
            PublicKeys::from_texts(&keys.encryption_text(), &keys.encryption_text()).unwrap_err();
        assert!(err.to_string().contains("`ed25519:`"), "{err}");
    }

    #[test]
    fn golden_keys_and_fingerprint() {
        // Secrets of all 1s and all 2s: the public halves and the fingerprint are fixed
        // (the card checked against OpenSSL's Ed25519 and X25519 too).
        let keys = fixed(1);
        assert_eq!(
            keys.public().card(),
            "dck1.iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1zOjTrRzLYz7HtwwXgUpcduzQKWhQUNNEdFugWHDlh9WQ"
        );
        assert_eq!(keys.public().fingerprint(), "dde3 9c15 464b 8228 6b19");
    }

    #[test]
    fn signatures_verify_only_for_their_bytes_and_key() {
        let keys = fixed(3);
        let signature = keys.sign(b"hello");
        assert!(verify(keys.public(), b"hello", &signature));
        assert!(!verify(keys.public(), b"hellp", &signature));
        assert!(!verify(fixed(4).public(), b"hello", &signature));
        let mut bent = signature;
        bent[10] ^= 1;
        assert!(!verify(keys.public(), b"hello", &bent));
    }

    #[test]
    fn key_files_are_private_and_survive_a_rotation() {
        let dir = assert_fs::TempDir::new().unwrap();
        let paths = Paths::new(dir.path());
        assert!(KeyRing::load(&paths, "gregor").unwrap().is_none());
        let ring = KeyRing::generate("gregor", "[2026-11-24 Tue 10:02]".into());
        let path = ring.save(&paths).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = fs::metadata(keys_dir(&paths)).unwrap().permissions().mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        let mut loaded = KeyRing::load(&paths, "gregor").unwrap().unwrap();
        assert_eq!(loaded.current.public(), ring.current.public());
        let old = *loaded.current.public();
        let signature = loaded.rotate("[2026-11-25 Wed 09:00]".into());
        assert!(verify(
            &old,
            &rotation_statement("gregor", &old, loaded.current.public()),
            &signature
        ));
        loaded.save(&paths).unwrap();
        let again = KeyRing::load(&paths, "gregor").unwrap().unwrap();
        assert_ne!(again.current.public(), &old);
        assert_eq!(again.retired[0].public(), &old);
        assert_eq!(again.encryption_secrets().count(), 2);

        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = KeyRing::load(&paths, "gregor").err().unwrap();
        assert!(err.to_string().contains("chmod 600"), "{err}");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&path, "identity: gregor\n").unwrap();
        assert!(KeyRing::load(&paths, "gregor").is_err());
        assert!(KeyRing::load(&paths, "../x").is_err());
    }
}

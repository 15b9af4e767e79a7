//! Encryption at rest of users' AI-provider keys: AES-256-GCM under a server master key.
//!
//! The server holds a [`KeyRing`]: one active master key that encrypts, and any number of older
//! keys that still decrypt. Each sealed value records the id of the key that sealed it, so a
//! rotation is: put a new key first in the ring text (see [`KeyRing::rotate`]), keep the old ones
//! after it, re-encrypt rows whose key id is not [`KeyRing::active_key_id`] at leisure, then drop
//! the old key.
//!
//! Conventions:
//! - Ring text is `id:base64key,id:base64key` (first is active); a key is 32 bytes in standard
//!   base64 (what `openssl rand -base64 32` prints); ids are 1 to 64 of `A-Z a-z 0-9 . _ -`.
//! - A ciphertext is standard base64 of a 96-bit random nonce followed by the AES-GCM output
//!   (ciphertext and 128-bit tag). The key id is bound as associated data, so a ciphertext
//!   relabelled with another key id fails to decrypt instead of being tried under the wrong key.
//! - [`KeyRing::encrypt_bound`] also binds a caller-chosen context (say the `api_keys` row id),
//!   so a ciphertext copied into another row does not decrypt there.
//! - Only the provider, a name and [`last4`] of a provider key ever leave the server.
//! - Errors never contain key material or plaintext; `Debug` of keys and rings is redacted.

use std::fmt;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::TryRngCore;
use rand::rngs::OsRng;

use crate::AuthError;

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const MAX_KEY_ID_LEN: usize = 64;

/// One named AES-256 master key.
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    bytes: [u8; KEY_LEN],
    cipher: Aes256Gcm,
}

impl MasterKey {
    /// A key from its id and 32 raw bytes.
    pub fn new(id: impl Into<String>, bytes: [u8; KEY_LEN]) -> Result<Self, AuthError> {
        let id = id.into();
        validate_key_id(&id)?;
        Ok(MasterKey {
            cipher: Aes256Gcm::new(&bytes.into()),
            id,
            bytes,
        })
    }

    /// A new random key from the operating system's RNG, with an id made of today's date and
    /// random hex (`k20250131-9f3a`), so ids sort by age and do not collide.
    pub fn generate() -> Result<Self, AuthError> {
        let mut bytes = [0u8; KEY_LEN];
        OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(AuthError::Random)?;
        let mut suffix = [0u8; 2];
        OsRng
            .try_fill_bytes(&mut suffix)
            .map_err(AuthError::Random)?;
        let id = format!(
            "k{}-{}",
            chrono::Utc::now().format("%Y%m%d"),
            hex::encode(suffix)
        );
        MasterKey::new(id, bytes)
    }

    /// Parses one `id:base64key` entry.
    pub fn parse(entry: &str) -> Result<Self, AuthError> {
        let (id, key) = entry
            .trim()
            .split_once(':')
            .ok_or_else(|| invalid("an entry is not `id:base64key`"))?;
        let id = id.trim();
        validate_key_id(id)?;
        let decoded = STANDARD
            .decode(key.trim())
            .map_err(|_| invalid(format!("key `{id}` is not valid base64")))?;
        let bytes: [u8; KEY_LEN] = decoded
            .try_into()
            .map_err(|_| invalid(format!("key `{id}` is not 32 bytes")))?;
        MasterKey::new(id, bytes)
    }

    /// The key's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key as `id:base64key`: secret, for writing to a protected file or variable only.
    pub fn to_text(&self) -> String {
        format!("{}:{}", self.id, STANDARD.encode(self.bytes))
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// A value sealed under a master key: store both fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// Id of the master key that sealed it.
    pub key_id: String,
    /// base64 of nonce || ciphertext || tag.
    pub ciphertext: String,
}

/// The server's master keys: the first encrypts, all decrypt.
#[derive(Clone)]
pub struct KeyRing {
    /// Never empty; `keys[0]` is the active key.
    keys: Vec<MasterKey>,
}

impl KeyRing {
    /// A ring from keys, the first being active. Ids must be unique.
    pub fn new(keys: Vec<MasterKey>) -> Result<Self, AuthError> {
        if keys.is_empty() {
            return Err(invalid("the ring holds no key"));
        }
        for (i, key) in keys.iter().enumerate() {
            if keys[..i].iter().any(|earlier| earlier.id == key.id) {
                return Err(invalid(format!("key id `{}` appears twice", key.id)));
            }
        }
        Ok(KeyRing { keys })
    }

    /// Parses `id1:base64key,id2:base64key` (the first is active). Whitespace around entries is
    /// ignored, so the text may come from a file with a trailing newline.
    pub fn parse(text: &str) -> Result<Self, AuthError> {
        let keys = text
            .split(',')
            .filter(|entry| !entry.trim().is_empty())
            .map(MasterKey::parse)
            .collect::<Result<Vec<_>, _>>()?;
        KeyRing::new(keys)
    }

    /// A ring of one new random key; store [`KeyRing::to_text`] where the server reads it.
    pub fn generate() -> Result<Self, AuthError> {
        KeyRing::new(vec![MasterKey::generate()?])
    }

    /// This ring with a new random key in front as the active one; the old keys keep
    /// decrypting.
    pub fn rotate(&self) -> Result<Self, AuthError> {
        let mut keys = Vec::with_capacity(self.keys.len() + 1);
        keys.push(MasterKey::generate()?);
        keys.extend(self.keys.iter().cloned());
        KeyRing::new(keys)
    }

    /// The ring in the format [`KeyRing::parse`] reads: secret, for a protected file only.
    pub fn to_text(&self) -> String {
        self.keys
            .iter()
            .map(MasterKey::to_text)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Id of the key new values are sealed under.
    pub fn active_key_id(&self) -> &str {
        &self.active().id
    }

    /// Ids of all keys, active first.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|key| key.id.as_str())
    }

    /// Seals `plaintext` under the active key.
    pub fn encrypt(&self, plaintext: &str) -> Result<Sealed, AuthError> {
        self.seal(plaintext, None)
    }

    /// Opens a value sealed by [`KeyRing::encrypt`] under any key of the ring.
    pub fn decrypt(&self, key_id: &str, ciphertext: &str) -> Result<String, AuthError> {
        self.open(key_id, ciphertext, None)
    }

    /// Seals `plaintext` under the active key, bound to `context`: it opens only through
    /// [`KeyRing::decrypt_bound`] with the same context.
    pub fn encrypt_bound(&self, plaintext: &str, context: &str) -> Result<Sealed, AuthError> {
        self.seal(plaintext, Some(context))
    }

    /// Opens a value sealed by [`KeyRing::encrypt_bound`] with the same `context`.
    pub fn decrypt_bound(
        &self,
        key_id: &str,
        ciphertext: &str,
        context: &str,
    ) -> Result<String, AuthError> {
        self.open(key_id, ciphertext, Some(context))
    }

    fn active(&self) -> &MasterKey {
        // `new` refuses an empty ring, so the first key exists.
        &self.keys[0]
    }

    fn seal(&self, plaintext: &str, context: Option<&str>) -> Result<Sealed, AuthError> {
        let key = self.active();
        let mut nonce = [0u8; NONCE_LEN];
        OsRng
            .try_fill_bytes(&mut nonce)
            .map_err(AuthError::Random)?;
        let aad = associated_data(&key.id, context);
        let sealed = key
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| AuthError::Encryption)?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(Sealed {
            key_id: key.id.clone(),
            ciphertext: STANDARD.encode(out),
        })
    }

    fn open(
        &self,
        key_id: &str,
        ciphertext: &str,
        context: Option<&str>,
    ) -> Result<String, AuthError> {
        let key = self
            .keys
            .iter()
            .find(|key| key.id == key_id)
            .ok_or_else(|| AuthError::UnknownKeyId(key_id.to_owned()))?;
        let raw = STANDARD
            .decode(ciphertext)
            .map_err(|_| AuthError::Decryption)?;
        if raw.len() < NONCE_LEN + TAG_LEN {
            return Err(AuthError::Decryption);
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let aad = associated_data(&key.id, context);
        let plaintext = key
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| AuthError::Decryption)?;
        String::from_utf8(plaintext).map_err(|_| AuthError::Decryption)
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("key_ids", &self.key_ids().collect::<Vec<_>>())
            .finish()
    }
}

/// The key id alone, or `key_id:context`; unambiguous because ids cannot contain `:`.
fn associated_data(key_id: &str, context: Option<&str>) -> Vec<u8> {
    match context {
        None => key_id.as_bytes().to_vec(),
        Some(context) => format!("{key_id}:{context}").into_bytes(),
    }
}

fn validate_key_id(id: &str) -> Result<(), AuthError> {
    let well_formed = !id.is_empty()
        && id.len() <= MAX_KEY_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if well_formed {
        Ok(())
    } else {
        Err(invalid(
            "a key id must be 1 to 64 of `A-Z a-z 0-9 . _ -`".to_owned(),
        ))
    }
}

fn invalid(reason: impl Into<String>) -> AuthError {
    AuthError::InvalidKeyRing(reason.into())
}

/// The last 4 characters of a secret, to let its owner recognise it (`sk-...abcd`).
///
/// A value of 8 characters or fewer yields an empty string, so a short value is never shown
/// mostly or wholly.
pub fn last4(secret: &str) -> String {
    let count = secret.chars().count();
    if count <= 8 {
        return String::new();
    }
    secret.chars().skip(count - 4).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, fill: u8) -> MasterKey {
        MasterKey::new(id, [fill; KEY_LEN]).unwrap()
    }

    #[test]
    fn round_trip_under_the_active_key() {
        let ring = KeyRing::generate().unwrap();
        let sealed = ring.encrypt("sk-ant-secret-value").unwrap();
        assert_eq!(sealed.key_id, ring.active_key_id());
        assert!(!sealed.ciphertext.contains("secret"));
        assert_eq!(
            ring.decrypt(&sealed.key_id, &sealed.ciphertext).unwrap(),
            "sk-ant-secret-value"
        );
        let empty = ring.encrypt("").unwrap();
        assert_eq!(ring.decrypt(&empty.key_id, &empty.ciphertext).unwrap(), "");
    }

    #[test]
    fn nonces_are_fresh_per_encryption() {
        let ring = KeyRing::generate().unwrap();
        let a = ring.encrypt("same").unwrap();
        let b = ring.encrypt("same").unwrap();
        assert_ne!(a.ciphertext, b.ciphertext);
    }

    #[test]
    fn any_tampering_is_detected() {
        let ring = KeyRing::generate().unwrap();
        let sealed = ring.encrypt("sk-proj-abcdef").unwrap();
        let raw = STANDARD.decode(&sealed.ciphertext).unwrap();
        for i in 0..raw.len() {
            let mut flipped = raw.clone();
            flipped[i] ^= 0x01;
            let result = ring.decrypt(&sealed.key_id, &STANDARD.encode(&flipped));
            assert!(matches!(result, Err(AuthError::Decryption)), "byte {i}");
        }
        let truncated = STANDARD.encode(&raw[..raw.len() - 1]);
        assert!(matches!(
            ring.decrypt(&sealed.key_id, &truncated),
            Err(AuthError::Decryption)
        ));
        let too_short = STANDARD.encode(&raw[..NONCE_LEN + TAG_LEN - 1]);
        assert!(matches!(
            ring.decrypt(&sealed.key_id, &too_short),
            Err(AuthError::Decryption)
        ));
        assert!(matches!(
            ring.decrypt(&sealed.key_id, "not base64!"),
            Err(AuthError::Decryption)
        ));
    }

    #[test]
    fn unknown_key_id_is_refused() {
        let ring = KeyRing::generate().unwrap();
        let sealed = ring.encrypt("secret").unwrap();
        assert!(matches!(
            ring.decrypt("nope", &sealed.ciphertext),
            Err(AuthError::UnknownKeyId(id)) if id == "nope"
        ));
    }

    #[test]
    fn relabelled_key_id_fails_even_with_the_same_key_bytes() {
        // Two ids for the same bytes: only the key id bound as AAD tells them apart.
        let ring = KeyRing::new(vec![key("a", 7), key("b", 7)]).unwrap();
        let sealed = ring.encrypt("secret").unwrap();
        assert_eq!(sealed.key_id, "a");
        assert!(matches!(
            ring.decrypt("b", &sealed.ciphertext),
            Err(AuthError::Decryption)
        ));
    }

    #[test]
    fn a_different_key_under_the_same_id_fails() {
        let sealed = KeyRing::new(vec![key("k1", 1)])
            .unwrap()
            .encrypt("secret")
            .unwrap();
        let other = KeyRing::new(vec![key("k1", 2)]).unwrap();
        assert!(matches!(
            other.decrypt("k1", &sealed.ciphertext),
            Err(AuthError::Decryption)
        ));
    }

    #[test]
    fn rotation_keeps_old_values_readable_and_seals_under_the_new_key() {
        let old_ring = KeyRing::generate().unwrap();
        let old = old_ring.encrypt("old secret").unwrap();

        let new_ring = KeyRing::parse(&old_ring.rotate().unwrap().to_text()).unwrap();
        assert_ne!(new_ring.active_key_id(), old_ring.active_key_id());
        assert_eq!(new_ring.key_ids().count(), 2);
        assert_eq!(
            new_ring.decrypt(&old.key_id, &old.ciphertext).unwrap(),
            "old secret"
        );

        let new = new_ring.encrypt("new secret").unwrap();
        assert_eq!(new.key_id, new_ring.active_key_id());
        assert!(matches!(
            old_ring.decrypt(&new.key_id, &new.ciphertext),
            Err(AuthError::UnknownKeyId(_))
        ));
    }

    #[test]
    fn bound_values_open_only_with_their_context() {
        let ring = KeyRing::generate().unwrap();
        let sealed = ring.encrypt_bound("secret", "api_key:abc").unwrap();
        assert_eq!(
            ring.decrypt_bound(&sealed.key_id, &sealed.ciphertext, "api_key:abc")
                .unwrap(),
            "secret"
        );
        assert!(
            ring.decrypt_bound(&sealed.key_id, &sealed.ciphertext, "api_key:xyz")
                .is_err()
        );
        assert!(ring.decrypt(&sealed.key_id, &sealed.ciphertext).is_err());
        let unbound = ring.encrypt("secret").unwrap();
        assert!(
            ring.decrypt_bound(&unbound.key_id, &unbound.ciphertext, "")
                .is_err()
        );
    }

    #[test]
    fn parse_reads_the_documented_format() {
        let a = STANDARD.encode([1u8; 32]);
        let b = STANDARD.encode([2u8; 32]);
        let ring = KeyRing::parse(&format!(" k2:{a} ,\n k1:{b}\n")).unwrap();
        assert_eq!(ring.active_key_id(), "k2");
        assert_eq!(ring.key_ids().collect::<Vec<_>>(), ["k2", "k1"]);
        assert_eq!(ring.to_text(), format!("k2:{a},k1:{b}"));
        let generated = KeyRing::generate().unwrap();
        assert_eq!(
            KeyRing::parse(&generated.to_text()).unwrap().to_text(),
            generated.to_text()
        );
    }

    #[test]
    fn parse_refuses_bad_rings_without_echoing_keys() {
        let good = STANDARD.encode([9u8; 32]);
        let short = STANDARD.encode([9u8; 31]);
        for bad in [
            String::new(),
            " , ".to_owned(),
            good.clone(),
            format!(":{good}"),
            format!("a b:{good}"),
            format!("a:b:{good}"),
            format!("k:{short}"),
            "k:not*base64".to_owned(),
            format!("k:{good},k:{good}"),
            format!("{}:{good}", "x".repeat(65)),
        ] {
            match KeyRing::parse(&bad) {
                Err(AuthError::InvalidKeyRing(reason)) => {
                    assert!(!reason.contains(&good), "{reason}");
                }
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn generated_ids_are_valid_and_distinct() {
        let a = MasterKey::generate().unwrap();
        let b = MasterKey::generate().unwrap();
        assert!(a.id().starts_with('k') && a.id().len() == "k20250101-abcd".len());
        assert!(validate_key_id(a.id()).is_ok());
        // 16 random bits: a collision here would be a 1-in-65536 fluke, not a bug, so compare
        // the keys, which carry 256 bits.
        assert_ne!(a.to_text(), b.to_text());
    }

    #[test]
    fn debug_never_shows_key_material() {
        let ring = KeyRing::generate().unwrap();
        let text = ring.to_text();
        let encoded = text.split_once(':').unwrap().1;
        let shown = format!("{ring:?} {:?}", ring.keys[0]);
        assert!(!shown.contains(encoded), "{shown}");
        assert!(shown.contains(ring.active_key_id()));
    }

    #[test]
    fn last4_shows_only_the_tail_of_long_values() {
        assert_eq!(last4("sk-ant-api03-abcdWXYZ"), "WXYZ");
        assert_eq!(last4("123456789"), "6789");
        assert_eq!(last4("12345678"), "");
        assert_eq!(last4(""), "");
        assert_eq!(last4("ключ-секрет-éèêë"), "éèêë");
    }
}

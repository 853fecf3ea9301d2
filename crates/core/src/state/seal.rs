//! Sealing: every record the broker writes is encrypted and authenticated with
//! AES-256-GCM under `state_key`, with the record's store key as associated data, so
//! that reading Redis reveals neither identities nor request ids, and a value copied to
//! another key does not open. `state_key_previous` still opens older values, so the key
//! can be rotated without losing logins in flight.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use sha2::{Digest, Sha256};

use super::StoreError;

/// Format byte, key id (4 bytes), nonce (12 bytes), then ciphertext and tag.
const FORMAT: u8 = 1;
const HEADER: usize = 1 + 4 + 12;

/// A 256-bit key; its bytes never leave this type (no `Debug` output, no accessor).
#[derive(Clone)]
pub struct StateKey {
    id: [u8; 4],
    cipher: Aes256Gcm,
}

impl StateKey {
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        let digest = Sha256::digest(bytes);
        Self { id: [digest[0], digest[1], digest[2], digest[3]], cipher: Aes256Gcm::new(bytes.into()) }
    }
}

#[derive(Clone)]
pub struct Sealer {
    current: StateKey,
    previous: Vec<StateKey>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer([redacted], {} previous)", self.previous.len())
    }
}

impl Sealer {
    pub fn new(current: StateKey, previous: Vec<StateKey>) -> Self {
        Self { current, previous }
    }

    pub fn seal(&self, store_key: &str, plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|_| StoreError::Unavailable("the system has no randomness".into()))?;
        let ciphertext = self
            .current
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: store_key.as_bytes() })
            .map_err(|_| StoreError::Unavailable("sealing failed".into()))?;
        let mut sealed = Vec::with_capacity(HEADER + ciphertext.len());
        sealed.push(FORMAT);
        sealed.extend_from_slice(&self.current.id);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    pub fn open(&self, store_key: &str, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        let unreadable = |reason: &str| StoreError::Corrupt { kind: "sealed value", reason: reason.into() };
        if sealed.len() < HEADER || sealed[0] != FORMAT {
            return Err(unreadable("not a sealed value"));
        }
        let (key_id, nonce, ciphertext) = (&sealed[1..5], Nonce::from_slice(&sealed[5..HEADER]), &sealed[HEADER..]);
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|key| key.id == key_id)
            .ok_or_else(|| unreadable("sealed with a key that is neither state_key nor in state_key_previous"))?;
        key.cipher
            .decrypt(nonce, Payload { msg: ciphertext, aad: store_key.as_bytes() })
            .map_err(|_| unreadable("does not authenticate: tampered with, or moved from another key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> StateKey {
        StateKey::from_bytes(&[byte; 32])
    }

    #[test]
    fn a_sealed_value_opens_under_its_own_key_only() {
        let sealer = Sealer::new(key(1), vec![]);
        let sealed = sealer.seal("lb:v2:login:1:a", b"alice@example.com").unwrap();
        assert_eq!(sealer.open("lb:v2:login:1:a", &sealed).unwrap(), b"alice@example.com");
        assert!(!sealed.windows(5).any(|w| w == b"alice"), "no plaintext in the sealed value");
        assert!(sealer.open("lb:v2:login:1:b", &sealed).is_err(), "a value moved to another key does not open");
    }

    #[test]
    fn tampering_is_detected() {
        let sealer = Sealer::new(key(1), vec![]);
        let mut sealed = sealer.seal("k", b"value").unwrap();
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(sealer.open("k", &sealed).is_err());
        assert!(sealer.open("k", b"{\"v\":1}").is_err(), "plain JSON is not accepted");
    }

    #[test]
    fn a_rotated_out_key_opens_while_listed_as_previous_and_not_after() {
        let old = Sealer::new(key(1), vec![]).seal("k", b"in flight").unwrap();
        let rotated = Sealer::new(key(2), vec![key(1)]);
        assert_eq!(rotated.open("k", &old).unwrap(), b"in flight");
        assert!(Sealer::new(key(2), vec![]).open("k", &old).is_err());
    }

    #[test]
    fn debug_output_hides_the_keys() {
        assert_eq!(format!("{:?}", Sealer::new(key(7), vec![key(8)])), "Sealer([redacted], 1 previous)");
    }
}

//! The broker's own key pairs as a SAML service provider (HAS's `SAML_CERT_FILE` and
//! `SAML_KEY_FILE`): the current pair signs AuthnRequests and LogoutRequests, and the
//! current or the previous pair (during a rotation) decrypts what the identity provider
//! encrypted to the certificates our metadata publishes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa_fast::Oaep;
use rsa_fast::pkcs1v15::SigningKey;
use rsa_fast::signature::{RandomizedSigner, SignatureEncoding};
use sha2_fast::{Sha256, Sha512};

use crate::protocol::key_pair::KeyPair;

/// How requests are signed: RSA PKCS #1 v1.5 with SHA-256 or SHA-512 (HAS's
/// `SP_KEY_ALGO`, `sha256` by default).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SigningAlgorithm {
    RsaSha256,
    RsaSha512,
}

impl SigningAlgorithm {
    /// HAS's `SP_KEY_ALGO` value; `None` for any other, SHA-1 included.
    pub fn from_setting(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "sha256" => Some(Self::RsaSha256),
            "sha512" => Some(Self::RsaSha512),
            _ => None,
        }
    }

    /// Its XML-DSig name, as `SigAlg` carries it.
    pub fn uri(self) -> &'static str {
        match self {
            Self::RsaSha256 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            Self::RsaSha512 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
        }
    }
}

/// What the service provider does with its key pairs (read by [`KeyPair::from_pem`]).
impl KeyPair {
    /// The certificate as metadata carries it: base64 DER.
    pub fn certificate(&self) -> String {
        STANDARD.encode(&self.certificate_der)
    }

    /// The RSA key transport of XML Encryption: RSA-OAEP with `digest` and MGF1 over
    /// `mgf`, blinded. `None` when it does not open with this key.
    pub fn unwrap_key(&self, digest: OaepHash, mgf: OaepHash, wrapped: &[u8]) -> Option<Vec<u8>> {
        use OaepHash::{Sha1, Sha256 as S256};
        use sha1::Sha1 as H1;
        let rng = &mut getrandom::SysRng;
        let opened = match (digest, mgf) {
            (Sha1, Sha1) => self.key.decrypt_blinded(rng, Oaep::<H1>::new(), wrapped),
            (S256, S256) => self.key.decrypt_blinded(rng, Oaep::<Sha256>::new(), wrapped),
            (S256, Sha1) => self.key.decrypt_blinded(rng, Oaep::<Sha256, H1>::new_with_mgf_hash(), wrapped),
            (Sha1, S256) => self.key.decrypt_blinded(rng, Oaep::<H1, Sha256>::new_with_mgf_hash(), wrapped),
        };
        opened.ok()
    }

    /// The signature of `message` (blinded).
    pub fn sign(&self, algorithm: SigningAlgorithm, message: &[u8]) -> Vec<u8> {
        let rng = &mut getrandom::SysRng;
        let signed = match algorithm {
            SigningAlgorithm::RsaSha256 => SigningKey::<Sha256>::new(self.key.clone()).try_sign_with_rng(rng, message),
            SigningAlgorithm::RsaSha512 => SigningKey::<Sha512>::new(self.key.clone()).try_sign_with_rng(rng, message),
        };
        // Signing with a validated key fails only when the system has no randomness.
        signed.map(|signature| signature.to_vec()).unwrap_or_default()
    }
}

/// The hashes RSA-OAEP takes in XML Encryption.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OaepHash {
    Sha1,
    Sha256,
}

/// The broker's key pairs as a service provider: the current one, and the one it
/// replaces while identity providers still encrypt to it.
#[derive(Debug)]
pub struct SpCredentials {
    pub current: KeyPair,
    pub previous: Option<KeyPair>,
}

impl SpCredentials {
    /// Every pair that may decrypt, the current one first.
    pub fn decrypting(&self) -> impl Iterator<Item = &KeyPair> {
        std::iter::once(&self.current).chain(&self.previous)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    use crate::protocol::key_pair::tests::fixture;

    /// The service provider's key pair of the tests (tests/fixtures/saml-sp-*.pem).
    pub(crate) fn sp_pair() -> KeyPair {
        KeyPair::from_pem(&fixture("saml-sp-key.pem"), &fixture("saml-sp-cert.pem")).unwrap()
    }

    /// Another key pair: a previous one, or one that is not ours.
    pub(crate) fn other_pair() -> KeyPair {
        KeyPair::from_pem(&fixture("saml-other-key.pem"), &fixture("saml-other-cert.pem")).unwrap()
    }

    #[test]
    fn requests_are_signed_with_sha_256_unless_sha_512_is_asked_for() {
        use rsa_fast::pkcs1v15::{Signature, VerifyingKey};
        use rsa_fast::signature::Verifier;
        let pair = sp_pair();
        let public = pair.key.to_public_key();
        for (algorithm, setting) in [(SigningAlgorithm::RsaSha256, ""), (SigningAlgorithm::RsaSha512, "SHA512")] {
            assert_eq!(SigningAlgorithm::from_setting(setting), Some(algorithm));
            let signature = Signature::try_from(pair.sign(algorithm, b"message").as_slice()).unwrap();
            let verified = match algorithm {
                SigningAlgorithm::RsaSha256 => VerifyingKey::<Sha256>::new(public.clone()).verify(b"message", &signature),
                SigningAlgorithm::RsaSha512 => VerifyingKey::<Sha512>::new(public.clone()).verify(b"message", &signature),
            };
            assert!(verified.is_ok());
        }
        assert_eq!(SigningAlgorithm::from_setting("sha1"), None);
    }
}

//! The broker's own key pairs as a SAML service provider (HAS's `SAML_CERT_FILE` and
//! `SAML_KEY_FILE`): the current pair signs AuthnRequests and LogoutRequests, and the
//! current or the previous pair (during a rotation) decrypts what the identity provider
//! encrypted to the certificates our metadata publishes.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pkcs1::der::Decode;
use rsa_fast::pkcs1v15::SigningKey;
use rsa_fast::signature::{RandomizedSigner, SignatureEncoding};
use rsa_fast::{BoxedUint, Oaep, PrivateKey};
use sha2_fast::{Sha256, Sha512};

use crate::protocol::signing_key::rsa_key_from_certificate;

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

/// An RSA private key and its certificate (base64 DER, as metadata carries it).
pub struct KeyPair {
    key: PrivateKey,
    certificate: String,
}

impl KeyPair {
    /// `key_pem` (PKCS #8 `PRIVATE KEY` or PKCS #1 `RSA PRIVATE KEY`) with
    /// `certificate_pem`, which must hold its public key; or why not. The reason never
    /// quotes the key.
    pub fn from_pem(key_pem: &str, certificate_pem: &str) -> Result<Self, KeyProblem> {
        let key = private_key(key_pem)?;
        let der = certificate_der(certificate_pem).ok_or(KeyProblem::Certificate)?;
        let certified = rsa_key_from_certificate(&der).ok_or(KeyProblem::Certificate)?;
        if certified != key.to_public_key() {
            return Err(KeyProblem::Mismatch);
        }
        Ok(Self { key, certificate: STANDARD.encode(der) })
    }

    pub fn certificate(&self) -> &str {
        &self.certificate
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

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair").field("key", &"[redacted]").field("certificate", &self.certificate).finish()
    }
}

/// The hashes RSA-OAEP takes in XML Encryption.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OaepHash {
    Sha1,
    Sha256,
}

/// Why a key pair was refused.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeyProblem {
    Encrypted,
    NotRsaPem,
    Certificate,
    Mismatch,
}

impl fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Encrypted => {
                "an unencrypted PEM key (the variable is secret): decrypt it first, e.g. `openssl pkey -in key.pem -out plain.pem`"
            }
            Self::NotRsaPem => "a PEM RSA private key (`BEGIN PRIVATE KEY` or `BEGIN RSA PRIVATE KEY`)",
            Self::Certificate => "a PEM certificate (`BEGIN CERTIFICATE`) of an RSA key",
            Self::Mismatch => "the certificate of this private key: they do not belong together",
        })
    }
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

fn private_key(pem: &str) -> Result<PrivateKey, KeyProblem> {
    let (label, der) = pem_rfc7468::decode_vec(pem.trim().as_bytes()).map_err(|_| KeyProblem::NotRsaPem)?;
    let rsa_der = match label {
        "PRIVATE KEY" => {
            let info = pkcs8::PrivateKeyInfo::from_der(&der).map_err(|_| KeyProblem::NotRsaPem)?;
            if info.algorithm.oid != const_oid::db::rfc5912::RSA_ENCRYPTION {
                return Err(KeyProblem::NotRsaPem);
            }
            info.private_key.to_vec()
        }
        "RSA PRIVATE KEY" => der,
        "ENCRYPTED PRIVATE KEY" => return Err(KeyProblem::Encrypted),
        _ => return Err(KeyProblem::NotRsaPem),
    };
    let parts = pkcs1::RsaPrivateKey::from_der(&rsa_der).map_err(|_| KeyProblem::NotRsaPem)?;
    if parts.other_prime_infos.is_some() {
        return Err(KeyProblem::NotRsaPem);
    }
    let bits = u32::try_from(parts.modulus.as_bytes().len()).map_err(|_| KeyProblem::NotRsaPem)? * 8;
    let uint = |bytes: &[u8], bits: u32| BoxedUint::from_be_slice(bytes, bits).map_err(|_| KeyProblem::NotRsaPem);
    let exponent_bits = u32::try_from(parts.public_exponent.as_bytes().len()).map_err(|_| KeyProblem::NotRsaPem)? * 8;
    PrivateKey::from_components(
        uint(parts.modulus.as_bytes(), bits)?,
        uint(parts.public_exponent.as_bytes(), exponent_bits)?,
        uint(parts.private_exponent.as_bytes(), bits)?,
        vec![uint(parts.prime1.as_bytes(), bits)?, uint(parts.prime2.as_bytes(), bits)?],
    )
    .map_err(|_| KeyProblem::NotRsaPem)
}

fn certificate_der(pem: &str) -> Option<Vec<u8>> {
    match pem_rfc7468::decode_vec(pem.trim().as_bytes()).ok()? {
        ("CERTIFICATE", der) => Some(der),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{}/../../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    /// The service provider's key pair of the tests (tests/fixtures/saml-sp-*.pem).
    pub(crate) fn sp_pair() -> KeyPair {
        KeyPair::from_pem(&fixture("saml-sp-key.pem"), &fixture("saml-sp-cert.pem")).unwrap()
    }

    /// Another key pair: a previous one, or one that is not ours.
    pub(crate) fn other_pair() -> KeyPair {
        KeyPair::from_pem(&fixture("saml-other-key.pem"), &fixture("saml-other-cert.pem")).unwrap()
    }

    #[test]
    fn a_key_pair_is_read_from_pkcs8_or_pkcs1_and_must_match_its_certificate() {
        let pair = sp_pair();
        assert!(pair.certificate().starts_with("MII"));
        let pkcs1 = fixture("saml-sp-key-pkcs1.pem");
        assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        KeyPair::from_pem(&pkcs1, &fixture("saml-sp-cert.pem")).unwrap();
        let problem = |key: &str, cert: &str| KeyPair::from_pem(key, cert).unwrap_err();
        assert_eq!(problem(&fixture("saml-sp-key.pem"), &fixture("saml-idp-cert.pem")), KeyProblem::Mismatch);
        assert_eq!(problem(&fixture("saml-sp-key.pem"), "not a certificate"), KeyProblem::Certificate);
        assert_eq!(problem("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----", ""), KeyProblem::Encrypted);
        assert_eq!(problem(&fixture("saml-sp-cert.pem"), &fixture("saml-sp-cert.pem")), KeyProblem::NotRsaPem);
        assert!(!format!("{pair:?}").contains("MIIE"), "the key is never shown");
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

//! The broker's own RSA key pairs, read once from PEM for both protocols: the SAML
//! service provider's (`saml_sp_key` with `saml_sp_cert`) and an OpenID client's for
//! `private_key_jwt` (`oidc_client_key` with `oidc_client_cert`). Each is a private key
//! with the certificate that publishes its public key; a problem never quotes either.

use std::fmt;

use rsa_fast::PrivateKey;
use rsa_fast::pkcs1::DecodeRsaPrivateKey;
use rsa_fast::pkcs8::DecodePrivateKey;
use rsa_fast::traits::PublicKeyParts;

use crate::protocol::signing_key::rsa_key_from_certificate;

/// NIST's floor, and Entra ID's.
const MIN_RSA_BITS: u32 = 2048;

/// A private key and its certificate (DER).
pub struct KeyPair {
    pub key: PrivateKey,
    pub certificate_der: Vec<u8>,
}

impl KeyPair {
    /// `key_pem` (PKCS #8 `PRIVATE KEY` or PKCS #1 `RSA PRIVATE KEY`, unencrypted) with
    /// `certificate_pem`, which must hold its public key; or why not.
    pub fn from_pem(key_pem: &str, certificate_pem: &str) -> Result<Self, KeyProblem> {
        let key = private_key(key_pem)?;
        if key.n().bit_width() < MIN_RSA_BITS {
            return Err(KeyProblem::NotRsaPem);
        }
        let certificate_der = match x509_cert::der::pem::decode_vec(certificate_pem.trim().as_bytes()) {
            Ok(("CERTIFICATE", der)) => der,
            _ => return Err(KeyProblem::Certificate),
        };
        let certified = rsa_key_from_certificate(&certificate_der).ok_or(KeyProblem::Certificate)?;
        if certified != key.to_public_key() {
            return Err(KeyProblem::Mismatch);
        }
        Ok(Self { key, certificate_der })
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair").field("key", &"[redacted]").finish_non_exhaustive()
    }
}

/// Why a key pair was refused.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeyProblem {
    Encrypted,
    NotRsaPem,
    Certificate,
    Mismatch,
}

impl KeyProblem {
    /// What the setting should hold instead.
    pub const fn expected(self) -> &'static str {
        match self {
            Self::Encrypted => {
                "an unencrypted PEM key (the variable is secret): decrypt it first, e.g. `openssl pkey -in key.pem -out plain.pem`"
            }
            Self::NotRsaPem => "a PEM RSA private key of at least 2048 bits (`BEGIN PRIVATE KEY` or `BEGIN RSA PRIVATE KEY`)",
            Self::Certificate => "a PEM certificate (`BEGIN CERTIFICATE`) of an RSA key",
            Self::Mismatch => "the certificate of the private key given beside it, but it holds another public key",
        }
    }

    /// Whether the private key is at fault (else the certificate).
    pub const fn is_the_keys(self) -> bool {
        matches!(self, Self::Encrypted | Self::NotRsaPem)
    }
}

impl fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expected())
    }
}

fn private_key(pem: &str) -> Result<PrivateKey, KeyProblem> {
    let (label, der) = x509_cert::der::pem::decode_vec(pem.trim().as_bytes()).map_err(|_| KeyProblem::NotRsaPem)?;
    match label {
        "PRIVATE KEY" => PrivateKey::from_pkcs8_der(&der).map_err(|_| KeyProblem::NotRsaPem),
        "RSA PRIVATE KEY" => PrivateKey::from_pkcs1_der(&der).map_err(|_| KeyProblem::NotRsaPem),
        "ENCRYPTED PRIVATE KEY" => Err(KeyProblem::Encrypted),
        _ => Err(KeyProblem::NotRsaPem),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{}/../../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn a_key_pair_is_read_from_pkcs8_or_pkcs1_and_must_match_its_certificate() {
        let cert = fixture("saml-sp-cert.pem");
        KeyPair::from_pem(&fixture("saml-sp-key.pem"), &cert).unwrap();
        let pkcs1 = fixture("saml-sp-key-pkcs1.pem");
        assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let pair = KeyPair::from_pem(&pkcs1, &cert).unwrap();
        let problem = |key: &str, cert: &str| KeyPair::from_pem(key, cert).unwrap_err();
        assert_eq!(problem(&fixture("saml-sp-key.pem"), &fixture("saml-idp-cert.pem")), KeyProblem::Mismatch);
        assert_eq!(problem(&fixture("saml-sp-key.pem"), "not a certificate"), KeyProblem::Certificate);
        assert_eq!(problem("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----", ""), KeyProblem::Encrypted);
        assert_eq!(problem(&cert, &cert), KeyProblem::NotRsaPem);
        assert!(!format!("{pair:?}").contains("MII"), "the key is never shown");
    }
}

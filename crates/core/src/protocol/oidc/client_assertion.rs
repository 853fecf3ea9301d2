//! `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9): the broker proves it is
//! the client at the token endpoint with a short-lived JWT signed by its private key,
//! whose certificate the provider holds, instead of a client secret. `jsonwebtoken`
//! signs; this module decides what the token says.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, KeyUtils};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::signature::{self, Signer};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa_fast::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa_fast::pkcs1v15::SigningKey as RsaSigningKey;
use serde::Serialize;

use crate::base::failure::{SignInFailure, SignInFailureKind};
use crate::base::ids::random_token;
use crate::base::secret::Secret;
use crate::protocol::key_pair::{KeyPair, KeyProblem};
use crate::protocol::signing_key::jwk_from_pem;
use crate::state::UnixTime;

/// The token request's `client_assertion_type` (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long an assertion is good for: it is made just before the one request that
/// spends it (HAS's openid-client gives 60 s too).
const LIFETIME_SECS: u64 = 60;

/// The broker's private key at a provider, with what names its certificate.
pub struct ClientKey {
    /// PKCS #1 DER, as [`signer`] reads it.
    signing_key: EncodingKey,
    /// The public key's RFC 7638 thumbprint (SHA-256), the `kid` HAS sends: a provider
    /// that registered the key for HAS finds it under the same id.
    key_id: String,
    /// The certificate's SHA-1 and SHA-256 thumbprints of its DER, base64url (RFC 7515
    /// §4.1.7–8): Entra ID finds the certificate by `x5t`.
    x5t: String,
    x5t_s256: String,
}

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientKey").field("kid", &self.key_id).finish_non_exhaustive()
    }
}

/// The claims RFC 7523 §3 and OpenID Connect Core §9 ask for.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: &'a str,
    iat: UnixTime,
    exp: UnixTime,
}

impl ClientKey {
    /// A PEM RSA private key (PKCS #8 or #1; RS256, as HAS signs, and as Entra ID
    /// takes) and the PEM certificate of its public key.
    pub fn from_pem(key_pem: &str, certificate_pem: &str) -> Result<Self, KeyProblem> {
        let KeyPair { key, certificate_der: der } = KeyPair::from_pem(key_pem, certificate_pem)?;
        let certified = jwk_from_pem(certificate_pem.trim()).ok_or(KeyProblem::Certificate)?;
        let pkcs1 = key.to_pkcs1_der().map_err(|_| KeyProblem::NotRsaPem)?;
        // The certificate's JWK is the key's own now, in its minimal encoding.
        install_signers();
        let key_id = serde_json::from_value::<Jwk>(certified)
            .ok()
            .and_then(|jwk| jwk.thumbprint(ThumbprintHash::SHA256).ok())
            .ok_or(KeyProblem::Certificate)?;
        use sha2::Digest;
        Ok(Self {
            signing_key: EncodingKey::from_rsa_der(pkcs1.as_bytes()),
            key_id,
            x5t: URL_SAFE_NO_PAD.encode(<sha1::Sha1 as sha2_fast::Digest>::digest(&der)),
            x5t_s256: URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&der)),
        })
    }

    /// A fresh assertion that `client_id` is asking `token_endpoint`, from `now`: signed,
    /// one use (`jti`), good for a minute.
    pub fn assertion(&self, client_id: &str, token_endpoint: &str, now: UnixTime) -> Result<Secret, SignInFailure> {
        let jti = random_token()?;
        let claims = Claims { iss: client_id, sub: client_id, aud: token_endpoint, jti: jti.expose(), iat: now, exp: now + LIFETIME_SECS };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.key_id.clone());
        header.x5t = Some(self.x5t.clone());
        header.x5t_s256 = Some(self.x5t_s256.clone());
        install_signers();
        jsonwebtoken::encode(&header, &claims, &self.signing_key)
            .map(Secret::new)
            .map_err(|_| SignInFailure::new(SignInFailureKind::ServerError, "the client assertion could not be signed"))
    }
}

/// `jsonwebtoken`'s cryptography, narrowed to what the broker does with it: sign RS256
/// with the keys [`ClientKey`] holds, and hash for thumbprints (ES256 would add 140 KB
/// of component). The crate
/// takes one provider per process; nothing else in the broker installs one.
static SIGNERS: CryptoProvider = CryptoProvider {
    signer_factory: signer,
    verifier_factory: |_, _| Err(ErrorKind::InvalidAlgorithm.into()),
    key_utils: KeyUtils {
        compute_digest: |data, hash| match hash {
            ThumbprintHash::SHA256 => Ok(<sha2::Sha256 as sha2::Digest>::digest(data).to_vec()),
            _ => Err(ErrorKind::InvalidAlgorithm.into()),
        },
        ..KeyUtils::new_unimplemented()
    },
};

fn install_signers() {
    // Already installed (by an earlier call) is fine.
    let _ = CryptoProvider::install_default(&SIGNERS);
}

struct Rs256(RsaSigningKey<sha2_fast::Sha256>);

impl Signer<Vec<u8>> for Rs256 {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, signature::Error> {
        use signature::SignatureEncoding;
        Ok(self.0.try_sign(message)?.to_vec())
    }
}

impl JwtSigner for Rs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::RS256
    }
}

fn signer(algorithm: &Algorithm, key: &EncodingKey) -> jsonwebtoken::errors::Result<Box<dyn JwtSigner>> {
    match algorithm {
        Algorithm::RS256 => {
            let key = rsa_fast::PrivateKey::from_pkcs1_der(key.as_bytes()).map_err(|_| ErrorKind::InvalidKeyFormat)?;
            Ok(Box::new(Rs256(RsaSigningKey::new(key))))
        }
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::signing_key::SigningKey;
    use openidconnect::JsonWebKey;
    use openidconnect::core::CoreJwsSigningAlgorithm;
    use serde_json::Value;

    const KEY: &str = include_str!("../../../../../tests/fixtures/oidc-client-key.pem");
    const CERT: &str = include_str!("../../../../../tests/fixtures/oidc-client-cert.pem");
    const OTHER_CERT: &str = include_str!("../../../../../tests/fixtures/oidc-other-client-cert.pem");
    const TOKEN_ENDPOINT: &str = "https://login.example.com/tenant/oauth2/v2.0/token";
    const NOW: UnixTime = 1_700_000_000;

    fn der(pem: &str) -> Vec<u8> {
        x509_cert::der::pem::decode_vec(pem.as_bytes()).unwrap().1
    }

    /// The assertion as the provider sees it: its signature checked with the
    /// certificate's key by the broker's own JWS verifier (`openidconnect`'s, RS256 by
    /// `rsa`), made out to the client and the token endpoint.
    fn verified(token: &str, certificate: &str) -> (Value, Value) {
        let parts: Vec<&str> = token.split('.').collect();
        let json = |part: &str| serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap();
        let (header, claims) = (json(parts[0]), json(parts[1]));
        let key: SigningKey = serde_json::from_value(jwk_from_pem(certificate).unwrap()).unwrap();
        let algorithm: CoreJwsSigningAlgorithm = serde_json::from_value(header["alg"].clone()).unwrap();
        let (signed, signature) = (format!("{}.{}", parts[0], parts[1]), URL_SAFE_NO_PAD.decode(parts[2]).unwrap());
        key.verify_signature(&algorithm, signed.as_bytes(), &signature).expect("a signature the certificate's key verifies");
        assert_eq!((claims["iss"].as_str(), claims["sub"].as_str()), (Some("broker-client"), Some("broker-client")));
        assert_eq!(claims["aud"], TOKEN_ENDPOINT);
        (header, claims)
    }

    #[test]
    fn an_rsa_assertion_names_the_client_the_endpoint_and_the_certificate() {
        let key = ClientKey::from_pem(KEY, CERT).unwrap();
        let token = key.assertion("broker-client", TOKEN_ENDPOINT, NOW).unwrap();
        let (header, claims) = verified(token.expose(), CERT);
        assert_eq!(header["alg"], "RS256");
        use sha2::Digest;
        assert_eq!(header["x5t"], URL_SAFE_NO_PAD.encode(<sha1::Sha1 as sha2_fast::Digest>::digest(der(CERT))));
        assert_eq!(header["x5t#S256"], URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(der(CERT))));
        // RFC 7638 over the certificate's key, computed here from its JWK.
        let jwk = jwk_from_pem(CERT).unwrap();
        let canonical = format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, jwk["e"].as_str().unwrap(), jwk["n"].as_str().unwrap());
        assert_eq!(header["kid"], URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(canonical.as_bytes())));
        assert_eq!((claims["iat"].as_u64(), claims["exp"].as_u64()), (Some(NOW), Some(NOW + 60)), "the given clock");
        assert_eq!(URL_SAFE_NO_PAD.decode(claims["jti"].as_str().unwrap()).unwrap().len(), 32);
        let again = key.assertion("broker-client", TOKEN_ENDPOINT, NOW).unwrap();
        assert_ne!(verified(again.expose(), CERT).1["jti"], claims["jti"], "one jti per assertion");
        assert!(!format!("{key:?}").contains("PRIVATE"), "{key:?}");
        let other = ClientKey::from_pem(include_str!("../../../../../tests/fixtures/oidc-other-client-key.pem"), OTHER_CERT).unwrap();
        let forged = other.assertion("broker-client", TOKEN_ENDPOINT, NOW).unwrap();
        assert!(std::panic::catch_unwind(|| verified(forged.expose(), CERT)).is_err(), "another key's signature does not verify");
    }

    #[test]
    fn a_pkcs1_rsa_key_serves_too() {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::pkcs8::DecodePrivateKey;
        let pkcs1 = rsa::RsaPrivateKey::from_pkcs8_pem(KEY).unwrap().to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let token = ClientKey::from_pem(&pkcs1, CERT).unwrap().assertion("broker-client", TOKEN_ENDPOINT, NOW).unwrap();
        assert_eq!(verified(token.expose(), CERT).0["alg"], "RS256");
    }

    #[test]
    fn unusable_keys_and_certificates_are_named_without_echoing_them() {
        let cases = [
            ("", CERT, KeyProblem::NotRsaPem),
            ("not a key", CERT, KeyProblem::NotRsaPem),
            (CERT, CERT, KeyProblem::NotRsaPem),
            (KEY, "", KeyProblem::Certificate),
            (KEY, KEY, KeyProblem::Certificate),
            (KEY, OTHER_CERT, KeyProblem::Mismatch),
        ];
        for (key, certificate, expected) in cases {
            let error = ClientKey::from_pem(key, certificate).unwrap_err();
            assert_eq!(error, expected, "{}", &key.get(..40).unwrap_or(key));
            assert!(!error.expected().contains("MII"), "{}", error.expected());
        }
        // A key whose PEM decodes but whose numbers do not make an RSA key.
        let mut broken: Vec<&str> = KEY.lines().collect();
        broken[10] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert_eq!(ClientKey::from_pem(&broken.join("\n"), CERT).unwrap_err(), KeyProblem::NotRsaPem);
        // EC keys: RS256 only, as HAS signs (rsa and p256 share one pkcs8 here).
        use rsa::pkcs8::{EncodePrivateKey, LineEnding};
        let ec = p256::SecretKey::random(&mut rand::thread_rng()).to_pkcs8_pem(LineEnding::LF).unwrap();
        assert_eq!(ClientKey::from_pem(&ec, CERT).unwrap_err(), KeyProblem::NotRsaPem);
        // RSA below 2048 bits.
        let small = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap().to_pkcs8_pem(LineEnding::LF).unwrap();
        assert_eq!(ClientKey::from_pem(&small, CERT).unwrap_err(), KeyProblem::NotRsaPem);
    }
}

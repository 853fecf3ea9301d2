//! A provider's signing key as the ID token verifier uses it: `openidconnect`'s own JWK
//! for everything it decides (key id, type, use, algorithm, hashing, every algorithm
//! but RSA PKCS #1 v1.5), with RS256/RS384/RS512 signatures checked by `rsa` 0.10. In
//! the component, `CoreJsonWebKey`'s `rsa` 0.9 (num-bigint) spends ~0.9 ms of CPU on one
//! RS256 signature; `rsa` 0.10 (crypto-bigint) ~0.38 ms (BENCHMARKS.md). The public key
//! is also decoded once per key set, not once per signature. A key an operator gives
//! as PEM (`oauth_signing_key`) becomes a JWK here too, so one verifier serves both,
//! on one clock ([`on_our_clock`]).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreJsonWebKey, CoreJsonWebKeyType, CoreJsonWebKeyUse, CoreJwsSigningAlgorithm};
use openidconnect::{JsonWebKey, JsonWebKeyAlgorithm, JsonWebKeyId, JsonWebKeyUse, JwsSigningAlgorithm, SignatureVerificationError};
use rsa_fast::signature::Verifier;
use rsa_fast::{BoxedUint, PublicKey, pkcs1v15};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Value, json};

/// Clock skew tolerated between us and a provider, for `exp`, `iat` (and `nbf`).
pub const LEEWAY_SECS: i64 = 60;

/// How the `iat` check words its failure, for callers that name it.
pub const ISSUED_IN_THE_FUTURE: &str = "issued in the future";

/// `verifier` on our clock at `now`, for ID tokens and `/oauth/validate` alike: `exp`
/// in the future and `iat` not, each with [`LEEWAY_SECS`] of skew.
pub fn on_our_clock(
    verifier: openidconnect::IdTokenVerifier<'_, SigningKey>,
    now: chrono::DateTime<chrono::Utc>,
) -> openidconnect::IdTokenVerifier<'_, SigningKey> {
    let leeway = chrono::Duration::seconds(LEEWAY_SECS);
    verifier.set_time_fn(move || now - leeway).set_issue_time_verifier_fn(move |issued| {
        if issued > now + leeway { Err(format!("{ISSUED_IN_THE_FUTURE} ({issued})")) } else { Ok(()) }
    })
}

#[derive(Clone, Debug)]
pub struct SigningKey {
    core: CoreJsonWebKey,
    /// The RSA public key, decoded when the key set is read; `None` for other key types.
    rsa: Option<PublicKey>,
}

impl Serialize for SigningKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.core.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SigningKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = serde_json::Value::deserialize(deserializer)?;
        let core = CoreJsonWebKey::deserialize(&json).map_err(serde::de::Error::custom)?;
        let rsa = (*core.key_type() == CoreJsonWebKeyType::RSA).then(|| rsa_public_key(&json)).flatten();
        Ok(Self { core, rsa })
    }
}

/// `n` and `e` of an RSA JWK (RFC 7518 §6.3.1); `None` if they do not make a key `rsa`
/// accepts (1024 to 8192 bits), which then verifies no signature.
fn rsa_public_key(json: &serde_json::Value) -> Option<PublicKey> {
    let number = |name: &str| URL_SAFE_NO_PAD.decode(json.get(name)?.as_str()?).ok().map(|bytes| BoxedUint::from_be_slice_vartime(&bytes));
    PublicKey::new(number("n")?, number("e")?).ok()
}

impl SigningKey {
    /// The same key under the key id `kid` (or none): for a key the operator named,
    /// whatever id a token gives it.
    pub fn relabelled(&self, kid: Option<&str>) -> Option<SigningKey> {
        let mut jwk = serde_json::to_value(self).ok()?;
        let fields = jwk.as_object_mut()?;
        match kid {
            Some(kid) => fields.insert("kid".into(), kid.into()),
            None => fields.remove("kid"),
        };
        serde_json::from_value(jwk).ok()
    }

    /// The checks `openidconnect` makes before it verifies with a key (its
    /// `check_key_compatibility`, which is crate-private): the key may sign, has the
    /// algorithm's type, and names no other algorithm.
    fn usable_for(&self, algorithm: &CoreJwsSigningAlgorithm) -> Result<(), SignatureVerificationError> {
        let refuse = |why: &str| Err(SignatureVerificationError::InvalidKey(why.to_owned()));
        if self.core.key_use().is_some_and(|key_use| !key_use.allows_signature()) {
            return refuse("key usage not permitted for digital signatures");
        }
        if algorithm.key_type().as_ref() != Some(self.core.key_type()) {
            return refuse("key type does not match signature algorithm");
        }
        match self.core.signing_alg() {
            JsonWebKeyAlgorithm::Unspecified => Ok(()),
            JsonWebKeyAlgorithm::Algorithm(named) if named == algorithm => Ok(()),
            JsonWebKeyAlgorithm::Algorithm(_) => refuse("incompatible key algorithm"),
            JsonWebKeyAlgorithm::Unsupported => refuse("key algorithm is not a signing algorithm"),
        }
    }
}

/// The RSA key of an X.509 certificate in DER (a SAML identity provider's).
pub fn rsa_key_from_certificate(der: &[u8]) -> Option<PublicKey> {
    use x509_cert::der::Decode;
    let spki = x509_cert::Certificate::from_der(der).ok()?.tbs_certificate.subject_public_key_info;
    jwk_from_spki(&spki).filter(|jwk| jwk["kty"] == "RSA").as_ref().and_then(rsa_public_key)
}

/// The JWK (RFC 7517) of a public key in PEM: a `PUBLIC KEY` (SubjectPublicKeyInfo) or
/// the key of an X.509 `CERTIFICATE`; RSA, EC P-256 or P-384, or Ed25519. `None` for
/// anything else. Only the encoding changes: the key is checked where it verifies.
pub fn jwk_from_pem(pem: &str) -> Option<Value> {
    use x509_cert::der::DecodePem;
    use x509_cert::spki::SubjectPublicKeyInfoOwned;

    let pem = pem.trim();
    let spki = if pem.starts_with("-----BEGIN CERTIFICATE-----") {
        x509_cert::Certificate::from_pem(pem.as_bytes()).ok()?.tbs_certificate.subject_public_key_info
    } else {
        SubjectPublicKeyInfoOwned::from_pem(pem.as_bytes()).ok()?
    };
    jwk_from_spki(&spki)
}

fn jwk_from_spki(spki: &x509_cert::spki::SubjectPublicKeyInfoOwned) -> Option<Value> {
    use const_oid::db::{rfc5912, rfc8410};
    use x509_cert::der::asn1::{ObjectIdentifier, UintRef};
    use x509_cert::der::{Decode, Reader, SliceReader};

    let key = spki.subject_public_key.as_bytes()?;
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    match spki.algorithm.oid {
        rfc5912::RSA_ENCRYPTION => {
            // RFC 8017 A.1.1: RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
            let mut reader = SliceReader::new(key).ok()?;
            let integers =
                reader.sequence(|fields| Ok((UintRef::decode(fields)?.as_bytes().to_vec(), UintRef::decode(fields)?.as_bytes().to_vec())));
            let (n, e) = integers.ok()?;
            Some(json!({"kty": "RSA", "n": b64(&n), "e": b64(&e)}))
        }
        rfc5912::ID_EC_PUBLIC_KEY => {
            let curve: ObjectIdentifier = spki.algorithm.parameters.as_ref()?.decode_as().ok()?;
            let (crv, size) = match curve {
                rfc5912::SECP_256_R_1 => ("P-256", 32),
                rfc5912::SECP_384_R_1 => ("P-384", 48),
                _ => return None,
            };
            // SEC 1 §2.3.3: an uncompressed point is 0x04, then x and y.
            let point = key.strip_prefix(&[4]).filter(|point| point.len() == 2 * size)?;
            Some(json!({"kty": "EC", "crv": crv, "x": b64(&point[..size]), "y": b64(&point[size..])}))
        }
        rfc8410::ID_ED_25519 if key.len() == 32 => Some(json!({"kty": "OKP", "crv": "Ed25519", "x": b64(key)})),
        _ => None,
    }
}

/// One RSA PKCS #1 v1.5 verification with digest `$digest`.
macro_rules! verify_pkcs1v15 {
    ($digest:ty, $key:expr, $message:expr, $signature:expr) => {{
        let bad = || SignatureVerificationError::CryptoError("bad signature".to_owned());
        let signature = pkcs1v15::Signature::try_from($signature).map_err(|_| bad())?;
        pkcs1v15::VerifyingKey::<$digest>::new($key.clone()).verify($message, &signature).map_err(|_| bad())
    }};
}

impl JsonWebKey for SigningKey {
    type KeyUse = CoreJsonWebKeyUse;
    type SigningAlgorithm = CoreJwsSigningAlgorithm;

    fn key_id(&self) -> Option<&JsonWebKeyId> {
        self.core.key_id()
    }

    fn key_type(&self) -> &CoreJsonWebKeyType {
        self.core.key_type()
    }

    fn key_use(&self) -> Option<&CoreJsonWebKeyUse> {
        self.core.key_use()
    }

    fn signing_alg(&self) -> JsonWebKeyAlgorithm<&CoreJwsSigningAlgorithm> {
        self.core.signing_alg()
    }

    fn new_symmetric(key: Vec<u8>) -> Self {
        Self { core: CoreJsonWebKey::new_symmetric(key), rsa: None }
    }

    fn verify_signature(
        &self,
        algorithm: &CoreJwsSigningAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureVerificationError> {
        use CoreJwsSigningAlgorithm::{RsaSsaPkcs1V15Sha256, RsaSsaPkcs1V15Sha384, RsaSsaPkcs1V15Sha512};
        let fast = match algorithm {
            RsaSsaPkcs1V15Sha256 | RsaSsaPkcs1V15Sha384 | RsaSsaPkcs1V15Sha512 => {
                self.usable_for(algorithm)?;
                self.rsa.as_ref().ok_or_else(|| SignatureVerificationError::InvalidKey("not a usable RSA public key".to_owned()))?
            }
            _ => return self.core.verify_signature(algorithm, message, signature),
        };
        match algorithm {
            RsaSsaPkcs1V15Sha256 => verify_pkcs1v15!(sha2_fast::Sha256, fast, message, signature),
            RsaSsaPkcs1V15Sha384 => verify_pkcs1v15!(sha2_fast::Sha384, fast, message, signature),
            _ => verify_pkcs1v15!(sha2_fast::Sha512, fast, message, signature),
        }
    }

    fn hash_bytes(&self, bytes: &[u8], algorithm: &CoreJwsSigningAlgorithm) -> Result<Vec<u8>, String> {
        self.core.hash_bytes(bytes, algorithm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::SigningKey as RsaSigner;
    use rsa::signature::{SignatureEncoding, Signer};
    use rsa::traits::PublicKeyParts;

    fn keypair() -> (rsa::RsaPrivateKey, serde_json::Value) {
        let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
        let b64 = |bytes: Vec<u8>| URL_SAFE_NO_PAD.encode(bytes);
        let jwk = serde_json::json!({"kty": "RSA", "kid": "k1", "n": b64(private.n().to_bytes_be()), "e": b64(private.e().to_bytes_be())});
        (private, jwk)
    }

    fn key(jwk: &serde_json::Value) -> SigningKey {
        serde_json::from_value(jwk.clone()).unwrap()
    }

    #[test]
    fn rsa_signatures_verify_as_openidconnect_would_and_only_then() {
        let (private, jwk) = keypair();
        let signature = RsaSigner::<sha2::Sha256>::new(private).sign(b"header.payload").to_vec();
        let (ours, core) = (key(&jwk), serde_json::from_value::<CoreJsonWebKey>(jwk.clone()).unwrap());
        let rs256 = CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256;
        assert!(ours.verify_signature(&rs256, b"header.payload", &signature).is_ok());
        assert!(core.verify_signature(&rs256, b"header.payload", &signature).is_ok(), "the reference agrees");
        assert!(ours.verify_signature(&rs256, b"header.payloaX", &signature).is_err(), "another message");
        assert!(ours.verify_signature(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512, b"header.payload", &signature).is_err());
        assert!(ours.verify_signature(&rs256, b"header.payload", &signature[1..]).is_err(), "a truncated signature");
        assert_eq!(serde_json::to_value(&ours).unwrap(), serde_json::to_value(&core).unwrap(), "stored as openidconnect stores it");
    }

    #[test]
    fn a_pem_key_or_certificate_becomes_the_jwk_of_the_same_key() {
        use rsa::pkcs8::{EncodePublicKey, LineEnding};
        let (private, jwk) = keypair();
        let pem = private.to_public_key().to_public_key_pem(LineEnding::LF).unwrap();
        let mut expected = jwk.clone();
        expected.as_object_mut().unwrap().remove("kid");
        assert_eq!(jwk_from_pem(&pem), Some(expected));
        let ec = p256::SecretKey::random(&mut rand::thread_rng()).public_key();
        let ec_jwk = jwk_from_pem(&ec.to_public_key_pem(LineEnding::LF).unwrap()).unwrap();
        assert_eq!((ec_jwk["kty"].as_str(), ec_jwk["crv"].as_str()), (Some("EC"), Some("P-256")));
        let point = ec.to_sec1_bytes();
        assert_eq!(URL_SAFE_NO_PAD.decode(ec_jwk["x"].as_str().unwrap()).unwrap(), point[1..33]);
        let certificate = jwk_from_pem(include_str!("../../../../tests/fixtures/build-server-2.pem")).unwrap();
        assert!(certificate["kty"].is_string(), "a certificate's key: {certificate}");
        for bad in ["", "not pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"] {
            assert_eq!(jwk_from_pem(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_relabelled_key_is_the_same_key_under_another_id() {
        let (_, jwk) = keypair();
        let relabelled = key(&jwk).relabelled(Some("other")).unwrap();
        assert_eq!(relabelled.key_id().map(|id| id.as_str()), Some("other"));
        assert_eq!(key(&jwk).relabelled(None).unwrap().key_id(), None);
        let mut without = serde_json::to_value(&relabelled).unwrap();
        without.as_object_mut().unwrap().remove("kid");
        let mut original = jwk.clone();
        original.as_object_mut().unwrap().remove("kid");
        assert_eq!(without, original);
    }

    #[test]
    fn a_key_that_may_not_sign_with_this_algorithm_is_refused_before_any_arithmetic() {
        let (private, jwk) = keypair();
        let signature = RsaSigner::<sha2::Sha256>::new(private).sign(b"m").to_vec();
        let rs256 = CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256;
        let with = |field: &str, value: &str| {
            let mut jwk = jwk.clone();
            jwk[field] = value.into();
            key(&jwk)
        };
        for refused in [with("use", "enc"), with("alg", "RS384"), with("alg", "ES256")] {
            let answer = refused.verify_signature(&rs256, b"m", &signature);
            assert!(matches!(answer, Err(SignatureVerificationError::InvalidKey(_))), "{answer:?}");
        }
        assert!(with("use", "sig").verify_signature(&rs256, b"m", &signature).is_ok());
        assert!(with("alg", "RS256").verify_signature(&rs256, b"m", &signature).is_ok());
        let ec = key(&serde_json::json!({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}));
        assert!(matches!(ec.verify_signature(&rs256, b"m", &signature), Err(SignatureVerificationError::InvalidKey(_))));
        let small = key(&serde_json::json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"}));
        assert!(matches!(small.verify_signature(&rs256, b"m", &signature), Err(SignatureVerificationError::InvalidKey(_))));
    }
}

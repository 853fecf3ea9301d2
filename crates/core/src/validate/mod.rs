//! `GET /oauth/validate` (HAS's route), for clients that already hold a token from the
//! identity provider (a desktop client that got one silently, through Entra ID's WAM
//! say): `Authorization: Bearer <JWT>` in, the token's verified claims out, or 401.
//! The token is checked by `openidconnect`'s verifier as an ID token is: a signature
//! by a configured key with an algorithm from the allow-list (never `none`, never a
//! shared secret), `iss`, `aud`, `exp` and `iat` with a small leeway; then `nbf`, and
//! `tid` when a tenant is configured.

mod keys;
pub mod settings;

use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderValue;
use openidconnect::core::CoreIdToken;
use openidconnect::{ClaimsVerificationError, ClientId, JsonWebTokenType, Nonce, SignatureVerificationError};
use serde_json::{Map, Value};

use crate::base::failure::describe;
use crate::protocol::signing_key::{ISSUED_IN_THE_FUTURE, LEEWAY_SECS, SigningKey, on_our_clock};
use crate::state::{KeyValue, StateStore, StoreError, UnixTime};
use crate::validate::settings::{KeySource, OauthConfig};
use keys::Jwks;

/// Longer tokens are refused unread: real ones are a few kilobytes at most.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Why a token brought no claims back.
#[non_exhaustive]
#[derive(Debug)]
pub enum ValidationError {
    /// Neither `oauth_jwks_uri` nor `oauth_signing_key` is set: the route is off.
    NotConfigured,
    /// No `Authorization: Bearer` header.
    NoToken,
    /// The token failed `check`; `detail` says how (never the token itself).
    Refused {
        check: &'static str,
        detail: String,
    },
    /// The provider's key set could not be read: its trouble, not the caller's.
    KeysUnavailable(String),
    Store(StoreError),
}

impl From<StoreError> for ValidationError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// The verified claims of the token in `authorization` (`Bearer <JWT>`).
pub async fn validate<K: KeyValue>(
    config: Option<&OauthConfig>,
    store: &StateStore<K>,
    authorization: Option<&HeaderValue>,
    now: UnixTime,
) -> Result<Map<String, Value>, ValidationError> {
    let config = config.ok_or(ValidationError::NotConfigured)?;
    let token = PresentedToken::from_header(authorization)?;
    Ok(match &config.keys {
        KeySource::Fixed(key) => verify(&token, config, &token.signed_by_one(key), now)?,
        KeySource::Jwks { uri, key_id } => {
            let keys = keys::current(store, uri, now).await?;
            match verify(&token, config, &token.candidates(&keys.jwks, key_id.as_deref()), now) {
                Err(refusal) if refusal.check == UNKNOWN_KEY => match keys::newer_than(store, uri, &keys, now).await? {
                    Some(newer) => verify(&token, config, &token.candidates(&newer.jwks, key_id.as_deref()), now)?,
                    None => return Err(refusal.into()),
                },
                verified => verified?,
            }
        }
    })
}

/// The bearer token as presented, parsed as a signed JWT, not yet trusted.
struct PresentedToken {
    raw: String,
    parsed: CoreIdToken,
    key_id: Option<String>,
}

impl PresentedToken {
    fn from_header(authorization: Option<&HeaderValue>) -> Result<Self, ValidationError> {
        let missing = || ValidationError::NoToken;
        let value = authorization.ok_or_else(missing)?;
        if value.len() > MAX_TOKEN_BYTES {
            return Err(Refusal::new("size", format!("the token is longer than {MAX_TOKEN_BYTES} bytes")).into());
        }
        let raw = value
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
            .map(str::trim)
            .ok_or_else(missing)?;
        let malformed = || Refusal::new("format", "the token is not a signed JWT (three base64url parts)");
        let parsed = CoreIdToken::from_str(raw).map_err(|_| malformed())?;
        let header = raw.split('.').next().and_then(decode_json).ok_or_else(malformed)?;
        let key_id = header.get("kid").and_then(Value::as_str).map(str::to_owned);
        Ok(Self { raw: raw.to_owned(), parsed, key_id })
    }

    /// The operator's one key, under whatever key id the token names.
    fn signed_by_one(&self, key: &SigningKey) -> Jwks {
        Jwks::new(key.relabelled(self.key_id.as_deref()).into_iter().collect())
    }

    /// The keys that may have signed the token: the whole set, or with `oauth_jwks_keyid`
    /// the key of that id, under whatever key id the token names (HAS's rule).
    fn candidates(&self, jwks: &Jwks, configured_id: Option<&str>) -> Jwks {
        let Some(configured_id) = configured_id else {
            return jwks.clone();
        };
        let named = jwks.keys().iter().filter(|key| openidconnect::JsonWebKey::key_id(*key).is_some_and(|id| id.as_str() == configured_id));
        Jwks::new(named.filter_map(|key| key.relabelled(self.key_id.as_deref())).collect())
    }

    /// The payload, as the provider wrote it: called once the signature over it is verified.
    fn payload(&self) -> Option<Map<String, Value>> {
        decode_json(self.raw.split('.').nth(1)?)
    }
}

fn decode_json(part: &str) -> Option<Map<String, Value>> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}

/// Which check a token failed, and why: the answer names both, never the token.
#[derive(Debug)]
struct Refusal {
    check: &'static str,
    detail: String,
}

const UNKNOWN_KEY: &str = "key";

impl Refusal {
    fn new(check: &'static str, detail: impl Into<String>) -> Self {
        Self { check, detail: detail.into() }
    }

    fn from_verifier(error: ClaimsVerificationError) -> Self {
        use ClaimsVerificationError as Claims;
        use SignatureVerificationError as Signature;
        let check = match &error {
            Claims::Expired(why) if why.starts_with(ISSUED_IN_THE_FUTURE) => "iat",
            Claims::Expired(_) => "exp",
            Claims::InvalidIssuer(_) => "iss",
            Claims::InvalidAudience(_) => "aud",
            Claims::InvalidSubject(_) => "sub",
            Claims::SignatureVerification(Signature::NoMatchingKey | Signature::AmbiguousKeyId(_)) => UNKNOWN_KEY,
            Claims::SignatureVerification(Signature::DisallowedAlg(_) | Signature::UnsupportedAlg(_) | Signature::NoSignature) => "alg",
            Claims::SignatureVerification(_) => "signature",
            Claims::Unsupported(_) => "typ",
            _ => "claims",
        };
        Self::new(check, describe(&error))
    }
}

impl From<Refusal> for ValidationError {
    fn from(refusal: Refusal) -> Self {
        ValidationError::Refused { check: refusal.check, detail: refusal.detail }
    }
}

/// Plain verification against `keys` at `now`: the verified payload, or the failed check.
fn verify(token: &PresentedToken, config: &OauthConfig, keys: &Jwks, now: UnixTime) -> Result<Map<String, Value>, Refusal> {
    let now = chrono::DateTime::from_timestamp(now as i64, 0).unwrap_or_default();
    let leeway = chrono::Duration::seconds(LEEWAY_SECS);
    // RFC 9068 access tokens say `at+jwt`; others `JWT` or nothing.
    let token_types =
        ["JWT", "at+jwt", "application/jose"].into_iter().filter_map(|name| JsonWebTokenType::new(name.into()).normalize().ok());
    let verifier =
        openidconnect::IdTokenVerifier::new_public_client(ClientId::new(config.audience.clone()), config.issuer.clone(), keys.clone())
            .set_allowed_algs(config.algorithms.clone())
            .set_allowed_jose_types(token_types)
            // Ours must be one of the audiences; a token may name others too.
            .set_other_audience_verifier_fn(|_| true);
    let verifier = on_our_clock(verifier, now);
    token.parsed.claims(&verifier, |_: Option<&Nonce>| Ok(())).map_err(Refusal::from_verifier)?;
    let payload = token.payload().ok_or_else(|| Refusal::new("format", "the payload is not a JSON object"))?;
    if let Some(not_before) = payload.get("nbf") {
        let not_before = not_before.as_f64().ok_or_else(|| Refusal::new("nbf", "`nbf` is not a number"))?;
        if not_before > (now + leeway).timestamp() as f64 {
            return Err(Refusal::new("nbf", "the token is not valid yet"));
        }
    }
    if let Some(tenant) = &config.tenant_id
        && payload.get("tid").and_then(Value::as_str) != Some(tenant.as_str())
    {
        return Err(Refusal::new("tid", "the token was issued for another tenant"));
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use openidconnect::IssuerUrl;
    use openidconnect::core::CoreJwsSigningAlgorithm;
    use rsa::pkcs1v15::SigningKey as RsaSigner;
    use rsa::signature::{SignatureEncoding, Signer};
    use rsa::traits::PublicKeyParts;
    use serde_json::json;

    use super::*;

    const NOW: UnixTime = 1_800_000_000;
    const ISSUER: &str = "https://login.example.com/tenant/v2.0";

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    struct Signer1 {
        key: rsa::RsaPrivateKey,
    }

    impl Signer1 {
        fn new() -> Self {
            Self { key: rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap() }
        }

        fn jwks(&self) -> Jwks {
            let jwk = json!({"kty": "RSA", "kid": "k1", "n": b64(&self.key.n().to_bytes_be()), "e": b64(&self.key.e().to_bytes_be())});
            Jwks::new(vec![serde_json::from_value(jwk).unwrap()])
        }

        fn token(&self, claims: &Value) -> PresentedToken {
            let input =
                format!("{}.{}", b64(json!({"alg": "RS256", "kid": "k1"}).to_string().as_bytes()), b64(claims.to_string().as_bytes()));
            let signature = RsaSigner::<sha2::Sha256>::new(self.key.clone()).sign(input.as_bytes()).to_vec();
            let authorization = format!("Bearer {input}.{}", b64(&signature)).parse().unwrap();
            PresentedToken::from_header(Some(&authorization)).map_err(|_| ()).unwrap()
        }
    }

    fn config(tenant: Option<&str>) -> OauthConfig {
        let key = serde_json::from_value(json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"})).unwrap();
        OauthConfig {
            issuer: IssuerUrl::new(ISSUER.into()).unwrap(),
            audience: "api://helix".into(),
            algorithms: vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256],
            tenant_id: tenant.map(str::to_owned),
            keys: KeySource::Fixed(key),
        }
    }

    fn claims() -> Value {
        json!({"iss": ISSUER, "aud": "api://helix", "sub": "alice", "iat": NOW, "exp": NOW + 300, "tid": "t1"})
    }

    fn check_failed(signer: &Signer1, config: &OauthConfig, claims: &Value, at: UnixTime) -> &'static str {
        verify(&signer.token(claims), config, &signer.jwks(), at).unwrap_err().check
    }

    #[test]
    fn the_payload_comes_back_as_signed_within_the_leeway_and_each_failure_names_its_check() {
        let signer = Signer1::new();
        let config = config(Some("t1"));
        assert_eq!(
            verify(&signer.token(&claims()), &config, &signer.jwks(), NOW + 300 + 59).unwrap(),
            claims().as_object().unwrap().clone()
        );
        let with = |field: &str, value: Value| {
            let mut claims = claims();
            claims[field] = value;
            claims
        };
        assert_eq!(check_failed(&signer, &config, &claims(), NOW + 300 + 61), "exp");
        assert_eq!(check_failed(&signer, &config, &with("iat", json!(NOW + 120)), NOW), "iat");
        assert_eq!(check_failed(&signer, &config, &with("nbf", json!(NOW + 120)), NOW), "nbf");
        assert_eq!(check_failed(&signer, &config, &with("nbf", json!("soon")), NOW), "nbf");
        assert_eq!(check_failed(&signer, &config, &with("aud", json!("api://other")), NOW), "aud");
        assert_eq!(check_failed(&signer, &config, &with("iss", json!("https://evil.example")), NOW), "iss");
        assert_eq!(check_failed(&signer, &config, &with("tid", json!("t2")), NOW), "tid");
        assert!(verify(&signer.token(&with("tid", json!("t2"))), &self::config(None), &signer.jwks(), NOW).is_ok(), "no tenant, no check");
        let other = Signer1::new();
        assert_eq!(verify(&signer.token(&claims()), &config, &other.jwks(), NOW).unwrap_err().check, "signature");
        assert_eq!(verify(&signer.token(&claims()), &config, &Jwks::new(vec![]), NOW).unwrap_err().check, UNKNOWN_KEY);
    }

    #[test]
    fn what_is_not_a_bearer_jwt_is_told_apart_before_any_verification() {
        let refusal = |value: Option<&str>| match PresentedToken::from_header(value.map(|v| v.parse().unwrap()).as_ref()) {
            Err(ValidationError::NoToken) => "no token",
            Err(ValidationError::Refused { check, .. }) => check,
            _ => "accepted",
        };
        assert_eq!(refusal(None), "no token");
        assert_eq!(refusal(Some("Basic YWxpY2U6c2VjcmV0")), "no token");
        assert_eq!(refusal(Some("Bearer not.a.jwt")), "format");
        assert_eq!(refusal(Some(&format!("Bearer {}", "a".repeat(MAX_TOKEN_BYTES)))), "size");
    }
}

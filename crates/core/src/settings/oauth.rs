//! `/oauth/validate` (HAS's `OAUTH_*` settings): which tokens a client may present,
//! signed by which keys.

use openidconnect::JsonWebKeySetUrl;

use super::providers::{parse_issuer, parse_signing_algs};
use super::{ConfigError, check};
use crate::protocol::signing_key::jwk_from_pem;
use crate::validate::settings::{KeySource, OauthConfig};

/// `None` when neither `oauth_jwks_uri` nor `oauth_signing_key` is set: the route is off.
pub fn parse(get: &dyn Fn(&str) -> Result<String, ConfigError>) -> Result<Option<OauthConfig>, Vec<ConfigError>> {
    let value = |name: &str| get(name).map(|value| value.trim().to_owned()).map_err(|error| vec![error]);
    let (jwks_uri, pem) = (value("oauth_jwks_uri")?, value("oauth_signing_key")?);
    if jwks_uri.is_empty() && pem.is_empty() {
        return Ok(None);
    }
    let mut errors = Vec::new();
    let e = &mut errors;
    let keys = check(e, key_source(&jwks_uri, &pem, &value("oauth_jwks_origin")?, &value("oauth_jwks_keyid")?));
    let issuer = check(e, parse_issuer(&value("oauth_issuer")?, "oauth_issuer"));
    let audience = value("oauth_audience")?;
    if audience.is_empty() {
        e.push(ConfigError::new("oauth_audience", "the audience (`aud`) tokens for the broker's clients carry, such as api://helix"));
    }
    let algorithms = check(e, parse_signing_algs(&value("oauth_algorithm")?, "oauth_algorithm"));
    let tenant_id = Some(value("oauth_tenant_id")?).filter(|tenant| !tenant.is_empty());
    match (keys, issuer, algorithms) {
        (Some(keys), Some(issuer), Some(algorithms)) if errors.is_empty() => {
            Ok(Some(OauthConfig { issuer, audience, algorithms, tenant_id, keys }))
        }
        _ => Err(errors),
    }
}

fn key_source(jwks_uri: &str, pem: &str, origin: &str, key_id: &str) -> Result<KeySource, ConfigError> {
    if !pem.is_empty() {
        if !jwks_uri.is_empty() {
            return Err(ConfigError::new("oauth_signing_key", "to be empty when oauth_jwks_uri is set: keys come from one place"));
        }
        return jwk_from_pem(pem)
            .and_then(|jwk| serde_json::from_value(jwk).ok())
            .map(KeySource::Fixed)
            .ok_or_else(|| ConfigError::new("oauth_signing_key", "a PEM public key or certificate (RSA, EC P-256/P-384 or Ed25519)"));
    }
    let uri =
        JsonWebKeySetUrl::new(jwks_uri.to_owned()).ok().filter(|uri| matches!(uri.url().scheme(), "http" | "https")).ok_or_else(|| {
            ConfigError::new(
                "oauth_jwks_uri",
                "the provider's JWKS URL, such as https://login.microsoftonline.com/common/discovery/v2.0/keys",
            )
        })?;
    let uri_origin = uri.url().origin().ascii_serialization();
    if origin.trim_end_matches('/') != uri_origin {
        return Err(ConfigError::new(
            "oauth_jwks_origin",
            format!("the origin of oauth_jwks_uri, `{uri_origin}`, so that Spin allows outbound requests to it"),
        ));
    }
    Ok(KeySource::Jwks { uri, key_id: Some(key_id.to_owned()).filter(|id| !id.is_empty()) })
}

//! What `/oauth/validate` accepts (HAS's `OAUTH_*` settings, parsed in `settings/`):
//! which tokens a client may present, signed by which keys.

use openidconnect::IssuerUrl;
use openidconnect::JsonWebKeySetUrl;
use openidconnect::core::CoreJwsSigningAlgorithm;

use crate::protocol::signing_key::SigningKey;

#[derive(Debug)]
pub struct OauthConfig {
    /// `iss`, compared as a string, as for ID tokens.
    pub issuer: IssuerUrl,
    /// Must be one of the token's `aud`: without it, a token issued for any other
    /// application of the same provider would pass.
    pub audience: String,
    /// Asymmetric algorithms only (`oauth_algorithm`).
    pub algorithms: Vec<CoreJwsSigningAlgorithm>,
    /// Entra ID's tenant: the token's `tid` must be this one.
    pub tenant_id: Option<String>,
    pub keys: KeySource,
}

/// Where the signing keys come from.
#[derive(Debug)]
pub enum KeySource {
    /// A JWKS fetched from the provider (`oauth_jwks_uri`), optionally narrowed to the
    /// key with id `key_id` (`oauth_jwks_keyid`), which then signs whatever `kid` a
    /// token names, as in HAS.
    Jwks { uri: JsonWebKeySetUrl, key_id: Option<String> },
    /// One public key given by the operator (`oauth_signing_key`, PEM).
    Fixed(SigningKey),
}

//! One OpenID provider's settings, as the connector uses them (parsed in `settings/`).

use openidconnect::ClientSecret;
use openidconnect::IssuerUrl;
use openidconnect::core::CoreJwsSigningAlgorithm;

use super::client_assertion::ClientKey;

/// One OpenID provider, for a confidential client.
#[derive(Debug)]
pub struct OidcConfig {
    pub issuer: IssuerUrl,
    pub client_id: String,
    /// How the broker proves at the token endpoint that it is `client_id`.
    pub credential: ClientCredential,
    /// ID token signature algorithms accepted: asymmetric ones only.
    pub signing_algs: Vec<CoreJwsSigningAlgorithm>,
    /// Ask the provider to re-authenticate users whose last sign-in is older.
    pub max_age_secs: Option<u64>,
    pub select_account: bool,
    /// Always ask the user to sign in again (`prompt=login`), as if every request said `forceAuthn`.
    pub force_authn: bool,
    /// Requested besides `openid`.
    pub scopes: Vec<String>,
    /// Drop `email` from the identity unless the provider says it verified it
    /// (`email_verified`): for providers where users can set any address.
    pub verified_email_only: bool,
}

/// The broker's client authentication at the token endpoint. Both redact their secret
/// in `Debug`.
#[derive(Debug)]
pub enum ClientCredential {
    /// A client secret, sent as the method says.
    Secret(ClientSecret, TokenEndpointAuth),
    /// `private_key_jwt`: an assertion signed with this key.
    PrivateKeyJwt(ClientKey),
}

/// How a client secret is sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TokenEndpointAuth {
    /// `client_secret_basic`: HTTP Basic authentication (the OAuth 2.0 default).
    Basic,
    /// `client_secret_post`: client id and secret in the form body.
    Post,
}

//! Configuration from Spin variables, parsed and checked in one place.
//!
//! Names are HAS's environment variables in lower case, so HAS users recognise them.
//! Defaults live in `spin.toml`; this module only validates what it is given.

use std::collections::HashMap;
use std::fmt;

use openidconnect::core::CoreJwsSigningAlgorithm;
use openidconnect::{ClientSecret, IssuerUrl};

use crate::client_auth::{CertificateRule, ClientAuth};
use crate::store::{Sealer, StateKey};

#[derive(Debug)]
pub struct Config {
    /// Public base URL of the broker, without a trailing slash.
    pub base_url: String,
    /// How long a status call waits for the login to finish.
    pub login_timeout_secs: u64,
    /// Lifetime of every stored record.
    pub cache_ttl_secs: u64,
    /// Echoed to clients so a load balancer can route status calls (HAS's `INSTANCE_ID`).
    pub instance_id: String,
    pub client_auth: ClientAuth,
    /// Defence against login phishing: the browser confirms a login before the
    /// provider is contacted (HAS's `PROMPT_FOR_AUTHORIZATION`)…
    pub prompt_for_authorization: bool,
    /// …by typing the user code its application shows (else by a click).
    pub user_code_required: bool,
    /// Seals every stored record: `state_key`, and `state_key_previous` for rotation.
    pub sealer: Sealer,
    /// `None` until `oidc_issuer_uri` is set.
    pub oidc: Option<OidcConfig>,
}

/// One OpenID provider, for a confidential client.
#[derive(Debug)]
pub struct OidcConfig {
    pub issuer: IssuerUrl,
    pub client_id: String,
    /// Redacted in `Debug`; reached only through `.secret()`.
    pub client_secret: ClientSecret,
    /// ID token signature algorithms accepted: asymmetric ones only.
    pub signing_algs: Vec<CoreJwsSigningAlgorithm>,
    /// Ask the provider to re-authenticate users whose last sign-in is older.
    pub max_age_secs: Option<u64>,
    pub select_account: bool,
    pub token_auth: TokenEndpointAuth,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TokenEndpointAuth {
    /// `client_secret_basic`: HTTP Basic authentication (the OAuth 2.0 default).
    Basic,
    /// `client_secret_post`: client id and secret in the form body.
    Post,
}

/// A variable is missing or its value is unusable. Never carries the value itself:
/// some variables are secrets.
#[derive(Debug, PartialEq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub expected: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Spin variable `{}` is invalid: expected {}", self.variable, self.expected)
    }
}

const VARIABLES: [&str; 22] = [
    "prompt_for_authorization",
    "user_code_required",
    "client_cert_header",
    "client_cert_fp",
    "client_cert_cn",
    "state_key",
    "state_key_previous",
    "svc_base_uri",
    "login_timeout",
    "cache_ttl",
    "instance_id",
    "client_tokens",
    "assume_client_authorized",
    "oidc_issuer_uri",
    "oidc_provider_origin",
    "oidc_client_id",
    "oidc_client_secret",
    "oidc_code_challenge_method",
    "oidc_token_signing_algo",
    "oidc_token_endpoint_auth_method",
    "oidc_max_age",
    "oidc_select_account",
];

const MAX_LOGIN_TIMEOUT_SECS: u64 = 3600;
const MAX_CACHE_TTL_SECS: u64 = 86_400;
const MIN_CLIENT_TOKEN_LEN: usize = 16;

impl Config {
    /// Reads every variable from Spin and validates them together.
    pub async fn load() -> Result<Config, ConfigError> {
        let mut values = HashMap::new();
        for name in VARIABLES {
            match spin_sdk::variables::get(name).await {
                Ok(value) => {
                    values.insert(name, value);
                }
                Err(error) => {
                    eprintln!("{}", serde_json::json!({"event": "variable_unreadable", "variable": name, "detail": error.to_string()}));
                }
            }
        }
        Config::parse(|name| values.get(name).cloned())
    }

    pub fn parse(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |variable: &'static str| {
            lookup(variable).ok_or_else(|| ConfigError {
                variable,
                expected: "a value (declare it under [variables] in spin.toml)".into(),
            })
        };
        let login_timeout_secs = parse_seconds("login_timeout", &get("login_timeout")?, MAX_LOGIN_TIMEOUT_SECS)?;
        let cache_ttl_secs = parse_seconds("cache_ttl", &get("cache_ttl")?, MAX_CACHE_TTL_SECS)?;
        if cache_ttl_secs < login_timeout_secs {
            return Err(ConfigError {
                variable: "cache_ttl",
                expected: format!("at least `login_timeout` ({login_timeout_secs} s), so that a request outlives its status call"),
            });
        }
        Ok(Config {
            base_url: parse_base_url(&get("svc_base_uri")?)?,
            login_timeout_secs,
            cache_ttl_secs,
            instance_id: parse_instance_id(&get("instance_id")?)?,
            client_auth: ClientAuth::new(
                parse_client_tokens(&get("client_tokens")?)?,
                parse_bool("assume_client_authorized", &get("assume_client_authorized")?)?,
                parse_certificate_rule(&get("client_cert_header")?, &get("client_cert_fp")?, &get("client_cert_cn")?)?,
            ),
            prompt_for_authorization: parse_bool("prompt_for_authorization", &get("prompt_for_authorization")?)?,
            user_code_required: parse_bool("user_code_required", &get("user_code_required")?)?,
            sealer: parse_state_keys(&get("state_key")?, &get("state_key_previous")?)?,
            oidc: parse_oidc(&get)?,
        })
    }
}

/// HAS's proxy mode: a TLS-terminating proxy forwards the client's certificate.
fn parse_certificate_rule(header: &str, fingerprints: &str, common_names: &str) -> Result<Option<CertificateRule>, ConfigError> {
    let header = header.trim();
    if header.is_empty() {
        return Ok(None);
    }
    let header = http::HeaderName::from_bytes(header.as_bytes())
        .map_err(|_| ConfigError { variable: "client_cert_header", expected: "an HTTP header name, such as x-client-cert".into() })?;
    let fingerprints = comma_list(fingerprints)
        .map(parse_fingerprint)
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| ConfigError {
            variable: "client_cert_fp",
            expected: "comma-separated SHA-256 fingerprints in hex, colons allowed (`openssl x509 -noout -fingerprint -sha256`)".into(),
        })?;
    let common_names: Vec<String> = comma_list(common_names).map(str::to_owned).collect();
    if fingerprints.is_empty() && common_names.is_empty() {
        return Err(ConfigError { variable: "client_cert_header", expected: "to be used with client_cert_fp or client_cert_cn".into() });
    }
    Ok(Some(CertificateRule { header, fingerprints, common_names }))
}

fn parse_fingerprint(text: &str) -> Option<[u8; 32]> {
    let hex: String = text.chars().filter(|c| *c != ':').collect();
    if hex.len() != 64 {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(bytes)
}

/// Under Spin a component keeps nothing between requests, so it cannot make a key of
/// its own: without `state_key` the login routes refuse to serve.
fn parse_state_keys(current: &str, previous: &str) -> Result<Sealer, ConfigError> {
    let expected = "32 random bytes in base64, such as the output of `openssl rand -base64 32`";
    let current = parse_key(current).ok_or_else(|| ConfigError { variable: "state_key", expected: expected.into() })?;
    let previous = comma_list(previous)
        .map(parse_key)
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| ConfigError { variable: "state_key_previous", expected: format!("comma-separated keys, each {expected}") })?;
    Ok(Sealer::new(current, previous))
}

fn parse_key(text: &str) -> Option<StateKey> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let text = text.trim();
    let bytes = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD].iter().find_map(|engine| engine.decode(text).ok())?;
    let bytes: [u8; 32] = bytes.try_into().ok()?;
    Some(StateKey::from_bytes(&bytes))
}

fn parse_oidc(get: &impl Fn(&'static str) -> Result<String, ConfigError>) -> Result<Option<OidcConfig>, ConfigError> {
    let issuer = get("oidc_issuer_uri")?.trim().trim_end_matches('/').to_owned();
    if issuer.is_empty() {
        return Ok(None);
    }
    let issuer_url = IssuerUrl::new(issuer.clone()).ok().filter(|url| matches!(url.url().scheme(), "http" | "https"));
    let Some(issuer_url) = issuer_url.filter(|url| url.url().query().is_none() && url.url().fragment().is_none()) else {
        return Err(ConfigError { variable: "oidc_issuer_uri", expected: "the provider's issuer URL, such as https://idp.example.com/realms/acme".into() });
    };
    // Spin lets the component reach only origins in `allowed_outbound_hosts`, which
    // names the provider through `oidc_provider_origin`: catch a mismatch here, not as
    // a denied request deep inside a login.
    let origin = issuer_url.url().origin().ascii_serialization();
    if get("oidc_provider_origin")?.trim().trim_end_matches('/') != origin {
        return Err(ConfigError {
            variable: "oidc_provider_origin",
            expected: format!("the issuer's origin, `{origin}`, so that Spin allows outbound requests to the provider"),
        });
    }
    let client_id = get("oidc_client_id")?.trim().to_owned();
    if client_id.is_empty() {
        return Err(ConfigError { variable: "oidc_client_id", expected: "the client id registered at the provider".into() });
    }
    let client_secret = get("oidc_client_secret")?.trim().to_owned();
    if client_secret.is_empty() {
        return Err(ConfigError { variable: "oidc_client_secret", expected: "the client secret registered at the provider".into() });
    }
    if get("oidc_code_challenge_method")?.trim() != "S256" {
        return Err(ConfigError { variable: "oidc_code_challenge_method", expected: "`S256` (RFC 9700 rules out `plain`)".into() });
    }
    let max_age = get("oidc_max_age")?;
    let max_age_secs = match max_age.trim() {
        "" => None,
        value => Some(parse_seconds("oidc_max_age", value, MAX_CACHE_TTL_SECS * 365)?),
    };
    let token_auth = match get("oidc_token_endpoint_auth_method")?.trim() {
        "client_secret_basic" | "" => TokenEndpointAuth::Basic,
        "client_secret_post" => TokenEndpointAuth::Post,
        _ => {
            return Err(ConfigError {
                variable: "oidc_token_endpoint_auth_method",
                expected: "`client_secret_basic` or `client_secret_post`".into(),
            });
        }
    };
    Ok(Some(OidcConfig {
        issuer: issuer_url,
        client_id,
        client_secret: ClientSecret::new(client_secret),
        signing_algs: parse_signing_algs(&get("oidc_token_signing_algo")?)?,
        max_age_secs,
        select_account: parse_bool("oidc_select_account", &get("oidc_select_account")?)?,
        token_auth,
    }))
}

/// Asymmetric algorithms only: `none` would skip the signature, and an HS* "signature"
/// made with the provider's public key as the HMAC secret is the classic forgery.
fn parse_signing_algs(value: &str) -> Result<Vec<CoreJwsSigningAlgorithm>, ConfigError> {
    use CoreJwsSigningAlgorithm as Alg;
    let parse = |name: &str| match name {
        "RS256" => Some(Alg::RsaSsaPkcs1V15Sha256),
        "RS384" => Some(Alg::RsaSsaPkcs1V15Sha384),
        "RS512" => Some(Alg::RsaSsaPkcs1V15Sha512),
        "PS256" => Some(Alg::RsaSsaPssSha256),
        "PS384" => Some(Alg::RsaSsaPssSha384),
        "PS512" => Some(Alg::RsaSsaPssSha512),
        "ES256" => Some(Alg::EcdsaP256Sha256),
        "ES384" => Some(Alg::EcdsaP384Sha384),
        "EdDSA" => Some(Alg::EdDsa),
        _ => None,
    };
    let algs: Option<Vec<Alg>> = comma_list(value).map(parse).collect();
    match algs {
        Some(algs) if !algs.is_empty() => Ok(algs),
        _ => Err(ConfigError {
            variable: "oidc_token_signing_algo",
            expected: "a comma-separated list of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA (never none or HS*)".into(),
        }),
    }
}

/// The non-empty, trimmed items of a comma-separated variable.
fn comma_list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|item| !item.is_empty())
}

fn parse_seconds(variable: &'static str, value: &str, max: u64) -> Result<u64, ConfigError> {
    match value.trim().parse::<u64>() {
        Ok(seconds) if (1..=max).contains(&seconds) => Ok(seconds),
        _ => Err(ConfigError { variable, expected: format!("whole seconds from 1 to {max}") }),
    }
}

fn parse_bool(variable: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" | "" => Ok(false),
        _ => Err(ConfigError { variable, expected: "`true` or `false`".into() }),
    }
}

fn parse_base_url(value: &str) -> Result<String, ConfigError> {
    let invalid = || ConfigError {
        variable: "svc_base_uri",
        expected: "an absolute http:// or https:// URL with a host and no path, query or fragment, such as https://login.example.com".into(),
    };
    let trimmed = value.trim().trim_end_matches('/');
    let uri: http::Uri = trimmed.parse().map_err(|_| invalid())?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    let host_ok = uri.host().is_some_and(|host| !host.is_empty());
    // Routes are matched from the root of the path Spin hands us, so the broker owns its origin.
    let bare_origin = uri.path() == "/" && uri.query().is_none() && !trimmed.contains('#');
    if scheme_ok && host_ok && bare_origin && uri.authority().is_some_and(|a| !a.as_str().contains('@')) {
        Ok(trimmed.to_owned())
    } else {
        Err(invalid())
    }
}

fn parse_instance_id(value: &str) -> Result<String, ConfigError> {
    let value = value.trim();
    if !value.is_empty() && value.len() <= 64 && value.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(value.to_owned())
    } else {
        Err(ConfigError { variable: "instance_id", expected: "1 to 64 visible ASCII characters".into() })
    }
}

fn parse_client_tokens(value: &str) -> Result<Vec<String>, ConfigError> {
    let tokens: Vec<String> = comma_list(value).map(str::to_owned).collect();
    let acceptable = |token: &String| token.len() >= MIN_CLIENT_TOKEN_LEN && token.bytes().all(|b| b.is_ascii_graphic());
    if tokens.iter().all(acceptable) {
        Ok(tokens)
    } else {
        Err(ConfigError {
            variable: "client_tokens",
            expected: format!("comma-separated tokens of at least {MIN_CLIENT_TOKEN_LEN} visible ASCII characters each"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> HashMap<&'static str, String> {
        HashMap::from([
            ("state_key", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".to_owned()),
            ("state_key_previous", "".to_owned()),
            ("svc_base_uri", "http://127.0.0.1:3000".to_owned()),
            ("login_timeout", "60".to_owned()),
            ("cache_ttl", "300".to_owned()),
            ("instance_id", "none".to_owned()),
            ("client_tokens", "".to_owned()),
            ("assume_client_authorized", "false".to_owned()),
            ("prompt_for_authorization", "false".to_owned()),
            ("user_code_required", "true".to_owned()),
            ("client_cert_header", "".to_owned()),
            ("client_cert_fp", "".to_owned()),
            ("client_cert_cn", "".to_owned()),
            ("oidc_issuer_uri", "".to_owned()),
            ("oidc_provider_origin", "https://oidc-provider.invalid".to_owned()),
            ("oidc_client_id", "".to_owned()),
            ("oidc_client_secret", "".to_owned()),
            ("oidc_code_challenge_method", "S256".to_owned()),
            ("oidc_token_signing_algo", "RS256,ES256".to_owned()),
            ("oidc_token_endpoint_auth_method", "client_secret_basic".to_owned()),
            ("oidc_max_age", "".to_owned()),
            ("oidc_select_account", "false".to_owned()),
        ])
    }

    const PROVIDER: [(&str, &str); 4] = [
        ("oidc_issuer_uri", "https://idp.example.com/realms/acme/"),
        ("oidc_provider_origin", "https://idp.example.com"),
        ("oidc_client_id", "broker"),
        ("oidc_client_secret", "s3cret-value"),
    ];

    fn with_provider<'a>(extra: &[(&'static str, &'a str)]) -> Vec<(&'static str, &'a str)> {
        PROVIDER.iter().copied().chain(extra.iter().copied()).collect()
    }

    #[test]
    fn oidc_is_off_until_an_issuer_is_set() {
        assert!(parse_with(&[]).unwrap().oidc.is_none());
    }

    #[test]
    fn a_provider_with_a_path_is_configured() {
        let oidc = parse_with(&with_provider(&[])).unwrap().oidc.unwrap();
        assert_eq!(oidc.issuer.as_str(), "https://idp.example.com/realms/acme");
        assert_eq!(oidc.token_auth, TokenEndpointAuth::Basic);
        assert_eq!(oidc.signing_algs.len(), 2);
        assert!(!format!("{oidc:?}").contains("s3cret-value"), "the secret is redacted");
    }

    #[test]
    fn provider_settings_are_checked_and_named() {
        let cases: [(&'static str, &str); 8] = [
            ("oidc_provider_origin", "https://other.example.com"),
            ("oidc_issuer_uri", "idp.example.com"),
            ("oidc_client_id", " "),
            ("oidc_client_secret", ""),
            ("oidc_code_challenge_method", "plain"),
            ("oidc_token_signing_algo", "RS256,HS256"),
            ("oidc_token_signing_algo", "none"),
            ("oidc_token_endpoint_auth_method", "private_key_jwt"),
        ];
        for (variable, value) in cases {
            assert_eq!(rejected_variable(&with_provider(&[(variable, value)])), variable, "{value:?}");
        }
        assert_eq!(rejected_variable(&with_provider(&[("oidc_max_age", "soon")])), "oidc_max_age");
        let secret_error = parse_with(&with_provider(&[("oidc_code_challenge_method", "plain")])).unwrap_err();
        assert!(!secret_error.to_string().contains("s3cret-value"));
    }

    fn parse_with(overrides: &[(&'static str, &str)]) -> Result<Config, ConfigError> {
        let mut values = defaults();
        for (name, value) in overrides {
            values.insert(name, (*value).to_owned());
        }
        Config::parse(|name| values.get(name).cloned())
    }

    fn rejected_variable(overrides: &[(&'static str, &str)]) -> &'static str {
        parse_with(overrides).expect_err("configuration should be refused").variable
    }

    #[test]
    fn spin_toml_defaults_are_valid() {
        let config = parse_with(&[]).unwrap();
        assert_eq!(config.base_url, "http://127.0.0.1:3000");
        assert_eq!((config.login_timeout_secs, config.cache_ttl_secs), (60, 300));
        assert_eq!(config.instance_id, "none");
    }

    #[test]
    fn base_url_loses_its_trailing_slash() {
        let config = parse_with(&[("svc_base_uri", "https://login.example.com/")]).unwrap();
        assert_eq!(config.base_url, "https://login.example.com");
    }

    #[test]
    fn base_url_must_be_a_bare_http_origin() {
        for bad in ["", "login.example.com", "ftp://x", "https://x/broker", "https://x/?a=1", "https://u:p@x", "https://x/#f", "http://"] {
            assert_eq!(rejected_variable(&[("svc_base_uri", bad)]), "svc_base_uri", "{bad:?}");
        }
    }

    #[test]
    fn timeouts_must_be_whole_seconds_in_range() {
        for bad in ["", "abc", "0", "-5", "1.5", "3601"] {
            assert_eq!(rejected_variable(&[("login_timeout", bad)]), "login_timeout", "{bad:?}");
        }
        assert_eq!(rejected_variable(&[("cache_ttl", "86401")]), "cache_ttl");
    }

    #[test]
    fn records_must_outlive_the_long_poll() {
        assert_eq!(rejected_variable(&[("login_timeout", "120"), ("cache_ttl", "60")]), "cache_ttl");
    }

    #[test]
    fn short_client_tokens_are_refused_without_echoing_them() {
        let error = parse_with(&[("client_tokens", "0123456789abcdef, short")]).unwrap_err();
        assert_eq!(error.variable, "client_tokens");
        assert!(!error.to_string().contains("short"));
    }

    #[test]
    fn booleans_and_instance_ids_are_checked() {
        assert_eq!(rejected_variable(&[("assume_client_authorized", "maybe")]), "assume_client_authorized");
        assert_eq!(rejected_variable(&[("instance_id", "two words")]), "instance_id");
        assert!(parse_with(&[("assume_client_authorized", "TRUE")]).unwrap().client_auth.assumes_authorized());
    }

    #[test]
    fn state_keys_must_be_32_bytes_of_base64() {
        for bad in ["", "short", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZQ==", "not base64 at all!!"] {
            assert_eq!(rejected_variable(&[("state_key", bad)]), "state_key", "{bad:?}");
        }
        assert_eq!(rejected_variable(&[("state_key_previous", "MDEy, x")]), "state_key_previous");
        let url_safe_and_previous = [
            ("state_key", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"),
            ("state_key_previous", "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=, "),
        ];
        assert!(parse_with(&url_safe_and_previous).is_ok());
    }

    #[test]
    fn forwarded_certificates_need_a_header_and_what_to_accept() {
        let fp = "1C:EC:5E:B8:E6:68:8D:6D:3E:2D:AA:42:D7:8C:70:31:A6:80:FC:4B:D1:10:78:A0:4E:70:98:83:B2:97:E8:EE";
        assert!(parse_with(&[("client_cert_header", "x-client-cert"), ("client_cert_fp", fp)]).is_ok());
        assert!(parse_with(&[("client_cert_header", "x-client-cert"), ("client_cert_cn", "build-*")]).is_ok());
        assert_eq!(rejected_variable(&[("client_cert_header", "x-client-cert")]), "client_cert_header");
        assert_eq!(rejected_variable(&[("client_cert_header", "bad header")]), "client_cert_header");
        assert_eq!(rejected_variable(&[("client_cert_header", "x-client-cert"), ("client_cert_fp", "1C:EC")]), "client_cert_fp");
    }

    #[test]
    fn an_undeclared_variable_is_named() {
        let error = Config::parse(|_| None).unwrap_err();
        assert!(error.to_string().contains("spin.toml"));
    }
}

//! Configuration from Spin variables, parsed and checked in one place.
//!
//! Names are HAS's environment variables in lower case, so HAS users recognise them.
//! Defaults live in `spin.toml`; this module only validates what it is given, and
//! reports every problem at once, each naming its variable.

#[cfg(test)]
mod has_examples;
mod oauth;
mod providers;
pub mod table;

use std::collections::HashMap;
use std::fmt;

use serde_json::Value;
use table::{Read, VARIABLES};

use crate::base::parse::flag;
use crate::host::Platform;
use crate::login::client_auth::{CertificateRule, ClientAuth, ClientToken};
use crate::protocol::registry::Providers;
use crate::state::{Sealer, StateKey};
use crate::validate::settings::OauthConfig;

/// The whole configuration: what a browser route, a new request or `/readiness` needs.
#[derive(Debug)]
pub struct Config {
    pub essentials: Essentials,
    /// Echoed to clients so a load balancer can route status calls (HAS's `INSTANCE_ID`).
    pub instance_id: String,
    /// Defence against login phishing: the browser confirms a login before the
    /// provider is contacted (HAS's `PROMPT_FOR_AUTHORIZATION`)…
    pub prompt_for_authorization: bool,
    /// …by typing the user code its application shows (else by a click).
    pub user_code_required: bool,
    /// Whether `/status` answers (HAS's `STATUS_ENABLED`).
    pub status_enabled: bool,
    /// Logins that may write the store per 10 s bucket of expiry (see `StateStore`).
    pub max_logins_per_ten_seconds: u64,
    /// Empty until `auth_providers` or `oidc_issuer_uri` is set.
    pub providers: Providers,
    /// `/oauth/validate`, when `oauth_jwks_uri` or `oauth_signing_key` is set.
    pub oauth: Option<OauthConfig>,
}

/// The part of the configuration every client call needs, and all that a status call
/// needs: it reads only [`ESSENTIAL_VARIABLES`]. Each variable read costs Spin a hand-off
/// between threads (its environment provider blocks in place), and the wasi:http 0.2
/// build reads its configuration for every request (BENCHMARKS.md).
#[derive(Debug)]
pub struct Essentials {
    /// Public base URL of the broker, without a trailing slash.
    pub base_url: String,
    /// How long a status call waits for the login to finish.
    pub login_timeout_secs: u64,
    /// Lifetime of every stored record.
    pub cache_ttl_secs: u64,
    /// On a replicated store, the longest a write takes to reach every region.
    pub store_replication_secs: u64,
    /// What the host's platform guarantees.
    pub platform: Platform,
    pub client_auth: ClientAuth,
    /// Seals every stored record: `state_key`, and `state_key_previous` for rotation.
    pub sealer: Sealer,
}

/// Every other variable in one (see its row in the table): read first, and alone when set.
pub const SETTINGS_JSON: &str = "settings_json";

/// Whether Spin itself expands `name`, in spin.toml's `allowed_outbound_hosts`: such a
/// variable is set and read on its own, never in `settings_json`.
fn is_outbound_origin(name: &str) -> bool {
    providers::ORIGIN_VARIABLES.contains(&name) || name == "oauth_jwks_origin"
}

/// What [`Essentials`] reads (a unit test holds its parser to this list).
pub const ESSENTIAL_VARIABLES: [&str; 13] = [
    "svc_base_uri",
    "login_timeout",
    "cache_ttl",
    "store_replication_secs",
    "client_tokens",
    "assume_client_authorized",
    "require_client_for_new_requests",
    "client_cert_header",
    "client_cert_fp",
    "client_cert_cn",
    "client_cert_proxy_secret",
    "state_key",
    "state_key_previous",
];

/// A variable is missing or its value is unusable. Never carries the value itself:
/// some variables are secrets.
#[derive(Debug, PartialEq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub expected: String,
}

impl ConfigError {
    fn new(variable: &'static str, expected: impl Into<String>) -> Self {
        Self { variable, expected: expected.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Spin variable `{}` is invalid: expected {}", self.variable, self.expected)
    }
}

/// Every problem found in one pass, so an operator fixes them all at once.
#[derive(Debug, PartialEq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let problems: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        write!(f, "{}", problems.join("; "))
    }
}

/// The variables of the gated features that are off: parsed as empty, never read.
fn skipped_variables(gate_value: impl Fn(&str) -> Option<String>) -> Vec<&'static str> {
    let set = |gate: &&str| gate_value(gate).is_some_and(|value| !value.trim().is_empty());
    VARIABLES
        .iter()
        .filter(|variable| matches!(variable.read, Read::WhenAnySet(gates) if !gates.iter().any(set)))
        .map(|variable| variable.name)
        .collect()
}

const MAX_LOGIN_TIMEOUT_SECS: u64 = 3600;
const MAX_STORE_REPLICATION_SECS: u64 = 10;
const MAX_CACHE_TTL_SECS: u64 = 86_400;
const MAX_LOGINS_PER_TEN_SECONDS: u64 = 1_000_000;
const MIN_CLIENT_TOKEN_LEN: usize = 16;

impl Config {
    /// Reads every variable from Spin (and the secret variables `auth_providers`
    /// names) and validates them together.
    pub async fn load() -> Result<Config, ConfigErrors> {
        let values = read_variables(VARIABLES.iter()).await?;
        Config::parse_on(crate::host::platform(), |name| values.get(name).cloned())
    }

    /// The configuration for a host with one store and no request limit.
    pub fn parse(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigErrors> {
        Config::parse_on(Platform::OneStore, lookup)
    }

    pub fn parse_on(platform: Platform, lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigErrors> {
        let get = getter(&lookup);
        let mut errors = Vec::new();
        let e = &mut errors;
        let essentials = Essentials::parse_into(e, platform, &get);
        let instance_id = check(e, get("instance_id").and_then(|value| parse_instance_id(&value)));
        let prompt = check(e, get_bool(&get, "prompt_for_authorization"));
        let user_code = check(e, get_bool(&get, "user_code_required"));
        let status_enabled = check(e, get_bool(&get, "status_enabled"));
        let max_logins = check(
            e,
            get("max_logins_per_ten_seconds")
                .and_then(|value| parse_count("max_logins_per_ten_seconds", &value, MAX_LOGINS_PER_TEN_SECONDS)),
        );
        let providers = providers::parse(&get).map_err(|problems| e.extend(problems)).ok();
        let oauth = oauth::parse(&get).map_err(|problems| e.extend(problems)).ok();
        // Every problem was collected above; a value that failed is `None` here.
        let config = (|| {
            Some(Config {
                essentials: essentials?,
                instance_id: instance_id?,
                prompt_for_authorization: prompt?,
                user_code_required: user_code?,
                status_enabled: status_enabled?,
                max_logins_per_ten_seconds: max_logins?,
                providers: providers?,
                oauth: oauth?,
            })
        })();
        config.filter(|_| errors.is_empty()).ok_or(ConfigErrors(errors))
    }
}

impl Essentials {
    /// Reads [`ESSENTIAL_VARIABLES`] from Spin and validates them.
    pub async fn load() -> Result<Essentials, ConfigErrors> {
        let values = read_variables(VARIABLES.iter().filter(|variable| ESSENTIAL_VARIABLES.contains(&variable.name))).await?;
        Essentials::parse_on(crate::host::platform(), |name| values.get(name).cloned())
    }

    pub fn parse_on(platform: Platform, lookup: impl Fn(&str) -> Option<String>) -> Result<Essentials, ConfigErrors> {
        let mut errors = Vec::new();
        let essentials = Essentials::parse_into(&mut errors, platform, &getter(&lookup));
        essentials.filter(|_| errors.is_empty()).ok_or(ConfigErrors(errors))
    }

    fn parse_into(e: &mut Vec<ConfigError>, platform: Platform, get: &impl Fn(&str) -> Result<String, ConfigError>) -> Option<Essentials> {
        let base_url = check(e, get("svc_base_uri").and_then(|value| parse_base_url(&value)));
        let timing = check(e, parse_timing(get, platform));
        let client_auth = check(e, parse_client_auth(get));
        let sealer = check(e, get("state_key").and_then(|current| parse_state_keys(&current, &get("state_key_previous")?)));
        let Timing { login_timeout_secs, cache_ttl_secs, store_replication_secs } = timing?;
        Some(Essentials {
            base_url: base_url?,
            login_timeout_secs,
            cache_ttl_secs,
            store_replication_secs,
            platform,
            client_auth: client_auth?,
            sealer: sealer?,
        })
    }
}

/// Reads `variables` from Spin: a gated one only when its gate (read before it) is set,
/// and the secret variables that an `auth_providers` among them names; or, when
/// `settings_json` is set, every value from it alone.
async fn read_variables(
    variables: impl Iterator<Item = &'static table::Variable> + Clone,
) -> Result<HashMap<String, String>, ConfigErrors> {
    if let Some(bundled) = read_variable(SETTINGS_JSON).await.filter(|text| !text.trim().is_empty()) {
        let mut values = read_settings_json(&bundled).map_err(|error| ConfigErrors(vec![error]))?;
        let skipped = skipped_variables(|gate| values.get(gate).cloned());
        for name in variables.map(|variable| variable.name).filter(|name| is_outbound_origin(name) && !skipped.contains(name)) {
            if let Some(value) = read_variable(name).await {
                values.insert(name.to_owned(), value);
            }
        }
        return Ok(values);
    }
    let mut values = HashMap::new();
    for variable in variables.clone().filter(|variable| matches!(variable.read, Read::Always)) {
        if let Some(value) = read_variable(variable.name).await {
            values.insert(variable.name.to_owned(), value);
        }
    }
    let skipped = skipped_variables(|gate| values.get(gate).cloned());
    for name in variables.filter(|variable| matches!(variable.read, Read::WhenAnySet(_))).map(|variable| variable.name) {
        let value = if skipped.contains(&name) { Some(String::new()) } else { read_variable(name).await };
        if let Some(value) = value {
            values.insert(name.to_owned(), value);
        }
    }
    let referenced = values.get("auth_providers").map(|list| providers::secret_variables(list)).unwrap_or_default();
    for name in referenced {
        if let Some(value) = read_variable(&name).await {
            values.insert(name, value);
        }
    }
    Ok(values)
}

/// Every variable's value from `settings_json`'s object, else its declared default
/// (but the origins, which are read on their own).
/// Errors name keys, never values (some are secrets).
pub fn read_settings_json(text: &str) -> Result<HashMap<String, String>, ConfigError> {
    const OBJECT: &str = "one JSON object of variable names and values";
    // Parsed as any JSON first: only syntax errors then, which quote no value.
    let Value::Object(object) =
        serde_json::from_str(text).map_err(|error| ConfigError::new(SETTINGS_JSON, format!("{OBJECT} ({error})")))?
    else {
        return Err(ConfigError::new(SETTINGS_JSON, OBJECT));
    };
    let mut values: HashMap<String, String> =
        VARIABLES.iter().map(|variable| (variable.name.to_owned(), variable.default.to_owned())).collect();
    for (name, value) in object {
        if name == SETTINGS_JSON || table::variable(&name).is_none() {
            let shown: String = name.chars().take(64).collect();
            return Err(ConfigError::new(SETTINGS_JSON, format!("{OBJECT}, named as spin.toml declares them: `{shown}` is not one")));
        }
        if is_outbound_origin(&name) {
            return Err(ConfigError::new(
                SETTINGS_JSON,
                format!("no `{name}`: Spin itself expands it (allowed_outbound_hosts in spin.toml), so it is set as a variable of its own"),
            ));
        }
        let text = match value {
            Value::String(text) => text,
            other => other.to_string(),
        };
        values.insert(name, text);
    }
    Ok(values)
}

/// Each variable's value from `lookup`; a variable of a feature that is off reads as
/// empty, whatever it holds.
fn getter(lookup: &impl Fn(&str) -> Option<String>) -> impl Fn(&str) -> Result<String, ConfigError> {
    let skipped = skipped_variables(lookup);
    move |variable: &str| {
        if skipped.contains(&variable) {
            return Ok(String::new());
        }
        lookup(variable).ok_or_else(|| ConfigError {
            variable: declared_name(variable),
            expected: "a value (declare it under [variables] in spin.toml)".into(),
        })
    }
}

/// The value, or `None` with the problem added to `errors`: parsing goes on, so that
/// every problem is reported at once.
fn check<T>(errors: &mut Vec<ConfigError>, result: Result<T, ConfigError>) -> Option<T> {
    result.map_err(|error| errors.push(error)).ok()
}

async fn read_variable(name: &str) -> Option<String> {
    match crate::host::variable(name).await {
        Ok(value) => Some(value),
        Err(error) => {
            crate::base::log::warn("variable_unreadable").field("variable", name).detail(&error).emit();
            None
        }
    }
}

/// Error messages name variables by `&'static str`; a name only known at run time
/// (a secret variable `auth_providers` refers to) is reported as `auth_providers`.
fn declared_name(variable: &str) -> &'static str {
    VARIABLES
        .iter()
        .find(|declared| declared.name == variable && !matches!(declared.read, Read::WhenNamed))
        .map_or("auth_providers", |declared| declared.name)
}

fn get_bool(get: &impl Fn(&str) -> Result<String, ConfigError>, variable: &'static str) -> Result<bool, ConfigError> {
    parse_bool(variable, &get(variable)?)
}

struct Timing {
    login_timeout_secs: u64,
    cache_ttl_secs: u64,
    store_replication_secs: u64,
}

/// A status call waits up to `login_timeout`: where the platform ends requests (at
/// 30 s on Akamai Functions), it must answer this much before.
const REQUEST_LIMIT_MARGIN_SECS: u64 = 5;

fn parse_timing(get: &impl Fn(&str) -> Result<String, ConfigError>, platform: Platform) -> Result<Timing, ConfigError> {
    let request_limit = platform.request_limit_secs();
    let longest_wait = request_limit.map_or(MAX_LOGIN_TIMEOUT_SECS, |limit| limit - REQUEST_LIMIT_MARGIN_SECS);
    let login_timeout_secs = parse_seconds("login_timeout", &get("login_timeout")?, longest_wait).map_err(|error| match request_limit {
        None => error,
        Some(limit) => ConfigError::new(
            "login_timeout",
            format!("whole seconds from 1 to {longest_wait} in the edge build: the platform ends a request after {limit} s, and a status call waits up to login_timeout"),
        ),
    })?;
    let store_replication_secs = match (platform, get("store_replication_secs")?.trim().parse::<u64>()) {
        (Platform::OneStore, Ok(0)) => 0,
        (Platform::ReplicatedEdge, Ok(seconds @ 1..=MAX_STORE_REPLICATION_SECS)) => seconds,
        (Platform::OneStore, _) => {
            return Err(ConfigError::new("store_replication_secs", "`0`: this build's store is one store, with nothing to replicate"));
        }
        (Platform::ReplicatedEdge, _) => {
            return Err(ConfigError::new(
                "store_replication_secs",
                format!(
                    "whole seconds from 1 to {MAX_STORE_REPLICATION_SECS}: the longest the edge store takes to carry a write to every region"
                ),
            ));
        }
    };
    let cache_ttl_secs = parse_seconds("cache_ttl", &get("cache_ttl")?, MAX_CACHE_TTL_SECS)?;
    if cache_ttl_secs < login_timeout_secs {
        return Err(ConfigError::new(
            "cache_ttl",
            format!("at least `login_timeout` ({login_timeout_secs} s), so that a request outlives its status call"),
        ));
    }
    Ok(Timing { login_timeout_secs, cache_ttl_secs, store_replication_secs })
}

fn parse_client_auth(get: &impl Fn(&str) -> Result<String, ConfigError>) -> Result<ClientAuth, ConfigError> {
    let assume_authorized = get_bool(get, "assume_client_authorized")?;
    let auth = ClientAuth::new(
        parse_client_tokens(&get("client_tokens")?)?,
        assume_authorized,
        parse_certificate_rule(
            &get("client_cert_header")?,
            &get("client_cert_fp")?,
            &get("client_cert_cn")?,
            &get("client_cert_proxy_secret")?,
        )?,
    );
    match (get_bool(get, "require_client_for_new_requests")?, assume_authorized) {
        (false, _) => Ok(auth),
        (true, false) => Ok(auth.requiring_creators_to_identify()),
        (true, true) => Err(ConfigError::new(
            "require_client_for_new_requests",
            "`false` while `assume_client_authorized` is `true`: clients that are all assumed authorized cannot be told apart",
        )),
    }
}

/// HAS's proxy mode: a TLS-terminating proxy forwards the client's certificate.
fn parse_certificate_rule(
    header: &str,
    fingerprints: &str,
    common_names: &str,
    proxy_secret: &str,
) -> Result<Option<CertificateRule>, ConfigError> {
    let header = header.trim();
    if header.is_empty() {
        return Ok(None);
    }
    let header = http::HeaderName::from_bytes(header.as_bytes())
        .map_err(|_| ConfigError { variable: "client_cert_header", expected: "an HTTP header name, such as x-client-cert".into() })?;
    let fingerprints = has_list(fingerprints).map(parse_fingerprint).collect::<Option<Vec<_>>>().ok_or_else(|| ConfigError {
        variable: "client_cert_fp",
        expected: "comma-separated SHA-256 fingerprints in hex, colons allowed (`openssl x509 -noout -fingerprint -sha256`)".into(),
    })?;
    let common_names: Vec<String> = has_list(common_names).map(str::to_owned).collect();
    use sha2::Digest;
    let proxy_secret = proxy_secret.trim();
    if !proxy_secret.is_empty() && proxy_secret.len() < 16 {
        return Err(ConfigError {
            variable: "client_cert_proxy_secret",
            expected: "at least 16 characters (`openssl rand -hex 32`)".into(),
        });
    }
    // HAS then accepts any certificate, trusting the proxy to have checked it against
    // the CA. That is safe only when nothing but the proxy can forward one.
    if fingerprints.is_empty() && common_names.is_empty() && proxy_secret.is_empty() {
        return Err(ConfigError {
            variable: "client_cert_header",
            expected: "to be used with client_cert_fp or client_cert_cn, or with client_cert_proxy_secret (then any certificate the proxy forwards is accepted, as HAS accepts any): without either, a self-signed certificate sent straight to the broker would pass".into(),
        });
    }
    let proxy_secret_digest = (!proxy_secret.is_empty()).then(|| sha2::Sha256::digest(proxy_secret.as_bytes()).into());
    Ok(Some(CertificateRule { header, fingerprints, common_names, proxy_secret_digest }))
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

/// The non-empty, trimmed items of a comma-separated variable.
fn comma_list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|item| !item.is_empty())
}

/// A list as HAS's `CLIENT_CERT_CN` and `CLIENT_CERT_FP` take it: comma-separated,
/// optionally written as a JSON-like array (`["a", "b"]`).
fn has_list(value: &str) -> impl Iterator<Item = &str> {
    comma_list(value).map(|item| item.trim_matches(|c: char| c == '[' || c == ']' || c == '"' || c == '\'' || c.is_whitespace()))
}

fn parse_seconds(variable: &'static str, value: &str, max: u64) -> Result<u64, ConfigError> {
    match value.trim().parse::<u64>() {
        Ok(seconds) if (1..=max).contains(&seconds) => Ok(seconds),
        _ => Err(ConfigError { variable, expected: format!("whole seconds from 1 to {max}") }),
    }
}

fn parse_count(variable: &'static str, value: &str, max: u64) -> Result<u64, ConfigError> {
    match value.trim().parse::<u64>() {
        Ok(count) if (1..=max).contains(&count) => Ok(count),
        _ => Err(ConfigError { variable, expected: format!("a whole number from 1 to {max}") }),
    }
}

/// Empty is `false`, as spin.toml's defaults leave it.
fn parse_bool(variable: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim() {
        "" => Ok(false),
        value => flag(value).ok_or_else(|| ConfigError { variable, expected: "`true` or `false`".into() }),
    }
}

fn parse_base_url(value: &str) -> Result<String, ConfigError> {
    let invalid = || ConfigError {
        variable: "svc_base_uri",
        expected: "an absolute http:// or https:// URL with a host and no path, query or fragment, such as https://login.example.com"
            .into(),
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

/// `token` or `label:token`, comma-separated; an unlabelled token is named by its place.
fn parse_client_tokens(value: &str) -> Result<Vec<ClientToken>, ConfigError> {
    let problem = || ConfigError {
        variable: "client_tokens",
        expected: format!(
            "comma-separated tokens of at least {MIN_CLIENT_TOKEN_LEN} visible ASCII characters each, each optionally \
             after a unique label and a colon (`build-server:<token>`; labels: up to 32 letters, digits, `.`, `_`, `-`)"
        ),
    };
    let mut tokens: Vec<ClientToken> = Vec::new();
    for (place, entry) in comma_list(value).enumerate() {
        let (label, token) = match entry.split_once(':') {
            Some((label, token)) if is_client_label(label) => (label.to_owned(), token),
            _ => (format!("client token {}", place + 1), entry),
        };
        let acceptable = token.len() >= MIN_CLIENT_TOKEN_LEN && token.bytes().all(|b| b.is_ascii_graphic());
        if !acceptable || tokens.iter().any(|known| known.label == label) {
            return Err(problem());
        }
        tokens.push(ClientToken::new(label, token));
    }
    Ok(tokens)
}

fn is_client_label(label: &str) -> bool {
    (1..=32).contains(&label.len()) && label.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// For unit tests elsewhere: the configuration `spin.toml`'s defaults make, with `overrides`.
#[cfg(test)]
impl Config {
    pub fn for_tests(overrides: &[(&'static str, &str)]) -> Config {
        tests::parse_with(overrides).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::oidc::settings::{ClientCredential, OidcConfig, TokenEndpointAuth};
    use crate::protocol::registry::{Choice, IdentityProvider, Protocol};
    use crate::validate::settings::KeySource;

    /// Every variable at its declared default, and a state key.
    fn defaults() -> HashMap<&'static str, String> {
        let mut values: HashMap<&'static str, String> =
            VARIABLES.iter().map(|variable| (variable.name, variable.default.to_owned())).collect();
        values.insert("state_key", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".to_owned());
        values
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

    fn oidc(config: &Config) -> &OidcConfig {
        let Some(provider) = config.providers.iter().next() else { panic!("no provider") };
        let Protocol::Oidc(oidc) = &provider.protocol else { panic!("not OIDC") };
        oidc
    }

    fn secret_of(oidc: &OidcConfig) -> &str {
        let ClientCredential::Secret(secret, _) = &oidc.credential else { panic!("no client secret") };
        secret.secret()
    }

    #[test]
    fn oidc_is_off_until_an_issuer_is_set() {
        let config = parse_with(&[]).unwrap();
        assert_eq!(config.providers.choose(None), Choice::None);
    }

    #[test]
    fn a_provider_with_a_path_is_configured() {
        let config = parse_with(&with_provider(&[])).unwrap();
        let oidc = oidc(&config);
        assert_eq!(oidc.issuer.as_str(), "https://idp.example.com/realms/acme/", "kept exactly, trailing `/` and all");
        assert!(matches!(oidc.credential, ClientCredential::Secret(_, TokenEndpointAuth::Basic)));
        assert_eq!(oidc.signing_algs.len(), 2);
        assert!(!format!("{oidc:?}").contains("s3cret-value"), "the secret is redacted");
        let Choice::Provider(only) = config.providers.choose(None) else { panic!("the shorthand provider is the default") };
        assert_eq!(only.id.as_str(), "oidc");
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
            assert_eq!(rejected_variables(&with_provider(&[(variable, value)])), [variable], "{value:?}");
        }
        assert_eq!(rejected_variables(&with_provider(&[("oidc_max_age", "soon")])), ["oidc_max_age"]);
        let secret_error = parse_with(&with_provider(&[("oidc_code_challenge_method", "plain")])).unwrap_err();
        assert!(!secret_error.to_string().contains("s3cret-value"));
    }

    const CLIENT_KEY: &str = include_str!("../../../../tests/fixtures/oidc-client-key.pem");
    const CLIENT_CERT: &str = include_str!("../../../../tests/fixtures/oidc-client-cert.pem");
    const OTHER_CLIENT_CERT: &str = include_str!("../../../../tests/fixtures/oidc-other-client-cert.pem");

    /// HAS's rule: a key replaces the secret, which is then not needed, and never sent when given.
    #[test]
    fn a_client_key_and_its_certificate_replace_the_secret() {
        let keyed = [("oidc_client_secret", ""), ("oidc_client_key", CLIENT_KEY), ("oidc_client_cert", CLIENT_CERT)];
        let config = parse_with(&with_provider(&keyed)).unwrap();
        assert!(matches!(oidc(&config).credential, ClientCredential::PrivateKeyJwt(_)));
        assert!(!format!("{config:?}").contains("PRIVATE KEY"), "the key stays out of debug output");
        let with_secret = parse_with(&with_provider(&keyed[1..])).unwrap();
        assert!(matches!(oidc(&with_secret).credential, ClientCredential::PrivateKeyJwt(_)), "the key wins over a secret");

        let cases: [(&[(&'static str, &str)], &str); 5] = [
            (&[("oidc_client_key", CLIENT_KEY)], "oidc_client_cert"),
            (&[("oidc_client_cert", CLIENT_CERT)], "oidc_client_key"),
            (
                &[("oidc_client_key", "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----"), ("oidc_client_cert", CLIENT_CERT)],
                "oidc_client_key",
            ),
            (&[("oidc_client_key", CLIENT_KEY), ("oidc_client_cert", CLIENT_KEY)], "oidc_client_cert"),
            (&[("oidc_client_key", CLIENT_KEY), ("oidc_client_cert", OTHER_CLIENT_CERT)], "oidc_client_cert"),
        ];
        for (settings, variable) in cases {
            let errors = parse_with(&with_provider(&[&[("oidc_client_secret", "")], settings].concat())).unwrap_err();
            assert_eq!(errors.0.iter().map(|error| error.variable).collect::<Vec<_>>(), [variable], "{errors}");
            let text = errors.to_string();
            assert!(!text.contains("MII") && !text.contains("s3cret-value"), "{text}");
        }
        let mismatch = parse_with(&with_provider(&[("oidc_client_key", CLIENT_KEY), ("oidc_client_cert", OTHER_CLIENT_CERT)]));
        assert!(mismatch.unwrap_err().to_string().contains("holds another public key"));
    }

    #[test]
    fn an_auth_providers_entry_takes_a_client_key_and_certificate_as_has_does() {
        let entry =
            |fields: &str| format!(r#"[{{"id": "entra", "issuerUri": "https://idp.example.com/v2.0", "clientId": "broker"{fields}}}]"#);
        let pem = |text: &str| serde_json::to_string(text).unwrap();
        let keyed = entry(&format!(r#", "clientKey": {}, "clientCert": {}"#, pem(CLIENT_KEY), pem(CLIENT_CERT)));
        let config = parse_with(&two_providers(&keyed)).unwrap();
        assert!(matches!(oidc(&config).credential, ClientCredential::PrivateKeyJwt(_)));
        for (fields, expected) in [
            (format!(r#", "clientKey": {}"#, pem(CLIENT_KEY)), "`clientCert` as the certificate of the client key"),
            (format!(r#", "clientCert": {}"#, pem(CLIENT_CERT)), "`clientKey` as the private key"),
            (
                format!(r#", "clientKey": "junk", "clientCert": {}"#, pem(CLIENT_CERT)),
                "`clientKey` as a PEM RSA private key of at least 2048 bits",
            ),
            (
                format!(r#", "clientKey": {}, "clientCert": {}"#, pem(CLIENT_KEY), pem(OTHER_CLIENT_CERT)),
                "`clientCert` as the certificate of the private key given beside it, but it holds another public key",
            ),
        ] {
            let text = parse_with(&two_providers(&entry(&fields))).unwrap_err().to_string();
            assert!(text.contains("in provider 1 (entra)") && text.contains(expected), "{text}");
            assert!(!text.contains("MII"), "{text}");
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let bad = with_provider(&[
            ("login_timeout", "0"),
            ("instance_id", ""),
            ("state_key", "short"),
            ("oidc_client_id", ""),
            ("oidc_max_age", "x"),
        ]);
        assert_eq!(rejected_variables(&bad), ["login_timeout", "state_key", "instance_id", "oidc_client_id", "oidc_max_age"]);
    }

    const TWO_PROVIDERS: &str = r#"{"providers": [
        {"id": "corp", "label": "Corporate SSO", "issuerUri": "https://idp.example.com/realms/corp",
         "clientId": "broker", "clientSecretVariable": "auth_provider_secret_a", "scopes": "openid profile groups"},
        {"id": "partners", "issuerUri": "https://partners.example.org", "clientId": "broker-2",
         "clientSecretVariable": "auth_provider_secret_b", "forceAuthn": true, "maxAge": 600,
         "tokenEndpointAuthMethod": "client_secret_post", "signingAlgo": "ES256"}
    ]}"#;

    fn two_providers(list: &str) -> Vec<(&'static str, &str)> {
        vec![
            ("auth_providers", list),
            ("auth_provider_origin_a", "https://idp.example.com"),
            ("auth_provider_origin_b", "https://partners.example.org/"),
            ("auth_provider_secret_a", "first-secret-value"),
            ("auth_provider_secret_b", "second-secret-value"),
        ]
    }

    #[test]
    fn auth_providers_lists_several_providers() {
        let config = parse_with(&two_providers(TWO_PROVIDERS)).unwrap();
        let providers: Vec<&IdentityProvider> = config.providers.iter().collect();
        assert_eq!(providers.len(), 2);
        // Without a label, HAS's: the issuer's host.
        assert_eq!((providers[0].label.as_str(), providers[1].label.as_str()), ("Corporate SSO", "partners.example.org"));
        let Protocol::Oidc(corp) = &providers[0].protocol else { panic!("not OIDC") };
        assert_eq!(corp.scopes, ["profile", "groups"]);
        assert_eq!(secret_of(corp), "first-secret-value");
        let Protocol::Oidc(partners) = &providers[1].protocol else { panic!("not OIDC") };
        assert!(partners.force_authn);
        assert_eq!(partners.max_age_secs, Some(600));
        assert!(matches!(partners.credential, ClientCredential::Secret(_, TokenEndpointAuth::Post)));
        assert_eq!(config.providers.choose(None), Choice::AskTheUser, "several and no default");
        let named = crate::base::ids::ProviderId::parse("partners").unwrap();
        assert_eq!(config.providers.choose(Some(&named)), Choice::Provider(providers[1]));
        let bare_list_with_default = TWO_PROVIDERS.replace(r#""forceAuthn""#, r#""default": true, "forceAuthn""#);
        let config = parse_with(&two_providers(&bare_list_with_default)).unwrap();
        assert!(matches!(config.providers.choose(None), Choice::Provider(p) if p.id.as_str() == "partners"));
    }

    pub fn idp_cert() -> String {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/saml-idp-cert.pem")).unwrap()
    }

    pub fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{}/../../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn the_brokers_saml_keys_come_in_pairs_and_serve_every_saml_provider() {
        let cert = idp_cert();
        let (key, sp_cert, other_key) = (fixture("saml-sp-key.pem"), fixture("saml-sp-cert.pem"), fixture("saml-other-key.pem"));
        let other_cert = fixture("saml-other-cert.pem");
        let saml = [
            ("saml_idp_sso_url", "https://idp.example.com/sso"),
            ("saml_idp_entity_id", "https://idp.example.com/metadata"),
            ("saml_idp_cert", cert.as_str()),
        ];
        let with = |extra: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
            saml.iter().chain(extra).map(|(name, value)| (*name, value.to_string())).collect()
        };
        let parse = |values: &[(&'static str, String)]| {
            let values: Vec<(&'static str, &str)> = values.iter().map(|(name, value)| (*name, value.as_str())).collect();
            parse_with(&values)
        };
        let config = parse(&with(&[
            ("saml_sp_key", &key),
            ("saml_sp_cert", &sp_cert),
            ("saml_sp_previous_key", &other_key),
            ("saml_sp_previous_cert", &other_cert),
            ("sp_key_algo", "SHA512"),
        ]))
        .unwrap();
        let Choice::Provider(only) = config.providers.choose(None) else { panic!("the only provider") };
        let Protocol::Saml(settings) = &only.protocol else { panic!("SAML") };
        let credentials = settings.credentials.as_ref().expect("the key pairs");
        assert_eq!(credentials.decrypting().count(), 2);
        assert_eq!(settings.signing_algorithm, crate::protocol::saml::credentials::SigningAlgorithm::RsaSha512);
        assert!(!format!("{config:?}").contains(key.lines().nth(1).unwrap()), "the key is never shown");

        let refused = |extra: &[(&'static str, &str)]| {
            let values = with(extra);
            let values: Vec<(&'static str, &str)> = values.iter().map(|(name, value)| (*name, value.as_str())).collect();
            let errors = parse_with(&values).unwrap_err();
            assert!(!errors.to_string().contains(key.lines().nth(1).unwrap()), "never the key");
            errors.0[0].variable
        };
        assert_eq!(refused(&[("saml_sp_key", &key)]), "saml_sp_cert");
        assert_eq!(refused(&[("saml_sp_cert", &sp_cert)]), "saml_sp_key");
        assert_eq!(refused(&[("saml_sp_key", &key), ("saml_sp_cert", &other_cert)]), "saml_sp_cert");
        assert_eq!(refused(&[("saml_sp_key", &sp_cert), ("saml_sp_cert", &sp_cert)]), "saml_sp_key");
        assert_eq!(refused(&[("saml_sp_previous_key", &other_key), ("saml_sp_previous_cert", &other_cert)]), "saml_sp_key");
        assert_eq!(refused(&[("sp_key_algo", "sha1")]), "sp_key_algo");

        // In auth_providers too: the keys are the broker's, the algorithm each entry's.
        let list = format!(
            r#"[{{"protocol": "saml", "signonUrl": "https://idp.example.com/sso", "idpEntityId": "https://idp.example.com/metadata", "idpCert": {}, "keyAlgorithm": "sha1"}}]"#,
            serde_json::to_string(&cert).unwrap()
        );
        let values = [("auth_providers", list.as_str()), ("saml_sp_key", key.as_str()), ("saml_sp_cert", sp_cert.as_str())];
        assert!(parse_with(&values).unwrap_err().to_string().contains("`keyAlgorithm` as `sha256` or `sha512`"));
        let list = list.replace("sha1", "sha256");
        let config = parse_with(&[("auth_providers", list.as_str()), ("saml_sp_key", &key), ("saml_sp_cert", &sp_cert)]).unwrap();
        let Some(entry) = config.providers.iter().next() else { panic!("one provider") };
        assert!(matches!(&entry.protocol, Protocol::Saml(saml) if saml.credentials.is_some()));
    }

    #[test]
    fn a_saml_identity_provider_is_configured_by_variables_or_in_auth_providers() {
        let cert = idp_cert();
        let saml = [
            ("saml_idp_sso_url", "https://idp.example.com/sso"),
            ("saml_idp_entity_id", "https://idp.example.com/metadata"),
            ("saml_idp_cert", cert.as_str()),
        ];
        let config = parse_with(&saml).unwrap();
        let Choice::Provider(only) = config.providers.choose(None) else { panic!("the only provider") };
        let Protocol::Saml(settings) = &only.protocol else { panic!("SAML") };
        assert_eq!((only.id.as_str(), settings.keys.len()), ("saml", 1));
        assert!(settings.want_response_signed && settings.want_assertion_signed, "both signatures by default, as in HAS");

        let both: Vec<(&str, &str)> = with_provider(&saml);
        let config = parse_with(&both).unwrap();
        assert_eq!(config.providers.choose(None), Choice::AskTheUser, "without default_protocol, the person chooses, as in HAS");
        let labels: Vec<&str> = config.providers.iter().map(|provider| provider.label.as_str()).collect();
        assert_eq!(labels, ["idp.example.com", "idp.example.com"], "each provider's host");
        for protocol in ["oidc", "saml"] {
            let chosen: Vec<(&str, &str)> = both.iter().copied().chain([("default_protocol", protocol)]).collect();
            assert!(matches!(parse_with(&chosen).unwrap().providers.choose(None), Choice::Provider(p) if p.id.as_str() == protocol));
        }
        let labelled: Vec<(&str, &str)> =
            both.iter().copied().chain([("oidc_info_label", "Corporate SSO"), ("saml_info_label", "Partner SAML")]).collect();
        let labels: Vec<String> = parse_with(&labelled).unwrap().providers.iter().map(|provider| provider.label.clone()).collect();
        assert_eq!(labels, ["Corporate SSO", "Partner SAML"], "HAS's OIDC_INFO_LABEL and SAML_INFO_LABEL");

        let cases: [(&str, &str, &str); 4] = [
            ("saml_idp_cert", "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----", "saml_idp_cert"),
            ("saml_idp_metadata_url", "https://elsewhere.example.net/metadata", "saml_idp_metadata_url"),
            ("saml_want_response_signed", "false", "saml_want_assertion_signed"),
            ("default_protocol", "ldap", "default_protocol"),
        ];
        for (variable, value, rejected) in cases {
            let mut bad: Vec<(&str, &str)> = saml.to_vec();
            bad.push((variable, value));
            if variable == "saml_want_response_signed" {
                bad.push(("saml_want_assertion_signed", "false"));
            }
            assert_eq!(rejected_variables(&bad), [rejected], "{variable}={value}");
        }

        let entry = format!(
            r#"[{{"id": "corp-saml", "protocol": "saml", "label": "Corporate SAML", "signonUrl": "https://idp.example.com/sso",
                "idpEntityId": "https://idp.example.com/metadata", "idpCert": {}, "wantResponseSigned": false, "forceAuthn": true}}]"#,
            serde_json::to_string(&cert).unwrap()
        );
        let config = parse_with(&two_providers(&entry)).unwrap();
        let Choice::Provider(corp) = config.providers.choose(None) else { panic!("the only provider") };
        let Protocol::Saml(settings) = &corp.protocol else { panic!("SAML") };
        assert_eq!(corp.label, "Corporate SAML");
        assert!(!settings.want_response_signed && settings.want_assertion_signed && settings.force_authn);
    }

    /// A SAML entry as HAS's examples write one: no id, no protocol, HAS's field names.
    fn has_saml_entry(label: &str, host: &str) -> String {
        format!(
            r#"{{"label": "{label}", "signonUrl": "https://{host}/sso", "idpEntityId": "https://{host}/metadata", "idpCert": {}, "nameIdFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress", "authnContext": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"}}"#,
            serde_json::to_string(&idp_cert()).unwrap()
        )
    }

    fn ids(config: &Config) -> Vec<(String, Option<String>)> {
        config.providers.iter().map(|p| (p.id.as_str().to_owned(), p.has_id.as_ref().map(|id| id.as_str().to_owned()))).collect()
    }

    fn chosen(config: &Config, named: &str) -> String {
        match config.providers.choose(Some(&crate::base::ids::ProviderId::parse(named).unwrap())) {
            Choice::Provider(provider) => provider.id.as_str().to_owned(),
            other => panic!("{named}: {other:?}"),
        }
    }

    #[test]
    fn auth_providers_as_has_writes_them_get_the_ids_has_gives() {
        // No ids, no protocols: an issuerUri makes OpenID Connect; ordered by label, numbered from 0.
        let list = format!(
            r#"{{"providers": [{{"label": "Okta", "issuerUri": "https://idp.example.com", "clientId": "broker", "clientSecret": "okta-secret", "selectAccount": "TRUE", "maxAge": "600"}}, {}]}}"#,
            has_saml_entry("Azure", "partners.example.org")
        );
        let config = parse_with(&two_providers(&list)).unwrap();
        assert_eq!(ids(&config), [("oidc-1".to_owned(), None), ("saml-0".to_owned(), None)]);
        let Protocol::Oidc(okta) = &config.providers.iter().next().unwrap().protocol else { panic!("OIDC") };
        assert_eq!((secret_of(okta), okta.select_account, okta.max_age_secs), ("okta-secret", true, Some(600)));
        assert!(!format!("{config:?}").contains("okta-secret"), "never in debug output");

        // Explicit ids are HAS's own only for the lone entry of a protocol named after it;
        // the broker keeps every explicit id, and answers to HAS's too.
        let list = format!(
            r#"[{{"id": "oidc", "issuerUri": "https://idp.example.com/abc", "clientId": "a", "clientSecret": "s1"}},
                {{"issuerUri": "https://idp.example.com/xyz", "clientId": "b", "clientSecret": "s2", "label": "xyz"}},
                {}]"#,
            has_saml_entry("samla", "partners.example.org").replacen('{', r#"{"id": "sammy", "#, 1)
        );
        let config = parse_with(&two_providers(&list)).unwrap();
        assert_eq!(
            ids(&config),
            [("oidc".to_owned(), Some("oidc-0".to_owned())), ("oidc-2".to_owned(), None), ("sammy".to_owned(), Some("saml-1".to_owned())),],
            "idp.example.com, samla, xyz"
        );
        assert_eq!(
            (chosen(&config, "saml-1"), chosen(&config, "sammy"), chosen(&config, "oidc-0")),
            ("sammy".into(), "sammy".into(), "oidc".into())
        );

        // One of each protocol, each named after it: kept.
        let list = format!(
            r#"[{{"id": "oidc", "issuerUri": "https://idp.example.com", "clientId": "a", "clientSecret": "s", "default": "true"}}, {}]"#,
            has_saml_entry("", "partners.example.org").replacen('{', r#"{"id": "saml", "#, 1)
        );
        let config = parse_with(&two_providers(&list)).unwrap();
        assert_eq!(ids(&config), [("oidc".to_owned(), None), ("saml".to_owned(), None)]);
        assert_eq!(config.providers.iter().nth(1).unwrap().label, "partners.example.org", "HAS's label: the sign-on URL's host");
        assert!(matches!(config.providers.choose(None), Choice::Provider(p) if p.id.as_str() == "oidc"), "\"default\": \"true\"");
    }

    #[test]
    fn force_authn_makes_every_provider_ask_for_a_fresh_sign_in() {
        let cert = idp_cert();
        let both = with_provider(&[
            ("saml_idp_sso_url", "https://idp.example.com/sso"),
            ("saml_idp_entity_id", "https://idp.example.com/metadata"),
            ("saml_idp_cert", cert.as_str()),
        ]);
        let forced = |value: &str| {
            let variables: Vec<(&str, &str)> = both.iter().copied().chain([("force_authn", value)]).collect();
            parse_with(&variables).map(|config| {
                config
                    .providers
                    .iter()
                    .map(|provider| match &provider.protocol {
                        Protocol::Oidc(oidc) => oidc.force_authn,
                        Protocol::Saml(saml) => saml.force_authn,
                    })
                    .collect::<Vec<bool>>()
            })
        };
        assert_eq!(forced("true").unwrap(), [true, true]);
        assert_eq!(forced("false").unwrap(), [false, false]);
        assert_eq!(rejected_variable(&[("force_authn", "sometimes")]), "force_authn");
    }

    #[test]
    fn fields_has_knows_or_not_are_taken_or_ignored_and_files_refused_with_what_to_write() {
        let list = r#"[{"issuerUri": "https://idp.example.com", "clientId": "a", "clientSecret": "s", "codeChallenge": "S256", "futureField": {"x": 1}}]"#;
        assert!(parse_with(&two_providers(list)).is_ok(), "unknown fields are ignored, as HAS ignores them");
        for (field, instead) in [
            ("metadataFile", "metadata XML itself"),
            ("idpCertFile", "PEM certificate itself"),
            ("clientKeyFile", "PEM private key itself in clientKey"),
        ] {
            let list = format!(r#"[{{"protocol": "saml", "metadataUrl": "https://partners.example.org/md", "{field}": "/etc/has/x"}}]"#);
            let text = parse_with(&two_providers(&list)).unwrap_err().to_string();
            assert!(text.contains(&format!("no {field}")) && text.contains(instead), "{text}");
        }
    }

    #[test]
    fn the_variables_of_a_feature_that_is_off_change_nothing_so_they_go_unread() {
        // Every gated variable set to something unusable, with every gate empty.
        let junk: Vec<(&'static str, &str)> = VARIABLES
            .iter()
            .filter(|variable| matches!(variable.read, Read::WhenAnySet(_)))
            .map(|variable| (variable.name, "?? junk ??"))
            .collect();
        let defaults = parse_with(&[]).unwrap();
        let with_junk = parse_with(&junk).unwrap();
        assert_eq!(format!("{defaults:?}"), format!("{with_junk:?}"));
        assert_eq!(skipped_variables(|_| None).len(), junk.len());
        // A gate that is set brings its feature's variables back, and only those.
        let saml_on = skipped_variables(|gate| (gate == "saml_idp_sso_url").then(|| "https://idp.example.com/sso".to_owned()));
        assert!(!saml_on.contains(&"saml_idp_cert") && saml_on.contains(&"oidc_client_id") && saml_on.contains(&"oauth_issuer"));
        // With a feature on, its variables count: junk in one is refused.
        let mut oidc_on: Vec<(&'static str, &str)> = with_provider(&[]);
        oidc_on.push(("oidc_token_signing_algo", "?? junk ??"));
        assert_eq!(rejected_variable(&oidc_on), "oidc_token_signing_algo");
    }

    #[test]
    fn auth_providers_problems_name_the_entry_and_never_a_secret() {
        let cases = [
            ("not json", "a JSON list"),
            ("[]", "at least one provider"),
            (
                r#"[{"id": "a b", "issuerUri": "https://idp.example.com", "clientId": "x", "clientSecretVariable": "auth_provider_secret_a"}]"#,
                "an id",
            ),
            (r#"[{"id": "s", "protocol": "saml"}]"#, "in provider 1 (s), `idpEntityId` as a value, or metadata"),
            (r#"[{"id": "l", "protocol": "ldap"}]"#, "not `ldap`"),
            (
                r#"[{"id": "far", "issuerUri": "https://elsewhere.example.net", "clientId": "x", "clientSecretVariable": "auth_provider_secret_a"}]"#,
                "auth_provider_origin_a",
            ),
            (
                r#"[{"id": "c", "issuerUri": "https://idp.example.com", "clientId": "x", "clientSecretFile": "/etc/has/secret"}]"#,
                "no clientSecretFile (the broker reads no files): the secret itself in clientSecret",
            ),
            (
                r#"[{"id": "c", "issuerUri": "https://idp.example.com", "clientId": "x", "clientSecret": "inline-secret", "signingAlgo": "HS256"}]"#,
                "never none or HS",
            ),
            (
                r#"[{"id": "c", "issuerUri": "https://idp.example.com", "clientId": "x", "clientSecret": "inline-secret", "clientSecretVariable": "auth_provider_secret_a"}]"#,
                "clientSecret or clientSecretVariable, not both",
            ),
            (
                r#"[{"id": "c", "issuerUri": "https://idp.example.com", "clientId": "x", "clientSecret": "inline-secret", "forceAuthn": "yes"}]"#,
                "`forceAuthn` as true or false",
            ),
            (
                r#"[{"id": "c", "issuerUri": "https://idp.example.com", "clientId": "x", "clientSecretVariable": "auth_provider_secret_z"}]"#,
                "`auth_provider_secret_z` is not",
            ),
            (
                r#"[{"id": "c", "issuerUri": "https://idp.example.com", "clientId": "x", "clientSecretVariable": "client_cert_proxy_secret"}]"#,
                "not `client_cert_proxy_secret`: the broker sends that secret to the provider",
            ),
            (
                r#"[{"id": "c", "issuerUri": "https://idp.example.com", "clientId": "x", "clientSecretVariable": "state_key"}]"#,
                "not `state_key`: the broker sends that secret to the provider",
            ),
            (
                r#"[{"id": "c", "issuerUri": "https://idp.example.com", "clientId": "x", "clientSecretVariable": "auth_provider_secret_a", "signingAlgo": "HS256"}]"#,
                "never none or HS",
            ),
        ];
        for (list, expected) in cases {
            let errors = parse_with(&two_providers(list)).unwrap_err();
            assert_eq!(errors.0[0].variable, "auth_providers", "{list}");
            let text = errors.to_string();
            assert!(text.contains(expected), "{list}: {text}");
            assert!(!text.contains("inline-secret") && !text.contains("first-secret-value"), "{text}");
        }
        let duplicate = TWO_PROVIDERS.replace("\"partners\"", "\"corp\"");
        assert!(parse_with(&two_providers(&duplicate)).unwrap_err().to_string().contains("used twice"));
        let mut both = two_providers(TWO_PROVIDERS);
        both.push(("oidc_issuer_uri", "https://idp.example.com"));
        assert_eq!(rejected_variables(&both), ["oidc_issuer_uri"]);
    }

    #[test]
    fn secret_variables_named_by_auth_providers_are_read() {
        assert_eq!(providers::secret_variables(TWO_PROVIDERS), ["auth_provider_secret_a", "auth_provider_secret_b"]);
        let foreign = TWO_PROVIDERS.replace("auth_provider_secret_b", "client_cert_proxy_secret");
        assert_eq!(providers::secret_variables(&foreign), ["auth_provider_secret_a"], "a broker secret is not even read");
        assert!(providers::secret_variables("garbage").is_empty());
    }

    pub fn parse_with(overrides: &[(&'static str, &str)]) -> Result<Config, ConfigErrors> {
        let mut values = defaults();
        for (name, value) in overrides {
            values.insert(name, (*value).to_owned());
        }
        Config::parse(|name| values.get(name).cloned())
    }

    /// `settings_json` makes the configuration the separate variables make.
    #[test]
    fn settings_json_holds_every_variable_at_once() {
        let separate = with_provider(&[("login_timeout", "30"), ("assume_client_authorized", "true"), ("oidc_max_age", "600")]);
        let from_separate = parse_with(&separate).unwrap();
        let bundled = format!(
            r#"{{"state_key": "{}", "login_timeout": 30, "assume_client_authorized": true, "oidc_max_age": "600", {}}}"#,
            defaults()["state_key"],
            PROVIDER
                .iter()
                .filter(|(name, _)| !is_outbound_origin(name))
                .map(|(name, value)| format!("{name:?}: {value:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut values = read_settings_json(&bundled).unwrap();
        // Read on their own, as Spin expands them.
        values.extend(PROVIDER.iter().filter(|(name, _)| is_outbound_origin(name)).map(|(n, v)| (n.to_string(), v.to_string())));
        let from_bundle = Config::parse(|name| values.get(name).cloned()).unwrap();
        assert_eq!(format!("{from_bundle:?}"), format!("{from_separate:?}"));
        // What it leaves out takes the declared default.
        assert_eq!(values["cache_ttl"], "300");
        // auth_providers may be written as JSON itself, and a secret it names is in the bundle too.
        let list = r#"[{"id": "corp", "issuerUri": "https://idp.example.com/", "clientId": "broker", "clientSecretVariable": "auth_provider_secret_a"}]"#;
        let bundled =
            format!(r#"{{"state_key": "{}", "auth_providers": {list}, "auth_provider_secret_a": "a-secret"}}"#, defaults()["state_key"]);
        let mut values = read_settings_json(&bundled).unwrap();
        values.insert("auth_provider_origin_a".into(), "https://idp.example.com".into());
        let config = Config::parse(|name| values.get(name).cloned()).unwrap();
        assert_eq!(config.providers.ids(), "corp");
    }

    #[test]
    fn settings_json_errors_name_keys_and_never_quote_values() {
        let secret = "s3cr3t-value-never-shown";
        for (bundled, says) in [
            (format!(r#"{{"state_key": "{secret}""#), "EOF"),
            (format!(r#""{secret}""#), "one JSON object"),
            (format!(r#"["{secret}"]"#), "one JSON object"),
            (format!(r#"{{"stat_key": "{secret}"}}"#), "`stat_key` is not one"),
            (format!(r#"{{"settings_json": "{secret}"}}"#), "`settings_json` is not one"),
            (format!(r#"{{"oidc_provider_origin": "{secret}"}}"#), "variable of its own"),
        ] {
            let error = read_settings_json(&bundled).expect_err(&bundled);
            assert_eq!(error.variable, SETTINGS_JSON);
            assert!(error.expected.contains(says), "{bundled}: {}", error.expected);
            assert!(!error.to_string().contains(secret), "{error}");
        }
    }

    /// A status call reads these alone: the list must be what their parser asks for
    /// (besides the gates of other features, which it reads as off).
    #[test]
    fn the_essentials_read_their_own_variables_and_no_others() {
        let mut values = defaults();
        values.insert("client_cert_header", "x-client-cert".to_owned());
        values.insert("client_cert_proxy_secret", "a-proxy-secret-of-16+".to_owned());
        let asked = std::cell::RefCell::new(std::collections::BTreeSet::new());
        let essentials = Essentials::parse_on(Platform::OneStore, |name| {
            asked.borrow_mut().insert(name.to_owned());
            values.get(name).cloned()
        });
        assert!(essentials.is_ok(), "{essentials:?}");
        let gates: Vec<&str> = VARIABLES
            .iter()
            .filter_map(|variable| if let Read::WhenAnySet(gates) = variable.read { Some(gates) } else { None })
            .flatten()
            .copied()
            .collect();
        let asked = asked.into_inner();
        let outside: Vec<&String> =
            asked.iter().filter(|name| !ESSENTIAL_VARIABLES.contains(&name.as_str()) && !gates.contains(&name.as_str())).collect();
        assert!(outside.is_empty(), "read beyond ESSENTIAL_VARIABLES: {outside:?}");
        let unread: Vec<&&str> = ESSENTIAL_VARIABLES.iter().filter(|name| !asked.contains(**name)).collect();
        assert!(unread.is_empty(), "listed but never read: {unread:?}");
        // The same values make the same essentials as the whole configuration's.
        let whole = Config::parse(|name| values.get(name).cloned()).unwrap();
        assert_eq!(format!("{:?}", whole.essentials), format!("{:?}", essentials.unwrap()));
    }

    /// Without a proxy's header no certificate is accepted, so its rules are not read.
    #[test]
    fn certificate_rules_are_read_only_with_the_header() {
        let config = parse_with(&[("client_cert_fp", "not a fingerprint"), ("client_cert_proxy_secret", "short")]).unwrap();
        assert!(format!("{:?}", config.essentials.client_auth).contains("None"), "{:?}", config.essentials.client_auth);
        assert_eq!(
            rejected_variables(&[("client_cert_header", "x-client-cert"), ("client_cert_fp", "not a fingerprint")]),
            ["client_cert_fp"]
        );
    }

    fn rejected_variables(overrides: &[(&'static str, &str)]) -> Vec<&'static str> {
        parse_with(overrides).expect_err("configuration should be refused").0.iter().map(|error| error.variable).collect()
    }

    fn rejected_variable(overrides: &[(&'static str, &str)]) -> &'static str {
        rejected_variables(overrides)[0]
    }

    /// The edge build's platform ends requests at 30 s and replicates its store: a status
    /// call must end before, and the replication bound must be given; the other builds
    /// take no bound at all.
    #[test]
    fn each_platform_takes_only_the_timing_it_can_keep() {
        let on_edge = |overrides: &[(&'static str, &str)]| {
            let mut values = defaults();
            values.extend(overrides.iter().map(|(name, value)| (*name, (*value).to_owned())));
            Config::parse_on(Platform::ReplicatedEdge, |name| values.get(name).cloned())
        };
        let refused =
            |result: Result<Config, ConfigErrors>| result.expect_err("refused").0.iter().map(|error| error.variable).collect::<Vec<_>>();
        assert_eq!(refused(on_edge(&[("store_replication_secs", "3")])), ["login_timeout"], "60 s is past the platform's 30");
        assert_eq!(refused(on_edge(&[("login_timeout", "25")])), ["store_replication_secs"], "0: no bound given");
        let edge = on_edge(&[("login_timeout", "25"), ("store_replication_secs", "3")]).unwrap();
        assert_eq!(
            (edge.essentials.login_timeout_secs, edge.essentials.store_replication_secs, edge.essentials.platform),
            (25, 3, Platform::ReplicatedEdge)
        );
        assert_eq!(rejected_variable(&[("store_replication_secs", "3")]), "store_replication_secs", "one store replicates nothing");
    }

    #[test]
    fn spin_toml_defaults_are_valid() {
        let config = parse_with(&[]).unwrap();
        assert_eq!(config.essentials.base_url, "http://127.0.0.1:3000");
        assert_eq!((config.essentials.login_timeout_secs, config.essentials.cache_ttl_secs), (60, 300));
        assert_eq!(config.instance_id, "none");
    }

    #[test]
    fn base_url_loses_its_trailing_slash() {
        let config = parse_with(&[("svc_base_uri", "https://login.example.com/")]).unwrap();
        assert_eq!(config.essentials.base_url, "https://login.example.com");
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
        assert_eq!(error.0[0].variable, "client_tokens");
        assert!(!error.to_string().contains("short"));
    }

    #[test]
    fn client_tokens_may_be_labelled_and_labels_are_unique() {
        assert!(parse_with(&[("client_tokens", "build:0123456789abcdef, ci.nightly:fedcba9876543210, 0123456789abcdefX")]).is_ok());
        assert_eq!(rejected_variable(&[("client_tokens", "ci:0123456789abcdef, ci:fedcba9876543210")]), "client_tokens");
        assert_eq!(rejected_variable(&[("client_tokens", "ci:short")]), "client_tokens", "the label does not count as token");
        assert_eq!(
            rejected_variable(&[("require_client_for_new_requests", "true"), ("assume_client_authorized", "true")]),
            "require_client_for_new_requests"
        );
    }

    #[test]
    fn token_validation_needs_one_key_source_an_issuer_and_an_audience() {
        assert!(parse_with(&[]).unwrap().oauth.is_none(), "off unless keys are configured");
        let jwks = [
            ("oauth_jwks_uri", "https://login.example.com/keys"),
            ("oauth_jwks_origin", "https://login.example.com"),
            ("oauth_issuer", "https://login.example.com/tenant/v2.0"),
            ("oauth_audience", "api://helix"),
        ];
        let oauth = parse_with(&jwks).unwrap().oauth.unwrap();
        assert_eq!((oauth.issuer.as_str(), oauth.audience.as_str()), ("https://login.example.com/tenant/v2.0", "api://helix"));
        assert!(matches!(oauth.keys, KeySource::Jwks { key_id: None, .. }));
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut overrides = jwks.to_vec();
            overrides.extend_from_slice(extra);
            rejected_variables(&overrides)
        };
        assert_eq!(with(&[("oauth_jwks_origin", "https://elsewhere.example.com")]), ["oauth_jwks_origin"]);
        assert_eq!(with(&[("oauth_audience", ""), ("oauth_issuer", "")]), ["oauth_issuer", "oauth_audience"]);
        assert_eq!(with(&[("oauth_algorithm", "HS256")]), ["oauth_algorithm"]);
        assert_eq!(with(&[("oauth_algorithm", "none")]), ["oauth_algorithm"]);
        assert_eq!(with(&[("oauth_signing_key", "-----BEGIN PUBLIC KEY-----")]), ["oauth_signing_key"], "one key source");
        assert_eq!(with(&[("oauth_jwks_uri", "ftp://login.example.com/keys")]), ["oauth_jwks_uri"]);
        let fixed = [
            ("oauth_signing_key", include_str!("../../../../tests/fixtures/build-server-2.pem")),
            ("oauth_issuer", "https://login.example.com/"),
            ("oauth_audience", "api://helix"),
            ("oauth_tenant_id", "tenant-1"),
        ];
        let oauth = parse_with(&fixed).unwrap().oauth.unwrap();
        assert!(matches!(oauth.keys, KeySource::Fixed(_)) && oauth.tenant_id.as_deref() == Some("tenant-1"));
        assert_eq!(
            rejected_variable(&[("oauth_signing_key", "garbage"), ("oauth_issuer", "https://x.example"), ("oauth_audience", "a")]),
            "oauth_signing_key"
        );
    }

    #[test]
    fn the_store_bound_is_a_positive_count() {
        assert_eq!(parse_with(&[("max_logins_per_ten_seconds", "25")]).unwrap().max_logins_per_ten_seconds, 25);
        for bad in ["0", "-1", "many", "1000001"] {
            assert_eq!(rejected_variable(&[("max_logins_per_ten_seconds", bad)]), "max_logins_per_ten_seconds", "{bad}");
        }
    }

    #[test]
    fn booleans_and_instance_ids_are_checked() {
        assert_eq!(rejected_variable(&[("assume_client_authorized", "maybe")]), "assume_client_authorized");
        assert_eq!(rejected_variable(&[("instance_id", "two words")]), "instance_id");
        assert!(parse_with(&[("assume_client_authorized", "TRUE")]).unwrap().essentials.client_auth.assumes_authorized());
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
        // HAS's rule when neither is set (any certificate), where only the proxy can forward one.
        let any = parse_with(&[("client_cert_header", "x-client-cert"), ("client_cert_proxy_secret", "0123456789abcdef0123")]);
        assert!(any.is_ok());
    }

    #[test]
    fn certificate_lists_are_read_as_has_writes_them() {
        let names: Vec<&str> = has_list(r#"["build-*", "deploy-1"]"#).collect();
        assert_eq!(names, ["build-*", "deploy-1"]);
        assert_eq!(has_list("one").collect::<Vec<_>>(), ["one"]);
        let fp = "1C:EC:5E:B8:E6:68:8D:6D:3E:2D:AA:42:D7:8C:70:31:A6:80:FC:4B:D1:10:78:A0:4E:70:98:83:B2:97:E8:EE";
        let listed = format!(r#"["{}", "{fp}"]"#, fp.to_lowercase());
        assert!(parse_with(&[("client_cert_header", "x-client-cert"), ("client_cert_fp", &listed)]).is_ok());
    }

    #[test]
    fn an_undeclared_variable_is_named() {
        let error = Config::parse(|_| None).unwrap_err();
        assert!(error.to_string().contains("`svc_base_uri`") && error.to_string().contains("spin.toml"));
    }
}

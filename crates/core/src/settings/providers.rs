//! Identity providers: `auth_providers` (HAS's `AUTH_PROVIDERS`, as JSON), or the
//! `oidc_*` and `saml_*` variables as the shorthand for one OpenID provider and one
//! SAML identity provider (`default_protocol` picks between them, as in HAS).

use std::sync::Arc;

use openidconnect::core::CoreJwsSigningAlgorithm;
use openidconnect::{ClientSecret, IssuerUrl};
use serde::Deserialize;

use super::{ConfigError, MAX_CACHE_TTL_SECS, check, comma_list, parse_bool, parse_seconds};
use crate::base::ids::ProviderId;
use crate::host::outbound::origin_of;
use crate::protocol::key_pair::KeyPair;
use crate::protocol::oidc::client_assertion::ClientKey;
use crate::protocol::oidc::settings::{ClientCredential, OidcConfig, TokenEndpointAuth};
use crate::protocol::registry::{IdentityProvider, Protocol, Providers};
use crate::protocol::saml::credentials::SpCredentials;
use crate::protocol::saml::metadata::parse_idp_metadata;
use crate::protocol::saml::settings::{SamlSettings, Setting, metadata_xml};

/// What a `clientSecretVariable` may name: a variable meant for a provider's secret,
/// and no other. The client secret goes to the provider's token endpoint, so whoever can
/// edit `auth_providers` could otherwise have the broker hand one of its own secrets
/// (`state_key`, `client_tokens`, `client_cert_proxy_secret`…) to a provider of their
/// choosing.
fn is_provider_secret_variable(name: &str) -> bool {
    name == "oidc_client_secret" || name.strip_prefix("auth_provider_secret_").is_some_and(|suffix| !suffix.is_empty())
}

/// Variables that may name a provider's origin in `allowed_outbound_hosts`: Spin lets
/// the component reach no other host, and a template expands to one entry only, so
/// spin.toml declares a fixed number of them.
pub const ORIGIN_VARIABLES: [&str; 5] =
    ["oidc_provider_origin", "saml_idp_origin", "auth_provider_origin_a", "auth_provider_origin_b", "auth_provider_origin_c"];

/// The provider ids the shorthands get.
const SHORTHAND_ID: &str = "oidc";
const SAML_SHORTHAND_ID: &str = "saml";

/// The variables `auth_providers` entries name for their client secret, to be read:
/// only provider secret variables (the others are refused unread), and only those
/// spin.toml declares (Spin refuses the rest).
pub fn secret_variables(auth_providers: &str) -> Vec<String> {
    parse_list(auth_providers)
        .map(|entries| {
            entries.into_iter().filter_map(|entry| entry.client_secret_variable).filter(|name| is_provider_secret_variable(name)).collect()
        })
        .unwrap_or_default()
}

/// One entry of `auth_providers`, in HAS's camelCase, taking every value HAS takes:
/// no `id` (HAS makes one), no `protocol` (an `issuerUri` makes it OpenID Connect, as
/// in HAS), flags and numbers as strings, the client secret inline, fields it does not
/// know (ignored, and logged).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProviderEntry {
    id: Option<String>,
    protocol: Option<String>,
    label: Option<String>,
    issuer_uri: Option<String>,
    client_id: Option<String>,
    /// Inline, as HAS takes it (declare `auth_providers` secret in spin.toml then), or
    /// in a secret variable that `client_secret_variable` names.
    client_secret: Option<String>,
    client_secret_variable: Option<String>,
    /// `private_key_jwt` in place of the secret: a PEM private key (inline, as HAS
    /// takes it) and its PEM certificate.
    client_key: Option<String>,
    client_cert: Option<String>,
    #[serde(default)]
    default: Flag,
    #[serde(default)]
    force_authn: Flag,
    max_age: Option<Number>,
    #[serde(default)]
    select_account: Flag,
    #[serde(default)]
    scopes: ListOrText,
    signing_algo: Option<String>,
    token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    verified_email_only: Flag,
    /// HAS reads these files; a component reads none (refused with what to write instead).
    client_secret_file: Option<String>,
    metadata_file: Option<String>,
    idp_cert_file: Option<String>,
    client_cert_file: Option<String>,
    client_key_file: Option<String>,
    /// HAS's `SAML_DISABLE_CONTEXT` for this provider: no authentication context asked.
    #[serde(default)]
    disable_context: Flag,
    /// Everything else HAS would keep: ignored, and named in the log.
    #[serde(flatten)]
    unknown: std::collections::BTreeMap<String, serde_json::Value>,
    // SAML entries (`"protocol": "saml"`), HAS's names.
    metadata_url: Option<String>,
    metadata: Option<String>,
    signon_url: Option<String>,
    idp_entity_id: Option<String>,
    idp_cert: Option<String>,
    key_algorithm: Option<String>,
    logout_url: Option<String>,
    sp_entity_id: Option<String>,
    audience: Option<String>,
    name_id_format: Option<String>,
    name_id_field: Option<String>,
    /// A list, or text: HAS's comma-separated or bracketed (`["…", "…"]`) form.
    #[serde(default)]
    authn_context: ListOrText,
    #[serde(default)]
    want_assertion_signed: Flag,
    #[serde(default)]
    want_response_signed: Flag,
}

/// A flag as HAS takes it: `true`, or `"true"` in any case (and `false` alike). HAS
/// takes anything else (`1`, `"on"`, `"no"`) as true; the broker refuses it, naming the field.
#[derive(Deserialize, Default, Clone)]
#[serde(untagged)]
enum Flag {
    #[default]
    Unset,
    Bool(bool),
    Text(String),
    Other(serde_json::Value),
}

impl Flag {
    /// `None` when unset; `field` names it in the problem when it is no flag.
    fn value(&self, field: &str) -> Result<Option<bool>, String> {
        match self {
            Flag::Unset => Ok(None),
            Flag::Bool(value) => Ok(Some(*value)),
            Flag::Text(text) if text.trim().eq_ignore_ascii_case("true") => Ok(Some(true)),
            Flag::Text(text) if text.trim().eq_ignore_ascii_case("false") => Ok(Some(false)),
            Flag::Text(_) | Flag::Other(_) => {
                Err(format!("`{field}` as true or false (a JSON boolean, or the string \"true\" or \"false\")"))
            }
        }
    }
}

/// A number as HAS takes it: `600`, or `"600"`.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum Number {
    Integer(u64),
    Text(String),
}

impl Number {
    fn as_text(&self) -> String {
        match self {
            Number::Integer(value) => value.to_string(),
            Number::Text(text) => text.trim().to_owned(),
        }
    }
}

impl ProviderEntry {
    /// `protocol`, or as HAS infers it when absent: an `issuerUri` means OpenID Connect.
    fn protocol(&self) -> &str {
        self.protocol.as_deref().unwrap_or(if self.issuer_uri.is_some() { "oidc" } else { "saml" })
    }

    /// The label HAS gives an entry without one: its issuer's host, else (SAML) the label
    /// of its metadata URL, entity id or sign-on URL (see [`has_label`]), else the entity
    /// id of its inline metadata.
    fn default_label(&self) -> Option<String> {
        let candidates = match self.protocol() {
            "oidc" => vec![&self.issuer_uri],
            _ => vec![&self.metadata_url, &self.idp_entity_id, &self.signon_url],
        };
        let inline_entity_id = || {
            let xml = metadata_xml(self.metadata.as_deref()?);
            parse_idp_metadata(&xml, None).ok().map(|metadata| metadata.entity_id)
        };
        candidates
            .into_iter()
            .flatten()
            .find_map(|text| has_label(text))
            .or_else(|| inline_entity_id().filter(|_| self.protocol() == "saml"))
    }

    /// A SAML entry's setting, as text.
    fn saml_setting(&self, setting: Setting) -> String {
        let text = |value: &Option<String>| value.clone().unwrap_or_default();
        let flag = |value: &Flag| match value {
            Flag::Unset => String::new(),
            Flag::Bool(value) => value.to_string(),
            Flag::Text(text) => text.clone(),
            Flag::Other(value) => value.to_string(),
        };
        match setting {
            Setting::MetadataUrl => text(&self.metadata_url),
            Setting::Metadata => text(&self.metadata),
            Setting::SsoUrl => text(&self.signon_url),
            Setting::EntityId => text(&self.idp_entity_id),
            Setting::Cert => text(&self.idp_cert),
            Setting::SpEntityId => text(&self.sp_entity_id),
            Setting::Audience => text(&self.audience),
            Setting::NameIdFormat => text(&self.name_id_format),
            Setting::NameIdField => text(&self.name_id_field),
            Setting::AuthnContext if matches!(self.disable_context.value("disableContext"), Ok(Some(true))) => String::new(),
            Setting::AuthnContext => self.authn_context.items(|text| text.split([',', '[', ']', '"', '\'', ' '])).join(","),
            Setting::ForceAuthn => flag(&self.force_authn),
            Setting::WantResponseSigned => flag(&self.want_response_signed),
            Setting::WantAssertionSigned => flag(&self.want_assertion_signed),
            Setting::KeyAlgorithm => text(&self.key_algorithm),
            Setting::SloUrl => text(&self.logout_url),
        }
    }
}

/// The label HAS makes of a URL or entity id: a URL's host; nothing for a URL without
/// one (`urn:…`, so that the next candidate serves); the text itself when no URL.
fn has_label(text: &str) -> Option<String> {
    let text = text.trim();
    let scheme = text.split_once(':').map(|(scheme, _)| scheme).filter(|scheme| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic()) && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    let label = match (url_host(text), scheme) {
        (Some(host), _) => host,
        (None, Some(_)) => String::new(),
        (None, None) => text.to_owned(),
    };
    Some(label).filter(|label| !label.is_empty())
}

/// The host of `text` when it is an absolute URL.
fn url_host(text: &str) -> Option<String> {
    let (_, rest) = text.trim().split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    Some(match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next()?.to_owned(),
        None => host.split(':').next()?.to_owned(),
    })
}

/// The ids HAS gives the entries of its `AUTH_PROVIDERS`, which its clients send as
/// `providerId`: the entries ordered by label (JavaScript's `localeCompare`, which puts
/// `a` before `B`), each called `<protocol>-<index in that order>`; an entry whose id is
/// its protocol's name keeps it when it is the only one of that protocol. `labels[i]`
/// and `protocols[i]` describe entry `i`; the ids come back in the entries' order.
fn has_ids(labels: &[String], protocols: &[&str], given: &[Option<&str>]) -> Vec<String> {
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&labels[a], &labels[b]);
        a.to_lowercase().cmp(&b.to_lowercase()).then_with(|| b.cmp(a))
    });
    let mut ids = vec![String::new(); labels.len()];
    for (position, &entry) in order.iter().enumerate() {
        let protocol = protocols[entry];
        let alone = protocols.iter().filter(|other| **other == protocol).count() == 1;
        ids[entry] = if alone && given[entry] == Some(protocol) { protocol.to_owned() } else { format!("{protocol}-{position}") };
    }
    ids
}

/// A list of words (scopes, authentication contexts) as HAS takes it: a JSON list, or
/// text.
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum ListOrText {
    #[default]
    Unset,
    List(Vec<String>),
    Text(String),
}

impl ListOrText {
    /// The words, text cut by `split`; empty when unset.
    fn items<'a, I: Iterator<Item = &'a str>>(&'a self, split: impl Fn(&'a str) -> I) -> Vec<String> {
        let words: Vec<&str> = match self {
            ListOrText::Unset => Vec::new(),
            ListOrText::List(list) => list.iter().map(String::as_str).collect(),
            ListOrText::Text(text) => split(text).collect(),
        };
        words.into_iter().map(str::trim).filter(|word| !word.is_empty()).map(str::to_owned).collect()
    }
}

/// HAS's `{"providers": [...]}`, or the bare list.
#[derive(Deserialize)]
#[serde(untagged)]
enum ProviderList {
    Wrapped { providers: Vec<ProviderEntry> },
    Bare(Vec<ProviderEntry>),
}

fn parse_list(text: &str) -> Result<Vec<ProviderEntry>, String> {
    match serde_json::from_str::<ProviderList>(text) {
        Ok(ProviderList::Wrapped { providers } | ProviderList::Bare(providers)) => Ok(providers),
        // serde's untagged error says nothing useful: try the plain list for its message.
        Err(_) => serde_json::from_str::<Vec<ProviderEntry>>(text).map_err(|error| error.to_string()),
    }
}

/// Parses the providers from `auth_providers`, or from the `oidc_*` shorthand. All
/// problems are reported, each naming its variable.
pub fn parse(get: &dyn Fn(&str) -> Result<String, ConfigError>) -> Result<Providers, Vec<ConfigError>> {
    let force_authn = get("force_authn").and_then(|value| parse_bool("force_authn", &value)).map_err(|error| vec![error])?;
    let mut providers = parse_providers(get)?;
    if force_authn {
        providers.force_authn();
    }
    Ok(providers)
}

/// The providers, each as configured.
fn parse_providers(get: &dyn Fn(&str) -> Result<String, ConfigError>) -> Result<Providers, Vec<ConfigError>> {
    let auth_providers = get("auth_providers").map_err(|error| vec![error])?;
    let origins: Vec<String> =
        ORIGIN_VARIABLES.iter().filter_map(|name| get(name).ok()).map(|origin| origin.trim().trim_end_matches('/').to_owned()).collect();
    let shorthand_issuer = get("oidc_issuer_uri").map_err(|error| vec![error])?;
    let mut saml_values = std::collections::HashMap::new();
    for setting in Setting::ALL {
        saml_values.insert(setting.names().0, get(setting.names().0).map_err(|error| vec![error])?);
    }
    let saml_get = |setting: Setting| saml_values.get(setting.names().0).cloned().unwrap_or_default();
    let credentials = parse_sp_credentials(get)?;
    let saml_shorthand = SamlSettings { get: &saml_get, entry: false, origins: &origins, credentials: credentials.as_ref() };
    if auth_providers.trim().is_empty() {
        return parse_shorthands(get, &shorthand_issuer, &saml_shorthand);
    }
    if !shorthand_issuer.trim().is_empty() {
        return Err(vec![ConfigError::new(
            "oidc_issuer_uri",
            "to be empty when auth_providers is set (list the provider in auth_providers instead)",
        )]);
    }
    if saml_shorthand.configured() {
        return Err(vec![ConfigError::new(
            "saml_idp_metadata_url",
            "saml_idp_metadata_url, saml_idp_metadata and saml_idp_sso_url to be empty when auth_providers is set (list the provider in auth_providers instead)",
        )]);
    }
    let entries = parse_list(&auth_providers).map_err(|error| {
        vec![ConfigError::new(
            "auth_providers",
            format!("a JSON list of providers, such as [{{\"id\": \"corp\", \"issuerUri\": \"https://…\", \"clientId\": \"…\", \"clientSecretVariable\": \"auth_provider_secret_a\"}}] ({error})"),
        )]
    })?;
    let labels: Vec<String> = entries
        .iter()
        .map(|entry| {
            let given = entry.label.clone().filter(|label| !label.trim().is_empty());
            given.or_else(|| entry.default_label()).unwrap_or_else(|| entry.protocol().to_owned())
        })
        .collect();
    let protocols: Vec<&str> = entries.iter().map(ProviderEntry::protocol).collect();
    // An empty id is no id, as in HAS.
    let given_ids: Vec<Option<&str>> = entries.iter().map(|entry| entry.id.as_deref().map(str::trim).filter(|id| !id.is_empty())).collect();
    let has_ids = has_ids(&labels, &protocols, &given_ids);
    // Each entry keeps its given id, but not another entry's HAS id: that one stays the
    // other's, as clients moved from HAS mean it, and the entry takes its own HAS id.
    let ids: Vec<String> = given_ids
        .iter()
        .zip(&has_ids)
        .map(|(given, has_id)| match given {
            Some(given) if !has_ids.iter().any(|other| other != has_id && other == given) => (*given).to_owned(),
            _ => has_id.clone(),
        })
        .collect();
    let mut errors = Vec::new();
    let mut providers = Vec::new();
    for (index, (((entry, label), id), has_id)) in entries.into_iter().zip(labels).zip(ids).zip(has_ids).enumerate() {
        match parse_entry(index, entry, label, (&id, &has_id), get, (&origins, credentials.as_ref())) {
            Ok(provider) => providers.push(provider),
            Err(error) => errors.push(error),
        }
    }
    let problem = |expected: String| ConfigError::new("auth_providers", expected);
    if providers.is_empty() && errors.is_empty() {
        errors.push(problem("at least one provider (or leave it empty and use the oidc_* variables)".into()));
    }
    if providers.iter().filter(|provider| provider.is_default).count() > 1 {
        errors.push(problem("at most one provider with \"default\": true".into()));
    }
    for (index, provider) in providers.iter().enumerate() {
        if providers[..index].iter().any(|earlier| earlier.id == provider.id) {
            errors.push(problem(format!("unique ids, but `{}` is used twice", provider.id.as_str())));
        }
    }
    if errors.is_empty() { Ok(Providers::new(providers)) } else { Err(errors) }
}

/// The broker's SAML key pairs (`saml_sp_key` with `saml_sp_cert`, and the previous pair
/// during a rotation), shared by every SAML provider; `None` when unset.
fn parse_sp_credentials(get: &dyn Fn(&str) -> Result<String, ConfigError>) -> Result<Option<Arc<SpCredentials>>, Vec<ConfigError>> {
    let pair = |key: &'static str, cert: &'static str| -> Result<Option<KeyPair>, Vec<ConfigError>> {
        let (key_pem, cert_pem) = (get(key).map_err(|error| vec![error])?, get(cert).map_err(|error| vec![error])?);
        match (key_pem.trim().is_empty(), cert_pem.trim().is_empty()) {
            (true, true) => Ok(None),
            (false, true) => Err(vec![ConfigError::new(cert, format!("the certificate of {key}, which is set"))]),
            (true, false) => Err(vec![ConfigError::new(key, format!("the private key of {cert}, which is set"))]),
            (false, false) => KeyPair::from_pem(&key_pem, &cert_pem).map(Some).map_err(|problem| {
                let variable = if problem.is_the_keys() { key } else { cert };
                vec![ConfigError::new(variable, problem.to_string())]
            }),
        }
    };
    let current = pair("saml_sp_key", "saml_sp_cert")?;
    let previous = pair("saml_sp_previous_key", "saml_sp_previous_cert")?;
    match (current, previous) {
        (Some(current), previous) => Ok(Some(Arc::new(SpCredentials { current, previous }))),
        (None, None) => Ok(None),
        (None, Some(_)) => Err(vec![ConfigError::new("saml_sp_key", "a value: a previous key pair only serves beside a current one")]),
    }
}

/// The `oidc_*` and `saml_*` shorthands: either, or both with `default_protocol` (HAS's
/// `DEFAULT_PROTOCOL`) naming the one a login goes to.
fn parse_shorthands(
    get: &dyn Fn(&str) -> Result<String, ConfigError>,
    issuer: &str,
    saml: &SamlSettings<'_>,
) -> Result<Providers, Vec<ConfigError>> {
    let default_protocol = get("default_protocol").map_err(|error| vec![error])?;
    // Empty: with both, the person chooses, as in HAS.
    let default_protocol = match default_protocol.trim() {
        protocol @ ("" | "oidc" | "saml") => protocol,
        _ => return Err(vec![ConfigError::new("default_protocol", "`oidc`, `saml`, or empty (the person chooses)")]),
    };
    let mut providers = parse_oidc_shorthand(get, issuer)?.into_list();
    if saml.configured() {
        let config = saml.parse().map_err(|problem| vec![ConfigError::new(saml.name(problem.setting), problem.expected)])?;
        providers.push(IdentityProvider {
            has_id: None,
            id: ProviderId::parse(SAML_SHORTHAND_ID).expect("a valid constant id"),
            label: Some(get("saml_info_label").map_err(|error| vec![error])?.trim().to_owned())
                .filter(|label| !label.is_empty())
                .or_else(|| config.sso_url.as_deref().and_then(host_of))
                .unwrap_or_else(|| "your identity provider (SAML)".to_owned()),
            is_default: false,
            protocol: Protocol::Saml(config),
        });
    }
    if let [first, second] = providers.as_mut_slice() {
        first.is_default = default_protocol == "oidc";
        second.is_default = default_protocol == "saml";
    }
    Ok(Providers::new(providers))
}

/// `host[:port]` of a URL, for a label.
fn host_of(url: &str) -> Option<String> {
    origin_of(url)?.split_once("://").map(|(_, host)| host.rsplit('@').next().unwrap_or(host).to_owned())
}

fn parse_oidc_shorthand(get: &dyn Fn(&str) -> Result<String, ConfigError>, issuer: &str) -> Result<Providers, Vec<ConfigError>> {
    if issuer.trim().is_empty() {
        return Ok(Providers::default());
    }
    let field = |name: &'static str| get(name).map_err(|error| vec![error]);
    let mut errors = Vec::new();
    let e = &mut errors;
    let issuer = check(e, parse_issuer(issuer, "oidc_issuer_uri"));
    let origin_ok = check(
        e,
        match &issuer {
            Some(issuer) => check_origin(issuer, &field("oidc_provider_origin")?, "oidc_provider_origin"),
            None => Ok(()),
        },
    );
    let client_id = check(e, required(&field("oidc_client_id")?, "oidc_client_id", "the client id registered at the provider"));
    let (key, cert) = (field("oidc_client_key")?, field("oidc_client_cert")?);
    let token_auth = check(e, parse_token_auth(&field("oidc_token_endpoint_auth_method")?, "oidc_token_endpoint_auth_method"));
    // A key replaces the secret, as in HAS, which then ignores a secret given beside it.
    let credential = if key.trim().is_empty() && cert.trim().is_empty() {
        let secret =
            check(e, required(&field("oidc_client_secret")?, "oidc_client_secret", "the client secret registered at the provider"));
        secret.zip(token_auth).map(|(secret, method)| ClientCredential::Secret(ClientSecret::new(secret), method))
    } else {
        let client_key = parse_client_key(&key, &cert).map_err(|(setting, expected)| ConfigError::new(setting.names().0, expected));
        check(e, client_key).map(ClientCredential::PrivateKeyJwt)
    };
    let pkce = check(
        e,
        match field("oidc_code_challenge_method")?.trim() {
            "S256" => Ok(()),
            _ => Err(ConfigError::new("oidc_code_challenge_method", "`S256` (RFC 9700 rules out `plain`)")),
        },
    );
    let max_age = check(e, parse_max_age(&field("oidc_max_age")?, "oidc_max_age"));
    let signing_algs = check(e, parse_signing_algs(&field("oidc_token_signing_algo")?, "oidc_token_signing_algo"));
    let select_account = check(e, parse_bool("oidc_select_account", &field("oidc_select_account")?));
    let (
        Some(issuer),
        Some(()),
        Some(client_id),
        Some(credential),
        Some(()),
        Some(max_age_secs),
        Some(_),
        Some(signing_algs),
        Some(select_account),
    ) = (issuer, origin_ok, client_id, credential, pkce, max_age, token_auth, signing_algs, select_account)
    else {
        return Err(errors);
    };
    let given_label = field("oidc_info_label")?.trim().to_owned();
    let label = if given_label.is_empty() { issuer.url().host_str().unwrap_or("your identity provider").to_owned() } else { given_label };
    Ok(Providers::new(vec![IdentityProvider {
        id: ProviderId::parse(SHORTHAND_ID).expect("a valid constant id"),
        has_id: None,
        label,
        is_default: true,
        protocol: Protocol::Oidc(OidcConfig {
            issuer,
            client_id,
            credential,
            signing_algs,
            max_age_secs,
            select_account,
            force_authn: false,
            scopes: default_scopes(),
            verified_email_only: false,
        }),
    }]))
}

/// One `auth_providers` entry, called `id` by the broker and `has_id` by HAS; the first
/// problem found is reported, naming the entry.
fn parse_entry(
    index: usize,
    entry: ProviderEntry,
    label: String,
    (name, has_id): (&str, &str),
    get: &dyn Fn(&str) -> Result<String, ConfigError>,
    (origins, credentials): (&[String], Option<&Arc<SpCredentials>>),
) -> Result<IdentityProvider, ConfigError> {
    let problem = |what: String| ConfigError::new("auth_providers", format!("in provider {} ({}), {what}", index + 1, shown(name)));
    let id = ProviderId::parse(name).map_err(|error| problem(format!("an id: {error}")))?;
    let has_id = ProviderId::parse(has_id).ok().filter(|has_id| *has_id != id);
    refuse_files(&entry).map_err(problem)?;
    if !entry.unknown.is_empty() {
        let names: Vec<String> = entry.unknown.keys().map(|name| shown(name)).collect();
        crate::base::log::warn("auth_providers_fields_ignored").field("provider", id.as_str()).field("fields", names).emit();
    }
    let flag = |value: &Flag, field: &str| value.value(field).map(|value| value.unwrap_or(false)).map_err(&problem);
    let is_default = flag(&entry.default, "default")?;
    match entry.protocol() {
        "oidc" => {}
        "saml" => {
            let saml_flags = [
                (&entry.force_authn, "forceAuthn"),
                (&entry.want_assertion_signed, "wantAssertionSigned"),
                (&entry.want_response_signed, "wantResponseSigned"),
                (&entry.disable_context, "disableContext"),
            ];
            for (value, field) in saml_flags {
                flag(value, field)?;
            }
            let settings = SamlSettings { get: &|setting| entry.saml_setting(setting), entry: true, origins, credentials };
            let config = settings.parse().map_err(|error| problem(format!("`{}` as {}", settings.name(error.setting), error.expected)))?;
            return Ok(IdentityProvider { id, has_id, label, is_default, protocol: Protocol::Saml(config) });
        }
        other => {
            return Err(problem(format!("`\"protocol\": \"oidc\"` or `\"saml\"`, not `{}`", shown(other))));
        }
    }
    let issuer = parse_issuer(entry.issuer_uri.as_deref().unwrap_or(""), "auth_providers")
        .map_err(|error| problem(format!("an issuerUri: {}", error.expected)))?;
    let origin = issuer.url().origin().ascii_serialization();
    if !origins.contains(&origin) {
        return Err(problem(format!(
            "its issuer's origin `{origin}` in one of {}, so that Spin lets the broker reach it",
            ORIGIN_VARIABLES.join(", ")
        )));
    }
    let client_id = entry.client_id.as_deref().map(str::trim).filter(|id| !id.is_empty()).ok_or_else(|| problem("a clientId".into()))?;
    let token_auth = parse_token_auth(entry.token_endpoint_auth_method.as_deref().unwrap_or(""), "auth_providers")
        .map_err(|error| problem(format!("a tokenEndpointAuthMethod of {}", error.expected)))?;
    // As in the shorthand: a key replaces the secret.
    let credential = match (entry.client_key.as_deref(), entry.client_cert.as_deref()) {
        (None, None) => ClientCredential::Secret(ClientSecret::new(entry_secret(&entry, get).map_err(&problem)?), token_auth),
        (key, cert) => ClientCredential::PrivateKeyJwt(
            parse_client_key(key.unwrap_or(""), cert.unwrap_or(""))
                .map_err(|(setting, expected)| problem(format!("`{}` as {expected}", setting.names().1)))?,
        ),
    };
    let signing_algs = parse_signing_algs(entry.signing_algo.as_deref().unwrap_or("RS256,ES256"), "auth_providers")
        .map_err(|error| problem(format!("a signingAlgo of {}", error.expected)))?;
    let max_age_secs = match &entry.max_age {
        Some(seconds) => Some(
            parse_seconds("auth_providers", &seconds.as_text(), MAX_MAX_AGE_SECS)
                .map_err(|error| problem(format!("a maxAge in {}", error.expected)))?,
        ),
        None => None,
    };
    let scopes = match entry.scopes {
        ListOrText::Unset => default_scopes(),
        words => words.items(str::split_whitespace),
    };
    if scopes.iter().any(|scope| !scope.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')) {
        return Err(problem("scopes as words of visible ASCII characters".into()));
    }
    Ok(IdentityProvider {
        label,
        id,
        has_id,
        is_default,
        protocol: Protocol::Oidc(OidcConfig {
            issuer,
            client_id: client_id.to_owned(),
            credential,
            signing_algs,
            max_age_secs,
            select_account: flag(&entry.select_account, "selectAccount")?,
            force_authn: flag(&entry.force_authn, "forceAuthn")?,
            scopes: scopes.into_iter().filter(|scope| scope != "openid").collect(),
            verified_email_only: flag(&entry.verified_email_only, "verifiedEmailOnly")?,
        }),
    })
}

/// An entry's client secret: inline, or from the variable `clientSecretVariable` names.
fn entry_secret(entry: &ProviderEntry, get: &dyn Fn(&str) -> Result<String, ConfigError>) -> Result<String, String> {
    match (entry.client_secret.as_deref().map(str::trim), &entry.client_secret_variable) {
        (Some(_), Some(_)) => Err("clientSecret or clientSecretVariable, not both".into()),
        (Some(""), None) => Err("a clientSecret that is not empty".into()),
        (Some(inline), None) => Ok(inline.to_owned()),
        (None, _) => secret_from_variable(entry, get),
    }
}

/// The client secret from the variable `clientSecretVariable` names.
fn secret_from_variable(entry: &ProviderEntry, get: &dyn Fn(&str) -> Result<String, ConfigError>) -> Result<String, String> {
    let secret_variable = entry.client_secret_variable.as_deref().unwrap_or("");
    if !is_provider_secret_variable(secret_variable) {
        return Err(format!(
            "clientSecret, or clientSecretVariable naming a provider's secret variable (auth_provider_secret_a, auth_provider_secret_b…, or oidc_client_secret), not `{}`: the broker sends that secret to the provider",
            shown(secret_variable)
        ));
    }
    get(secret_variable)
        .ok()
        .map(|secret| secret.trim().to_owned())
        .filter(|secret| !secret.is_empty())
        .ok_or_else(|| format!("clientSecretVariable to name a secret variable declared in spin.toml and set; `{secret_variable}` is not"))
}

/// HAS reads a file for each of these fields; a component reads none, so each is
/// refused with what to write in its place.
fn refuse_files(entry: &ProviderEntry) -> Result<(), String> {
    let files = [
        (
            &entry.client_secret_file,
            "clientSecretFile",
            "the secret itself in clientSecret, or in a secret variable named by clientSecretVariable",
        ),
        (&entry.metadata_file, "metadataFile", "the metadata XML itself in metadata"),
        (&entry.idp_cert_file, "idpCertFile", "the PEM certificate itself in idpCert"),
        (&entry.client_cert_file, "clientCertFile", "the PEM certificate itself in clientCert"),
        (&entry.client_key_file, "clientKeyFile", "the PEM private key itself in clientKey"),
    ];
    match files.into_iter().find(|(value, _, _)| value.is_some()) {
        Some((_, field, instead)) => Err(format!("no {field} (the broker reads no files): {instead}")),
        None => Ok(()),
    }
}

/// `text` as a problem may show it: the characters of names, at most 64.
fn shown(text: &str) -> String {
    text.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')).take(64).collect()
}

const MAX_MAX_AGE_SECS: u64 = MAX_CACHE_TTL_SECS * 365;

fn default_scopes() -> Vec<String> {
    vec!["profile".into(), "email".into()]
}

/// The issuer exactly as given (but for surrounding whitespace): OpenID Connect
/// compares issuers as strings, so `https://idp.example.com/` (Auth0's form) is not
/// `https://idp.example.com`, and discovery, the ID token's `iss` and RFC 9207's `iss`
/// must all name the very string configured.
pub(super) fn parse_issuer(text: &str, variable: &'static str) -> Result<IssuerUrl, ConfigError> {
    let text = text.trim();
    IssuerUrl::new(text.to_owned())
        .ok()
        .filter(|url| matches!(url.url().scheme(), "http" | "https") && url.url().query().is_none() && url.url().fragment().is_none())
        .ok_or_else(|| ConfigError::new(variable, "the provider's issuer URL, such as https://idp.example.com/realms/acme"))
}

/// Spin lets the component reach only origins in `allowed_outbound_hosts`: catch a
/// mismatch here, not as a denied request deep inside a login.
fn check_origin(issuer: &IssuerUrl, origin_variable: &str, variable: &'static str) -> Result<(), ConfigError> {
    let origin = issuer.url().origin().ascii_serialization();
    if origin_variable.trim().trim_end_matches('/') == origin {
        Ok(())
    } else {
        Err(ConfigError::new(variable, format!("the issuer's origin, `{origin}`, so that Spin allows outbound requests to the provider")))
    }
}

fn required(value: &str, variable: &'static str, what: &str) -> Result<String, ConfigError> {
    let value = value.trim();
    if value.is_empty() { Err(ConfigError::new(variable, what)) } else { Ok(value.to_owned()) }
}

fn parse_max_age(value: &str, variable: &'static str) -> Result<Option<u64>, ConfigError> {
    match value.trim() {
        "" => Ok(None),
        value => parse_seconds(variable, value, MAX_MAX_AGE_SECS).map(Some),
    }
}

/// Which of a client key's two settings a problem is about.
#[derive(Clone, Copy)]
enum KeySetting {
    Key,
    Cert,
}

impl KeySetting {
    /// Its Spin variable (the shorthand) and its `auth_providers` field (HAS's name).
    fn names(self) -> (&'static str, &'static str) {
        match self {
            KeySetting::Key => ("oidc_client_key", "clientKey"),
            KeySetting::Cert => ("oidc_client_cert", "clientCert"),
        }
    }
}

/// `private_key_jwt`'s key and the certificate of its public key, of which at least
/// one is given: both are needed.
fn parse_client_key(key: &str, cert: &str) -> Result<ClientKey, (KeySetting, String)> {
    match (key.trim().is_empty(), cert.trim().is_empty()) {
        (true, _) => Err((KeySetting::Key, "the private key of the client certificate given beside it (set both or neither)".into())),
        (_, true) => Err((KeySetting::Cert, "the certificate of the client key given beside it (set both or neither)".into())),
        _ => ClientKey::from_pem(key, cert).map_err(|problem| {
            let setting = if problem.is_the_keys() { KeySetting::Key } else { KeySetting::Cert };
            (setting, problem.expected().to_owned())
        }),
    }
}

fn parse_token_auth(value: &str, variable: &'static str) -> Result<TokenEndpointAuth, ConfigError> {
    match value.trim() {
        "client_secret_basic" | "" => Ok(TokenEndpointAuth::Basic),
        "client_secret_post" => Ok(TokenEndpointAuth::Post),
        _ => Err(ConfigError::new(variable, "`client_secret_basic` or `client_secret_post`")),
    }
}

/// Asymmetric algorithms only: `none` would skip the signature, and an HS* "signature"
/// made with the provider's public key as the HMAC secret is the classic forgery.
pub(super) fn parse_signing_algs(value: &str, variable: &'static str) -> Result<Vec<CoreJwsSigningAlgorithm>, ConfigError> {
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
    match comma_list(value).map(parse).collect::<Option<Vec<Alg>>>() {
        Some(algs) if !algs.is_empty() => Ok(algs),
        _ => Err(ConfigError::new(
            variable,
            "a comma-separated list of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA (never none or HS*)",
        )),
    }
}

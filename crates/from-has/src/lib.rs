//! HAS's settings as login-broker's: reads a Helix Authentication Service `.env` or
//! `config.toml` and says which Spin variables (and which runtime config) carry each
//! setting over, and which settings cannot, and why. The broker's own configuration
//! reference is docs/configuration.md; the mapping is docs/moving-from-has.md's table.

use serde_json::{Map, Value};

/// What a HAS configuration becomes.
#[derive(Debug, Default, PartialEq)]
pub struct Conversion {
    /// Spin variables (lower-case names), in the order their settings were read.
    pub variables: Vec<(String, String)>,
    /// The runtime config that binds the key-value store to HAS's Redis.
    pub runtime_config: Option<String>,
    /// Settings that do not carry over: the setting, and why (and what to do instead).
    pub left_out: Vec<(String, String)>,
}

/// Reads what a HAS `*_FILE` setting names.
pub type ReadFile<'a> = &'a dyn Fn(&str) -> Result<String, String>;

/// The settings of a HAS `.env` file, in order: `NAME=value` (or `export NAME=value`),
/// a value in single or double quotes (which may span lines), `#` comments, and a value
/// HAS's web administration wrote as `base64:…` (any with quotes, `#` or line breaks,
/// such as `AUTH_PROVIDERS`) decoded.
pub fn read_dotenv(text: &str) -> Vec<(String, String)> {
    let mut settings = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let line = line.trim();
        let line = line.strip_prefix("export ").unwrap_or(line);
        if line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else { continue };
        let value = value.trim();
        let value = match value.chars().next() {
            Some(quote @ ('"' | '\'')) => {
                let mut text = value[1..].to_owned();
                while !text.trim_end().ends_with(quote) {
                    match lines.next() {
                        Some(next) => {
                            text.push('\n');
                            text.push_str(next);
                        }
                        None => break,
                    }
                }
                text.trim_end().strip_suffix(quote).unwrap_or(&text).to_owned()
            }
            // An unquoted value ends at a comment.
            _ => value.split(" #").next().unwrap_or_default().trim().to_owned(),
        };
        settings.push((name.trim().to_uppercase(), decode_has_base64(value)));
    }
    settings
}

/// A value as HAS's `DotenvSource` reads it: `base64:` and the value in base64, or as is.
fn decode_has_base64(value: String) -> String {
    use base64::Engine;
    let decoded = value.strip_prefix("base64:").and_then(|encoded| base64::engine::general_purpose::STANDARD.decode(encoded).ok());
    decoded.and_then(|bytes| String::from_utf8(bytes).ok()).unwrap_or(value)
}

/// The settings of a HAS `config.toml`: top-level keys in any case, and
/// `[[auth_providers]]` tables as `AUTH_PROVIDERS`'s JSON, in HAS's camelCase.
pub fn read_toml(text: &str) -> Result<Vec<(String, String)>, String> {
    let table: toml::Table = toml::from_str(text).map_err(|error| format!("not TOML: {error}"))?;
    let mut settings = Vec::new();
    for (name, value) in table {
        let name = name.to_uppercase();
        let text = match (name.as_str(), value) {
            ("AUTH_PROVIDERS", toml::Value::Array(tables)) => {
                let providers: Vec<Value> = tables.into_iter().map(|table| camel_case_keys(toml_to_json(table))).collect();
                serde_json::json!({ "providers": providers }).to_string()
            }
            (_, toml::Value::String(text)) => text,
            (_, other) => other.to_string(),
        };
        settings.push((name, text));
    }
    Ok(settings)
}

fn toml_to_json(value: toml::Value) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// `issuer_uri` as HAS's `issuerUri`.
fn camel_case_keys(value: Value) -> Value {
    let Value::Object(fields) = value else { return value };
    let camel = |name: &str| {
        let mut parts = name.split('_');
        let first = parts.next().unwrap_or_default().to_owned();
        parts.fold(first, |mut text, part| {
            let mut chars = part.chars();
            text.extend(chars.next().map(|c| c.to_ascii_uppercase()));
            text.push_str(chars.as_str());
            text
        })
    };
    Value::Object(fields.into_iter().map(|(name, value)| (camel(&name), value)).collect())
}

/// Converts HAS's `settings` (as read above); `read_file` reads what its `*_FILE`
/// settings name.
pub fn convert(settings: &[(String, String)], read_file: ReadFile<'_>) -> Conversion {
    let mut conversion = Conversion::default();
    let folded = match fold_classic_providers(settings, read_file) {
        Ok(folded) => folded,
        Err((setting, why)) => {
            conversion.left_out.push((setting, why));
            settings.to_vec()
        }
    };
    let settings = folded.as_slice();
    for (name, value) in settings {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        if let Err(why) = convert_one(name, value, read_file, &mut conversion) {
            conversion.left_out.push((name.clone(), why));
        }
    }
    keep_has_saml_settings(settings, read_file, &mut conversion);
    conversion
}

/// HAS's classic per-provider settings and the `AUTH_PROVIDERS` field each becomes when
/// HAS merges them into its list (as its `oidcNameMapping` and `samlNameMapping` name them).
const CLASSIC_OIDC: [(&str, &str); 13] = [
    ("OIDC_ISSUER_URI", "issuerUri"),
    ("OIDC_CLIENT_ID", "clientId"),
    ("OIDC_CLIENT_SECRET", "clientSecret"),
    ("OIDC_CLIENT_SECRET_FILE", "clientSecretFile"),
    ("OIDC_CLIENT_CERT", "clientCert"),
    ("OIDC_CLIENT_CERT_FILE", "clientCertFile"),
    ("OIDC_CLIENT_KEY", "clientKey"),
    ("OIDC_CLIENT_KEY_FILE", "clientKeyFile"),
    ("OIDC_CODE_CHALLENGE_METHOD", "codeChallenge"),
    ("OIDC_INFO_LABEL", "label"),
    ("OIDC_MAX_AGE", "maxAge"),
    ("OIDC_SELECT_ACCOUNT", "selectAccount"),
    ("OIDC_TOKEN_SIGNING_ALGO", "signingAlgo"),
];
const CLASSIC_SAML: [(&str, &str); 18] = [
    ("SAML_IDP_METADATA_URL", "metadataUrl"),
    ("SAML_IDP_METADATA", "metadata"),
    ("SAML_IDP_METADATA_FILE", "metadataFile"),
    ("SAML_IDP_SSO_URL", "signonUrl"),
    ("SAML_IDP_SLO_URL", "logoutUrl"),
    ("SAML_IDP_ENTITY_ID", "idpEntityId"),
    ("IDP_CERT", "idpCert"),
    ("IDP_CERT_FILE", "idpCertFile"),
    ("SAML_SP_ENTITY_ID", "spEntityId"),
    ("SAML_SP_AUDIENCE", "audience"),
    ("SAML_NAMEID_FORMAT", "nameIdFormat"),
    ("SAML_AUTHN_CONTEXT", "authnContext"),
    ("SAML_DISABLE_CONTEXT", "disableContext"),
    ("SAML_FORCE_AUTHN", "forceAuthn"),
    ("SAML_INFO_LABEL", "label"),
    ("SAML_WANT_ASSERTION_SIGNED", "wantAssertionSigned"),
    ("SAML_WANT_RESPONSE_SIGNED", "wantResponseSigned"),
    ("SP_KEY_ALGO", "keyAlgorithm"),
];

/// A protocol's classic settings and the fields they become.
type Classic = [(&'static str, &'static str)];

/// With `AUTH_PROVIDERS` set, HAS adds its classic `OIDC_*` and `SAML_*` settings to the
/// list as one more entry each (id `oidc` or `saml`, `default` from `DEFAULT_PROTOCOL`)
/// when they name an identity provider; the broker takes one or the other, so the
/// converter does the same merge: `settings` with those moved into `AUTH_PROVIDERS`, or
/// the setting that could not be read and why.
fn fold_classic_providers(settings: &[(String, String)], read_file: ReadFile<'_>) -> Result<Vec<(String, String)>, (String, String)> {
    let value =
        |name: &str| settings.iter().find(|(setting, value)| setting == name && !value.trim().is_empty()).map(|(_, value)| value.trim());
    let list = match (value("AUTH_PROVIDERS"), value("AUTH_PROVIDERS_FILE")) {
        (Some(list), _) => list.to_owned(),
        (None, Some(file)) => read_file(file).map_err(|why| ("AUTH_PROVIDERS_FILE".to_owned(), why))?,
        (None, None) => return Ok(settings.to_vec()),
    };
    let classic = |mapping: &[(&str, &str)]| -> Map<String, Value> {
        mapping.iter().filter_map(|(setting, field)| value(setting).map(|v| (field.to_string(), Value::String(v.to_owned())))).collect()
    };
    let (oidc, saml) = (classic(&CLASSIC_OIDC), classic(&CLASSIC_SAML));
    // An entry that names no identity provider HAS tidies away; the broker would refuse it.
    let oidc_complete = oidc.contains_key("issuerUri");
    let saml_complete = ["metadataUrl", "metadata", "metadataFile", "signonUrl"].iter().any(|field| saml.contains_key(*field));
    let added: Vec<(Map<String, Value>, &str, &Classic)> =
        [(oidc, "oidc", oidc_complete, &CLASSIC_OIDC[..]), (saml, "saml", saml_complete, &CLASSIC_SAML[..])]
            .into_iter()
            .filter(|(_, _, complete, _)| *complete)
            .map(|(entry, protocol, _, mapping)| (entry, protocol, mapping))
            .collect();
    if added.is_empty() {
        return Ok(settings.to_vec());
    }
    let invalid = |why: &str| ("AUTH_PROVIDERS".to_owned(), why.to_owned());
    let mut entries = provider_list(&list).map_err(invalid)?;
    let mut moved: Vec<&str> = vec!["AUTH_PROVIDERS", "AUTH_PROVIDERS_FILE"];
    for (mut entry, protocol, mapping) in added {
        entry.insert("protocol".to_owned(), protocol.into());
        entry.insert("id".to_owned(), protocol.into());
        if value("DEFAULT_PROTOCOL") == Some(protocol) {
            entry.insert("default".to_owned(), true.into());
        }
        entries.push(Value::Object(entry));
        moved.extend(mapping.iter().map(|(setting, _)| *setting));
    }
    let mut folded: Vec<(String, String)> = settings.iter().filter(|(name, _)| !moved.contains(&name.as_str())).cloned().collect();
    folded.push(("AUTH_PROVIDERS".to_owned(), Value::Array(entries).to_string()));
    Ok(folded)
}

/// HAS's defaults where the broker's differ, for a HAS that was a SAML service
/// provider: the identity provider knows it by HAS's default entity id, HAS asked for
/// the PasswordProtectedTransport context unless told not to, and HAS signed its
/// requests and decrypted with `SAML_KEY_FILE` and `SAML_CERT_FILE`, or else with its
/// TLS key pair (`KEY_FILE`, `CERT_FILE`).
fn keep_has_saml_settings(settings: &[(String, String)], read_file: ReadFile<'_>, into: &mut Conversion) {
    let value =
        |name: &str| settings.iter().find(|(setting, value)| setting == name && !value.trim().is_empty()).map(|(_, value)| value.trim());
    let is_true = |name: &str| value(name).is_some_and(|value| value.eq_ignore_ascii_case("true"));
    let shorthand = ["SAML_IDP_METADATA_URL", "SAML_IDP_METADATA_FILE", "SAML_IDP_METADATA", "SAML_IDP_SSO_URL"]
        .iter()
        .any(|name| value(name).is_some());
    let listed = ["AUTH_PROVIDERS", "AUTH_PROVIDERS_FILE"]
        .iter()
        .any(|name| value(name).is_some_and(|list| list.contains("saml") || list.contains("etadata")));
    if !shorthand && !listed {
        for name in ["SAML_KEY_FILE", "SAML_CERT_FILE"].into_iter().filter(|name| value(name).is_some()) {
            into.left_out.push((name.to_owned(), "no SAML identity provider is configured for it to serve".to_owned()));
        }
        return;
    }
    if shorthand && value("SAML_SP_ENTITY_ID").is_none() {
        into.variables.push(("saml_sp_entity_id".to_owned(), HAS_SP_ENTITY_ID.to_owned()));
    }
    if shorthand && value("SAML_AUTHN_CONTEXT").is_none() && !is_true("SAML_DISABLE_CONTEXT") {
        into.variables.push(("saml_authn_context".to_owned(), PASSWORD_PROTECTED_TRANSPORT.to_owned()));
    }
    let (Some((key_setting, key)), Some((cert_setting, cert))) = (
        value("SAML_KEY_FILE").map(|file| ("SAML_KEY_FILE", file)).or_else(|| value("KEY_FILE").map(|file| ("KEY_FILE", file))),
        value("SAML_CERT_FILE").map(|file| ("SAML_CERT_FILE", file)).or_else(|| value("CERT_FILE").map(|file| ("CERT_FILE", file))),
    ) else {
        return;
    };
    match (read_file(key), read_file(cert)) {
        (Ok(key), Ok(cert)) => {
            into.variables.push(("saml_sp_key".to_owned(), key));
            into.variables.push(("saml_sp_cert".to_owned(), cert));
        }
        (key, cert) => {
            for (setting, failed) in [(key_setting, key.err()), (cert_setting, cert.err())] {
                if let Some(why) = failed {
                    into.left_out.push((setting.to_owned(), format!("the SAML key pair: {why}")));
                }
            }
        }
    }
}

/// HAS's `SAML_SP_ENTITY_ID` when none is set (its `defaults.env`).
const HAS_SP_ENTITY_ID: &str = "https://has.example.com";
/// HAS's `SAML_AUTHN_CONTEXT` when none is set.
const PASSWORD_PROTECTED_TRANSPORT: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";

/// Settings whose variable is the same name in lower case, with the same meaning.
const SAME_NAME: [&str; 35] = [
    "OIDC_CLIENT_ID",
    "OIDC_CLIENT_SECRET",
    "OIDC_CLIENT_KEY",
    "OIDC_CLIENT_CERT",
    "OIDC_CODE_CHALLENGE_METHOD",
    "OIDC_TOKEN_SIGNING_ALGO",
    "OIDC_MAX_AGE",
    "OIDC_SELECT_ACCOUNT",
    "DEFAULT_PROTOCOL",
    "LOGIN_TIMEOUT",
    "CACHE_TTL",
    "INSTANCE_ID",
    "PROMPT_FOR_AUTHORIZATION",
    "STATUS_ENABLED",
    "CLIENT_CERT_HEADER",
    "CLIENT_CERT_CN",
    "CLIENT_CERT_FP",
    "OAUTH_JWKS_KEYID",
    "OAUTH_ALGORITHM",
    "OAUTH_AUDIENCE",
    "OAUTH_ISSUER",
    "OAUTH_TENANT_ID",
    "SAML_IDP_SSO_URL",
    "SAML_IDP_ENTITY_ID",
    "SAML_SP_ENTITY_ID",
    "SAML_SP_AUDIENCE",
    "SAML_NAMEID_FORMAT",
    "SAML_AUTHN_CONTEXT",
    "SAML_FORCE_AUTHN",
    "FORCE_AUTHN",
    "OIDC_INFO_LABEL",
    "SAML_INFO_LABEL",
    "SP_KEY_ALGO",
    "SAML_IDP_SLO_URL",
    "SAML_IDP_METADATA",
];

/// Settings whose name is the same, and the two signature requirements.
const SAME_NAME_FLAGS: [&str; 2] = ["SAML_WANT_ASSERTION_SIGNED", "SAML_WANT_RESPONSE_SIGNED"];

/// Settings that do not carry over, by name or prefix, and why.
const LEFT_OUT: [(&str, &str); 10] = [
    ("SESSION_SECRET", "state_key replaces it (a new random key, printed above): it seals every record and cookie"),
    ("CA_CERT_", "the TLS front checks client certificates against your CA: nginx's ssl_client_certificate (deploy/tls-proxy/)"),
    ("PROTOCOL", "TLS ends at the TLS front (deploy/tls-proxy/), and `spin up --listen` takes the address"),
    ("PORT", "`spin up --listen` takes the address"),
    ("BIND_ADDRESS", "`spin up --listen` takes the address"),
    (
        "CERT_FILE",
        "the TLS front holds the server certificate (deploy/tls-proxy/); without SAML_CERT_FILE it is also the SAML certificate, as in HAS",
    ),
    ("KEY_", "the TLS front holds the server key (deploy/tls-proxy/); without SAML_KEY_FILE it is also the SAML key, as in HAS"),
    ("PFX_FILE", "the TLS front holds the server certificate (deploy/tls-proxy/)"),
    (
        "SAML_NAMEID_FIELD",
        "HAS uses it only as an identity provider, to make up a missing nameID; the broker's saml_nameid_field means another thing (take nameID from this assertion attribute): set that only if you want it",
    ),
    ("REDIS_", "Spin's Redis store takes a URL only (rediss:// for TLS): no client certificates, no Sentinel"),
];

fn convert_one(name: &str, value: &str, read_file: ReadFile<'_>, into: &mut Conversion) -> Result<(), String> {
    let mut set = |variable: &str, value: String| into.variables.push((variable.to_owned(), value));
    match name {
        _ if SAME_NAME.contains(&name) || SAME_NAME_FLAGS.contains(&name) => set(&name.to_lowercase(), value.to_owned()),
        "SVC_BASE_URI" => {
            let origin = origin_of(value).ok_or("not an http(s) URL")?;
            if value.trim_end_matches('/') != origin {
                return Err(format!(
                    "the broker owns its host: serve it at an origin of its own (svc_base_uri={origin} would drop the path)"
                ));
            }
            set("svc_base_uri", origin);
        }
        "OIDC_ISSUER_URI" => {
            set("oidc_issuer_uri", value.to_owned());
            set("oidc_provider_origin", origin_of(value).ok_or("not an http(s) URL")?);
        }
        "OIDC_CLIENT_SECRET_FILE" => set("oidc_client_secret", read_file(value)?.trim().to_owned()),
        "OIDC_CLIENT_KEY_FILE" => set("oidc_client_key", read_file(value)?),
        "OIDC_CLIENT_CERT_FILE" => set("oidc_client_cert", read_file(value)?),
        "OAUTH_JWKS_URI" => {
            set("oauth_jwks_uri", value.to_owned());
            set("oauth_jwks_origin", origin_of(value).ok_or("not an http(s) URL")?);
        }
        "OAUTH_SIGNING_KEY_FILE" => set("oauth_signing_key", read_file(value)?),
        "SAML_IDP_METADATA_URL" => {
            set("saml_idp_metadata_url", value.to_owned());
            set("saml_idp_origin", origin_of(value).ok_or("not an http(s) URL")?);
        }
        "SAML_IDP_METADATA_FILE" => set("saml_idp_metadata", read_file(value)?),
        "IDP_CERT" => set("saml_idp_cert", value.to_owned()),
        "IDP_CERT_FILE" => set("saml_idp_cert", read_file(value)?),
        // Read with HAS's fallback to the TLS key pair, once the SAML providers are known.
        "SAML_KEY_FILE" | "SAML_CERT_FILE" => {}
        "SAML_DISABLE_CONTEXT" if value.eq_ignore_ascii_case("true") => {
            return Err("no setting needed: the broker asks for an authentication context only when saml_authn_context is set".into());
        }
        "AUTH_PROVIDERS" | "AUTH_PROVIDERS_FILE" => {
            let text = if name == "AUTH_PROVIDERS_FILE" { read_file(value)? } else { value.to_owned() };
            let (providers, notes) = providers(&text, read_file)?;
            for (index, origin) in notes.origins.into_iter().enumerate() {
                match ORIGIN_VARIABLES.get(index) {
                    Some(variable) => set(variable, origin),
                    None => into.left_out.push((
                        name.to_owned(),
                        format!("a provider's origin `{origin}`: spin.toml declares three origin variables; add one there"),
                    )),
                }
            }
            into.variables.push(("auth_providers".to_owned(), providers));
            into.left_out.extend(notes.left_out.into_iter().map(|why| (name.to_owned(), why)));
        }
        "REDIS_URL" => {
            if !(value.starts_with("redis://") || value.starts_with("rediss://")) {
                return Err("a redis:// or rediss:// URL (Spin's Redis store takes no other)".into());
            }
            into.runtime_config = Some(format!("[key_value_store.default]\ntype = \"redis\"\nurl = {}\n", toml_string(value)));
        }
        _ => {
            let why = LEFT_OUT.iter().find(|(setting, _)| name == *setting || (setting.ends_with('_') && name.starts_with(setting)));
            return Err(why
                .map_or(
                    "not a setting the broker has: HAS's administration, SCIM, logging and identity-provider features stay with HAS",
                    |(_, why)| why,
                )
                .to_owned());
        }
    }
    Ok(())
}

/// The variables `auth_providers` entries take their origins from, in spin.toml's order.
const ORIGIN_VARIABLES: [&str; 3] = ["auth_provider_origin_a", "auth_provider_origin_b", "auth_provider_origin_c"];

#[derive(Default)]
struct ProviderNotes {
    /// The origins the broker must be let reach, each once.
    origins: Vec<String>,
    left_out: Vec<String>,
}

/// The entries of an `AUTH_PROVIDERS` text, as HAS takes it: `{"providers": [...]}` or
/// the list alone.
fn provider_list(text: &str) -> Result<Vec<Value>, &'static str> {
    let entries = match serde_json::from_str(text).map_err(|_| "not JSON")? {
        Value::Object(mut wrapped) => wrapped.remove("providers").ok_or("no `providers` list")?,
        list @ Value::Array(_) => list,
        _ => return Err("neither {\"providers\": [...]} nor a list"),
    };
    match entries {
        Value::Array(entries) => Ok(entries),
        _ => Err("`providers` is not a list"),
    }
}

/// `AUTH_PROVIDERS` for the broker: as HAS wrote it, but with what its `*File` fields
/// name read in (the broker reads no files), and the origins it must reach.
fn providers(text: &str, read_file: ReadFile<'_>) -> Result<(String, ProviderNotes), String> {
    let entries = provider_list(text)?;
    let mut notes = ProviderNotes::default();
    let mut converted = Vec::new();
    for entry in entries {
        let Value::Object(mut fields) = entry else { return Err("a provider that is not an object".into()) };
        let files = [
            ("clientSecretFile", "clientSecret"),
            ("clientKeyFile", "clientKey"),
            ("clientCertFile", "clientCert"),
            ("metadataFile", "metadata"),
            ("idpCertFile", "idpCert"),
        ];
        for (file_field, field) in files {
            if let Some(Value::String(path)) = fields.remove(file_field) {
                let contents = read_file(&path)?;
                fields.insert(field.to_owned(), Value::String(if field == "clientSecret" { contents.trim().to_owned() } else { contents }));
            }
        }
        keep_has_saml_entry_defaults(&mut fields);
        for url_field in ["issuerUri", "metadataUrl"] {
            if let Some(origin) = fields.get(url_field).and_then(Value::as_str).and_then(origin_of)
                && !notes.origins.contains(&origin)
            {
                notes.origins.push(origin);
            }
        }
        converted.push(Value::Object(fields));
    }
    let mut wrapped = Map::new();
    wrapped.insert("providers".to_owned(), Value::Array(converted));
    Ok((Value::Object(wrapped).to_string(), notes))
}

/// HAS's defaults where the broker's differ, for a SAML entry (one with no `issuerUri`
/// and no other protocol, as HAS infers it): the identity provider knows HAS by its
/// default entity id, and HAS asked for PasswordProtectedTransport unless told not to.
fn keep_has_saml_entry_defaults(fields: &mut Map<String, Value>) {
    let is_saml = match fields.get("protocol") {
        Some(protocol) => protocol == "saml",
        None => !fields.contains_key("issuerUri"),
    };
    if !is_saml {
        return;
    }
    if !fields.contains_key("spEntityId") {
        fields.insert("spEntityId".to_owned(), Value::String(HAS_SP_ENTITY_ID.to_owned()));
    }
    let context_disabled = fields
        .get("disableContext")
        .is_some_and(|value| value == true || value.as_str().is_some_and(|text| text.eq_ignore_ascii_case("true")));
    if !context_disabled && !fields.contains_key("authnContext") {
        fields.insert("authnContext".to_owned(), Value::String(PASSWORD_PROTECTED_TRANSPORT.to_owned()));
    }
}

/// `scheme://host[:port]` of an http(s) URL.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.trim().split_once("://")?;
    if !matches!(scheme, "http" | "https") {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().filter(|authority| !authority.is_empty())?;
    Some(format!("{scheme}://{}", authority.rsplit('@').next()?))
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

impl Conversion {
    /// The variables as the broker takes them in one `settings_json`: the JSON object of
    /// all but the origins, which Spin itself expands (`allowed_outbound_hosts`) and so
    /// stay variables of their own, returned beside it.
    pub fn in_settings_json(&self) -> (Map<String, Value>, Vec<(String, String)>) {
        let is_origin = |name: &str| name.ends_with("_origin") || name.starts_with("auth_provider_origin_");
        let (origins, others): (Vec<_>, Vec<_>) = self.variables.iter().cloned().partition(|(name, _)| is_origin(name));
        (others.into_iter().map(|(name, value)| (name, Value::String(value))).collect(), origins)
    }
}

/// `text` as one word of POSIX shell.
pub fn shell_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A HAS `.env` as its administrators write one: OpenID Connect and SAML classic
    /// settings, client certificates, Redis, files for secrets.
    const DOTENV: &str = r#"
# Helix Authentication Service
SVC_BASE_URI=https://auth.example.com
LOGIN_TIMEOUT=60   # seconds
export OIDC_ISSUER_URI=https://login.example.com/realms/p4
OIDC_CLIENT_ID="p4-broker"
OIDC_CLIENT_SECRET_FILE=secrets/oidc
OIDC_CLIENT_KEY_FILE=certs/oidc-client.key
OIDC_CLIENT_CERT_FILE=certs/oidc-client.crt
SAML_IDP_METADATA_URL='https://saml.example.com/metadata'
SAML_WANT_ASSERTION_SIGNED=true
DEFAULT_PROTOCOL=oidc
CLIENT_CERT_CN=LoginExtension
CA_CERT_FILE=certs/ca.crt
REDIS_URL=redis://redis.internal:6379
SESSION_SECRET=keyboard cat
FORCE_AUTHN=true
SAML_IDP_SLO_URL=https://saml.example.com/slo
SAML_NAMEID_FIELD=email
ADMIN_ENABLED=true
"#;

    fn files(name: &str) -> Result<String, String> {
        match name {
            "secrets/oidc" => Ok("oidc-secret-value\n".into()),
            "secrets/partner" => Ok("partner-secret\n".into()),
            "idp.pem" | "certs/oidc-client.crt" | "partner.crt" => {
                Ok("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".into())
            }
            "certs/oidc-client.key" | "partner.key" => Ok("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n".into()),
            "certs/sp.key" => Ok("-----BEGIN PRIVATE KEY-----\nSPKEY\n-----END PRIVATE KEY-----\n".into()),
            "certs/sp.crt" => Ok("-----BEGIN CERTIFICATE-----\nSPCERT\n-----END CERTIFICATE-----\n".into()),
            _ => Err(format!("cannot read {name}")),
        }
    }

    fn variable<'c>(conversion: &'c Conversion, name: &str) -> Option<&'c str> {
        conversion.variables.iter().find(|(variable, _)| variable == name).map(|(_, value)| value.as_str())
    }

    fn left_out<'c>(conversion: &'c Conversion, setting: &str) -> Option<&'c str> {
        conversion.left_out.iter().find(|(name, _)| name == setting).map(|(_, why)| why.as_str())
    }

    #[test]
    fn a_has_dotenv_becomes_the_brokers_variables_and_runtime_config() {
        let conversion = convert(&read_dotenv(DOTENV), &files);
        let expected = [
            ("svc_base_uri", "https://auth.example.com"),
            ("login_timeout", "60"),
            ("oidc_issuer_uri", "https://login.example.com/realms/p4"),
            ("oidc_provider_origin", "https://login.example.com"),
            ("oidc_client_id", "p4-broker"),
            ("oidc_client_secret", "oidc-secret-value"),
            // The files' contents, as read: private_key_jwt.
            ("oidc_client_key", "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"),
            ("oidc_client_cert", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
            ("saml_idp_metadata_url", "https://saml.example.com/metadata"),
            ("saml_idp_origin", "https://saml.example.com"),
            ("saml_want_assertion_signed", "true"),
            ("default_protocol", "oidc"),
            ("client_cert_cn", "LoginExtension"),
            ("force_authn", "true"),
            ("saml_idp_slo_url", "https://saml.example.com/slo"),
            // HAS's defaults, which its identity provider registration relies on.
            ("saml_sp_entity_id", "https://has.example.com"),
            ("saml_authn_context", "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"),
        ];
        for (name, value) in expected {
            assert_eq!(variable(&conversion, name), Some(value), "{name}");
        }
        assert_eq!(
            conversion.runtime_config.as_deref(),
            Some("[key_value_store.default]\ntype = \"redis\"\nurl = \"redis://redis.internal:6379\"\n")
        );
        for (setting, why) in [
            ("SESSION_SECRET", "state_key"),
            ("CA_CERT_FILE", "ssl_client_certificate"),
            ("SAML_NAMEID_FIELD", "only as an identity provider"),
            ("ADMIN_ENABLED", "administration"),
        ] {
            assert!(left_out(&conversion, setting).is_some_and(|text| text.contains(why)), "{setting}: {:?}", conversion.left_out);
        }
        assert!(!conversion.variables.iter().any(|(_, value)| value.contains("keyboard cat")), "HAS's session secret is not reused");
    }

    #[test]
    fn the_saml_key_pair_carries_over_with_hass_fallback_to_its_tls_pair() {
        let with = |extra: &[(&str, &str)]| -> Vec<(String, String)> {
            [("SAML_IDP_METADATA_URL", "https://saml.example.com/metadata"), ("SP_KEY_ALGO", "sha512")]
                .iter()
                .chain(extra)
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect()
        };
        let conversion = convert(&with(&[("SAML_KEY_FILE", "certs/sp.key"), ("SAML_CERT_FILE", "certs/sp.crt")]), &files);
        assert!(variable(&conversion, "saml_sp_key").is_some_and(|key| key.contains("SPKEY")));
        assert!(variable(&conversion, "saml_sp_cert").is_some_and(|cert| cert.contains("SPCERT")));
        assert_eq!(variable(&conversion, "sp_key_algo"), Some("sha512"));
        // As HAS: without SAML_*_FILE, the TLS pair is the SAML pair.
        let conversion = convert(&with(&[("KEY_FILE", "certs/sp.key"), ("CERT_FILE", "certs/sp.crt")]), &files);
        assert!(variable(&conversion, "saml_sp_key").is_some_and(|key| key.contains("SPKEY")));
        assert!(left_out(&conversion, "CERT_FILE").is_some_and(|why| why.contains("also the SAML certificate")));
        let conversion = convert(&with(&[("SAML_KEY_FILE", "missing.key"), ("SAML_CERT_FILE", "certs/sp.crt")]), &files);
        assert!(variable(&conversion, "saml_sp_key").is_none());
        assert!(left_out(&conversion, "SAML_KEY_FILE").is_some_and(|why| why.contains("cannot read missing.key")));
        // Without a SAML identity provider, the pair serves nothing.
        let settings = [("SAML_KEY_FILE".to_owned(), "certs/sp.key".to_owned())];
        assert!(left_out(&convert(&settings, &files), "SAML_KEY_FILE").is_some_and(|why| why.contains("no SAML identity provider")));
    }

    #[test]
    fn auth_providers_keep_has_form_with_files_read_in_and_their_origins_allowed() {
        let settings = [(
            "AUTH_PROVIDERS".to_owned(),
            r#"{"providers": [
                {"label": "Partners", "issuerUri": "https://login.partners.example/oauth2", "clientId": "p4", "clientSecretFile": "secrets/partner", "forceAuthn": "true"},
                {"label": "Corporate", "metadataUrl": "https://saml.example.com/md", "idpCertFile": "idp.pem"},
                {"label": "Entra", "issuerUri": "https://login.partners.example/tenant/v2.0", "clientId": "p4", "clientKeyFile": "partner.key", "clientCertFile": "partner.crt"}
            ]}"#
                .to_owned(),
        )];
        let conversion = convert(&settings, &files);
        let providers: Value = serde_json::from_str(variable(&conversion, "auth_providers").unwrap()).unwrap();
        let entries = providers["providers"].as_array().unwrap();
        assert_eq!((entries[0]["clientSecret"].as_str(), entries[0]["forceAuthn"].as_str()), (Some("partner-secret"), Some("true")));
        assert!(entries[1]["idpCert"].as_str().unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(entries[0].get("clientSecretFile").is_none() && entries[1].get("idpCertFile").is_none());
        assert!(entries[2]["clientKey"].as_str().unwrap().starts_with("-----BEGIN PRIVATE KEY-----"), "private_key_jwt's key, read in");
        assert!(entries[2]["clientCert"].as_str().unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(entries[2].get("clientKeyFile").is_none() && entries[2].get("clientCertFile").is_none());
        assert_eq!(variable(&conversion, "auth_provider_origin_a"), Some("https://login.partners.example"));
        assert_eq!(variable(&conversion, "auth_provider_origin_b"), Some("https://saml.example.com"));
        assert!(left_out(&conversion, "AUTH_PROVIDERS").is_none(), "{:?}", conversion.left_out);
    }

    #[test]
    fn a_has_config_toml_reads_as_its_dotenv_would() {
        let toml = r#"
svc_base_uri = 'https://auth.example.com'
OIDC_ISSUER_URI = 'https://login.example.com'
login_timeout = 90
saml_want_response_signed = false

[logging]
level = 'info'

[[auth_providers]]
issuer_uri = 'https://oidc.example.com'
client_id = 'client-id'
client_secret = 'client-secret'

[[auth_providers]]
sp_entity_id = 'urn:example:sp'
want_assertion_signed = false
metadata_url = 'https://saml.example.com'
"#;
        let conversion = convert(&read_toml(toml).unwrap(), &files);
        assert_eq!(variable(&conversion, "login_timeout"), Some("90"));
        assert_eq!(variable(&conversion, "saml_want_response_signed"), Some("false"));
        let providers: Value = serde_json::from_str(variable(&conversion, "auth_providers").unwrap()).unwrap();
        assert_eq!(providers["providers"][0]["issuerUri"], "https://oidc.example.com", "HAS's camelCase names");
        assert_eq!(providers["providers"][1]["wantAssertionSigned"], false);
        // The classic OIDC_ISSUER_URI joins the list, as HAS merges it, with its origin allowed.
        assert_eq!(
            (&providers["providers"][2]["id"], &providers["providers"][2]["issuerUri"]),
            (&"oidc".into(), &"https://login.example.com".into())
        );
        assert_eq!(variable(&conversion, "oidc_issuer_uri"), None);
        assert_eq!(variable(&conversion, "auth_provider_origin_c"), Some("https://login.example.com"));
        assert!(left_out(&conversion, "LOGGING").is_some());
        assert!(read_toml("not = [toml").is_err());
    }

    #[test]
    fn what_cannot_be_carried_says_why() {
        let settings: Vec<(String, String)> = [
            ("SVC_BASE_URI", "https://example.com/auth"),
            ("REDIS_URL", "unix:///var/run/redis.sock"),
            ("OIDC_CLIENT_SECRET_FILE", "missing"),
            ("PROTOCOL", "https"),
        ]
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
        let conversion = convert(&settings, &files);
        assert!(conversion.variables.is_empty() && conversion.runtime_config.is_none(), "{conversion:?}");
        assert!(left_out(&conversion, "SVC_BASE_URI").unwrap().contains("origin of its own"));
        assert!(left_out(&conversion, "REDIS_URL").unwrap().contains("rediss://"));
        assert!(left_out(&conversion, "OIDC_CLIENT_SECRET_FILE").unwrap().contains("cannot read missing"));
        assert!(left_out(&conversion, "PROTOCOL").unwrap().contains("TLS front"));
        // HAS's SAML defaults only for a HAS that was a SAML service provider, and only where not set.
        let saml = |extra: (&str, &str)| {
            let settings: Vec<(String, String)> = [("SAML_IDP_SSO_URL", "https://idp.example.com/sso"), extra]
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect();
            convert(&settings, &files)
        };
        let own = saml(("SAML_SP_ENTITY_ID", "urn:p4:sp"));
        assert_eq!(variable(&own, "saml_sp_entity_id"), Some("urn:p4:sp"));
        assert!(variable(&saml(("SAML_DISABLE_CONTEXT", "true")), "saml_authn_context").is_none());
        assert_eq!(shell_quoted("it's"), r"'it'\''s'");
    }
}

//! from-has on configurations shaped as HAS's own examples (example.env, test/dot.env,
//! example.toml, TomlSource's tests, a .env as HAS's web administration writes it), with
//! values of our own: what it prints, what it leaves out and why, and the providers the
//! broker's own settings parser makes of its variables.

use std::collections::HashMap;

use base64::Engine;
use from_has::{Conversion, convert, read_dotenv, read_toml};
use login_broker_core::protocol::registry::Protocol;
use login_broker_core::settings::table::VARIABLES;
use login_broker_core::settings::{Config, read_settings_json};

const PASSWORD_PROTECTED_TRANSPORT: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";

fn idp_cert() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/saml-idp-cert.pem")).unwrap()
}

/// The files a HAS configuration names, by the name it gives.
fn files(name: &str) -> Result<String, String> {
    match name {
        "secrets/zenith.txt" => Ok("zenith-secret-from-file\n".into()),
        "certs/beacon-idp.pem" => Ok(idp_cert()),
        "providers.json" => Ok(r#"{"providers": [
                {"label": "Zenith", "issuerUri": "https://login.zenith.example/oauth2", "clientId": "zenith-client", "clientSecretFile": "secrets/zenith.txt"},
                {"idpEntityId": "urn:beacon:idp", "signonUrl": "https://sso.beacon.example/saml/login", "idpCertFile": "certs/beacon-idp.pem", "wantResponseSigned": "false"}
            ]}"#
        .into()),
        _ => Err(format!("cannot read {name}")),
    }
}

fn variable<'c>(conversion: &'c Conversion, name: &str) -> Option<&'c str> {
    conversion.variables.iter().find(|(variable, _)| variable == name).map(|(_, value)| value.as_str())
}

fn left_out<'c>(conversion: &'c Conversion, setting: &str) -> Option<&'c str> {
    conversion.left_out.iter().find(|(name, _)| name == setting).map(|(_, why)| why.as_str())
}

/// The broker's settings from the conversion's variables, over spin.toml's defaults
/// (and a state key, which from-has prints a command for).
fn broker_config(conversion: &Conversion) -> Config {
    let mut values: HashMap<&str, String> = VARIABLES.iter().map(|variable| (variable.name, variable.default.to_owned())).collect();
    values.insert("state_key", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".to_owned());
    for (name, value) in &conversion.variables {
        values.insert(name.as_str(), value.clone());
    }
    Config::parse(|name| values.get(name).cloned()).unwrap_or_else(|errors| panic!("{errors}"))
}

/// The same, from the conversion as one `settings_json` (`--settings-json`) and its
/// origins beside it, read by the broker's own reader.
fn broker_config_from_settings_json(conversion: &Conversion) -> Config {
    let (mut object, origins) = conversion.in_settings_json();
    assert!(origins.iter().all(|(name, _)| name.contains("_origin")) && !origins.is_empty(), "{origins:?}");
    object.insert("state_key".into(), "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into());
    let mut values = read_settings_json(&serde_json::Value::Object(object).to_string()).unwrap_or_else(|error| panic!("{error}"));
    values.extend(origins);
    Config::parse(|name| values.get(name).cloned()).unwrap_or_else(|errors| panic!("{errors}"))
}

/// Each provider as `(id, has_id, label, protocol)`.
fn summary(config: &Config) -> Vec<(String, Option<String>, String, &'static str)> {
    config
        .providers
        .iter()
        .map(|p| (p.id.as_str().to_owned(), p.has_id.as_ref().map(|id| id.as_str().to_owned()), p.label.clone(), p.protocol.name()))
        .collect()
}

fn provider(id: &str, label: &str, protocol: &'static str) -> (String, Option<String>, String, &'static str) {
    (id.to_owned(), None, label.to_owned(), protocol)
}

#[test]
fn a_dotenv_as_hass_web_administration_writes_it_loads_the_providers_has_made() {
    // HAS writes every value with quotes or `#` in it as base64: AUTH_PROVIDERS always.
    let providers = r#"{"providers": [
        {"label": "Zenith", "issuerUri": "https://login.zenith.example/oauth2", "clientId": "zenith-client", "clientSecret": "zenith-secret"},
        {"label": "Beacon", "metadataUrl": "https://idp.beacon.example/federation/metadata", "nameIdFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"}
    ]}"#;
    let dotenv = format!(
        "# written by HAS\nAUTH_PROVIDERS='base64:{}'\nAUTH_PROVIDERS_FILE=\nCA_CERT_FILE='certs/ca.crt'\nBEARER_TOKEN='feline token'\n\
         CLIENT_CERT_CN='HarborExtension'\nDEFAULT_PROTOCOL=\nOIDC_ISSUER_URI=\nSVC_BASE_URI='https://auth.harbor.example'\n\
         VALIDATE_ENABLED=true\n",
        base64::engine::general_purpose::STANDARD.encode(providers)
    );
    let conversion = convert(&read_dotenv(&dotenv), &files);
    assert_eq!(variable(&conversion, "svc_base_uri"), Some("https://auth.harbor.example"));
    assert_eq!(variable(&conversion, "client_cert_cn"), Some("HarborExtension"));
    assert_eq!(variable(&conversion, "auth_provider_origin_a"), Some("https://login.zenith.example"));
    assert_eq!(variable(&conversion, "auth_provider_origin_b"), Some("https://idp.beacon.example"));
    assert_eq!(variable(&conversion, "oidc_issuer_uri"), None, "empty settings, as test/dot.env clears them, carry nothing");
    assert!(conversion.runtime_config.is_none());
    assert!(left_out(&conversion, "CA_CERT_FILE").is_some_and(|why| why.contains("ssl_client_certificate")));
    for setting in ["BEARER_TOKEN", "VALIDATE_ENABLED"] {
        assert!(left_out(&conversion, setting).is_some_and(|why| why.contains("not a setting the broker has")), "{setting}");
    }
    assert_eq!(conversion.left_out.len(), 3, "{:?}", conversion.left_out);

    let config = broker_config(&conversion);
    assert_eq!(summary(&config), [provider("oidc-1", "Zenith", "oidc"), provider("saml-0", "Beacon", "saml")]);
    assert_eq!(format!("{:?}", broker_config_from_settings_json(&conversion)), format!("{config:?}"), "one variable or many");
    let Protocol::Saml(beacon) = &config.providers.iter().nth(1).unwrap().protocol else { panic!("SAML") };
    // HAS's defaults for an entry, which the identity provider's registration relies on.
    assert_eq!(beacon.sp_entity_id.as_deref(), Some("https://has.example.com"));
    assert_eq!(beacon.authn_context, [PASSWORD_PROTECTED_TRANSPORT]);
    assert_eq!(beacon.name_id_format, "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress");
}

#[test]
fn a_config_toml_like_hass_example_loads_the_providers_has_made() {
    // example.toml's [[auth_providers]] (snake_case), TomlSource's camelCase, and tables
    // the broker has no use for.
    let toml = r#"
svc_base_uri = 'https://auth.harbor.example'
login_timeout = 90

[[auth_providers]]
issuer_uri = 'https://login.zenith.example'
client_id = 'zenith-client'
client_secret = 'zenith-secret'

[[auth_providers]]
label = "Beacon"
spEntityId = 'urn:harbor:sp'
want_assertion_signed = false
metadata_url = 'https://idp.beacon.example/metadata'
disable_context = true
authn_context = ['urn:oasis:names:tc:SAML:2.0:ac:classes:X509']

[logging]
level = 'warn'

[idp_config.'urn:harbor-swarm:sp']
acs_url = 'https://swarm.harbor.example/api/v10/session'
"#;
    let conversion = convert(&read_toml(toml).unwrap(), &files);
    assert_eq!(variable(&conversion, "login_timeout"), Some("90"));
    let list: serde_json::Value = serde_json::from_str(variable(&conversion, "auth_providers").unwrap()).unwrap();
    let beacon = &list["providers"][1];
    assert_eq!((&beacon["spEntityId"], &beacon["wantAssertionSigned"]), (&"urn:harbor:sp".into(), &false.into()), "kept as given");
    assert!(left_out(&conversion, "LOGGING").is_some() && left_out(&conversion, "IDP_CONFIG").is_some(), "{:?}", conversion.left_out);

    let config = broker_config(&conversion);
    assert_eq!(summary(&config), [provider("oidc-1", "login.zenith.example", "oidc"), provider("saml-0", "Beacon", "saml")]);
    let Protocol::Saml(beacon) = &config.providers.iter().nth(1).unwrap().protocol else { panic!("SAML") };
    assert_eq!(beacon.sp_entity_id.as_deref(), Some("urn:harbor:sp"));
    assert!(!beacon.want_assertion_signed && beacon.want_response_signed);
    assert!(beacon.authn_context.is_empty(), "disable_context, as in HAS");
}

#[test]
fn an_auth_providers_file_with_file_fields_loads_with_the_files_read_in() {
    let conversion = convert(&read_dotenv("AUTH_PROVIDERS_FILE=providers.json\nSAML_KEY_FILE=certs/missing.key\n"), &files);
    assert!(conversion.left_out.iter().all(|(setting, _)| setting == "SAML_KEY_FILE"), "{:?}", conversion.left_out);
    assert_eq!(variable(&conversion, "auth_provider_origin_a"), Some("https://login.zenith.example"));
    let list = variable(&conversion, "auth_providers").unwrap();
    assert!(list.contains("zenith-secret-from-file") && !list.contains("clientSecretFile") && !list.contains("idpCertFile"));

    let config = broker_config(&conversion);
    // HAS labels the SAML entry by its sign-on URL's host: `urn:…` has none.
    assert_eq!(summary(&config), [provider("oidc-1", "Zenith", "oidc"), provider("saml-0", "sso.beacon.example", "saml")]);
    let Protocol::Saml(beacon) = &config.providers.iter().nth(1).unwrap().protocol else { panic!("SAML") };
    assert_eq!((beacon.entity_id.as_deref(), beacon.keys.len()), (Some("urn:beacon:idp"), 1));
    assert!(!beacon.want_response_signed && beacon.want_assertion_signed);
}

#[test]
fn hass_classic_saml_settings_carry_over_inline_and_load() {
    // example.env's SAML_IDP_METADATA and IDP_CERT (inline), with HAS's defaults kept.
    let metadata = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/saml/idp-metadata.xml")).unwrap();
    let settings = vec![
        ("SAML_IDP_METADATA".to_owned(), base64::engine::general_purpose::STANDARD.encode(&metadata)),
        ("IDP_CERT".to_owned(), idp_cert()),
        ("SAML_INFO_LABEL".to_owned(), "Beacon".to_owned()),
    ];
    let conversion = convert(&settings, &files);
    assert!(conversion.left_out.is_empty(), "{:?}", conversion.left_out);
    assert_eq!(variable(&conversion, "saml_idp_cert"), Some(idp_cert().trim()));
    let config = broker_config(&conversion);
    assert_eq!(summary(&config), [provider("saml", "Beacon", "saml")]);
    let Protocol::Saml(beacon) = &config.providers.iter().next().unwrap().protocol else { panic!("SAML") };
    assert_eq!(beacon.entity_id.as_deref(), Some("https://idp.example.com/metadata"), "HAS's older base64 metadata, decoded");
    assert_eq!(beacon.sp_entity_id.as_deref(), Some("https://has.example.com"));
}

/// HAS merges its classic settings into `AUTH_PROVIDERS` (as in its GetAuthProviders
/// tests): the converter writes the merged list, and the broker loads what HAS would.
#[test]
fn classic_settings_beside_auth_providers_join_the_list_as_has_merges_them() {
    let dotenv = r#"
AUTH_PROVIDERS='{"providers": [{"label": "Zenith", "issuerUri": "https://login.zenith.example/oauth2", "clientId": "zenith-client", "clientSecret": "zenith-secret"}]}'
OIDC_ISSUER_URI=https://login.orbit.example/
OIDC_CLIENT_ID=orbit-client
OIDC_CLIENT_SECRET_FILE=secrets/zenith.txt
OIDC_INFO_LABEL=Orbit
SAML_IDP_METADATA_URL=https://sso.beacon.example/metadata
SAML_IDP_ENTITY_ID=urn:beacon:idp
DEFAULT_PROTOCOL=saml
"#;
    let conversion = convert(&read_dotenv(dotenv), &files);
    for classic in ["oidc_issuer_uri", "oidc_client_id", "oidc_client_secret", "saml_idp_metadata_url", "saml_idp_entity_id"] {
        assert_eq!(variable(&conversion, classic), None, "{classic} moved into auth_providers");
    }
    let list: serde_json::Value = serde_json::from_str(variable(&conversion, "auth_providers").unwrap()).unwrap();
    let entries = list["providers"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "{list}");
    assert_eq!((&entries[1]["id"], &entries[1]["clientSecret"]), (&"oidc".into(), &"zenith-secret-from-file".into()), "{list}");
    assert_eq!((&entries[2]["id"], &entries[2]["default"]), (&"saml".into(), &true.into()), "{list}");
    assert!(conversion.left_out.is_empty(), "{:?}", conversion.left_out);

    let config = broker_config(&conversion);
    let ids: Vec<(String, String)> = summary(&config).into_iter().map(|(id, _, label, _)| (id, label)).collect();
    assert!(ids.contains(&("oidc".to_owned(), "Orbit".to_owned())) && ids.iter().any(|(id, _)| id == "saml"), "{ids:?}");
    let default = config.providers.iter().find(|provider| provider.is_default).expect("DEFAULT_PROTOCOL's provider");
    assert_eq!(default.id.as_str(), "saml");
    assert!(matches!(&default.protocol, Protocol::Saml(saml) if saml.entity_id.as_deref() == Some("urn:beacon:idp")));
}

//! HAS's `AUTH_PROVIDERS` as its documentation and its tests write it, one shape per
//! test (with values of our own), loading to the providers HAS makes of it: the same
//! ids (or HAS's as the `has_id` alias), labels, protocols and default. Where HAS's tests
//! say what HAS makes of a shape, the broker must make the same.

use openidconnect::core::CoreJwsSigningAlgorithm;

use super::tests::{fixture, idp_cert, parse_with};
use super::{Config, ConfigErrors};
use crate::base::ids::ProviderId;
use crate::protocol::oidc::settings::OidcConfig;
use crate::protocol::registry::{Choice, IdentityProvider, Protocol};
use crate::protocol::saml::settings::SamlConfig;

/// `auth_providers` set to `list`, with `origins` for the broker to reach.
fn load(list: &str, origins: &[&str]) -> Result<Config, ConfigErrors> {
    let origin_variables = ["auth_provider_origin_a", "auth_provider_origin_b", "auth_provider_origin_c"];
    let mut variables: Vec<(&'static str, &str)> = origin_variables.into_iter().zip(origins.iter().copied()).collect();
    variables.push(("auth_providers", list));
    parse_with(&variables)
}

/// Each provider as `(id, has_id, label, protocol, is_default)`, in the list's order.
fn summary(config: &Config) -> Vec<(String, Option<String>, String, &'static str, bool)> {
    config
        .providers
        .iter()
        .map(|provider| {
            let has_id = provider.has_id.as_ref().map(|id| id.as_str().to_owned());
            (provider.id.as_str().to_owned(), has_id, provider.label.clone(), provider.protocol.name(), provider.is_default)
        })
        .collect()
}

fn entry(id: &str, has_id: Option<&str>, label: &str, protocol: &'static str) -> (String, Option<String>, String, &'static str, bool) {
    (id.to_owned(), has_id.map(str::to_owned), label.to_owned(), protocol, false)
}

fn provider(config: &Config, index: usize) -> &IdentityProvider {
    config.providers.iter().nth(index).expect("the provider")
}

fn oidc(config: &Config, index: usize) -> &OidcConfig {
    let Protocol::Oidc(oidc) = &provider(config, index).protocol else { panic!("provider {index} is not OpenID Connect") };
    oidc
}

fn saml(config: &Config, index: usize) -> &SamlConfig {
    let Protocol::Saml(saml) = &provider(config, index).protocol else { panic!("provider {index} is not SAML") };
    saml
}

/// The provider a client naming `id` gets.
fn chosen(config: &Config, id: &str) -> String {
    match config.providers.choose(Some(&ProviderId::parse(id).unwrap())) {
        Choice::Provider(provider) => provider.label.clone(),
        other => panic!("{id}: {other:?}"),
    }
}

fn refusal(list: &str, origins: &[&str]) -> String {
    let errors = load(list, origins).unwrap_err();
    assert!(errors.0.iter().all(|error| error.variable == "auth_providers"), "{errors}");
    errors.to_string()
}

const EMAIL_FORMAT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
const UNSPECIFIED_CONTEXT: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified";

/// One OpenID provider and one SAML identity provider as HAS's TidyAuthProviders and
/// GetAuthProviders tests write them: no ids, no protocols.
const OIDC_AND_SAML: &str = r#"[
    {"label": "Zenith", "issuerUri": "https://login.zenith.example", "clientId": "zenith-client", "clientSecret": "zenith-secret"},
    {"label": "Beacon", "metadataUrl": "https://idp.beacon.example/federation/metadata",
     "nameIdFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
     "authnContext": "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"}
]"#;
const ZENITH_AND_BEACON: [&str; 2] = ["https://login.zenith.example", "https://idp.beacon.example"];

#[test]
fn entries_without_ids_or_protocols_are_numbered_by_label_with_the_protocol_an_issuer_implies() {
    let config = load(OIDC_AND_SAML, &ZENITH_AND_BEACON).unwrap();
    // HAS: Beacon before Zenith, so saml-0 and oidc-1.
    assert_eq!(summary(&config), [entry("oidc-1", None, "Zenith", "oidc"), entry("saml-0", None, "Beacon", "saml")]);
    let zenith = oidc(&config, 0);
    assert_eq!((zenith.issuer.as_str(), zenith.client_id.as_str()), ("https://login.zenith.example", "zenith-client"));
    assert!(!zenith.select_account && !zenith.force_authn, "HAS's defaults");
    let beacon = saml(&config, 1);
    assert_eq!(beacon.metadata_url.as_deref(), Some("https://idp.beacon.example/federation/metadata"));
    assert_eq!(
        (beacon.name_id_format.as_str(), beacon.authn_context.as_slice()),
        (EMAIL_FORMAT, [UNSPECIFIED_CONTEXT.to_owned()].as_slice())
    );
    assert!(beacon.want_assertion_signed && beacon.want_response_signed && !beacon.force_authn, "HAS's defaults");
    assert_eq!(config.providers.choose(None), Choice::AskTheUser, "no default: the person chooses");
}

#[test]
fn the_providers_wrapper_hass_own_files_write_loads_as_the_bare_list() {
    // HAS's .env and AUTH_PROVIDERS_FILE hold {"providers": [...]}.
    let wrapped = format!(r#"{{"providers": {OIDC_AND_SAML}}}"#);
    let bare = load(OIDC_AND_SAML, &ZENITH_AND_BEACON).unwrap();
    let config = load(&wrapped, &ZENITH_AND_BEACON).unwrap();
    assert_eq!(summary(&config), summary(&bare));
    assert_eq!(format!("{:?}", config.providers), format!("{:?}", bare.providers));
}

#[test]
fn entries_named_after_their_protocol_keep_the_name_and_get_their_hosts_as_labels() {
    let list = r#"[
        {"id": "oidc", "protocol": "oidc", "issuerUri": "https://sso.harbor.example/issuer", "clientId": "harbor", "clientSecret": "harbor-secret"},
        {"id": "saml", "protocol": "saml", "metadataUrl": "https://idp.summit.example/saml/metadata"}
    ]"#;
    let config = load(list, &["https://sso.harbor.example", "https://idp.summit.example"]).unwrap();
    assert_eq!(summary(&config), [entry("oidc", None, "sso.harbor.example", "oidc"), entry("saml", None, "idp.summit.example", "saml")]);
}

#[test]
fn an_entity_id_without_a_host_gives_no_label_so_the_sign_on_url_names_the_provider() {
    // GetSamlConfiguration's minimal provider: HAS reads `urn:…` as a URL without a host.
    let list = format!(
        r#"[{{"id": "saml", "idpEntityId": "urn:summit:idp", "signonUrl": "https://sso.summit.example/saml/login", "idpCert": {}}}]"#,
        serde_json::to_string(&idp_cert()).unwrap()
    );
    let config = load(&list, &[]).unwrap();
    assert_eq!(summary(&config), [entry("saml", None, "sso.summit.example", "saml")]);
    let summit = saml(&config, 0);
    assert_eq!(summit.entity_id.as_deref(), Some("urn:summit:idp"));
    assert_eq!(summit.sso_url.as_deref(), Some("https://sso.summit.example/saml/login"));
    assert_eq!(summit.keys.len(), 1);
    assert!(summit.want_assertion_signed && summit.want_response_signed && !summit.force_authn);
    // A name that is no URL at all is the label itself, as in HAS.
    let plain = list.replace("urn:summit:idp", "summit-idp");
    assert_eq!(summary(&load(&plain, &[]).unwrap())[0].2, "summit-idp");
}

#[test]
fn inline_metadata_as_xml_or_as_hass_older_base64_names_the_provider_by_its_entity_id() {
    use base64::Engine;
    let xml = fixture("saml/idp-metadata.xml");
    let base64 = base64::engine::general_purpose::STANDARD.encode(&xml);
    for metadata in [xml.as_str(), base64.as_str()] {
        let list = format!(r#"[{{"protocol": "saml", "metadata": {}}}]"#, serde_json::to_string(metadata).unwrap());
        let config = load(&list, &[]).unwrap();
        // HAS labels it with the metadata's entity id, whole.
        assert_eq!(summary(&config), [entry("saml-0", None, "https://idp.example.com/metadata", "saml")]);
        let idp = saml(&config, 0);
        assert_eq!(idp.entity_id.as_deref(), Some("https://idp.example.com/metadata"));
        assert_eq!(idp.sso_url.as_deref(), Some("https://idp.example.com/sso"));
        assert!(!idp.keys.is_empty(), "the metadata's signing certificate");
    }
}

#[test]
fn given_ids_are_kept_but_never_one_another_entry_has_from_has() {
    // GenerateLoginUrl's two SAML entries with ids HAS replaces: Harbor saml-0, Summit saml-1.
    let list = r#"[
        {"label": "Harbor", "protocol": "saml", "metadataUrl": "https://idp.harbor.example/md", "id": "saml-1"},
        {"label": "Summit", "protocol": "saml", "metadataUrl": "https://idp.summit.example/md", "id": "saml-2"}
    ]"#;
    let config = load(list, &["https://idp.harbor.example", "https://idp.summit.example"]).unwrap();
    assert_eq!(summary(&config), [entry("saml-0", None, "Harbor", "saml"), entry("saml-2", Some("saml-1"), "Summit", "saml")]);
    assert_eq!(
        (chosen(&config, "saml-0"), chosen(&config, "saml-1"), chosen(&config, "saml-2")),
        ("Harbor".into(), "Summit".into(), "Summit".into())
    );

    // TidyAuthProviders: `saml` among several SAML entries is no HAS id; `sammy` neither.
    let list = r#"[
        {"protocol": "oidc", "issuerUri": "https://sso.zenith.example/issuer", "clientId": "zenith", "clientSecret": "zenith-secret"},
        {"protocol": "saml", "metadataUrl": "https://alpha.beacon.example/md", "id": "sammy"},
        {"protocol": "saml", "metadataUrl": "https://beta.beacon.example/md", "id": "saml"}
    ]"#;
    let origins = ["https://sso.zenith.example", "https://alpha.beacon.example", "https://beta.beacon.example"];
    let config = load(list, &origins).unwrap();
    assert_eq!(
        summary(&config),
        [
            entry("oidc-2", None, "sso.zenith.example", "oidc"),
            entry("sammy", Some("saml-0"), "alpha.beacon.example", "saml"),
            entry("saml", Some("saml-1"), "beta.beacon.example", "saml"),
        ]
    );
}

#[test]
fn what_hass_rest_api_lists_loads_back_with_its_ids_flags_and_default() {
    // GET /settings/providers: ids, protocols, HAS's defaults spelled out, a default.
    let list = r#"{"providers": [
        {"clientId": "harbor-client", "clientSecret": "harbor-secret", "label": "sso.harbor.example",
         "issuerUri": "https://sso.harbor.example/issuer", "selectAccount": true, "signingAlgo": "RS256", "protocol": "oidc", "id": "oidc"},
        {"authnContext": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
         "metadataUrl": "https://idp.summit.example/metadata", "label": "idp.summit.example",
         "nameIdFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified", "spEntityId": "https://p4.summit.example",
         "wantAssertionSigned": true, "wantResponseSigned": true, "keyAlgorithm": "sha256",
         "protocol": "saml", "id": "saml", "default": true}
    ]}"#;
    let config = load(list, &["https://sso.harbor.example", "https://idp.summit.example"]).unwrap();
    let mut expected = [entry("oidc", None, "sso.harbor.example", "oidc"), entry("saml", None, "idp.summit.example", "saml")];
    expected[1].4 = true;
    assert_eq!(summary(&config), expected);
    assert!(matches!(config.providers.choose(None), Choice::Provider(p) if p.id.as_str() == "saml"));
    let harbor = oidc(&config, 0);
    assert!(harbor.select_account);
    assert_eq!(harbor.signing_algs, [CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256]);
    let summit = saml(&config, 1);
    assert_eq!(summit.sp_entity_id.as_deref(), Some("https://p4.summit.example"));
    assert_eq!(summit.authn_context, ["urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"]);
}

#[test]
fn the_rest_apis_minimal_entry_and_empty_fields_get_hass_id_and_label() {
    // POST /settings/providers's body; HAS drops empty values, so "" is no id and no label.
    for list in [
        r#"[{"clientId": "zenith-client", "clientSecret": "zenith-secret", "issuerUri": "https://login.zenith.example/issuer"}]"#,
        r#"[{"id": "", "label": " ", "clientId": "zenith-client", "clientSecret": "zenith-secret", "issuerUri": "https://login.zenith.example/issuer"}]"#,
    ] {
        let config = load(list, &["https://login.zenith.example"]).unwrap();
        assert_eq!(summary(&config), [entry("oidc-0", None, "login.zenith.example", "oidc")], "{list}");
        assert!(matches!(config.providers.choose(None), Choice::Provider(_)), "the only provider");
    }
}

#[test]
fn flags_are_booleans_or_their_text_in_any_case_and_anything_else_is_refused_by_name() {
    // TidyAuthProviders and GetSamlConfiguration: "false", "TRUE", true.
    let list = r#"[{"protocol": "saml", "metadataUrl": "https://idp.beacon.example/md",
        "wantAssertionSigned": "TRUE", "wantResponseSigned": "false", "forceAuthn": "True", "disableContext": false}]"#;
    let beacon = load(list, &["https://idp.beacon.example"]).unwrap();
    let flags = saml(&beacon, 0);
    assert!(flags.want_assertion_signed && !flags.want_response_signed && flags.force_authn);
    // HAS takes 1, "on" or "yes" as true (and "no" too): the broker asks for true or false.
    for (field, value) in [("forceAuthn", "1"), ("wantResponseSigned", r#""yes""#)] {
        let list = format!(r#"[{{"protocol": "saml", "metadataUrl": "https://idp.beacon.example/md", "{field}": {value}}}]"#);
        let text = refusal(&list, &["https://idp.beacon.example"]);
        assert!(text.contains(&format!("in provider 1 (saml-0), `{field}` as true or false")), "{text}");
    }
    let list =
        r#"[{"issuerUri": "https://login.zenith.example", "clientId": "z", "clientSecret": "zenith-secret", "selectAccount": "on"}]"#;
    let text = refusal(list, &["https://login.zenith.example"]);
    assert!(text.contains("`selectAccount` as true or false") && !text.contains("zenith-secret"), "{text}");
}

#[test]
fn authentication_contexts_read_as_a_list_a_bracketed_list_or_commas() {
    let contexts = [
        "urn:oasis:names:tc:SAML:2.0:ac:classes:Kerberos",
        "urn:oasis:names:tc:SAML:2.0:ac:classes:X509",
        "urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard",
    ];
    let bracketed = format!("[{}]", contexts.map(|context| format!(r#""{context}""#)).join(", "));
    for authn_context in [
        // TidyAuthProviders: HAS's list encoded in a string.
        serde_json::to_string(&bracketed).unwrap(),
        // A TOML array, as config.toml's [[auth_providers]] gives it.
        serde_json::to_string(&contexts).unwrap(),
        serde_json::to_string(&contexts.join(",")).unwrap(),
    ] {
        let list = format!(r#"[{{"protocol": "saml", "metadataUrl": "https://idp.beacon.example/md", "authnContext": {authn_context}}}]"#);
        let config = load(&list, &["https://idp.beacon.example"]).unwrap();
        assert_eq!(saml(&config, 0).authn_context, contexts, "{authn_context}");
    }
    let disabled =
        r#"[{"protocol": "saml", "metadataUrl": "https://idp.beacon.example/md", "authnContext": "urn:x", "disableContext": "true"}]"#;
    assert!(saml(&load(disabled, &["https://idp.beacon.example"]).unwrap(), 0).authn_context.is_empty(), "HAS's disableContext");
}

#[test]
fn file_fields_hass_tests_use_are_refused_with_what_to_write_instead() {
    // GetAuthProviders: a client certificate and key by file; GetSamlConfiguration: metadata by file.
    let cases = [
        (
            r#"[{"label": "Zenith", "issuerUri": "https://login.zenith.example", "clientId": "z", "clientCertFile": "/etc/has/z.crt", "clientKeyFile": "/etc/has/z.key", "protocol": "oidc"}]"#,
            "in provider 1 (oidc-0), no clientCertFile (the broker reads no files): the PEM certificate itself in clientCert",
        ),
        (
            r#"[{"label": "Zenith", "issuerUri": "https://login.zenith.example", "clientId": "z", "clientSecretFile": "/etc/has/z.secret"}]"#,
            "no clientSecretFile (the broker reads no files): the secret itself in clientSecret",
        ),
        (
            r#"[{"id": "saml", "label": "Beacon", "protocol": "saml", "metadataFile": "/etc/has/beacon.xml"}]"#,
            "in provider 1 (saml), no metadataFile (the broker reads no files): the metadata XML itself in metadata",
        ),
    ];
    for (list, expected) in cases {
        let text = refusal(list, &["https://login.zenith.example"]);
        assert!(text.contains(expected), "{text}");
    }
}

#[test]
fn entries_has_would_drop_as_incomplete_are_refused_by_name() {
    // TidyAuthProviders drops entries holding only defaults; the broker names each.
    let list = r#"[
        {"protocol": "saml", "id": "saml", "metadataUrl": "https://idp.beacon.example/md"},
        {"protocol": "saml", "nameIdFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified", "keyAlgorithm": "sha256"},
        {"protocol": "oidc", "selectAccount": true, "signingAlgo": "RS256"}
    ]"#;
    let text = refusal(list, &["https://idp.beacon.example"]);
    assert!(text.contains("in provider 2 (saml-2), `idpEntityId` as a value, or metadata that gives it"), "{text}");
    assert!(text.contains("in provider 3 (oidc-1), an issuerUri"), "{text}");
}

#[test]
fn classic_settings_beside_auth_providers_are_refused_with_where_to_put_them() {
    // GetAuthProviders merges SAML_IDP_METADATA_URL into AUTH_PROVIDERS; from-has does
    // that merge, and the broker asks for it.
    let list = r#"[{"label": "Zenith", "issuerUri": "https://login.zenith.example", "clientId": "z", "clientSecret": "zenith-secret"}]"#;
    let variables = [
        ("auth_providers", list),
        ("auth_provider_origin_a", "https://login.zenith.example"),
        ("saml_idp_metadata_url", "https://idp.beacon.example/md"),
        ("saml_idp_origin", "https://idp.beacon.example"),
    ];
    let errors = parse_with(&variables).unwrap_err();
    assert_eq!(errors.0.iter().map(|error| error.variable).collect::<Vec<_>>(), ["saml_idp_metadata_url"]);
    assert!(errors.to_string().contains("list the provider in auth_providers instead"), "{errors}");
}

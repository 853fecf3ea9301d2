//! The SAML test equipment itself (crates/testkit/src/saml.rs): the Responses it builds are
//! signed and verified by `xmlsec1`, and the static fixtures in tests/fixtures/saml/ are
//! what it says they are.
//!
//! The fixtures are written by `write_fixtures`, which is `#[ignore]`d; regenerate them
//! with `cargo test --release --test broker -- --ignored saml_signing::write_fixtures`.
//! RSA PKCS#1 v1.5 signatures are deterministic and the fixtures' IDs are fixed, so a
//! regeneration from unchanged code gives the same bytes (`fixtures_are_current`).

use testkit::saml;

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use saml::{Algorithm, Answer, Signed, Signer, idp_cert, other_cert};

const IDP: &str = "https://idp.example.com/metadata";
const ACS: &str = "https://broker.example.com/saml/sso";
const AUDIENCE: &str = "https://broker.example.com/saml/metadata";
const REQUEST: &str = "_lb_test_request";
const USER: &str = "jdoe@example.com";
/// 2027-01-15T10:00:00Z.
const FIXTURE_INSTANT: i64 = 1_800_007_200;

/// The fixtures: file name, which elements are signed, by whom.
fn fixture_set() -> Vec<(&'static str, Signed, Signer)> {
    vec![
        ("signed-both.xml", Signed::Both, Signer::idp()),
        ("signed-response.xml", Signed::Response, Signer::idp()),
        ("signed-assertion.xml", Signed::Assertion, Signer::idp()),
        ("unsigned.xml", Signed::Neither, Signer::idp()),
        ("signed-both-sha1.xml", Signed::Both, Signer::sha1()),
        ("signed-both-other-key.xml", Signed::Both, Signer::other()),
    ]
}

fn fixture_answer() -> Answer {
    Answer {
        response_id: "_r_fixture".into(),
        assertion_id: "_a_fixture".into(),
        session_index: "_s_fixture".into(),
        ..Answer::new(IDP, ACS, AUDIENCE, REQUEST, USER, FIXTURE_INSTANT)
    }
}

fn fixture_path(name: &str) -> PathBuf {
    saml::fixture("saml").join(name)
}

fn fresh() -> Answer {
    Answer::new(IDP, ACS, AUDIENCE, REQUEST, USER, saml::now())
}

#[test]
fn times_are_xs_datetime_utc() {
    assert_eq!(saml::xs_datetime(FIXTURE_INSTANT), "2027-01-15T10:00:00Z");
    assert_eq!(saml::xs_datetime(0), "1970-01-01T00:00:00Z");
    assert_eq!(saml::xs_datetime(951_782_400 + 86_399), "2000-02-29T23:59:59Z");
    assert_eq!(saml::xs_datetime(-1), "1969-12-31T23:59:59Z");
}

#[test]
fn the_template_has_the_saml_layout() {
    let mut answer = fixture_answer();
    answer.attributes.push(("note".into(), vec![r#"<a & "b" 'c'>"#.into()]));
    let xml = saml::template(&answer, &Signed::Both, &Algorithm::RsaSha256);
    let order = [
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r_fixture" Version="2.0" IssueInstant="2027-01-15T10:00:00Z" Destination="https://broker.example.com/saml/sso" InResponseTo="_lb_test_request">"#,
        "<saml:Issuer>https://idp.example.com/metadata</saml:Issuer>",
        r##"<ds:Reference URI="#_r_fixture">"##,
        r#"<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>"#,
        r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a_fixture" Version="2.0" IssueInstant="2027-01-15T10:00:00Z">"#,
        "<saml:Issuer>https://idp.example.com/metadata</saml:Issuer>",
        r##"<ds:Reference URI="#_a_fixture">"##,
        r#"<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">jdoe@example.com</saml:NameID>"#,
        r#"<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData InResponseTo="_lb_test_request" NotOnOrAfter="2027-01-15T10:05:00Z" Recipient="https://broker.example.com/saml/sso"/></saml:SubjectConfirmation></saml:Subject>"#,
        r#"<saml:Conditions NotBefore="2027-01-15T09:59:00Z" NotOnOrAfter="2027-01-15T10:05:00Z"><saml:AudienceRestriction><saml:Audience>https://broker.example.com/saml/metadata</saml:Audience></saml:AudienceRestriction></saml:Conditions>"#,
        r#"<saml:AuthnStatement AuthnInstant="2027-01-15T10:00:00Z" SessionIndex="_s_fixture"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"#,
        r#"<saml:AttributeStatement><saml:Attribute Name="email" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic"><saml:AttributeValue>jdoe@example.com</saml:AttributeValue></saml:Attribute>"#,
        r#"<saml:Attribute Name="groups" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic"><saml:AttributeValue>engineers</saml:AttributeValue><saml:AttributeValue>staff</saml:AttributeValue></saml:Attribute>"#,
        "<saml:AttributeValue>&lt;a &amp; &quot;b&quot; &apos;c&apos;&gt;</saml:AttributeValue>",
        "</saml:AttributeStatement></saml:Assertion></samlp:Response>",
    ];
    let mut at = 0;
    for part in order {
        let found = xml[at..].find(part).unwrap_or_else(|| panic!("{part}\nnot found in order in\n{xml}"));
        at += found + part.len();
    }
    assert!(xml.ends_with("</samlp:Response>"));
}

#[test]
fn signed_both_verifies_under_the_idp_cert_only() {
    let xml = saml::signed(&fresh(), &Signed::Both, &Signer::idp());
    let verification = saml::xmlsec1_verify(&xml, &idp_cert());
    assert!(verification.verified(), "{verification:#?}\n{xml}");
    assert_eq!(verification.signatures.len(), 2);
    assert_eq!(verification.enabled_transforms, "all");
    for check in &verification.signatures {
        assert_eq!(check.signature_method.as_deref(), Some(saml::RSA_SHA256));
        assert_eq!(check.digest_methods, [saml::SHA256]);
    }
    assert!(!saml::xmlsec1_verifies(&xml, &other_cert()));
    // The signing certificate is in KeyInfo, as real IdPs send it.
    assert_eq!(xml.matches("<ds:X509Certificate>").count(), 2);
}

#[test]
fn the_keyinfo_key_is_not_trusted() {
    // Signed by the other key, which its KeyInfo carries (certificate and key value):
    // trusting only the IdP's certificate, xmlsec1 must refuse it.
    let answer = fresh();
    let tmpl = saml::template(&answer, &Signed::Both, &Algorithm::RsaSha256).replace("<ds:X509Data/>", "<ds:KeyValue/><ds:X509Data/>");
    let xml = saml::sign(&tmpl, &Signer::other());
    assert!(xml.contains("<ds:RSAKeyValue>"), "{xml}");
    assert!(saml::xmlsec1_verifies(&xml, &other_cert()));
    assert!(!saml::xmlsec1_verifies(&xml, &idp_cert()));
}

#[test]
fn a_changed_name_id_is_refused() {
    for signed in [Signed::Both, Signed::Response, Signed::Assertion] {
        let xml = saml::signed(&fresh(), &signed, &Signer::idp());
        assert!(saml::xmlsec1_verifies(&xml, &idp_cert()), "{signed:?}");
        let tampered = xml.replacen("jdoe@example.com</saml:NameID>", "jdoe@example.con</saml:NameID>", 1);
        assert_ne!(tampered, xml);
        assert!(!saml::xmlsec1_verifies(&tampered, &idp_cert()), "{signed:?}: a changed NameID still verifies");
    }
}

#[test]
fn each_variant_has_the_signatures_it_names() {
    for signed in [Signed::Both, Signed::Response, Signed::Assertion, Signed::Neither] {
        let answer = fresh();
        let xml = saml::signed(&answer, &signed, &Signer::idp());
        let mut expected = Vec::new();
        if signed.response() {
            expected.push(format!("#{}", answer.response_id));
        }
        if signed.assertion() {
            expected.push(format!("#{}", answer.assertion_id));
        }
        let verification = saml::xmlsec1_verify(&xml, &idp_cert());
        let references: Vec<_> = verification.signatures.iter().flat_map(|s| s.reference_uris.clone()).collect();
        assert_eq!(references, expected, "{signed:?}");
        assert_eq!(saml::signature_count(&xml), expected.len());
        assert_eq!(verification.verified(), signed != Signed::Neither, "{signed:?}: {verification:#?}");
        // Each signature sits right after its element's Issuer.
        let issuer = format!("<saml:Issuer>{IDP}</saml:Issuer>");
        let after_issuer = format!("{issuer}<ds:Signature");
        let placed: Vec<_> = xml.match_indices(&issuer).map(|(i, _)| xml[i..].starts_with(&after_issuer)).collect();
        assert_eq!(placed, [signed.response(), signed.assertion()], "{signed:?}");
    }
}

#[test]
fn sha1_is_signed_and_verified() {
    let xml = saml::signed(&fresh(), &Signed::Both, &Signer::sha1());
    let verification = saml::xmlsec1_verify(&xml, &idp_cert());
    assert!(verification.verified(), "{verification:#?}");
    for check in &verification.signatures {
        assert_eq!(check.signature_method.as_deref(), Some(saml::RSA_SHA1));
        assert_eq!(check.digest_methods, [saml::SHA1]);
    }
}

#[test]
fn a_document_xmlsec1_cannot_read_is_not_verified() {
    assert!(!saml::xmlsec1_verifies("<samlp:Response", &idp_cert()));
    assert!(!saml::xmlsec1_verifies("", &idp_cert()));
    let unsigned = saml::template(&fresh(), &Signed::Neither, &Algorithm::RsaSha256);
    assert!(!saml::xmlsec1_verifies(&unsigned, &idp_cert()));
}

#[test]
fn form_body_round_trips() {
    let xml = saml::signed(&fresh(), &Signed::Both, &Signer::idp());
    let relay_state = "a b&c=d/é+%";
    let body = saml::form_body(&xml, relay_state);
    assert!(body.starts_with("SAMLResponse=") && body.contains("&RelayState="), "{body}");
    let encoded = &body["SAMLResponse=".len()..body.find("&RelayState=").unwrap()];
    assert!(!encoded.contains(['+', '/', '=']), "base64's + / = are percent-encoded: {encoded}");
    let (decoded, decoded_relay) = saml::parse_form_body(&body);
    assert_eq!(decoded, xml);
    assert_eq!(decoded_relay.as_deref(), Some(relay_state));
    // Decoded independently of the module: url's parser and base64.
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    assert_eq!(pairs.len(), 2);
    assert_eq!(STANDARD.decode(&pairs[0].1).unwrap(), xml.as_bytes());
}

#[test]
fn fixtures_verify() {
    for (name, signed, signer) in fixture_set() {
        let xml = std::fs::read_to_string(fixture_path(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let verification = saml::xmlsec1_verify(&xml, &signer.cert);
        let count = usize::from(signed.response()) + usize::from(signed.assertion());
        assert_eq!(verification.signatures.len(), count, "{name}");
        assert_eq!(verification.verified(), count > 0, "{name}: {verification:#?}");
        let trusted_other = signer.cert == other_cert();
        assert_eq!(saml::xmlsec1_verifies(&xml, &idp_cert()), count > 0 && !trusted_other, "{name} under the IdP cert");
        assert_eq!(saml::xmlsec1_verifies(&xml, &other_cert()), count > 0 && trusted_other, "{name} under the other cert");
        for part in ["ID=\"_r_fixture\"", "ID=\"_a_fixture\"", "SessionIndex=\"_s_fixture\"", "IssueInstant=\"2027-01-15T10:00:00Z\""] {
            assert!(xml.contains(part), "{name}: no {part}");
        }
    }
}

#[test]
fn fixtures_are_current() {
    for (name, signed, signer) in fixture_set() {
        let on_disk = std::fs::read_to_string(fixture_path(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let produced = saml::signed(&fixture_answer(), &signed, &signer);
        assert!(
            on_disk == produced,
            "{name} is stale: regenerate with `cargo test --release --test broker -- --ignored saml_signing::write_fixtures`"
        );
    }
}

/// Writes tests/fixtures/saml/*.xml. Run with
/// `cargo test --release --test broker -- --ignored saml_signing::write_fixtures`.
#[test]
#[ignore = "regenerates the fixtures in tests/fixtures/saml/"]
fn write_fixtures() {
    std::fs::create_dir_all(saml::fixture("saml")).unwrap();
    for (name, signed, signer) in fixture_set() {
        // Exactly as produced: signed fixtures are xmlsec1's output byte for byte.
        std::fs::write(fixture_path(name), saml::signed(&fixture_answer(), &signed, &signer)).unwrap();
    }
    // The signed assertion encrypted to the service provider's certificate (a fresh
    // session key each time, so these are not compared by `fixtures_are_current`).
    let signed_assertion = std::fs::read_to_string(fixture_path("signed-assertion.xml")).unwrap();
    for (name, content, transport) in [
        ("encrypted-aes128-gcm.xml", saml::AES128_GCM, saml::RSA_OAEP_MGF1P),
        ("encrypted-aes256-cbc.xml", saml::AES256_CBC, saml::RSA_OAEP_MGF1P),
        ("encrypted-rsa-1_5.xml", saml::AES256_CBC, saml::RSA_1_5),
    ] {
        std::fs::write(fixture_path(name), saml::encrypted(&signed_assertion, &saml::sp_cert(), content, transport)).unwrap();
    }
}

//! What a browser posts to the Assertion Consumer Service, and what a metadata URL
//! serves: parsed and checked the way the broker does, against the test identity
//! provider's key, with the broker's own key pair to open encrypted assertions. Seeded
//! with the signed and encrypted fixtures (`tests/fixtures/saml`), so that mutations
//! reach the decryption, signature and claim checks, not only the parser.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use login_broker_core::protocol::key_pair::KeyPair;
use login_broker_core::protocol::saml::credentials::SpCredentials;
use login_broker_core::protocol::saml::metadata::{certificate_key, parse_idp_metadata, pem_certificates};
use login_broker_core::protocol::saml::response::{Answering, Expected, check};

static KEYS: LazyLock<Vec<rsa_fast::PublicKey>> = LazyLock::new(|| {
    let pem = include_str!("../../tests/fixtures/saml-idp-cert.pem");
    pem_certificates(pem).unwrap_or_default().iter().filter_map(|certificate| certificate_key(certificate)).collect()
});

static OURS: LazyLock<SpCredentials> = LazyLock::new(|| {
    let key = include_str!("../../tests/fixtures/saml-sp-key.pem");
    let cert = include_str!("../../tests/fixtures/saml-sp-cert.pem");
    SpCredentials { current: KeyPair::from_pem(key, cert).expect("the test key pair"), previous: None }
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let expected = Expected {
        idp_entity_id: "https://idp.example.com/metadata",
        answering: Answering::ThisSignIn {
            acs_url: "https://broker.example.com/saml/sso",
            audience: "https://broker.example.com/saml/metadata",
            request_id: "_lb_test_request",
        },
        keys: &KEYS,
        credentials: Some(&OURS),
        // The encrypted seeds sign the assertion only.
        want_response_signed: false,
        want_assertion_signed: true,
        // As the fixtures' AuthnInstant: the fresh-sign-in check is reached too.
        fresh_sign_in_since: Some(1_800_007_200),
        // The fixtures' instant (2027-01-15T10:00:00Z) and a little after.
        now: 1_800_007_210,
    };
    if let Ok(asserted) = check(text, &expected) {
        // Only the identity provider's key makes an answer acceptable.
        assert!(!asserted.name_id.is_empty());
    }
    let _ = parse_idp_metadata(text, None);
});

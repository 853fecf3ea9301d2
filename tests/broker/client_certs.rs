//! HAS's proxy mode: a TLS-terminating proxy forwards the client's certificate in a
//! header; the status route accepts it by fingerprint or by subject CN pattern.

use provider_double::{Key, alice_claims, finish_login, issuing, provider_with, start_broker};
use testkit::provider_double;
use testkit::{Broker, CLIENT_TOKEN, Store};

/// Fingerprint of `tests/fixtures/build-server-1.pem`.
const BUILD_SERVER_1_FP: &str = "1C:EC:5E:B8:E6:68:8D:6D:3E:2D:AA:42:D7:8C:70:31:A6:80:FC:4B:D1:10:78:A0:4E:70:98:83:B2:97:E8:EE";

fn fixture(name: &str) -> String {
    let pem = std::fs::read_to_string(format!("{}/tests/fixtures/{name}.pem", env!("CARGO_MANIFEST_DIR"))).unwrap();
    url::form_urlencoded::byte_serialize(pem.as_bytes()).collect::<String>().replace('+', "%20")
}

fn finished_request(broker: &Broker) -> String {
    let id = broker.login("alice");
    finish_login(broker, &id, "alice");
    id.request
}

/// HAS's rule: the subject CN when `client_cert_cn` is set (the fingerprints are then
/// not consulted), else the SHA-256 fingerprint.
#[test]
fn forwarded_client_certificates_are_accepted_by_common_name_else_by_fingerprint() {
    let provider = provider_with(|issuer| issuing(Key::rsa("k1"), alice_claims(issuer.to_owned())));
    let header = ("client_cert_header", "x-client-cert");
    let fingerprint = ("client_cert_fp", BUILD_SERVER_1_FP);
    let by_name =
        start_broker(Store::Memory, &provider, &[header, fingerprint, ("client_cert_cn", "build-server-2,build-server-expired,deploy-*")]);
    let by_fingerprint = start_broker(Store::Memory, &provider, &[header, fingerprint]);
    let status = |broker: &Broker, certificate: &str| {
        let id = finished_request(broker);
        broker.get_with(&format!("/requests/status/{id}"), &[("x-client-cert", &fixture(certificate))])
    };

    let id = finished_request(&by_name);
    // HAS's answers: no certificate 401, one that cannot be read 400, one not permitted 403.
    for (refused, expected) in [
        (vec![("x-client-cert", fixture("intruder"))], 403),
        (vec![("x-other-header", fixture("build-server-2"))], 401),
        (vec![("x-client-cert", "-----BEGIN%20CERTIFICATE-----%0Agarbage".to_owned())], 400),
        (vec![], 401),
        // An accepted name, but expired in 2021.
        (vec![("x-client-cert", fixture("build-server-expired"))], 403),
        // The proxy's copy and one the client sent: which is which cannot be told.
        (vec![("x-client-cert", fixture("intruder")), ("x-client-cert", fixture("build-server-2"))], 401),
        (vec![("x-client-cert", fixture("build-server-2")), ("x-client-cert", fixture("intruder"))], 401),
    ] {
        let headers: Vec<(&str, &str)> = refused.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let reply = by_name.get_with(&format!("/requests/status/{id}"), &headers);
        assert_eq!(reply.status, expected, "{refused:?}: {}", reply.body);
        if expected == 401 {
            assert!(reply.header("www-authenticate").unwrap().starts_with("Bearer"));
        }
    }
    // By common name; refused attempts took nothing.
    let reply = by_name.get_with(&format!("/requests/status/{id}"), &[("x-client-cert", &fixture("build-server-2"))]);
    assert_eq!((reply.status, reply.json()["sub"].clone()), (200, "alice".into()), "{}", reply.body);
    assert_eq!(status(&by_name, "build-server-1").status, 403, "with names set, a listed fingerprint is not consulted");
    // By fingerprint.
    assert_eq!(status(&by_fingerprint, "build-server-1").status, 200);
    assert_eq!(status(&by_fingerprint, "build-server-2").status, 403);
    // Tokens keep working beside certificates.
    let id = finished_request(&by_name);
    assert_eq!(by_name.get_with_token(&format!("/requests/status/{id}"), CLIENT_TOKEN).status, 200);
}

/// With `client_cert_proxy_secret`, a forwarded certificate counts only beside the secret
/// the proxy adds: a request that reached the broker without passing the proxy cannot
/// present a certificate (they are public) and be believed.
#[test]
fn with_a_proxy_secret_only_the_proxy_can_forward_a_certificate() {
    const SECRET: &str = "proxy-secret-0123456789abcdef";
    let provider = provider_with(|issuer| issuing(Key::rsa("k1"), alice_claims(issuer.to_owned())));
    let broker = start_broker(
        Store::Memory,
        &provider,
        &[("client_cert_header", "x-client-cert"), ("client_cert_fp", BUILD_SERVER_1_FP), ("client_cert_proxy_secret", SECRET)],
    );
    let id = finished_request(&broker);
    let certificate = fixture("build-server-1");
    let status = |headers: &[(&str, &str)]| broker.get_with(&format!("/requests/status/{id}"), headers).status;
    assert_eq!(status(&[("x-client-cert", &certificate)]), 401, "no secret");
    assert_eq!(status(&[("x-client-cert", &certificate), ("x-login-broker-proxy-secret", "guess-0123456789abcdef")]), 401);
    assert_eq!(status(&[("x-client-cert", &certificate), ("x-login-broker-proxy-secret", SECRET)]), 200);
}

//! `private_key_jwt`: the broker authenticates at a real OpenID provider (the
//! `oidc-provider` npm package) with an assertion signed by its key, which the provider
//! checks against the certificate registered for the client (RFC 7523 §2.2). No client
//! secret is configured at either end.

use serde_json::Value;
use testkit::{Broker, OidcProvider, Store, browser, free_port};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(testkit::project_dir().join("tests/fixtures").join(name)).unwrap()
}

/// A broker on a fresh port with the key and certificate in `key_files`, and a provider
/// that knows its callback, started with `provider_flags`.
fn keyed_broker(provider_flags: &[&str], key_files: (&str, &str)) -> (OidcProvider, Broker) {
    let port = free_port();
    let base_url = format!("http://127.0.0.1:{port}");
    let provider = OidcProvider::start(&[format!("{base_url}/oidc/callback")], provider_flags);
    let (key, cert) = (fixture(key_files.0), fixture(key_files.1));
    let mut variables = provider.variables().to_vec();
    variables.retain(|(name, _)| *name != "oidc_client_secret");
    variables.extend([("oidc_client_secret", ""), ("oidc_client_key", &key), ("oidc_client_cert", &cert), ("svc_base_uri", &base_url)]);
    let broker = Broker::start_on(port, Store::Memory, &variables);
    (provider, broker)
}

fn registered_certificate() -> String {
    testkit::project_dir().join("tests/fixtures/oidc-client-cert.pem").to_str().unwrap().to_owned()
}

/// The person signs in with Chromium; the page the browser ends on.
fn sign_in(broker: &Broker) -> (Value, String) {
    let request = broker.new_request("alice");
    let page = browser(&["--url", request["loginUrl"].as_str().unwrap(), "--username", "alice"]);
    (page, request["request"].as_str().unwrap().to_owned())
}

#[test]
fn a_person_signs_in_through_a_client_that_authenticates_with_its_key() {
    let record = std::env::temp_dir().join(format!("login-broker-key-token-requests-{}.jsonl", std::process::id()));
    std::fs::remove_file(&record).ok();
    let certificate = registered_certificate();
    let flags = [
        "--token-endpoint-auth-method",
        "private_key_jwt",
        "--client-certificate",
        &certificate,
        "--record-token-requests",
        record.to_str().unwrap(),
    ];
    let (provider, broker) = keyed_broker(&flags, ("oidc-client-key.pem", "oidc-client-cert.pem"));
    let (page, request) = sign_in(&broker);
    assert_eq!(page["status"], 200, "{page}");
    assert!(page["text"].as_str().unwrap().contains("You are signed in"), "{page}");
    let identity = broker.status(&request).json();
    assert_eq!((identity["sub"].as_str(), identity["iss"].as_str()), (Some("alice"), Some(provider.issuer.as_str())));
    // The assertion alone authenticates the client: no Authorization header beside it.
    let recorded = std::fs::read_to_string(&record).expect("the provider recorded the token request");
    std::fs::remove_file(&record).ok();
    let requests: Vec<Value> = recorded.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(requests.len(), 1, "one code exchange");
    assert!(requests[0]["headers"]["authorization"].is_null(), "no Authorization header");
}

/// The provider refuses an assertion signed by a key it does not know: the sign-in
/// fails as every refusal at the token endpoint does (502, the provider's words), and
/// the client is told at once.
#[test]
fn a_key_the_provider_does_not_know_fails_the_sign_in_clearly() {
    let certificate = registered_certificate();
    let flags = ["--token-endpoint-auth-method", "private_key_jwt", "--client-certificate", &certificate];
    let (_provider, broker) = keyed_broker(&flags, ("oidc-other-client-key.pem", "oidc-other-client-cert.pem"));
    let (page, request) = sign_in(&broker);
    assert_eq!(page["status"], 502, "{page}");
    assert!(page["text"].as_str().unwrap().contains("invalid_client"), "{page}");
    let status = broker.status(&request);
    assert_eq!((status.status, status.error_code()), (403, "token_error".to_owned()), "{}", status.body);
}

/// A provider whose discovery lists the token endpoint's methods without
/// `private_key_jwt` cannot take the key: the person is told before being sent there.
#[test]
fn a_provider_that_does_not_take_keys_is_named_before_the_person_signs_in() {
    let flags = ["--client-auth-methods", "client_secret_basic,client_secret_post"];
    let (_provider, broker) = keyed_broker(&flags, ("oidc-client-key.pem", "oidc-client-cert.pem"));
    let request = broker.new_request("alice");
    let login = testkit::Login::from_reply(&request);
    let page = broker.follow_login_link(&login);
    assert_eq!(page.status, 502, "{}", page.body);
    assert!(page.body.contains("private_key_jwt"), "{}", page.body);
}

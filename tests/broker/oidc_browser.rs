//! A person signs in: headless Chromium opens the login URL, signs in at a real OpenID
//! provider (the `oidc-provider` npm package), consents, and lands on the broker's
//! success page; the client's status call then returns the right identity.

use serde_json::Value;
use testkit::{Broker, OidcProvider, Redis, Store, browser_login, free_port};

fn assert_signed_in(page: &Value) {
    assert_eq!(page["status"], 200, "{page}");
    assert!(page["text"].as_str().unwrap().contains("You are signed in"), "{page}");
}

fn assert_identity(broker: &Broker, request_id: &str, user: &str, issuer: &str) {
    let reply = broker.status(request_id);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let identity = reply.json();
    assert_eq!(identity["sub"], user);
    assert_eq!(identity["iss"], issuer);
    assert_eq!(identity["email"], format!("{user}@example.com"));
    assert_eq!(identity["preferred_username"], user);
    assert!(identity["name"].as_str().unwrap().ends_with("Example"), "{identity}");
}

/// One broker (or several sharing `base_port`'s address) and a provider that knows its callback.
fn provider_for(base_port: u16, extra: &[&str]) -> OidcProvider {
    OidcProvider::start(&[format!("http://127.0.0.1:{base_port}/oidc/callback")], extra)
}

fn broker_variables<'a>(provider: &'a OidcProvider, base_url: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut variables = provider.variables().to_vec();
    variables.push(("svc_base_uri", base_url));
    variables
}

fn sign_in_once(store: Store, provider_flags: &[&str], broker_flags: &[(&str, &str)]) {
    let port = free_port();
    let base_url = format!("http://127.0.0.1:{port}");
    let provider = provider_for(port, provider_flags);
    let mut variables = broker_variables(&provider, &base_url);
    variables.extend_from_slice(broker_flags);
    let broker = Broker::start_on(port, store, &variables);

    let request = broker.new_request("alice");
    let page = browser_login(request["loginUrl"].as_str().unwrap(), "alice");
    assert_signed_in(&page);
    assert_identity(&broker, request["request"].as_str().unwrap(), "alice", &provider.issuer);
}

#[test]
fn a_person_signs_in_with_the_in_memory_store() {
    sign_in_once(Store::Memory, &[], &[]);
}

#[test]
fn a_person_signs_in_with_redis() {
    let redis = Redis::start();
    sign_in_once(Store::Redis(&redis), &[], &[]);
}

#[test]
fn an_issuer_with_a_path_and_client_secret_post_work() {
    sign_in_once(
        Store::Memory,
        &["--issuer-path", "/realms/acme", "--token-endpoint-auth-method", "client_secret_post"],
        &[("oidc_token_endpoint_auth_method", "client_secret_post")],
    );
}

#[test]
fn the_callback_is_finished_by_a_second_instance() {
    let redis = Redis::start();
    // Both instances advertise B's address, as instances behind one load balancer
    // advertise its address; the browser starts on A and comes back to B.
    let port_b = free_port();
    let base_url = format!("http://127.0.0.1:{port_b}");
    let provider = provider_for(port_b, &[]);
    let variables = broker_variables(&provider, &base_url);
    let a = Broker::start(Store::Redis(&redis), &variables);
    let _b_serves_the_callback = Broker::start_on(port_b, Store::Redis(&redis), &variables);

    let request = a.new_request("bob");
    let id = request["request"].as_str().unwrap();
    let page = browser_login(&format!("http://{}{}", a.http, testkit::Login::from_reply(&request).login_path), "bob");
    assert_signed_in(&page);
    assert!(page["finalUrl"].as_str().unwrap().starts_with(&base_url), "the callback landed on B: {page}");
    // The client, still talking to A, gets the identity that B stored.
    assert_identity(&a, id, "bob", &provider.issuer);
}

/// LemonLDAP::NG and Auth0 publish their issuer with a trailing `/`. Configured as
/// published, it is the same string in discovery, in the ID token's `iss` and in RFC
/// 9207's `iss`, and the login works (the identity's `iss` is checked above).
#[test]
fn an_issuer_that_ends_in_a_slash_signs_in() {
    sign_in_once(Store::Memory, &["--issuer-trailing-slash"], &[]);
}

/// The code exchange's body has a known size, so it goes out with `Content-Length`,
/// not chunked: servers that read bodies by `Content-Length` (WSGI, some proxies)
/// would see an empty request. Checked at the provider, as it received the request.
#[test]
fn the_code_exchange_carries_its_content_length() {
    let record = std::env::temp_dir().join(format!("login-broker-token-requests-{}.jsonl", std::process::id()));
    std::fs::remove_file(&record).ok();
    sign_in_once(Store::Memory, &["--record-token-requests", record.to_str().unwrap()], &[]);
    let recorded = std::fs::read_to_string(&record).expect("the provider recorded the token request");
    std::fs::remove_file(&record).ok();
    let requests: Vec<Value> = recorded.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(requests.len(), 1, "one code exchange: {recorded}");
    let headers = &requests[0]["headers"];
    assert_eq!(requests[0]["method"], "POST");
    // Named, not printed whole: the headers hold the client's credentials.
    let (length, chunked) = (&headers["content-length"], &headers["transfer-encoding"]);
    assert!(
        length.as_str().and_then(|n| n.parse::<usize>().ok()).is_some_and(|n| n > 0),
        "content-length {length}, transfer-encoding {chunked}"
    );
    assert!(chunked.is_null(), "not chunked: transfer-encoding {chunked}");
}

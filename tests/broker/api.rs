//! The client API, through the real `.wasm` under `spin up`. Every spec runs twice:
//! over Spin's in-memory store (the project's `runtime-config.toml`) and over a real
//! Redis (the project's `runtime-config.redis.toml`). Logins are finished the way a
//! user finishes them, through the provider double.

use std::thread;
use std::time::{Duration, Instant};
use testkit::provider_double;

use provider_double::{Key, ProviderDouble, alice_claims, finish_login, issuing, provider_with, start_broker};
use testkit::{Broker, CLIENT_TOKEN, Login, Redis, Store, UNKNOWN_REQUEST_ID};

/// A broker over one kind of store and its provider; they live as long as the broker.
struct Fixture {
    broker: Broker,
    _provider: ProviderDouble,
    redis: Option<Redis>,
}

impl std::ops::Deref for Fixture {
    type Target = Broker;
    fn deref(&self) -> &Broker {
        &self.broker
    }
}

type Start = fn(&[(&str, &str)]) -> Fixture;

fn provider() -> ProviderDouble {
    provider_with(|issuer| issuing(Key::rsa("k1"), alice_claims(issuer.to_owned())))
}

fn over_memory(variables: &[(&str, &str)]) -> Fixture {
    let provider = provider();
    Fixture { broker: start_broker(Store::Memory, &provider, variables), _provider: provider, redis: None }
}

fn over_redis(variables: &[(&str, &str)]) -> Fixture {
    let (redis, provider) = (Redis::start(), provider());
    Fixture { broker: start_broker(Store::Redis(&redis), &provider, variables), _provider: provider, redis: Some(redis) }
}

macro_rules! on_every_store {
    ($($spec:ident),* $(,)?) => {
        mod in_memory { $( #[test] fn $spec() { super::$spec(super::over_memory) } )* }
        mod over_redis { $( #[test] fn $spec() { super::$spec(super::over_redis) } )* }
    };
}

on_every_store!(
    new_request_answers_with_has_fields,
    status_answers_with_the_identity_once_the_login_finishes,
    the_identity_is_handed_out_only_once,
    concurrent_status_calls_get_the_identity_exactly_once,
    status_gives_408_when_the_login_does_not_finish_in_time,
    expired_requests_are_gone,
    unknown_and_malformed_request_ids_are_refused,
    bad_user_ids_are_refused_with_400,
    bad_query_options_are_refused_with_400,
    unknown_routes_get_404_and_wrong_methods_405,
    status_needs_a_valid_client_token,
    assume_client_authorized_lets_clients_in_without_a_token,
    liveness_answers_while_the_store_does,
    an_invalid_variable_is_named_in_the_error,
    without_a_state_key_only_liveness_serves,
    login_url_leads_to_a_readable_page,
    every_answer_carries_the_browser_hardening_headers,
    the_login_link_grants_no_status_and_the_request_leads_to_its_login,
    a_handle_from_another_broker_opens_nothing,
);

/// The client secret goes to the provider: naming one of the broker's own secrets there
/// would hand it to whoever runs that provider.
#[test]
fn a_provider_secret_may_not_be_one_of_the_brokers_own() {
    let providers = r#"[{"id": "corp", "issuerUri": "http://127.0.0.1:9/", "clientId": "x", "clientSecretVariable": "state_key"}]"#;
    let broker = over_memory(&[("auth_providers", providers), ("auth_provider_origin_a", "http://127.0.0.1:9"), ("oidc_issuer_uri", "")]);
    let reply = broker.get("/requests/new/alice");
    assert_eq!((reply.status, reply.error_code()), (500, "server_misconfigured".to_owned()), "{}", reply.body);
    assert!(reply.body.contains("not `state_key`"), "{}", reply.body);
    assert!(!reply.body.contains(testkit::STATE_KEY));
}

/// Whether `reply` hands over alice's identity.
fn is_alice(reply: &testkit::Reply) -> bool {
    reply.status == 200 && reply.json()["sub"] == "alice" && reply.json()["email"] == "alice@example.com"
}

fn new_request_answers_with_has_fields(start: Start) {
    let broker = start(&[("svc_base_uri", "https://login.example.com/"), ("instance_id", "blue")]);
    let reply = broker.get("/requests/new/alice%40example.com?forceAuthn=true&providerId=oidc");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = reply.json();
    let id = body["request"].as_str().unwrap();
    let login_url = body["loginUrl"].as_str().unwrap();
    let handle = login_url.strip_prefix("https://login.example.com/oidc/login/").unwrap_or_else(|| panic!("{login_url}"));
    assert!(id.len() > 100, "a sealed handle: {id}");
    // Short, for a person to read: the request is stored for the link.
    assert_eq!(handle.len(), 27, "{login_url}");
    let twenty_characters = broker.new_request("alice.person@corp.io");
    assert!(twenty_characters["loginUrl"].as_str().unwrap().len() <= 128, "{twenty_characters}");
    assert_ne!(handle, id, "the login link does not carry the client's request");
    assert!(!handle.contains(id) && !id.contains(handle));
    assert_eq!(body["statusUrl"], format!("https://login.example.com/requests/status/{id}"));
    assert_eq!(body["baseUrl"], "https://login.example.com");
    assert_eq!(body["userId"], "alice@example.com");
    assert_eq!(body["forceAuthn"], true);
    assert_eq!(body["instanceId"], "blue");
    assert_eq!(reply.header("strict-transport-security"), Some("max-age=31536000"), "HSTS over https");
    assert_ne!(broker.new_request("alice")["request"], body["request"], "ids are fresh each time");
}

fn status_answers_with_the_identity_once_the_login_finishes(start: Start) {
    let broker = start(&[("login_timeout", "30")]);
    let id = broker.login("alice");
    thread::scope(|scope| {
        let poll = scope.spawn(|| {
            let started = Instant::now();
            (broker.status(&id), started.elapsed())
        });
        thread::sleep(Duration::from_millis(500));
        finish_login(&broker, &id, "alice");
        let (reply, waited) = poll.join().unwrap();
        assert!(is_alice(&reply), "{}", reply.body);
        // Answered by the long poll, not by the 30 s timeout.
        assert!(waited < Duration::from_secs(10), "waited {waited:?}");
    });
}

fn the_identity_is_handed_out_only_once(start: Start) {
    let broker = start(&[]);
    let id = broker.login("alice");
    finish_login(&broker, &id, "alice");
    assert_eq!(broker.status(&id).status, 200);
    let again = broker.status(&id);
    assert_eq!(again.status, 404, "{}", again.body);
    assert_eq!(again.error_code(), "not_found");
}

fn concurrent_status_calls_get_the_identity_exactly_once(start: Start) {
    let broker = start(&[("login_timeout", "20")]);
    for _round in 0..3 {
        let id = broker.login("alice");
        let statuses: Vec<u16> = thread::scope(|scope| {
            let polls: Vec<_> = (0..8).map(|_| scope.spawn(|| broker.status(&id))).collect();
            thread::sleep(Duration::from_millis(300));
            finish_login(&broker, &id, "alice");
            polls.into_iter().map(|poll| poll.join().unwrap().status).collect()
        });
        assert_eq!(statuses.iter().filter(|&&s| s == 200).count(), 1, "{statuses:?}");
        assert!(statuses.iter().all(|&s| s == 200 || s == 404), "{statuses:?}");
    }
}

fn status_gives_408_when_the_login_does_not_finish_in_time(start: Start) {
    let broker = start(&[("login_timeout", "1")]);
    let id = broker.login("alice");
    let reply = broker.status(&id);
    assert_eq!(reply.status, 408, "{}", reply.body);
    assert_eq!(reply.error_code(), "login_timeout");
    // The request is still there: a client may poll again and still get the identity.
    finish_login(&broker, &id, "alice");
    assert_eq!(broker.status(&id).status, 200);
}

fn expired_requests_are_gone(start: Start) {
    // Expiry is in whole seconds from the second a request was made: with a `cache_ttl`
    // of 3 the login has at least 2 s to finish on a loaded machine, and is gone 4 s on.
    let broker = start(&[("login_timeout", "1"), ("cache_ttl", "3")]);
    let finished = broker.login("alice");
    let pending = broker.login("bob");
    finish_login(&broker, &finished, "alice");
    thread::sleep(Duration::from_millis(4100));
    for id in [&finished, &pending] {
        let reply = broker.status(id);
        assert_eq!(reply.status, 404, "{}", reply.body);
        assert_eq!(broker.get(&id.login_path.clone()).status, 404);
    }
}

/// Whoever sees a login link (browser history, a proxy's log, a screenshot) cannot
/// claim the login with it, and the client's `request` is no login link.
/// The login link grants no status. The client's `request` does lead to its login, as
/// HAS's does: the p4d extension, with its `Auth-Protocol` setting, builds
/// `{baseUrl}/{protocol}/login/{request}?instanceId={instanceId}` itself, and its client
/// holds both handles anyway.
fn the_login_link_grants_no_status_and_the_request_leads_to_its_login(start: Start) {
    let broker = start(&[("login_timeout", "1")]);
    let created = broker.new_request("alice");
    let id = Login::from_reply(&created);
    let from_link = id.login_path.trim_start_matches("/oidc/login/");
    let instance = created["instanceId"].as_str().unwrap();
    let as_the_extension_builds_it = Login { login_path: format!("/oidc/login/{}?instanceId={instance}", id.request), ..id.clone() };
    finish_login(&broker, &as_the_extension_builds_it, "alice");
    let stolen = broker.status(from_link);
    assert_eq!(stolen.status, 404, "{}", stolen.body);
    assert!(!stolen.body.contains("alice"));
    let status = broker.get_with_token(&format!("/requests/status/{}?instanceId={instance}", id.request), CLIENT_TOKEN);
    assert!(is_alice(&status), "the rightful client gets the identity: {}", status.body);
}

/// Handles are sealed under `state_key`: one broker's handles open nowhere else, so
/// no client can forge or move one.
fn a_handle_from_another_broker_opens_nothing(start: Start) {
    let elsewhere = start(&[("state_key", "b3RoZXItYnJva2VyLW90aGVyLXN0YXRlLWtleSEhISE=")]);
    let foreign = elsewhere.login("alice");
    let broker = start(&[("login_timeout", "1")]);
    assert_eq!(broker.status(&foreign).status, 404);
    assert_eq!(broker.get(&foreign.login_path).status, 404);
}

fn unknown_and_malformed_request_ids_are_refused(start: Start) {
    let broker = start(&[]);
    let unknown = broker.status(UNKNOWN_REQUEST_ID);
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert_eq!(unknown.error_code(), "not_found");
    for malformed in ["short", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%2F", "%00", "", "not+base64=at~all"] {
        let reply = broker.status(malformed);
        assert_eq!(reply.status, 404, "{malformed:?}: {}", reply.body);
        assert_eq!(reply.error_code(), "not_found");
        assert!(reply.json()["error_description"].as_str().unwrap().contains("request id"));
    }
}

fn bad_user_ids_are_refused_with_400(start: Start) {
    let broker = start(&[]);
    let too_long = "u".repeat(257);
    // Also what would make a page lie about whom it signs in: a right-to-left override,
    // a zero-width space, a line separator.
    for bad in ["", "%0A", "tab%09in", "nul%00", "%FF%FE", "%ZZ", too_long.as_str(), "alice%E2%80%AEtxt", "al%E2%80%8Bice", "a%E2%80%A8b"] {
        let reply = broker.get(&format!("/requests/new/{bad}"));
        if bad == "%ZZ" {
            // Not a percent escape: taken literally, as HAS does.
            assert_eq!(reply.status, 200, "{}", reply.body);
            continue;
        }
        assert_eq!(reply.status, 400, "{bad:?}: {}", reply.body);
        assert_eq!(reply.error_code(), "invalid_request");
        assert!(reply.json()["error_description"].as_str().unwrap().contains("user id"));
    }
    assert_eq!(broker.get(&format!("/requests/new/{}", "u".repeat(256))).status, 200);
}

fn bad_query_options_are_refused_with_400(start: Start) {
    let broker = start(&[]);
    for query in ["forceAuthn=perhaps", "providerId=", "providerId=a%20b"] {
        let reply = broker.get(&format!("/requests/new/alice?{query}"));
        assert_eq!(reply.status, 400, "{query}: {}", reply.body);
        assert_eq!(reply.error_code(), "invalid_request");
    }
}

fn unknown_routes_get_404_and_wrong_methods_405(start: Start) {
    let broker = start(&[]);
    for path in ["/", "/requests", "/requests/new", "/requests/new/a/b", "/nope", "/liveness/x"] {
        let reply = broker.get(path);
        assert_eq!(reply.status, 404, "{path}: {}", reply.body);
        assert_eq!(reply.error_code(), "not_found");
    }
    for (method, path) in
        [("POST", "/requests/new/alice"), ("DELETE", "/requests/status/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), ("PUT", "/liveness")]
    {
        let reply = broker.request(method, path);
        assert_eq!(reply.status, 405, "{method} {path}: {}", reply.body);
        assert_eq!(reply.header("allow"), Some("GET"));
        assert_eq!(reply.error_code(), "method_not_allowed");
    }
}

fn status_needs_a_valid_client_token(start: Start) {
    let broker = start(&[]);
    let id = broker.login("alice");
    finish_login(&broker, &id, "alice");
    let path = format!("/requests/status/{}", id.request);

    let missing = broker.get(&path);
    assert_eq!(missing.status, 401, "{}", missing.body);
    assert!(missing.header("www-authenticate").unwrap().starts_with("Bearer"));
    for wrong in ["wrong-token-but-long-enough", &CLIENT_TOKEN[1..], ""] {
        let reply = broker.get_with_token(&path, wrong);
        assert_eq!(reply.status, 401, "{wrong:?}: {}", reply.body);
        assert!(reply.header("www-authenticate").unwrap().contains("invalid_token"));
        assert!(!reply.body.contains(CLIENT_TOKEN));
    }
    // Refused callers took nothing: the rightful client still gets the identity.
    assert!(is_alice(&broker.status(&id)));
}

fn assume_client_authorized_lets_clients_in_without_a_token(start: Start) {
    let broker = start(&[("assume_client_authorized", "true"), ("client_tokens", "")]);
    let id = broker.login("alice");
    finish_login(&broker, &id, "alice");
    assert_eq!(broker.get(&format!("/requests/status/{}", id.request)).status, 200);
}

fn liveness_answers_while_the_store_does(start: Start) {
    let broker = start(&[]);
    let reply = broker.get("/liveness");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["status"], "ok");
}

fn an_invalid_variable_is_named_in_the_error(start: Start) {
    let broker = start(&[("login_timeout", "soon")]);
    let reply = broker.get("/requests/new/alice");
    assert_eq!(reply.status, 500, "{}", reply.body);
    assert_eq!(reply.error_code(), "server_misconfigured");
    assert!(reply.json()["error_description"].as_str().unwrap().contains("`login_timeout`"));
    if let Some(redis) = &broker.redis {
        assert!(redis.keys().is_empty(), "nothing was stored: {:?}", redis.keys());
    }
    assert_eq!(broker.get("/liveness").status, 200, "liveness does not depend on configuration");

    let secret = "short-secret";
    let broker = start(&[("client_tokens", secret)]);
    let reply = broker.get(&format!("/requests/status/{UNKNOWN_REQUEST_ID}"));
    assert!(reply.body.contains("`client_tokens`") && !reply.body.contains(secret), "{}", reply.body);
}

fn without_a_state_key_only_liveness_serves(start: Start) {
    let broker = start(&[("state_key", "")]);
    for path in ["/requests/new/alice".to_owned(), format!("/requests/status/{UNKNOWN_REQUEST_ID}")] {
        let reply = broker.get_with_token(&path, CLIENT_TOKEN);
        assert_eq!((reply.status, reply.error_code()), (500, "server_misconfigured".to_owned()), "{path}");
        assert!(reply.json()["error_description"].as_str().unwrap().contains("`state_key`"));
    }
    let page = broker.get(&format!("/oidc/login/{UNKNOWN_REQUEST_ID}"));
    assert_eq!(page.status, 500);
    assert!(page.body.contains("state_key"));
    assert_eq!(broker.get("/liveness").status, 200);
}

fn login_url_leads_to_a_readable_page(start: Start) {
    let broker = start(&[("oidc_issuer_uri", "")]);
    let id = broker.login("alice");
    let page = broker.get(&id.login_path.clone());
    assert_eq!(page.status, 501);
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    assert!(page.body.contains("not configured"), "{}", page.body);

    let unknown = broker.get(&format!("/oidc/login/{UNKNOWN_REQUEST_ID}"));
    assert_eq!(unknown.status, 404);
    assert!(unknown.body.contains("unknown or has expired"));
    let malformed = broker.get("/oidc/login/%3Cscript%3E");
    assert_eq!(malformed.status, 400);
    assert!(malformed.header("content-type").unwrap().starts_with("text/html"));
    assert!(!malformed.body.contains("<script>"));
}

/// Counted by Redis itself (`INFO commandstats`): what the component really asks of
/// the store, route by route and for a whole login; a regression fails here. The
/// in-memory store cannot be observed from outside `spin up`; it gets the same calls,
/// since the component does not know which store it has.
#[test]
fn each_route_and_a_whole_login_cost_these_store_operations() {
    let broker = over_redis(&[("login_timeout", "1")]);
    let redis = broker.redis.as_ref().unwrap();
    // The store groups keys in 10 s expiry buckets, and the sweep takes its turns by
    // them: start early in a window, so that the few seconds below stay inside one.
    let phase = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() % 10_000;
    while phase() > 3_000 {
        thread::sleep(Duration::from_millis(100));
    }
    let measured = |what: &str, act: &dyn Fn()| {
        redis.reset_stats();
        act();
        let counted = redis.kv_operations();
        eprintln!("{what}: {counted:?}");
        counted
    };
    // A first login warms the instance (configuration, provider metadata), starts the
    // sweep cursor and takes this window's first sweep turn.
    finish_login(&broker, &broker.login("warm-up"), "warm-up");
    // Stored for its short link, and entered in its window's registry (count, entry).
    assert_eq!(measured("new request", &|| drop(broker.login("alice"))), ops(0, 2, 0, 0, 1), "creating a request");
    assert_eq!(measured("liveness", &|| assert_eq!(broker.get("/liveness").status, 200)), ops(1, 0, 0, 0, 0), "the sweep cursor");

    // A waiting client: one read, then re-reads every 100 ms at most.
    let waiting = broker.login("alice");
    let polled = measured("status, pending for 1 s", &|| assert_eq!(broker.status(&waiting).status, 408));
    // 0, 20, 60, 140 ms, then every 100 ms: 13 reads in the first second, 10 a second after.
    assert!((11..=14).contains(&polled["get"]) && polled.values().sum::<u64>() == polled["get"], "{polled:?}");

    let id = broker.login("alice");
    let sign_in = measured("login link", &|| drop(provider_double::sign_in_for(&broker, &id)));
    // The link's request, read once: the confirmation form carries it sealed.
    assert_eq!(sign_in, ops(1, 0, 0, 0, 0), "sending the browser to the provider");
    let sign_in = provider_double::sign_in_for(&broker, &id);
    let callback = provider_double::authorize_as(&sign_in, "alice");
    // Has the login ended; claim its end (it was entered for the sweep when it was made); store the outcome.
    let answered = measured("callback", &|| assert_eq!(broker.get_with(&callback, &[("Cookie", &sign_in.cookie)]).status, 200));
    assert_eq!(answered, ops(1, 1, 0, 0, 1), "the sweep's turn came at the warm-up's request, the first in this bucket");
    // Read the outcome, claim the identity.
    assert_eq!(measured("status, finished", &|| assert!(is_alice(&broker.status(&id)))), ops(1, 0, 0, 0, 1));
}

fn ops(get: u64, set: u64, delete: u64, exists: u64, increment: u64) -> std::collections::BTreeMap<&'static str, u64> {
    [("get", get), ("set", set), ("delete", delete), ("exists", exists), ("increment", increment)].into_iter().collect()
}

fn every_answer_carries_the_browser_hardening_headers(start: Start) {
    let broker = start(&[("login_timeout", "1")]);
    let id = broker.login("alice");
    let long_query = format!("/requests/new/alice?x={}", "a".repeat(5000));
    let answers = [
        broker.get("/requests/new/bob"),
        broker.status(&id),
        broker.get("/liveness"),
        broker.get(&id.login_path.clone()),
        broker.get("/oidc/callback?state=x&code=y"),
        broker.get("/nope"),
        broker.request("POST", "/liveness"),
        broker.get(&long_query),
    ];
    for reply in &answers {
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{}", reply.body);
        assert_eq!(reply.header("x-frame-options"), Some("DENY"));
        assert_eq!(reply.header("strict-transport-security"), None, "no HSTS over plain http");
        assert_eq!(reply.header("referrer-policy"), Some("no-referrer"));
        assert!(reply.header("content-security-policy").unwrap().contains("default-src 'none'"));
    }
    assert_eq!(answers[7].status, 414, "an over-long URI is refused: {}", answers[7].body);
}

/// `/status` is HAS's: off unless `status_enabled`, and never shows a secret.
fn status_reports_what_runs(start: Start, store_kind: &str) {
    let broker = start(&[]);
    assert_eq!(broker.get("/status").status, 404, "off by default");
    let broker = start(&[("status_enabled", "true"), ("instance_id", "blue")]);
    let reply = broker.get("/status");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let status = reply.json();
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!((status["instanceId"].as_str(), status["store"].as_str()), (Some("blue"), Some(store_kind)));
    let provider = &status["providers"][0];
    assert_eq!(
        (provider["id"].as_str(), provider["protocol"].as_str(), provider["default"].as_bool()),
        (Some("oidc"), Some("oidc"), Some(true))
    );
    for secret in [provider_double::CLIENT_SECRET, testkit::STATE_KEY, CLIENT_TOKEN] {
        assert!(!reply.body.contains(secret), "{}", reply.body);
    }
}

#[test]
fn status_reports_the_in_memory_store() {
    status_reports_what_runs(over_memory, "spin (in-memory or SQLite)");
}

#[test]
fn status_reports_redis() {
    status_reports_what_runs(over_redis, "redis");
}

/// A client that identifies itself when it asks for a login (as on status calls) binds
/// the login to itself: another client that holds the same `request` cannot take the
/// identity, and the rightful client still gets it. With
/// `require_client_for_new_requests`, every request must be made that way.
#[test]
fn a_login_asked_for_by_an_identified_client_is_claimed_only_by_it() {
    const BUILD: &str = "build-token-0123456789abcdef";
    const DEPLOY: &str = "deploy-token-0123456789abcdef";
    let tokens = format!("build:{BUILD},deploy:{DEPLOY}");
    let broker = over_memory(&[("client_tokens", &tokens)]);
    let bearer = |token: &str| format!("Bearer {token}");
    let created = broker.get_with("/requests/new/alice", &[("Authorization", &bearer(BUILD))]);
    let login = testkit::Login::from_reply(&created.json());
    finish_login(&broker, &login, "alice");

    let status = format!("/requests/status/{}", login.request);
    let other = broker.get_with(&status, &[("Authorization", &bearer(DEPLOY))]);
    assert_eq!((other.status, other.error_code().as_str()), (403, "forbidden"), "{}", other.body);
    let rightful = broker.get_with(&status, &[("Authorization", &bearer(BUILD))]);
    assert!(is_alice(&rightful), "still there for the client that asked: {}", rightful.body);

    // Credentials that are presented must be accepted, even where none are needed.
    let wrong = broker.get_with("/requests/new/alice", &[("Authorization", "Bearer not-a-known-token-0123456789")]);
    assert_eq!((wrong.status, wrong.error_code().as_str()), (401, "invalid_token"), "{}", wrong.body);
    // An anonymous request (HAS's clients) may be claimed by any client.
    let anonymous = broker.login("alice");
    finish_login(&broker, &anonymous, "alice");
    assert!(is_alice(&broker.get_with(&format!("/requests/status/{}", anonymous.request), &[("Authorization", &bearer(DEPLOY))])));

    let strict = over_memory(&[("client_tokens", &tokens), ("require_client_for_new_requests", "true")]);
    let refused = strict.get("/requests/new/alice");
    assert_eq!((refused.status, refused.error_code().as_str()), (401, "unauthorized_client"), "{}", refused.body);
    assert!(refused.header("www-authenticate").is_some());
    assert_eq!(strict.get_with("/requests/new/alice", &[("Authorization", &bearer(DEPLOY))]).status, 200);
}

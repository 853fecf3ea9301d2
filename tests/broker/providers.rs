//! Several identity providers, signing out, readiness, and the log, with real
//! `oidc-provider` instances and headless Chromium.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testkit::{Broker, CLIENT_TOKEN, OIDC_CLIENT_SECRET, OidcProvider, STATE_KEY, Store, auth_providers_variables, browser, free_port};

/// A broker on `port` and two providers that know its callback and logout landing.
struct TwoProviders {
    broker: Broker,
    acme: OidcProvider,
    partners: OidcProvider,
    base_url: String,
}

fn registrations(port: u16) -> (Vec<String>, [String; 2]) {
    let base = format!("http://127.0.0.1:{port}");
    (vec![format!("{base}/oidc/callback")], ["--post-logout-redirect-uri".into(), format!("{base}/oidc/logged_out")])
}

fn start_provider(port: u16) -> OidcProvider {
    let (callbacks, logout) = registrations(port);
    OidcProvider::start(&callbacks, &[&logout[0], &logout[1]])
}

fn two_providers(extra: &[(&str, &str)]) -> TwoProviders {
    let port = free_port();
    let base_url = format!("http://127.0.0.1:{port}");
    let (acme, partners) = (start_provider(port), start_provider(port));
    let owned = auth_providers_variables(&[("acme", "Acme Corporate SSO", &acme), ("partners", "Partner Network", &partners)]);
    let mut variables: Vec<(&str, &str)> = owned.iter().map(|(name, value)| (*name, value.as_str())).collect();
    variables.push(("svc_base_uri", &base_url));
    variables.extend_from_slice(extra);
    let broker = Broker::start_on(port, Store::Memory, &variables);
    TwoProviders { broker, acme, partners, base_url }
}

fn identity_of(broker: &Broker, request: &Value) -> Value {
    let reply = broker.status(request["request"].as_str().unwrap());
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

#[test]
fn with_two_providers_the_user_chooses_each_in_turn() {
    let setup = two_providers(&[]);
    for (label, provider, user) in [("Acme Corporate SSO", &setup.acme, "alice"), ("Partner Network", &setup.partners, "bob")] {
        let request = setup.broker.new_request(user);
        let login_url = request["loginUrl"].as_str().unwrap();
        assert!(login_url.starts_with(&format!("{}/multi/login/", setup.base_url)), "several providers, no default: {login_url}");
        let report = browser(&["--url", login_url, "--username", user, "--provider", label]);
        assert!(report["text"].as_str().unwrap().contains("You are signed in"), "{report}");
        let chooser = &report["pages"][0];
        assert_eq!(chooser["h1"], "Choose how to sign in", "{report}");
        let identity = identity_of(&setup.broker, &request);
        assert_eq!((identity["sub"].as_str(), identity["iss"].as_str()), (Some(user), Some(provider.issuer.as_str())), "{label}");
    }
}

#[test]
fn a_client_can_name_the_provider_and_skip_the_choice() {
    let setup = two_providers(&[]);
    let request = setup.broker.get("/requests/new/carol?providerId=partners").json();
    let login_url = request["loginUrl"].as_str().unwrap();
    assert!(login_url.starts_with(&format!("{}/oidc/login/", setup.base_url)), "{login_url}");
    let report = browser(&["--url", login_url, "--username", "carol"]);
    assert!(report["text"].as_str().unwrap().contains("You are signed in"), "{report}");
    assert_eq!(identity_of(&setup.broker, &request)["iss"], setup.partners.issuer);

    // The choice page cannot move a login to another provider than its client named.
    let named = setup.broker.get("/requests/new/carol?providerId=partners").json();
    let login_path = testkit::Login::from_reply(&named).login_path;
    let elsewhere = setup.broker.get(&format!("{login_path}?providerId=acme"));
    assert_eq!(elsewhere.status, 400, "{}", elsewhere.body);
    let unknown = setup.broker.get("/requests/new/carol?providerId=nobody");
    assert_eq!((unknown.status, unknown.error_code().as_str()), (400, "invalid_request"));
    assert!(unknown.body.contains("acme, partners"), "{}", unknown.body);
}

#[test]
fn signing_out_reaches_the_providers_end_session_endpoint() {
    let setup = two_providers(&[]);
    let request = setup.broker.get("/requests/new/dave?providerId=acme").json();
    let logout_url = format!("{}/oidc/logout", setup.base_url);
    let report = browser(&["--url", request["loginUrl"].as_str().unwrap(), "--username", "dave", "--logout-url", &logout_url]);
    let end_session = report["navigations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .find(|url| url.starts_with(&format!("{}/session/end", setup.acme.issuer)))
        .unwrap_or_else(|| panic!("the browser never reached acme's end-session endpoint: {report}"));
    let query: Vec<(String, String)> = url::Url::parse(end_session).unwrap().query_pairs().into_owned().collect();
    let param = |name: &str| query.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    assert!(param("id_token_hint").is_some_and(|hint| hint.split('.').count() == 3), "{end_session}");
    assert_eq!(param("post_logout_redirect_uri"), Some(format!("{}/oidc/logged_out", setup.base_url).as_str()));
    assert_eq!(param("client_id"), Some(testkit::OIDC_CLIENT_ID));
    let logout = &report["logout"];
    assert!(logout["finalUrl"].as_str().unwrap().starts_with(&format!("{}/oidc/logged_out", setup.base_url)), "{logout}");
    assert!(logout["text"].as_str().unwrap().contains("You are signed out"), "{logout}");

    // Without a sign-in cookie there is nothing to end at a provider: the broker's own page.
    let direct = setup.broker.get("/oidc/logout");
    assert_eq!(direct.status, 200);
    assert!(direct.body.contains("You are signed out"));
}

fn readiness(broker: &Broker) -> (u16, Value) {
    let reply = broker.get("/readiness");
    (reply.status, reply.json())
}

/// Polls `/readiness` (bounded) until it answers `status`.
fn wait_for_readiness(broker: &Broker, status: u16) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (answer, body) = readiness(broker);
        if answer == status {
            return body;
        }
        assert!(Instant::now() < deadline, "readiness stayed {answer} {body}, never {status}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn readiness_fails_while_a_provider_is_down_and_recovers() {
    let port = free_port();
    let provider_port = free_port();
    let (callbacks, _) = registrations(port);
    let provider = OidcProvider::start_on(provider_port, &callbacks, &[]);
    let mut variables = provider.variables().to_vec();
    let base_url = format!("http://127.0.0.1:{port}");
    variables.push(("svc_base_uri", &base_url));
    let broker = Broker::start_on(port, Store::Memory, &variables);

    let ready = wait_for_readiness(&broker, 200);
    assert_eq!(ready, json!({"status": "ready", "store": "ok", "providers": [{"id": "oidc", "reachable": true}]}));
    drop(provider);
    let down = wait_for_readiness(&broker, 503);
    assert_eq!(down["providers"][0], json!({"id": "oidc", "reachable": false}), "{down}");
    assert_eq!(broker.get("/liveness").status, 200, "the broker itself is alive");
    let _provider = OidcProvider::start_on(provider_port, &callbacks, &[]);
    wait_for_readiness(&broker, 200);
}

/// OpenID Connect compares issuers as exact strings: an issuer configured with a
/// trailing `/` that discovery publishes without one is a configuration error, and
/// `/readiness` and the login page say so, naming both strings (not "unreachable").
#[test]
fn readiness_names_an_issuer_that_differs_from_discovery() {
    let port = free_port();
    let (callbacks, _) = registrations(port);
    let provider = OidcProvider::start(&callbacks, &[]);
    let configured = format!("{}/", provider.issuer);
    let base_url = format!("http://127.0.0.1:{port}");
    let mut variables = provider.variables().to_vec();
    variables.retain(|(name, _)| *name != "oidc_issuer_uri");
    variables.extend([("oidc_issuer_uri", configured.as_str()), ("svc_base_uri", &base_url)]);
    let broker = Broker::start_on(port, Store::Memory, &variables);

    let (status, body) = readiness(&broker);
    assert_eq!((status, body["status"].as_str()), (503, Some("provider_misconfigured")), "{body}");
    let health = &body["providers"][0];
    assert_eq!(health["reachable"], true, "the provider answers: {body}");
    let problem = health["problem"].as_str().unwrap_or_else(|| panic!("no problem named: {body}"));
    assert!(problem.contains(&format!("`{}`", provider.issuer)) && problem.contains(&format!("`{configured}`")), "{problem}");

    let request = broker.new_request("frank");
    let page = broker.follow_login_link(&testkit::Login::from_reply(&request));
    assert_eq!(page.status, 502, "{}", page.body);
    assert!(page.body.contains(&format!("`{}`", provider.issuer)) && page.body.contains(&format!("`{configured}`")), "{}", page.body);
}

#[test]
fn readiness_names_invalid_configuration() {
    let broker = Broker::start(Store::Memory, &[("login_timeout", "0"), ("auth_providers", "[{\"id\": \"x\"}]")]);
    let reply = broker.get("/readiness");
    assert_eq!((reply.status, reply.error_code().as_str()), (503, "server_misconfigured"), "{}", reply.body);
    let description = reply.json()["error_description"].as_str().unwrap().to_owned();
    assert!(description.contains("`login_timeout`") && description.contains("`auth_providers`"), "both at once: {description}");
}

#[test]
fn the_log_is_json_lines_without_secrets() {
    let port = free_port();
    let provider = start_provider(port);
    let base_url = format!("http://127.0.0.1:{port}");
    let mut variables = provider.variables().to_vec();
    variables.push(("svc_base_uri", &base_url));
    let broker = Broker::start_on(port, Store::Memory, &variables);

    let request = broker.new_request("erin");
    let request_id = request["request"].as_str().unwrap();
    let login_path = testkit::Login::from_reply(&request).login_path;
    let logout_url = format!("{base_url}/oidc/logout");
    browser(&["--url", request["loginUrl"].as_str().unwrap(), "--username", "erin", "--logout-url", &logout_url]);
    let identity = identity_of(&broker, &request);
    let log = broker.log();
    let lines: Vec<Value> =
        log.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON line: {line}"))).collect();
    let secrets = [
        OIDC_CLIENT_SECRET,
        STATE_KEY,
        CLIENT_TOKEN,
        request_id,
        login_path.as_str(),
        request["userCode"].as_str().unwrap(),
        identity["email"].as_str().unwrap(),
        identity["name"].as_str().unwrap(),
    ];
    for secret in secrets {
        assert!(!log.contains(secret), "the log holds `{secret}`");
    }
    assert!(!log.contains("eyJ"), "the log holds a JWT");

    let events = |name: &'static str| lines.iter().filter(move |line| line["event"] == name);
    let finished: Vec<&Value> = events("login_finished").collect();
    assert_eq!(finished.len(), 1, "{log}");
    assert_eq!((&finished[0]["provider"], &finished[0]["outcome"]), (&json!("oidc"), &json!("ok")));
    let hash = finished[0]["login"].as_str().unwrap();
    for name in ["login_started", "identity_delivered"] {
        assert!(events(name).any(|line| line["login"] == hash), "{name} with the same login hash: {log}");
    }
    assert!(events("logout").any(|line| line["outcome"] == "end_session"), "{log}");
    // Milestones, not a line per request: the fast routes stay fast.
    assert_eq!(lines.len(), 4, "started, finished, delivered, logout: {log}");
}

/// With a default provider, a login goes there: the choice page offers nothing, and a
/// browser cannot move the login to another provider with `?providerId=`.
#[test]
fn with_a_default_provider_the_browser_cannot_pick_another() {
    let port = free_port();
    let (acme, partners) = (start_provider(port), start_provider(port));
    let mut owned = auth_providers_variables(&[("acme", "Acme Corporate SSO", &acme), ("partners", "Partner Network", &partners)]);
    let mut list: Value = serde_json::from_str(&owned[0].1).unwrap();
    list[1]["default"] = json!(true);
    owned[0].1 = list.to_string();
    let base_url = format!("http://127.0.0.1:{port}");
    let mut variables: Vec<(&str, &str)> = owned.iter().map(|(name, value)| (*name, value.as_str())).collect();
    variables.push(("svc_base_uri", &base_url));
    let broker = Broker::start_on(port, Store::Memory, &variables);

    let login = testkit::Login::from_reply(&broker.new_request("carol"));
    assert!(login.login_path.starts_with("/oidc/login/"), "no choice page: {}", login.login_path);
    let elsewhere = broker.get(&format!("{}?providerId=acme", login.login_path));
    assert_eq!(elsewhere.status, 400, "{}", elsewhere.body);
    assert!(elsewhere.body.contains("`partners`"), "{}", elsewhere.body);
    let to_default = broker.follow_login_link(&login);
    assert_eq!(to_default.status, 303, "{}", to_default.body);
    assert!(to_default.header("location").unwrap().starts_with(&partners.issuer), "{:?}", to_default.header("location"));
}

/// A provider's client secret goes to its token endpoint: `clientSecretVariable` may
/// name a provider secret variable, never one of the broker's own secrets (here the
/// TLS proxy's), which would then be sent to whoever runs that provider.
#[test]
fn a_provider_cannot_be_given_one_of_the_brokers_own_secrets() {
    let providers = r#"[{"id": "corp", "issuerUri": "https://idp.example.com", "clientId": "broker", "clientSecretVariable": "client_cert_proxy_secret"}]"#;
    let broker = Broker::start(
        Store::Memory,
        &[
            ("auth_providers", providers),
            ("auth_provider_origin_a", "https://idp.example.com"),
            ("client_cert_proxy_secret", "proxy-secret-0123456789abcdef"),
        ],
    );
    let reply = broker.get("/readiness");
    assert_eq!((reply.status, reply.error_code().as_str()), (503, "server_misconfigured"), "{}", reply.body);
    assert!(reply.body.contains("not `client_cert_proxy_secret`"), "{}", reply.body);
    assert!(!reply.body.contains("proxy-secret-0123456789abcdef") && !broker.log().contains("proxy-secret-0123456789abcdef"));
}

/// `AUTH_PROVIDERS` copied from a HAS deployment as HAS writes it: wrapped in
/// `{"providers": …}`, no ids and no protocols, the client secrets inline, flags and
/// numbers as strings, a field the broker does not know. A client moved from HAS names
/// a provider by the id HAS gives it (`oidc-1`: the second by label), and the login
/// finishes there.
#[test]
fn auth_providers_copied_from_has_work_and_has_ids_name_the_providers() {
    let port = free_port();
    let base_url = format!("http://127.0.0.1:{port}");
    let (acme, partners) = (start_provider(port), start_provider(port));
    let entry = |label: &str, provider: &OidcProvider| {
        json!({"label": label, "issuerUri": provider.issuer, "clientId": testkit::OIDC_CLIENT_ID, "clientSecret": OIDC_CLIENT_SECRET,
               "selectAccount": "false", "maxAge": "3600", "codeChallenge": "S256"})
    };
    let providers = json!({"providers": [entry("Partner Network", &partners), entry("Acme Corporate SSO", &acme)]}).to_string();
    let variables = [
        ("svc_base_uri", base_url.as_str()),
        ("auth_providers", &providers),
        ("auth_provider_origin_a", &acme.origin),
        ("auth_provider_origin_b", &partners.origin),
    ];
    let broker = Broker::start_on(port, Store::Memory, &variables);
    assert_eq!(broker.get("/readiness").status, 200);

    let request = broker.get("/requests/new/carol?providerId=oidc-1").json();
    let login_url = request["loginUrl"].as_str().unwrap();
    assert!(login_url.starts_with(&format!("{base_url}/oidc/login/")), "straight to the named provider: {login_url}");
    let report = browser(&["--url", login_url, "--username", "carol"]);
    assert!(report["text"].as_str().unwrap().contains("You are signed in"), "{report}");
    let identity = identity_of(&broker, &request);
    assert_eq!((&identity["iss"], &identity["providerId"]), (&json!(partners.issuer), &json!("oidc-1")), "{identity}");
    assert!(!broker.log().contains(OIDC_CLIENT_SECRET), "the inline secrets stay out of the log");
    let unknown = broker.get("/requests/new/carol?providerId=oidc-2");
    assert!(unknown.body.contains("oidc-1") && unknown.body.contains("oidc-0"), "{}", unknown.body);
}

/// The converter (`from-has`) on a HAS `.env` that lists two providers in
/// `AUTH_PROVIDERS`, one secret in a file: the broker starts with what it prints, is
/// ready, and a login named by HAS's id reaches the right provider.
#[test]
fn a_has_dotenv_converted_by_from_has_starts_a_working_broker() {
    let port = free_port();
    let base_url = format!("http://127.0.0.1:{port}");
    let (acme, partners) = (start_provider(port), start_provider(port));
    let providers = json!({"providers": [
        {"label": "Partner Network", "issuerUri": partners.issuer, "clientId": testkit::OIDC_CLIENT_ID, "clientSecretFile": "partner-secret"},
        {"label": "Acme Corporate SSO", "issuerUri": acme.issuer, "clientId": testkit::OIDC_CLIENT_ID, "clientSecret": OIDC_CLIENT_SECRET},
    ]});
    let dotenv = format!("SVC_BASE_URI={base_url}\nAUTH_PROVIDERS='{providers}'\nSESSION_SECRET=keyboard cat\nLOGIN_TIMEOUT=30\n");
    let read_file = |name: &str| if name == "partner-secret" { Ok(format!("{OIDC_CLIENT_SECRET}\n")) } else { Err(name.to_owned()) };
    let conversion = from_has::convert(&from_has::read_dotenv(&dotenv), &read_file);
    let variables = testkit::borrowed(&conversion.variables);
    let broker = Broker::start_on(port, Store::Memory, &variables);
    assert_eq!(broker.get("/readiness").status, 200, "{:?}", conversion.variables);

    let request = broker.get("/requests/new/dave?providerId=oidc-1").json();
    let report = browser(&["--url", request["loginUrl"].as_str().unwrap(), "--username", "dave"]);
    assert!(report["text"].as_str().unwrap().contains("You are signed in"), "{report}");
    assert_eq!(identity_of(&broker, &request)["iss"], partners.issuer, "oidc-1: the second by label, whose secret was in a file");
}

/// HAS's `DEFAULT_PROTOCOL` left empty with both its OpenID and SAML settings: the
/// person chooses, on a page naming each by HAS's `OIDC_INFO_LABEL` and `SAML_INFO_LABEL`.
#[test]
fn with_both_shorthands_and_no_default_protocol_the_person_chooses() {
    let port = free_port();
    let provider = start_provider(port);
    let cert = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/saml-idp-cert.pem")).unwrap();
    let base_url = format!("http://127.0.0.1:{port}");
    let mut variables = provider.variables().to_vec();
    variables.extend([
        ("svc_base_uri", base_url.as_str()),
        ("saml_idp_sso_url", "http://127.0.0.1:9/sso"),
        ("saml_idp_entity_id", "https://idp.example.com/metadata"),
        ("saml_idp_cert", cert.as_str()),
        ("oidc_info_label", "Corporate OpenID"),
        ("saml_info_label", "Partner SAML"),
    ]);
    let broker = Broker::start_on(port, Store::Memory, &variables);
    let request = broker.new_request("erin");
    let login_url = request["loginUrl"].as_str().unwrap();
    assert!(login_url.contains("/multi/login/"), "{login_url}");
    let page = broker.get(&testkit::Login::from_reply(&request).login_path);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Corporate OpenID") && page.body.contains("Partner SAML"), "{}", page.body);
    let named = broker.get("/requests/new/erin?providerId=saml").json();
    assert!(named["loginUrl"].as_str().unwrap().contains("/saml/login/"), "{named}");
}

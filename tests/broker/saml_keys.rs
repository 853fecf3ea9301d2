//! The broker's own SAML key pair, against a real identity provider (`samlify`,
//! tests/saml/idp.mjs) that learns the broker from its metadata, requires signed
//! AuthnRequests and encrypts its assertions: what HAS does with `SAML_CERT_FILE` and
//! `SAML_KEY_FILE`, and what ADFS, Entra ID, Okta, Keycloak and Shibboleth may demand.

use testkit::{Broker, Redis, Reply, SamlIdp, Store, browser_login, free_port, get_url, project_dir};

const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(project_dir().join("tests/fixtures").join(name)).unwrap()
}

/// An identity provider that requires signed requests and encrypts with `cipher`, and a
/// broker with `keys` (variables), on `port`.
fn strict_idp_and_broker(cipher: &str, keys: &[(&'static str, &str)]) -> (SamlIdp, Broker) {
    let port = free_port();
    let base_url = format!("http://127.0.0.1:{port}");
    let metadata = format!("{base_url}/saml/metadata");
    let idp = SamlIdp::start(&base_url, &["--sp-metadata-url", &metadata, "--encrypt", cipher]);
    let mut variables = idp.variables().to_vec();
    variables.push(("svc_base_uri", &base_url));
    variables.extend_from_slice(keys);
    let broker = Broker::start_on(port, Store::Memory, &variables);
    (idp, broker)
}

#[test]
fn a_person_signs_in_at_an_identity_provider_that_requires_signed_requests_and_encrypts_assertions() {
    let (key, cert) = (fixture("saml-sp-key.pem"), fixture("saml-sp-cert.pem"));
    let (idp, broker) = strict_idp_and_broker("aes128-gcm", &[("saml_sp_key", &key), ("saml_sp_cert", &cert)]);
    let metadata = broker.get("/saml/metadata").body;
    let der: String = cert.lines().filter(|line| !line.starts_with("-----")).collect();
    assert!(metadata.contains(r#"AuthnRequestsSigned="true""#) && metadata.matches(&der).count() == 2, "{metadata}");

    let request = broker.get("/requests/new/alice").json();
    let page = browser_login(request["loginUrl"].as_str().unwrap(), "alice@example.com");
    assert!(page["text"].as_str().unwrap().contains("You are signed in"), "{page}");
    let identity = broker.status(request["request"].as_str().unwrap()).json();
    assert_eq!((&identity["nameID"], &identity["email"]), (&"alice@example.com".into(), &"alice@example.com".into()), "{identity}");

    let authn_request = idp.last_request();
    assert_eq!(authn_request["sigAlg"], RSA_SHA256, "{authn_request}");
    let answer = idp.last_response();
    assert!(answer.contains("EncryptedAssertion") && answer.contains("xmlenc11#aes128-gcm"), "{answer}");
    assert!(!answer.contains("<saml:Assertion"), "nothing in clear: {answer}");
}

#[test]
fn aes_cbc_answers_are_decrypted_and_without_our_keys_the_strict_identity_provider_refuses_us() {
    let (key, cert) = (fixture("saml-sp-key.pem"), fixture("saml-sp-cert.pem"));
    let (idp, broker) = strict_idp_and_broker("aes256-cbc", &[("saml_sp_key", &key), ("saml_sp_cert", &cert), ("sp_key_algo", "sha512")]);
    let login = broker.login("bob");
    let departure = broker.follow_login_link(&login);
    assert_eq!(departure.status, 303, "{}", departure.body);
    let cookie = departure.header("set-cookie").unwrap().split(';').next().unwrap().to_owned();
    let form = idp.sign_in(departure.header("location").unwrap(), "bob@example.com");
    assert_eq!(idp.last_request()["sigAlg"], "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512");
    assert!(idp.last_response().contains("xmlenc#aes256-cbc"));
    let page = broker.post_form("/saml/sso", &cookie, form.clone());
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(broker.status(&login.request).json()["nameID"], "bob@example.com");
    let replay = broker.post_form("/saml/sso", &cookie, form);
    assert_eq!(replay.status, 409, "a decrypted assertion is used once too: {}", replay.body);

    // A broker without keys: its request goes unsigned, and this identity provider says no.
    let (_idp, keyless) = strict_idp_and_broker("aes256-cbc", &[]);
    let departure = keyless.follow_login_link(&keyless.login("carol"));
    let location = departure.header("location").unwrap();
    assert!(!location.contains("Signature="), "{location}");
    let refused = get_url(location);
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("ERR_MISSING_SIG_ALG"), "{}", refused.body);
}

#[test]
fn a_rotation_that_drops_the_key_still_in_use_refuses_the_answer_with_a_page_that_says_why() {
    // The identity provider encrypted to the certificate the metadata published; the
    // instance that receives the answer was given a new key without the previous one.
    let redis = Redis::start();
    let port = free_port();
    let base_url = format!("http://127.0.0.1:{port}");
    let idp = SamlIdp::start(&base_url, &["--sp-metadata-url", &format!("{base_url}/saml/metadata"), "--encrypt", "aes128-gcm"]);
    let (key, cert) = (fixture("saml-sp-key.pem"), fixture("saml-sp-cert.pem"));
    let (new_key, new_cert) = (fixture("saml-other-key.pem"), fixture("saml-other-cert.pem"));
    let with_keys = |key: &str, cert: &str| -> Vec<(&'static str, String)> {
        [("svc_base_uri", base_url.clone()), ("saml_sp_key", key.to_owned()), ("saml_sp_cert", cert.to_owned())]
            .into_iter()
            .chain(idp.variables().map(|(name, value)| (name, value.to_owned())))
            .collect()
    };
    let (before, after) = (with_keys(&key, &cert), with_keys(&new_key, &new_cert));
    let old = start(port, &redis, &before);
    let login = old.login("dave");
    let departure = old.follow_login_link(&login);
    let cookie = departure.header("set-cookie").unwrap().split(';').next().unwrap().to_owned();
    let form = idp.sign_in(departure.header("location").unwrap(), "dave@example.com");
    old.kill();

    let rotated = start(port, &redis, &after);
    let page = rotated.post_form("/saml/sso", &cookie, form);
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("encrypted to a key that is not this broker") && page.body.contains("saml_sp_cert"), "{}", page.body);
    assert!(!page.body.contains("BEGIN"), "no key material on the page");
    let status = rotated.status(&login.request);
    assert_ne!(status.status, 200, "no identity: {}", status.body);
}

fn start(port: u16, redis: &Redis, variables: &[(&'static str, String)]) -> Broker {
    let borrowed: Vec<(&str, &str)> = variables.iter().map(|(name, value)| (*name, value.as_str())).collect();
    Broker::start_on(port, Store::Redis(redis), &borrowed)
}

/// Signs `user` in without a browser; the session cookie the broker sets, and the
/// identity the client receives.
fn signed_in_session(broker: &Broker, idp: &SamlIdp, user: &str) -> (String, serde_json::Value) {
    let login = broker.login(user);
    let departure = broker.follow_login_link(&login);
    let sign_in_cookie = departure.header("set-cookie").unwrap().split(';').next().unwrap().to_owned();
    let form = idp.sign_in(departure.header("location").unwrap(), &format!("{user}@example.com"));
    let page = broker.post_form("/saml/sso", &sign_in_cookie, form);
    assert_eq!(page.status, 200, "{}", page.body);
    let session = set_cookies(&page).into_iter().find(|cookie| !cookie.contains("Max-Age=0")).expect("a session cookie");
    (session.split(';').next().unwrap().to_owned(), broker.status(&login.request).json())
}

fn set_cookies(reply: &Reply) -> Vec<String> {
    reply.headers.iter().filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie")).map(|(_, value)| value.clone()).collect()
}

/// The path and query of a URL at the broker.
fn at_broker(url: &str, broker_origin: &str) -> String {
    url.strip_prefix(broker_origin).unwrap_or_else(|| panic!("{url} is not at {broker_origin}")).to_owned()
}

#[test]
fn single_logout_both_ways_ends_the_session_at_the_broker_and_at_the_identity_provider() {
    let (key, cert) = (fixture("saml-sp-key.pem"), fixture("saml-sp-cert.pem"));
    let (idp, broker) = strict_idp_and_broker("aes128-gcm", &[("saml_sp_key", &key), ("saml_sp_cert", &cert)]);
    let origin = format!("http://{}", broker.http);
    assert!(broker.get("/saml/metadata").body.contains(&format!(r#"Location="{origin}/saml/slo""#)));

    // The person signs out at the broker (HAS's /saml/logout leads to the broker's one
    // logout route, where the session cookie goes): a signed LogoutRequest goes
    // to the identity provider, which answers at /saml/slo.
    let (session, identity) = signed_in_session(&broker, &idp, "erin");
    let onward = broker.get("/saml/logout");
    assert_eq!((onward.status, onward.header("location")), (303, Some(format!("{origin}/oidc/logout").as_str())));
    let leave = broker.get_with("/oidc/logout", &[("Cookie", &session)]);
    assert_eq!(leave.status, 303, "{}", leave.body);
    let to_idp = leave.header("location").unwrap().to_owned();
    assert!(to_idp.starts_with(&format!("{}/slo?SAMLRequest=", idp.origin)) && to_idp.contains("&Signature="), "{to_idp}");
    assert!(
        set_cookies(&leave).iter().any(|cookie| cookie.starts_with(session.split('=').next().unwrap()) && cookie.contains("Max-Age=0"))
    );
    let answered = get_url(&to_idp);
    assert_eq!(answered.status, 302, "the identity provider took our signed request: {}", answered.body);
    let heard = idp.last_logout();
    assert_eq!((&heard["type"], &heard["sigAlg"]), (&"LogoutRequest".into(), &RSA_SHA256.into()), "{heard}");
    assert_eq!(heard["extract"]["nameID"], "erin@example.com", "{heard}");
    assert_eq!(heard["extract"]["sessionIndex"], identity["sessionIndex"], "{heard}");
    let back = broker.get(&at_broker(answered.header("location").unwrap(), &origin));
    assert_eq!(back.status, 200, "{}", back.body);
    assert!(back.body.contains("You are signed out"), "{}", back.body);

    // The identity provider signs the person out: its signed LogoutRequest ends the
    // browser's session here and is answered with our signed LogoutResponse.
    let (session, identity) = signed_in_session(&broker, &idp, "frank");
    let start = get_url(&format!(
        "{}/slo/start?nameId=frank%40example.com&sessionIndex={}",
        idp.origin,
        identity["sessionIndex"].as_str().unwrap()
    ));
    assert_eq!(start.status, 302, "{}", start.body);
    let request_id = start.header("x-logout-request-id").unwrap().to_owned();
    let to_broker = at_broker(start.header("location").unwrap(), &origin);
    assert!(to_broker.starts_with("/saml/slo?SAMLRequest=") && to_broker.contains("&Signature="), "{to_broker}");
    let answer = broker.get_with(&to_broker, &[("Cookie", &session)]);
    assert_eq!(answer.status, 303, "{}", answer.body);
    assert!(
        set_cookies(&answer).iter().any(|cookie| cookie.starts_with(session.split('=').next().unwrap()) && cookie.contains("Max-Age=0"))
    );
    let done = get_url(answer.header("location").unwrap());
    assert_eq!(done.status, 200, "the identity provider took our signed answer: {}", done.body);
    let heard = idp.last_logout();
    assert_eq!((&heard["type"], &heard["sigAlg"]), (&"LogoutResponse".into(), &RSA_SHA256.into()), "{heard}");
    assert_eq!(heard["extract"]["response"]["inResponseTo"], request_id.as_str(), "{heard}");

    // Without its signature, or changed after signing, the identity provider's request
    // is refused with a page, and nothing is answered.
    let (unsigned, _) = to_broker.split_once("&SigAlg=").unwrap();
    let refused = broker.get_with(unsigned, &[("Cookie", &session)]);
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("not signed"), "{}", refused.body);
    let changed = broker.get(&to_broker.replace("RelayState=idp-relay", "RelayState=other"));
    assert_eq!(changed.status, 400, "{}", changed.body);
    assert!(changed.body.contains("not made with the identity provider"), "{}", changed.body);
}

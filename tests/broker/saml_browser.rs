//! A person signs in by SAML: headless Chromium opens the login URL, confirms, signs in
//! at a real SAML identity provider (`samlify`, tests/saml/idp.mjs) whose page posts
//! the signed Response back to the broker's Assertion Consumer Service; the client's
//! status call then returns the SAML profile. The broker learns the identity provider
//! from its metadata URL, and another instance finishes a login a killed one began.

use serde_json::{Value, json};
use testkit::{
    Broker, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OidcProvider, Redis, SamlIdp, Store, browser, browser_login, free_port, get_url,
};

fn assert_signed_in(page: &Value) {
    assert_eq!(page["status"], 200, "{page}");
    assert!(page["text"].as_str().unwrap().contains("You are signed in"), "{page}");
}

fn assert_profile(broker: &Broker, request: &str, user: &str) {
    let reply = broker.status(request);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let identity = reply.json();
    assert_eq!(identity["nameID"], format!("{user}@example.com"));
    assert_eq!(identity["nameIDFormat"], "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress");
    assert!(identity["sessionIndex"].as_str().is_some_and(|index| !index.is_empty()), "{identity}");
    assert_eq!(identity["email"], format!("{user}@example.com"));
    assert_eq!(identity["groups"], json!(["engineers", "staff"]));
    assert_eq!((&identity["providerId"], &identity["userId"]), (&json!("saml"), &json!(user)));
}

/// A broker on `port`, public at `base_port`'s address, that knows the identity
/// provider from its metadata only.
fn broker_for(port: u16, base_port: u16, store: Store, idp: &SamlIdp) -> Broker {
    let base_url = format!("http://127.0.0.1:{base_port}");
    let mut variables = idp.variables().to_vec();
    variables.push(("svc_base_uri", &base_url));
    Broker::start_on(port, store, &variables)
}

/// With `client_instance`, the client asks another instance (sharing the store) for
/// the login and its status, while the browser's part goes to the first.
fn sign_in_once(store: Store, query: &str, client_instance: bool) -> Value {
    let port = free_port();
    let idp = SamlIdp::start(&format!("http://127.0.0.1:{port}"), &[]);
    let broker = broker_for(port, port, store, &idp);
    let other = client_instance.then(|| broker_for(free_port(), port, store, &idp));
    let client = other.as_ref().unwrap_or(&broker);
    let request = client.get(&format!("/requests/new/alice{query}")).json();
    let login_url = request["loginUrl"].as_str().unwrap();
    assert!(login_url.contains("/saml/login/"), "{login_url}");
    assert_signed_in(&browser_login(login_url, "alice@example.com"));
    assert_profile(client, request["request"].as_str().unwrap(), "alice");

    assert_eq!(broker.get("/readiness").status, 200, "the identity provider's metadata is readable");
    let metadata = broker.get("/saml/metadata");
    assert_eq!(metadata.status, 200);
    assert!(metadata.header("content-type").unwrap().starts_with("application/samlmetadata+xml"));
    for part in [format!("entityID=\"http://127.0.0.1:{port}/saml/metadata\""), format!("Location=\"http://127.0.0.1:{port}/saml/sso\"")] {
        assert!(metadata.body.contains(&part), "{part}: {}", metadata.body);
    }
    let request = idp.last_request();
    assert_eq!(request["issuer"], format!("http://127.0.0.1:{port}/saml/metadata"));
    assert_eq!(request["assertionConsumerServiceUrl"], format!("http://127.0.0.1:{port}/saml/sso"));
    assert_eq!(request["destination"], idp.sso_url);
    request
}

#[test]
fn a_person_signs_in_at_a_saml_identity_provider_with_the_in_memory_store() {
    let request = sign_in_once(Store::Memory, "", false);
    assert!(request["id"].as_str().unwrap().starts_with('_'), "{request}");
    assert_eq!(request["protocolBinding"], "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST");
    assert_eq!(request["nameIdPolicyFormat"], "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified");
    assert_eq!(request["forceAuthn"], Value::Null, "{request}");
    assert_eq!(request["relayState"].as_str().unwrap().len(), 43, "the sign-in's state");
}

#[test]
fn a_person_signs_in_at_a_saml_identity_provider_with_redis_and_force_authn_for_a_client_of_another_instance() {
    let redis = Redis::start();
    let request = sign_in_once(Store::Redis(&redis), "?forceAuthn=true", true);
    assert_eq!(request["forceAuthn"], "true", "{request}");
}

#[test]
fn a_saml_login_begun_on_a_killed_instance_finishes_on_another() {
    let redis = Redis::start();
    let port = free_port();
    let idp = SamlIdp::start(&format!("http://127.0.0.1:{port}"), &[]);
    let a = broker_for(port, port, Store::Redis(&redis), &idp);
    let login = a.login("bob");
    let departure = a.follow_login_link(&login);
    assert_eq!(departure.status, 303, "{}", departure.body);
    let cookie = departure.header("set-cookie").unwrap().split(';').next().unwrap().to_owned();
    let answer = idp.sign_in(departure.header("location").unwrap(), "bob@example.com");
    a.kill();

    // B has never served a request; the load balancer sends the identity provider's post to it.
    let b = broker_for(free_port(), port, Store::Redis(&redis), &idp);
    let page = b.post_form("/saml/sso", &cookie, answer);
    assert_eq!(page.status, 200, "{}", page.body);
    assert_profile(&b, &login.request, "bob");
    assert_eq!(get_url(&format!("{}/metadata", idp.origin)).status, 200);
}

#[test]
fn the_person_chooses_a_saml_provider_listed_beside_an_openid_one() {
    let port = free_port();
    let base_url = format!("http://127.0.0.1:{port}");
    let idp = SamlIdp::start(&base_url, &[]);
    let oidc = OidcProvider::start(&[format!("{base_url}/oidc/callback")], &[]);
    let providers = json!([
        {"id": "corp-oidc", "label": "Corporate OpenID", "issuerUri": oidc.issuer, "clientId": OIDC_CLIENT_ID,
         "clientSecretVariable": "auth_provider_secret_a"},
        {"id": "corp-saml", "protocol": "saml", "label": "Corporate SAML", "metadataUrl": idp.metadata_url},
    ])
    .to_string();
    let variables = [
        ("svc_base_uri", base_url.as_str()),
        ("auth_providers", &providers),
        ("auth_provider_origin_a", &oidc.origin),
        ("auth_provider_secret_a", OIDC_CLIENT_SECRET),
        ("auth_provider_origin_b", &idp.origin),
    ];
    let broker = Broker::start_on(port, Store::Memory, &variables);
    let request = broker.new_request("carol");
    let login_url = request["loginUrl"].as_str().unwrap();
    assert!(login_url.contains("/multi/login/"), "{login_url}");
    let page = browser(&["--url", login_url, "--username", "carol@example.com", "--provider", "Corporate SAML"]);
    assert_signed_in(&page);
    let identity = broker.status(request["request"].as_str().unwrap()).json();
    assert_eq!((&identity["nameID"], &identity["providerId"]), (&json!("carol@example.com"), &json!("corp-saml")), "{identity}");
    let metadata = broker.get("/saml/metadata?providerId=corp-saml");
    assert!(metadata.body.contains(&format!("entityID=\"{base_url}/saml/metadata\"")), "{}", metadata.body);
    assert_eq!(broker.get("/saml/metadata?providerId=corp-oidc").status, 404, "an OpenID provider has no SAML metadata");
}

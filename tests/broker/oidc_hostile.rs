//! ID token validation and the callback's defences, against a provider double that
//! issues well-formed and hostile tokens. Each hostile token must be refused, the
//! request marked failed, and the client told at once.

use std::thread;
use std::time::{Duration, Instant};
use testkit::provider_double;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use provider_double::{
    Behaviour, CLIENT_ID, CLIENT_SECRET, Key, ProviderDouble, Userinfo, alice_claims, authorize, authorize_as, begin, begin_for, callback,
    issuing, now, provider_with, start_broker, unsigned_token,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use testkit::{Redis, Store};

#[test]
fn a_well_formed_sign_in_hands_the_identity_to_the_client() {
    let provider = provider_with(|issuer| issuing(Key::rsa("k1"), alice_claims(issuer.to_owned())));
    let broker = start_broker(Store::Memory, &provider, &[]);
    let sign_in = begin(&broker);

    // The authorization request: code flow, PKCE S256, random state and nonce, our callback.
    assert_eq!(sign_in.authorize_url.path(), "/authorize");
    assert_eq!(sign_in.param("response_type"), "code");
    assert_eq!(sign_in.param("client_id"), CLIENT_ID);
    assert_eq!(sign_in.param("scope"), "openid profile email");
    assert_eq!(sign_in.param("code_challenge_method"), "S256");
    assert_eq!(sign_in.param("redirect_uri"), "http://127.0.0.1:3000/oidc/callback");
    // state and nonce: 256 random bits each.
    assert_eq!(sign_in.param("state").len(), 43);
    assert!(sign_in.param("nonce").len() >= 43);
    assert_eq!(sign_in.param("prompt"), "");
    // The binding cookie: host-only, HttpOnly, SameSite=Lax; not Secure over http.
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/oidc/callback"] {
        assert!(sign_in.set_cookie.contains(attribute), "{}", sign_in.set_cookie);
    }
    assert!(!sign_in.set_cookie.contains("Domain") && !sign_in.set_cookie.contains("Secure"));

    let page = callback(&broker, &sign_in, "");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("You are signed in"));
    assert!(page.header("set-cookie").unwrap().contains("Max-Age=0"), "the binding cookie is cleared");

    // The code exchange: client_secret_basic, our redirect URI, the verifier of the challenge.
    let token = provider.seen(|seen| seen.token_requests[0].clone());
    let basic = format!("Basic {}", STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")));
    assert_eq!(token.authorization.as_deref(), Some(basic.as_str()));
    assert_eq!(token.param("grant_type"), Some("authorization_code"));
    assert_eq!(token.param("code"), Some("code-1"), "the code the provider issued");
    assert_eq!(token.param("redirect_uri"), Some("http://127.0.0.1:3000/oidc/callback"));
    let verifier = token.param("code_verifier").unwrap();
    assert_eq!(URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())), sign_in.param("code_challenge"));
    assert_eq!(token.param("client_secret"), None, "the secret travels in the Authorization header only");

    let status = broker.status(&sign_in.request_id);
    assert_eq!(status.status, 200, "{}", status.body);
    let identity = status.json();
    assert_eq!(identity["sub"], "alice-sub");
    assert_eq!(identity["iss"], provider.issuer);
    assert_eq!(identity["email"], "alice@example.com");
    assert_eq!(identity["name"], "Alice Example");
    assert_eq!(identity["preferred_username"], "alice");
    assert_eq!(identity["locale"], "en", "userinfo claims are merged in");
    assert!(identity.get("nonce").is_none());
    // Which configured provider asserted it, and whom the client asked for.
    assert_eq!((&identity["providerId"], &identity["userId"]), (&json!("oidc"), &json!("alice")));
}

#[test]
fn a_provider_cannot_name_another_provider_or_user_in_the_answer() {
    let provider = provider_with(|issuer| {
        let claims = alice_claims(issuer.to_owned());
        issuing(Key::rsa("k1"), move |grant| {
            let mut token = claims(grant);
            token["providerId"] = json!("partners");
            token["userId"] = json!("root");
            token
        })
    });
    let broker = start_broker(Store::Memory, &provider, &[]);
    let sign_in = begin(&broker);
    assert_eq!(callback(&broker, &sign_in, "").status, 200);
    let identity = broker.status(&sign_in.request_id).json();
    assert_eq!((&identity["providerId"], &identity["userId"]), (&json!("oidc"), &json!("alice")), "{identity}");
}

/// A provider's answers are read with a size limit and a time limit: an oversized or
/// stalled answer fails the sign-in with a page, and the client hears at once.
#[test]
fn an_oversized_or_stalled_provider_answer_fails_the_sign_in_cleanly() {
    let provider = provider_with(|issuer| issuing(Key::rsa("k1"), alice_claims(issuer.to_owned())));
    let broker = start_broker(Store::Memory, &provider, &[]);
    for (misbehaviour, within) in [(Userinfo::Oversized, 5), (Userinfo::Stalls(Duration::from_secs(14)), 12)] {
        provider.set_userinfo(misbehaviour);
        let sign_in = begin(&broker);
        let started = Instant::now();
        let page = callback(&broker, &sign_in, "");
        assert!(started.elapsed() < Duration::from_secs(within), "answered after {:?}", started.elapsed());
        assert_eq!(page.status, 502, "{}", page.body);
        assert!(page.header("content-type").unwrap().starts_with("text/html"));
        let status = broker.status(&sign_in.request_id);
        assert_eq!((status.status, status.error_code()), (403, "userinfo_error".to_owned()), "{}", status.body);
    }
}

/// RFC 9207: a provider that advertises `iss` puts it in every answer, so an answer
/// without it (or with another, error answers included) is refused.
#[test]
fn an_answer_without_iss_is_refused_when_the_provider_advertises_it() {
    let provider = provider_with(|issuer| issuing(Key::rsa("k1"), alice_claims(issuer.to_owned())));
    provider.set_advertises_iss(true);
    let broker = start_broker(Store::Memory, &provider, &[]);
    let sign_in = begin(&broker);
    assert_eq!(callback(&broker, &sign_in, "").status, 502);
    let status = broker.status(&sign_in.request_id);
    assert_eq!((status.status, status.error_code()), (403, "invalid_issuer".to_owned()), "{}", status.body);
    assert_eq!(provider.seen(|seen| seen.token_requests.len()), 0, "no code was exchanged");

    let sign_in = begin(&broker);
    let iss: String = url::form_urlencoded::byte_serialize(provider.issuer.as_bytes()).collect();
    assert_eq!(callback(&broker, &sign_in, &format!("&iss={iss}")).status, 200);

    let sign_in = begin(&broker);
    let state = sign_in.param("state");
    let refusal = format!("/oidc/callback?state={state}&error=access_denied&iss=http%3A%2F%2F127.0.0.1%3A1");
    assert_eq!(broker.get_with(&refusal, &[("Cookie", &sign_in.cookie)]).status, 502);
    let status = broker.status(&sign_in.request_id);
    assert_eq!(status.error_code(), "invalid_issuer", "an error answer from another issuer is not believed: {}", status.body);
}

/// With `forceAuthn` (`prompt=login`) the ID token's `auth_time` must show a sign-in
/// made for this login: a provider that ignored the demand is not believed.
#[test]
fn a_forced_fresh_sign_in_needs_a_fresh_auth_time() {
    let key = Key::rsa("k1");
    let provider = provider_with(|issuer| issuing(key.clone(), alice_claims(issuer.to_owned())));
    let broker = start_broker(Store::Memory, &provider, &[]);
    let signed_in_at = |auth_time: Option<u64>| {
        let claims = alice_claims(provider.issuer.clone());
        issuing(key.clone(), move |grant| {
            let mut token = claims(grant);
            if let Some(at) = auth_time {
                token["auth_time"] = json!(at);
            }
            token
        })
    };
    for (auth_time, force_authn, expected) in
        [(None, true, 403), (Some(now() - 600), true, 403), (Some(now()), true, 200), (Some(now() - 600), false, 200), (None, false, 200)]
    {
        provider.set_behaviour(signed_in_at(auth_time));
        let login = testkit::Login::from_reply(&broker.get(&format!("/requests/new/alice?forceAuthn={force_authn}")).json());
        let sign_in = provider_double::sign_in_for(&broker, &login);
        callback(&broker, &sign_in, "");
        let status = broker.status(&login);
        assert_eq!(status.status, expected, "auth_time {auth_time:?}, forceAuthn {force_authn}: {}", status.body);
    }
}

/// `verifiedEmailOnly`: an address the provider does not say it verified is not passed on.
#[test]
fn with_verified_email_only_an_unverified_email_is_dropped() {
    let key = Key::rsa("k1");
    let provider = provider_with(|issuer| issuing(key.clone(), alice_claims(issuer.to_owned())));
    let entry = json!([{"id": "corp", "issuerUri": provider.issuer, "clientId": CLIENT_ID,
        "clientSecretVariable": "auth_provider_secret_a", "verifiedEmailOnly": true}]);
    let entry = entry.to_string();
    let broker = start_broker(
        Store::Memory,
        &provider,
        &[
            ("oidc_issuer_uri", ""),
            ("auth_providers", &entry),
            ("auth_provider_origin_a", &provider.issuer),
            ("auth_provider_secret_a", CLIENT_SECRET),
        ],
    );
    for (verified, email_kept) in [(None, false), (Some(json!(false)), false), (Some(json!(true)), true)] {
        let claims = alice_claims(provider.issuer.clone());
        provider.set_behaviour(issuing(key.clone(), move |grant| {
            let mut token = claims(grant);
            if let Some(flag) = &verified {
                token["email_verified"] = flag.clone();
            }
            token
        }));
        let sign_in = begin(&broker);
        let page = callback(&broker, &sign_in, "");
        assert_eq!(page.status, 200, "{}", page.body);
        let identity = broker.status(&sign_in.request_id).json();
        assert_eq!(identity.get("email").is_some(), email_kept, "{identity}");
        assert_eq!(identity["sub"], "alice-sub", "the rest of the identity stays");
    }
}

#[test]
fn es256_tokens_are_accepted() {
    let provider = provider_with(|issuer| issuing(Key::ec("ec1"), alice_claims(issuer.to_owned())));
    let broker = start_broker(Store::Memory, &provider, &[]);
    let sign_in = begin(&broker);
    assert_eq!(callback(&broker, &sign_in, "").status, 200);
    assert_eq!(broker.status(&sign_in.request_id).json()["sub"], "alice-sub");
}

#[test]
fn hostile_id_tokens_are_refused_and_the_client_is_told_at_once() {
    type Forge = fn(&Key, &Key, Value) -> String;
    type Case = (&'static str, fn(&mut Value), Forge);
    let cases: Vec<Case> = vec![
        ("a signature by another key", |_| {}, |_, other, claims| other.sign(&claims)),
        ("alg none", |_| {}, |_, _, claims| unsigned_token(&claims)),
        ("HS256 keyed with the public key", |_| {}, |published, _, claims| published.forge_hs256_with_public_key(&claims)),
        ("a wrong issuer", |c| c["iss"] = json!("http://127.0.0.1:1"), |k, _, c| k.sign(&c)),
        ("a wrong audience", |c| c["aud"] = json!("someone-else"), |k, _, c| k.sign(&c)),
        ("an untrusted extra audience", |c| c["aud"] = json!([CLIENT_ID, "someone-else"]), |k, _, c| k.sign(&c)),
        ("another authorized party", |c| c["azp"] = json!("someone-else"), |k, _, c| k.sign(&c)),
        (
            "an expired token",
            |c| {
                c["exp"] = json!(now() - 600);
                c["iat"] = json!(now() - 900)
            },
            |k, _, c| k.sign(&c),
        ),
        ("a token issued in the future", |c| c["iat"] = json!(now() + 600), |k, _, c| k.sign(&c)),
        ("a wrong nonce", |c| c["nonce"] = json!("not-the-nonce"), |k, _, c| k.sign(&c)),
        (
            "no nonce",
            |c| {
                c.as_object_mut().unwrap().remove("nonce");
            },
            |k, _, c| k.sign(&c),
        ),
    ];
    let provider = ProviderDouble::start(Behaviour { published: vec![], id_token: Box::new(|_| String::new()) });
    let broker = start_broker(Store::Memory, &provider, &[]);
    // Same kid, different key: a forger's.
    let (published_key, forger_key) = (Key::rsa("k1"), Key::rsa("k1"));
    for (name, tamper, forge) in cases {
        let issuer = provider.issuer.clone();
        let (published, other) = (published_key.clone(), forger_key.clone());
        provider.set_behaviour(Behaviour {
            published: vec![published_key.clone()],
            id_token: Box::new(move |grant| {
                let mut claims = alice_claims(issuer.clone())(grant);
                tamper(&mut claims);
                forge(&published, &other, claims)
            }),
        });
        let sign_in = begin(&broker);
        let page = callback(&broker, &sign_in, "");
        assert_eq!(page.status, 502, "{name}: {}", page.body);
        assert!(page.body.contains("ID token was refused"), "{name}: {}", page.body);

        let started = Instant::now();
        let status = broker.status(&sign_in.request_id);
        assert_eq!(status.status, 403, "{name}: {}", status.body);
        assert_eq!(status.error_code(), "invalid_id_token", "{name}");
        assert!(started.elapsed() < Duration::from_secs(10), "{name}: answered at once, not after the timeout");
    }
}

#[test]
fn keys_are_cached_and_fetched_again_once_after_a_rotation() {
    let provider = provider_with(|issuer| issuing(Key::rsa("old"), alice_claims(issuer.to_owned())));
    let broker = start_broker(Store::Memory, &provider, &[]);
    for _ in 0..2 {
        let sign_in = begin(&broker);
        assert_eq!(callback(&broker, &sign_in, "").status, 200);
    }
    assert_eq!(provider.seen(|seen| (seen.discovery_fetches, seen.jwks_fetches)), (1, 1), "not fetched again per login");

    // The provider rotates to a new key the broker has not seen.
    provider.set_behaviour(issuing(Key::rsa("new"), alice_claims(provider.issuer.clone())));
    let sign_in = begin(&broker);
    let page = callback(&broker, &sign_in, "");
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(broker.status(&sign_in.request_id).json()["sub"], "alice-sub");
    assert_eq!(provider.seen(|seen| (seen.discovery_fetches, seen.jwks_fetches)), (1, 2), "one refetch for the unknown kid");
}

#[test]
fn an_answer_from_another_issuer_is_refused() {
    let provider = provider_with(|issuer| issuing(Key::rsa("k1"), alice_claims(issuer.to_owned())));
    let broker = start_broker(Store::Memory, &provider, &[]);
    let sign_in = begin(&broker);
    let page = callback(&broker, &sign_in, "&iss=http%3A%2F%2Fevil.example");
    assert_eq!(page.status, 502, "{}", page.body);
    assert_eq!(broker.status(&sign_in.request_id).error_code(), "invalid_issuer");
    assert_eq!(provider.seen(|seen| seen.token_requests.len()), 0, "the code is never sent to the token endpoint");

    let sign_in = begin(&broker);
    let matching = format!("&iss={}", url::form_urlencoded::byte_serialize(provider.issuer.as_bytes()).collect::<String>());
    assert_eq!(callback(&broker, &sign_in, &matching).status, 200);
}

#[test]
fn a_refusal_at_the_provider_reaches_the_client_at_once() {
    let provider = provider_with(|issuer| issuing(Key::rsa("k1"), alice_claims(issuer.to_owned())));
    let broker = start_broker(Store::Memory, &provider, &[]);
    let sign_in = begin(&broker);
    let state = form_urlencoded::byte_serialize(sign_in.param("state").as_bytes()).collect::<String>();
    let path = format!("/oidc/callback?error=access_denied&error_description=User+cancelled&state={state}");
    let page = broker.get_with(&path, &[("Cookie", &sign_in.cookie)]);
    assert_eq!(page.status, 403);
    assert!(page.body.contains("User cancelled"));
    let status = broker.status(&sign_in.request_id);
    assert_eq!((status.status, status.error_code()), (403, "access_denied".to_owned()));
}

#[test]
fn a_callback_is_accepted_once_and_only_from_the_browser_that_started_it() {
    let provider = provider_with(|issuer| issuing(Key::rsa("k1"), alice_claims(issuer.to_owned())));
    let broker = start_broker(Store::Memory, &provider, &[]);
    let sign_in = begin(&broker);
    let path = authorize(&sign_in);

    for cookie in [None, Some("lb_signin=someone-elses-secret")] {
        let headers: Vec<(&str, &str)> = cookie.map(|c| vec![("Cookie", c)]).unwrap_or_default();
        let page = broker.get_with(&path, &headers);
        assert_eq!(page.status, 400, "{}", page.body);
        assert!(page.body.contains("another browser"));
    }
    // Those attempts did not spend the state: the rightful browser still finishes.
    assert_eq!(broker.get_with(&path, &[("Cookie", &sign_in.cookie)]).status, 200);
    let replay = broker.get_with(&path, &[("Cookie", &sign_in.cookie)]);
    assert_eq!(replay.status, 409);
    assert!(replay.body.contains("already ended"), "{}", replay.body);
    assert_eq!(provider.seen(|seen| seen.token_requests.len()), 1);

    let unknown = broker.get_with("/oidc/callback?code=c&state=never-issued", &[("Cookie", &sign_in.cookie)]);
    assert_eq!(unknown.status, 400);
    for incomplete in ["/oidc/callback", "/oidc/callback?code=c", "/oidc/callback?state=s"] {
        assert_eq!(broker.get(incomplete).status, 400, "{incomplete}");
    }
}

/// Two applications (or two tabs) start logins in one browser before either finishes:
/// each sign-in keeps its own cookie, so both callbacks succeed, each for its own user.
#[test]
fn logins_started_side_by_side_in_one_browser_both_finish() {
    let provider = provider_with(|issuer| issuing(Key::rsa("k1"), alice_claims(issuer.to_owned())));
    let broker = start_broker(Store::Memory, &provider, &[]);
    let (first, second) = (begin_for(&broker, "alice"), begin_for(&broker, "bob"));
    // The browser's jar: a cookie set under a name already there replaces it.
    let mut jar = std::collections::BTreeMap::new();
    for sign_in in [&first, &second] {
        let (name, value) = sign_in.cookie.split_once('=').unwrap();
        jar.insert(name, value);
    }
    let cookie_header: Vec<String> = jar.iter().map(|(name, value)| format!("{name}={value}")).collect();
    let cookie_header = cookie_header.join("; ");
    for (sign_in, user) in [(&first, "alice"), (&second, "bob")] {
        let page = broker.get_with(&authorize_as(sign_in, user), &[("Cookie", &cookie_header)]);
        assert_eq!(page.status, 200, "{user}: {}", page.body);
        assert_eq!(broker.status(&sign_in.request_id).json()["sub"], user);
    }
}

#[test]
fn request_options_reach_the_provider() {
    let provider = provider_with(|issuer| issuing(Key::rsa("k1"), alice_claims(issuer.to_owned())));
    let broker = start_broker(Store::Memory, &provider, &[("oidc_max_age", "600"), ("oidc_select_account", "true")]);
    let login = testkit::Login::from_reply(&broker.get("/requests/new/alice?forceAuthn=true").json());
    let location = broker.follow_login_link(&login).header("location").unwrap().to_owned();
    let url = url::Url::parse(&location).unwrap();
    let param = |name: &str| url.query_pairs().find(|(n, _)| n == name).map(|(_, v)| v.into_owned());
    assert_eq!(param("prompt").as_deref(), Some("login select_account"));
    assert_eq!(param("max_age").as_deref(), Some("600"));
}

#[test]
fn client_secret_post_sends_the_secret_in_the_form() {
    let provider = provider_with(|issuer| issuing(Key::rsa("k1"), alice_claims(issuer.to_owned())));
    let broker = start_broker(Store::Memory, &provider, &[("oidc_token_endpoint_auth_method", "client_secret_post")]);
    let sign_in = begin(&broker);
    assert_eq!(callback(&broker, &sign_in, "").status, 200);
    let token = provider.seen(|seen| seen.token_requests[0].clone());
    assert_eq!(token.authorization, None);
    assert_eq!((token.param("client_id"), token.param("client_secret")), (Some(CLIENT_ID), Some(CLIENT_SECRET)));
}

#[test]
fn racing_callbacks_on_two_instances_consume_a_state_once() {
    let provider = provider_with(|issuer| issuing(Key::rsa("k1"), alice_claims(issuer.to_owned())));
    let redis = Redis::start();
    let instances = [start_broker(Store::Redis(&redis), &provider, &[]), start_broker(Store::Redis(&redis), &provider, &[])];
    const ROUNDS: usize = 30;
    for round in 0..ROUNDS {
        let sign_in = begin(&instances[round % 2]);
        let path = authorize(&sign_in);
        let statuses: Vec<u16> = thread::scope(|scope| {
            let racers: Vec<_> =
                instances.iter().map(|broker| scope.spawn(|| broker.get_with(&path, &[("Cookie", &sign_in.cookie)]).status)).collect();
            racers.into_iter().map(|racer| racer.join().unwrap()).collect()
        });
        let mut sorted = statuses.clone();
        sorted.sort();
        assert_eq!(sorted, [200, 409], "round {round}");
        assert_eq!(instances[(round + 1) % 2].status(&sign_in.request_id).status, 200);
    }
    assert_eq!(provider.seen(|seen| seen.token_requests.len()), ROUNDS, "each code was exchanged once");
}

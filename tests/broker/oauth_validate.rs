//! `/oauth/validate` (HAS's route) under real Spin: tokens a client got from its
//! provider, signed by keys in a JWKS served on loopback (the provider double's), are
//! answered with their claims; every hostile variant gets 401 naming the failed check,
//! never echoing the token; and a flood of made-up key ids fetches the key set again at
//! most once a minute, across instances.

use std::thread;
use testkit::provider_double;

use provider_double::{Behaviour, Key, ProviderDouble, now, provider_with, unsigned_token};
use serde_json::{Value, json};
use testkit::{Broker, Redis, Reply, Store};

const AUDIENCE: &str = "api://helix-core";
const TENANT: &str = "tenant-1";

fn publishing(keys: Vec<Key>) -> ProviderDouble {
    provider_with(|_| Behaviour { published: keys, id_token: Box::new(|_| String::new()) })
}

fn variables(provider: &ProviderDouble) -> Vec<(&'static str, String)> {
    vec![
        ("oauth_jwks_uri", format!("{}/jwks", provider.issuer)),
        ("oauth_jwks_origin", provider.issuer.clone()),
        ("oauth_issuer", provider.issuer.clone()),
        ("oauth_audience", AUDIENCE.to_owned()),
        ("oauth_algorithm", "RS256,ES256".to_owned()),
    ]
}

fn start(store: Store, provider: &ProviderDouble, extra: &[(&'static str, &str)]) -> Broker {
    let mut owned = variables(provider);
    owned.extend(extra.iter().map(|(name, value)| (*name, value.to_string())));
    let variables: Vec<(&str, &str)> = owned.iter().map(|(name, value)| (*name, value.as_str())).collect();
    Broker::start(store, &variables)
}

fn claims(issuer: &str) -> Value {
    let now = now();
    json!({"iss": issuer, "aud": [AUDIENCE, "api://other"], "sub": "alice", "tid": TENANT, "iat": now, "nbf": now, "exp": now + 300,
           "name": "Alice Example", "upn": "alice@example.com", "scp": "user_impersonation"})
}

fn validate(broker: &Broker, token: &str) -> Reply {
    broker.get_with("/oauth/validate", &[("Authorization", &format!("Bearer {token}"))])
}

/// 401 with RFC 6750's challenge, naming `check`, never showing the token.
fn assert_refused(reply: &Reply, check: &str, token: &str, what: &str) {
    assert_eq!((reply.status, reply.error_code().as_str()), (401, "invalid_token"), "{what}: {}", reply.body);
    assert!(reply.header("www-authenticate").unwrap().contains("error=\"invalid_token\""), "{what}");
    let description = reply.json()["error_description"].as_str().unwrap().to_owned();
    assert!(description.contains(&format!("`{check}` check")), "{what}: expected the `{check}` check: {description}");
    let tail = &token[token.len().saturating_sub(20)..];
    assert!(tail.len() < 20 || !reply.body.contains(tail), "{what}: the answer shows the token");
}

#[test]
fn a_token_from_the_provider_is_answered_with_its_verified_claims() {
    let (rsa, ec) = (Key::rsa("rsa-1"), Key::ec("ec-1"));
    let provider = publishing(vec![rsa.clone(), ec.clone()]);
    let broker = start(Store::Memory, &provider, &[("oauth_tenant_id", TENANT)]);
    let claims = claims(&provider.issuer);
    for key in [&rsa, &ec] {
        let reply = validate(&broker, &key.sign(&claims));
        assert_eq!(reply.status, 200, "{}: {}", key.kid(), reply.body);
        assert_eq!(reply.json(), claims, "the payload as the provider signed it");
    }
    assert_eq!(provider.seen(|seen| seen.jwks_fetches), 1, "fetched once, then cached");
    let missing = broker.get("/oauth/validate");
    assert_eq!(missing.status, 401, "{}", missing.body);
    assert_eq!(missing.header("www-authenticate"), Some("Bearer realm=\"login-broker\""), "no token, no error code (RFC 6750)");
    assert_eq!(broker.request("POST", "/oauth/validate").status, 405);
}

#[test]
fn every_hostile_token_is_refused_naming_the_check_it_failed() {
    let key = Key::rsa("k1");
    let provider = publishing(vec![key.clone()]);
    let broker = start(Store::Memory, &provider, &[("oauth_tenant_id", TENANT), ("oauth_algorithm", "RS256")]);
    let good = claims(&provider.issuer);
    let with = |field: &str, value: Value| {
        let mut claims = good.clone();
        claims[field] = value;
        claims
    };
    let now = now();
    let signed = key.sign(&good);
    let (header_and_payload, _) = signed.rsplit_once('.').unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        ("expired", key.sign(&with("exp", json!(now - 120))), "exp"),
        ("another issuer", key.sign(&with("iss", json!("https://evil.example"))), "iss"),
        ("another audience", key.sign(&with("aud", json!("api://other"))), "aud"),
        ("another tenant", key.sign(&with("tid", json!("tenant-2"))), "tid"),
        (
            "no tenant",
            key.sign(&{
                let mut claims = good.clone();
                claims.as_object_mut().unwrap().remove("tid");
                claims
            }),
            "tid",
        ),
        ("not valid yet", key.sign(&with("nbf", json!(now + 600))), "nbf"),
        ("issued in the future", key.sign(&with("iat", json!(now + 600))), "iat"),
        ("an unknown key", Key::rsa("k9").sign(&good), "key"),
        ("the right kid, another key's signature", Key::rsa("k1").sign(&good), "signature"),
        ("ES256 where only RS256 is allowed", Key::ec("k1").sign(&good), "alg"),
        ("alg none", unsigned_token(&good), "alg"),
        ("HS256 keyed with the public key", key.forge_hs256_with_public_key(&good), "alg"),
        ("a truncated signature", signed[..signed.len() - 8].to_owned(), "signature"),
        ("no signature", format!("{header_and_payload}."), "signature"),
        ("not a JWT", "not-a-jwt".to_owned(), "format"),
        ("oversized", format!("{signed}{}", "A".repeat(9000)), "size"),
    ];
    for (what, token, check) in &cases {
        assert_refused(&validate(&broker, token), check, token, what);
    }
    let log = broker.log();
    assert!(!log.contains(&signed[signed.len() - 40..]), "no token in the log");
    assert!(log.contains("\"token_refused\""), "refusals are logged, by check");
}

/// Made-up `kid`s, from many clients at once and on two instances sharing Redis: the
/// key set is fetched again at most once a minute, however many arrive.
#[test]
fn a_flood_of_unknown_key_ids_fetches_the_key_set_at_most_once_a_minute() {
    let key = Key::rsa("k1");
    let provider = publishing(vec![key.clone()]);
    let redis = Redis::start();
    let (a, b) = (start(Store::Redis(&redis), &provider, &[]), start(Store::Redis(&redis), &provider, &[]));
    let good = claims(&provider.issuer);
    let minute = || now() / 60;
    let first_minute = minute();
    assert_eq!(validate(&a, &key.sign(&good)).status, 200);
    assert_eq!(validate(&b, &key.sign(&good)).status, 200, "the second instance reads the stored key set");
    assert_eq!(provider.seen(|seen| seen.jwks_fetches), 1);
    let forger = Key::rsa("forger");
    thread::scope(|scope| {
        for t in 0..8 {
            let (broker, forger, good) = (if t % 2 == 0 { &a } else { &b }, &forger, &good);
            scope.spawn(move || {
                for n in 0..40 {
                    // The same forged token under a fresh kid each time.
                    let forged = forger.sign(good);
                    let header = json!({"alg": "RS256", "typ": "JWT", "kid": format!("made-up-{t}-{n}")});
                    let token = format!("{}{}", base64_url(&header.to_string()), &forged[forged.find('.').unwrap()..]);
                    assert_refused(&validate(broker, &token), "key", &token, "a made-up kid");
                }
            });
        }
    });
    let minutes = minute() - first_minute + 1;
    let fetches = provider.seen(|seen| seen.jwks_fetches);
    assert!(fetches <= 1 + minutes as usize, "{fetches} fetches in {minutes} minute(s) for 320 made-up kids");
    assert!(fetches >= 2, "an unknown kid does fetch again, once");
    // Only those that raced for a minute's claim wrote to the store: not one entry per kid.
    let entries = redis.command(&["--scan", "--pattern", "lb:v2:reg:*"]).unwrap().lines().count();
    assert!(entries <= 8 * minutes as usize, "{entries} registry entries for 320 made-up kids");
    assert_eq!(validate(&b, &key.sign(&good)).status, 200, "real tokens still pass");
}

fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

#[test]
fn a_key_the_provider_rotated_in_is_fetched_and_used() {
    let old = Key::rsa("2026-11");
    let provider = publishing(vec![old.clone()]);
    let broker = start(Store::Memory, &provider, &[]);
    let good = claims(&provider.issuer);
    assert_eq!(validate(&broker, &old.sign(&good)).status, 200);
    let new = Key::rsa("2026-12");
    provider.set_behaviour(Behaviour { published: vec![old, new.clone()], id_token: Box::new(|_| String::new()) });
    let reply = validate(&broker, &new.sign(&good));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(provider.seen(|seen| seen.jwks_fetches), 2);
}

#[test]
fn a_key_given_as_pem_verifies_without_any_fetch() {
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    let key = Key::rsa("whatever-kid");
    let Key::Rsa { key: private, .. } = &key else { unreachable!() };
    let pem = private.to_public_key().to_public_key_pem(LineEnding::LF).unwrap();
    let provider = publishing(vec![]);
    let issuer = provider.issuer.clone();
    let broker = Broker::start(Store::Memory, &[("oauth_signing_key", &pem), ("oauth_issuer", &issuer), ("oauth_audience", AUDIENCE)]);
    let good = claims(&issuer);
    assert_eq!(validate(&broker, &key.sign(&good)).json(), good);
    let other = Key::rsa("whatever-kid").sign(&good);
    assert_refused(&validate(&broker, &other), "signature", &other, "another key");
    assert_eq!(provider.seen(|seen| seen.jwks_fetches), 0);

    let unconfigured = Broker::start(Store::Memory, &[]);
    let reply = validate(&unconfigured, &key.sign(&good));
    assert_eq!((reply.status, reply.error_code().as_str()), (501, "not_configured"), "{}", reply.body);
}

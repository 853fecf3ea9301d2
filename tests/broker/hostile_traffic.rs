//! 100,000 generated hostile requests under `spin up`: random methods, paths,
//! percent-encodings, headers, cookies, bodies, and replayed or truncated sign-in
//! callbacks. The broker must never panic (the host would answer 500 for a trapped
//! component), never answer 5xx, and still serve a correct login afterwards.

use std::collections::BTreeMap;
use std::thread;
use testkit::provider_double;

use provider_double::{Key, alice_claims, authorize_as, begin_for, finish_login, issuing, provider_with, start_broker};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use testkit::{Broker, Login, Store, UNKNOWN_REQUEST_ID};

const REQUESTS: usize = 100_000;
const THREADS: usize = 4;

const METHODS: [&str; 8] = ["GET", "GET", "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];
const ROUTES: [&str; 17] = [
    "/requests/new/",
    "/requests/status/",
    "/oidc/login/",
    "/multi/login/",
    "/oidc/callback",
    "/oidc/logout",
    "/oidc/logged_out",
    "/oauth/validate",
    "/saml/login/",
    "/saml/sso",
    "/saml/metadata",
    "/liveness",
    "/readiness",
    "/status",
    "/",
    "/requests/",
    "/oidc/",
];
const NASTY: [&str; 14] =
    ["%00", "%0A", "%0D%0A", "%FF", "%C0%AF", "%2F", "..%2F..", "%25", "%ZZ", "<script>", "%E2%80%AE", "'\"", "%7F", "\\"];

fn random_text(rng: &mut StdRng, max: usize) -> String {
    let len = rng.gen_range(0..=max);
    (0..len)
        .map(|_| match rng.gen_range(0..10) {
            0 => NASTY[rng.gen_range(0..NASTY.len())].to_owned(),
            1 => format!("%{:02X}", rng.r#gen::<u8>()),
            _ => char::from(rng.gen_range(b'!'..=b'~')).to_string(),
        })
        .collect::<String>()
        .chars()
        // What a URI may hold as it is; the rest goes percent-encoded, as a client sends it.
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@/%".contains(c) { c.to_string() } else { format!("%{:02X}", c as u32 & 0xff) }
        })
        .collect()
}

/// `handle` with one character changed: still base64url, but its seal no longer opens.
fn tampered(rng: &mut StdRng, handle: &str) -> String {
    let mut bytes = handle.as_bytes().to_vec();
    let at = rng.gen_range(0..bytes.len());
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

fn random_path(rng: &mut StdRng, known: &Login) -> String {
    let route = ROUTES[rng.gen_range(0..ROUTES.len())];
    let login_handle = known.login_path.trim_start_matches("/oidc/login/");
    let segment = match rng.gen_range(0..9) {
        0 => known.request.clone(),
        1 => UNKNOWN_REQUEST_ID.to_owned(),
        2 => "u".repeat(rng.gen_range(200..400)),
        3 => known.request[..rng.gen_range(0..known.request.len())].to_owned(),
        // The victim's login link, on every route (it must grant no status), and forged.
        4 => login_handle.to_owned(),
        5 => tampered(rng, login_handle),
        6 => tampered(rng, &known.request),
        _ => random_text(rng, 40),
    };
    let query = match rng.gen_range(0..4) {
        0 => String::new(),
        1 => format!("?state={}&code={}", random_text(rng, 60), random_text(rng, 20)),
        2 => format!("?forceAuthn={}&providerId={}", random_text(rng, 8), random_text(rng, 20)),
        _ => format!("?{}={}&iss={}&error={}", random_text(rng, 10), random_text(rng, 30), random_text(rng, 30), random_text(rng, 10)),
    };
    let path = if route.ends_with('/') && route.len() > 1 { format!("{route}{segment}") } else { route.to_owned() };
    format!("{path}{query}")
}

fn random_headers(rng: &mut StdRng) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    if rng.gen_bool(0.5) {
        let value = match rng.gen_range(0..5) {
            0 => format!("Bearer {}", random_text(rng, 60)),
            // JWT-shaped: a header naming a random key id, a random payload and signature.
            4 => format!(
                "Bearer {}.{}.{}",
                base64_url(&format!("{{\"alg\":\"RS256\",\"kid\":\"{}\"}}", random_text(rng, 10))),
                base64_url(&random_text(rng, 80)),
                random_text(rng, 40)
            ),
            1 => "Bearer ".to_owned(),
            2 => format!("Basic {}", random_text(rng, 30)),
            _ => random_text(rng, 100),
        };
        headers.push(("Authorization".to_owned(), value));
    }
    if rng.gen_bool(0.5) {
        let cookie = format!(
            "lb_signin_{}={}; __Host-lb_signin={}; lb_session={}; x={}",
            (0..43)
                .map(|_| char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[rng.gen_range(0..64)]))
                .collect::<String>(),
            random_text(rng, 400),
            random_text(rng, 50),
            random_text(rng, 300),
            random_text(rng, 500)
        );
        headers.push(("Cookie".to_owned(), cookie));
    }
    if rng.gen_bool(0.2) {
        headers.push(("Content-Type".to_owned(), random_text(rng, 30)));
    }
    headers.retain(|(_, value)| value.bytes().all(|b| (0x20..0x7f).contains(&b)));
    headers
}

/// Sends `count` generated requests; returns how many got each status.
fn storm(broker: &Broker, seed: u64, count: usize, known_id: &Login, callbacks: &[(String, String)]) -> BTreeMap<u16, usize> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut statuses = BTreeMap::new();
    for _ in 0..count {
        let reply = if rng.gen_ratio(1, 50) {
            // A real callback, replayed whole or cut short anywhere.
            let (path, cookie) = &callbacks[rng.gen_range(0..callbacks.len())];
            let cut = if rng.gen_bool(0.5) { path.len() } else { rng.gen_range(0..path.len()) };
            broker.get_with(&path[..cut], &[("Cookie", cookie)])
        } else {
            let method = METHODS[rng.gen_range(0..METHODS.len())];
            let body: Vec<u8> = match (method, rng.gen_range(0..4)) {
                ("GET", _) => Vec::new(),
                // A SAML answer's shape, holding XML-ish junk.
                (_, 0) => saml_like_form(&mut rng).into_bytes(),
                _ => (0..rng.gen_range(0..2048)).map(|_| rng.r#gen()).collect(),
            };
            broker.send(method, &random_path(&mut rng, known_id), &random_headers(&mut rng), body)
        };
        assert!(reply.status < 500, "{} for a hostile request: {}", reply.status, reply.body);
        *statuses.entry(reply.status).or_default() += 1;
    }
    statuses
}

#[test]
fn a_hundred_thousand_hostile_requests_break_nothing() {
    let provider = provider_with(|issuer| issuing(Key::rsa("k1"), alice_claims(issuer.to_owned())));
    let jwks = format!("{}/jwks", provider.issuer);
    let oauth = [
        ("oauth_jwks_uri", jwks.as_str()),
        ("oauth_jwks_origin", provider.issuer.as_str()),
        ("oauth_issuer", provider.issuer.as_str()),
        ("oauth_audience", "api://helix-core"),
    ];
    let cert = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/saml-idp-cert.pem")).unwrap();
    let saml = [
        ("saml_idp_sso_url", "http://127.0.0.1:9/sso"),
        ("saml_idp_entity_id", "https://idp.example.com"),
        ("saml_idp_cert", cert.as_str()),
    ];
    // Both shorthands: logins that name no provider go to the OpenID one.
    let mut variables = vec![("login_timeout", "1"), ("status_enabled", "true"), ("default_protocol", "oidc")];
    variables.extend(saml);
    variables.extend(oauth);
    let broker = start_broker(Store::Memory, &provider, &variables);
    let known_id = broker.login("victim");
    // Callbacks of real sign-ins, to replay and truncate.
    let callbacks: Vec<(String, String)> = (0..20)
        .map(|n| {
            let sign_in = begin_for(&broker, &format!("user{n}"));
            (authorize_as(&sign_in, &format!("user{n}")), sign_in.cookie)
        })
        .collect();

    let statuses: BTreeMap<u16, usize> = thread::scope(|scope| {
        let storms: Vec<_> = (0..THREADS)
            .map(|t| {
                let (broker, known_id, callbacks) = (&broker, &known_id, &callbacks);
                scope.spawn(move || storm(broker, t as u64, REQUESTS / THREADS, known_id, callbacks))
            })
            .collect();
        storms.into_iter().flat_map(|storm| storm.join().unwrap()).fold(BTreeMap::new(), |mut all, (status, n)| {
            *all.entry(status).or_default() += n;
            all
        })
    });
    eprintln!("hostile traffic: {REQUESTS} requests, statuses {statuses:?}");
    assert_eq!(statuses.values().sum::<usize>(), REQUESTS);

    // The broker still serves a correct login, and the victim's request is intact.
    let id = broker.login("alice");
    finish_login(&broker, &id, "alice");
    assert_eq!(broker.status(&id).json()["sub"], "alice");
    finish_login(&broker, &known_id, "victim");
    assert_eq!(broker.status(&known_id).json()["sub"], "victim");
}

/// `SAMLResponse` (base64 of tags, text and entities in random order) and `RelayState`.
fn saml_like_form(rng: &mut StdRng) -> String {
    use base64::Engine;
    const PIECES: [&str; 12] = [
        "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" Version=\"2.0\" ID=\"_a\">",
        "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_a\">",
        "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">",
        "</samlp:Response>",
        "</saml:Assertion>",
        "<!DOCTYPE x [<!ENTITY e \"e\">]>",
        "&e;",
        "<!-- -->",
        "<![CDATA[x]]>",
        "<?pi?>",
        "\u{202e}",
        "<saml:NameID>admin</saml:NameID>",
    ];
    let xml: String = (0..rng.gen_range(0..40)).map(|_| PIECES[rng.gen_range(0..PIECES.len())]).collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(xml);
    form_urlencoded::Serializer::new(String::new())
        .append_pair("SAMLResponse", &encoded)
        .append_pair("RelayState", &random_text(rng, 50))
        .finish()
}

fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

//! The edge build (deploy/edge/spin.toml, for Akamai Functions) under the real `spin up`,
//! one instance per region of a replicated store imitated by `testkit::regions`: two
//! `redis-server`s, every write carried to the other region after `REPLICATION`, the
//! last writer winning, and every atomic operation refused, as the edge store refuses
//! them. SECURITY.md, *Consistency at the edge*, says what each test stands for.

use std::thread;
use std::time::{Duration, Instant};

use testkit::provider_double::{Key, ProviderDouble, alice_claims, authorize, begin, begin_for, issuing, provider_with, variables_for};
use testkit::regions::Regions;
use testkit::saml::{self, Signed, Signer};
use testkit::{Broker, Build, Store};

use crate::saml_hostile;
use crate::wasi_http_0_2::interfaces;

/// How long the equipment takes to carry a write to the other region.
const REPLICATION: Duration = Duration::from_secs(2);
/// What the broker is told of it: the delay, and a margin.
const STORE_REPLICATION_SECS: &str = "3";

/// What Akamai Functions offers a Spin 4 component: Spin 4.0.2's platform world less
/// what its FAQ marks unsupported (SQLite, `wasi:keyvalue/atomics`) or limited (LLM),
/// and less what it does not mention (MQTT, otel).
const OFFERED: &[&str] = &[
    "wasi:cli/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:io/",
    "wasi:filesystem/",
    "wasi:sockets/",
    "wasi:http/types@0.3.0-rc-2026-03-15",
    "wasi:http/client@0.3.0-rc-2026-03-15",
    "spin:key-value/key-value@3.0.0",
    "spin:variables/variables@3.0.0",
    "fermyon:spin/key-value@2.0.0",
    "fermyon:spin/variables@2.0.0",
    "wasi:keyvalue/store@0.2.0-draft2",
    "wasi:keyvalue/batch@0.2.0-draft2",
    "wasi:config/store@0.2.0-draft-2024-09-27",
];

fn provider() -> ProviderDouble {
    provider_with(|issuer| issuing(Key::rsa("k1"), alice_claims(issuer.to_owned())))
}

fn start_in(regions: &Regions, region: usize, variables: &[(&str, &str)]) -> Broker {
    let mut variables = variables.to_vec();
    variables.push(("store_replication_secs", STORE_REPLICATION_SECS));
    Broker::start_app(&Build::Edge.manifest(), 0, Store::Region(regions, region), &variables)
}

fn start_oidc_in(regions: &Regions, region: usize, provider: &ProviderDouble) -> Broker {
    start_in(regions, region, &variables_for(provider, &[("login_timeout", "25")]))
}

/// Both regions' instances, with the OpenID provider double.
fn two_regions(provider: &ProviderDouble) -> (Regions, Broker, Broker) {
    let regions = Regions::start(REPLICATION).expect("two regions start");
    let (a, b) = (start_oidc_in(&regions, 0, provider), start_oidc_in(&regions, 1, provider));
    (regions, a, b)
}

#[test]
fn the_edge_build_imports_only_what_akamai_functions_offers() {
    let (imports, exports) = interfaces(&Build::Edge.wasm());
    // Interfaces are named `package:name/interface@version`; the rest are types.
    let named = imports.iter().filter(|name| name.contains(':'));
    let unsupported: Vec<&String> = named.filter(|name| !OFFERED.iter().any(|offered| name.starts_with(offered))).collect();
    assert!(unsupported.is_empty(), "imports Akamai Functions does not offer: {unsupported:?}");
    assert!(imports.iter().any(|name| name.starts_with("spin:key-value/")), "{imports:?}");
    assert!(exports.iter().any(|name| name.starts_with("wasi:http/handler@0.3.0-rc-2026-03-15")), "{exports:?}");
    // The same inspection finds the atomics the other build imports.
    let (spin4, _) = interfaces(&Build::Spin4.wasm());
    assert!(spin4.iter().any(|name| name.starts_with("wasi:keyvalue/atomics")), "{spin4:?}");
}

#[test]
fn a_login_begun_and_finished_in_one_region_reaches_its_client() {
    let provider = provider();
    let (regions, a, _b) = two_regions(&provider);
    regions.settle();
    let (reads, writes) = (regions.reads(0), regions.writes(0));
    let sign_in = begin(&a);
    assert_eq!(a.get_with(&authorize(&sign_in), &[("Cookie", &sign_in.cookie)]).status, 200);
    let identity = a.status(&sign_in.request_id).json();
    assert_eq!(identity["sub"], "alice-sub");
    let (reads, writes) = (regions.reads(0) - reads, regions.writes(0) - writes);
    println!("one OIDC login at the edge: {reads} key-value reads, {writes} writes");
    // What BENCHMARKS.md divides the platform's 50 writes and 1,000 reads a second by.
    assert!(writes <= 9 && reads <= 12, "{reads} reads, {writes} writes");
    assert_eq!(regions.refused(), 0, "the edge build asked the store for an operation it does not offer");
}

/// The client waits in region A while the browser comes back to region B: the identity
/// reaches the client once B's write has crossed, within the one long poll.
#[test]
fn a_client_long_polling_in_one_region_hears_of_a_login_finished_in_the_other() {
    let provider = provider();
    let (regions, a, b) = two_regions(&provider);
    let sign_in = begin(&a);
    let callback = authorize(&sign_in);
    thread::scope(|scope| {
        let client = scope.spawn(|| {
            let started = Instant::now();
            (a.status(&sign_in.request_id), started.elapsed())
        });
        thread::sleep(Duration::from_millis(300));
        let finished_at = Instant::now();
        assert_eq!(b.get_with(&callback, &[("Cookie", &sign_in.cookie)]).status, 200);
        let (reply, waited) = client.join().unwrap();
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.json()["sub"], "alice-sub");
        assert!(finished_at.elapsed() >= REPLICATION - Duration::from_millis(200), "it crossed the regions first");
        assert!(waited < Duration::from_secs(25), "within one long poll: {waited:?}");
    });
    assert_eq!(regions.refused(), 0);
}

/// Region A dies (SIGKILL) once its login link is open in the browser: the sign-in the
/// browser carries finishes in region B, and the client, now asking B, receives it.
#[test]
fn a_login_whose_region_dies_finishes_in_the_other() {
    let provider = provider();
    let (regions, a, b) = two_regions(&provider);
    let sign_in = begin_for(&a, "bob");
    let callback = authorize(&sign_in);
    a.kill_now();
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.is_listening() {
        assert!(Instant::now() < deadline, "A did not die");
        thread::sleep(Duration::from_millis(50));
    }
    let page = b.get_with(&callback, &[("Cookie", &sign_in.cookie)]);
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(b.status(&sign_in.request_id).json()["sub"], "alice-sub");
    assert_eq!(regions.refused(), 0);
}

/// An OpenID callback replayed in the other region before the login's outcome has
/// crossed: refused by the provider, which redeems an authorization code once; and the
/// refusal overwrites nothing: the identity still reaches the client.
#[test]
fn an_openid_callback_replayed_in_the_other_region_is_refused_by_the_provider() {
    let provider = provider();
    let (regions, a, b) = two_regions(&provider);
    let sign_in = begin(&a);
    let callback = authorize(&sign_in);
    assert_eq!(a.get_with(&callback, &[("Cookie", &sign_in.cookie)]).status, 200);
    let replay = b.get_with(&callback, &[("Cookie", &sign_in.cookie)]);
    assert_eq!(replay.status, 502, "{}", replay.body);
    assert!(replay.body.contains("did not exchange the code"), "{}", replay.body);
    assert_eq!(provider.seen(|seen| seen.token_requests.len()), 2, "the replay reached the provider, which refused it");
    regions.settle();
    for instance in [&b, &a] {
        let reply = instance.status(&sign_in.request_id);
        if reply.status == 200 {
            assert_eq!(reply.json()["sub"], "alice-sub");
            return;
        }
    }
    panic!("the replay's refusal overwrote the login's outcome");
}

/// A SAML answer replayed in the other region before the login's outcome has crossed:
/// an answer waits out `store_replication_secs` before it claims its login, so the
/// replay then finds the login ended (409), as it would in one region.
#[test]
fn a_saml_answer_replayed_in_the_other_region_is_refused_once_the_outcome_has_crossed() {
    let regions = Regions::start(REPLICATION).expect("two regions start");
    let cert = saml_hostile::idp_cert_pem();
    let variables = [("saml_idp_sso_url", saml_hostile::SSO), ("saml_idp_entity_id", saml_hostile::IDP), ("saml_idp_cert", &cert)];
    let (a, b) = (start_in(&regions, 0, &variables), start_in(&regions, 1, &variables));
    let sign_in = saml_hostile::begin(&a, "alice");
    let xml = saml::signed(&saml_hostile::answer_for(&sign_in, "alice@example.com"), &Signed::Both, &Signer::idp());
    let started = Instant::now();
    assert_eq!(saml_hostile::post(&a, &sign_in, &xml).status, 200);
    let finished_in_a = Instant::now();
    assert!(finished_in_a - started >= Duration::from_secs(3), "the answer waited out the replication bound");
    let replay = saml_hostile::post(&b, &sign_in, &xml);
    assert!(finished_in_a.elapsed() > Duration::from_secs(3), "B, too, waited before it looked");
    assert_eq!(replay.status, 409, "{}", replay.body);
    assert!(replay.body.contains("already ended"), "{}", replay.body);
    assert_eq!(b.status(&sign_in.request).json()["nameID"], "alice@example.com");
    assert_eq!(regions.refused(), 0);
}

/// Neither region's store holds anything readable, every key fits the platform's 255
/// bytes (Fermyon Cloud's bound; Akamai's is 8 KB) and every value its 1 MB.
#[test]
fn nothing_in_either_regions_store_is_readable_and_everything_fits_the_platform() {
    let provider = provider();
    let (regions, a, b) = two_regions(&provider);
    for (begun, finished) in [(&a, &b), (&b, &a)] {
        let sign_in = begin_for(begun, "carol");
        assert_eq!(finished.get_with(&authorize(&sign_in), &[("Cookie", &sign_in.cookie)]).status, 200);
        assert_eq!(finished.status(&sign_in.request_id).json()["sub"], "alice-sub");
    }
    regions.settle();
    for region in 0..2 {
        let keys = regions.keys(region);
        assert!(keys.len() >= 6, "region {region}: {keys:?}");
        for key in keys {
            assert!(key.len() <= 255, "{key}");
            let value = regions.get(region, &key).unwrap_or_default();
            assert!(value.len() <= 1_000_000, "{key}");
            let text = String::from_utf8_lossy(&value);
            for secret in ["carol", "alice", "sub", "email", "example.com"] {
                assert!(!text.contains(secret), "region {region}, {key}: {text}");
            }
        }
    }
}

/// A request runs at most 30 s at the edge: a `login_timeout` a status call could not
/// keep is refused, naming the variable, and so is a missing replication bound.
#[test]
fn the_edge_build_refuses_settings_the_platform_cannot_keep() {
    let regions = Regions::start(REPLICATION).expect("two regions start");
    for (setting, named) in [
        ([("login_timeout", "60"), ("store_replication_secs", "3")], "login_timeout"),
        ([("login_timeout", "25"), ("store_replication_secs", "0")], "store_replication_secs"),
    ] {
        let broker = Broker::start_app(&Build::Edge.manifest(), 0, Store::Region(&regions, 0), &setting);
        let reply = broker.get("/requests/new/alice");
        assert_eq!(reply.status, 500, "{}", reply.body);
        let description = reply.json()["error_description"].as_str().unwrap().to_owned();
        assert!(description.contains(&format!("`{named}`")) && description.contains("edge"), "{description}");
        assert_eq!(broker.get("/liveness").status, 200);
    }
}

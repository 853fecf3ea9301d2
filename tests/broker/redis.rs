//! With the store bound to Redis, instances share every login: what one starts,
//! another finishes. Real `redis-server`, one `spin up` per instance.

use std::thread;
use std::time::{Duration, Instant};
use testkit::provider_double;

use provider_double::{
    Key, ProviderDouble, alice_claims, authorize_as, begin_for, finish_login, issuing, provider_with, sign_in_for, start_broker,
};
use testkit::{CLIENT_TOKEN, Redis, Reply, Store};

fn provider() -> ProviderDouble {
    provider_with(|issuer| issuing(Key::rsa("k1"), alice_claims(issuer.to_owned())))
}

fn identity_of(reply: &Reply) -> String {
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["sub"].as_str().unwrap().to_owned()
}

#[test]
fn a_request_started_on_one_instance_is_answered_by_another() {
    let (redis, provider) = (Redis::start(), provider());
    let (a, b) = (start_broker(Store::Redis(&redis), &provider, &[]), start_broker(Store::Redis(&redis), &provider, &[]));
    let id = a.login("alice");
    thread::scope(|scope| {
        let poll_on_b = scope.spawn(|| b.status(&id));
        thread::sleep(Duration::from_millis(300));
        finish_login(&a, &id, "alice");
        assert_eq!(identity_of(&poll_on_b.join().unwrap()), "alice");
    });
    assert_eq!(a.status(&id).status, 404, "taken on B, so gone on A too");
}

#[test]
fn a_request_outlives_the_instance_that_started_it() {
    let (redis, provider) = (Redis::start(), provider());
    let a = start_broker(Store::Redis(&redis), &provider, &[]);
    let id = a.login("alice");
    a.kill();
    let b = start_broker(Store::Redis(&redis), &provider, &[]);
    finish_login(&b, &id, "alice");
    assert_eq!(identity_of(&b.status(&id)), "alice");
}

const RACE_ROUNDS: usize = 30;

#[test]
fn racing_instances_hand_out_each_identity_exactly_once() {
    let (redis, provider) = (Redis::start(), provider());
    let instances = [start_broker(Store::Redis(&redis), &provider, &[]), start_broker(Store::Redis(&redis), &provider, &[])];
    for round in 0..RACE_ROUNDS {
        let user = format!("user{round}");
        let id = instances[0].login(&user);
        let replies: Vec<_> = thread::scope(|scope| {
            let polls: Vec<_> = (0..6)
                .map(|n| {
                    let (instance, id) = (&instances[n % 2], &id);
                    scope.spawn(move || instance.status(id))
                })
                .collect();
            thread::sleep(Duration::from_millis(150));
            finish_login(&instances[1], &id, &user);
            polls.into_iter().map(|poll| poll.join().unwrap()).collect()
        });
        let winners: Vec<_> = replies.iter().filter(|reply| reply.status == 200).collect();
        assert_eq!(winners.len(), 1, "round {round}: {:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
        assert_eq!(identity_of(winners[0]), user);
        assert!(replies.iter().all(|reply| reply.status == 200 || reply.status == 404));
    }
}

/// One login, its link opened in two tabs: two sign-ins of one request, whose
/// callbacks race on two instances. Exactly one finishes the login; the other is told
/// it has already ended, and the client gets the winner's identity, once.
#[test]
fn two_sign_ins_of_one_request_finish_it_exactly_once() {
    let (redis, provider) = (Redis::start(), provider());
    let instances = [start_broker(Store::Redis(&redis), &provider, &[]), start_broker(Store::Redis(&redis), &provider, &[])];
    for round in 0..RACE_ROUNDS {
        let id = instances[0].login("alice");
        let tabs = [sign_in_for(&instances[0], &id), sign_in_for(&instances[1], &id)];
        let users = [format!("tab-a-{round}"), format!("tab-b-{round}")];
        let callbacks = [authorize_as(&tabs[0], &users[0]), authorize_as(&tabs[1], &users[1])];
        let pages: Vec<Reply> = thread::scope(|scope| {
            let answers: Vec<_> = (0..2)
                .map(|n| {
                    let (instance, callback, cookie) = (&instances[n], &callbacks[n], &tabs[n].cookie);
                    scope.spawn(move || instance.get_with(callback, &[("Cookie", cookie)]))
                })
                .collect();
            answers.into_iter().map(|answer| answer.join().unwrap()).collect()
        });
        let statuses: Vec<u16> = pages.iter().map(|page| page.status).collect();
        let winner =
            statuses.iter().position(|&status| status == 200).unwrap_or_else(|| panic!("round {round}: nobody finished: {statuses:?}"));
        assert_eq!(statuses[1 - winner], 409, "round {round}: the other tab is told the login ended: {statuses:?}");
        assert_eq!(identity_of(&instances[1].status(&id)), users[winner], "round {round}: the winner's identity");
        assert_eq!(instances[0].status(&id).status, 404, "round {round}: and only once");
    }
}

#[test]
fn keys_are_stored_raw_and_namespaced_in_redis() {
    let (redis, provider) = (Redis::start(), provider());
    let broker = start_broker(Store::Redis(&redis), &provider, &[]);
    let id = broker.login("alice");
    // A login request is kept for its short link, and entered in its window's registry.
    let kept = redis.keys();
    assert!(
        kept.iter().any(|key| key.starts_with("lb:v2:login-link:")) && kept.iter().any(|key| key.starts_with("lb:v2:reg:")),
        "{kept:?}"
    );

    // Finished but not yet collected: the identity is in Redis, sealed.
    finish_login(&broker, &id, "alice");
    let keys = redis.keys();
    assert!(keys.iter().all(|k| k.starts_with("lb:v2:")), "{keys:?}");
    let outcome = keys.iter().find(|k| k.starts_with("lb:v2:login:")).unwrap_or_else(|| panic!("no outcome: {keys:?}")).clone();
    assert!(keys.iter().any(|k| k.starts_with("lb:v2:reg:")), "registered for the sweep: {keys:?}");
    for key in &keys {
        let nonce = key.rsplit(':').next().unwrap();
        let link = id.login_path.trim_start_matches("/oidc/login/");
        for handle in [id.request.as_str(), link] {
            assert!(!key.contains(handle), "{key}");
            assert!(!key.starts_with("lb:v2:login") || !handle.contains(nonce), "handles do not show the nonce in the clear: {key}");
        }
        // The link's secret opens its stored request: neither keys nor values hold it.
        assert!(!key.contains(&link[6..]) && !redis.command(&["GET", key]).unwrap_or_default().contains(&link[6..]), "{key}");
        let value = redis.command(&["GET", key]).unwrap();
        for secret in ["alice", "example.com", id.request.as_str()] {
            assert!(!value.contains(secret), "{key} reveals {secret:?}");
        }
    }
    assert_eq!(identity_of(&broker.status(&id)), "alice");
    // The claim counter is a Redis integer (INCRBY).
    let claim = outcome.replace("lb:v2:login:", "lb:v2:login-claim:");
    assert_eq!(redis.command(&["GET", &claim]).unwrap().trim(), "1");
}

/// Redis killed under a running instance: every route that needs the store answers 503
/// within 2 s while it is down (Spin's Redis client would wait for ever; the broker
/// bounds each call), the routes that need none keep serving, and once Redis is back
/// (empty: no persistence) service resumes by itself, without a restart, after however
/// long Spin's client takes to reconnect (printed). The login that was under way then
/// finishes: its state is in the browser's cookie, and nothing of it was half-written.
#[test]
fn redis_killed_and_restarted_under_a_running_instance() {
    const BOUND: Duration = Duration::from_secs(2);
    let (mut redis, provider) = (Redis::start(), provider());
    let broker = start_broker(Store::Redis(&redis), &provider, &[]);
    let pending = broker.login("alice");
    let sign_in = begin_for(&broker, "dave");
    let callback = authorize_as(&sign_in, "dave");
    let timed = |path: &str, headers: &[(&str, &str)]| {
        let started = Instant::now();
        let reply = broker.get_with(path, headers);
        (reply, started.elapsed())
    };

    redis.stop();
    let token = format!("Bearer {CLIENT_TOKEN}");
    let api = [
        ("/liveness".to_owned(), vec![]),
        ("/readiness".to_owned(), vec![]),
        (format!("/requests/status/{}", pending.request), vec![("Authorization", token.as_str())]),
    ];
    // A short login link's request is in the store.
    let pages = [(callback.clone(), vec![("Cookie", sign_in.cookie.as_str())]), (pending.login_path.clone(), vec![])];
    for round in 0..2 {
        // What needs no store keeps serving: new requests (whose login links then carry
        // the request sealed) and their confirmation pages, and the confirmation page
        // the client's `request` opens (sending the browser on needs the provider's
        // metadata, which a fresh instance must read from the store: that answers 503
        // like the rest).
        let (created, took) = timed("/requests/new/bob", &[]);
        assert_eq!((created.status, took < BOUND), (200, true), "round {round}: {}", created.body);
        let created = testkit::Login::from_reply(&created.json());
        assert!(created.login_path.len() > 100, "round {round}: a sealed link while the store is down: {}", created.login_path);
        for login_path in [created.login_path, format!("/oidc/login/{}", pending.request)] {
            let (confirming, took) = timed(&login_path, &[]);
            assert_eq!((confirming.status, took < BOUND), (200, true), "round {round}: {}", confirming.body);
        }
        for (path, headers) in api.iter().chain(&pages) {
            let (reply, took) = timed(path, headers);
            assert!(took < BOUND, "round {round}, {path}: answered after {took:?}");
            assert_eq!(reply.status, 503, "round {round}, {path}: {}", reply.body);
            if path.starts_with("/oidc") {
                assert!(reply.header("content-type").unwrap().starts_with("text/html"), "{path}");
            } else {
                assert_eq!(reply.error_code(), "temporarily_unavailable", "{path}");
                assert!(!reply.body.contains("127.0.0.1"), "no internals in the answer: {}", reply.body);
            }
        }
    }

    redis.restart(); // without persistence: every record is gone
    let back = Instant::now();
    let recovered = loop {
        let (reply, took) = timed("/liveness", &[]);
        assert!(took < BOUND, "/liveness answered after {took:?} while Spin reconnects");
        if reply.status == 200 {
            break back.elapsed();
        }
        assert!(back.elapsed() < Duration::from_secs(240), "the broker did not recover within 240 s of Redis's return");
        thread::sleep(Duration::from_millis(250));
    };
    println!("service resumed {:.1} s after Redis came back (Spin's Redis client reconnecting)", recovered.as_secs_f64());

    // The browser carries its sign-in, so the login under way survives the empty Redis.
    let page = broker.get_with(&callback, &[("Cookie", &sign_in.cookie)]);
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(broker.status(&sign_in.request_id).json()["sub"], "dave");
    let sign_in = begin_for(&broker, "dave");
    let callback = authorize_as(&sign_in, "dave");
    assert_eq!(broker.get_with(&callback, &[("Cookie", &sign_in.cookie)]).status, 200);
    assert_eq!(broker.status(&sign_in.request_id).json()["sub"], "dave");
}

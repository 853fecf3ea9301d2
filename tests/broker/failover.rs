//! The reason the broker keeps its state in Redis: instances come and go, logins do not.
//! Logins begun on an instance that is then killed finish on a fresh one; Redis pausing
//! mid-login costs 503s, never a login. The provider is the double, so hundreds of
//! users can sign in at once.

use std::thread;
use std::time::{Duration, Instant};
use testkit::provider_double;

use provider_double::{Key, ProviderDouble, alice_claims, authorize_as, begin_for, issuing, provider_with, start_broker};
use testkit::{Broker, Redis, Store};

const LOGINS_IN_FLIGHT: usize = 200;

fn provider() -> ProviderDouble {
    provider_with(|issuer| issuing(Key::rsa("k1"), alice_claims(issuer.to_owned())))
}

#[test]
fn logins_in_flight_finish_on_a_fresh_instance_after_theirs_is_killed() {
    let redis = Redis::start();
    let provider = provider();
    let a = start_broker(Store::Redis(&redis), &provider, &[]);

    // Every user starts on A and is at the provider when A dies.
    let users: Vec<String> = (0..LOGINS_IN_FLIGHT).map(|n| format!("user-{n}")).collect();
    let sign_ins: Vec<_> = users.iter().map(|user| begin_for(&a, user)).collect();
    let callbacks: Vec<String> = sign_ins.iter().zip(&users).map(|(sign_in, user)| authorize_as(sign_in, user)).collect();

    let b_slot = std::sync::OnceLock::<Broker>::new();
    thread::scope(|scope| {
        // Each client long-polls A; when A dies it retries on B, as a client behind a
        // load balancer would.
        let clients: Vec<_> = sign_ins
            .iter()
            .map(|sign_in| {
                let (a, b_slot) = (&a, &b_slot);
                scope.spawn(move || {
                    if let Ok(reply) = a.try_status(&sign_in.request_id) {
                        return reply;
                    }
                    let deadline = Instant::now() + Duration::from_secs(60);
                    loop {
                        if let Some(b) = b_slot.get()
                            && let Ok(reply) = b.try_status(&sign_in.request_id)
                        {
                            return reply;
                        }
                        assert!(Instant::now() < deadline, "no instance answered");
                        thread::sleep(Duration::from_millis(50));
                    }
                })
            })
            .collect();
        thread::sleep(Duration::from_millis(500));
        // SIGKILL while the clients still hold `&a` mid-call.
        a.kill_now();
        let deadline = Instant::now() + Duration::from_secs(10);
        while a.is_listening() {
            assert!(Instant::now() < deadline, "A did not die");
            thread::sleep(Duration::from_millis(20));
        }

        // B has never served a request; every browser comes back to it.
        let b = b_slot.get_or_init(|| start_broker(Store::Redis(&redis), &provider, &[]));
        for ((callback, sign_in), user) in callbacks.iter().zip(&sign_ins).zip(&users) {
            let page = b.get_with(callback, &[("Cookie", &sign_in.cookie)]);
            assert_eq!(page.status, 200, "{user}: {}", page.body);
        }
        for ((client, user), sign_in) in clients.into_iter().zip(&users).zip(&sign_ins) {
            let reply = client.join().unwrap();
            assert_eq!(reply.status, 200, "{user} ({}): {}", sign_in.request_id, reply.body);
            assert_eq!(reply.json()["sub"], *user, "each client gets its own user's identity");
        }
    });
    assert_eq!(provider.seen(|seen| seen.token_requests.len()), LOGINS_IN_FLIGHT);
}

#[test]
fn a_redis_pause_mid_login_costs_503s_and_no_login() {
    let redis = Redis::start();
    let provider = provider();
    let broker = start_broker(Store::Redis(&redis), &provider, &[]);
    let sign_in = begin_for(&broker, "carol");
    let callback = authorize_as(&sign_in, "carol");

    redis.pause();
    let page = broker.get_with(&callback, &[("Cookie", &sign_in.cookie)]);
    assert_eq!(page.status, 503, "{}", page.body);
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    let live = broker.get("/liveness");
    assert_eq!((live.status, live.error_code()), (503, "temporarily_unavailable".to_owned()));
    redis.resume();

    // The state was not spent by the failed attempt: the same callback now succeeds.
    let page = broker.get_with(&callback, &[("Cookie", &sign_in.cookie)]);
    assert_eq!(page.status, 200, "{}", page.body);
    let reply = broker.status(&sign_in.request_id);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["sub"], "carol");
}

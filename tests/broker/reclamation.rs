//! Spin's key-value store has no TTL: every record must be reclaimed by the broker
//! itself. 10,000 logins are abandoned at every stage over a real Redis; once
//! `cache_ttl` has passed, steady `/liveness` traffic (a load balancer's probes) sweeps
//! them all away, and Redis holds only the broker's own bookkeeping again. And what a
//! flood can make it hold is bounded (`max_logins_per_ten_seconds`).

use std::thread;
use std::time::{Duration, Instant};
use testkit::provider_double;

use provider_double::{Key, alice_claims, authorize_as, begin_for, issuing, provider_with, start_broker};
use testkit::{Broker, Redis, Store};

const LOGINS: usize = 10_000;
const THREADS: usize = 4;

fn count_keys(redis: &Redis, pattern: &str) -> usize {
    redis.command(&["--scan", "--pattern", pattern]).unwrap().lines().count()
}

fn login_keys(redis: &Redis) -> usize {
    ["lb:v2:login*", "lb:v2:reg:*"].iter().map(|p| count_keys(redis, p)).sum()
}

/// Abandons login number `n` at one of four stages.
fn abandon(broker: &Broker, n: usize) {
    let user = format!("soak-{n}");
    if n.is_multiple_of(4) {
        broker.new_request(&user); // never opened in a browser
        return;
    }
    let sign_in = begin_for(broker, &user);
    if n % 4 == 1 {
        return; // the user never came back from the provider
    }
    let callback = authorize_as(&sign_in, &user);
    assert_eq!(broker.get_with(&callback, &[("Cookie", &sign_in.cookie)]).status, 200);
    if n % 4 == 3 {
        assert_eq!(broker.status(&sign_in.request_id).status, 200); // taken: claim counters remain
    } // n % 4 == 2: finished, but the client never asked
}

#[test]
fn ten_thousand_abandoned_logins_are_reclaimed_after_cache_ttl() {
    let redis = Redis::start();
    let provider = provider_with(|issuer| issuing(Key::rsa("k1"), alice_claims(issuer.to_owned())));
    let broker = start_broker(Store::Redis(&redis), &provider, &[("login_timeout", "1"), ("cache_ttl", "5")]);
    assert_eq!(broker.get("/liveness").status, 200);
    let baseline: usize = redis.command(&["DBSIZE"]).unwrap().trim().parse().unwrap();

    thread::scope(|scope| {
        for t in 0..THREADS {
            let broker = &broker;
            scope.spawn(move || (t..LOGINS).step_by(THREADS).for_each(|n| abandon(broker, n)));
        }
    });
    let left_after_soak = login_keys(&redis);
    assert!(left_after_soak > 0, "records exist until they expire");

    // A load balancer probing /liveness; bounded in time.
    let deadline = Instant::now() + Duration::from_secs(120);
    while login_keys(&redis) > 0 {
        assert!(Instant::now() < deadline, "{} login keys left", login_keys(&redis));
        for _ in 0..20 {
            assert_eq!(broker.get("/liveness").status, 200);
        }
        thread::sleep(Duration::from_millis(100));
    }
    // What remains: the provider cache, the sweep cursor and the counters of the last
    // few buckets (3 per bucket, kept for 3 buckets after they are done).
    let total: usize = redis.command(&["DBSIZE"]).unwrap().trim().parse().unwrap();
    let bookkeeping = count_keys(&redis, "lb:v2:sweep:*");
    assert_eq!(total, bookkeeping + 1, "only bookkeeping and the provider cache remain");
    assert!(total <= baseline + 1 + 4 * 4, "baseline {baseline}, now {total}: {}", redis.command(&["KEYS", "*"]).unwrap());
    eprintln!("reclamation: {LOGINS} logins, {left_after_soak} login keys after the soak, baseline {baseline} keys, {total} at the end");
}

/// Past `max_logins_per_ten_seconds` in one 10 s window, a login that would write the store is
/// refused with a readable 503 and `Retry-After`, and writes nothing; the client's login
/// stays unfinished (it may start again), and the logins already in are untouched.
#[test]
fn a_flood_of_finishing_logins_stops_at_the_bound_and_writes_nothing_past_it() {
    let redis = Redis::start();
    let provider = provider_with(|issuer| issuing(Key::rsa("k1"), alice_claims(issuer.to_owned())));
    let broker = start_broker(Store::Redis(&redis), &provider, &[("login_timeout", "1"), ("max_logins_per_ten_seconds", "3")]);
    // Keys are grouped by 10 s of expiry: start early in a window so that all four
    // logins below fall in the same one.
    let phase = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() % 10_000;
    while phase() > 3_000 {
        thread::sleep(Duration::from_millis(100));
    }
    let sign_ins: Vec<_> = (0..4).map(|n| begin_for(&broker, &format!("flood-{n}"))).collect();
    for (n, sign_in) in sign_ins.iter().enumerate() {
        let callback = authorize_as(sign_in, "alice");
        let page = broker.get_with(&callback, &[("Cookie", &sign_in.cookie)]);
        if n < 3 {
            assert_eq!(page.status, 200, "login {n}: {}", page.body);
            continue;
        }
        assert_eq!(page.status, 503, "{}", page.body);
        assert_eq!(page.header("retry-after"), Some("10"));
        assert!(page.header("content-type").unwrap().starts_with("text/html") && page.body.contains("3 per 10 s"), "{}", page.body);
    }
    assert_eq!(count_keys(&redis, "lb:v2:reg:*"), 3, "three entries, none for the refused login");
    assert_eq!(count_keys(&redis, "lb:v2:login:*"), 3, "three outcomes");
    assert_eq!(broker.status(&sign_ins[3].request_id).status, 408, "the refused login did not finish");
    assert_eq!(broker.status(&sign_ins[0].request_id).status, 200, "those let in are intact");
}

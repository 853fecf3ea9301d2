//! With the store bound to Redis, instances share every login: what one starts,
//! another finishes. Real `redis-server`, one host process per instance.

mod support;

use std::thread;
use std::time::Duration;

use serde_json::json;
use support::{Broker, Redis, Store, request_key};

fn identity(user: &str) -> serde_json::Value {
    json!({"sub": format!("{user}-sub"), "email": format!("{user}@example.com")})
}

#[test]
fn a_request_started_on_one_instance_is_answered_by_another() {
    let redis = Redis::start();
    let (a, b) = (Broker::start(Store::Redis(&redis), &[]), Broker::start(Store::Redis(&redis), &[]));
    let id = a.new_request("alice")["request"].as_str().unwrap().to_owned();
    thread::scope(|scope| {
        let poll_on_b = scope.spawn(|| b.status(&id));
        thread::sleep(Duration::from_millis(300));
        a.finish_login(&id, identity("alice"));
        let reply = poll_on_b.join().unwrap();
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.json(), identity("alice"));
    });
    assert_eq!(a.status(&id).status, 404, "taken on B, so gone on A too");
}

#[test]
fn a_request_outlives_the_instance_that_started_it() {
    let redis = Redis::start();
    let a = Broker::start(Store::Redis(&redis), &[]);
    let id = a.new_request("alice")["request"].as_str().unwrap().to_owned();
    a.kill();
    let b = Broker::start(Store::Redis(&redis), &[]);
    b.finish_login(&id, identity("alice"));
    assert_eq!(b.status(&id).json(), identity("alice"));
}

#[test]
fn racing_instances_hand_out_each_identity_exactly_once() {
    let redis = Redis::start();
    let instances = [Broker::start(Store::Redis(&redis), &[]), Broker::start(Store::Redis(&redis), &[])];
    for round in 0..10 {
        let user = format!("user{round}");
        let id = instances[0].new_request(&user)["request"].as_str().unwrap().to_owned();
        let replies: Vec<_> = thread::scope(|scope| {
            let polls: Vec<_> = (0..6).map(|n| {
                let (instance, id) = (&instances[n % 2], &id);
                scope.spawn(move || instance.status(id))
            }).collect();
            thread::sleep(Duration::from_millis(150));
            instances[1].finish_login(&id, identity(&user));
            polls.into_iter().map(|poll| poll.join().unwrap()).collect()
        });
        let winners: Vec<_> = replies.iter().filter(|reply| reply.status == 200).collect();
        assert_eq!(winners.len(), 1, "round {round}: {:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
        assert_eq!(winners[0].json(), identity(&user));
        assert!(replies.iter().all(|reply| reply.status == 200 || reply.status == 404));
    }
}

#[test]
fn keys_are_stored_raw_and_namespaced_in_redis() {
    let redis = Redis::start();
    let broker = Broker::start(Store::Redis(&redis), &[]);
    let id = broker.new_request("alice")["request"].as_str().unwrap().to_owned();
    let key = request_key(&id);
    let keys = redis.command(&["KEYS", "*"]).unwrap();
    let mut keys: Vec<&str> = keys.lines().collect();
    keys.sort();
    assert!(keys.iter().all(|k| k.starts_with("lb:v1:")), "{keys:?}");
    // The record, and the counters that let expired slots be found without listing keys.
    assert_eq!(keys.iter().filter(|k| !k.starts_with("lb:v1:sweep:")).collect::<Vec<_>>(), [&key.as_str()]);
    assert!(keys.contains(&"lb:v1:sweep:cursor"), "{keys:?}");
    let stored: serde_json::Value = serde_json::from_str(&redis.command(&["GET", &key]).unwrap()).unwrap();
    assert_eq!(stored["v"], 1);
    assert_eq!(stored["kind"], "login_request");
    assert!(stored["expires_at"].as_u64().unwrap() > stored["record"]["created_at"].as_u64().unwrap());

    broker.finish_login(&id, identity("alice"));
    assert_eq!(broker.status(&id).status, 200);
    // The claim counter is a Redis integer (INCRBY), and the request record is gone.
    let claim = key.replace("lb:v1:req:", "lb:v1:req-claim:");
    assert_eq!(redis.command(&["GET", &claim]).unwrap().trim(), "1");
    assert_eq!(redis.command(&["EXISTS", &key]).unwrap().trim(), "0");
}

#[test]
fn a_redis_outage_gives_503_and_service_resumes_when_it_returns() {
    let mut redis = Redis::start();
    let broker = Broker::start(Store::Redis(&redis), &[]);
    let before = broker.new_request("alice")["request"].as_str().unwrap().to_owned();

    redis.stop();
    for path in ["/liveness".to_owned(), "/requests/new/bob".to_owned(), format!("/oidc/login/{before}")] {
        let reply = broker.get(&path);
        assert_eq!(reply.status, 503, "{path}: {}", reply.body);
        if !path.starts_with("/oidc") {
            assert_eq!(reply.error_code(), "temporarily_unavailable");
            assert!(!reply.body.contains("127.0.0.1"), "no internals in the answer: {}", reply.body);
        }
    }
    let status = broker.status(&before);
    assert_eq!(status.status, 503, "{}", status.body);

    redis.restart();
    let mut answered = false;
    for _ in 0..50 {
        if broker.get("/liveness").status == 200 {
            answered = true;
            break;
        }
        thread::sleep(Duration::from_millis(100));
    }
    assert!(answered, "the broker reconnects without a restart");
    assert_eq!(broker.new_request("carol")["userId"], "carol");
}

//! Throughput and latency of the real `.wasm` under `spin up` (Spin 4.0.x from PATH),
//! over Spin's in-memory store and over Redis, measured in one run so the figures
//! compare. Key-value operations are counted by Redis itself (`INFO commandstats`).
//!
//! Run with `cargo bench --bench broker` after `spin build`. Prints Markdown tables
//! for BENCHMARKS.md.

#[path = "../tests/support/provider_double.rs"]
mod double;
#[path = "../tests/support/mod.rs"]
mod support;

use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use double::{Key, SignIn, alice_claims, authorize_as, begin_for, finish_login, issuing, provider_with, start_broker};
use support::{Broker, Redis, Store};

const CLIENT_THREADS: usize = 4;
const CREATIONS_PER_THREAD: usize = 1_000;
const LATENCY_SAMPLES: usize = 60;
const LOGINS_PER_THREAD: usize = 100;

fn main() {
    let wasm = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/wasm32-wasip2/release/login_broker.wasm");
    println!("component: {} KiB", std::fs::metadata(&wasm).map(|m| m.len() / 1024).unwrap_or(0));

    let redis = Redis::start();
    let provider = provider_with(|issuer| issuing(Key::rsa("k1"), alice_claims(issuer.to_owned())));
    let memory_broker = start_broker(Store::Memory, &provider, &[]);
    let redis_broker = start_broker(Store::Redis(&redis), &provider, &[]);

    println!("\n| store | creations/s | liveness/s | KV ops: create, status |");
    println!("|---|---|---|---|");
    for (name, broker, redis) in [("in-memory", &memory_broker, None), ("Redis", &redis_broker, Some(&redis))] {
        let creations = rate(broker, "/requests/new/bench-user");
        let liveness = rate(broker, "/liveness");
        let ops = redis.map_or_else(|| "(counted on Redis)".to_owned(), |redis| ops_per_request(broker, redis));
        println!("| {name} | {creations:.0} | {liveness:.0} | {ops} |");
    }

    logins(&redis);

    println!("\nRedis floor (redis-benchmark, same machine, 50 clients):");
    let floor = Command::new("redis-benchmark").args(["-p", &redis.port.to_string(), "-t", "get,set", "-n", "100000", "-q"]).output();
    match floor {
        Ok(output) => print!("{}", String::from_utf8_lossy(&output.stdout).replace('\r', "\n").lines().filter(|l| l.contains("requests per second")).map(|l| format!("  {}\n", l.trim())).collect::<String>()),
        Err(error) => println!("  redis-benchmark unavailable: {error}"),
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Requests per second for `path`, from several client threads with keep-alive.
fn rate(broker: &Broker, path: &str) -> f64 {
    let started = Instant::now();
    thread::scope(|scope| {
        for _ in 0..CLIENT_THREADS {
            scope.spawn(|| {
                for _ in 0..CREATIONS_PER_THREAD {
                    assert_eq!(broker.get(path).status, 200);
                }
            });
        }
    });
    (CLIENT_THREADS * CREATIONS_PER_THREAD) as f64 / started.elapsed().as_secs_f64()
}

/// Key-value operations of a creation, and of a status call on a finished login.
fn ops_per_request(broker: &Broker, redis: &Redis) -> String {
    redis.reset_stats();
    let id = broker.new_request("ops")["request"].as_str().unwrap().to_owned();
    let create = total(redis);
    finish_login(broker, &id, "ops");
    redis.reset_stats();
    assert_eq!(broker.status(&id).status, 200);
    format!("{create}, {}", total(redis))
}

fn total(redis: &Redis) -> u64 {
    redis.kv_operations().values().sum()
}

/// Complete logins against the provider double (which answers at once, so the figures
/// are the broker's): the browser's four requests and the client's status call.
fn logins(redis: &Redis) {
    let provider = provider_with(|issuer| issuing(Key::rsa("k1"), alice_claims(issuer.to_owned())));
    println!("\nComplete logins (provider double; browser: login, provider, callback; client: new, status):\n");
    println!("| store | logins/s | broker CPU per login | KV ops per login | client answer after callback (p50 / p99) |");
    println!("|---|---|---|---|---|");
    let memory = start_broker(Store::Memory, &provider, &[]);
    login_row("in-memory", &memory, &memory, None);
    let a = start_broker(Store::Redis(redis), &provider, &[]);
    login_row("Redis", &a, &a, Some(redis));
    let b = start_broker(Store::Redis(redis), &provider, &[]);
    login_row("Redis, callback and status on a second instance", &a, &b, Some(redis));
}

fn login_row(name: &str, first: &Broker, second: &Broker, redis: Option<&Redis>) {
    // Warm the provider cache so every measured login is a steady-state one.
    one_login(first, second, "warm-up");
    let instances: Vec<&Broker> = if std::ptr::eq(first, second) { vec![first] } else { vec![first, second] };
    let cpu = || instances.iter().map(|broker| broker.cpu_time()).sum::<Duration>();
    let cpu_before = cpu();
    let started = Instant::now();
    thread::scope(|scope| {
        for t in 0..CLIENT_THREADS {
            scope.spawn(move || {
                for n in 0..LOGINS_PER_THREAD {
                    one_login(first, second, &format!("user-{t}-{n}"));
                }
            });
        }
    });
    let elapsed = started.elapsed();
    let logins = (CLIENT_THREADS * LOGINS_PER_THREAD) as u32;
    let cpu_after = cpu();

    let ops = redis.map_or_else(
        || "(counted on Redis)".to_owned(),
        |redis| {
            redis.reset_stats();
            one_login(first, second, "counted");
            total(redis).to_string()
        },
    );

    let mut latency: Vec<Duration> = (0..LATENCY_SAMPLES)
        .map(|n| {
            let user = format!("latency-{n}");
            let sign_in = begin_for(first, &user);
            let callback = authorize_as(&sign_in, &user);
            thread::scope(|scope| {
                let poll = scope.spawn(|| {
                    assert_eq!(second.status(&sign_in.request_id).status, 200);
                    Instant::now()
                });
                thread::sleep(Duration::from_millis(150 + (n as u64 * 37) % 500));
                assert_eq!(second.get_with(&callback, &[("Cookie", &sign_in.cookie)]).status, 200);
                let returned = Instant::now();
                poll.join().unwrap().saturating_duration_since(returned)
            })
        })
        .collect();
    latency.sort();
    println!(
        "| {name} | {:.0} | {:.2} ms | {ops} | {:.1} / {:.1} ms |",
        f64::from(logins) / elapsed.as_secs_f64(),
        millis((cpu_after - cpu_before) / logins),
        millis(latency[latency.len() / 2]),
        millis(latency[latency.len() * 99 / 100]),
    );
}

/// One user's whole login: started on `first`, finished and answered on `second`.
fn one_login(first: &Broker, second: &Broker, user: &str) {
    let sign_in: SignIn = begin_for(first, user);
    let callback = authorize_as(&sign_in, user);
    assert_eq!(second.get_with(&callback, &[("Cookie", &sign_in.cookie)]).status, 200);
    let reply = second.status(&sign_in.request_id);
    assert_eq!(reply.json()["sub"], user);
}

//! The store conformance suite (`crates/core/src/login/conformance.rs`) against the backends the
//! broker really runs on: Spin's in-memory store and Spin's Redis store (the project's
//! own runtime-config files), and the SQLite file a plain `spin up` gives, under the
//! real `spin up`. The unit tests run the same
//! suite against the in-process double.

use serde_json::Value;
use testkit::{Broker, Redis, Store, project_dir};

fn run_suite(store: Store) -> Vec<Value> {
    let manifest = project_dir().join("tests/conformance/spin.toml");
    assert!(project_dir().join("target/conformance/login_broker.wasm").exists(), "the test command builds the conformance component");
    let suite = Broker::start_app(&manifest, 0, store, &[]);
    let reply = suite.get("/_conformance");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let Value::Array(outcomes) = reply.json() else { panic!("not a report: {}", reply.body) };
    outcomes
}

fn assert_all_pass(backend: &str, outcomes: &[Value]) {
    assert!(outcomes.len() >= 10, "{backend}: {outcomes:?}");
    let failures: Vec<&Value> = outcomes.iter().filter(|outcome| !outcome["failure"].is_null()).collect();
    assert!(failures.is_empty(), "{backend} fails the conformance suite: {failures:#?}");
}

#[test]
fn spins_in_memory_store_conforms() {
    assert_all_pass("Spin's in-memory store", &run_suite(Store::Memory));
}

#[test]
fn spins_redis_store_conforms() {
    let redis = Redis::start();
    assert_all_pass("Spin's Redis store", &run_suite(Store::Redis(&redis)));
    assert!(!redis.keys().is_empty(), "the suite ran against this Redis");
}

/// A plain `spin up` with no runtime config keeps the store in a SQLite file, where
/// Spin panics on `increment` of a key written with `set`: the suite proves the broker
/// never does that.
#[test]
fn spins_default_sqlite_store_conforms() {
    assert_all_pass("Spin's default (SQLite) store", &run_suite(Store::SpinDefault));
}

#[test]
fn the_product_does_not_serve_the_suite() {
    let broker = Broker::start(Store::Memory, &[]);
    assert_eq!(broker.get("/_conformance").status, 404);
}

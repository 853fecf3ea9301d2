//! Test equipment imitating a managed edge key-value store (Akamai Functions /
//! Fermyon Cloud): one store replicated across regions, eventually
//! consistent, last writer wins, and no atomic operations.
//!
//! [`Regions::start`] runs two loopback `redis-server`s, one per region, each
//! behind a RESP proxy. Point each `spin up` at its region's proxy:
//!
//! ```toml
//! [key_value_store.default]
//! type = "redis"
//! url = "redis://127.0.0.1:PROXYPORT"   # Regions::url(region)
//! ```
//!
//! A write through a proxy lands in its own region at once and in the other
//! region after the delay. Commands the edge store does not offer (INCR*,
//! DECR*, WATCH, MULTI/EXEC, EVAL*, SETNX, GETSET, SET with options, ...) are
//! answered with `-ERR ... is not offered by the edge store` and counted, so a
//! test can assert that an app never relied on them.

mod client;
mod proxy;
mod replication;
mod resp;

pub use client::Connection;
pub use resp::Reply;

use proxy::Proxy;
use replication::Shared;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Two regions of one replicated store. Dropping it stops the proxies and
/// kills the redis-servers.
///
/// Region indices are 0 and 1; any other index panics.
pub struct Regions {
    shared: Arc<Shared>,
    servers: Vec<crate::Redis>,
    proxies: Vec<Proxy>,
    replicators: Vec<JoinHandle<()>>,
}

impl Regions {
    /// Starts both regions; writes reach the other region after `delay`
    /// (the edge's replication lag: use at least two seconds to imitate it).
    ///
    /// Fails if a proxy's port cannot be bound (and panics, as `Redis::start` does,
    /// if `redis-server` cannot be run).
    pub fn start(delay: Duration) -> io::Result<Regions> {
        let servers = vec![crate::Redis::start(), crate::Redis::start()];
        let address = |redis: &crate::Redis| SocketAddr::from((Ipv4Addr::LOCALHOST, redis.port));
        let shared = Arc::new(Shared::new(delay, [address(&servers[0]), address(&servers[1])]));
        // Built up in place so that `Drop` cleans up after a failure halfway.
        let mut regions = Regions { shared, servers, proxies: Vec::new(), replicators: Vec::new() };
        for region in 0..2 {
            let shared = regions.shared.clone();
            regions
                .replicators
                .push(thread::Builder::new().name(format!("regions-replicate-{region}")).spawn(move || shared.replicate_into(region))?);
            regions.proxies.push(Proxy::start(region, regions.shared.clone())?);
        }
        Ok(regions)
    }

    /// The URL Spin's runtime config should name for `region`: its proxy.
    pub fn url(&self, region: usize) -> String {
        format!("redis://{}", self.proxies[region].addr)
    }

    /// The URL of `region`'s redis itself, bypassing the proxy (no counting,
    /// no replication): for inspecting.
    pub fn redis_url(&self, region: usize) -> String {
        self.servers[region].url()
    }

    /// All keys now in `region`, sorted.
    ///
    /// # Panics
    /// If `region`'s redis cannot be queried.
    pub fn keys(&self, region: usize) -> Vec<String> {
        let Reply::Array(items) = self.inspect(region, &["KEYS", "*"]) else {
            panic!("KEYS did not answer with an array");
        };
        let mut keys: Vec<String> = items
            .into_iter()
            .map(|item| match item {
                Reply::Bulk(key) => String::from_utf8_lossy(&key).into_owned(),
                other => panic!("KEYS answered with {other:?}"),
            })
            .collect();
        keys.sort();
        keys
    }

    /// The value of `key` now in `region`.
    ///
    /// # Panics
    /// If `region`'s redis cannot be queried or `key` holds no string.
    pub fn get(&self, region: usize, key: &str) -> Option<Vec<u8>> {
        match self.inspect(region, &["GET", key]) {
            Reply::Bulk(value) => Some(value),
            Reply::Nil => None,
            other => panic!("GET {key} answered with {other:?}"),
        }
    }

    /// Commands refused so far, in both regions together.
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::Relaxed)
    }

    /// Read commands (GET, MGET, EXISTS, KEYS, SCAN, DBSIZE) served by
    /// `region`'s proxy so far; a multi-key command counts once.
    pub fn reads(&self, region: usize) -> u64 {
        self.shared.regions[region].reads.load(Ordering::Relaxed)
    }

    /// Write commands (SET, MSET, DEL, UNLINK) clients sent to `region`'s
    /// proxy so far; replicated writes arriving from the other region are not counted.
    pub fn writes(&self, region: usize) -> u64 {
        self.shared.regions[region].writes.load(Ordering::Relaxed)
    }

    /// Waits until every write made so far has reached the other region.
    ///
    /// # Panics
    /// If replication has not settled within the delay plus ten seconds
    /// (e.g. clients keep writing), so a test cannot hang.
    pub fn settle(&self) {
        self.shared.settle();
    }

    fn inspect(&self, region: usize, command: &[&str]) -> Reply {
        Connection::open(&self.redis_url(region))
            .and_then(|mut redis| redis.command(command))
            .unwrap_or_else(|e| panic!("cannot query region {region}'s redis: {e}"))
    }
}

impl Drop for Regions {
    fn drop(&mut self) {
        self.shared.stop();
        for replicator in self.replicators.drain(..) {
            let _ = replicator.join();
        }
        // Proxies first, so no client talks to a redis that is going away.
        self.proxies.clear();
        self.servers.clear();
    }
}

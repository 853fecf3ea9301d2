//! What the two proxies share: per-key write times, the delayed replication
//! queues between the regions, and the counters tests read.
//!
//! Last writer wins: every accepted write gets a timestamp from one clock, and
//! a replicated write lands only if it is newer than the last write that key
//! got in the target region. Each region's redis is written only while that
//! region's `last_write` lock is held, so the check and the write are one step.

use super::client::Connection;
use super::resp::Reply;
use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How long `settle` waits beyond the replication delay before giving up.
const SETTLE_SLACK: Duration = Duration::from_secs(10);

pub(crate) struct Shared {
    delay: Duration,
    epoch: Instant,
    /// The last timestamp handed out, so timestamps strictly increase.
    clock: Mutex<u64>,
    stopping: AtomicBool,
    pub regions: [Region; 2],
    pub refused: AtomicU64,
}

pub(crate) struct Region {
    pub redis: SocketAddr,
    /// Timestamp of the last write applied here, per key.
    last_write: Mutex<HashMap<Vec<u8>, u64>>,
    /// Writes from the other region waiting to be applied here.
    inbox: Mutex<Inbox>,
    inbox_changed: Condvar,
    pub reads: AtomicU64,
    pub writes: AtomicU64,
}

#[derive(Default)]
struct Inbox {
    queue: VecDeque<Replication>,
    /// A write taken off the queue but not yet applied; `settle` must wait for it.
    applying: bool,
}

/// One client write on its way to the other region.
struct Replication {
    due: Instant,
    stamp: u64,
    effects: Vec<Effect>,
}

enum Effect {
    Set(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

impl Effect {
    fn key(&self) -> &[u8] {
        match self {
            Effect::Set(key, _) | Effect::Delete(key) => key,
        }
    }
}

impl Shared {
    pub fn new(delay: Duration, redis: [SocketAddr; 2]) -> Shared {
        Shared {
            delay,
            epoch: Instant::now(),
            clock: Mutex::new(0),
            stopping: AtomicBool::new(false),
            regions: redis.map(|redis| Region {
                redis,
                last_write: Mutex::default(),
                inbox: Mutex::default(),
                inbox_changed: Condvar::new(),
                reads: AtomicU64::new(0),
                writes: AtomicU64::new(0),
            }),
            refused: AtomicU64::new(0),
        }
    }

    /// Applies a client's write (SET, MSET, DEL or UNLINK) to its own region
    /// at once and queues it for the other region. Returns redis's reply bytes.
    pub fn write(&self, region: usize, args: &[Vec<u8>], upstream: &mut Connection) -> io::Result<Vec<u8>> {
        let mut last_write = lock(&self.regions[region].last_write);
        let (reply, raw) = upstream.exchange(args)?;
        if matches!(reply, Reply::Error(_)) {
            return Ok(raw);
        }
        // Taken now, so it is newer than anything this region has applied.
        let stamp = self.stamp();
        let effects = effects(args);
        for effect in &effects {
            last_write.insert(effect.key().to_vec(), stamp);
        }
        // Queued while `last_write` is held, so the queue is in timestamp order.
        let there = &self.regions[1 - region];
        lock(&there.inbox).queue.push_back(Replication { due: Instant::now() + self.delay, stamp, effects });
        there.inbox_changed.notify_all();
        Ok(raw)
    }

    /// Body of the thread that applies the other region's writes to `target`,
    /// in order, each once its delay has passed. Returns once stopping.
    pub fn replicate_into(&self, target: usize) {
        let region = &self.regions[target];
        let mut connection = None;
        while let Some(replication) = self.next_due(region) {
            if let Err(error) = self.apply(region, &replication, &mut connection) {
                connection = None;
                if !self.stopping.load(Ordering::SeqCst) {
                    eprintln!("regions: a write to region {target} was lost: {error}");
                }
            }
            lock(&region.inbox).applying = false;
            region.inbox_changed.notify_all();
        }
    }

    /// Waits until every queued replication has been applied.
    ///
    /// # Panics
    /// If that takes longer than the delay plus ten seconds (e.g. because
    /// clients keep writing), so a test cannot hang.
    pub fn settle(&self) {
        let deadline = Instant::now() + self.delay + SETTLE_SLACK;
        for region in &self.regions {
            let mut inbox = lock(&region.inbox);
            while !inbox.queue.is_empty() || inbox.applying {
                let left = deadline.saturating_duration_since(Instant::now());
                assert!(!left.is_zero(), "replication did not settle in time");
                inbox = region.inbox_changed.wait_timeout(inbox, left).unwrap_or_else(PoisonError::into_inner).0;
            }
        }
    }

    /// Makes the replicator threads return; queued writes are dropped.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        for region in &self.regions {
            // Notified under the lock, so a replicator cannot miss the flag.
            let _inbox = lock(&region.inbox);
            region.inbox_changed.notify_all();
        }
    }

    /// Nanoseconds since start, bumped when needed so no two writes tie.
    fn stamp(&self) -> u64 {
        let now = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let mut clock = lock(&self.clock);
        *clock = now.max(*clock + 1);
        *clock
    }

    /// Takes the oldest queued write once it is due; `None` once stopping.
    fn next_due(&self, region: &Region) -> Option<Replication> {
        let mut inbox = lock(&region.inbox);
        loop {
            if self.stopping.load(Ordering::SeqCst) {
                return None;
            }
            let now = Instant::now();
            let wait = match inbox.queue.front() {
                Some(first) if first.due <= now => {
                    inbox.applying = true;
                    return inbox.queue.pop_front();
                }
                Some(first) => first.due - now,
                None => Duration::MAX,
            };
            inbox = region.inbox_changed.wait_timeout(inbox, wait).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    /// Applies each effect that is newer than the key's last write in `region`.
    fn apply(&self, region: &Region, replication: &Replication, connection: &mut Option<Connection>) -> io::Result<()> {
        let mut last_write = lock(&region.last_write);
        let connection = match connection {
            Some(connection) => connection,
            None => connection.insert(Connection::to(region.redis)?),
        };
        for effect in &replication.effects {
            let key = effect.key();
            if last_write.get(key).is_some_and(|&t| t >= replication.stamp) {
                continue;
            }
            let reply = match effect {
                Effect::Set(key, value) => connection.command(&[b"SET".as_slice(), key, value])?,
                Effect::Delete(key) => connection.command(&[b"DEL".as_slice(), key])?,
            };
            if let Reply::Error(error) = reply {
                return Err(io::Error::other(error));
            }
            last_write.insert(key.to_vec(), replication.stamp);
        }
        Ok(())
    }
}

/// What a write that redis accepted did, key by key. Only plain `SET key value`
/// reaches here: the proxy refuses SET with options.
fn effects(args: &[Vec<u8>]) -> Vec<Effect> {
    let Some((name, rest)) = args.split_first() else {
        return Vec::new();
    };
    match name.to_ascii_uppercase().as_slice() {
        b"SET" | b"MSET" => rest.chunks_exact(2).map(|pair| Effect::Set(pair[0].clone(), pair[1].clone())).collect(),
        b"DEL" | b"UNLINK" => rest.iter().cloned().map(Effect::Delete).collect(),
        _ => Vec::new(),
    }
}

/// Locks, carrying on past a panicked holder: every critical section leaves the state whole.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

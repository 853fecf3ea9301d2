//! Reclaiming expired records without a cron, without listing keys, with bounded work.
//!
//! Spin's key-value store has no TTL, and listing its keys scans the whole database.
//! So every login that owns keys is entered in the registry of its expiry bucket (see
//! `keys`), and requests take turns sweeping: a shared cursor names the oldest bucket
//! not yet swept; once that bucket's time has passed, each sweep step claims a batch of
//! its registry entries with `increment` (so concurrent sweepers on any instance never
//! share work) and deletes the keys of the logins they name. The sweeper that finds a bucket exhausted claims it
//! as done and moves the cursor on; it also deletes the counters of a bucket swept
//! [`KEEP_BUCKETS`] earlier, long enough ago that no sweeper can still be touching them.

use super::keys::{self, BUCKET_SECS};
use super::{KeyValue, StoreError, UnixTime, read_counter};
use crate::base::ids::LoginId;

/// Registry entries one sweep step clears at most.
const BATCH: i64 = 16;

/// Empty or finished buckets one sweep step may pass over (after an idle spell).
const MAX_BUCKETS_PER_STEP: usize = 8;

/// Buckets whose counters are kept after they are done (30 s): a sweep step is one
/// short request, so none can still be working on a bucket this far behind.
pub const KEEP_BUCKETS: u64 = 3;

/// One bounded step of reclamation: at most [`BATCH`] registry entries and
/// [`MAX_BUCKETS_PER_STEP`] buckets. Cheap (one read) when nothing is due.
pub async fn sweep<K: KeyValue>(kv: &K, now: UnixTime) -> Result<(), StoreError> {
    Sweeper { kv }.step(now).await
}

struct Sweeper<'a, K> {
    kv: &'a K,
}

impl<K: KeyValue> Sweeper<'_, K> {
    async fn step(&self, now: UnixTime) -> Result<(), StoreError> {
        // Read with `get`, not `increment(0)`: a sweep is often a request's first store
        // call, and only `get` can be bounded in time.
        let mut bucket = read_counter(self.kv, keys::SWEEP_CURSOR).await?.unwrap_or(0) as u64;
        if bucket == 0 {
            return self.start_cursor(now).await;
        }
        for _ in 0..MAX_BUCKETS_PER_STEP {
            // A bucket is due once every record in it has expired.
            if (bucket + 1) * BUCKET_SECS > now {
                return Ok(());
            }
            if self.sweep_batch(bucket).await? {
                return Ok(());
            }
            // Exactly one sweeper moves the cursor past a finished bucket.
            if self.kv.increment(&keys::bucket_done(bucket), 1).await? == 1 {
                self.kv.increment(keys::SWEEP_CURSOR, 1).await?;
                self.forget_bucket(bucket.saturating_sub(KEEP_BUCKETS)).await?;
            }
            bucket += 1;
        }
        Ok(())
    }

    /// Claims and clears one batch of `bucket`'s registry entries; false when none were left.
    async fn sweep_batch(&self, bucket: u64) -> Result<bool, StoreError> {
        // Most buckets of a quiet broker have no entries: one read tells.
        let Some(allocated) = read_counter(self.kv, &keys::allocated(bucket)).await? else {
            return Ok(false);
        };
        let claimed_to = self.kv.increment(&keys::swept(bucket), BATCH).await?;
        let claimed_from = claimed_to - BATCH + 1;
        let mut cleared_any = false;
        for index in claimed_from..=claimed_to.min(allocated) {
            cleared_any = true;
            let entry = keys::registry(bucket, index as u64);
            // An entry whose writer died before writing it names nothing: no key was made.
            let nonce = self.kv.get(&entry).await?;
            let login = nonce.as_deref().and_then(|nonce| LoginId::from_parts(std::str::from_utf8(nonce).ok()?, bucket * BUCKET_SECS));
            for key in login.iter().flat_map(keys::login_keys) {
                self.kv.delete(&key).await?;
            }
            self.kv.delete(&entry).await?;
        }
        Ok(cleared_any)
    }

    /// The first sweep on an empty store starts the cursor at the current bucket: no
    /// record can have expired before it. One claim per bucket, so a racing or crashed
    /// starter cannot move the cursor twice or leave it unset.
    async fn start_cursor(&self, now: UnixTime) -> Result<(), StoreError> {
        let bucket = now / BUCKET_SECS;
        if self.kv.increment(&keys::cursor_start(bucket), 1).await? == 1 {
            self.kv.increment(keys::SWEEP_CURSOR, bucket as i64).await?;
        }
        Ok(())
    }

    async fn forget_bucket(&self, bucket: u64) -> Result<(), StoreError> {
        self.kv.delete(&keys::allocated(bucket)).await?;
        self.kv.delete(&keys::swept(bucket)).await?;
        self.kv.delete(&keys::bucket_done(bucket)).await?;
        self.kv.delete(&keys::cursor_start(bucket)).await
    }
}

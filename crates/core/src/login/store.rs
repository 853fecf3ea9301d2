//! The login's records in the store: its request for a short link, its outcome, its
//! identity taken once, its confirmation attempts. Written over the state layer's
//! sealed records, claims and registry; the state layer keeps no login record itself.

use crate::base::ids::LoginId;
use crate::login::records::{FinishedLogin, LoginOutcome, LoginRequest};
use crate::protocol::Identity;
use crate::state::{END_CLAIM, KeyValue, StateStore, StoreError, UnixTime, envelope, keys};

impl<K: KeyValue> StateStore<K> {
    /// Keeps a new login's request for its short login link, sealed so that it opens
    /// only with the link's `secret` (which the store never sees), and enters the login
    /// in its bucket's registry: one write, then the registry's two. Past the bound the
    /// record is deleted again and the caller refused (the login can still be carried
    /// whole, sealed, as a long link).
    pub async fn save_login_request(&self, request: &LoginRequest, secret: &str, now: UnixTime) -> Result<(), StoreError> {
        let key = keys::login_link(&request.id);
        self.kv().set(&key, &self.sealer.seal(&link_binding(&key, secret), &envelope::seal(request))?).await?;
        if let Err(error) = self.register(&request.id, now).await {
            self.kv().delete(&key).await?;
            return Err(error);
        }
        Ok(())
    }

    /// The request a short login link names, if its `secret` opens it and it has not expired.
    pub async fn load_login_request(&self, id: &LoginId, secret: &str, now: UnixTime) -> Result<Option<LoginRequest>, StoreError> {
        let key = keys::login_link(id);
        let Some(sealed) = self.kv().get(&key).await? else { return Ok(None) };
        // Any other secret is a link nobody was given: as unknown as no record at all.
        let Ok(opened) = self.sealer.open(&link_binding(&key, secret), &sealed) else { return Ok(None) };
        envelope::open(&opened, now)
    }

    /// How the login ended, if it has.
    pub async fn load_outcome(&self, id: &LoginId, now: UnixTime) -> Result<Option<LoginOutcome>, StoreError> {
        let finished: Option<FinishedLogin> = self.load(&keys::outcome(id), now).await?;
        Ok(finished.map(|finished| finished.outcome))
    }

    /// Hands out a finished login's identity exactly once, however many status calls
    /// (on however many instances) read the outcome at the same time. The outcome
    /// itself stays, sealed, until the sweep reclaims it with the login's other keys:
    /// deleting it here would cost every login one more store call and protect nothing
    /// the claim does not.
    pub async fn take_identity(&self, id: &LoginId, outcome: LoginOutcome) -> Result<Option<Identity>, StoreError> {
        let LoginOutcome::Authenticated { identity } = outcome else {
            return Ok(None);
        };
        Ok(self.claim(&keys::identity_claim(id)).await?.then_some(identity))
    }

    /// Counts one more confirmation attempt for `id`; returns how many so far. Counted
    /// before the code is compared, so concurrent guesses cannot pass the limit.
    pub async fn count_code_attempt(&self, id: &LoginId, now: UnixTime) -> Result<u64, StoreError> {
        Ok((self.count(id, 1, now).await? % END_CLAIM).max(0) as u64)
    }

    /// Stores how a claimed login ended, for its client to read.
    pub async fn save_outcome(&self, id: &LoginId, outcome: LoginOutcome) -> Result<(), StoreError> {
        self.save(&keys::outcome(id), &FinishedLogin { outcome, expires_at: id.expires_at() }).await
    }
}

/// What a login's stored request is sealed to: its key, and its link's secret.
fn link_binding(key: &str, secret: &str) -> String {
    format!("{key} {secret}")
}

//! The HAS-compatible client API: start a login, long-poll its outcome.

use std::time::{Duration, Instant};

use http::{HeaderMap, StatusCode};
use serde::Serialize;

use crate::config::Choice;
use crate::context::Context;
use crate::error::HttpError;
use crate::ids::{RequestId, UserId, user_code};
use crate::log;
use crate::parse::NewRequestOptions;
use crate::protocols::Connector;
use crate::response::{self, Reply};
use crate::store::{KeyValue, LoginOutcome, LoginRequest, SlotKind, StateStore, unix_now};

/// HAS's answer to `/requests/new`, field for field, so HAS clients work unchanged.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NewRequestReply<'a> {
    request: &'a str,
    login_url: String,
    status_url: String,
    base_url: &'a str,
    user_id: &'a str,
    force_authn: bool,
    instance_id: &'a str,
    /// For the client to show its user, who types it if the broker asks for confirmation.
    user_code: &'a str,
}

/// `GET /requests/new/:userId[?forceAuthn=…&providerId=…]`
pub async fn new_request(user_segment: &str, query: &str) -> Result<Reply, HttpError> {
    let user_id = UserId::from_path_segment(user_segment).map_err(HttpError::invalid_request)?;
    let options = NewRequestOptions::parse(query).map_err(HttpError::invalid_request)?;
    let ctx = Context::load().await?;
    let (config, store, now) = (ctx.config, &ctx.store, ctx.now);
    if let Some(named) = &options.provider_id
        && config.providers.get(named).is_none()
    {
        let known = config.providers.ids();
        return Err(HttpError::invalid_request(format!("providerId `{}` is not configured; configured: {known}", named.as_str())));
    }
    // Sweeping first: its first call is a read, which can be bounded in time, and the
    // slot allocation's `increment` that follows cannot (see `store::spin_kv`).
    sweep_quietly(store, now).await;
    let expires_at = now + config.cache_ttl_secs;
    let request = LoginRequest {
        id: RequestId::from_slot(store.allocate(SlotKind::LoginRequest, expires_at).await?),
        user_id,
        provider_id: options.provider_id,
        force_authn: options.force_authn,
        user_code: user_code().map_err(|_| HttpError::no_randomness())?,
        created_at: now,
        expires_at,
        outcome: LoginOutcome::Pending,
    };
    store.save_login_request(&request).await?;
    let mut event = log::info("request_created").request(&request.id);
    if let Some(named) = &request.provider_id {
        event = event.provider(named);
    }
    event.emit();

    let base = config.base_url.as_str();
    let id = request.id.as_str();
    // HAS's rule: the provider-choice page when there is something to choose; with no
    // provider, the login page explains that sign-in is not configured.
    let login_path = match config.providers.choose(request.provider_id.as_ref()) {
        Choice::AskTheUser => "/multi/login",
        Choice::Provider(provider) => Connector::of(provider).login_path(),
        Choice::None => crate::oidc::LOGIN_PATH,
    };
    Ok(response::json(
        StatusCode::OK,
        &NewRequestReply {
            request: id,
            login_url: format!("{base}{login_path}/{id}"),
            status_url: format!("{base}/requests/status/{id}"),
            base_url: base,
            user_id: request.user_id.as_str(),
            force_authn: request.force_authn,
            instance_id: &config.instance_id,
            user_code: request.user_code.expose(),
        },
    ))
}

/// `GET /requests/status/:requestId`: waits up to `login_timeout` for the login to
/// finish, then hands the identity to exactly one caller.
pub async fn request_status(id_segment: &str, headers: &HeaderMap) -> Result<Reply, HttpError> {
    let ctx = Context::load().await?;
    let (config, store) = (ctx.config, &ctx.store);
    config.client_auth.authorize(headers)?;
    let id = RequestId::parse(id_segment).ok_or_else(|| HttpError::invalid_request(MALFORMED_REQUEST_ID))?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(config.login_timeout_secs);
    let waited_ms = || started.elapsed().as_millis() as u64;
    let unknown = || HttpError::not_found("no such login request: it is unknown, expired, or already answered");

    for attempt in 0.. {
        let request = store.load_login_request(&id, unix_now()).await?.ok_or_else(unknown)?;
        match &request.outcome {
            LoginOutcome::Authenticated { .. } => {
                let identity = store.take_identity(&request).await?.ok_or_else(unknown)?;
                log::info("identity_delivered").request(&id).outcome("ok").duration_ms(waited_ms()).emit();
                return Ok(response::json(StatusCode::OK, &identity));
            }
            LoginOutcome::Failed { error, error_description } => {
                log::info("failure_delivered").request(&id).outcome(error.code()).duration_ms(waited_ms()).emit();
                return Err(HttpError::login_failed(*error, error_description));
            }
            LoginOutcome::Pending => {}
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            break;
        }
        spin_sdk::time::sleep(poll_delay(attempt).min(remaining)).await;
    }
    log::info("status_timeout").request(&id).outcome("login_timeout").duration_ms(waited_ms()).emit();
    Err(HttpError::login_timeout(config.login_timeout_secs))
}

/// Re-read quickly at first (a login often finishes while the client starts polling),
/// then every 100 ms: the client hears of a finished login within ~100 ms, at 10
/// reads a second per waiting client.
fn poll_delay(attempt: u32) -> Duration {
    const FIRST: Duration = Duration::from_millis(20);
    const LONGEST: Duration = Duration::from_millis(100);
    FIRST.saturating_mul(1 << attempt.min(8)).min(LONGEST)
}

const MALFORMED_REQUEST_ID: &str = "a request id is 32 base64url characters, as returned by /requests/new";

/// Reclamation must not fail the request that happened to do it.
async fn sweep_quietly(store: &StateStore<impl KeyValue>, now: u64) {
    if let Err(error) = store.sweep(now).await {
        crate::log::warn("sweep_failed").detail(&error.to_string()).emit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polling_starts_fast_and_settles_at_100_ms() {
        let delays: Vec<u64> = (0..6).map(|n| poll_delay(n).as_millis() as u64).collect();
        assert_eq!(delays, [20, 40, 80, 100, 100, 100]);
        assert_eq!(poll_delay(u32::MAX), Duration::from_millis(100));
    }
}

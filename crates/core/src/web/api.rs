//! The HAS-compatible client API: start a login, long-poll its outcome.

use std::time::{Duration, Instant};

use http::{HeaderMap, StatusCode, header};
use serde::Serialize;

use crate::base::ids::{UserId, user_code};
use crate::base::log;
use crate::base::parse::NewRequestOptions;
use crate::host::{HostKeyValue, Incoming, Platform};
use crate::login::handles::{LinkToken, RequestTicket, login_handle, open_request, request_handle};
use crate::login::records::{LoginOutcome, LoginRequest, Requester};
use crate::protocol::registry::{self, Choice, Connector, SamlProvider};
use crate::state::{SealedText, StateStore, unix_now};
use crate::validate;
use crate::web::context::{self, Context};
use crate::web::error::HttpError;
use crate::web::response::{self, Reply};

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

/// `GET /requests/new/:userId[?forceAuthn=…&providerId=…]`: the request lives in the
/// client's `request` (see `handles`), and in the store for the short login link
/// (`stored_for_its_link`). A client that identifies itself (as on status calls) is named
/// on the confirmation page, and only it may claim the login.
pub async fn new_request(user_segment: &str, query: &str, headers: &HeaderMap) -> Result<Reply, HttpError> {
    let user_id = UserId::from_path_segment(user_segment).map_err(HttpError::invalid_request)?;
    let options = NewRequestOptions::parse(query).map_err(HttpError::invalid_request)?;
    let ctx = Context::load().await?;
    let (config, now) = (ctx.config, ctx.now);
    let client = config.essentials.client_auth.identify(headers, now)?;
    // As configured, also when the client named it by the id HAS gives it.
    let provider_id = match &options.provider_id {
        Some(named) => Some(config.providers.get(named).map(|provider| provider.id.clone()).ok_or_else(|| {
            let known = config.providers.ids();
            HttpError::invalid_request(format!("providerId `{}` is not configured; configured: {known}", named.as_str()))
        })?),
        None => None,
    };
    let link = LinkToken::new(now + config.essentials.cache_ttl_secs).map_err(|_| HttpError::no_randomness())?;
    let mut request = LoginRequest {
        id: link.login().clone(),
        user_id,
        provider_id,
        force_authn: options.force_authn,
        user_code: user_code().map_err(|_| HttpError::no_randomness())?,
        created_at: now,
        requested_by: Requester { client: client.as_ref().map(|client| client.label.clone()), address: client_address(headers) },
    };
    let login_link = stored_for_its_link(&ctx, &mut request, &link).await?;
    let ticket = RequestTicket { login: request.clone(), bound_to: client.map(|client| client.binding) };
    let status_handle = request_handle(&config.essentials.sealer, &ticket)?;

    let base = config.essentials.base_url.as_str();
    // HAS's rule: the provider-choice page when there is something to choose; with no
    // provider, the login page explains that sign-in is not configured.
    let login_path = match config.providers.choose(request.provider_id.as_ref()) {
        Choice::AskTheUser => "/multi/login",
        Choice::Provider(provider) => Connector::of(provider).routes().login,
        Choice::None => registry::OIDC_ROUTES.login,
    };
    Ok(response::json(
        StatusCode::OK,
        &NewRequestReply {
            request: &status_handle,
            login_url: format!("{base}{login_path}/{login_link}"),
            status_url: format!("{base}/requests/status/{status_handle}"),
            base_url: base,
            user_id: request.user_id.as_str(),
            force_authn: request.force_authn,
            instance_id: &config.instance_id,
            user_code: request.user_code.expose(),
        },
    ))
}

/// The login link's handle: `link`, with the request stored for it (one write, and
/// the registry's two); or, when the store cannot take it (down, or full for this
/// window), the request sealed whole, which needs no store.
async fn stored_for_its_link(ctx: &Context<HostKeyValue>, request: &mut LoginRequest, link: &LinkToken) -> Result<String, HttpError> {
    match ctx.store.save_login_request(request, &link.secret(), ctx.now).await {
        Ok(()) => Ok(link.as_text()),
        Err(error) => {
            log::warn("short_link_not_stored").login(&request.id).detail(&error.to_string()).emit();
            request.id = request.id.clone().not_entered();
            Ok(login_handle(&ctx.config.essentials.sealer, request)?)
        }
    }
}

/// `GET /requests/status/:request`: waits up to `login_timeout` for the login to
/// finish, then hands the identity to exactly one caller.
pub async fn request_status(handle: &str, headers: &HeaderMap) -> Result<Reply, HttpError> {
    // Only what a status call needs is read (see `Essentials`).
    let config = context::essentials().await?;
    let (store, now) = (StateStore::new(crate::host::key_value(), config.sealer.clone()), unix_now());
    let client = config.client_auth.authorize(headers, now)?;
    // A malformed id is as unknown as any other (HAS's answer, which its p4d extension's
    // `test-ssl` expects: 404 once the client certificate is accepted).
    let presented = SealedText::parse(handle).ok_or_else(|| HttpError::not_found(MALFORMED_REQUEST))?;
    let unknown = || HttpError::not_found("no such login request: it is unknown, expired, or already answered");
    let RequestTicket { login: LoginRequest { id, .. }, bound_to } = open_request(&presented, &config.sealer, now).ok_or_else(unknown)?;
    if bound_to.is_some() && bound_to != client.map(|client| client.binding) {
        return Err(HttpError::forbidden("this login was requested by another client: only that client may read its outcome"));
    }
    let started = Instant::now();
    // No longer than `login_timeout`, and never past the login's expiry.
    let longest_wait = Duration::from_secs(config.login_timeout_secs.min(id.expires_at().saturating_sub(now)));
    let deadline = started + longest_wait;
    let waited_ms = || started.elapsed().as_millis() as u64;

    for attempt in 0.. {
        match store.load_outcome(&id, unix_now()).await? {
            Some(outcome @ LoginOutcome::Authenticated { .. }) => {
                let identity = store.take_identity(&id, outcome).await?.ok_or_else(unknown)?;
                log::info("identity_delivered").login(&id).outcome("ok").duration_ms(waited_ms()).emit();
                return Ok(response::json(StatusCode::OK, &identity));
            }
            Some(LoginOutcome::Failed { error, error_description }) => {
                log::info("failure_delivered").login(&id).outcome(error.code()).duration_ms(waited_ms()).emit();
                return Err(HttpError::login_failed(error, &error_description));
            }
            None if unix_now() >= id.expires_at() => return Err(unknown()),
            None => {}
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            break;
        }
        crate::host::sleep(poll_delay(attempt, config.platform).min(remaining)).await;
    }
    log::info("status_timeout").login(&id).outcome("login_timeout").duration_ms(waited_ms()).emit();
    Err(HttpError::login_timeout(config.login_timeout_secs))
}

/// Re-read quickly at first (a login often finishes while the client starts polling),
/// then every 100 ms: the client hears of a finished login within ~100 ms, at 10
/// reads a second per waiting client. At the edge, where a login finished in another
/// region arrives seconds later anyway and an app may read 1,000 times a second,
/// every second.
fn poll_delay(attempt: u32, platform: Platform) -> Duration {
    const FIRST: Duration = Duration::from_millis(20);
    let longest = match platform {
        Platform::OneStore => Duration::from_millis(100),
        Platform::ReplicatedEdge => Duration::from_secs(1),
    };
    FIRST.saturating_mul(1 << attempt.min(8)).min(longest)
}

/// The client's IP address as Spin reports it (`spin-client-addr`, `ip:port`). Spin
/// appends its own after the request's headers, so a client that sends one too comes
/// first: only the last copy is Spin's.
fn client_address(headers: &HeaderMap) -> Option<String> {
    let reported = headers.get_all("spin-client-addr").iter().next_back()?.to_str().ok()?;
    Some(reported.parse::<std::net::SocketAddr>().ok()?.ip().to_string())
}

const MALFORMED_REQUEST: &str =
    "no such login request: the request id is malformed; pass the `request` that /requests/new returned, as it is";

/// `GET /saml/metadata[?providerId=…]`: our SAML metadata (entity id, Assertion
/// Consumer Service, NameID format), for the identity provider's administrator.
pub async fn saml_metadata(query: &str) -> Result<Reply, HttpError> {
    let ctx = Context::load().await?;
    let saml = saml_provider(&ctx, query)?;
    Ok(response::document("application/samlmetadata+xml", saml.sp_metadata(&ctx.protocol())))
}

/// `POST /saml/validate[?providerId=…&instanceId=…]` (HAS's, which the p4d extension
/// calls for Helix Swarm's one-step login): a SAML Response that another service
/// provider received, in the form's `SAMLResponse`, checked by the SAML provider and
/// accepted once; 200 with the identity it asserts. Clients authorize as on the status
/// route; a refused answer is 400 with its reason, as in HAS.
pub async fn validate_saml(query: &str, request: Incoming) -> Result<Reply, HttpError> {
    let headers = request.headers().clone();
    let limit = registry::MAX_SAML_FORM_BYTES;
    let form = request.body_up_to(limit).await.ok_or_else(|| HttpError::payload_too_large(limit))?;
    let ctx = Context::load().await?;
    ctx.config.essentials.client_auth.authorize(&headers, ctx.now)?;
    let answer =
        registry::posted_saml_response(&form).map_err(|why| HttpError::invalid_request(format!("this form is unusable: {why}")))?;
    if answer.len() > registry::MAX_SAML_RESPONSE_BYTES {
        return Err(HttpError::payload_too_large(registry::MAX_SAML_RESPONSE_BYTES));
    }
    let saml = saml_provider(&ctx, query)?;
    let identity = saml.validate(&ctx.protocol(), &answer).await.map_err(|failure| HttpError::answer_refused(&failure))?;
    log::info("saml_answer_validated").provider(&saml.provider.id).emit();
    Ok(response::json(StatusCode::OK, &identity.vouched_by(&saml.provider.id)))
}

/// The SAML provider a route means: the one `?providerId=` names, else the default,
/// else the first SAML provider.
fn saml_provider<'c>(ctx: &'c Context<HostKeyValue>, query: &str) -> Result<SamlProvider<'c>, HttpError> {
    let named = NewRequestOptions::parse(query).map_err(HttpError::invalid_request)?.provider_id;
    ctx.config.providers.saml(named.as_ref()).ok_or_else(|| HttpError::not_found("no SAML identity provider of that id is configured"))
}

/// `GET /oauth/validate`: the verified claims of the bearer token the client presents.
pub async fn validate_token(headers: &HeaderMap) -> Result<Reply, HttpError> {
    let ctx = Context::load().await?;
    let claims = validate::validate(ctx.config.oauth.as_ref(), &ctx.store, headers.get(header::AUTHORIZATION), ctx.now).await?;
    Ok(response::json(StatusCode::OK, &claims))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polling_starts_fast_and_settles_at_100_ms() {
        let delays: Vec<u64> = (0..6).map(|n| poll_delay(n, Platform::OneStore).as_millis() as u64).collect();
        assert_eq!(delays, [20, 40, 80, 100, 100, 100]);
        assert_eq!(poll_delay(u32::MAX, Platform::OneStore), Duration::from_millis(100));
        assert_eq!(poll_delay(u32::MAX, Platform::ReplicatedEdge), Duration::from_secs(1), "an app reads 1,000 times a second at most");
    }
}

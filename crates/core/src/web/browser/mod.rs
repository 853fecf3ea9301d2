//! The browser's routes: `/multi/login/:id` lets the user choose a provider,
//! `/oidc/login/:id` and `/saml/login/:id` send the browser out (after a confirmation,
//! when configured), `/oidc/callback` and `/saml/sso` bring it back, `/oidc/logout`
//! signs it out. Thin handlers: HTTP, cookies and pages here; the login itself is the
//! core's (`login.rs`). Answers are pages, never JSON.

mod cookies;

use http::{HeaderMap, HeaderValue, StatusCode};

use crate::base::ids::{ProviderId, SignInState, digest, random_token};
use crate::base::log;
use crate::base::parse::{CallbackParams, NewRequestOptions};
use crate::host::{HostKeyValue, Incoming};
use crate::login::{CodeCheck, Completed, PendingLogin, take_answer};
use crate::protocol::registry::{self, Connector, OIDC_ROUTES, PostedAnswer, ProviderAnswer, ROUTES, SAML_ROUTES};
use crate::protocol::registry::{Choice, IdentityProvider, LoggedOut, ReceivedLogout};
use crate::settings::Config;
use crate::web::context::Context;
use crate::web::error::{HttpError, RESTART};
use crate::web::pages;
use crate::web::response::{self, Reply};
use cookies::{BrowserCookie, BrowserSession, SESSION_SECS, presented_session, session_cookie};

/// The only body the broker reads: a token and a short code.
const MAX_FORM_BYTES: usize = 2048;

/// `GET /oidc/login/:requestId[?providerId=…]`: to the provider-choice page when the
/// provider is not settled yet, else straight to the provider or, with
/// `prompt_for_authorization`, to a page where the user confirms the login first.
pub async fn start(handle: &str, query: &str) -> Result<Reply, HttpError> {
    let ctx = Context::load().await?;
    let pending = PendingLogin::open(ctx.login(), handle).await?;
    let Some(provider) = pending.provider(chosen_provider(query)?.as_ref())? else {
        return Ok(response::redirect(&format!("/multi/login/{}", pending.handle), vec![]));
    };
    if ctx.config.prompt_for_authorization {
        return confirmation_page(&ctx, &pending, provider, StatusCode::OK, None).await;
    }
    send_to_provider(&ctx, &pending, provider).await
}

/// `GET /multi/login/:requestId`: the provider-choice page (HAS's route), or on to the
/// login when there is nothing to choose.
pub async fn choose_provider(handle: &str) -> Result<Reply, HttpError> {
    let ctx = Context::load().await?;
    let pending = PendingLogin::open(ctx.login(), handle).await?;
    let id = pending.handle.as_str();
    match ctx.config.providers.choose(pending.request.provider_id.as_ref()) {
        Choice::AskTheUser => {
            let choices: Vec<(String, &str)> = ctx
                .config
                .providers
                .iter()
                .map(|provider| {
                    (
                        format!("{}/{id}?providerId={}", Connector::of(provider).routes().login, provider.id.as_str()),
                        provider.label.as_str(),
                    )
                })
                .collect();
            Ok(pages::choose_provider(pending.request.user_id.as_str(), &choices))
        }
        Choice::Provider(provider) => Ok(response::redirect(&format!("{}/{id}", Connector::of(provider).routes().login), vec![])),
        Choice::None => Err(HttpError::not_configured()),
    }
}

/// `POST /oidc/login/:requestId[?providerId=…]`: the confirmation form.
pub async fn confirm(handle: &str, query: &str, request: Incoming) -> Result<Reply, HttpError> {
    let headers = request.headers().clone();
    let form = request.body_up_to(MAX_FORM_BYTES).await.ok_or_else(|| HttpError::payload_too_large(MAX_FORM_BYTES))?;
    let ctx = Context::load().await?;
    let pending = PendingLogin::open(ctx.login(), handle).await?;
    if !ctx.config.prompt_for_authorization {
        return Err(HttpError::method_not_allowed("GET"));
    }
    let Some(provider) = pending.provider(chosen_provider(query)?.as_ref())? else {
        return Err(HttpError::invalid_request(format!("Choose how to sign in first. {RESTART}")));
    };
    let field = |wanted: &str| {
        form_urlencoded::parse(&form).find(|(name, _)| name == wanted).map(|(_, value)| value.into_owned()).unwrap_or_default()
    };
    // Double submit: the token in the form must be the one in this browser's cookie.
    let token = field("confirmation");
    let confirmation = BrowserCookie::confirmation(ctx.config, Connector::of(provider).routes().login);
    if token.is_empty() || !confirmation.presented_by(&headers, &digest(&token)) {
        return Err(HttpError::invalid_request("This confirmation page has expired or was opened elsewhere. Open the login link again."));
    }
    if ctx.config.user_code_required {
        match pending.check_user_code(&field("user_code"), provider).await? {
            CodeCheck::Accepted => {}
            CodeCheck::Wrong { attempts_left } => {
                let retry = format!("That is not the code. {attempts_left} attempts left.");
                return confirmation_page(&ctx, &pending, provider, StatusCode::BAD_REQUEST, Some(&retry)).await;
            }
            CodeCheck::Stopped => return Err(HttpError::login_stopped("too many wrong confirmation codes")),
        }
    }
    send_to_provider(&ctx, &pending, provider).await
}

async fn send_to_provider(
    ctx: &Context<HostKeyValue>,
    pending: &PendingLogin<'_, HostKeyValue>,
    provider: &IdentityProvider,
) -> Result<Reply, HttpError> {
    let departure = pending.send_to_provider(provider).await?;
    let connector = Connector::of(provider);
    let cookie =
        BrowserCookie::sign_in(ctx.config, &departure.state, connector.routes()).set(&departure.sealed_sign_in, departure.lifetime_secs);
    Ok(response::redirect(&departure.url, vec![cookie]))
}

async fn confirmation_page(
    ctx: &Context<HostKeyValue>,
    pending: &PendingLogin<'_, HostKeyValue>,
    provider: &IdentityProvider,
    status: StatusCode,
    notice: Option<&str>,
) -> Result<Reply, HttpError> {
    let request = &pending.request;
    let connector = Connector::of(provider);
    let provider_origins = connector.form_origins(&ctx.protocol()).await;
    let token = random_token().map_err(|_| HttpError::no_randomness())?;
    let id = pending.handle.as_str();
    // Keep a choice made on the choice page; a named or default provider needs none.
    let form_action = match ctx.config.providers.choose(request.provider_id.as_ref()) {
        Choice::Provider(_) => format!("{}/{id}", connector.routes().login),
        _ => format!("{}/{id}?providerId={}", connector.routes().login, provider.id.as_str()),
    };
    let confirmation = pages::Confirmation {
        user: request.user_id.as_str(),
        requested_at: request.created_at,
        now: ctx.now,
        requested_by: &request.requested_by,
        form_action: &form_action,
        token: token.expose(),
        code_required: ctx.config.user_code_required,
        notice,
    };
    let cookie = BrowserCookie::confirmation(ctx.config, connector.routes().login)
        .set(token.expose(), request.id.expires_at().saturating_sub(ctx.now));
    let page = response::allow_form_to(pages::confirm_login(status, &confirmation), &provider_origins);
    Ok(response::with_cookies(page, vec![cookie]))
}

/// `GET /oidc/callback?code=…&state=…[&iss=…]`: the provider's answer, taken by the
/// core for the sign-in its `state` names, which this browser's cookie must hold.
pub async fn oidc_callback(query: &str, headers: &HeaderMap) -> Result<Reply, HttpError> {
    let params =
        CallbackParams::parse(query).ok_or_else(|| HttpError::invalid_request(format!("This sign-in answer is incomplete. {RESTART}")))?;
    let state = SignInState::parse(&params.state)
        .ok_or_else(|| HttpError::invalid_request(format!("This sign-in has expired or was already used. {RESTART}")))?;
    let ctx = Context::load().await?;
    let cookie = BrowserCookie::sign_in(ctx.config, &state, OIDC_ROUTES);
    let completed = take_answer(ctx.login(), &state, cookie.presented(headers), &ProviderAnswer::Oidc(&params)).await?;
    signed_in(&ctx, &cookie, completed)
}

/// `POST /saml/sso`: the SAML identity provider's answer (HTTP-POST binding), taken by
/// the core for the sign-in its `RelayState` names, which this browser's cookie must hold.
pub async fn saml_answer(request: Incoming) -> Result<Reply, HttpError> {
    let headers = request.headers().clone();
    let form = request
        .body_up_to(registry::MAX_SAML_FORM_BYTES)
        .await
        .ok_or_else(|| HttpError::payload_too_large(registry::MAX_SAML_FORM_BYTES))?;
    let answer = PostedAnswer::parse(&form)
        .map_err(|why| HttpError::invalid_request(format!("This sign-in answer is unusable: {why}. {RESTART}")))?;
    // Refused before anything is claimed: an oversized answer spends no login.
    if answer.response.len() > registry::MAX_SAML_RESPONSE_BYTES {
        return Err(HttpError::payload_too_large(registry::MAX_SAML_RESPONSE_BYTES));
    }
    let state = SignInState::parse(&answer.relay_state)
        .ok_or_else(|| HttpError::invalid_request(format!("This sign-in has expired or was already used. {RESTART}")))?;
    let ctx = Context::load().await?;
    let cookie = BrowserCookie::sign_in(ctx.config, &state, SAML_ROUTES);
    let completed = take_answer(ctx.login(), &state, cookie.presented(&headers), &ProviderAnswer::Saml(&answer)).await?;
    signed_in(&ctx, &cookie, completed)
}

/// The page of a finished login: the sign-in cookie cleared, a session kept for signing out.
fn signed_in(ctx: &Context<HostKeyValue>, sign_in: &BrowserCookie, completed: Completed) -> Result<Reply, HttpError> {
    let session =
        BrowserSession { provider_id: completed.provider_id, logout_hint: completed.logout_hint, expires_at: ctx.now + SESSION_SECS };
    Ok(response::with_cookies(pages::signed_in(), vec![sign_in.set("", 0), session_cookie(ctx.config, session)?]))
}

/// The cookies that clear every sign-in state this browser holds at the broker.
fn forget_browser(config: &Config, headers: &HeaderMap) -> Vec<HeaderValue> {
    let mut forget = vec![BrowserCookie::session(config).set("", 0)];
    forget.extend(ROUTES.map(|routes| BrowserCookie::confirmation(config, routes.login).set("", 0)));
    forget.extend(BrowserCookie::sign_ins_presented(config, headers).iter().map(|pending| pending.set("", 0)));
    forget
}

/// `GET /saml/logout` (HAS's): on to the one logout route, where the session cookie goes.
pub async fn saml_logout() -> Result<Reply, HttpError> {
    let ctx = Context::load().await?;
    Ok(response::redirect(&format!("{}{}", ctx.config.essentials.base_url, registry::LOGOUT_PATH), Vec::new()))
}

/// `GET /oidc/logout` (where HAS's `GET /saml/logout` leads): forgets this browser's sign-in
/// state, then signs out at the provider when the browser signed in through one that
/// offers it: OpenID's RP-initiated logout, coming back to `/oidc/logged_out`, or a SAML
/// `LogoutRequest`, answered at `/saml/slo`.
pub async fn logout(headers: &HeaderMap) -> Result<Reply, HttpError> {
    let ctx = Context::load().await?;
    let config = ctx.config;
    let session = presented_session(config, headers, ctx.now);
    let forget = forget_browser(config, headers);
    let provider = session.as_ref().and_then(|session| config.providers.get(&session.provider_id));
    let Some((session, provider)) = session.as_ref().zip(provider) else {
        log::info("logout").outcome("no_session").emit();
        return Ok(response::with_cookies(pages::signed_out(), forget));
    };
    let event = |outcome: &str| log::info("logout").provider(&provider.id).outcome(outcome);
    match Connector::of(provider).logout_url(&ctx.protocol(), session.logout_hint.as_ref()).await {
        Ok(Some(url)) => {
            event("end_session").emit();
            Ok(response::redirect(&url, forget))
        }
        Ok(None) => {
            event("no_end_session_endpoint").emit();
            Ok(response::with_cookies(pages::signed_out(), forget))
        }
        Err(failure) => {
            // The broker's part is done; say so rather than fail the whole sign-out.
            log::warn("logout").provider(&provider.id).outcome(failure.kind.code()).detail(&failure.description).emit();
            Ok(response::with_cookies(pages::signed_out(), forget))
        }
    }
}

/// `GET` or `POST /saml/slo`: a SAML identity provider's logout message. Its own
/// `LogoutRequest` (signed) ends this browser's sign-in state here and is answered with
/// our `LogoutResponse`; its answer to ours says whether it signed the person out too.
pub async fn saml_single_logout(query: &str, request: Incoming) -> Result<Reply, HttpError> {
    let headers = request.headers().clone();
    let received = if request.method() == http::Method::POST {
        let form = request
            .body_up_to(registry::MAX_SAML_LOGOUT_BYTES)
            .await
            .ok_or_else(|| HttpError::payload_too_large(registry::MAX_SAML_LOGOUT_BYTES))?;
        ReceivedLogout::from_form(&form)
    } else {
        ReceivedLogout::from_query(query)
    }
    .map_err(|why| HttpError::invalid_request(format!("This logout message is unusable: {why}.")))?;
    let issuer = registry::logout_issuer(&received).map_err(HttpError::invalid_request)?;
    let ctx = Context::load().await?;
    let protocol = ctx.protocol();
    let saml = ctx
        .config
        .providers
        .saml_issued_by(&protocol, &issuer)
        .await
        .ok_or_else(|| HttpError::invalid_request("This logout message comes from no configured SAML identity provider.".to_owned()))?;
    let logged_out = saml.single_logout(&protocol, &received).await.map_err(|failure| HttpError::invalid_request(failure.description))?;
    let forget = forget_browser(ctx.config, &headers);
    let event = |outcome: &str| log::info("saml_single_logout").provider(&saml.provider.id).outcome(outcome).emit();
    Ok(match logged_out {
        LoggedOut::Answered(url) => {
            event("answered");
            response::redirect(&url, forget)
        }
        LoggedOut::Everywhere => {
            event("signed_out");
            response::with_cookies(pages::signed_out(), forget)
        }
        LoggedOut::HereOnly { status } => {
            event("not_at_provider");
            response::with_cookies(pages::signed_out_here_only(&status), forget)
        }
    })
}

/// `GET /oidc/logged_out`: where the provider sends the browser back after signing out.
pub fn logged_out() -> Reply {
    pages::signed_out()
}

/// The provider chosen on the choice page (`?providerId=`), if any.
fn chosen_provider(query: &str) -> Result<Option<ProviderId>, HttpError> {
    Ok(NewRequestOptions::parse(query).map_err(HttpError::invalid_request)?.provider_id)
}

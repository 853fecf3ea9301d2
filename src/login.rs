//! The browser side of a login: `/multi/login/:id` lets the user choose a provider,
//! `/oidc/login/:id` sends the browser to it, `/oidc/callback` brings it back, and
//! `/oidc/logout` signs it out. Answers are pages, never JSON.

use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::{BodyExt, Limited};
use spin_sdk::http::Request;
use subtle::ConstantTimeEq;

use crate::config::{Choice, Config, IdentityProvider, Protocol};
use crate::error::HttpError;
use crate::ids::{RequestId, SlotId, digest, random_token, user_code_matches};
use crate::oidc::{self, SignInError};
use crate::parse::{CallbackParams, NewRequestOptions, cookie, cookies};
use crate::response::{self, Reply};
use crate::store::{BrowserSession, LoginOutcome, LoginRequest, SpinKeyValue, StateStore, open_from_browser, seal_for_browser, unix_now};
use crate::{log, pages};

const CALLBACK_PATH: &str = "/oidc/callback";

/// The `redirect_uri` registered at every provider.
fn callback_url(config: &Config) -> String {
    format!("{}{CALLBACK_PATH}", config.base_url)
}

/// Wrong confirmation codes allowed per request before the login is stopped.
const MAX_WRONG_CODES: u64 = 5;

/// A host-only, `HttpOnly` cookie holding a secret of which the server keeps at most a
/// hash (or a sealed record). Over https it takes the `__Host-` prefix, which browsers
/// grant only to a cookie that is `Secure`, host-only and for `Path=/`: no sibling
/// domain can plant or shadow it.
struct BrowserCookie {
    name: String,
    /// The path over plain http, where the cookie can be narrower.
    path: &'static str,
    same_site: &'static str,
    secure: bool,
}

/// Every sign-in cookie's name starts so; the sign-in's slot completes it.
const SIGN_IN_COOKIE: &str = "lb_signin_";

impl BrowserCookie {
    fn new(config: &Config, name: &str, path: &'static str, same_site: &'static str) -> Self {
        if config.base_url.starts_with("https://") {
            Self { name: format!("__Host-{name}"), path: "/", same_site, secure: true }
        } else {
            Self { name: name.to_owned(), path, same_site, secure: false }
        }
    }

    /// Binds a sign-in to the browser that started it. Named after the sign-in's slot,
    /// so that logins started side by side in one browser (two applications, two tabs)
    /// each keep their own. `SameSite=Lax`, so that it rides the provider's top-level
    /// redirect back to the callback.
    fn sign_in(config: &Config, state: &SlotId) -> Self {
        Self::new(config, &format!("{SIGN_IN_COOKIE}{}_{}", state.bucket(), state.index()), "/oidc/callback", "Lax")
    }

    /// The sign-in cookies this browser presents, to clear them.
    fn sign_ins_presented(config: &Config, headers: &HeaderMap) -> Vec<Self> {
        let prefix = Self::new(config, SIGN_IN_COOKIE, "/oidc/callback", "Lax");
        cookies(headers)
            .filter(|(name, _)| name.starts_with(&prefix.name))
            .map(|(name, _)| Self { name: name.to_owned(), ..Self::new(config, SIGN_IN_COOKIE, prefix.path, prefix.same_site) })
            .collect()
    }

    /// The confirmation form's double-submit token. `SameSite=Strict`: a form posted
    /// from another site arrives without it.
    fn confirmation(config: &Config) -> Self {
        Self::new(config, "lb_confirm", "/oidc/login", "Strict")
    }

    /// Lets a signed-in browser sign out later: a sealed record of its provider and ID
    /// token, in the cookie itself, sent to `/oidc/logout` only (over plain http).
    fn session(config: &Config) -> Self {
        Self::new(config, "lb_session", "/oidc/logout", "Lax")
    }

    /// `Set-Cookie` for `secret`, or, with `max_age_secs` 0, clearing it.
    fn set(&self, secret: &str, max_age_secs: u64) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let cookie = format!("{}={secret}; Max-Age={max_age_secs}; Path={}; HttpOnly; SameSite={}{secure}", self.name, self.path, self.same_site);
        // Names and values are ours (base64url), so this cannot fail; clear rather than panic.
        HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static("lb_invalid=; Max-Age=0"))
    }

    /// Whether the browser presents the secret whose hash is `expected_hash`.
    fn presented_by(&self, headers: &HeaderMap, expected_hash: &str) -> bool {
        cookie(headers, &self.name).is_some_and(|secret| !secret.is_empty() && bool::from(digest(secret).as_bytes().ct_eq(expected_hash.as_bytes())))
    }
}

const RESTART: &str = "Start the login again from your application.";

/// How long a browser can still sign out through the broker after signing in.
const SESSION_SECS: u64 = 12 * 3600;

/// Browsers drop cookies over 4096 bytes: beyond this, the session keeps no ID token
/// (the provider then asks the user which session to end).
const MAX_SESSION_COOKIE_BYTES: usize = 3800;

/// `GET /oidc/login/:requestId[?providerId=…]`: to the provider-choice page when the
/// provider is not settled yet, else straight to the provider or, with
/// `prompt_for_authorization`, to a page where the user confirms the login first.
pub async fn start(id_segment: &str, query: &str) -> Result<Reply, HttpError> {
    let pending = PendingLogin::load(id_segment).await?;
    let Some(provider) = pending.provider(query)? else {
        return Ok(response::redirect(&format!("/multi/login/{}", pending.request.id.as_str()), vec![]));
    };
    if pending.config.prompt_for_authorization {
        return confirmation_page(&pending, provider, StatusCode::OK, None).await;
    }
    pending.send_to_provider(provider).await
}

/// `GET /multi/login/:requestId`: the provider-choice page (HAS's route), or on to the
/// login when there is nothing to choose.
pub async fn choose_provider(id_segment: &str) -> Result<Reply, HttpError> {
    let pending = PendingLogin::load(id_segment).await?;
    let id = pending.request.id.as_str();
    match pending.config.providers.choose(pending.request.provider_id.as_ref()) {
        Choice::AskTheUser => Ok(pages::choose_provider(&pending.request.id, pending.request.user_id.as_str(), pending.config.providers.iter())),
        Choice::Provider(_) => Ok(response::redirect(&format!("/oidc/login/{id}"), vec![])),
        Choice::None => Err(HttpError::not_configured()),
    }
}

/// The only body the broker reads: a token and a short code.
const MAX_FORM_BYTES: usize = 2048;

/// `POST /oidc/login/:requestId[?providerId=…]`: the confirmation form.
pub async fn confirm(id_segment: &str, query: &str, request: Request) -> Result<Reply, HttpError> {
    let (parts, body) = request.into_parts();
    let form = Limited::new(body, MAX_FORM_BYTES).collect().await.map_err(|_| HttpError::payload_too_large(MAX_FORM_BYTES))?.to_bytes();
    let (headers, form) = (&parts.headers, &form[..]);
    let pending = PendingLogin::load(id_segment).await?;
    if !pending.config.prompt_for_authorization {
        return Err(HttpError::method_not_allowed("GET"));
    }
    let Some(provider) = pending.provider(query)? else {
        return Err(HttpError::invalid_request(format!("Choose how to sign in first. {RESTART}")));
    };
    let field = |wanted: &str| {
        form_urlencoded::parse(form).find(|(name, _)| name == wanted).map(|(_, value)| value.into_owned()).unwrap_or_default()
    };
    // Double submit: the token in the form must be the one in this browser's cookie.
    let token = field("confirmation");
    if token.is_empty() || !BrowserCookie::confirmation(&pending.config).presented_by(headers, &digest(&token)) {
        return Err(HttpError::invalid_request("This confirmation page has expired or was opened elsewhere. Open the login link again."));
    }
    if pending.config.user_code_required && !user_code_matches(&pending.request.user_code, &field("user_code")) {
        let wrong = pending.store.count_wrong_code(&pending.request.id).await?;
        if wrong >= MAX_WRONG_CODES {
            let stopped = "too many wrong confirmation codes";
            let outcome = LoginOutcome::Failed { error: "access_denied".into(), error_description: stopped.into() };
            pending.store.finish_login_request(&pending.request.id, outcome, pending.now).await?;
            log::warn("login_finished").request(&pending.request.id).provider(&provider.id).outcome("access_denied").detail(stopped).emit();
            return Err(HttpError::sign_in_failed(StatusCode::FORBIDDEN, format!("This login was stopped: {stopped}. {RESTART}")));
        }
        let retry = format!("That is not the code. {} attempts left.", MAX_WRONG_CODES - wrong);
        return confirmation_page(&pending, provider, StatusCode::BAD_REQUEST, Some(&retry)).await;
    }
    pending.send_to_provider(provider).await
}

/// A login request that is still waiting for its user, with what handling it needs.
struct PendingLogin {
    config: Config,
    store: StateStore<SpinKeyValue>,
    request: LoginRequest,
    now: u64,
}

impl PendingLogin {
    async fn load(id_segment: &str) -> Result<Self, HttpError> {
        let id = RequestId::parse(id_segment).ok_or_else(|| HttpError::invalid_request(format!("This login link is malformed. {RESTART}")))?;
        let config = Config::load().await?;
        let store = StateStore::new(SpinKeyValue::open().await?, config.sealer.clone());
        let now = unix_now();
        let request = store
            .load_login_request(&id, now)
            .await?
            .ok_or_else(|| HttpError::not_found(format!("This login link is unknown or has expired. {RESTART}")))?;
        if request.outcome != LoginOutcome::Pending {
            return Err(HttpError::conflict(format!("This login has already ended. {RESTART}")));
        }
        Ok(Self { config, store, request, now })
    }

    /// The provider this login goes to: the one its client named, else the one chosen
    /// on the choice page (`?providerId=`), else the default. `None`: the user chooses.
    fn provider(&self, query: &str) -> Result<Option<&IdentityProvider>, HttpError> {
        let chosen = NewRequestOptions::parse(query).map_err(HttpError::invalid_request)?.provider_id;
        let named = match (&self.request.provider_id, &chosen) {
            (Some(named), Some(chosen)) if named != chosen => {
                return Err(HttpError::invalid_request(format!("This login is for provider `{}`. {RESTART}", named.as_str())));
            }
            (Some(named), _) | (None, Some(named)) => Some(named),
            (None, None) => None,
        };
        if let Some(named) = named {
            let provider = self.config.providers.get(named);
            return provider.map(Some).ok_or_else(|| HttpError::not_found(format!("There is no identity provider `{}` here. {RESTART}", named.as_str())));
        }
        match self.config.providers.choose(None) {
            Choice::Provider(provider) => Ok(Some(provider)),
            Choice::AskTheUser => Ok(None),
            Choice::None => Err(HttpError::not_configured()),
        }
    }

    async fn send_to_provider(&self, provider: &IdentityProvider) -> Result<Reply, HttpError> {
        let (config, request, now) = (&self.config, &self.request, self.now);
        let Protocol::Oidc(oidc_config) = &provider.protocol;
        let authorization = oidc::authorize(&self.store, &provider.id, oidc_config, &callback_url(config), request, now).await.map_err(sign_in_page_error)?;
        self.store.save_sign_in(&authorization.sign_in).await?;
        log::info("login_started").request(&request.id).provider(&provider.id).emit();
        let cookie = BrowserCookie::sign_in(config, &authorization.sign_in.state).set(&authorization.browser_secret, request.expires_at.saturating_sub(now));
        Ok(response::redirect(&authorization.url, vec![cookie]))
    }
}

async fn confirmation_page(pending: &PendingLogin, provider: &IdentityProvider, status: StatusCode, notice: Option<&str>) -> Result<Reply, HttpError> {
    let Protocol::Oidc(oidc_config) = &provider.protocol;
    let provider_origins = oidc::authorization_origins(&pending.store, oidc_config, pending.now).await?;
    let token = random_token().map_err(|_| HttpError::internal("the system has no randomness"))?;
    let id = pending.request.id.as_str();
    // Keep a choice made on the choice page; a named or default provider needs none.
    let form_action = match pending.config.providers.choose(pending.request.provider_id.as_ref()) {
        Choice::Provider(_) => format!("/oidc/login/{id}"),
        _ => format!("/oidc/login/{id}?providerId={}", provider.id.as_str()),
    };
    let confirmation = pages::Confirmation {
        user: pending.request.user_id.as_str(),
        form_action: &form_action,
        token: &token,
        code_required: pending.config.user_code_required,
        notice,
    };
    let lifetime = pending.request.expires_at.saturating_sub(pending.now);
    let cookie = BrowserCookie::confirmation(&pending.config).set(&token, lifetime);
    let page = response::allow_form_to(pages::confirm_login(status, &confirmation), &provider_origins);
    Ok(response::with_cookies(page, vec![cookie]))
}

/// `GET /oidc/callback?code=…&state=…[&iss=…]`
pub async fn callback(query: &str, headers: &HeaderMap) -> Result<Reply, HttpError> {
    let params = CallbackParams::parse(query).ok_or_else(|| HttpError::invalid_request(format!("This sign-in answer is incomplete. {RESTART}")))?;
    let config = Config::load().await?;
    let store = StateStore::new(SpinKeyValue::open().await?, config.sealer.clone());
    let now = unix_now();

    let used_or_expired = || HttpError::invalid_request(format!("This sign-in has expired or was already used. {RESTART}"));
    let state = SlotId::parse(&params.state).ok_or_else(used_or_expired)?;
    let sign_in = store.load_sign_in(&state, now).await?.ok_or_else(used_or_expired)?;
    // Checked before consuming, so a forged callback cannot spend the real user's state.
    let cookie = BrowserCookie::sign_in(&config, &state);
    if !cookie.presented_by(headers, &sign_in.browser_binding_hash) {
        return Err(HttpError::invalid_request(format!("This sign-in was started in another browser, or its cookie was lost. {RESTART}")));
    }
    if !store.consume_sign_in(&state).await? {
        return Err(used_or_expired());
    }
    let provider = config.providers.get(&sign_in.provider_id);
    let Some(IdentityProvider { protocol: Protocol::Oidc(oidc_config), .. }) = provider else {
        return Err(HttpError::not_found(format!("The identity provider of this sign-in is no longer configured. {RESTART}")));
    };

    let redirect_uri = callback_url(&config);
    let result = match (&params.error, &params.code) {
        (Some(error), _) => Err(SignInError::from_provider(error, params.error_description.as_deref())),
        (None, Some(code)) => match &params.iss {
            // RFC 9207: a mix-up attack shows as an answer from another issuer (exact string).
            Some(iss) if iss != oidc_config.issuer.as_str() => {
                Err(SignInError { code: "invalid_issuer", description: "the sign-in answer came from another issuer".into() })
            }
            _ => oidc::complete(&store, oidc_config, &redirect_uri, &sign_in, code, now).await,
        },
        (None, None) => Err(SignInError { code: "invalid_request", description: "the sign-in answer has no code".into() }),
    };

    let finished = |outcome: &str| {
        let at_provider_secs = now.saturating_sub(sign_in.started_at);
        log::info("login_finished").request(&sign_in.request_id).provider(&sign_in.provider_id).outcome(outcome).field("at_provider_secs", at_provider_secs)
    };
    let clear_sign_in = cookie.set("", 0);
    match result {
        Ok(signed_in) => {
            if !store.finish_login_request(&sign_in.request_id, LoginOutcome::Authenticated { identity: signed_in.identity }, now).await? {
                return Err(HttpError::conflict(format!("This login has already ended or expired. {RESTART}")));
            }
            finished("ok").emit();
            let session = BrowserSession { provider_id: sign_in.provider_id.clone(), id_token: Some(signed_in.id_token), expires_at: now + SESSION_SECS };
            Ok(response::with_cookies(pages::signed_in(), vec![clear_sign_in, session_cookie(&config, session)?]))
        }
        Err(failure) => {
            finished(failure.code).detail(&failure.description).emit();
            let outcome = LoginOutcome::Failed { error: failure.code.to_owned(), error_description: failure.description.clone() };
            store.finish_login_request(&sign_in.request_id, outcome, now).await?;
            Err(sign_in_page_error(failure))
        }
    }
}

/// The sealed session cookie, without the ID token when it would make the cookie too large.
fn session_cookie(config: &Config, mut session: BrowserSession) -> Result<HeaderValue, HttpError> {
    let cookie = BrowserCookie::session(config);
    let mut sealed = seal_for_browser(&config.sealer, &cookie.name, &session)?;
    if sealed.len() > MAX_SESSION_COOKIE_BYTES {
        session.id_token = None;
        sealed = seal_for_browser(&config.sealer, &cookie.name, &session)?;
    }
    Ok(cookie.set(&sealed, SESSION_SECS))
}

/// `GET /oidc/logout`: forgets this browser's sign-in state, then signs out at the
/// provider (RP-initiated logout) when the browser signed in through one that offers
/// it, coming back to `/oidc/logged_out`.
pub async fn logout(headers: &HeaderMap) -> Result<Reply, HttpError> {
    let config = Config::load().await?;
    let now = unix_now();
    let session_cookie = BrowserCookie::session(&config);
    let session: Option<BrowserSession> = cookie(headers, &session_cookie.name).and_then(|value| open_from_browser(&config.sealer, &session_cookie.name, value, now));
    let mut forget = vec![session_cookie.set("", 0), BrowserCookie::confirmation(&config).set("", 0)];
    forget.extend(BrowserCookie::sign_ins_presented(&config, headers).iter().map(|pending| pending.set("", 0)));
    let provider = session.as_ref().and_then(|session| config.providers.get(&session.provider_id));
    let Some((session, IdentityProvider { id, protocol: Protocol::Oidc(oidc_config), .. })) = session.as_ref().zip(provider) else {
        log::info("logout").outcome("no_session").emit();
        return Ok(response::with_cookies(pages::signed_out(), forget));
    };
    let store = StateStore::new(SpinKeyValue::open().await?, config.sealer.clone());
    let come_back = format!("{}{LOGGED_OUT_PATH}", config.base_url);
    let end_session = oidc::logout_url(&store, oidc_config, &callback_url(&config), session.id_token.as_deref(), &come_back, now).await;
    match end_session {
        Ok(Some(url)) => {
            log::info("logout").provider(id).outcome("end_session").emit();
            Ok(response::redirect(&url, forget))
        }
        Ok(None) => {
            log::info("logout").provider(id).outcome("no_end_session_endpoint").emit();
            Ok(response::with_cookies(pages::signed_out(), forget))
        }
        Err(failure) => {
            // The broker's part is done; say so rather than fail the whole sign-out.
            log::warn("logout").provider(id).outcome(failure.code).detail(&failure.description).emit();
            Ok(response::with_cookies(pages::signed_out(), forget))
        }
    }
}

pub const LOGGED_OUT_PATH: &str = "/oidc/logged_out";

/// `GET /oidc/logged_out`: where the provider sends the browser back after signing out.
pub fn logged_out() -> Reply {
    pages::signed_out()
}

fn sign_in_page_error(failure: SignInError) -> HttpError {
    let status = match failure.code {
        "access_denied" => StatusCode::FORBIDDEN,
        "temporarily_unavailable" | "provider_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
        "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_GATEWAY,
    };
    HttpError::sign_in_failed(status, format!("Sign-in failed: {}. {RESTART}", failure.description))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header;

    fn cookies(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(value).unwrap());
        headers
    }

    fn config(base_url: &str) -> Config {
        let base_url = base_url.to_owned();
        Config::parse(move |name| {
            Some(match name {
                "svc_base_uri" => base_url.clone(),
                "login_timeout" => "60".into(),
                "cache_ttl" => "300".into(),
                "instance_id" => "none".into(),
                "state_key" => "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into(),
                "assume_client_authorized" | "oidc_select_account" | "prompt_for_authorization" | "user_code_required" => "false".into(),
                _ => String::new(),
            })
        })
        .unwrap()
    }

    #[test]
    fn the_browser_holding_the_secret_matches() {
        let (config, state) = (config("http://127.0.0.1:3000"), SlotId::new(7, 9).unwrap());
        let cookie = BrowserCookie::sign_in(&config, &state);
        assert_eq!(cookie.set("s", 60), "lb_signin_7_9=s; Max-Age=60; Path=/oidc/callback; HttpOnly; SameSite=Lax");
        let hash = digest("browser-secret");
        assert!(cookie.presented_by(&cookies("a=1; lb_signin_7_9=browser-secret; b=2"), &hash));
        assert!(!cookie.presented_by(&cookies("lb_signin_7_9=other-secret"), &hash));
        assert!(!cookie.presented_by(&cookies("lb_signin_7_10=browser-secret"), &hash), "another sign-in's cookie");
        assert!(!cookie.presented_by(&cookies("lb_signin_7_9="), &digest("")));
        assert!(!cookie.presented_by(&HeaderMap::new(), &hash));
    }

    #[test]
    fn logins_side_by_side_keep_their_own_cookies_and_logout_clears_them_all() {
        let config = config("http://127.0.0.1:3000");
        let (first, second) = (SlotId::new(7, 9).unwrap(), SlotId::new(7, 10).unwrap());
        assert_ne!(BrowserCookie::sign_in(&config, &first).name, BrowserCookie::sign_in(&config, &second).name);
        let presented = BrowserCookie::sign_ins_presented(&config, &cookies("lb_signin_7_9=a; lb_session=x; lb_signin_7_10=b"));
        let cleared: Vec<HeaderValue> = presented.iter().map(|cookie| cookie.set("", 0)).collect();
        assert_eq!(cleared, [
            "lb_signin_7_9=; Max-Age=0; Path=/oidc/callback; HttpOnly; SameSite=Lax",
            "lb_signin_7_10=; Max-Age=0; Path=/oidc/callback; HttpOnly; SameSite=Lax",
        ]);
    }

    #[test]
    fn over_https_the_cookie_is_secure_and_host_prefixed() {
        let config = config("https://login.example.com");
        let cookie = BrowserCookie::sign_in(&config, &SlotId::new(7, 9).unwrap());
        let set = cookie.set("s3cret", 60);
        assert_eq!(set, "__Host-lb_signin_7_9=s3cret; Max-Age=60; Path=/; HttpOnly; SameSite=Lax; Secure");
        assert!(cookie.presented_by(&cookies("__Host-lb_signin_7_9=s3cret"), &digest("s3cret")));
        assert!(!cookie.presented_by(&cookies("lb_signin_7_9=s3cret"), &digest("s3cret")), "the unprefixed name is not accepted");
        let presented = BrowserCookie::sign_ins_presented(&config, &cookies("lb_signin_7_9=a; __Host-lb_signin_7_10=b"));
        assert_eq!(presented.iter().map(|cookie| cookie.name.as_str()).collect::<Vec<_>>(), ["__Host-lb_signin_7_10"]);

        let session = BrowserSession { provider_id: crate::ids::ProviderId::parse("corp").unwrap(), id_token: Some("x".repeat(5000)), expires_at: u64::MAX };
        let set = session_cookie(&config, session).unwrap();
        let set = set.to_str().unwrap();
        assert!(set.starts_with("__Host-lb_session=") && set.ends_with("Path=/; HttpOnly; SameSite=Lax; Secure"), "{set}");
        let value = set.trim_start_matches("__Host-lb_session=").split(';').next().unwrap();
        assert!(value.len() < MAX_SESSION_COOKIE_BYTES, "an oversized ID token is left out");
        let opened: BrowserSession = open_from_browser(&config.sealer, "__Host-lb_session", value, 0).unwrap();
        assert_eq!((opened.provider_id.as_str(), opened.id_token), ("corp", None));
        assert!(open_from_browser::<BrowserSession>(&config.sealer, "lb_signin", value, 0).is_none(), "sealed to its cookie's name");
    }

}

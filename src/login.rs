//! The browser side of a login: `/oidc/login/:id` sends the browser to the provider,
//! `/oidc/callback` brings it back. Answers are pages, never JSON.

use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use spin_sdk::http::Request;
use subtle::ConstantTimeEq;

use crate::config::Config;
use crate::error::HttpError;
use crate::ids::{RequestId, SlotId, digest, random_token, user_code_matches};
use crate::oidc::{self, SignInError};
use crate::parse::{CallbackParams, cookie};
use crate::response::{self, Reply, escape_html};
use crate::store::{LoginOutcome, LoginRequest, SpinKeyValue, StateStore, unix_now};

const CALLBACK_PATH: &str = "/oidc/callback";

/// Wrong confirmation codes allowed per request before the login is stopped.
const MAX_WRONG_CODES: u64 = 5;

/// A host-only, `HttpOnly` cookie holding a secret of which the server keeps at most a
/// hash. Over https it takes the `__Host-` prefix, which browsers grant only to a cookie
/// that is `Secure`, host-only and for `Path=/`: no sibling domain can plant or shadow it.
struct BrowserCookie {
    name: &'static str,
    attributes: &'static str,
}

impl BrowserCookie {
    /// Binds a sign-in to the browser that started it. `SameSite=Lax`, so that it rides
    /// the provider's top-level redirect back to the callback.
    fn sign_in(config: &Config) -> Self {
        if config.base_url.starts_with("https://") {
            Self { name: "__Host-lb_signin", attributes: "Path=/; HttpOnly; SameSite=Lax; Secure" }
        } else {
            Self { name: "lb_signin", attributes: "Path=/oidc/callback; HttpOnly; SameSite=Lax" }
        }
    }

    /// The confirmation form's double-submit token. `SameSite=Strict`: a form posted
    /// from another site arrives without it.
    fn confirmation(config: &Config) -> Self {
        if config.base_url.starts_with("https://") {
            Self { name: "__Host-lb_confirm", attributes: "Path=/; HttpOnly; SameSite=Strict; Secure" }
        } else {
            Self { name: "lb_confirm", attributes: "Path=/oidc/login; HttpOnly; SameSite=Strict" }
        }
    }

    /// `Set-Cookie` for `secret`, or, with `max_age_secs` 0, clearing it.
    fn set(&self, secret: &str, max_age_secs: u64) -> HeaderValue {
        let cookie = format!("{}={secret}; Max-Age={max_age_secs}; {}", self.name, self.attributes);
        HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static("lb_signin=; Max-Age=0"))
    }

    /// Whether the browser presents the secret whose hash is `expected_hash`.
    fn presented_by(&self, headers: &HeaderMap, expected_hash: &str) -> bool {
        cookie(headers, self.name).is_some_and(|secret| !secret.is_empty() && bool::from(digest(secret).as_bytes().ct_eq(expected_hash.as_bytes())))
    }
}

const RESTART: &str = "Start the login again from your application.";

/// `GET /oidc/login/:requestId`: straight to the provider, or, with
/// `prompt_for_authorization`, to a page where the user confirms the login first.
pub async fn start(id_segment: &str) -> Result<Reply, HttpError> {
    let pending = PendingLogin::load(id_segment).await?;
    if pending.config.prompt_for_authorization {
        return confirmation_page(&pending, StatusCode::OK, None);
    }
    pending.send_to_provider().await
}

/// The only body the broker reads: a token and a short code.
const MAX_FORM_BYTES: usize = 2048;

/// `POST /oidc/login/:requestId`: the confirmation form.
pub async fn confirm(id_segment: &str, request: Request) -> Result<Reply, HttpError> {
    let (parts, body) = request.into_parts();
    let form = Limited::new(body, MAX_FORM_BYTES).collect().await.map_err(|_| HttpError::payload_too_large(MAX_FORM_BYTES))?.to_bytes();
    let (headers, form) = (&parts.headers, &form[..]);
    let pending = PendingLogin::load(id_segment).await?;
    if !pending.config.prompt_for_authorization {
        return Err(HttpError::method_not_allowed("GET"));
    }
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
            return Err(HttpError::sign_in_failed(StatusCode::FORBIDDEN, format!("This login was stopped: {stopped}. {RESTART}")));
        }
        let retry = format!("That is not the code. {} attempts left.", MAX_WRONG_CODES - wrong);
        return confirmation_page(&pending, StatusCode::BAD_REQUEST, Some(&retry));
    }
    pending.send_to_provider().await
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

    async fn send_to_provider(&self) -> Result<Reply, HttpError> {
        let (config, request, now) = (&self.config, &self.request, self.now);
        let Some(oidc_config) = &config.oidc else {
            return Ok(response::page(
                StatusCode::NOT_IMPLEMENTED,
                "Sign-in is not configured",
                "This login broker has no identity provider configured yet, so this login cannot continue. Ask the broker's operator.",
            ));
        };
        let redirect_uri = format!("{}{CALLBACK_PATH}", config.base_url);
        // The sign-in may last as long as the request does.
        let authorization = oidc::authorize(&self.store, oidc_config, &redirect_uri, &request.id, request.force_authn, now, request.expires_at)
            .await
            .map_err(sign_in_page_error)?;
        self.store.save_sign_in(&authorization.sign_in).await?;
        let cookie = BrowserCookie::sign_in(config).set(&authorization.browser_secret, request.expires_at.saturating_sub(now));
        Ok(response::redirect(&authorization.url, cookie))
    }
}

/// Names the user the login is for, and asks for the code (or a click) before any
/// provider is contacted. Works without JavaScript.
fn confirmation_page(pending: &PendingLogin, status: StatusCode, notice: Option<&str>) -> Result<Reply, HttpError> {
    let token = random_token().map_err(|_| HttpError::internal("the system has no randomness"))?;
    let code_field = if pending.config.user_code_required {
        "<p><label for=\"user_code\">Code shown by your application</label><br>\
         <input id=\"user_code\" name=\"user_code\" autocomplete=\"off\" autocapitalize=\"characters\" required \
         style=\"font-size:1.25rem;letter-spacing:.1em\"></p>"
    } else {
        ""
    };
    let notice = notice.map(|text| format!("<p role=\"alert\"><strong>{}</strong></p>", escape_html(text))).unwrap_or_default();
    let body = format!(
        "<p>An application asked to sign in <strong>{user}</strong>. Continue only if you started this login \
         yourself, from an application in front of you.</p>{notice}\
         <form method=\"post\" action=\"/oidc/login/{id}\"><input type=\"hidden\" name=\"confirmation\" value=\"{token}\">\
         {code_field}<p><button type=\"submit\">Continue to sign in</button></p></form>",
        user = escape_html(pending.request.user_id.as_str()),
        id = pending.request.id.as_str(),
    );
    let mut page = response::html_page(status, "Confirm this login", &body);
    let lifetime = pending.request.expires_at.saturating_sub(pending.now);
    page.headers_mut().append(header::SET_COOKIE, BrowserCookie::confirmation(&pending.config).set(&token, lifetime));
    Ok(page)
}

/// `GET /oidc/callback?code=…&state=…[&iss=…]`
pub async fn callback(query: &str, headers: &HeaderMap) -> Result<Reply, HttpError> {
    let params = CallbackParams::parse(query).ok_or_else(|| HttpError::invalid_request(format!("This sign-in answer is incomplete. {RESTART}")))?;
    let config = Config::load().await?;
    let oidc_config = config.oidc.as_ref().ok_or_else(|| HttpError::not_found("Sign-in is not configured on this broker."))?;
    let store = StateStore::new(SpinKeyValue::open().await?, config.sealer.clone());
    let now = unix_now();

    let used_or_expired = || HttpError::invalid_request(format!("This sign-in has expired or was already used. {RESTART}"));
    let state = SlotId::parse(&params.state).ok_or_else(used_or_expired)?;
    let sign_in = store.load_sign_in(&state, now).await?.ok_or_else(used_or_expired)?;
    // Checked before consuming, so a forged callback cannot spend the real user's state.
    let cookie = BrowserCookie::sign_in(&config);
    if !cookie.presented_by(headers, &sign_in.browser_binding_hash) {
        return Err(HttpError::invalid_request(format!("This sign-in was started in another browser, or its cookie was lost. {RESTART}")));
    }
    if !store.consume_sign_in(&state).await? {
        return Err(used_or_expired());
    }

    let redirect_uri = format!("{}{CALLBACK_PATH}", config.base_url);
    let result = match (&params.error, &params.code) {
        (Some(error), _) => Err(SignInError::from_provider(error, params.error_description.as_deref())),
        (None, Some(code)) => match &params.iss {
            // RFC 9207: a mix-up attack shows as an answer from another issuer.
            Some(iss) if iss.trim_end_matches('/') != oidc_config.issuer.as_str() => {
                Err(SignInError { code: "invalid_issuer", description: "the sign-in answer came from another issuer".into() })
            }
            _ => oidc::complete(&store, oidc_config, &redirect_uri, &sign_in, code, now).await,
        },
        (None, None) => Err(SignInError { code: "invalid_request", description: "the sign-in answer has no code".into() }),
    };

    let clear_cookie = cookie.set("", 0);
    match result {
        Ok(identity) => {
            if !store.finish_login_request(&sign_in.request_id, LoginOutcome::Authenticated { identity }, now).await? {
                return Err(HttpError::conflict(format!("This login has already ended or expired. {RESTART}")));
            }
            let mut page = response::page(StatusCode::OK, "You are signed in", "You can close this window and return to your application.");
            page.headers_mut().append(header::SET_COOKIE, clear_cookie);
            Ok(page)
        }
        Err(failure) => {
            eprintln!("{}", serde_json::json!({"event": "sign_in_failed", "error": failure.code, "detail": failure.description}));
            let outcome = LoginOutcome::Failed { error: failure.code.to_owned(), error_description: failure.description.clone() };
            store.finish_login_request(&sign_in.request_id, outcome, now).await?;
            Err(sign_in_page_error(failure))
        }
    }
}

fn sign_in_page_error(failure: SignInError) -> HttpError {
    let status = match failure.code {
        "access_denied" => StatusCode::FORBIDDEN,
        "temporarily_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
        "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_GATEWAY,
    };
    HttpError::sign_in_failed(status, format!("Sign-in failed: {}. {RESTART}", failure.description))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookies(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(value).unwrap());
        headers
    }

    const PLAIN: BrowserCookie = BrowserCookie { name: "lb_signin", attributes: "Path=/oidc/callback" };

    #[test]
    fn the_browser_holding_the_secret_matches() {
        let hash = digest("browser-secret");
        assert!(PLAIN.presented_by(&cookies("a=1; lb_signin=browser-secret; b=2"), &hash));
        assert!(!PLAIN.presented_by(&cookies("lb_signin=other-secret"), &hash));
        assert!(!PLAIN.presented_by(&cookies("lb_signin="), &digest("")));
        assert!(!PLAIN.presented_by(&HeaderMap::new(), &hash));
    }

    #[test]
    fn over_https_the_cookie_is_secure_and_host_prefixed() {
        let config = Config::parse(|name| {
            Some(match name {
                "svc_base_uri" => "https://login.example.com".into(),
                "login_timeout" => "60".into(),
                "cache_ttl" => "300".into(),
                "instance_id" => "none".into(),
                "state_key" => "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into(),
                "assume_client_authorized" | "oidc_select_account" | "prompt_for_authorization" | "user_code_required" => "false".into(),
                _ => String::new(),
            })
        })
        .unwrap();
        let cookie = BrowserCookie::sign_in(&config);
        let set = cookie.set("s3cret", 60);
        assert_eq!(set, "__Host-lb_signin=s3cret; Max-Age=60; Path=/; HttpOnly; SameSite=Lax; Secure");
        assert!(cookie.presented_by(&cookies("__Host-lb_signin=s3cret"), &digest("s3cret")));
        assert!(!cookie.presented_by(&cookies("lb_signin=s3cret"), &digest("s3cret")), "the unprefixed name is not accepted");
    }

}

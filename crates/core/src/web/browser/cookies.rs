//! The cookies the broker sets, and the one record a browser carries. Each is
//! host-only and `HttpOnly`; over https each takes the `__Host-` prefix.

use http::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::base::ids::{ProviderId, SignInState, digest};
use crate::base::parse::{cookie, cookies};
use crate::base::secret::Secret;
use crate::protocol::registry::{LOGOUT_PATH, OIDC_ROUTES, Routes};
use crate::settings::Config;
use crate::state::{Record, SealedText, UnixTime, seal_record};
use crate::web::error::HttpError;

/// A host-only, `HttpOnly` cookie holding a secret of which the server keeps at most a
/// hash (or a sealed record). Over https it takes the `__Host-` prefix, which browsers
/// grant only to a cookie that is `Secure`, host-only and for `Path=/`: no sibling
/// domain can plant or shadow it.
pub struct BrowserCookie {
    pub name: String,
    /// The path over plain http, where the cookie can be narrower.
    path: &'static str,
    same_site: &'static str,
    secure: bool,
}

/// Every sign-in cookie's name starts so; the sign-in's `state` completes it.
const SIGN_IN_COOKIE: &str = "lb_signin_";

impl BrowserCookie {
    fn new(config: &Config, name: &str, path: &'static str, same_site: &'static str) -> Self {
        if config.essentials.base_url.starts_with("https://") {
            Self { name: format!("__Host-{name}"), path: "/", same_site, secure: true }
        } else {
            Self { name: name.to_owned(), path, same_site, secure: false }
        }
    }

    /// Holds a sign-in, sealed, in the browser that started it, for the route where
    /// the provider's answer arrives (`routes.answer`). Named after the sign-in's `state`,
    /// so that logins started side by side in one browser (two applications, two tabs)
    /// each keep their own. `SameSite=Lax`, so that it rides the provider's top-level
    /// redirect back; an answer another site's page posts (SAML) carries only
    /// `SameSite=None` cookies, which browsers take only when `Secure`: over https the
    /// cookie is that, and over plain http such an answer must come from the same site.
    pub fn sign_in(config: &Config, state: &SignInState, routes: Routes) -> Self {
        let mut cookie = Self::new(config, &format!("{SIGN_IN_COOKIE}{}", state.as_str()), routes.answer, "Lax");
        if routes.answer_is_cross_site_post && cookie.secure {
            cookie.same_site = "None";
        }
        cookie
    }

    /// The sign-in cookies this browser presents, to clear them.
    pub fn sign_ins_presented(config: &Config, headers: &HeaderMap) -> Vec<Self> {
        let prefix = Self::new(config, SIGN_IN_COOKIE, OIDC_ROUTES.answer, "Lax");
        cookies(headers)
            .filter(|(name, _)| name.starts_with(&prefix.name))
            .map(|(name, _)| Self { name: name.to_owned(), ..Self::new(config, SIGN_IN_COOKIE, prefix.path, prefix.same_site) })
            .collect()
    }

    /// The confirmation form's double-submit token, for the protocol's login route.
    /// `SameSite=Strict`: a form posted from another site arrives without it.
    pub fn confirmation(config: &Config, login_path: &'static str) -> Self {
        Self::new(config, "lb_confirm", login_path, "Strict")
    }

    /// Lets a signed-in browser sign out later: a sealed record of its provider and ID
    /// token, in the cookie itself, sent to `/oidc/logout` only (over plain http).
    pub fn session(config: &Config) -> Self {
        Self::new(config, "lb_session", LOGOUT_PATH, "Lax")
    }

    /// `Set-Cookie` for `secret`, or, with `max_age_secs` 0, clearing it.
    pub fn set(&self, secret: &str, max_age_secs: u64) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let cookie =
            format!("{}={secret}; Max-Age={max_age_secs}; Path={}; HttpOnly; SameSite={}{secure}", self.name, self.path, self.same_site);
        // Names and values are ours (base64url), so this cannot fail; clear rather than panic.
        HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static("lb_invalid=; Max-Age=0"))
    }

    /// The value this browser presents, if any.
    pub fn presented<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        cookie(headers, &self.name).filter(|value| !value.is_empty())
    }

    /// Whether the browser presents the secret whose hash is `expected_hash`.
    pub fn presented_by(&self, headers: &HeaderMap, expected_hash: &str) -> bool {
        cookie(headers, &self.name)
            .is_some_and(|secret| !secret.is_empty() && bool::from(digest(secret).as_bytes().ct_eq(expected_hash.as_bytes())))
    }
}

/// How long a browser can still sign out through the broker after signing in.
pub const SESSION_SECS: u64 = 12 * 3600;

/// Browsers drop cookies over 4096 bytes: beyond this, the session keeps no ID token
/// (the provider then asks the user which session to end).
const MAX_SESSION_COOKIE_BYTES: usize = 3800;

/// What a browser keeps after signing in, sealed into its own cookie (no store round
/// trip): which provider to sign out of, and the hint that provider wants.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BrowserSession {
    pub provider_id: ProviderId,
    pub logout_hint: Option<Secret>,
    pub expires_at: UnixTime,
}

impl Record for BrowserSession {
    const KIND: &'static str = "browser_session";
    fn expires_at(&self) -> UnixTime {
        self.expires_at
    }
}

/// The sealed session cookie (the cookie's name is the associated data, so a value
/// moved to another cookie does not open), without the hint when it would make the
/// cookie too large.
pub fn session_cookie(config: &Config, mut session: BrowserSession) -> Result<HeaderValue, HttpError> {
    let cookie = BrowserCookie::session(config);
    let mut sealed = seal_record(&config.essentials.sealer, &cookie.name, &session)?;
    if sealed.len() > MAX_SESSION_COOKIE_BYTES {
        session.logout_hint = None;
        sealed = seal_record(&config.essentials.sealer, &cookie.name, &session)?;
    }
    Ok(cookie.set(&sealed, SESSION_SECS))
}

/// The session this browser presents, if it opens and has not expired.
pub fn presented_session(config: &Config, headers: &HeaderMap, now: UnixTime) -> Option<BrowserSession> {
    let name = BrowserCookie::session(config).name;
    SealedText::parse(cookie(headers, &name)?)?.open(&config.essentials.sealer, &name, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::registry::SAML_ROUTES;
    use http::header;

    fn cookies(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(value).unwrap());
        headers
    }

    fn config(base_url: &str) -> Config {
        Config::for_tests(&[("svc_base_uri", base_url)])
    }

    fn state(fill: char) -> SignInState {
        SignInState::parse(&fill.to_string().repeat(43)).unwrap()
    }

    #[test]
    fn the_browser_holding_the_secret_matches() {
        let config = config("http://127.0.0.1:3000");
        let cookie = BrowserCookie::confirmation(&config, OIDC_ROUTES.login);
        assert_eq!(cookie.set("s", 60), "lb_confirm=s; Max-Age=60; Path=/oidc/login; HttpOnly; SameSite=Strict");
        let hash = digest("browser-secret");
        assert!(cookie.presented_by(&cookies("a=1; lb_confirm=browser-secret; b=2"), &hash));
        assert!(!cookie.presented_by(&cookies("lb_confirm=other-secret"), &hash));
        assert!(!cookie.presented_by(&cookies("lb_confirmx=browser-secret"), &hash), "another cookie");
        assert!(!cookie.presented_by(&cookies("lb_confirm="), &digest("")));
        assert!(!cookie.presented_by(&HeaderMap::new(), &hash));
    }

    #[test]
    fn logins_side_by_side_keep_their_own_cookies_and_logout_clears_them_all() {
        let config = config("http://127.0.0.1:3000");
        let sign_in = |fill| BrowserCookie::sign_in(&config, &state(fill), OIDC_ROUTES);
        let (first, second) = (sign_in('A'), sign_in('Q'));
        assert_ne!(first.name, second.name);
        let (a, b) = ("A".repeat(43), "Q".repeat(43));
        let presented = cookies(&format!("lb_signin_{a}=one; lb_session=x; lb_signin_{b}=two"));
        assert_eq!((first.presented(&presented), second.presented(&presented)), (Some("one"), Some("two")));
        let cleared: Vec<HeaderValue> =
            BrowserCookie::sign_ins_presented(&config, &presented).iter().map(|cookie| cookie.set("", 0)).collect();
        assert_eq!(
            cleared,
            [
                format!("lb_signin_{a}=; Max-Age=0; Path=/oidc/callback; HttpOnly; SameSite=Lax"),
                format!("lb_signin_{b}=; Max-Age=0; Path=/oidc/callback; HttpOnly; SameSite=Lax"),
            ]
        );
    }

    #[test]
    fn over_plain_http_a_cookie_for_a_posted_answer_stays_lax_as_browsers_demand() {
        let config = config("http://127.0.0.1:3000");
        let a = "A".repeat(43);
        let posted = BrowserCookie::sign_in(&config, &state('A'), SAML_ROUTES).set("s", 60);
        assert_eq!(posted, format!("lb_signin_{a}=s; Max-Age=60; Path=/saml/sso; HttpOnly; SameSite=Lax"));
    }

    #[test]
    fn over_https_the_cookie_is_secure_and_host_prefixed() {
        let config = config("https://login.example.com");
        let a = "A".repeat(43);
        let cookie = BrowserCookie::sign_in(&config, &state('A'), OIDC_ROUTES);
        let set = cookie.set("s3cret", 60);
        assert_eq!(set, format!("__Host-lb_signin_{a}=s3cret; Max-Age=60; Path=/; HttpOnly; SameSite=Lax; Secure"));
        let posted = BrowserCookie::sign_in(&config, &state('A'), SAML_ROUTES).set("s3cret", 60);
        assert_eq!(
            posted,
            format!("__Host-lb_signin_{a}=s3cret; Max-Age=60; Path=/; HttpOnly; SameSite=None; Secure"),
            "rides a cross-site POST"
        );
        assert_eq!(cookie.presented(&cookies(&format!("__Host-lb_signin_{a}=s3cret"))), Some("s3cret"));
        assert_eq!(cookie.presented(&cookies(&format!("lb_signin_{a}=s3cret"))), None, "the unprefixed name is not accepted");
        let presented = BrowserCookie::sign_ins_presented(&config, &cookies(&format!("lb_signin_{a}=x; __Host-lb_signin_b=y")));
        assert_eq!(presented.iter().map(|cookie| cookie.name.as_str()).collect::<Vec<_>>(), ["__Host-lb_signin_b"]);

        let session = BrowserSession {
            provider_id: ProviderId::parse("corp").unwrap(),
            logout_hint: Some(Secret::new("x".repeat(5000))),
            expires_at: u64::MAX,
        };
        let set = session_cookie(&config, session).unwrap();
        let set = set.to_str().unwrap();
        assert!(set.starts_with("__Host-lb_session=") && set.ends_with("Path=/; HttpOnly; SameSite=Lax; Secure"), "{set}");
        let value = set.trim_start_matches("__Host-lb_session=").split(';').next().unwrap();
        assert!(value.len() < MAX_SESSION_COOKIE_BYTES, "an oversized ID token is left out");
        let presented = cookies(&format!("__Host-lb_session={value}"));
        let opened = presented_session(&config, &presented, 0).unwrap();
        assert_eq!((opened.provider_id.as_str(), opened.logout_hint), ("corp", None));
        let sealed = SealedText::parse(value).unwrap();
        assert!(sealed.open::<BrowserSession>(&config.essentials.sealer, "lb_signin", 0).is_none(), "sealed to its cookie's name");
        assert!(presented_session(&config, &presented, u64::MAX).is_none(), "not after it expires");
        assert!(presented_session(&config, &cookies("__Host-lb_session=garbage!"), 0).is_none());
    }
}

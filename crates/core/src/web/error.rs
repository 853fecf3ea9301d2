//! Every way a request or a login can fail, and how each is shown, in one place: a JSON
//! body `{"error", "error_description"}` on API routes, a readable page on browser
//! routes, and the status code for both.
//!
//! [`SignInFailure`] (in `failure.rs`) is why a sign-in failed; [`HttpError`] is what
//! a handler answers. Nothing logs on the way: what the operator must see rides along
//! in the error, and is written when it becomes the request's answer (`json`, `page`,
//! called at the request boundary in `lib.rs`).

use http::{HeaderName, HeaderValue, StatusCode, header};
use serde::Serialize;

use crate::base::failure::{SignInFailure, SignInFailureKind};
use crate::base::log;
use crate::login::LoginError;
use crate::login::client_auth::{CertificateRefusal, Refusal};
use crate::settings::ConfigErrors;
use crate::state::{BUCKET_SECS, StoreError};
use crate::validate::ValidationError;
use crate::web::response::{self, Reply};

impl From<StoreError> for SignInFailure {
    fn from(_: StoreError) -> Self {
        Self::new(SignInFailureKind::TemporarilyUnavailable, "the state store is not answering; try again shortly")
    }
}

/// The browser's page for a failed sign-in: whose fault it was.
fn page_status(kind: SignInFailureKind) -> StatusCode {
    match kind {
        SignInFailureKind::AccessDenied => StatusCode::FORBIDDEN,
        // A SAML answer arrives as the browser's own request: a refused one is a bad request.
        SignInFailureKind::InvalidRequest | SignInFailureKind::InvalidAssertion => StatusCode::BAD_REQUEST,
        SignInFailureKind::TemporarilyUnavailable | SignInFailureKind::ProviderUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        SignInFailureKind::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        SignInFailureKind::InvalidIssuer
        | SignInFailureKind::InvalidIdToken
        | SignInFailureKind::IssuerMismatch
        | SignInFailureKind::TokenError
        | SignInFailureKind::UserinfoError => StatusCode::BAD_GATEWAY,
    }
}

/// What a handler answers when it cannot do what was asked.
#[derive(Debug)]
pub struct HttpError {
    status: StatusCode,
    /// A stable, machine-readable code in the OAuth 2.0 style (`invalid_request`, …).
    code: &'static str,
    /// For people; never holds a secret.
    description: String,
    /// The page's heading, when the status alone does not say it.
    title: Option<&'static str>,
    /// Boxed: few errors carry a header, and every `Result` pays for the space.
    header: Option<Box<(HeaderName, HeaderValue)>>,
    /// For the operator's log only (it may name hosts the caller need not know),
    /// written when the error becomes the request's answer.
    log: Option<log::Event>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

/// Where a failed sign-in leaves the person: back at their application.
pub const RESTART: &str = "Start the login again from your application.";

impl HttpError {
    fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        Self { status, code, description: description.into(), title: None, header: None, log: None }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub fn not_found(description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", description)
    }

    pub fn forbidden(description: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", description)
    }

    pub fn conflict(description: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", description)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            format!("the request body is larger than {limit} bytes or could not be read"),
        )
    }

    pub fn uri_too_long(limit: usize) -> Self {
        Self::new(StatusCode::URI_TOO_LONG, "invalid_request", format!("the request URI is longer than {limit} bytes"))
    }

    pub fn method_not_allowed(allow: &'static str) -> Self {
        let mut error = Self::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", format!("this route answers {allow} only"));
        error.header = Some(Box::new((header::ALLOW, HeaderValue::from_static(allow))));
        error
    }

    /// RFC 6750: a missing token gets a bare challenge, a wrong one says `invalid_token`.
    pub fn unauthorized(token_was_sent: bool, description: impl Into<String>) -> Self {
        let (code, challenge) = if token_was_sent {
            ("invalid_token", "Bearer realm=\"login-broker\", error=\"invalid_token\"")
        } else {
            ("unauthorized_client", "Bearer realm=\"login-broker\"")
        };
        let mut error = Self::new(StatusCode::UNAUTHORIZED, code, description);
        error.header = Some(Box::new((header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge))));
        error
    }

    /// The client's view of a failed login: 403 and the failure's code.
    pub fn login_failed(kind: SignInFailureKind, description: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, kind.code(), description)
    }

    /// The browser's view of a failed sign-in: a page saying what happened and what to do.
    pub fn sign_in_failed(failure: &SignInFailure) -> Self {
        let mut error =
            Self::new(page_status(failure.kind), failure.kind.code(), format!("Sign-in failed: {}. {RESTART}", failure.description));
        error.title = Some("Sign-in failed");
        error
    }

    /// A client's view of an answer it brought that was refused (`/saml/validate`): the
    /// failure's code, with the status the browser's page would have.
    pub fn answer_refused(failure: &SignInFailure) -> Self {
        Self::new(page_status(failure.kind), failure.kind.code(), failure.description.clone())
    }

    /// The browser's view of a login the broker itself ended (too many wrong codes).
    pub fn login_stopped(reason: &str) -> Self {
        let mut error = Self::new(
            StatusCode::FORBIDDEN,
            SignInFailureKind::AccessDenied.code(),
            format!("This login was stopped: {reason}. {RESTART}"),
        );
        error.title = Some("Sign-in failed");
        error
    }

    pub fn login_timeout(seconds: u64) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "login_timeout",
            format!("the login did not finish within {seconds} seconds; poll again or start a new request"),
        )
    }

    pub fn not_configured() -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            "not_configured",
            "This login broker has no identity provider configured yet, so this login cannot continue. Ask the broker's operator.",
        )
    }

    /// `/oauth/validate` without `oauth_jwks_uri` or `oauth_signing_key`.
    pub fn validation_not_configured() -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            "not_configured",
            "token validation is not configured on this broker (oauth_jwks_uri or oauth_signing_key)",
        )
    }

    /// A presented token that failed `check` (RFC 6750's `invalid_token`): the answer
    /// names the check, never the token.
    pub fn token_refused(check: &'static str, detail: &str) -> Self {
        let mut answer = Self::unauthorized(true, format!("the token failed the `{check}` check: {detail}"));
        answer.log = Some(log::warn("token_refused").outcome(check).detail(detail));
        answer
    }

    /// The provider's key set could not be read: its trouble, not the caller's.
    pub fn keys_unavailable(detail: &str) -> Self {
        let mut answer = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the provider's signing keys could not be read; try again shortly",
        );
        answer.log = Some(log::warn("jwks_unavailable").detail(detail));
        answer
    }

    pub fn no_randomness() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "the system has no randomness to offer")
    }

    /// The same error as 503, for `/readiness`: whatever the problem, it means "not ready".
    pub fn unavailable(mut self) -> Self {
        self.status = StatusCode::SERVICE_UNAVAILABLE;
        self
    }

    #[cfg(test)]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The answer on an API route (and the operator's log line, if any).
    pub fn json(mut self) -> Reply {
        self.emit_log();
        let body = ErrorBody { error: self.code, error_description: &self.description };
        let reply = response::json(self.status, &body);
        self.with_header(reply)
    }

    /// The answer on a browser route (and the operator's log line, if any).
    pub fn page(mut self) -> Reply {
        self.emit_log();
        let title = self.title.unwrap_or(match self.status.as_u16() {
            400 | 413 | 414 => "This link cannot be used",
            403 => "Sign-in refused",
            404 => "Not found",
            405 => "Not available here",
            409 => "This login has already ended",
            501 => "Sign-in is not configured",
            502..=504 => "Sign-in is unavailable",
            _ => "Something went wrong",
        });
        let reply = response::page(self.status, title, &self.description);
        self.with_header(reply)
    }

    fn emit_log(&mut self) {
        if let Some(event) = self.log.take() {
            event.emit();
        }
    }

    fn with_header(&self, mut reply: Reply) -> Reply {
        if let Some(header) = &self.header {
            let (name, value) = header.as_ref();
            reply.headers_mut().insert(name.clone(), value.clone());
        }
        reply
    }
}

impl From<StoreError> for HttpError {
    fn from(error: StoreError) -> Self {
        let (mut answer, event) = match &error {
            StoreError::Unavailable(_) => (
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "the state store is not answering; try again shortly",
                ),
                log::error("store_error"),
            ),
            StoreError::Corrupt { .. } => (
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "a stored record could not be read"),
                log::error("store_error"),
            ),
            // The bound doing its job (a flood, or a deployment sized too small): a warning.
            StoreError::Full { limit } => {
                let mut busy = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    format!("the broker is finishing as many logins as it may at once ({limit} per {BUCKET_SECS} s); try again shortly"),
                );
                busy.header = Some(Box::new((header::RETRY_AFTER, HeaderValue::from(BUCKET_SECS))));
                (busy, log::warn("store_full"))
            }
        };
        answer.log = Some(event.detail(&error.to_string()));
        answer
    }
}

/// HAS's answers: a certificate that cannot be read is 400, one not permitted 403, and
/// no credentials (or a certificate that did not come from the proxy) 401.
impl From<Refusal> for HttpError {
    fn from(refusal: Refusal) -> Self {
        let mut answer = match refusal.certificate {
            Some(CertificateRefusal::Unreadable(_)) => Self::invalid_request("the forwarded client certificate cannot be read"),
            Some(CertificateRefusal::NotPermitted(_)) => Self::forbidden("this client certificate is not permitted"),
            _ => Self::unauthorized(refusal.token_was_sent, "the client is not authorized for this route"),
        };
        let certificate = refusal.certificate.map(CertificateRefusal::reason);
        answer.log = Some(log::warn("client_refused").detail(refusal.reason).field("certificate", certificate));
        answer
    }
}

/// The operator's mistake, not the caller's: 500, naming every variable to fix (never
/// a value, some are secrets), on the answer and in the log.
impl From<ConfigErrors> for HttpError {
    fn from(errors: ConfigErrors) -> Self {
        let mut answer =
            Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_misconfigured", format!("This login broker is misconfigured. {errors}"));
        let variables: Vec<&str> = errors.0.iter().map(|error| error.variable).collect();
        answer.log = Some(log::error("config_invalid").field("variables", variables).detail(&errors.to_string()));
        answer
    }
}

impl From<LoginError> for HttpError {
    fn from(error: LoginError) -> Self {
        match error {
            LoginError::UnknownLink => HttpError::not_found(format!("This login link is unknown or has expired. {RESTART}")),
            LoginError::MalformedLink => HttpError::invalid_request(format!("This login link is malformed. {RESTART}")),
            LoginError::NoProvider => HttpError::not_configured(),
            LoginError::ProviderSettled(id) => {
                HttpError::invalid_request(format!("This login is for provider `{}`. {RESTART}", id.as_str()))
            }
            LoginError::NoSuchProvider(id) => {
                HttpError::not_found(format!("There is no identity provider `{}` here. {RESTART}", id.as_str()))
            }
            LoginError::ProviderGone => {
                HttpError::not_found(format!("The identity provider of this sign-in is no longer configured. {RESTART}"))
            }
            LoginError::SignInLost => HttpError::invalid_request(format!(
                "This sign-in was started in another browser, has expired, or its cookie was lost. {RESTART}"
            )),
            LoginError::Ended => {
                HttpError::conflict(format!("This login has already ended: this sign-in was used, or another one finished it. {RESTART}"))
            }
            LoginError::SignInFailed(failure) => HttpError::sign_in_failed(&failure),
            LoginError::NoRandomness => HttpError::no_randomness(),
            LoginError::Store(error) => error.into(),
        }
    }
}

impl From<ValidationError> for HttpError {
    fn from(error: ValidationError) -> Self {
        match error {
            ValidationError::NotConfigured => HttpError::validation_not_configured(),
            ValidationError::NoToken => HttpError::unauthorized(false, "present the token as `Authorization: Bearer <JWT>`"),
            ValidationError::Refused { check, detail } => HttpError::token_refused(check, &detail),
            ValidationError::KeysUnavailable(detail) => HttpError::keys_unavailable(&detail),
            ValidationError::Store(error) => error.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_errors_are_described_without_control_characters() {
        let failure = SignInFailure::from_provider("access_denied\n", Some("user\r\ncancelled"));
        assert_eq!(failure.kind, SignInFailureKind::AccessDenied);
        assert!(failure.description.contains("access_denied: usercancelled"), "{}", failure.description);
    }

    #[test]
    fn failure_codes_are_stored_as_their_codes() {
        for kind in [SignInFailureKind::AccessDenied, SignInFailureKind::IssuerMismatch, SignInFailureKind::TemporarilyUnavailable] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.code());
        }
    }

    #[test]
    fn a_store_outage_is_503_on_every_route() {
        let answer = HttpError::from(StoreError::Unavailable("redis: connection refused".into()));
        assert_eq!((answer.status(), answer.code), (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"));
        assert!(!answer.description.contains("redis"), "the detail is for the log only");
        let page = HttpError::sign_in_failed(&SignInFailure::from(StoreError::Unavailable(String::new())));
        assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}

//! The one error type handlers return, and how it is shown: a JSON body
//! `{"error", "error_description"}` on API routes, a readable page on browser routes.

use http::{HeaderName, HeaderValue, StatusCode, header};
use serde::Serialize;

use crate::config::ConfigErrors;
use crate::log;
use crate::response::{self, Reply};
use crate::store::StoreError;

#[derive(Debug)]
pub struct HttpError {
    status: StatusCode,
    /// A stable, machine-readable code in the OAuth 2.0 style (`invalid_request`, …).
    code: &'static str,
    /// For people; never holds a secret.
    description: String,
    header: Option<(HeaderName, HeaderValue)>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

impl HttpError {
    fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        Self { status, code, description: description.into(), header: None }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub fn not_found(description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", description)
    }

    pub fn conflict(description: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", description)
    }

    /// A sign-in that failed at or with the provider; `status` tells whose fault it was.
    pub fn sign_in_failed(status: StatusCode, description: impl Into<String>) -> Self {
        Self::new(status, "sign_in_failed", description)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "invalid_request", format!("the request body is larger than {limit} bytes or could not be read"))
    }

    pub fn uri_too_long(limit: usize) -> Self {
        Self::new(StatusCode::URI_TOO_LONG, "invalid_request", format!("the request URI is longer than {limit} bytes"))
    }

    pub fn method_not_allowed(allow: &'static str) -> Self {
        let mut error = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("this route answers {allow} only"),
        );
        error.header = Some((header::ALLOW, HeaderValue::from_static(allow)));
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
        error.header = Some((header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge)));
        error
    }

    /// The user's sign-in failed; `code` and `description` come from the stored outcome.
    pub fn login_failed(code: &str, description: &str) -> Self {
        let code = match code {
            "access_denied" => "access_denied",
            "invalid_id_token" => "invalid_id_token",
            "invalid_issuer" => "invalid_issuer",
            "temporarily_unavailable" => "temporarily_unavailable",
            _ => "login_failed",
        };
        Self::new(StatusCode::FORBIDDEN, code, description)
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

    pub fn internal(description: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", description)
    }

    /// The same error as 503, for `/readiness`: whatever the problem, it means "not ready".
    pub fn unavailable(mut self) -> Self {
        self.status = StatusCode::SERVICE_UNAVAILABLE;
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn json(self) -> Reply {
        let body = ErrorBody { error: self.code, error_description: &self.description };
        let reply = response::json(self.status, &body);
        self.with_header(reply)
    }

    pub fn page(self) -> Reply {
        let title = match self.status.as_u16() {
            _ if self.code == "sign_in_failed" => "Sign-in failed",
            400 | 413 | 414 => "This link cannot be used",
            403 => "Sign-in refused",
            404 => "Not found",
            405 => "Not available here",
            409 => "This login has already ended",
            501 => "Sign-in is not configured",
            502..=504 => "Sign-in is unavailable",
            _ => "Something went wrong",
        };
        let reply = response::page(self.status, title, &self.description);
        self.with_header(reply)
    }

    fn with_header(self, mut reply: Reply) -> Reply {
        if let Some((name, value)) = self.header {
            reply.headers_mut().insert(name, value);
        }
        reply
    }
}

impl From<HttpError> for Reply {
    fn from(error: HttpError) -> Self {
        error.json()
    }
}

impl From<StoreError> for HttpError {
    fn from(error: StoreError) -> Self {
        // The detail goes to the operator's log only: it may name hosts the caller need not know.
        log::error("store_error").detail(&error.to_string()).emit();
        match error {
            StoreError::Unavailable(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the state store is not answering; try again shortly",
            ),
            StoreError::Corrupt { .. } => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "a stored record could not be read",
            ),
        }
    }
}

/// The operator's mistake, not the caller's: 500, naming every variable to fix (never
/// a value, some are secrets), on the answer and in the log.
impl From<ConfigErrors> for HttpError {
    fn from(errors: ConfigErrors) -> Self {
        let variables: Vec<&str> = errors.0.iter().map(|error| error.variable).collect();
        log::error("config_invalid").field("variables", variables).detail(&errors.to_string()).emit();
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_misconfigured", format!("This login broker is misconfigured. {errors}"))
    }
}

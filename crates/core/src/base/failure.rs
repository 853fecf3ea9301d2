//! Why a sign-in failed: one list for the whole flow, whatever the protocol. Stored in
//! the login's outcome, so the client learns it too; `error.rs` decides how each is
//! shown (status code, JSON error, page).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a sign-in failed. Stable codes: stored in the login's outcome and told to the
/// client as its `error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInFailureKind {
    /// The provider or the person refused (or too many wrong confirmation codes).
    AccessDenied,
    /// The provider's answer names another issuer (RFC 9207: a mix-up attack).
    InvalidIssuer,
    /// The ID token failed validation.
    InvalidIdToken,
    /// The SAML Response or its assertion failed validation.
    InvalidAssertion,
    /// The provider's discovery names another issuer than the one configured.
    IssuerMismatch,
    /// The provider could not be reached or read.
    ProviderUnavailable,
    /// The provider would not exchange the authorization code.
    TokenError,
    /// The provider's userinfo failed.
    UserinfoError,
    /// The provider's answer is incomplete.
    InvalidRequest,
    /// The state store did not answer.
    TemporarilyUnavailable,
    /// Something on the broker's side (no randomness, a bad callback URL).
    ServerError,
}

impl SignInFailureKind {
    pub fn code(self) -> &'static str {
        match self {
            Self::AccessDenied => "access_denied",
            Self::InvalidIssuer => "invalid_issuer",
            Self::InvalidIdToken => "invalid_id_token",
            Self::InvalidAssertion => "invalid_assertion",
            Self::IssuerMismatch => "issuer_mismatch",
            Self::ProviderUnavailable => "provider_unavailable",
            Self::TokenError => "token_error",
            Self::UserinfoError => "userinfo_error",
            Self::InvalidRequest => "invalid_request",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::ServerError => "server_error",
        }
    }
}

/// A sign-in that failed: its kind and a description for people, never a secret.
#[derive(Debug, Clone, PartialEq)]
pub struct SignInFailure {
    pub kind: SignInFailureKind,
    pub description: String,
}

impl SignInFailure {
    pub fn new(kind: SignInFailureKind, description: impl Into<String>) -> Self {
        Self { kind, description: description.into() }
    }

    /// The provider answered with an error (RFC 6749 §4.1.2.1): its words, bounded and
    /// without control characters.
    pub fn from_provider(error: &str, description: Option<&str>) -> Self {
        let error: String = error.chars().filter(|c| c.is_ascii_graphic()).take(64).collect();
        let detail = description.map(|d| d.chars().filter(|c| !c.is_control()).take(200).collect::<String>());
        let detail = detail.map(|d| format!(": {d}")).unwrap_or_default();
        Self::new(SignInFailureKind::AccessDenied, format!("the identity provider refused the sign-in ({error}{detail})"))
    }
}

impl fmt::Display for SignInFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.description)
    }
}

impl From<getrandom::Error> for SignInFailure {
    fn from(_: getrandom::Error) -> Self {
        Self::new(SignInFailureKind::ServerError, "the system has no randomness to offer")
    }
}

/// An error and its causes, on one line, at most 300 characters: for logs and for
/// answers that name what a provider did wrong.
pub fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars().take(300).collect()
}

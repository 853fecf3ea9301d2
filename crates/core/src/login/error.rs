//! Why the login core refused a step: one kind per reason, for the web layer to show
//! (`web::error` decides each status code and page) and for tests to match on.

use std::fmt;

use crate::base::failure::SignInFailure;
use crate::base::ids::ProviderId;
use crate::state::StoreError;

#[non_exhaustive]
#[derive(Debug)]
pub enum LoginError {
    /// The login link names no login this broker knows, or the login has expired.
    UnknownLink,
    /// The login link is not one this broker writes.
    MalformedLink,
    /// No identity provider is configured.
    NoProvider,
    /// The browser chose another provider than the one the login is settled on.
    ProviderSettled(ProviderId),
    /// No provider has this id.
    NoSuchProvider(ProviderId),
    /// The provider of this sign-in is no longer configured.
    ProviderGone,
    /// The browser brought no sign-in that opens for this `state`: another browser
    /// started it, it expired, or its cookie was lost.
    SignInLost,
    /// The login has ended already: this sign-in was used, or another one finished it.
    Ended,
    /// The protocol refused the sign-in (the login's outcome says so too).
    SignInFailed(SignInFailure),
    /// The system offered no randomness for a new sign-in.
    NoRandomness,
    Store(StoreError),
}

impl From<StoreError> for LoginError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl fmt::Display for LoginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownLink => f.write_str("the login link is unknown or has expired"),
            Self::MalformedLink => f.write_str("the login link is malformed"),
            Self::NoProvider => f.write_str("no identity provider is configured"),
            Self::ProviderSettled(id) => write!(f, "the login is for provider `{}`", id.as_str()),
            Self::NoSuchProvider(id) => write!(f, "there is no identity provider `{}`", id.as_str()),
            Self::ProviderGone => f.write_str("the identity provider of this sign-in is no longer configured"),
            Self::SignInLost => f.write_str("the browser brought no sign-in for this state"),
            Self::Ended => f.write_str("the login has already ended"),
            Self::SignInFailed(failure) => write!(f, "sign-in failed: {}", failure.description),
            Self::NoRandomness => f.write_str("no randomness"),
            Self::Store(error) => error.fmt(f),
        }
    }
}

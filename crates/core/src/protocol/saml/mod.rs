//! SAML 2.0 sign-in, as a Service Provider of the Web Browser SSO profile: an
//! AuthnRequest by the HTTP-Redirect binding (`request`), the Response by the
//! HTTP-POST binding to `/saml/sso`, checked by `response` on one parse with a narrow
//! XML-DSig verifier (`signature`), and each assertion accepted once across instances.
//! The [`Saml`] connector implements the login core's [`SignInProtocol`].

pub mod credentials;
mod encryption;
pub mod logout;
pub mod metadata;
mod request;
pub mod response;
pub mod settings;
mod signature;
mod xml;

use rsa_fast::PublicKey;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::base::failure::{SignInFailure, SignInFailureKind};
use crate::base::ids::random_token;
use crate::base::secret::Secret;
use crate::host::outbound;
use crate::protocol::Identity;
use crate::protocol::ProtocolContext;
use crate::protocol::saml::settings::SamlConfig;
use crate::protocol::{Departure, Health, Routes, SignInProtocol, SignInStart, SignedIn};
use crate::state::{KeyValue, Record, StoreError, UnixTime, cache_key, memo};
pub use logout::LoggedOut;
use logout::{LogoutMessage, LogoutRefusal, LogoutRequest, LogoutResponse, Received, SignedInAs};
use metadata::{IdpMetadata, certificate_key, parse_idp_metadata};
use request::{AuthnRequest, Signer, redirect_url};
pub use response::MAX_RESPONSE_BYTES;
use response::{Answering, Asserted, Expected};

/// Where the browser starts a SAML login, where the identity provider posts its
/// answer (the Assertion Consumer Service), and where our metadata is.
pub const LOGIN_PATH: &str = "/saml/login";
pub const ACS_PATH: &str = "/saml/sso";
pub const METADATA_PATH: &str = "/saml/metadata";
/// The answer is a form the identity provider's page posts across sites.
pub const ROUTES: Routes = Routes { login: LOGIN_PATH, answer: ACS_PATH, answer_is_cross_site_post: true };

/// The largest form `/saml/sso` reads: a [`response::MAX_RESPONSE_BYTES`] Response,
/// base64 and URL-encoded.
pub const MAX_ANSWER_FORM_BYTES: usize = response::MAX_RESPONSE_BYTES * 2 + 1024;

/// How long fetched metadata is trusted before it is fetched again.
const METADATA_CACHE_SECS: u64 = 3600;

/// One configured SAML identity provider, as a connector.
pub struct Saml<'a> {
    config: &'a SamlConfig,
}

/// What a sign-in keeps between the AuthnRequest and the answer: the request's ID,
/// which the answer must name as `InResponseTo`, and when a fresh sign-in was demanded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kept {
    request_id: String,
    /// With `forceAuthn`: when the browser was sent out. The assertion's `AuthnInstant`
    /// must not be older, or the identity provider ignored the demand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fresh_sign_in_since: Option<UnixTime>,
}

/// The identity provider's answer as posted to `/saml/sso`.
pub struct PostedAnswer {
    /// The decoded `SAMLResponse`.
    pub response: String,
    pub relay_state: String,
}

impl PostedAnswer {
    /// `SAMLResponse` (base64, decoded to UTF-8 XML) and `RelayState`, or why not.
    pub fn parse(form: &[u8]) -> Result<Self, &'static str> {
        let relay_state = form_field(form, "RelayState").ok_or("it carries no RelayState")?;
        Ok(Self { response: posted_response(form)?, relay_state })
    }
}

pub(super) fn form_field(form: &[u8], wanted: &str) -> Option<String> {
    form_urlencoded::parse(form).find(|(name, _)| name == wanted).map(|(_, value)| value.into_owned())
}

/// A form's `SAMLResponse`, decoded from base64 to UTF-8 XML, or why not.
pub fn posted_response(form: &[u8]) -> Result<String, &'static str> {
    let encoded = form_field(form, "SAMLResponse").ok_or("it carries no SAMLResponse")?;
    let bytes = xml::base64(&encoded).ok_or("its SAMLResponse is not base64")?;
    String::from_utf8(bytes).map_err(|_| "its SAMLResponse is not UTF-8 text")
}

/// The identity provider as a sign-in uses it: its metadata, with the settings applied.
struct Idp {
    entity_id: String,
    sso_url: String,
    keys: Vec<PublicKey>,
    /// Single logout: where requests go, and where responses go.
    slo_url: Option<String>,
    slo_response_url: Option<String>,
}

/// Fetched metadata, cached for every instance.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct MetadataCache {
    metadata: IdpMetadata,
    expires_at: UnixTime,
}

impl Record for MetadataCache {
    const KIND: &'static str = "saml_metadata";
    fn expires_at(&self) -> UnixTime {
        self.expires_at
    }
}

/// Which metadata a provider uses: the document at `url`, read for one entity. Two
/// providers may share a federation's metadata URL and differ in the entity they
/// trust, so the URL alone must never name what was parsed from it.
#[derive(Clone, PartialEq)]
struct MetadataSource<'a> {
    url: &'a str,
    /// The entity the document is read for (`idpEntityId`), or `None`: its only one.
    entity_id: Option<&'a str>,
}

impl MetadataSource<'_> {
    /// The name the per-instance memo and the store's cache keep it under.
    fn name(&self) -> String {
        // A newline is in no URL and no entity id: the two parts cannot run together.
        format!("{}\n{}", self.url, self.entity_id.unwrap_or(""))
    }
}

/// Metadata fetched from `source`, from this instance's memory, else the store's cache.
async fn cached_metadata<K: KeyValue>(
    ctx: &ProtocolContext<'_, K>,
    source: &MetadataSource<'_>,
) -> Result<Option<IdpMetadata>, StoreError> {
    let name = source.name();
    if let Some(remembered) = memo::recall::<MetadataCache>(&memo_name(&name), ctx.now) {
        return Ok(Some(remembered.metadata.clone()));
    }
    let Some(cached) = ctx.store.load_cached::<MetadataCache>(&cache_key("saml-metadata", &name), ctx.now).await? else {
        return Ok(None);
    };
    let metadata = cached.metadata.clone();
    remember(name, cached);
    Ok(Some(metadata))
}

fn remember(name: String, cache: MetadataCache) {
    let expires_at = cache.expires_at;
    memo::keep(memo_name(&name), cache, expires_at);
}

fn memo_name(source_name: &str) -> String {
    format!("saml-metadata {source_name}")
}

impl<'a> Saml<'a> {
    pub fn new(config: &'a SamlConfig) -> Self {
        Self { config }
    }

    pub fn acs_url<K>(ctx: &ProtocolContext<'_, K>) -> String {
        format!("{}{ACS_PATH}", ctx.base_url)
    }

    fn slo_url<K>(ctx: &ProtocolContext<'_, K>) -> String {
        format!("{}{}", ctx.base_url, logout::SLO_PATH)
    }

    pub fn sp_entity_id<K>(&self, ctx: &ProtocolContext<'_, K>) -> String {
        self.config.sp_entity_id.clone().unwrap_or_else(|| format!("{}{METADATA_PATH}", ctx.base_url))
    }

    /// Our metadata, for the identity provider's administrator.
    pub fn sp_metadata<K>(&self, ctx: &ProtocolContext<'_, K>) -> String {
        let ours = metadata::ServiceProvider {
            entity_id: &self.sp_entity_id(ctx),
            acs_url: &Self::acs_url(ctx),
            slo_url: &Self::slo_url(ctx),
            name_id_format: &self.config.name_id_format,
            want_assertions_signed: self.config.want_assertion_signed,
            credentials: self.config.credentials.as_deref(),
        };
        ours.metadata()
    }

    /// What signs our requests: the current key pair, when the broker has one.
    fn signer(&self) -> Option<Signer<'_>> {
        let credentials = self.config.credentials.as_deref()?;
        Some(Signer { pair: &credentials.current, algorithm: self.config.signing_algorithm })
    }

    /// The configured settings over the metadata (fetched once per cache lifetime).
    async fn idp<K: KeyValue>(&self, ctx: &ProtocolContext<'_, K>) -> Result<Idp, SignInFailure> {
        let config = self.config;
        let fetched = match self.metadata_source() {
            Some(source) => Some(self.fetched_metadata(ctx, &source).await?),
            None => None,
        };
        let from_metadata = |pick: fn(&IdpMetadata) -> &String| fetched.as_ref().map(|metadata| pick(metadata).clone());
        let keys = if config.keys.is_empty() {
            fetched.as_ref().map(|metadata| metadata.certificates.iter().filter_map(|c| certificate_key(c)).collect()).unwrap_or_default()
        } else {
            config.keys.clone()
        };
        let unusable =
            |what: &str| SignInFailure::new(SignInFailureKind::ServerError, format!("the SAML identity provider's {what} is not known"));
        Ok(Idp {
            entity_id: config.entity_id.clone().or_else(|| from_metadata(|m| &m.entity_id)).ok_or_else(|| unusable("entity id"))?,
            sso_url: config.sso_url.clone().or_else(|| from_metadata(|m| &m.sso_url)).ok_or_else(|| unusable("sign-on URL"))?,
            keys: if keys.is_empty() { return Err(unusable("signing certificate")) } else { keys },
            slo_url: config.slo_url.clone().or_else(|| fetched.as_ref().and_then(|m| m.slo_url.clone())),
            slo_response_url: config.slo_response_url.clone().or_else(|| fetched.as_ref().and_then(|m| m.slo_response_url.clone())),
        })
    }

    /// The identity provider's entity id, which names it in the messages it sends.
    pub async fn idp_entity_id<K: KeyValue>(&self, ctx: &ProtocolContext<'_, K>) -> Result<String, SignInFailure> {
        Ok(self.idp(ctx).await?.entity_id)
    }

    /// A logout message the identity provider sent to `/saml/slo`, checked: its own
    /// `LogoutRequest` is answered with our `LogoutResponse`; its answer to ours says
    /// whether it signed the person out too.
    pub async fn single_logout<K: KeyValue>(&self, ctx: &ProtocolContext<'_, K>, received: &Received) -> Result<LoggedOut, SignInFailure> {
        let idp = self.idp(ctx).await?;
        let refused = |LogoutRefusal(why)| SignInFailure::new(SignInFailureKind::InvalidRequest, why);
        match logout::check(received, &idp.entity_id, &Self::slo_url(ctx), &idp.keys).map_err(refused)? {
            LogoutMessage::Request { id, .. } => {
                let destination = idp.slo_response_url.or(idp.slo_url).ok_or_else(|| {
                    SignInFailure::new(
                        SignInFailureKind::ServerError,
                        "the SAML identity provider's single logout URL is not known (saml_idp_slo_url)",
                    )
                })?;
                let sp_entity_id = self.sp_entity_id(ctx);
                let response_id = format!("_{}", random_token()?.expose());
                let response = LogoutResponse {
                    id: &response_id,
                    issued_at: ctx.now,
                    destination: &destination,
                    issuer: &sp_entity_id,
                    in_response_to: &id,
                };
                Ok(LoggedOut::Answered(redirect_url(
                    &destination,
                    "SAMLResponse",
                    &response.xml(),
                    received.relay_state.as_deref(),
                    self.signer(),
                )))
            }
            LogoutMessage::Response { succeeded: true, .. } => Ok(LoggedOut::Everywhere),
            LogoutMessage::Response { status, .. } => Ok(LoggedOut::HereOnly { status }),
        }
    }

    fn metadata_source(&self) -> Option<MetadataSource<'_>> {
        let config = self.config;
        config.metadata_url.as_deref().map(|url| MetadataSource { url, entity_id: config.entity_id.as_deref() })
    }

    /// HAS's `/saml/validate`, for Helix Swarm's one-step login through the p4d
    /// extension: another service provider's answer, checked as every answer is but for
    /// where it was posted, for whom and to which request (that service provider's, which
    /// HAS does not check either), and accepted once; the identity it asserts.
    pub async fn validate<K: KeyValue>(&self, ctx: &ProtocolContext<'_, K>, response: &str) -> Result<Identity, SignInFailure> {
        let idp = self.idp(ctx).await?;
        let expected = Expected {
            idp_entity_id: &idp.entity_id,
            answering: Answering::AnotherServiceProvider,
            keys: &idp.keys,
            credentials: self.config.credentials.as_deref(),
            want_response_signed: self.config.want_response_signed,
            want_assertion_signed: self.config.want_assertion_signed,
            fresh_sign_in_since: None,
            now: ctx.now,
        };
        let asserted = response::check(response, &expected)?;
        self.accepted_once(ctx, &idp, asserted).await
    }

    /// The identity a checked assertion asserts, once: its ID is claimed across
    /// instances, by itself (never by what it would finish), for as long as it could
    /// pass the checks.
    async fn accepted_once<K: KeyValue>(
        &self,
        ctx: &ProtocolContext<'_, K>,
        idp: &Idp,
        asserted: Asserted,
    ) -> Result<Identity, SignInFailure> {
        let replay_name = format!("saml-assertion:{}:{}", idp.entity_id, asserted.assertion_id);
        if !ctx.store.claim_once(&replay_name, asserted.usable_until, ctx.now).await.map_err(SignInFailure::from)? {
            return Err(SignInFailure::new(SignInFailureKind::InvalidAssertion, "the SAML assertion was already used"));
        }
        identity(asserted, self.config.name_id_field.as_deref())
    }

    async fn fetched_metadata<K: KeyValue>(
        &self,
        ctx: &ProtocolContext<'_, K>,
        source: &MetadataSource<'_>,
    ) -> Result<IdpMetadata, SignInFailure> {
        if let Some(metadata) = cached_metadata(ctx, source).await.map_err(SignInFailure::from)? {
            return Ok(metadata);
        }
        let unreadable = |why: String| {
            SignInFailure::new(
                SignInFailureKind::ProviderUnavailable,
                format!("the SAML identity provider's metadata could not be read: {why}"),
            )
        };
        let url = source.url;
        let request = http::Request::get(url).header(http::header::ACCEPT, "application/samlmetadata+xml, application/xml, text/xml");
        let request = request.body(Vec::new()).map_err(|error| unreadable(error.to_string()))?;
        let answer = outbound::send(request).await.map_err(|error| unreadable(error.to_string()))?;
        if answer.status() != http::StatusCode::OK {
            return Err(unreadable(format!("{url} answered {}", answer.status())));
        }
        let text = std::str::from_utf8(answer.body()).map_err(|_| unreadable("it is not UTF-8 text".into()))?;
        let metadata = parse_idp_metadata(text, source.entity_id).map_err(unreadable)?;
        let cache = MetadataCache { metadata, expires_at: ctx.now + METADATA_CACHE_SECS };
        let name = source.name();
        ctx.store.save_cached(&cache_key("saml-metadata", &name), &cache).await.map_err(SignInFailure::from)?;
        let metadata = cache.metadata.clone();
        remember(name, cache);
        Ok(metadata)
    }
}

impl SignInProtocol for Saml<'_> {
    type State = Kept;
    type Answer = PostedAnswer;

    fn routes(&self) -> Routes {
        ROUTES
    }

    fn answer_is_redeemed_at_provider(&self) -> bool {
        false
    }

    fn issuer(&self) -> &str {
        self.config.entity_id.as_deref().or(self.config.metadata_url.as_deref()).unwrap_or("")
    }

    async fn begin<K: KeyValue>(&self, ctx: &ProtocolContext<'_, K>, start: &SignInStart<'_>) -> Result<Departure<Kept>, SignInFailure> {
        let idp = self.idp(ctx).await?;
        // An xsd:ID (an NCName): base64url characters, after a letter-like `_`.
        let request_id = format!("_{}", random_token()?.expose());
        let force_authn = start.force_authn || self.config.force_authn;
        let (acs_url, sp_entity_id) = (Self::acs_url(ctx), self.sp_entity_id(ctx));
        let request = AuthnRequest {
            id: &request_id,
            issued_at: ctx.now,
            sso_url: &idp.sso_url,
            acs_url: &acs_url,
            sp_entity_id: &sp_entity_id,
            name_id_format: &self.config.name_id_format,
            authn_context: &self.config.authn_context,
            force_authn,
        };
        let url = request.redirect_url(start.state.as_str(), self.signer());
        Ok(Departure { url, kept: Kept { request_id, fresh_sign_in_since: force_authn.then_some(ctx.now) } })
    }

    /// The Response, checked; then its assertion's ID is claimed, once across instances.
    /// The claim names the assertion alone (never the login it would finish) and lives
    /// as long as the assertion could pass the checks, then is reclaimed.
    async fn finish<K: KeyValue>(
        &self,
        ctx: &ProtocolContext<'_, K>,
        kept: &Kept,
        answer: &PostedAnswer,
    ) -> Result<SignedIn, SignInFailure> {
        let idp = self.idp(ctx).await?;
        let (acs_url, sp_entity_id) = (Self::acs_url(ctx), self.sp_entity_id(ctx));
        let expected = Expected {
            idp_entity_id: &idp.entity_id,
            answering: Answering::ThisSignIn {
                acs_url: &acs_url,
                audience: self.config.audience.as_deref().unwrap_or(&sp_entity_id),
                request_id: &kept.request_id,
            },
            keys: &idp.keys,
            credentials: self.config.credentials.as_deref(),
            want_response_signed: self.config.want_response_signed,
            want_assertion_signed: self.config.want_assertion_signed,
            fresh_sign_in_since: kept.fresh_sign_in_since,
            now: ctx.now,
        };
        let asserted = response::check(&answer.response, &expected)?;
        let signed_in_as = SignedInAs {
            name_id: asserted.name_id.clone(),
            name_id_format: asserted.name_id_format.clone(),
            session_index: asserted.session_index.clone(),
        };
        let logout_hint = serde_json::to_string(&signed_in_as).ok().map(Secret::new);
        Ok(SignedIn { identity: self.accepted_once(ctx, &idp, asserted).await?, logout_hint })
    }

    /// SP-initiated single logout: a `LogoutRequest` naming whom the browser signed in
    /// as, to the identity provider's single logout URL; `None` when it has none, or the
    /// session kept no subject.
    async fn logout_url<K: KeyValue>(&self, ctx: &ProtocolContext<'_, K>, hint: Option<&Secret>) -> Result<Option<String>, SignInFailure> {
        let Some(signed_in_as) = hint.and_then(|hint| serde_json::from_str::<SignedInAs>(hint.expose()).ok()) else {
            return Ok(None);
        };
        let idp = self.idp(ctx).await?;
        let Some(destination) = idp.slo_url else {
            return Ok(None);
        };
        let (request_id, sp_entity_id) = (format!("_{}", random_token()?.expose()), self.sp_entity_id(ctx));
        let request = LogoutRequest {
            id: &request_id,
            issued_at: ctx.now,
            destination: &destination,
            issuer: &sp_entity_id,
            signed_in_as: &signed_in_as,
        };
        Ok(Some(redirect_url(&destination, "SAMLRequest", &request.xml(), None, self.signer())))
    }

    /// Usable when the identity provider is known: from the settings alone, or from
    /// its metadata, which a fresh look fetches (and caches).
    async fn health<K: KeyValue>(&self, ctx: &ProtocolContext<'_, K>) -> Result<Health, StoreError> {
        match self.idp(ctx).await {
            Ok(_) => Ok(Health { reachable: true, problem: None }),
            Err(failure) if failure.kind == SignInFailureKind::TemporarilyUnavailable => Err(StoreError::Unavailable(failure.description)),
            Err(failure) => {
                crate::base::log::warn("provider_not_ready").outcome(failure.kind.code()).detail(&failure.description).emit();
                Ok(Health { reachable: false, problem: None })
            }
        }
    }

    /// The sign-on URL's origin, known from the settings or the metadata's URL, read
    /// without contacting the identity provider.
    async fn form_origins<K: KeyValue>(&self, ctx: &ProtocolContext<'_, K>) -> String {
        let mut origins: Vec<String> =
            self.config.sso_url.iter().chain(&self.config.metadata_url).filter_map(|url| outbound::origin_of(url)).collect();
        if let Some(source) = self.metadata_source()
            && let Ok(Some(cached)) = cached_metadata(ctx, &source).await
            && let Some(sso) = outbound::origin_of(&cached.sso_url)
        {
            origins.push(sso);
        }
        origins.dedup();
        origins.join(" ")
    }
}

/// The identity the client receives, in HAS's profile shape: `nameID`,
/// `nameIDFormat`, `sessionIndex`, and each attribute by name (a list when it has
/// several values). Ours win over attributes of the same names.
fn identity(asserted: Asserted, name_id_field: Option<&str>) -> Result<Identity, SignInFailure> {
    let mut claims = Map::new();
    for (name, mut values) in asserted.attributes {
        let value = if values.len() == 1 { Value::String(values.remove(0)) } else { values.into_iter().map(Value::String).collect() };
        claims.insert(name, value);
    }
    let name_id = match name_id_field {
        Some(field) => match claims.get(field) {
            Some(Value::String(value)) if !value.trim().is_empty() => value.clone(),
            _ => {
                return Err(SignInFailure::new(
                    SignInFailureKind::InvalidAssertion,
                    format!("the SAML assertion has no single `{field}` attribute to name the user by (saml_nameid_field)"),
                ));
            }
        },
        None => asserted.name_id,
    };
    claims.insert("nameID".into(), name_id.into());
    if let Some(format) = asserted.name_id_format {
        claims.insert("nameIDFormat".into(), format.into());
    }
    if let Some(index) = asserted.session_index {
        claims.insert("sessionIndex".into(), index.into());
    }
    Ok(Identity::from_claims(claims))
}

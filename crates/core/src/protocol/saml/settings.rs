//! A SAML 2.0 identity provider's settings: the `saml_*` variables (HAS's `SAML_*`),
//! or a `"protocol": "saml"` entry of `auth_providers` (HAS's camelCase names). One
//! parser serves both; each problem names the setting as the operator wrote it.

use std::sync::Arc;

use rsa_fast::PublicKey;

use super::credentials::{SigningAlgorithm, SpCredentials};
use super::metadata::{IdpMetadata, certificate_key, parse_idp_metadata, pem_certificates};
use crate::base::parse::flag;
use crate::host::outbound::origin_of;

const UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";

#[derive(Debug)]
pub struct SamlConfig {
    /// Fetched (and cached) at sign-in; settings below override what it says.
    pub metadata_url: Option<String>,
    /// From the metadata given inline and the explicit settings.
    pub entity_id: Option<String>,
    pub sso_url: Option<String>,
    /// HAS's `SAML_IDP_SLO_URL`: where logout requests go; overrides the metadata's.
    pub slo_url: Option<String>,
    /// Where logout responses go, when inline metadata names another place.
    pub slo_response_url: Option<String>,
    pub keys: Vec<PublicKey>,
    /// `None`: `<svc_base_uri>/saml/metadata`.
    pub sp_entity_id: Option<String>,
    /// `None`: the SP entity id.
    pub audience: Option<String>,
    pub name_id_format: String,
    /// The attribute whose value becomes `nameID`, in place of the Subject's NameID.
    pub name_id_field: Option<String>,
    pub authn_context: Vec<String>,
    pub force_authn: bool,
    pub want_response_signed: bool,
    pub want_assertion_signed: bool,
    /// The broker's key pairs (global, shared by every SAML provider): when set,
    /// requests are signed and encrypted answers opened.
    pub credentials: Option<Arc<SpCredentials>>,
    /// How requests are signed.
    pub signing_algorithm: SigningAlgorithm,
}

/// Inline metadata as HAS takes it: the XML, or (HAS's older configuration files) the XML
/// in base64. Text that decodes to no text is left for the XML parser to refuse.
pub fn metadata_xml(text: &str) -> String {
    use base64::Engine;
    let text = text.trim();
    if text.starts_with('<') {
        return text.to_owned();
    }
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_else(|| text.to_owned())
}

/// The settings as given, by name.
pub struct SamlSettings<'a> {
    pub get: &'a dyn Fn(Setting) -> String,
    /// How settings are named in problems: variables, or `auth_providers` keys.
    pub entry: bool,
    /// Origins Spin lets the broker reach, for the metadata URL.
    pub origins: &'a [String],
    /// The broker's key pairs, from the `saml_sp_*` variables.
    pub credentials: Option<&'a Arc<SpCredentials>>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Setting {
    MetadataUrl,
    Metadata,
    SsoUrl,
    EntityId,
    Cert,
    SpEntityId,
    Audience,
    NameIdFormat,
    NameIdField,
    AuthnContext,
    ForceAuthn,
    WantResponseSigned,
    WantAssertionSigned,
    KeyAlgorithm,
    SloUrl,
}

impl Setting {
    pub const ALL: [Setting; 15] = [
        Self::MetadataUrl,
        Self::Metadata,
        Self::SsoUrl,
        Self::EntityId,
        Self::Cert,
        Self::SpEntityId,
        Self::Audience,
        Self::NameIdFormat,
        Self::NameIdField,
        Self::AuthnContext,
        Self::ForceAuthn,
        Self::WantResponseSigned,
        Self::WantAssertionSigned,
        Self::KeyAlgorithm,
        Self::SloUrl,
    ];

    /// The variable, and the `auth_providers` key (where an entry has one).
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            Self::MetadataUrl => ("saml_idp_metadata_url", "metadataUrl"),
            Self::Metadata => ("saml_idp_metadata", "metadata"),
            Self::SsoUrl => ("saml_idp_sso_url", "signonUrl"),
            Self::EntityId => ("saml_idp_entity_id", "idpEntityId"),
            Self::Cert => ("saml_idp_cert", "idpCert"),
            Self::SpEntityId => ("saml_sp_entity_id", "spEntityId"),
            Self::Audience => ("saml_sp_audience", "audience"),
            Self::NameIdFormat => ("saml_nameid_format", "nameIdFormat"),
            Self::NameIdField => ("saml_nameid_field", "nameIdField"),
            Self::AuthnContext => ("saml_authn_context", "authnContext"),
            Self::ForceAuthn => ("saml_force_authn", "forceAuthn"),
            Self::WantResponseSigned => ("saml_want_response_signed", "wantResponseSigned"),
            Self::WantAssertionSigned => ("saml_want_assertion_signed", "wantAssertionSigned"),
            Self::KeyAlgorithm => ("sp_key_algo", "keyAlgorithm"),
            Self::SloUrl => ("saml_idp_slo_url", "logoutUrl"),
        }
    }
}

/// What is wrong, and with which setting.
pub struct Problem {
    pub setting: Setting,
    pub expected: String,
}

impl SamlSettings<'_> {
    pub fn name(&self, setting: Setting) -> &'static str {
        let (variable, key) = setting.names();
        if self.entry { key } else { variable }
    }

    /// Whether any setting names an identity provider (else SAML is off).
    pub fn configured(&self) -> bool {
        [Setting::MetadataUrl, Setting::Metadata, Setting::SsoUrl].iter().any(|setting| !(self.get)(*setting).trim().is_empty())
    }

    pub fn parse(&self) -> Result<SamlConfig, Problem> {
        let text = |setting| (self.get)(setting).trim().to_owned();
        let optional = |setting| Some(text(setting)).filter(|value| !value.is_empty());
        let problem = |setting, expected: &str| Problem { setting, expected: expected.to_owned() };
        let flag = |setting, default: bool| match text(setting).as_str() {
            "" => Ok(default),
            value => flag(value).ok_or_else(|| problem(setting, "`true` or `false`")),
        };

        let metadata_url = optional(Setting::MetadataUrl);
        if let Some(url) = &metadata_url {
            let origin = origin_of(url)
                .filter(|origin| origin.starts_with("http://") || origin.starts_with("https://"))
                .ok_or_else(|| problem(Setting::MetadataUrl, "an http:// or https:// URL"))?;
            if !self.origins.contains(&origin) {
                let origins = if self.entry { "auth_provider_origin_a/_b/_c or saml_idp_origin" } else { "saml_idp_origin" };
                return Err(problem(
                    Setting::MetadataUrl,
                    &format!("a URL whose origin `{origin}` is also in {origins}, so that Spin lets the broker fetch it"),
                ));
            }
        }
        let wanted_entity = optional(Setting::EntityId);
        let inline = match optional(Setting::Metadata) {
            Some(text) => {
                Some(parse_idp_metadata(&metadata_xml(&text), wanted_entity.as_deref()).map_err(|why| problem(Setting::Metadata, &why))?)
            }
            None => None,
        };
        let sso_url = optional(Setting::SsoUrl).or_else(|| inline.as_ref().map(|idp| idp.sso_url.clone()));
        if let Some(url) = &sso_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(problem(Setting::SsoUrl, "the identity provider's single sign-on URL (HTTP-Redirect binding)"));
        }
        let slo_url = optional(Setting::SloUrl);
        if slo_url.as_deref().is_some_and(|url| !(url.starts_with("https://") || url.starts_with("http://"))) {
            return Err(problem(Setting::SloUrl, "the identity provider's single logout URL (HTTP-Redirect binding)"));
        }
        let certificates = match optional(Setting::Cert) {
            Some(pem) => pem_certificates(&pem).ok_or_else(|| problem(Setting::Cert, "one or more PEM RSA certificates"))?,
            None => inline.as_ref().map(|idp: &IdpMetadata| idp.certificates.clone()).unwrap_or_default(),
        };
        let entity_id = wanted_entity.or_else(|| inline.as_ref().map(|idp| idp.entity_id.clone()));
        if metadata_url.is_none() {
            for (missing, setting) in
                [(entity_id.is_none(), Setting::EntityId), (sso_url.is_none(), Setting::SsoUrl), (certificates.is_empty(), Setting::Cert)]
            {
                if missing {
                    return Err(problem(setting, "a value, or metadata that gives it (a metadata URL or the metadata itself)"));
                }
            }
        }
        let want_response_signed = flag(Setting::WantResponseSigned, true)?;
        let want_assertion_signed = flag(Setting::WantAssertionSigned, true)?;
        if !want_response_signed && !want_assertion_signed {
            return Err(problem(
                Setting::WantAssertionSigned,
                "`true` when the Response's signature is not wanted: an answer signed nowhere proves nothing",
            ));
        }
        let authn_context: Vec<String> =
            text(Setting::AuthnContext).split(',').map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned).collect();
        Ok(SamlConfig {
            metadata_url,
            entity_id,
            sso_url,
            slo_url: slo_url.or_else(|| inline.as_ref().and_then(|idp| idp.slo_url.clone())),
            slo_response_url: inline.as_ref().and_then(|idp| idp.slo_response_url.clone()),
            keys: certificates.iter().filter_map(|certificate| certificate_key(certificate)).collect(),
            sp_entity_id: optional(Setting::SpEntityId),
            audience: optional(Setting::Audience),
            name_id_format: optional(Setting::NameIdFormat).unwrap_or_else(|| UNSPECIFIED.to_owned()),
            name_id_field: optional(Setting::NameIdField),
            authn_context,
            force_authn: flag(Setting::ForceAuthn, false)?,
            want_response_signed,
            want_assertion_signed,
            credentials: self.credentials.cloned(),
            signing_algorithm: SigningAlgorithm::from_setting(&text(Setting::KeyAlgorithm))
                .ok_or_else(|| problem(Setting::KeyAlgorithm, "`sha256` or `sha512` (SHA-1 is broken)"))?,
        })
    }
}

//! SAML metadata: the identity provider's, read (entity id, single sign-on URL for the
//! HTTP-Redirect binding, signing certificates), and ours, written for its
//! administrator (`GET /saml/metadata`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa_fast::PublicKey;
use serde::{Deserialize, Serialize};

use super::credentials::SpCredentials;
use super::encryption::ACCEPTED_ALGORITHMS;
use super::xml::{self, DSIG, METADATA};
use crate::base::markup::escape;
use crate::protocol::signing_key::rsa_key_from_certificate;

pub const REDIRECT_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const POST_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// What the broker needs to know of an identity provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdpMetadata {
    pub entity_id: String,
    pub sso_url: String,
    /// Signing certificates, base64 DER as metadata carries them.
    pub certificates: Vec<String>,
    /// Single logout by the HTTP-Redirect binding: where requests go, and where
    /// responses go when it says otherwise.
    #[serde(default)]
    pub slo_url: Option<String>,
    #[serde(default)]
    pub slo_response_url: Option<String>,
}

/// Reads an identity provider's metadata: an `EntityDescriptor`, or an
/// `EntitiesDescriptor` from which the one named `entity_id` (or the only one with an
/// IdP role) is taken.
pub fn parse_idp_metadata(text: &str, entity_id: Option<&str>) -> Result<IdpMetadata, String> {
    let doc = xml::parse(text).map_err(|why| format!("the metadata cannot be read: {why}"))?;
    let idp_roles: Vec<_> = xml::everywhere(&doc, METADATA, "IDPSSODescriptor")
        .into_iter()
        .filter_map(|role| {
            let entity = doc.parent(role).filter(|entity| xml::is(&doc, *entity, METADATA, "EntityDescriptor"))?;
            let id = xml::attribute(&doc, entity, "entityID")?;
            entity_id.is_none_or(|wanted| wanted == id).then_some((role, id))
        })
        .collect();
    let (role, id) = match idp_roles.as_slice() {
        [only] => *only,
        [] => return Err("the metadata describes no identity provider (IDPSSODescriptor) of that entity id".into()),
        _ => return Err("the metadata describes several identity providers: set the entity id to choose one".into()),
    };
    let sso_url = xml::children(&doc, role, METADATA, "SingleSignOnService")
        .into_iter()
        .find(|service| xml::attribute(&doc, *service, "Binding") == Some(REDIRECT_BINDING))
        .and_then(|service| xml::attribute(&doc, service, "Location"))
        .ok_or("the identity provider offers no single sign-on by the HTTP-Redirect binding")?;
    let certificates: Vec<String> = xml::children(&doc, role, METADATA, "KeyDescriptor")
        .into_iter()
        .filter(|key| xml::attribute(&doc, *key, "use").is_none_or(|usage| usage == "signing"))
        .flat_map(|key| xml::children(&doc, key, DSIG, "KeyInfo"))
        .flat_map(|info| xml::children(&doc, info, DSIG, "X509Data"))
        .flat_map(|data| xml::children(&doc, data, DSIG, "X509Certificate"))
        .filter_map(|certificate| xml::text(&doc, certificate))
        .map(|text| text.chars().filter(|c| !c.is_ascii_whitespace()).collect())
        .collect();
    if certificates.iter().any(|certificate| certificate_key(certificate).is_none()) {
        return Err("a signing certificate in the metadata is not an RSA certificate this broker can use".into());
    }
    if certificates.is_empty() {
        return Err("the metadata names no signing certificate".into());
    }
    let slo = xml::children(&doc, role, METADATA, "SingleLogoutService")
        .into_iter()
        .find(|service| xml::attribute(&doc, *service, "Binding") == Some(REDIRECT_BINDING));
    let slo_attribute = |name| slo.and_then(|service| xml::attribute(&doc, service, name)).map(str::to_owned);
    Ok(IdpMetadata {
        entity_id: id.to_owned(),
        sso_url: sso_url.to_owned(),
        certificates,
        slo_url: slo_attribute("Location"),
        slo_response_url: slo_attribute("ResponseLocation"),
    })
}

/// The RSA key of a certificate given as base64 DER.
pub fn certificate_key(base64_der: &str) -> Option<PublicKey> {
    rsa_key_from_certificate(&STANDARD.decode(base64_der).ok()?)
}

/// The certificates of a PEM text holding one or more, as base64 DER.
pub fn pem_certificates(pem: &str) -> Option<Vec<String>> {
    let mut certificates = Vec::new();
    for block in pem.split("-----END CERTIFICATE-----").filter(|block| !block.trim().is_empty()) {
        let body = block.trim().strip_prefix("-----BEGIN CERTIFICATE-----")?;
        let der: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        certificate_key(&der)?;
        certificates.push(der);
    }
    (!certificates.is_empty()).then_some(certificates)
}

/// The broker as a service provider, as its metadata describes it.
pub struct ServiceProvider<'a> {
    pub entity_id: &'a str,
    pub acs_url: &'a str,
    /// Where identity providers send logout messages, by either binding.
    pub slo_url: &'a str,
    pub name_id_format: &'a str,
    pub want_assertions_signed: bool,
    /// When set: the current certificate signs our requests, and it and the previous
    /// one may receive encrypted assertions.
    pub credentials: Option<&'a SpCredentials>,
}

impl ServiceProvider<'_> {
    /// Our metadata, for the identity provider's administrator.
    pub fn metadata(&self) -> String {
        let e = escape;
        let key = |usage: &str, certificate: &str, methods: &str| {
            format!(
                r#"<md:KeyDescriptor use="{usage}"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>{methods}</md:KeyDescriptor>"#
            )
        };
        let keys: String = match self.credentials {
            None => String::new(),
            Some(credentials) => {
                let methods: String =
                    ACCEPTED_ALGORITHMS.iter().map(|uri| format!(r#"<md:EncryptionMethod Algorithm="{uri}"/>"#)).collect();
                let signing = key("signing", &credentials.current.certificate(), "");
                let encryption: String = credentials.decrypting().map(|pair| key("encryption", &pair.certificate(), &methods)).collect();
                signing + &encryption
            }
        };
        format!(
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?>"#,
                r#"<md:EntityDescriptor xmlns:md="{md}" xmlns:ds="{ds}" entityID="{entity}">"#,
                r#"<md:SPSSODescriptor AuthnRequestsSigned="{requests_signed}" WantAssertionsSigned="{signed}" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">"#,
                r#"{keys}<md:SingleLogoutService Binding="{redirect}" Location="{slo}"/>"#,
                r#"<md:SingleLogoutService Binding="{post}" Location="{slo}"/><md:NameIDFormat>{format}</md:NameIDFormat>"#,
                r#"<md:AssertionConsumerService Binding="{post}" Location="{acs}" index="0" isDefault="true"/>"#,
                r#"</md:SPSSODescriptor></md:EntityDescriptor>"#
            ),
            md = METADATA,
            ds = DSIG,
            entity = e(self.entity_id),
            requests_signed = self.credentials.is_some(),
            signed = self.want_assertions_signed,
            keys = keys,
            redirect = REDIRECT_BINDING,
            slo = e(self.slo_url),
            format = e(self.name_id_format),
            post = POST_BINDING,
            acs = e(self.acs_url),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `samlify`'s metadata for the test identity provider (tests/saml/idp.mjs).
    fn samlify_metadata() -> String {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/saml/idp-metadata.xml")).unwrap()
    }

    #[test]
    fn an_identity_providers_metadata_gives_its_entity_id_sign_on_url_and_key() {
        let metadata = parse_idp_metadata(&samlify_metadata(), None).unwrap();
        assert_eq!(
            (metadata.entity_id.as_str(), metadata.sso_url.as_str()),
            ("https://idp.example.com/metadata", "https://idp.example.com/sso")
        );
        let pem = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/saml-idp-cert.pem")).unwrap();
        assert_eq!(metadata.certificates, pem_certificates(&pem).unwrap(), "the signing certificate, and only it");
        assert!(parse_idp_metadata(&samlify_metadata(), Some("https://other.example.com")).is_err(), "not another entity's");
    }

    #[test]
    fn the_single_logout_service_by_redirect_is_read_when_the_metadata_has_one() {
        let metadata = samlify_metadata();
        assert_eq!(parse_idp_metadata(&metadata, None).unwrap().slo_url, None);
        let services = format!(
            r#"<SingleLogoutService Binding="{POST_BINDING}" Location="https://idp.example.com/slo-post"/><SingleLogoutService Binding="{REDIRECT_BINDING}" Location="https://idp.example.com/slo" ResponseLocation="https://idp.example.com/slo-done"/><SingleSignOnService"#
        );
        let with_slo = metadata.replacen("<SingleSignOnService", &services, 1);
        let read = parse_idp_metadata(&with_slo, None).unwrap();
        assert_eq!(read.slo_url.as_deref(), Some("https://idp.example.com/slo"));
        assert_eq!(read.slo_response_url.as_deref(), Some("https://idp.example.com/slo-done"));
    }

    #[test]
    fn of_several_entities_the_configured_one_is_taken() {
        let one = samlify_metadata();
        let other = one
            .replace("https://idp.example.com/metadata", "https://second.example.com/metadata")
            .replace("idp.example.com/sso", "second.example.com/sso");
        let both = format!(r#"<EntitiesDescriptor xmlns="{METADATA}">{one}{other}</EntitiesDescriptor>"#);
        assert!(parse_idp_metadata(&both, None).unwrap_err().contains("several"));
        let second = parse_idp_metadata(&both, Some("https://second.example.com/metadata")).unwrap();
        assert_eq!(second.sso_url, "https://second.example.com/sso");
    }

    #[test]
    fn metadata_without_what_a_sign_in_needs_is_refused_saying_what_is_missing() {
        let metadata = samlify_metadata();
        let post_only = metadata.replace(REDIRECT_BINDING, POST_BINDING);
        assert!(parse_idp_metadata(&post_only, None).unwrap_err().contains("HTTP-Redirect"));
        let start = metadata.find("<KeyDescriptor").unwrap();
        let end = metadata.find("</KeyDescriptor>").unwrap() + "</KeyDescriptor>".len();
        let keyless = format!("{}{}", &metadata[..start], &metadata[end..]);
        assert!(parse_idp_metadata(&keyless, None).unwrap_err().contains("no signing certificate"));
        assert!(parse_idp_metadata("<!DOCTYPE x><x/>", None).unwrap_err().contains("DOCTYPE"));
    }

    fn ours<'a>(credentials: Option<&'a SpCredentials>) -> ServiceProvider<'a> {
        ServiceProvider {
            entity_id: "https://broker.example.com/saml/metadata?a=1&b=2",
            acs_url: "https://broker.example.com/saml/sso",
            slo_url: "https://broker.example.com/saml/slo",
            name_id_format: "urn:x",
            want_assertions_signed: true,
            credentials,
        }
    }

    #[test]
    fn our_metadata_publishes_our_certificates_for_signing_and_encryption_when_we_have_keys() {
        let xml = ours(None).metadata();
        assert!(xml.contains(r#"AuthnRequestsSigned="false""#) && !xml.contains("KeyDescriptor"));
        let current = crate::protocol::saml::credentials::tests::sp_pair();
        let previous = crate::protocol::saml::credentials::tests::other_pair();
        let credentials = SpCredentials { current, previous: Some(previous) };
        let xml = ours(Some(&credentials)).metadata();
        let doc = xml::parse(&xml).unwrap();
        let keys: Vec<(Option<&str>, String)> = xml::everywhere(&doc, METADATA, "KeyDescriptor")
            .into_iter()
            .map(|key| {
                let certificate = xml::everywhere(&doc, DSIG, "X509Certificate").into_iter().find(|c| doc.descendants(key).contains(c));
                (xml::attribute(&doc, key, "use"), xml::text(&doc, certificate.unwrap()).unwrap())
            })
            .collect();
        let (current, previous) = (credentials.current.certificate(), credentials.previous.as_ref().unwrap().certificate());
        assert_eq!(keys, [(Some("signing"), current.clone()), (Some("encryption"), current), (Some("encryption"), previous)]);
        assert!(xml.contains(r#"AuthnRequestsSigned="true""#));
        assert_eq!(xml::everywhere(&doc, METADATA, "EncryptionMethod").len(), 2 * ACCEPTED_ALGORITHMS.len());
    }

    #[test]
    fn our_metadata_names_the_assertion_consumer_service_and_escapes_what_it_quotes() {
        let xml = ours(None).metadata();
        let doc = xml::parse(&xml).unwrap();
        let root = doc.document_element().unwrap();
        assert_eq!(xml::attribute(&doc, root, "entityID"), Some("https://broker.example.com/saml/metadata?a=1&b=2"));
        let acs = xml::everywhere(&doc, METADATA, "AssertionConsumerService");
        assert_eq!(xml::attribute(&doc, acs[0], "Location"), Some("https://broker.example.com/saml/sso"));
        assert_eq!(xml::attribute(&doc, acs[0], "Binding"), Some(POST_BINDING));
    }
}

//! The AuthnRequest, sent by the HTTP-Redirect binding (bindings §3.4): DEFLATE,
//! base64 and URL-encoded in `SAMLRequest`, with the sign-in's `state` as `RelayState`,
//! signed (`SigAlg`, `Signature`) when the broker has its own key pair. What binds the
//! answer to this browser is the request's `ID`, kept in the sealed sign-in and
//! required back as `InResponseTo`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::credentials::SigningAlgorithm;
use super::metadata::POST_BINDING;
use super::xml::{self, ASSERTION, PROTOCOL};
use crate::base::markup::escape;
use crate::protocol::key_pair::KeyPair;
use crate::state::UnixTime;

/// What the request asks for.
pub struct AuthnRequest<'a> {
    pub id: &'a str,
    pub issued_at: UnixTime,
    pub sso_url: &'a str,
    pub acs_url: &'a str,
    pub sp_entity_id: &'a str,
    pub name_id_format: &'a str,
    pub authn_context: &'a [String],
    pub force_authn: bool,
}

impl AuthnRequest<'_> {
    pub fn xml(&self) -> String {
        let e = escape;
        let issued_at = xml::instant(self.issued_at);
        let force = if self.force_authn { r#" ForceAuthn="true""# } else { "" };
        let context = if self.authn_context.is_empty() {
            String::new()
        } else {
            let classes: String = self
                .authn_context
                .iter()
                .map(|class| format!("<saml:AuthnContextClassRef>{}</saml:AuthnContextClassRef>", e(class)))
                .collect();
            format!(r#"<samlp:RequestedAuthnContext Comparison="exact">{classes}</samlp:RequestedAuthnContext>"#)
        };
        format!(
            concat!(
                r#"<samlp:AuthnRequest xmlns:samlp="{protocol}" xmlns:saml="{assertion}" ID="{id}" Version="2.0" IssueInstant="{at}""#,
                r#" Destination="{sso}" AssertionConsumerServiceURL="{acs}" ProtocolBinding="{post}"{force}>"#,
                r#"<saml:Issuer>{issuer}</saml:Issuer>"#,
                r#"<samlp:NameIDPolicy Format="{format}" AllowCreate="true"/>{context}</samlp:AuthnRequest>"#
            ),
            protocol = PROTOCOL,
            assertion = ASSERTION,
            id = e(self.id),
            at = issued_at,
            sso = e(self.sso_url),
            acs = e(self.acs_url),
            post = POST_BINDING,
            force = force,
            issuer = e(self.sp_entity_id),
            format = e(self.name_id_format),
            context = context,
        )
    }

    /// Where the browser goes: the identity provider's single sign-on URL with the
    /// request and `relay_state`, signed by `signer` when given.
    pub fn redirect_url(&self, relay_state: &str, signer: Option<Signer<'_>>) -> String {
        redirect_url(self.sso_url, "SAMLRequest", &self.xml(), Some(relay_state), signer)
    }
}

/// What a query value keeps unencoded: RFC 3986's unreserved characters. A verifier that
/// rebuilds the signed text by encoding the values again (samlify does) gets the very
/// bytes that were signed, since no value here holds any of `!*'()`.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The key pair and algorithm that sign what the broker sends.
#[derive(Clone, Copy)]
pub struct Signer<'a> {
    pub pair: &'a KeyPair,
    pub algorithm: SigningAlgorithm,
}

/// A SAML message by the HTTP-Redirect binding: `message` (XML) DEFLATEd, base64 and
/// URL-encoded in `field`, then `RelayState`, then, when signed, `SigAlg` and the
/// `Signature` over exactly those parameters as they appear in the URL (bindings
/// §3.4.4.1). Parameters `endpoint` already has are kept before them.
pub fn redirect_url(endpoint: &str, field: &str, message: &str, relay_state: Option<&str>, signer: Option<Signer<'_>>) -> String {
    let encode = |value: &str| utf8_percent_encode(value, QUERY_VALUE).to_string();
    let deflated = miniz_oxide::deflate::compress_to_vec(message.as_bytes(), 6);
    let mut query = format!("{field}={}", encode(&STANDARD.encode(deflated)));
    if let Some(relay_state) = relay_state {
        query.push_str(&format!("&RelayState={}", encode(relay_state)));
    }
    if let Some(Signer { pair, algorithm }) = signer {
        query.push_str(&format!("&SigAlg={}", encode(algorithm.uri())));
        let signature = pair.sign(algorithm, query.as_bytes());
        query.push_str(&format!("&Signature={}", encode(&STANDARD.encode(signature))));
    }
    let joiner = if endpoint.contains('?') { '&' } else { '?' };
    format!("{endpoint}{joiner}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_travels_deflated_and_reads_back_as_sent() {
        let classes = vec!["urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport".to_owned()];
        let request = AuthnRequest {
            id: "_abc",
            issued_at: 1_800_000_000,
            sso_url: "https://idp.example.com/sso?tenant=a&b",
            acs_url: "https://broker.example.com/saml/sso",
            sp_entity_id: "https://broker.example.com/saml/metadata",
            name_id_format: "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
            authn_context: &classes,
            force_authn: true,
        };
        let url = request.redirect_url("state-1", None);
        let (_, query) = url.split_once("?tenant=a&b&").unwrap();
        let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        assert_eq!(params[1], ("RelayState".to_owned(), "state-1".to_owned()));
        let deflated = STANDARD.decode(&params[0].1).unwrap();
        let xml = String::from_utf8(miniz_oxide::inflate::decompress_to_vec(&deflated).unwrap()).unwrap();
        assert_eq!(xml, request.xml());
        let doc = super::super::xml::parse(&xml).unwrap();
        let root = doc.document_element().unwrap();
        assert_eq!(super::super::xml::attribute(&doc, root, "IssueInstant"), Some("2027-01-15T08:00:00Z"));
        assert!(xml.contains(r#"ForceAuthn="true""#) && xml.contains("PasswordProtectedTransport"));
        assert!(xml.contains(r#"Destination="https://idp.example.com/sso?tenant=a&amp;b""#), "attributes are escaped");
        assert!(!url.contains("Signature="), "unsigned without a key pair");
    }

    #[test]
    fn a_signed_request_signs_its_parameters_as_they_appear_in_the_url() {
        use rsa_fast::pkcs1v15::{Signature, VerifyingKey};
        use rsa_fast::signature::Verifier;
        let pair = crate::protocol::saml::credentials::tests::sp_pair();
        let signer = Signer { pair: &pair, algorithm: SigningAlgorithm::RsaSha256 };
        let url = redirect_url("https://idp.example.com/sso?tenant=a", "SAMLRequest", "<x/>", Some("state 1"), Some(signer));
        let (_, query) = url.split_once("?tenant=a&").unwrap();
        let (signed, signature) = query.split_once("&Signature=").unwrap();
        assert!(
            signed.starts_with("SAMLRequest=")
                && signed.contains("&RelayState=state%201&SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256")
        );
        let signature = percent_encoding::percent_decode_str(signature).decode_utf8().unwrap();
        let signature = Signature::try_from(STANDARD.decode(signature.as_bytes()).unwrap().as_slice()).unwrap();
        let public = crate::protocol::signing_key::rsa_key_from_certificate(&STANDARD.decode(pair.certificate()).unwrap()).unwrap();
        let verifying = VerifyingKey::<sha2_fast::Sha256>::new(public);
        assert!(verifying.verify(signed.as_bytes(), &signature).is_ok());
        assert!(verifying.verify(signed.replace("state%201", "state%202").as_bytes(), &signature).is_err());
    }
}

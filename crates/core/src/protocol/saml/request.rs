//! The AuthnRequest, sent by the HTTP-Redirect binding (bindings §3.4): DEFLATE,
//! base64 and URL-encoded in `SAMLRequest`, with the sign-in's `state` as `RelayState`.
//! It is not signed (our metadata says so): what binds the answer to this browser is
//! its `ID`, kept in the sealed sign-in and required back as `InResponseTo`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use super::metadata::POST_BINDING;
use super::xml::{ASSERTION, PROTOCOL};
use crate::base::markup::escape;
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
        let issued_at = chrono::DateTime::from_timestamp(self.issued_at as i64, 0).unwrap_or_default().format("%Y-%m-%dT%H:%M:%SZ");
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
    /// request and `relay_state`.
    pub fn redirect_url(&self, relay_state: &str) -> String {
        let deflated = miniz_oxide::deflate::compress_to_vec(self.xml().as_bytes(), 6);
        let encoded = utf8_percent_encode(&STANDARD.encode(deflated), NON_ALPHANUMERIC).to_string();
        let joiner = if self.sso_url.contains('?') { '&' } else { '?' };
        let relay_state = utf8_percent_encode(relay_state, NON_ALPHANUMERIC);
        format!("{}{joiner}SAMLRequest={encoded}&RelayState={relay_state}", self.sso_url)
    }
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
        let url = request.redirect_url("state-1");
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
    }
}

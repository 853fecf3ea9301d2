//! SAML single logout (profiles §4.4), as HAS does it with `SAML_IDP_SLO_URL`: the
//! broker's `LogoutRequest` to the identity provider when a browser signs out, and, at
//! `/saml/slo`, the identity provider's answer to it or its own `LogoutRequest`, which
//! the broker answers with a `LogoutResponse`. The broker sends by the HTTP-Redirect
//! binding (signed when it has a key pair) and reads both bindings. A `LogoutRequest`
//! from the identity provider must be signed with its key: an unsigned one would let any
//! page sign a person out.

use bergshamra_xml::uppsala::Document;
use rsa_fast::PublicKey;
use serde::{Deserialize, Serialize};

use super::form_field;
use super::signature::{Signed, check_enveloped, check_query_signature};
use super::xml::{self, ASSERTION, PROTOCOL};
use crate::base::markup::escape;
use crate::state::UnixTime;

/// Where the identity provider sends logout messages (GET or POST).
pub const SLO_PATH: &str = "/saml/slo";

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// Whom a logout names: the subject and session of the sign-in, kept (sealed) in the
/// browser's session cookie until it signs out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedInAs {
    pub name_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_id_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_index: Option<String>,
}

/// The broker's `LogoutRequest`.
pub struct LogoutRequest<'a> {
    pub id: &'a str,
    pub issued_at: UnixTime,
    pub destination: &'a str,
    pub issuer: &'a str,
    pub signed_in_as: &'a SignedInAs,
}

impl LogoutRequest<'_> {
    pub fn xml(&self) -> String {
        let e = escape;
        let format = self.signed_in_as.name_id_format.as_deref().map(|format| format!(r#" Format="{}""#, e(format))).unwrap_or_default();
        let session =
            self.signed_in_as.session_index.as_deref().map(|index| format!("<samlp:SessionIndex>{}</samlp:SessionIndex>", e(index)));
        format!(
            concat!(
                r#"<samlp:LogoutRequest xmlns:samlp="{protocol}" xmlns:saml="{assertion}" ID="{id}" Version="2.0" IssueInstant="{at}" Destination="{destination}">"#,
                r#"<saml:Issuer>{issuer}</saml:Issuer><saml:NameID{format}>{name_id}</saml:NameID>{session}</samlp:LogoutRequest>"#
            ),
            protocol = PROTOCOL,
            assertion = ASSERTION,
            id = e(self.id),
            at = xml::instant(self.issued_at),
            destination = e(self.destination),
            issuer = e(self.issuer),
            format = format,
            name_id = e(&self.signed_in_as.name_id),
            session = session.unwrap_or_default(),
        )
    }
}

/// The broker's `LogoutResponse` to the identity provider's `LogoutRequest`.
pub struct LogoutResponse<'a> {
    pub id: &'a str,
    pub issued_at: UnixTime,
    pub destination: &'a str,
    pub issuer: &'a str,
    pub in_response_to: &'a str,
}

impl LogoutResponse<'_> {
    pub fn xml(&self) -> String {
        let e = escape;
        format!(
            concat!(
                r#"<samlp:LogoutResponse xmlns:samlp="{protocol}" xmlns:saml="{assertion}" ID="{id}" Version="2.0" IssueInstant="{at}" Destination="{destination}" InResponseTo="{in_response_to}">"#,
                r#"<saml:Issuer>{issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="{success}"/></samlp:Status></samlp:LogoutResponse>"#
            ),
            protocol = PROTOCOL,
            assertion = ASSERTION,
            id = e(self.id),
            at = xml::instant(self.issued_at),
            destination = e(self.destination),
            in_response_to = e(self.in_response_to),
            issuer = e(self.issuer),
            success = SUCCESS,
        )
    }
}

/// A message received at `/saml/slo`, decoded but not yet checked.
pub struct Received {
    pub xml: String,
    pub relay_state: Option<String>,
    binding: Binding,
}

enum Binding {
    /// The query as received: its signature covers the parameters byte for byte.
    Redirect {
        raw_query: String,
        field: &'static str,
    },
    Post,
}

/// The largest logout message read (they are a few hundred bytes).
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;

impl Received {
    /// A GET's query: `SAMLRequest` or `SAMLResponse`, DEFLATEd (HTTP-Redirect).
    pub fn from_query(query: &str) -> Result<Self, &'static str> {
        let (field, encoded) = message_field(query.as_bytes())?;
        let deflated = xml::base64(&encoded).ok_or("its message is not base64")?;
        let inflated = miniz_oxide::inflate::decompress_to_vec_with_limit(&deflated, MAX_MESSAGE_BYTES)
            .map_err(|_| "its message is not DEFLATE data of a logout message's size")?;
        let xml = String::from_utf8(inflated).map_err(|_| "its message is not UTF-8 text")?;
        let relay_state = form_field(query.as_bytes(), "RelayState");
        Ok(Self { xml, relay_state, binding: Binding::Redirect { raw_query: query.to_owned(), field } })
    }

    /// A POST's form: `SAMLRequest` or `SAMLResponse` in base64 (HTTP-POST).
    pub fn from_form(form: &[u8]) -> Result<Self, &'static str> {
        let (_, encoded) = message_field(form)?;
        let bytes = xml::base64(&encoded).ok_or("its message is not base64")?;
        let xml = String::from_utf8(bytes).map_err(|_| "its message is not UTF-8 text")?;
        Ok(Self { xml, relay_state: form_field(form, "RelayState"), binding: Binding::Post })
    }
}

fn message_field(form: &[u8]) -> Result<(&'static str, String), &'static str> {
    match (form_field(form, "SAMLRequest"), form_field(form, "SAMLResponse")) {
        (Some(request), None) => Ok(("SAMLRequest", request)),
        (None, Some(response)) => Ok(("SAMLResponse", response)),
        _ => Err("it carries neither one SAMLRequest nor one SAMLResponse"),
    }
}

/// What a checked logout message says.
#[derive(Debug, PartialEq)]
pub enum LogoutMessage {
    /// The identity provider ends the sign-in of this subject; answer `id`.
    Request { id: String, name_id: String },
    /// The identity provider's answer to our `LogoutRequest`: whether it succeeded.
    Response { succeeded: bool, status: String },
}

/// What the browser is told after a logout message from the identity provider.
#[derive(Debug, PartialEq)]
pub enum LoggedOut {
    /// Our `LogoutResponse`, by redirect, to the identity provider that asked.
    Answered(String),
    /// The identity provider ended its session too.
    Everywhere,
    /// The identity provider says it did not (its status code).
    HereOnly { status: String },
}

/// Why a logout message was refused.
#[derive(Debug, PartialEq)]
pub struct LogoutRefusal(pub String);

/// The `Issuer` a logout message names (which identity provider to check it against).
pub fn issuer(received: &Received) -> Result<String, LogoutRefusal> {
    let doc = parse(received)?;
    let root = doc.document_element().ok_or_else(|| refused("it is empty"))?;
    xml::only_child(&doc, root, ASSERTION, "Issuer")
        .and_then(|issuer| xml::text(&doc, issuer))
        .map(|text| text.trim().to_owned())
        .ok_or_else(|| refused("it names no Issuer"))
}

fn parse(received: &Received) -> Result<Document<'_>, LogoutRefusal> {
    if received.xml.len() > MAX_MESSAGE_BYTES {
        return Err(refused("it is too large"));
    }
    xml::parse(&received.xml).map_err(|why| LogoutRefusal(format!("the logout message was refused: {why}")))
}

fn refused(why: &str) -> LogoutRefusal {
    LogoutRefusal(format!("the logout message was refused: {why}"))
}

/// Checks `received` as the identity provider `idp_entity_id`'s, sent to `slo_url`:
/// a `LogoutRequest` signed with one of `keys` (by its binding), or a `LogoutResponse`
/// whose signature, if it has one, holds.
pub fn check(received: &Received, idp_entity_id: &str, slo_url: &str, keys: &[PublicKey]) -> Result<LogoutMessage, LogoutRefusal> {
    let doc = parse(received)?;
    let root = doc.document_element().ok_or_else(|| refused("it is empty"))?;
    let is_request = xml::is(&doc, root, PROTOCOL, "LogoutRequest");
    if !is_request && !xml::is(&doc, root, PROTOCOL, "LogoutResponse") {
        return Err(refused("it is neither a LogoutRequest nor a LogoutResponse"));
    }
    if xml::attribute(&doc, root, "Version") != Some("2.0") {
        return Err(refused("it is not SAML 2.0"));
    }
    let signed = match &received.binding {
        Binding::Redirect { raw_query, field } => check_query_signature(raw_query, field, keys),
        Binding::Post => check_enveloped(&doc, root, keys, "logout message"),
    }
    .map_err(|why| refused(&why))?;
    if xml::only_child(&doc, root, ASSERTION, "Issuer").and_then(|issuer| xml::text(&doc, issuer)).as_deref().map(str::trim)
        != Some(idp_entity_id)
    {
        return Err(refused("it was not issued by the configured identity provider"));
    }
    if let Some(destination) = xml::attribute(&doc, root, "Destination")
        && destination != slo_url
    {
        return Err(refused(&format!("it is addressed to `{}`, not to this broker", xml::shown(destination))));
    }
    if is_request {
        if matches!(signed, Signed::No) {
            return Err(refused("the identity provider's LogoutRequest is not signed"));
        }
        let id = xml::attribute(&doc, root, "ID").filter(|id| !id.is_empty()).ok_or_else(|| refused("it has no ID"))?;
        let name_id = xml::only_child(&doc, root, ASSERTION, "NameID")
            .filter(|node| !xml::holds_comments(&doc, *node))
            .and_then(|node| xml::text(&doc, node))
            .ok_or_else(|| refused("it names no NameID"))?;
        return Ok(LogoutMessage::Request { id: id.to_owned(), name_id });
    }
    let status = xml::only_child(&doc, root, PROTOCOL, "Status")
        .and_then(|status| xml::only_child(&doc, status, PROTOCOL, "StatusCode"))
        .and_then(|code| xml::attribute(&doc, code, "Value"))
        .ok_or_else(|| refused("it has no status"))?;
    Ok(LogoutMessage::Response { succeeded: status == SUCCESS, status: xml::shown(status.rsplit(':').next().unwrap_or(status)) })
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    use super::*;
    use crate::protocol::saml::credentials::SigningAlgorithm;
    use crate::protocol::saml::credentials::tests::{other_pair, sp_pair};
    use crate::protocol::saml::request::{Signer, redirect_url};
    use crate::protocol::signing_key::rsa_key_from_certificate;

    const IDP: &str = "https://idp.example.com/metadata";
    const SLO: &str = "https://broker.example.com/saml/slo";

    fn signed_in_as() -> SignedInAs {
        SignedInAs { name_id: "jdoe@example.com".into(), name_id_format: Some("urn:email".into()), session_index: Some("_s1".into()) }
    }

    /// The identity provider's `LogoutRequest` as it would send it (signed by the test pair
    /// standing in for its key), received as the broker reads the redirect.
    fn from_idp(issuer: &str, signed: bool) -> Received {
        let request = LogoutRequest { id: "_idp1", issued_at: 1_800_000_000, destination: SLO, issuer, signed_in_as: &signed_in_as() };
        let pair = sp_pair();
        let signer = signed.then_some(Signer { pair: &pair, algorithm: SigningAlgorithm::RsaSha256 });
        let url = redirect_url(SLO, "SAMLRequest", &request.xml(), Some("relay"), signer);
        Received::from_query(url.split_once('?').unwrap().1).unwrap()
    }

    fn idp_keys() -> Vec<PublicKey> {
        vec![rsa_key_from_certificate(&STANDARD.decode(sp_pair().certificate()).unwrap()).unwrap()]
    }

    #[test]
    fn the_identity_providers_signed_logout_request_is_read_and_names_whom_to_sign_out() {
        let received = from_idp(IDP, true);
        assert_eq!(issuer(&received).unwrap(), IDP);
        assert_eq!(received.relay_state.as_deref(), Some("relay"));
        let message = check(&received, IDP, SLO, &idp_keys()).unwrap();
        assert_eq!(message, LogoutMessage::Request { id: "_idp1".into(), name_id: "jdoe@example.com".into() });
    }

    #[test]
    fn a_logout_request_that_is_unsigned_forged_or_from_elsewhere_is_refused() {
        let refusal = |received: &Received, keys: &[PublicKey], slo: &str| check(received, IDP, slo, keys).unwrap_err().0;
        assert!(refusal(&from_idp(IDP, false), &idp_keys(), SLO).contains("not signed"));
        let other = vec![rsa_key_from_certificate(&STANDARD.decode(other_pair().certificate()).unwrap()).unwrap()];
        assert!(refusal(&from_idp(IDP, true), &other, SLO).contains("not made with the identity provider's key"));
        assert!(refusal(&from_idp("https://evil.example.com", true), &idp_keys(), SLO).contains("not issued by the configured"));
        assert!(refusal(&from_idp(IDP, true), &idp_keys(), "https://other.example.com/saml/slo").contains("addressed to"));
        // A parameter changed after signing.
        let Binding::Redirect { raw_query, .. } = &from_idp(IDP, true).binding else { panic!("redirect") };
        let changed = Received::from_query(&raw_query.replace("RelayState=relay", "RelayState=other")).unwrap();
        assert!(refusal(&changed, &idp_keys(), SLO).contains("not made with"));
        // By POST, the signature is the enveloped kind; there is none here.
        let request = LogoutRequest { id: "_p", issued_at: 1_800_000_000, destination: SLO, issuer: IDP, signed_in_as: &signed_in_as() };
        let form = form_urlencoded::Serializer::new(String::new()).append_pair("SAMLRequest", &STANDARD.encode(request.xml())).finish();
        assert!(refusal(&Received::from_form(form.as_bytes()).unwrap(), &idp_keys(), SLO).contains("not signed"));
        assert!(Received::from_query("RelayState=x").is_err());
    }

    #[test]
    fn the_answer_to_our_logout_request_says_whether_the_identity_provider_signed_out_too() {
        let answer = |status: &str| {
            let xml = LogoutResponse { id: "_r", issued_at: 1_800_000_000, destination: SLO, issuer: IDP, in_response_to: "_ours" }
                .xml()
                .replace(SUCCESS, status);
            let url = redirect_url(SLO, "SAMLResponse", &xml, None, None);
            check(&Received::from_query(url.split_once('?').unwrap().1).unwrap(), IDP, SLO, &idp_keys()).unwrap()
        };
        assert_eq!(answer(SUCCESS), LogoutMessage::Response { succeeded: true, status: "Success".into() });
        assert_eq!(
            answer("urn:oasis:names:tc:SAML:2.0:status:PartialLogout"),
            LogoutMessage::Response { succeeded: false, status: "PartialLogout".into() }
        );
    }

    #[test]
    fn our_logout_request_names_the_subject_and_session_escaped() {
        let who = SignedInAs { name_id: "a&b".into(), ..signed_in_as() };
        let xml = LogoutRequest { id: "_x", issued_at: 1_800_000_000, destination: SLO, issuer: "urn:sp", signed_in_as: &who }.xml();
        let doc = xml::parse(&xml).unwrap();
        let root = doc.document_element().unwrap();
        let name_id = xml::only_child(&doc, root, ASSERTION, "NameID").unwrap();
        assert_eq!((xml::text(&doc, name_id).unwrap().as_str(), xml::attribute(&doc, name_id, "Format")), ("a&b", Some("urn:email")));
        assert!(xml.contains("<samlp:SessionIndex>_s1</samlp:SessionIndex>"));
    }
}

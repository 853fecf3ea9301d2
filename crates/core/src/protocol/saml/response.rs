//! The Assertion Consumer Service's check of a SAML Response (Web Browser SSO
//! profile, HTTP-POST binding): one parse, then every rule of the profile the broker
//! relies on, with the claims read only from the assertion the checked signatures
//! cover. A plain function over plain values, on an injected clock.

use std::fmt;

use bergshamra_xml::uppsala::{Document, NodeId};
use rsa_fast::PublicKey;

use super::credentials::SpCredentials;
use super::encryption::{self, Undecrypted};
use super::signature::{Signed, check_enveloped};
use super::xml::{self, ASSERTION, PROTOCOL};
use crate::base::failure::{SignInFailure, SignInFailureKind};
use crate::protocol::signing_key::LEEWAY_SECS;
use crate::state::UnixTime;

/// A Response larger than this is refused unread (real ones are a few KiB).
pub const MAX_RESPONSE_BYTES: usize = 128 * 1024;

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// What the Response must say, from the configuration and the sign-in it answers.
pub struct Expected<'a> {
    pub idp_entity_id: &'a str,
    pub answering: Answering<'a>,
    pub keys: &'a [PublicKey],
    /// Our key pairs, when set: an encrypted assertion or NameID is opened with them.
    pub credentials: Option<&'a SpCredentials>,
    pub want_response_signed: bool,
    pub want_assertion_signed: bool,
    /// With `forceAuthn`: when the browser was sent out. The user must have signed in
    /// since (`AuthnInstant`), or the identity provider ignored the demand.
    pub fresh_sign_in_since: Option<UnixTime>,
    pub now: UnixTime,
}

/// Whose sign-in the answer is.
pub enum Answering<'a> {
    /// This broker's own: it must come to our Assertion Consumer Service, for our
    /// audience, naming the AuthnRequest this browser's sign-in sent.
    ThisSignIn { acs_url: &'a str, audience: &'a str, request_id: &'a str },
    /// Another service provider's, that its client brings to be checked (HAS's
    /// `/saml/validate`, for Helix Swarm): where it was posted, for whom and to which
    /// request are that service provider's, so none is checked here, as HAS checks none.
    AnotherServiceProvider,
}

/// What a checked assertion says.
#[derive(Debug, PartialEq)]
pub struct Asserted {
    pub assertion_id: String,
    /// The last second the assertion passes these checks: how long its single use
    /// must be remembered.
    pub usable_until: UnixTime,
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub session_index: Option<String>,
    /// Each attribute by name, with its text values in order.
    pub attributes: Vec<(String, Vec<String>)>,
}

/// Why an answer was not accepted: one kind per rule, for tests to match on; the text
/// (`Display`) is what the person and the client are told.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// The identity provider says it did not sign the user in: its status code.
    NotSignedIn {
        status: String,
    },
    TooLarge,
    /// The XML parser's reason.
    Unreadable(String),
    NotAResponse,
    NotSaml2,
    NoStatus,
    /// Encrypted, with no key of ours set to decrypt it.
    EncryptedAssertion,
    /// What was encrypted, and why it was not opened.
    Decryption {
        what: &'static str,
        why: Undecrypted,
    },
    AssertionBesideEncrypted,
    DecryptedNotOneAssertion,
    AssertionMisplaced,
    AssertionCount(usize),
    /// The signature check's reason.
    Signature(String),
    ResponseUnsigned,
    AssertionUnsigned,
    Unsigned,
    RepeatedId(String),
    Destination(String),
    NoDestination,
    InResponseTo,
    SeveralIssuers,
    Issuer(String),
    NotExactlyOne(&'static str),
    AssertionNotSaml2,
    AssertionWithoutId,
    EncryptedNameId,
    EmptyNameId,
    Recipient,
    ConfirmationInResponseTo,
    /// An unsigned Response around a signed assertion that names no sign-in.
    Unsolicited,
    ConfirmationNotYetValid,
    ConfirmationWithoutExpiry,
    ConfirmationExpired,
    NoBearerConfirmation,
    NotYetValid,
    Expired,
    NoAudience,
    /// Not meant for the audience expected (named).
    Audience(String),
    NoAuthnStatement,
    NoAuthnInstant,
    StaleSignIn,
    CommentInAttribute(String),
    Comment(&'static str),
    Markup(&'static str),
    NotATime(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotSignedIn { status } => write!(f, "the identity provider did not sign the user in (status {status})"),
            Self::TooLarge => write!(f, "it is larger than {MAX_RESPONSE_BYTES} bytes"),
            Self::Unreadable(why) | Self::Signature(why) => f.write_str(why),
            Self::NotAResponse => f.write_str("it is not a Response"),
            Self::NotSaml2 => f.write_str("it is not SAML 2.0"),
            Self::NoStatus => f.write_str("it has no status"),
            Self::EncryptedAssertion => f.write_str(
                "its assertion is encrypted, and no saml_sp_key is set to decrypt it: set saml_sp_key and saml_sp_cert, or have the identity provider sign without encrypting",
            ),
            Self::Decryption { what, why } => write!(f, "its encrypted {what} was refused: {why}"),
            Self::AssertionBesideEncrypted => f.write_str("it holds an assertion beside its encrypted one"),
            Self::DecryptedNotOneAssertion => f.write_str("its encrypted assertion does not hold exactly one assertion"),
            Self::AssertionMisplaced => f.write_str("its assertion is not where the profile puts it (a child of the Response)"),
            Self::AssertionCount(found) => write!(f, "it must hold exactly one assertion, and holds {found}"),
            Self::ResponseUnsigned => f.write_str("the Response is not signed"),
            Self::AssertionUnsigned => f.write_str("the assertion is not signed"),
            Self::Unsigned => f.write_str("neither the Response nor its assertion is signed"),
            Self::RepeatedId(id) => write!(f, "the ID `{id}` appears twice"),
            Self::Destination(destination) => write!(f, "it is addressed to `{destination}`, not to this broker"),
            Self::NoDestination => f.write_str("it is signed but names no Destination"),
            Self::InResponseTo => f.write_str("it does not answer the sign-in this browser started (InResponseTo)"),
            Self::SeveralIssuers => f.write_str("it names more than one Issuer"),
            Self::Issuer(issuer) => write!(f, "it was issued by `{issuer}`, not by the configured identity provider"),
            Self::NotExactlyOne(name) => write!(f, "its assertion needs exactly one {name}"),
            Self::AssertionNotSaml2 => f.write_str("its assertion is not SAML 2.0"),
            Self::AssertionWithoutId => f.write_str("its assertion has no ID"),
            Self::EncryptedNameId => f.write_str("its NameID is encrypted, and no saml_sp_key is set to decrypt it"),
            Self::EmptyNameId => f.write_str("its NameID is empty"),
            Self::Recipient => f.write_str("its subject confirmation names another recipient"),
            Self::ConfirmationInResponseTo => f.write_str("its subject confirmation answers another sign-in (InResponseTo)"),
            Self::Unsolicited => f.write_str(
                "its Response is not signed, so its signed assertion must name the sign-in it answers (SubjectConfirmationData InResponseTo), and it does not",
            ),
            Self::ConfirmationNotYetValid => f.write_str("its subject confirmation is not valid yet"),
            Self::ConfirmationWithoutExpiry => f.write_str("its subject confirmation has no NotOnOrAfter"),
            Self::ConfirmationExpired => f.write_str("its subject confirmation has expired"),
            Self::NoBearerConfirmation => f.write_str("its subject has no bearer confirmation"),
            Self::NotYetValid => f.write_str("it is not valid yet (NotBefore)"),
            Self::Expired => f.write_str("it has expired (NotOnOrAfter)"),
            Self::NoAudience => f.write_str("it names no audience"),
            Self::Audience(expected) => write!(f, "it is meant for another audience than `{expected}`"),
            Self::NoAuthnStatement => f.write_str("it has no AuthnStatement"),
            Self::NoAuthnInstant => f.write_str("its AuthnStatement has no AuthnInstant"),
            Self::StaleSignIn => f.write_str(
                "the user signed in before this login demanded a fresh sign-in (forceAuthn), so the identity provider ignored it",
            ),
            Self::CommentInAttribute(name) => write!(f, "a value of its attribute `{name}` holds a comment"),
            Self::Comment(name) => write!(f, "its {name} holds a comment"),
            Self::Markup(name) => write!(f, "its {name} holds markup, not text"),
            Self::NotATime(text) => write!(f, "`{text}` is not a time"),
        }
    }
}

impl From<Refusal> for SignInFailure {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NotSignedIn { .. } => SignInFailure::new(SignInFailureKind::AccessDenied, refusal.to_string()),
            refusal => SignInFailure::new(SignInFailureKind::InvalidAssertion, format!("the SAML response was refused: {refusal}")),
        }
    }
}

/// Checks `xml`, the decoded `SAMLResponse`, against `expected`.
pub fn check(xml: &str, expected: &Expected<'_>) -> Result<Asserted, Refusal> {
    if xml.len() > MAX_RESPONSE_BYTES {
        return Err(Refusal::TooLarge);
    }
    let doc = xml::parse(xml).map_err(Refusal::Unreadable)?;
    let response = doc.document_element().filter(|root| xml::is(&doc, *root, PROTOCOL, "Response")).ok_or(Refusal::NotAResponse)?;
    if xml::attribute(&doc, response, "Version") != Some("2.0") {
        return Err(Refusal::NotSaml2);
    }
    refuse_repeated_ids(&doc, None)?;

    // The status first: an identity provider that refused the user sends no assertion.
    let status = xml::only_child(&doc, response, PROTOCOL, "Status")
        .and_then(|status| xml::only_child(&doc, status, PROTOCOL, "StatusCode"))
        .and_then(|code| xml::attribute(&doc, code, "Value"))
        .ok_or(Refusal::NoStatus)?;
    if status != SUCCESS {
        let code = status.rsplit(':').next().unwrap_or(status);
        return Err(Refusal::NotSignedIn { status: xml::shown(code) });
    }

    let encrypted = xml::everywhere(&doc, ASSERTION, "EncryptedAssertion");
    let assertions = xml::everywhere(&doc, ASSERTION, "Assertion");
    // The Response's signature covers the assertion as it came, encrypted or not.
    let response_signed = || check_enveloped(&doc, response, expected.keys, "Response").map_err(Refusal::Signature);
    let holder = match (encrypted.as_slice(), assertions.as_slice()) {
        ([], [only]) if doc.parent(*only) == Some(response) => {
            let response_signed = response_signed()?;
            let assertion_signed = check_enveloped(&doc, *only, expected.keys, "assertion").map_err(Refusal::Signature)?;
            return check_signed(&doc, response, response_signed, &doc, (*only, assertion_signed), expected);
        }
        ([], [_]) => return Err(Refusal::AssertionMisplaced),
        ([], found) => return Err(Refusal::AssertionCount(found.len())),
        ([only], []) if doc.parent(*only) == Some(response) => *only,
        ([_], []) => return Err(Refusal::AssertionMisplaced),
        ([_], [_, ..]) => return Err(Refusal::AssertionBesideEncrypted),
        (found, _) => return Err(Refusal::AssertionCount(found.len())),
    };
    let credentials = expected.credentials.ok_or(Refusal::EncryptedAssertion)?;
    let response_signed = response_signed()?;
    // A Response that must be signed and is not is refused before anything is decrypted:
    // by default no unsigned ciphertext is ever opened.
    if matches!(response_signed, Signed::No) && expected.want_response_signed {
        return Err(Refusal::ResponseUnsigned);
    }
    let decrypted = encryption::decrypt(&doc, holder, credentials).map_err(|why| Refusal::Decryption { what: "assertion", why })?;
    // Until a signature vouches for the decrypted assertion, a changed ciphertext must not
    // learn how its plaintext read: every refusal up to that point reads the same.
    let vouched = decrypted.authenticated || matches!(response_signed, Signed::Yes);
    let hidden = |refusal: Refusal| {
        if vouched { refusal } else { Refusal::Decryption { what: "assertion", why: Undecrypted::Garbled } }
    };
    let wrapped = xml::in_context_of(&doc, holder, &decrypted.text);
    let inner = xml::parse(&wrapped)
        .map_err(|_| hidden(Refusal::Decryption { what: "assertion", why: Undecrypted::Shape("assertion (not XML)") }))?;
    let assertion = xml::wrapped_element(&inner)
        .filter(|element| xml::is(&inner, *element, ASSERTION, "Assertion"))
        .filter(|_| xml::everywhere(&inner, ASSERTION, "Assertion").len() == 1)
        .filter(|_| xml::everywhere(&inner, ASSERTION, "EncryptedAssertion").is_empty())
        .ok_or_else(|| hidden(Refusal::DecryptedNotOneAssertion))?;
    refuse_repeated_ids(&doc, Some(&inner)).map_err(hidden)?;
    let assertion_signed = check_enveloped(&inner, assertion, expected.keys, "assertion").map_err(|why| hidden(Refusal::Signature(why)))?;
    if matches!(assertion_signed, Signed::No) && !vouched {
        return Err(hidden(Refusal::Unsigned));
    }
    check_signed(&doc, response, response_signed, &inner, (assertion, assertion_signed), expected)
}

/// The signature rules, then the Response's and the assertion's checks, reading the
/// assertion where it is: in the Response's document, or in its decrypted one.
fn check_signed(
    doc: &Document<'_>,
    response: NodeId,
    response_signed: Signed,
    assertion_doc: &Document<'_>,
    (assertion, assertion_signed): (NodeId, Signed),
    expected: &Expected<'_>,
) -> Result<Asserted, Refusal> {
    match (&response_signed, &assertion_signed) {
        (Signed::No, _) if expected.want_response_signed => return Err(Refusal::ResponseUnsigned),
        (_, Signed::No) if expected.want_assertion_signed => return Err(Refusal::AssertionUnsigned),
        (Signed::No, Signed::No) => return Err(Refusal::Unsigned),
        _ => {}
    }

    let response_signed = matches!(response_signed, Signed::Yes);
    check_response(doc, response, response_signed, expected)?;
    read_assertion(assertion_doc, assertion, response_signed, expected)
}

/// Signature wrapping hides a second element under a signed one's `ID`: no ID may
/// appear twice anywhere in the document, or in it and its decrypted assertion.
fn refuse_repeated_ids<'d>(doc: &'d Document<'_>, decrypted: Option<&'d Document<'_>>) -> Result<(), Refusal> {
    let ids_of = |doc: &'d Document<'_>| doc.descendants(doc.root()).into_iter().filter_map(move |node| xml::attribute(doc, node, "ID"));
    let mut ids: Vec<&str> = ids_of(doc).chain(decrypted.into_iter().flat_map(ids_of)).collect();
    ids.sort_unstable();
    match ids.windows(2).find(|pair| pair[0] == pair[1]) {
        Some(pair) => Err(Refusal::RepeatedId(xml::shown(pair[0]))),
        None => Ok(()),
    }
}

fn check_response(doc: &Document<'_>, response: NodeId, signed: bool, expected: &Expected<'_>) -> Result<(), Refusal> {
    if let Answering::ThisSignIn { acs_url, request_id, .. } = expected.answering {
        match xml::attribute(doc, response, "Destination") {
            Some(destination) if destination != acs_url => {
                return Err(Refusal::Destination(xml::shown(destination)));
            }
            // SAML bindings §3.5.5.2: a signed Response names where it goes.
            None if signed => return Err(Refusal::NoDestination),
            _ => {}
        }
        if xml::attribute(doc, response, "InResponseTo") != Some(request_id) {
            return Err(Refusal::InResponseTo);
        }
    }
    match xml::children(doc, response, ASSERTION, "Issuer").as_slice() {
        [] => Ok(()),
        [issuer] => check_issuer(doc, *issuer, expected),
        _ => Err(Refusal::SeveralIssuers),
    }
}

fn check_issuer(doc: &Document<'_>, issuer: NodeId, expected: &Expected<'_>) -> Result<(), Refusal> {
    match value(doc, issuer, "Issuer")? {
        issuer if issuer.trim() == expected.idp_entity_id => Ok(()),
        issuer => Err(Refusal::Issuer(xml::shown(&issuer))),
    }
}

/// `response_signed`: whether the Response around the assertion is signed; if not, its
/// `InResponseTo` is anyone's to write, and only the signed assertion can say which
/// sign-in it answers.
fn read_assertion(doc: &Document<'_>, assertion: NodeId, response_signed: bool, expected: &Expected<'_>) -> Result<Asserted, Refusal> {
    let (now, skew) = (expected.now as i64, LEEWAY_SECS);
    let child = |parent: NodeId, name: &'static str| xml::only_child(doc, parent, ASSERTION, name).ok_or(Refusal::NotExactlyOne(name));
    if xml::attribute(doc, assertion, "Version") != Some("2.0") {
        return Err(Refusal::AssertionNotSaml2);
    }
    let assertion_id = xml::attribute(doc, assertion, "ID").filter(|id| !id.is_empty()).ok_or(Refusal::AssertionWithoutId)?;
    check_issuer(doc, child(assertion, "Issuer")?, expected)?;

    let subject = child(assertion, "Subject")?;
    let (name_id, name_id_format) = match xml::children(doc, subject, ASSERTION, "EncryptedID").as_slice() {
        [] => {
            let node = child(subject, "NameID")?;
            (value(doc, node, "NameID")?, xml::attribute(doc, node, "Format").map(str::to_owned))
        }
        [encrypted] if xml::children(doc, subject, ASSERTION, "NameID").is_empty() => decrypted_name_id(doc, *encrypted, expected)?,
        _ => return Err(Refusal::NotExactlyOne("NameID")),
    };
    if name_id.trim().is_empty() {
        return Err(Refusal::EmptyNameId);
    }

    // Bearer confirmation (profiles §4.1.4.2): for us, from this sign-in, still usable.
    let mut confirmed = false;
    let mut usable_until = i64::MAX;
    for confirmation in xml::children(doc, subject, ASSERTION, "SubjectConfirmation") {
        let Some(data) = xml::only_child(doc, confirmation, ASSERTION, "SubjectConfirmationData") else { continue };
        let attr = |name| xml::attribute(doc, data, name);
        if xml::attribute(doc, confirmation, "Method") != Some(BEARER) {
            continue;
        }
        if let Answering::ThisSignIn { acs_url, request_id, .. } = expected.answering {
            if attr("Recipient") != Some(acs_url) {
                return Err(Refusal::Recipient);
            }
            match attr("InResponseTo") {
                Some(id) if id != request_id => {
                    return Err(Refusal::ConfirmationInResponseTo);
                }
                // An unsolicited assertion, wrapped in an unsigned Response naming this sign-in.
                None if !response_signed => {
                    return Err(Refusal::Unsolicited);
                }
                _ => {}
            }
        }
        if let Some(not_before) = attr("NotBefore")
            && time(not_before)? > now + skew
        {
            return Err(Refusal::ConfirmationNotYetValid);
        }
        let until = time(attr("NotOnOrAfter").ok_or(Refusal::ConfirmationWithoutExpiry)?)?;
        if until <= now - skew {
            return Err(Refusal::ConfirmationExpired);
        }
        usable_until = usable_until.min(until);
        confirmed = true;
    }
    if !confirmed {
        return Err(Refusal::NoBearerConfirmation);
    }

    let conditions = child(assertion, "Conditions")?;
    let condition = |name| xml::attribute(doc, conditions, name).map(time).transpose();
    if condition("NotBefore")?.is_some_and(|not_before| not_before > now + skew) {
        return Err(Refusal::NotYetValid);
    }
    if let Some(until) = condition("NotOnOrAfter")? {
        if until <= now - skew {
            return Err(Refusal::Expired);
        }
        usable_until = usable_until.min(until);
    }
    if let Answering::ThisSignIn { audience: expected_audience, .. } = expected.answering {
        let restrictions = xml::children(doc, conditions, ASSERTION, "AudienceRestriction");
        if restrictions.is_empty() {
            return Err(Refusal::NoAudience);
        }
        for restriction in restrictions {
            let audiences = xml::children(doc, restriction, ASSERTION, "Audience");
            let mut ours = false;
            for audience in audiences {
                ours |= value(doc, audience, "Audience")?.trim() == expected_audience;
            }
            if !ours {
                return Err(Refusal::Audience(xml::shown(expected_audience)));
            }
        }
    }

    let authn_statements = xml::children(doc, assertion, ASSERTION, "AuthnStatement");
    let Some(&authn) = authn_statements.first() else {
        return Err(Refusal::NoAuthnStatement);
    };
    if let Some(since) = expected.fresh_sign_in_since {
        // Every statement, so that a stale one cannot stand beside a fresh one.
        for statement in authn_statements {
            let instant = time(xml::attribute(doc, statement, "AuthnInstant").ok_or(Refusal::NoAuthnInstant)?)?;
            if instant < since as i64 - skew {
                return Err(Refusal::StaleSignIn);
            }
        }
    }
    let mut attributes: Vec<(String, Vec<String>)> = Vec::new();
    for statement in xml::children(doc, assertion, ASSERTION, "AttributeStatement") {
        for attribute in xml::children(doc, statement, ASSERTION, "Attribute") {
            let Some(name) = xml::attribute(doc, attribute, "Name").filter(|name| !name.is_empty()) else { continue };
            let mut values = Vec::new();
            for node in xml::children(doc, attribute, ASSERTION, "AttributeValue") {
                if xml::holds_comments(doc, node) {
                    return Err(Refusal::CommentInAttribute(xml::shown(name)));
                }
                // A structured value (an element inside) is left out, not misread as text.
                if let Some(text) = xml::text(doc, node) {
                    values.push(text);
                }
            }
            match attributes.iter_mut().find(|(known, _)| known == name) {
                Some((_, known)) => known.extend(values),
                None => attributes.push((name.to_owned(), values)),
            }
        }
    }

    Ok(Asserted {
        assertion_id: assertion_id.to_owned(),
        // Accepted while `now - skew < until`: remembered a second past the last such second.
        usable_until: u64::try_from(usable_until.saturating_add(skew)).unwrap_or(0),
        name_id,
        name_id_format,
        session_index: xml::attribute(doc, authn, "SessionIndex").map(str::to_owned),
        attributes,
    })
}

/// The NameID an `EncryptedID` holds, and its format. The assertion's signature covers
/// the ciphertext, so what it says may be told.
fn decrypted_name_id(doc: &Document<'_>, encrypted: NodeId, expected: &Expected<'_>) -> Result<(String, Option<String>), Refusal> {
    let credentials = expected.credentials.ok_or(Refusal::EncryptedNameId)?;
    let refused = |why| Refusal::Decryption { what: "NameID", why };
    let decrypted = encryption::decrypt(doc, encrypted, credentials).map_err(refused)?;
    let wrapped = xml::in_context_of(doc, encrypted, &decrypted.text);
    let inner = xml::parse(&wrapped).map_err(|_| refused(Undecrypted::Shape("NameID (not XML)")))?;
    let node = xml::wrapped_element(&inner)
        .filter(|node| xml::is(&inner, *node, ASSERTION, "NameID"))
        .ok_or(refused(Undecrypted::Shape("NameID (it holds no NameID)")))?;
    Ok((value(&inner, node, "NameID")?, xml::attribute(&inner, node, "Format").map(str::to_owned)))
}

/// The text of a value element, refused when it holds a comment or markup.
fn value(doc: &Document<'_>, node: NodeId, name: &'static str) -> Result<String, Refusal> {
    if xml::holds_comments(doc, node) {
        return Err(Refusal::Comment(name));
    }
    xml::text(doc, node).ok_or(Refusal::Markup(name))
}

/// An `xs:dateTime` as Unix seconds. SAML times are UTC (core §1.3.3); an offset is read as given.
fn time(text: &str) -> Result<i64, Refusal> {
    chrono::DateTime::parse_from_rfc3339(text.trim()).map(|time| time.timestamp()).map_err(|_| Refusal::NotATime(xml::shown(text)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::key_pair::KeyPair;
    use crate::protocol::saml::credentials::tests::{other_pair, sp_pair};
    use crate::protocol::saml::encryption::tests::{TestCipher, encrypted_data};
    use crate::protocol::saml::metadata::certificate_key;
    use crate::protocol::saml::metadata::pem_certificates;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    /// The fixtures' instant (tests/fixtures/saml, made by `xmlsec1`): 2027-01-15T10:00:00Z.
    const ISSUED: UnixTime = 1_800_007_200;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{}/../../tests/fixtures/saml/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn keys(cert: &str) -> Vec<PublicKey> {
        let pem = std::fs::read_to_string(format!("{}/../../tests/fixtures/{cert}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        pem_certificates(&pem).unwrap().iter().filter_map(|c| certificate_key(c)).collect()
    }

    const ACS: &str = "https://broker.example.com/saml/sso";
    const AUDIENCE: &str = "https://broker.example.com/saml/metadata";
    const REQUEST: &str = "_lb_test_request";

    fn expected(keys: &[PublicKey]) -> Expected<'_> {
        Expected {
            idp_entity_id: "https://idp.example.com/metadata",
            answering: Answering::ThisSignIn { acs_url: ACS, audience: AUDIENCE, request_id: REQUEST },
            keys,
            credentials: None,
            want_response_signed: true,
            want_assertion_signed: true,
            fresh_sign_in_since: None,
            now: ISSUED + 10,
        }
    }

    /// What the encrypted fixtures expect: our key pairs, and an assertion signed inside
    /// an unsigned Response.
    fn expected_encrypted<'a>(keys: &'a [PublicKey], credentials: &'a SpCredentials) -> Expected<'a> {
        Expected { credentials: Some(credentials), want_response_signed: false, ..expected(keys) }
    }

    fn ours() -> SpCredentials {
        SpCredentials { current: sp_pair(), previous: None }
    }

    /// The signed assertion of `signed-assertion.xml`, as it stands in its Response.
    fn signed_assertion() -> (String, String) {
        let xml = fixture("signed-assertion.xml");
        let start = xml.find("<saml:Assertion ").unwrap();
        let end = xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
        let assertion = xml[start..end].to_owned();
        (xml, assertion)
    }

    /// `signed-assertion.xml` with `assertion` encrypted in its place.
    fn with_encrypted(assertion: &str, cipher: TestCipher, recipient: &KeyPair) -> String {
        let (xml, signed) = signed_assertion();
        let data = encrypted_data(recipient, assertion, cipher);
        xml.replace(&signed, &format!("<saml:EncryptedAssertion>{data}</saml:EncryptedAssertion>"))
    }

    #[test]
    fn an_encrypted_assertion_is_read_as_if_it_were_sent_in_clear_with_either_of_our_keys() {
        let keys = keys("saml-idp-cert.pem");
        let plain = check(&fixture("signed-assertion.xml"), &Expected { want_response_signed: false, ..expected(&keys) }).unwrap();
        let rotated = SpCredentials { current: other_pair(), previous: Some(sp_pair()) };
        for name in ["encrypted-aes128-gcm.xml", "encrypted-aes256-cbc.xml"] {
            for credentials in [&ours(), &rotated] {
                assert_eq!(check(&fixture(name), &expected_encrypted(&keys, credentials)).unwrap(), plain, "{name}");
            }
            // Every check still applies to what was decrypted.
            let ours = ours();
            let late = Expected { now: ISSUED + 3600, ..expected_encrypted(&keys, &ours) };
            assert_eq!(refusal(&fixture(name), &late), Refusal::ConfirmationExpired);
            let answering = Answering::ThisSignIn { acs_url: ACS, audience: "urn:other", request_id: REQUEST };
            let elsewhere = Expected { answering, ..expected_encrypted(&keys, &ours) };
            assert_eq!(refusal(&fixture(name), &elsewhere), Refusal::Audience("urn:other".into()));
        }
    }

    #[test]
    fn an_encrypted_assertion_needs_our_key_and_rsa_oaep() {
        let keys = keys("saml-idp-cert.pem");
        let xml = fixture("encrypted-aes128-gcm.xml");
        assert_eq!(refusal(&xml, &Expected { want_response_signed: false, ..expected(&keys) }), Refusal::EncryptedAssertion);
        // Its Response is unsigned: where one is wanted, nothing is decrypted.
        let unopened = SpCredentials { current: other_pair(), previous: None };
        assert_eq!(refusal(&xml, &Expected { credentials: Some(&unopened), ..expected(&keys) }), Refusal::ResponseUnsigned);
        let not_ours = SpCredentials { current: other_pair(), previous: None };
        assert_eq!(
            refusal(&xml, &expected_encrypted(&keys, &not_ours)),
            Refusal::Decryption { what: "assertion", why: Undecrypted::NotForUs }
        );
        assert_eq!(
            refusal(&fixture("encrypted-rsa-1_5.xml"), &expected_encrypted(&keys, &ours())),
            Refusal::Decryption { what: "assertion", why: Undecrypted::Rsa15 }
        );
        let triple_des = xml.replace("http://www.w3.org/2009/xmlenc11#aes128-gcm", "http://www.w3.org/2001/04/xmlenc#tripledes-cbc");
        assert!(matches!(
            refusal(&triple_des, &expected_encrypted(&keys, &ours())),
            Refusal::Decryption { why: Undecrypted::Content(uri), .. } if uri.contains("tripledes")
        ));
    }

    #[test]
    fn an_encrypted_assertion_cannot_be_wrapped_doubled_or_replaced() {
        let keys = keys("saml-idp-cert.pem");
        let ours = ours();
        let expected = expected_encrypted(&keys, &ours);
        let xml = fixture("encrypted-aes128-gcm.xml");
        let start = xml.find("<saml:EncryptedAssertion>").unwrap();
        let end = xml.find("</saml:EncryptedAssertion>").unwrap() + "</saml:EncryptedAssertion>".len();
        let encrypted = &xml[start..end];
        let (_, signed) = signed_assertion();
        let evil = signed.replace("jdoe@example.com</saml:NameID>", "admin@example.com</saml:NameID>");
        let cases: [(String, IsTheOne); 7] = [
            (xml.replace(encrypted, &format!("{signed}{encrypted}")), |refusal| *refusal == Refusal::AssertionBesideEncrypted),
            (xml.replace(encrypted, &format!("{encrypted}{encrypted}")), |refusal| *refusal == Refusal::AssertionCount(2)),
            (xml.replace(encrypted, &format!("<samlp:Extensions>{encrypted}</samlp:Extensions>")), |refusal| {
                *refusal == Refusal::AssertionMisplaced
            }),
            // An attacker's own assertion, encrypted to our key: its signature still fails.
            (with_encrypted(&evil, TestCipher::Gcm, &sp_pair()), |refusal| signature_refused(refusal.clone(), "changed after signing")),
            // The signed assertion beside itself, inside the ciphertext.
            (with_encrypted(&format!("{signed}{signed}"), TestCipher::Gcm, &sp_pair()), |refusal| {
                *refusal == Refusal::DecryptedNotOneAssertion
            }),
            // The decrypted assertion may not reuse an ID of the Response around it.
            (with_encrypted(&signed.replace("_a_fixture", "_r_fixture"), TestCipher::Gcm, &sp_pair()), |refusal| {
                matches!(refusal, Refusal::RepeatedId(_))
            }),
            (with_encrypted(&signed, TestCipher::Gcm, &other_pair()), |refusal| {
                *refusal == Refusal::Decryption { what: "assertion", why: Undecrypted::NotForUs }
            }),
        ];
        for (document, is_the_one) in cases {
            let refused = refusal(&document, &expected);
            assert!(is_the_one(&refused), "{refused:?}");
        }
        // The untouched assertion, encrypted by us as by the identity provider, passes.
        assert!(check(&with_encrypted(&signed, TestCipher::Cbc, &sp_pair()), &expected).is_ok());
    }

    #[test]
    fn while_nothing_vouches_for_a_cbc_ciphertext_every_refusal_reads_the_same() {
        let keys = keys("saml-idp-cert.pem");
        let ours = ours();
        let expected = expected_encrypted(&keys, &ours);
        let garbled = Refusal::Decryption { what: "assertion", why: Undecrypted::Garbled };
        let (_, signed) = signed_assertion();
        let evil = signed.replace("jdoe@example.com</saml:NameID>", "admin@example.com</saml:NameID>");
        // Not XML, not an assertion, a broken signature, no signature: one answer.
        for plaintext in ["not xml <", "<saml:Issuer>x</saml:Issuer>", evil.as_str(), &signed.replace("<ds:Signature", "<ds:Signature-x")] {
            assert_eq!(refusal(&with_encrypted(plaintext, TestCipher::Cbc, &sp_pair()), &expected), garbled, "{plaintext:.40}");
        }
        // Each byte of the xmlsec1 fixture's ciphertext flipped in turn: never anything else.
        let xml = fixture("encrypted-aes256-cbc.xml");
        let values: Vec<&str> = xml.match_indices("<xenc:CipherValue>").map(|(at, _)| &xml[at + 18..]).collect();
        let content = values[1].split("</xenc:CipherValue>").next().unwrap();
        let bytes = STANDARD.decode(content.replace(['\n', '\r'], "")).unwrap();
        for position in (0..bytes.len()).step_by(97).chain([bytes.len() - 17, bytes.len() - 1]) {
            let mut changed = bytes.clone();
            changed[position] ^= 0x41;
            let document = xml.replace(content, &STANDARD.encode(&changed));
            assert_eq!(refusal(&document, &expected), garbled, "byte {position}");
        }
        // Under GCM the cipher vouches for the plaintext: the reason may be told.
        assert!(signature_refused(refusal(&with_encrypted(&evil, TestCipher::Gcm, &sp_pair()), &expected), "changed after signing"));
    }
    fn refusal(xml: &str, expected: &Expected<'_>) -> Refusal {
        match check(xml, expected) {
            Ok(asserted) => panic!("accepted: {asserted:?}"),
            Err(refusal) => refusal,
        }
    }

    /// Tells the refusal a case expects from the others.
    type IsTheOne = fn(&Refusal) -> bool;

    /// A refusal by the signature check, saying `why`.
    fn signature_refused(refusal: Refusal, why: &str) -> bool {
        matches!(&refusal, Refusal::Signature(said) if said.contains(why))
    }

    #[test]
    fn a_response_signed_twice_by_the_identity_provider_is_read_from_its_signed_assertion() {
        let keys = keys("saml-idp-cert.pem");
        let asserted = check(&fixture("signed-both.xml"), &expected(&keys)).unwrap();
        assert_eq!(asserted.assertion_id, "_a_fixture");
        assert_eq!(asserted.name_id, "jdoe@example.com");
        assert_eq!(asserted.name_id_format.as_deref(), Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"));
        assert_eq!(asserted.session_index.as_deref(), Some("_s_fixture"));
        assert_eq!(asserted.attributes[2], ("groups".to_owned(), vec!["engineers".to_owned(), "staff".to_owned()]));
    }

    #[test]
    fn an_assertion_is_usable_until_its_earliest_not_on_or_after_and_the_skew() {
        let keys = keys("saml-idp-cert.pem");
        let asserted = check(&fixture("signed-both.xml"), &expected(&keys)).unwrap();
        // NotOnOrAfter 10:05:00 (confirmation and Conditions alike), plus 60 s of skew.
        assert_eq!(asserted.usable_until, ISSUED + 300 + LEEWAY_SECS as u64);
        let last = Expected { now: asserted.usable_until - 1, ..expected(&keys) };
        assert!(check(&fixture("signed-both.xml"), &last).is_ok());
        assert!(check(&fixture("signed-both.xml"), &Expected { now: asserted.usable_until, ..expected(&keys) }).is_err());
    }

    #[test]
    fn a_demanded_fresh_sign_in_needs_an_authn_instant_since_then() {
        let keys = keys("saml-idp-cert.pem");
        let xml = fixture("signed-both.xml");
        // AuthnInstant is ISSUED; a minute of clock skew is allowed.
        assert!(check(&xml, &Expected { fresh_sign_in_since: Some(ISSUED + 60), ..expected(&keys) }).is_ok());
        assert_eq!(refusal(&xml, &Expected { fresh_sign_in_since: Some(ISSUED + 61), ..expected(&keys) }), Refusal::StaleSignIn);
    }

    #[test]
    fn each_signature_is_required_as_configured() {
        let keys = keys("saml-idp-cert.pem");
        let (response_only, assertion_only) = (fixture("signed-response.xml"), fixture("signed-assertion.xml"));
        assert_eq!(refusal(&response_only, &expected(&keys)), Refusal::AssertionUnsigned);
        assert_eq!(refusal(&assertion_only, &expected(&keys)), Refusal::ResponseUnsigned);
        assert!(check(&response_only, &Expected { want_assertion_signed: false, ..expected(&keys) }).is_ok());
        assert!(check(&assertion_only, &Expected { want_response_signed: false, ..expected(&keys) }).is_ok());
        let lax = Expected { want_response_signed: false, want_assertion_signed: false, ..expected(&keys) };
        assert_eq!(refusal(&fixture("unsigned.xml"), &lax), Refusal::Unsigned);
    }

    #[test]
    fn only_the_configured_keys_and_sha_2_verify() {
        let keys = keys("saml-idp-cert.pem");
        assert!(signature_refused(
            refusal(&fixture("signed-both-other-key.xml"), &expected(&keys)),
            "not made with the identity provider's key"
        ));
        assert!(check(&fixture("signed-both-other-key.xml"), &expected(&self::keys("saml-other-cert.pem"))).is_ok());
        assert!(signature_refused(refusal(&fixture("signed-both-sha1.xml"), &expected(&keys)), "rsa-sha1"));
    }

    #[test]
    fn what_the_answer_says_must_be_what_this_sign_in_expects() {
        let keys = keys("saml-idp-cert.pem");
        let xml = fixture("signed-both.xml");
        let cases: [(Expected<'_>, IsTheOne); 6] = [
            (
                Expected {
                    answering: Answering::ThisSignIn { acs_url: ACS, audience: AUDIENCE, request_id: "_another" },
                    ..expected(&keys)
                },
                |refusal| *refusal == Refusal::InResponseTo,
            ),
            (
                Expected {
                    answering: Answering::ThisSignIn {
                        acs_url: "https://elsewhere.example.com/acs",
                        audience: AUDIENCE,
                        request_id: REQUEST,
                    },
                    ..expected(&keys)
                },
                |refusal| matches!(refusal, Refusal::Destination(_)),
            ),
            (
                Expected {
                    answering: Answering::ThisSignIn { acs_url: ACS, audience: "https://other-sp.example.com", request_id: REQUEST },
                    ..expected(&keys)
                },
                |refusal| matches!(refusal, Refusal::Audience(_)),
            ),
            (Expected { idp_entity_id: "https://other-idp.example.com", ..expected(&keys) }, |refusal| {
                matches!(refusal, Refusal::Issuer(_))
            }),
            (Expected { now: ISSUED + 300 + 61, ..expected(&keys) }, |refusal| *refusal == Refusal::ConfirmationExpired),
            (Expected { now: ISSUED - 60 - 61, ..expected(&keys) }, |refusal| *refusal == Refusal::NotYetValid),
        ];
        for (expected, is_the_one) in cases {
            let refused = refusal(&xml, &expected);
            assert!(is_the_one(&refused), "{refused:?}");
        }
        assert!(check(&xml, &Expected { now: ISSUED + 300 + 59, ..expected(&keys) }).is_ok(), "a minute of clock skew");
    }

    #[test]
    fn another_service_providers_answer_is_checked_for_all_but_where_and_for_whom() {
        let keys = keys("saml-idp-cert.pem");
        let xml = fixture("signed-both.xml");
        let theirs = || Expected { answering: Answering::AnotherServiceProvider, ..expected(&keys) };
        assert_eq!(check(&xml, &theirs()).unwrap().name_id, "jdoe@example.com");
        assert!(matches!(refusal(&xml, &Expected { idp_entity_id: "https://other-idp.example.com", ..theirs() }), Refusal::Issuer(_)));
        assert_eq!(refusal(&xml, &Expected { now: ISSUED + 300 + 61, ..theirs() }), Refusal::ConfirmationExpired);
        let other_keys = self::keys("saml-other-cert.pem");
        assert!(signature_refused(refusal(&xml, &Expected { keys: &other_keys, ..theirs() }), "identity provider's key"));
    }

    #[test]
    fn a_changed_or_rearranged_document_is_refused() {
        let keys = keys("saml-idp-cert.pem");
        let xml = fixture("signed-both.xml");
        let signed_assertion = {
            let start = xml.find("<saml:Assertion ").unwrap();
            let end = xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
            xml[start..end].to_owned()
        };
        let evil =
            signed_assertion.replace("jdoe@example.com</saml:NameID>", "admin@example.com</saml:NameID>").replace("_a_fixture", "_evil");
        let cases: [(String, IsTheOne); 6] = [
            (xml.replace("jdoe@example.com</saml:NameID>", "admin@example.com</saml:NameID>"), |refusal| {
                signature_refused(refusal.clone(), "changed after signing")
            }),
            // A comment keeps both digests (C14N drops it) but would cut a naive reader's
            // NameID short: `jdoe` for the text the identity provider signed.
            (xml.replace("jdoe@example.com</saml:NameID>", "jdoe<!---->@example.com</saml:NameID>"), |refusal| {
                *refusal == Refusal::Comment("NameID")
            }),
            (xml.replacen("<saml:Assertion ", &format!("{evil}<saml:Assertion "), 1), |refusal| *refusal == Refusal::AssertionCount(2)),
            (
                xml.replacen("<samlp:Status>", &format!("<samlp:Extensions>{signed_assertion}</samlp:Extensions><samlp:Status>"), 1),
                |refusal| matches!(refusal, Refusal::RepeatedId(_)),
            ),
            (xml.replace(&signed_assertion, &format!("<samlp:Extensions>{signed_assertion}</samlp:Extensions>")), |refusal| {
                *refusal == Refusal::AssertionMisplaced
            }),
            (xml.replace(&signed_assertion, "<saml:EncryptedAssertion/>"), |refusal| *refusal == Refusal::EncryptedAssertion),
        ];
        for (document, is_the_one) in cases {
            let refused = refusal(&document, &expected(&keys));
            assert!(is_the_one(&refused), "{refused:?}");
        }
    }

    #[test]
    fn hostile_xml_is_refused_before_it_is_read() {
        let keys = keys("saml-idp-cert.pem");
        let xml = fixture("signed-both.xml");
        let doctype = xml.replacen("<samlp:Response", "<!DOCTYPE r [<!ENTITY a \"aaaa\">]><samlp:Response", 1);
        assert!(matches!(refusal(&doctype, &expected(&keys)), Refusal::Unreadable(why) if why.contains("DOCTYPE")));
        let deep = format!("{}{}", "<a>".repeat(200), "</a>".repeat(200));
        assert!(matches!(refusal(&deep, &expected(&keys)), Refusal::Unreadable(why) if why.contains("not well-formed")));
        let large = xml.replace("<samlp:Status>", &format!("<!--{}--><samlp:Status>", "x".repeat(MAX_RESPONSE_BYTES)));
        assert_eq!(refusal(&large, &expected(&keys)), Refusal::TooLarge);
        assert_eq!(refusal("<not-saml/>", &expected(&keys)), Refusal::NotAResponse);
    }

    #[test]
    fn a_refusal_by_the_identity_provider_says_so() {
        let keys = keys("saml-idp-cert.pem");
        let xml = fixture("unsigned.xml").replace("status:Success", "status:Requester");
        assert_eq!(refusal(&xml, &expected(&keys)), Refusal::NotSignedIn { status: "Requester".into() });
        let failure = SignInFailure::from(refusal(&xml, &expected(&keys)));
        assert_eq!(failure.kind, SignInFailureKind::AccessDenied, "the client hears the user was not signed in");
    }
}

//! The Assertion Consumer Service under real Spin, against SAML Responses signed by the
//! independent `xmlsec1` (crates/testkit/src/saml.rs): a well-formed one hands the identity
//! to the client; every hostile one is refused with a clear page, the login marked
//! failed (the client told at once), and no identity stored. The same documents are
//! verified by `xmlsec1`, which must agree with the broker on every document that
//! differs only in its signatures.

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use testkit::saml::{self, Answer, Signed, Signer};
use testkit::{Broker, Redis, Reply, Store};

pub(crate) const IDP: &str = "https://idp.example.com/metadata";
const ACS: &str = "http://127.0.0.1:3000/saml/sso";
const AUDIENCE: &str = "http://127.0.0.1:3000/saml/metadata";
pub(crate) const SSO: &str = "http://127.0.0.1:9/sso";

pub(crate) fn idp_cert_pem() -> String {
    std::fs::read_to_string(saml::idp_cert()).unwrap()
}

fn start(store: Store) -> Broker {
    start_with(store, &[])
}

/// A broker trusting the test identity provider, with `extra` variables besides.
fn start_with(store: Store, extra: &[(&str, &str)]) -> Broker {
    let cert = idp_cert_pem();
    let mut variables = vec![("saml_idp_sso_url", SSO), ("saml_idp_entity_id", IDP), ("saml_idp_cert", cert.as_str())];
    variables.extend_from_slice(extra);
    Broker::start(store, &variables)
}

/// A sign-in sent to the identity provider: what its answer must name and carry.
pub(crate) struct SignIn {
    pub(crate) request: String,
    /// The AuthnRequest's ID, as the identity provider read it.
    authn_request_id: String,
    relay_state: String,
    cookie: String,
    /// Where the browser was sent: the identity provider's sign-on URL.
    sign_on_url: String,
    /// The AuthnRequest, as the identity provider reads it.
    authn_request: String,
}

pub(crate) fn begin(broker: &Broker, user: &str) -> SignIn {
    let login = broker.login(user);
    let reply = broker.follow_login_link(&login);
    assert_eq!(reply.status, 303, "{}", reply.body);
    let location = url::Url::parse(reply.header("location").unwrap()).unwrap();
    assert_eq!(&location.as_str()[..SSO.len()], SSO, "to the identity provider's sign-on URL");
    let param = |name: &str| location.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.into_owned()).unwrap();
    let deflated = STANDARD.decode(param("SAMLRequest")).unwrap();
    let request = String::from_utf8(miniz_oxide::inflate::decompress_to_vec(&deflated).unwrap()).unwrap();
    let authn_request_id = request.split(" ID=\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap().to_owned();
    let set_cookie = reply.header("set-cookie").unwrap();
    for attribute in ["HttpOnly", "Path=/saml/sso", "SameSite=Lax"] {
        assert!(set_cookie.contains(attribute), "over plain http, a Lax cookie for the ACS: {set_cookie}");
    }
    SignIn {
        request: login.request,
        authn_request_id,
        relay_state: param("RelayState"),
        cookie: set_cookie.split(';').next().unwrap().to_owned(),
        sign_on_url: location.as_str().split('?').next().unwrap().to_owned(),
        authn_request: request,
    }
}

/// The first assertion of `xml`, signature and all, as it stands in the document.
fn signed_assertion_of(xml: &str) -> String {
    let start = xml.find("<saml:Assertion ").unwrap();
    let end = xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    xml[start..end].to_owned()
}

pub(crate) fn answer_for(sign_in: &SignIn, user: &str) -> Answer {
    Answer::new(IDP, ACS, AUDIENCE, &sign_in.authn_request_id, user, saml::now())
}

pub(crate) fn post(broker: &Broker, sign_in: &SignIn, xml: &str) -> Reply {
    broker.post_form("/saml/sso", &sign_in.cookie, saml::form_body(xml, &sign_in.relay_state))
}

/// Posts `xml` for a fresh sign-in; asserts the refusal names `why` and the client
/// hears of a failed login, not an identity.
fn assert_refused(broker: &Broker, name: &str, make: impl Fn(&SignIn) -> String, why: &str) {
    let sign_in = begin(broker, "alice@example.com");
    let page = post(broker, &sign_in, &make(&sign_in));
    assert_eq!(page.status, 400, "{name}: {}", page.body);
    assert!(page.header("content-type").unwrap().starts_with("text/html"), "{name}: a page for the browser");
    assert!(page.body.contains(why), "{name}: expected {why:?} in {}", page.body);
    let status = broker.status(&sign_in.request);
    assert_eq!((status.status, status.error_code()), (403, "invalid_assertion".to_owned()), "{name}: {}", status.body);
    assert!(!status.body.contains("alice@example.com") || status.body.contains("error_description"), "{name}: no identity");
}

#[test]
fn a_signed_response_hands_the_profile_to_the_client_once() {
    let broker = start(Store::Memory);
    let sign_in = begin(&broker, "jdoe");
    let xml = saml::signed(&answer_for(&sign_in, "jdoe@example.com"), &Signed::Both, &Signer::idp());
    let page = post(&broker, &sign_in, &xml);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("You are signed in"));
    assert!(page.header("set-cookie").unwrap().contains("Max-Age=0"), "the sign-in cookie is cleared");

    let identity = broker.status(&sign_in.request).json();
    assert_eq!(identity["nameID"], "jdoe@example.com");
    assert_eq!(identity["nameIDFormat"], saml::EMAIL_FORMAT);
    assert!(identity["sessionIndex"].as_str().unwrap().starts_with("_s"));
    assert_eq!(identity["groups"], serde_json::json!(["engineers", "staff"]));
    assert_eq!((&identity["providerId"], &identity["userId"]), (&serde_json::json!("saml"), &serde_json::json!("jdoe")));

    // The same answer again: the login has ended, and nothing changes.
    let replay = post(&broker, &sign_in, &xml);
    assert_eq!(replay.status, 409, "{}", replay.body);
    assert!(replay.body.contains("already ended"));
}

#[test]
fn every_hostile_answer_is_refused_and_ends_its_login_failed() {
    let broker = start(Store::Memory);
    let user = "alice@example.com";
    let signed = |answer: &Answer| saml::signed(answer, &Signed::Both, &Signer::idp());
    let with = |change: fn(&mut Answer)| {
        move |sign_in: &SignIn| {
            let mut answer = answer_for(sign_in, user);
            change(&mut answer);
            signed(&answer)
        }
    };
    // An attacker's unsigned assertion for another user, placed beside or around the signed one.
    let evil_assertion = |sign_in: &SignIn| {
        let mut evil = answer_for(sign_in, "admin@example.com");
        evil.assertion_id = "_evil".into();
        signed_assertion_of(&saml::template(&evil, &Signed::Neither, &saml::Algorithm::RsaSha256))
    };

    assert_refused(
        &broker,
        "unsigned",
        |s| saml::template(&answer_for(s, user), &Signed::Neither, &saml::Algorithm::RsaSha256),
        "is not signed",
    );
    assert_refused(
        &broker,
        "assertion unsigned",
        |s| saml::signed(&answer_for(s, user), &Signed::Response, &Signer::idp()),
        "the assertion is not signed",
    );
    assert_refused(
        &broker,
        "response unsigned",
        |s| saml::signed(&answer_for(s, user), &Signed::Assertion, &Signer::idp()),
        "the Response is not signed",
    );
    // xmlsec1 puts the signer's certificate in KeyInfo: the key there is never used.
    assert_refused(
        &broker,
        "another key, given in KeyInfo",
        |s| saml::signed(&answer_for(s, user), &Signed::Both, &Signer::other()),
        "identity provider&#39;s key",
    );
    assert_refused(&broker, "SHA-1", |s| saml::signed(&answer_for(s, user), &Signed::Both, &Signer::sha1()), "rsa-sha1");

    // Signature wrapping: the signed assertion moved, duplicated, wrapped, or joined by another.
    assert_refused(
        &broker,
        "second unsigned assertion beside the signed one",
        |s| {
            let xml = saml::signed(&answer_for(s, user), &Signed::Assertion, &Signer::idp());
            xml.replacen("<saml:Assertion ", &format!("{}<saml:Assertion ", evil_assertion(s)), 1)
        },
        "exactly one assertion",
    );
    assert_refused(
        &broker,
        "signed assertion moved into Extensions",
        |s| {
            let xml = saml::signed(&answer_for(s, user), &Signed::Assertion, &Signer::idp());
            let original = signed_assertion_of(&xml);
            xml.replace(&original, &format!("<samlp:Extensions>{original}</samlp:Extensions>{}", evil_assertion(s)))
        },
        "exactly one assertion",
    );
    assert_refused(
        &broker,
        "assertion duplicated",
        |s| {
            let xml = signed(&answer_for(s, user));
            let original = signed_assertion_of(&xml);
            xml.replace(&original, &format!("{original}{original}"))
        },
        "appears twice",
    );
    assert_refused(
        &broker,
        "assertion wrapped in the signature's Object",
        |s| {
            let xml = saml::signed(&answer_for(s, user), &Signed::Assertion, &Signer::idp());
            let original = signed_assertion_of(&xml);
            let wrapped = original.replacen("</ds:Signature>", &format!("<ds:Object>{}</ds:Object></ds:Signature>", evil_assertion(s)), 1);
            xml.replace(&original, &wrapped)
        },
        "exactly one assertion",
    );
    assert_refused(
        &broker,
        "comment in the NameID",
        |s| signed(&answer_for(s, user)).replace(&format!("{user}</saml:NameID>"), "alice<!---->@example.com</saml:NameID>"),
        "holds a comment",
    );
    assert_refused(
        &broker,
        "NameID changed after signing",
        |s| signed(&answer_for(s, user)).replace(&format!("{user}</saml:NameID>"), "admin@example.com</saml:NameID>"),
        "changed after signing",
    );

    // What the answer says must fit this broker and this sign-in.
    assert_refused(&broker, "another audience", with(|a| a.audience = "https://other-sp.example.com".into()), "another audience");
    assert_refused(
        &broker,
        "another destination",
        with(|a| a.destination = Some("https://other-sp.example.com/acs".into())),
        "addressed to",
    );
    assert_refused(&broker, "another recipient", with(|a| a.recipient = "https://other-sp.example.com/acs".into()), "another recipient");
    assert_refused(
        &broker,
        "another sign-in",
        with(|a| {
            a.in_response_to = Some("_someone_elses_request".into());
            a.subject_in_response_to = a.in_response_to.clone();
        }),
        "InResponseTo",
    );
    assert_refused(&broker, "another issuer", with(|a| a.idp_entity_id = "https://evil.example.com".into()), "issued by");
    assert_refused(&broker, "expired", with(|a| a.not_on_or_after = a.issue_instant - 120), "expired");
    assert_refused(&broker, "not yet valid", with(|a| a.not_before = a.issue_instant + 600), "not valid yet");

    // Hostile XML.
    assert_refused(
        &broker,
        "DOCTYPE with entities",
        |s| {
            let laughs = "<!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]>";
            signed(&answer_for(s, user))
                .replacen("<samlp:Response", &format!("{laughs}<samlp:Response"), 1)
                .replace(&format!("{user}<"), "&c;<")
        },
        "DOCTYPE",
    );
    assert_refused(
        &broker,
        "deeply nested",
        |s| {
            let deep = format!("{}{}", "<samlp:Extensions>".repeat(100), "</samlp:Extensions>".repeat(100));
            signed(&answer_for(s, user)).replacen("<samlp:Status>", &format!("{deep}<samlp:Status>"), 1)
        },
        "not well-formed",
    );
}

#[test]
fn an_oversized_answer_is_refused_unread_and_the_login_stays_open() {
    let broker = start(Store::Memory);
    let sign_in = begin(&broker, "alice");
    // Within what the form may carry (read whole, so the client is not cut off), past what a Response may be.
    let xml = format!("<samlp:Response>{}</samlp:Response>", "x".repeat(150 * 1024));
    let page = post(&broker, &sign_in, &xml);
    assert_eq!(page.status, 413, "{}", page.body);
    // Nothing was claimed: the real answer still finishes the login.
    let good = saml::signed(&answer_for(&sign_in, "alice@example.com"), &Signed::Both, &Signer::idp());
    assert_eq!(post(&broker, &sign_in, &good).status, 200);
    assert_eq!(broker.status(&sign_in.request).json()["nameID"], "alice@example.com");
}

#[test]
fn an_answer_without_this_browsers_cookie_is_refused_and_spends_nothing() {
    let broker = start(Store::Memory);
    let sign_in = begin(&broker, "alice");
    let good = saml::signed(&answer_for(&sign_in, "alice@example.com"), &Signed::Both, &Signer::idp());
    let stranger = SignIn { cookie: "lb_other=1".into(), ..begin(&broker, "mallory") };
    let forwarded = SignIn { relay_state: sign_in.relay_state.clone(), ..stranger };
    let page = post(&broker, &forwarded, &good);
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("started in another browser"), "{}", page.body);
    assert_eq!(post(&broker, &sign_in, &good).status, 200, "the owner's browser still finishes it");
}

#[test]
fn a_replayed_assertion_is_refused_on_another_instance_too() {
    let redis = Redis::start();
    let (a, b) = (start(Store::Redis(&redis)), start(Store::Redis(&redis)));
    let sign_in = begin(&a, "alice");
    let xml = saml::signed(&answer_for(&sign_in, "alice@example.com"), &Signed::Both, &Signer::idp());
    assert_eq!(post(&b, &sign_in, &xml).status, 200, "an instance that did not start the login finishes it");
    let replay = post(&a, &sign_in, &xml);
    assert_eq!(replay.status, 409, "{}", replay.body);
    assert_eq!(a.status(&sign_in.request).json()["nameID"], "alice@example.com");
}

/// `xml` with the first character of the first `tag`'s text changed.
fn flip_first_value(xml: &str, tag: &str) -> String {
    let value = xml.split(tag).nth(1).unwrap().split('<').next().unwrap();
    let flipped = if value.starts_with('A') { value.replacen('A', "B", 1) } else { format!("A{}", &value[1..]) };
    xml.replacen(value, &flipped, 1)
}

/// On documents that differ only in their signatures, the broker and `xmlsec1` (trusting
/// only the identity provider's certificate) agree; the one intended difference is
/// SHA-1, which `xmlsec1` accepts and the broker's allow-list does not.
#[test]
fn the_broker_and_xmlsec1_agree_on_which_signatures_hold() {
    let broker = start(Store::Memory);
    let idp_cert: PathBuf = saml::idp_cert();
    let user = "alice@example.com";
    type Variant = (&'static str, fn(&Answer) -> String, bool);
    let variants: [Variant; 6] = [
        ("both signed", |a| saml::signed(a, &Signed::Both, &Signer::idp()), true),
        ("another key", |a| saml::signed(a, &Signed::Both, &Signer::other()), false),
        ("attribute changed", |a| saml::signed(a, &Signed::Both, &Signer::idp()).replace(">staff<", ">admins<"), false),
        ("digest changed", |a| flip_first_value(&saml::signed(a, &Signed::Both, &Signer::idp()), "<ds:DigestValue>"), false),
        ("signature value changed", |a| flip_first_value(&saml::signed(a, &Signed::Both, &Signer::idp()), "<ds:SignatureValue>"), false),
        (
            "issue instant changed",
            |a| saml::signed(a, &Signed::Both, &Signer::idp()).replacen("IssueInstant=\"", "IssueInstant=\"1", 1),
            false,
        ),
    ];
    for (name, make, valid) in variants {
        let sign_in = begin(&broker, "alice");
        let xml = make(&answer_for(&sign_in, user));
        let broker_accepts = post(&broker, &sign_in, &xml).status == 200;
        assert_eq!(saml::xmlsec1_verifies(&xml, &idp_cert), valid, "{name}: xmlsec1");
        assert_eq!(broker_accepts, valid, "{name}: the broker");
    }
    let sign_in = begin(&broker, "alice");
    let sha1 = saml::signed(&answer_for(&sign_in, user), &Signed::Both, &Signer::sha1());
    assert!(saml::xmlsec1_verifies(&sha1, &idp_cert), "xmlsec1 accepts SHA-1");
    assert_eq!(post(&broker, &sign_in, &sha1).status, 400, "the broker does not");
    // A prefix declared for no namespace: libxml2 reports it and reads on, and its C14N
    // leaves the declaration out, so xmlsec1 verifies the signatures; the broker refuses
    // the document before it checks any, since its reader would skip the element.
    let sign_in = begin(&broker, "alice");
    let hidden = hide_in_no_namespace(&saml::signed(&answer_for(&sign_in, user), &Signed::Both, &Signer::idp()), GROUPS);
    assert!(saml::xmlsec1_verifies(&hidden, &idp_cert), "xmlsec1 verifies it");
    assert_eq!(post(&broker, &sign_in, &hidden).status, 400, "the broker does not read it");
}

/// Counted by Redis itself (`INFO commandstats`), as `tests/api.rs` counts an OpenID
/// login: what the Assertion Consumer Service asks of the store for a SAML answer.
#[test]
fn a_saml_answer_costs_these_store_operations() {
    let redis = Redis::start();
    let broker = start(Store::Redis(&redis));
    // Early in a 10 s expiry window, so that every key below falls in one bucket.
    let phase = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() % 10_000;
    while phase() > 3_000 {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let finish = |user: &str| {
        let sign_in = begin(&broker, user);
        let xml = saml::signed(&answer_for(&sign_in, &format!("{user}@example.com")), &Signed::Both, &Signer::idp());
        (sign_in, xml)
    };
    // A first login warms the instance and takes the bucket's sweep turn.
    let (warm_up, xml) = finish("warm-up");
    assert_eq!(post(&broker, &warm_up, &xml).status, 200);

    let ops = |get, set, increment| -> std::collections::BTreeMap<&str, u64> {
        [("get", get), ("set", set), ("delete", 0), ("exists", 0), ("increment", increment)].into_iter().collect()
    };
    redis.reset_stats();
    let (sign_in, xml) = finish("alice");
    // The request stored for its short link and entered for the sweep (count, entry);
    // the link's request read back once.
    assert_eq!(redis.kv_operations(), ops(1, 2, 1), "a new request, and the browser sent to the identity provider");
    redis.reset_stats();
    assert_eq!(post(&broker, &sign_in, &xml).status, 200);
    // Has the login ended; claim its end; enter the assertion's ID for the sweep (count,
    // entry) and claim it; store the outcome.
    assert_eq!(redis.kv_operations(), ops(1, 2, 3));
}

/// The signed `groups` attribute, as the template writes it.
const GROUPS: &str = "<saml:Attribute Name=\"groups\"";

/// `xml` with the first element starting as `element` (a start tag, and maybe what
/// follows it) declaring the `saml` prefix for no namespace.
fn hide_in_no_namespace(xml: &str, element: &str) -> String {
    let at = xml.find(element).unwrap_or_else(|| panic!("{element}"));
    let name_end = at + xml[at..].find([' ', '>', '/']).unwrap();
    format!("{} xmlns:saml=\"\"{}", &xml[..name_end], &xml[name_end..])
}

/// `xmlns:saml=""` on a signed element keeps the digest (exclusive C14N leaves the
/// declaration out) but would take the element out of SAML's namespace for a reader:
/// a user could delete signed values (a group, a competing `saml_nameid_field` value)
/// from their own answer. Refused before any signature is checked.
#[test]
fn a_prefix_declared_for_no_namespace_cannot_hide_signed_content() {
    let broker = start(Store::Memory);
    let user = "alice@example.com";
    let signed = |s: &SignIn| saml::signed(&answer_for(s, user), &Signed::Both, &Signer::idp());
    assert_refused(&broker, "a whole attribute", |s| hide_in_no_namespace(&signed(s), GROUPS), "for no namespace");
    assert_refused(
        &broker,
        "one value",
        |s| hide_in_no_namespace(&signed(s), "<saml:AttributeValue>staff"),
        "prefix `saml` for no namespace",
    );
    assert_refused(&broker, "an element of the Response", |s| hide_in_no_namespace(&signed(s), "<saml:Issuer"), "for no namespace");
}

/// With `saml_want_response_signed=false`, the Response's `InResponseTo` is anyone's to
/// write: an identity provider's unsolicited answer for a victim (a portal click the
/// broker refused, a HAR file, a proxy log), wrapped in a Response naming the
/// attacker's own sign-in, must not finish it. The signed assertion must name the sign-in.
#[test]
fn with_the_response_unsigned_only_an_assertion_naming_the_sign_in_finishes_it() {
    let broker = start_with(Store::Memory, &[("saml_want_response_signed", "false")]);
    let attacker = begin(&broker, "mallory");
    let mut unsolicited = answer_for(&attacker, "victim@example.com");
    (unsolicited.in_response_to, unsolicited.subject_in_response_to) = (None, None);
    let victims_assertion = signed_assertion_of(&saml::signed(&unsolicited, &Signed::Assertion, &Signer::idp()));
    let wrapper = saml::template(&answer_for(&attacker, "mallory@example.com"), &Signed::Neither, &saml::Algorithm::RsaSha256);
    let wrapped = wrapper.replace(&signed_assertion_of(&wrapper), &victims_assertion);
    let page = post(&broker, &attacker, &wrapped);
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("must name the sign-in it answers"), "{}", page.body);
    let status = broker.status(&attacker.request);
    assert_eq!((status.status, status.error_code()), (403, "invalid_assertion".to_owned()), "{}", status.body);

    // The identity provider's own answer, signed the same way and naming the sign-in, finishes it.
    let sign_in = begin(&broker, "alice");
    let xml = saml::signed(&answer_for(&sign_in, "alice@example.com"), &Signed::Assertion, &Signer::idp());
    assert_eq!(post(&broker, &sign_in, &xml).status, 200);
    assert_eq!(broker.status(&sign_in.request).json()["nameID"], "alice@example.com");
}

/// An assertion's single use is remembered under its own ID for as long as it could
/// pass the checks (its NotOnOrAfter and the clock skew), not in the expiry window of
/// the login it happened to finish, where a login in another window would not see it.
#[test]
fn an_assertion_is_remembered_by_itself_until_it_expires_not_with_its_login() {
    let redis = Redis::start();
    let broker = start(Store::Redis(&redis));
    let sign_in = begin(&broker, "alice");
    let mut answer = answer_for(&sign_in, "alice@example.com");
    answer.not_on_or_after = answer.issue_instant + 3600;
    assert_eq!(post(&broker, &sign_in, &saml::signed(&answer, &Signed::Both, &Signer::idp())).status, 200);
    // Registered for reclamation in the window where it stops passing: NotOnOrAfter + 60 s skew.
    let window = format!("lb:v2:reg:{}:", (answer.not_on_or_after + 60) / 10);
    let keys = redis.keys();
    assert!(keys.iter().any(|key| key.starts_with(&window)), "{window}* in {keys:?}");
}

/// With `forceAuthn`, the assertion must show a sign-in made after the broker asked for
/// one (AuthnInstant), or the identity provider ignored the demand.
#[test]
fn a_demanded_fresh_sign_in_must_be_one() {
    let broker = start(Store::Memory);
    let stale = |sign_in: &SignIn| {
        let mut answer = answer_for(sign_in, "alice@example.com");
        answer.authn_instant = answer.issue_instant - 3600;
        saml::signed(&answer, &Signed::Both, &Signer::idp())
    };
    let forced = begin(&broker, "alice?forceAuthn=true");
    let page = post(&broker, &forced, &stale(&forced));
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("forceAuthn"), "{}", page.body);
    let fresh = begin(&broker, "alice?forceAuthn=true");
    let xml = saml::signed(&answer_for(&fresh, "alice@example.com"), &Signed::Both, &Signer::idp());
    assert_eq!(post(&broker, &fresh, &xml).status, 200, "a sign-in made just now");
    let unforced = begin(&broker, "alice");
    assert_eq!(post(&broker, &unforced, &stale(&unforced)).status, 200, "without forceAuthn, the session at the IdP is fine");
}

/// Serves `body` as SAML metadata at the returned URL (one thread, for the test's life).
fn serve_metadata(body: String) -> (String, String) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let origin = format!("http://127.0.0.1:{}", server.server_addr().to_ip().unwrap().port());
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let _ = request.respond(tiny_http::Response::from_string(body.clone()));
        }
    });
    (format!("{origin}/federation.xml"), origin)
}

fn entity(entity_id: &str, cert: &std::path::Path, sso: &str) -> String {
    let pem = std::fs::read_to_string(cert).unwrap();
    let der: String = pem.lines().filter(|line| !line.starts_with("-----")).collect();
    format!(
        r#"<EntityDescriptor entityID="{entity_id}"><IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{der}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></KeyDescriptor><SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{sso}"/></IDPSSODescriptor></EntityDescriptor>"#
    )
}

/// Two providers read from one federation's metadata document, each for its own
/// entity: whichever is fetched first must not stand in for the other, or the first
/// one's operator could sign answers in the second one's name.
#[test]
fn two_providers_on_one_metadata_document_each_keep_their_own_keys() {
    const X: &str = "https://x.example.com/idp";
    const Y: &str = "https://y.example.com/idp";
    let federation = format!(
        r#"<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#">{}{}</EntitiesDescriptor>"#,
        entity(X, &saml::idp_cert(), &format!("{SSO}-x")),
        entity(Y, &saml::other_cert(), &format!("{SSO}-y")),
    );
    let (metadata_url, origin) = serve_metadata(federation);
    let providers = serde_json::json!([
        {"id": "x", "protocol": "saml", "metadataUrl": metadata_url, "idpEntityId": X},
        {"id": "y", "protocol": "saml", "metadataUrl": metadata_url, "idpEntityId": Y},
    ])
    .to_string();
    let broker = Broker::start(Store::Memory, &[("auth_providers", &providers), ("auth_provider_origin_a", &origin)]);
    assert_eq!(broker.get("/readiness").status, 200, "both read from the one document");

    let sign_in = begin(&broker, "alice?providerId=y");
    assert_eq!(sign_in.sign_on_url, format!("{SSO}-y"), "y's own sign-on URL");
    let forged = Answer { idp_entity_id: Y.into(), ..answer_for(&sign_in, "alice@y.example.com") };
    let page = post(&broker, &sign_in, &saml::signed(&forged, &Signed::Both, &Signer::idp()));
    assert_eq!(page.status, 400, "x's key signing in y's name: {}", page.body);
    assert!(page.body.contains("identity provider&#39;s key"), "{}", page.body);

    let sign_in = begin(&broker, "alice?providerId=y");
    let genuine = Answer { idp_entity_id: Y.into(), ..answer_for(&sign_in, "alice@y.example.com") };
    assert_eq!(post(&broker, &sign_in, &saml::signed(&genuine, &Signed::Both, &Signer::other())).status, 200);
    let identity = broker.status(&sign_in.request).json();
    assert_eq!((&identity["nameID"], &identity["providerId"]), (&serde_json::json!("alice@y.example.com"), &serde_json::json!("y")));
}

/// HAS's `/saml/validate`, which the p4d extension calls for Helix Swarm's one-step
/// login: an answer another service provider received (its Assertion Consumer Service,
/// its audience, its request) that an authorized client brings is checked as every
/// answer is but for those, and its identity handed back, once.
#[test]
fn another_service_providers_answer_is_validated_for_an_authorized_client_once() {
    let broker = start(Store::Memory);
    let swarm = |user: &str| {
        let now = saml::now();
        Answer::new(IDP, "https://swarm.example.com/api/v10/session", "urn:swarm-example:sp", "_swarm_request", user, now)
    };
    let validate = |xml: &str, token: Option<&str>| {
        let mut headers = vec![("Content-Type".to_owned(), "application/x-www-form-urlencoded".to_owned())];
        headers.extend(token.map(|token| ("Authorization".to_owned(), format!("Bearer {token}"))));
        let form = url::form_urlencoded::Serializer::new(String::new()).append_pair("SAMLResponse", &STANDARD.encode(xml)).finish();
        broker.send("POST", "/saml/validate?instanceId=none", &headers, form.into_bytes())
    };
    let xml = saml::signed(&swarm("alice@example.com"), &Signed::Both, &Signer::idp());
    assert_eq!(validate(&xml, None).status, 401, "clients authorize as on the status route");
    let reply = validate(&xml, Some(testkit::CLIENT_TOKEN));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let identity = reply.json();
    assert_eq!((&identity["nameID"], &identity["providerId"]), (&"alice@example.com".into(), &"saml".into()), "{identity}");
    let again = validate(&xml, Some(testkit::CLIENT_TOKEN));
    assert_eq!((again.status, again.error_code()), (400, "invalid_assertion".to_owned()), "{}", again.body);
    assert!(again.body.contains("already used"), "{}", again.body);

    let refused = [
        ("another key", saml::signed(&swarm("bob@example.com"), &Signed::Both, &Signer::other()), "identity provider's key"),
        (
            "expired",
            saml::signed(&Answer { not_on_or_after: saml::now() - 120, ..swarm("bob@example.com") }, &Signed::Both, &Signer::idp()),
            "expired",
        ),
        (
            "another issuer",
            saml::signed(
                &Answer { idp_entity_id: "https://evil.example.com".into(), ..swarm("bob@example.com") },
                &Signed::Both,
                &Signer::idp(),
            ),
            "issued by",
        ),
    ];
    for (name, xml, why) in refused {
        let reply = validate(&xml, Some(testkit::CLIENT_TOKEN));
        assert_eq!(reply.status, 400, "{name}: {}", reply.body);
        assert!(reply.body.contains(why), "{name}: {}", reply.body);
    }
    assert_eq!(broker.get("/saml/validate").status, 405);
}

/// HAS's `FORCE_AUTHN` as `force_authn`: every AuthnRequest asks for a fresh sign-in,
/// and an assertion of an older one is refused, whatever the client asked.
#[test]
fn force_authn_asks_every_login_for_a_fresh_sign_in() {
    let broker = start_with(Store::Memory, &[("force_authn", "true")]);
    let sign_in = begin(&broker, "alice");
    assert!(sign_in.authn_request.contains("ForceAuthn=\"true\""), "{}", sign_in.authn_request);
    let mut answer = answer_for(&sign_in, "alice@example.com");
    answer.authn_instant = answer.issue_instant - 3600;
    let page = post(&broker, &sign_in, &saml::signed(&answer, &Signed::Both, &Signer::idp()));
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("forceAuthn"), "{}", page.body);
}

/// A broker with its own key pair, trusting a signed assertion inside an unsigned
/// Response: the shape whose encrypted assertion nothing vouches for until it is opened.
fn start_with_keys() -> Broker {
    let read = |name: &str| std::fs::read_to_string(saml::fixture(name)).unwrap();
    let (key, cert) = (read("saml-sp-key.pem"), read("saml-sp-cert.pem"));
    start_with(Store::Memory, &[("saml_sp_key", &key), ("saml_sp_cert", &cert), ("saml_want_response_signed", "false")])
}

/// The signed assertion for `sign_in`, encrypted by xmlsec1 to `cert`.
fn encrypted_answer(sign_in: &SignIn, user: &str, cert: &std::path::Path, content: &str, transport: &str) -> String {
    saml::encrypted(&saml::signed(&answer_for(sign_in, user), &Signed::Assertion, &Signer::idp()), cert, content, transport)
}

fn encrypted_assertion_of(xml: &str) -> String {
    let start = xml.find("<saml:EncryptedAssertion>").unwrap();
    let end = xml.find("</saml:EncryptedAssertion>").unwrap() + "</saml:EncryptedAssertion>".len();
    xml[start..end].to_owned()
}

#[test]
fn an_encrypted_assertion_is_opened_with_our_key_and_every_hostile_one_refused() {
    let broker = start_with_keys();
    let user = "alice@example.com";
    let sign_in = begin(&broker, user);
    assert!(broker.get("/saml/metadata").body.contains(r#"<md:KeyDescriptor use="encryption">"#));
    let xml = encrypted_answer(&sign_in, user, &saml::sp_cert(), saml::AES256_GCM, saml::RSA_OAEP_MGF1P);
    let page = post(&broker, &sign_in, &xml);
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(broker.status(&sign_in.request).json()["nameID"], user);

    let evil = |sign_in: &SignIn| {
        let mut evil = answer_for(sign_in, "admin@example.com");
        evil.assertion_id = "_evil".into();
        signed_assertion_of(&saml::template(&evil, &Signed::Neither, &saml::Algorithm::RsaSha256))
    };
    let ours = |sign_in: &SignIn| encrypted_answer(sign_in, user, &saml::sp_cert(), saml::AES128_GCM, saml::RSA_OAEP_MGF1P);
    assert_refused(
        &broker,
        "a second assertion beside the encrypted one",
        |s| {
            let xml = ours(s);
            let encrypted = encrypted_assertion_of(&xml);
            xml.replace(&encrypted, &format!("{}{encrypted}", evil(s)))
        },
        "holds an assertion beside its encrypted one",
    );
    assert_refused(
        &broker,
        "the encrypted assertion wrapped away, an attacker's in its place",
        |s| {
            let xml = ours(s);
            let encrypted = encrypted_assertion_of(&xml);
            xml.replace(&encrypted, &format!("<samlp:Extensions>{encrypted}</samlp:Extensions>{}", evil(s)))
        },
        "holds an assertion beside its encrypted one",
    );
    assert_refused(
        &broker,
        "the encrypted assertion wrapped away alone",
        |s| {
            let xml = ours(s);
            let encrypted = encrypted_assertion_of(&xml);
            xml.replace(&encrypted, &format!("<samlp:Extensions>{encrypted}</samlp:Extensions>"))
        },
        "not where the profile puts it",
    );
    assert_refused(
        &broker,
        "encrypted to a key that is not ours",
        |s| encrypted_answer(s, user, &saml::other_cert(), saml::AES256_CBC, saml::RSA_OAEP_MGF1P),
        "encrypted to a key that is not this broker",
    );
    assert_refused(
        &broker,
        "RSA 1.5 key transport",
        |s| encrypted_answer(s, user, &saml::sp_cert(), saml::AES256_CBC, saml::RSA_1_5),
        "RSA PKCS #1 v1.5 (rsa-1_5), which this broker refuses",
    );
    assert_refused(
        &broker,
        "an attacker's assertion encrypted to our key",
        |s| {
            let mut answer = answer_for(s, user);
            answer.name_id = "admin@example.com".into();
            let forged = saml::template(&answer, &Signed::Neither, &saml::Algorithm::RsaSha256);
            saml::encrypted(&forged, &saml::sp_cert(), saml::AES256_CBC, saml::RSA_OAEP_MGF1P)
        },
        "its encrypted assertion was refused: it could not be decrypted",
    );
}

//! SAML 2.0 Responses for the tests: builds them as an IdP would, then signs and
//! verifies them with the independent `xmlsec1` CLI (never with the broker's own code),
//! for the hostile-corpus and differential tests.
//!
//! Every call to `xmlsec1` works in a fresh temporary directory, removed afterwards.
//! `xmlsec1` 1.2.37 (OpenSSL 3) signs and verifies RSA-SHA1 without any extra flag, and
//! its CLI has no option to restrict algorithms: every registered transform is enabled
//! when it verifies (its debug output says `enabled transforms: all`), including
//! rsa-sha1/sha1 and rsa-md5/md5. A differential test must therefore expect the broker
//! to refuse some documents that `xmlsec1` accepts (see `Verification::signatures`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

pub const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
pub const EMAIL_FORMAT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
pub const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
pub const PASSWORD_PROTECTED_TRANSPORT: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";
pub const BASIC_NAME_FORMAT: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic";
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
pub const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
pub const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

/// Every `ds:Signature` element of a document, whatever its prefix, for `--node-xpath`
/// (xmlsec1 registers only the root element's namespace prefixes for its XPath).
const SIGNATURES_XPATH: &str = "//*[local-name()='Signature' and namespace-uri()='http://www.w3.org/2000/09/xmldsig#']";
/// What xmlsec1 says when `--node-xpath` selects no node: there is no n-th Signature.
const NO_SUCH_NODE: &str = "does not return a single node";
/// Refuses documents with more signatures than this (a hostile document could have many).
const MAX_SIGNATURES: usize = 32;

/// What a SAML Response says. All times are Unix seconds, written as xs:dateTime UTC
/// (`2027-01-15T10:00:00Z`).
#[derive(Clone, Debug)]
pub struct Answer {
    /// "_r" + random hex.
    pub response_id: String,
    /// "_a" + random hex.
    pub assertion_id: String,
    /// Response@IssueInstant and Assertion@IssueInstant.
    pub issue_instant: i64,
    /// AuthnStatement@AuthnInstant: when the user signed in at the identity provider.
    pub authn_instant: i64,
    /// `<saml:Issuer>` of the Response and the Assertion.
    pub idp_entity_id: String,
    /// Response@Destination (the ACS URL).
    pub destination: Option<String>,
    /// Response@InResponseTo.
    pub in_response_to: Option<String>,
    /// SubjectConfirmationData@InResponseTo (inside the assertion).
    pub subject_in_response_to: Option<String>,
    /// SubjectConfirmationData@Recipient (the ACS URL).
    pub recipient: String,
    /// Conditions/AudienceRestriction/Audience.
    pub audience: String,
    pub name_id: String,
    pub name_id_format: String,
    /// AuthnStatement@SessionIndex ("_s" + random hex).
    pub session_index: String,
    /// Conditions@NotBefore.
    pub not_before: i64,
    /// Conditions@NotOnOrAfter and SubjectConfirmationData@NotOnOrAfter.
    pub not_on_or_after: i64,
    /// The StatusCode Value.
    pub status: String,
    /// Each attribute's name and values (one AttributeValue per value).
    pub attributes: Vec<(String, Vec<String>)>,
}

impl Answer {
    /// A successful answer issued at `now`: valid from `now - 60` (clock skew) until
    /// `now + 300`, emailAddress NameID, attributes `email` (the NameID), `displayName`
    /// (its local part) and `groups` (engineers, staff).
    pub fn new(idp_entity_id: &str, acs_url: &str, audience: &str, in_response_to: &str, name_id: &str, now: i64) -> Self {
        let display_name = name_id.split('@').next().unwrap_or(name_id);
        Self {
            response_id: format!("_r{}", random_hex()),
            assertion_id: format!("_a{}", random_hex()),
            issue_instant: now,
            authn_instant: now,
            idp_entity_id: idp_entity_id.to_owned(),
            destination: Some(acs_url.to_owned()),
            in_response_to: Some(in_response_to.to_owned()),
            subject_in_response_to: Some(in_response_to.to_owned()),
            recipient: acs_url.to_owned(),
            audience: audience.to_owned(),
            name_id: name_id.to_owned(),
            name_id_format: EMAIL_FORMAT.to_owned(),
            session_index: format!("_s{}", random_hex()),
            not_before: now - 60,
            not_on_or_after: now + 300,
            status: SUCCESS.to_owned(),
            attributes: vec![
                ("email".to_owned(), vec![name_id.to_owned()]),
                ("displayName".to_owned(), vec![display_name.to_owned()]),
                ("groups".to_owned(), vec!["engineers".to_owned(), "staff".to_owned()]),
            ],
        }
    }
}

/// Which elements carry a signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signed {
    Both,
    Response,
    Assertion,
    Neither,
}

impl Signed {
    pub fn response(self) -> bool {
        matches!(self, Signed::Both | Signed::Response)
    }

    pub fn assertion(self) -> bool {
        matches!(self, Signed::Both | Signed::Assertion)
    }
}

/// The signature and digest algorithms of a signature template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// rsa-sha256 with a sha256 digest.
    RsaSha256,
    /// rsa-sha1 with a sha1 digest.
    RsaSha1,
}

impl Algorithm {
    pub fn signature_method(self) -> &'static str {
        match self {
            Algorithm::RsaSha256 => RSA_SHA256,
            Algorithm::RsaSha1 => RSA_SHA1,
        }
    }

    pub fn digest_method(self) -> &'static str {
        match self {
            Algorithm::RsaSha256 => SHA256,
            Algorithm::RsaSha1 => SHA1,
        }
    }
}

/// A signing key (PEM, PKCS#8), its certificate (PEM) and the algorithm `signed` uses.
#[derive(Clone, Debug)]
pub struct Signer {
    pub key: PathBuf,
    pub cert: PathBuf,
    pub algorithm: Algorithm,
}

impl Signer {
    /// The test IdP's key (`tests/fixtures/saml-idp-key.pem`), RSA-SHA256.
    pub fn idp() -> Self {
        Self { key: fixture("saml-idp-key.pem"), cert: idp_cert(), algorithm: Algorithm::RsaSha256 }
    }

    /// An unrelated key (`tests/fixtures/saml-other-key.pem`), RSA-SHA256.
    pub fn other() -> Self {
        Self { key: fixture("saml-other-key.pem"), cert: other_cert(), algorithm: Algorithm::RsaSha256 }
    }

    /// The test IdP's key, RSA-SHA1.
    pub fn sha1() -> Self {
        Self { algorithm: Algorithm::RsaSha1, ..Self::idp() }
    }
}

/// `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    crate::project_dir().join("tests/fixtures").join(name)
}

/// The test IdP's certificate (what the broker is configured to trust).
pub fn idp_cert() -> PathBuf {
    fixture("saml-idp-cert.pem")
}

/// The unrelated certificate.
pub fn other_cert() -> PathBuf {
    fixture("saml-other-cert.pem")
}

/// The Response as XML, with an empty `<ds:Signature>` template in each element `signed`
/// names (after its `<saml:Issuer>`, as the schema orders it).
pub fn template(answer: &Answer, signed: &Signed, algorithm: &Algorithm) -> String {
    let a = answer;
    let mut x = String::new();
    let _ = write!(
        x,
        r#"<samlp:Response xmlns:samlp="{PROTOCOL_NS}" xmlns:saml="{ASSERTION_NS}" ID="{}" Version="2.0" IssueInstant="{}""#,
        esc(&a.response_id),
        xs_datetime(a.issue_instant)
    );
    if let Some(destination) = &a.destination {
        let _ = write!(x, r#" Destination="{}""#, esc(destination));
    }
    if let Some(in_response_to) = &a.in_response_to {
        let _ = write!(x, r#" InResponseTo="{}""#, esc(in_response_to));
    }
    let _ = write!(x, "><saml:Issuer>{}</saml:Issuer>", esc(&a.idp_entity_id));
    if signed.response() {
        x.push_str(&signature_template(&a.response_id, *algorithm));
    }
    let _ = write!(x, r#"<samlp:Status><samlp:StatusCode Value="{}"/></samlp:Status>"#, esc(&a.status));
    let _ = write!(
        x,
        r#"<saml:Assertion xmlns:saml="{ASSERTION_NS}" ID="{}" Version="2.0" IssueInstant="{}"><saml:Issuer>{}</saml:Issuer>"#,
        esc(&a.assertion_id),
        xs_datetime(a.issue_instant),
        esc(&a.idp_entity_id)
    );
    if signed.assertion() {
        x.push_str(&signature_template(&a.assertion_id, *algorithm));
    }
    let _ = write!(
        x,
        r#"<saml:Subject><saml:NameID Format="{}">{}</saml:NameID><saml:SubjectConfirmation Method="{BEARER}"><saml:SubjectConfirmationData"#,
        esc(&a.name_id_format),
        esc(&a.name_id)
    );
    if let Some(in_response_to) = &a.subject_in_response_to {
        let _ = write!(x, r#" InResponseTo="{}""#, esc(in_response_to));
    }
    let _ = write!(
        x,
        r#" NotOnOrAfter="{}" Recipient="{}"/></saml:SubjectConfirmation></saml:Subject>"#,
        xs_datetime(a.not_on_or_after),
        esc(&a.recipient)
    );
    let _ = write!(
        x,
        r#"<saml:Conditions NotBefore="{}" NotOnOrAfter="{}"><saml:AudienceRestriction><saml:Audience>{}</saml:Audience></saml:AudienceRestriction></saml:Conditions>"#,
        xs_datetime(a.not_before),
        xs_datetime(a.not_on_or_after),
        esc(&a.audience)
    );
    let _ = write!(
        x,
        r#"<saml:AuthnStatement AuthnInstant="{}" SessionIndex="{}"><saml:AuthnContext><saml:AuthnContextClassRef>{PASSWORD_PROTECTED_TRANSPORT}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"#,
        xs_datetime(a.authn_instant),
        esc(&a.session_index)
    );
    if !a.attributes.is_empty() {
        x.push_str("<saml:AttributeStatement>");
        for (name, values) in &a.attributes {
            let _ = write!(x, r#"<saml:Attribute Name="{}" NameFormat="{BASIC_NAME_FORMAT}">"#, esc(name));
            for value in values {
                let _ = write!(x, "<saml:AttributeValue>{}</saml:AttributeValue>", esc(value));
            }
            x.push_str("</saml:Attribute>");
        }
        x.push_str("</saml:AttributeStatement>");
    }
    x.push_str("</saml:Assertion></samlp:Response>");
    x
}

/// An empty enveloped signature over the element with ID `id`, for xmlsec1 to fill
/// (digest, signature value and the signing certificate in X509Data).
pub fn signature_template(id: &str, algorithm: Algorithm) -> String {
    format!(
        concat!(
            r#"<ds:Signature xmlns:ds="{dsig}"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="{c14n}"/>"#,
            r##"<ds:SignatureMethod Algorithm="{sig}"/><ds:Reference URI="#{id}"><ds:Transforms>"##,
            r#"<ds:Transform Algorithm="{enveloped}"/><ds:Transform Algorithm="{c14n}"/></ds:Transforms>"#,
            r#"<ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo>"#,
            r#"<ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>"#
        ),
        dsig = DSIG_NS,
        c14n = EXC_C14N,
        enveloped = ENVELOPED,
        sig = algorithm.signature_method(),
        digest = algorithm.digest_method(),
        id = esc(id),
    )
}

/// Fills every Signature template of `template` with xmlsec1, last in document order
/// first: the Assertion's before the Response's, so that the Response's signature covers
/// the signed Assertion. The output is xmlsec1's, byte for byte (it adds an XML
/// declaration). Panics if xmlsec1 fails.
pub fn sign(template: &str, signer: &Signer) -> String {
    let dir = TempDir::new();
    let count = count_signatures(&dir, template);
    let mut xml = template.to_owned();
    for n in (1..=count).rev() {
        let input = dir.write("template.xml", &xml);
        let output = dir.path("signed.xml");
        let mut key = signer.key.clone().into_os_string();
        key.push(",");
        key.push(&signer.cert);
        let out = xmlsec1()
            .arg("--sign")
            .args(ID_ATTRS)
            .arg("--privkey-pem")
            .arg(key)
            .arg("--node-xpath")
            .arg(nth_signature(n))
            .arg("--output")
            .arg(&output)
            .arg(&input)
            .output()
            .expect("run xmlsec1");
        assert!(out.status.success(), "xmlsec1 --sign (signature {n} of {count}) failed: {}\n{xml}", String::from_utf8_lossy(&out.stderr));
        xml = std::fs::read_to_string(&output).expect("read xmlsec1's output");
    }
    xml
}

/// `template` + `sign`, with the signer's algorithm.
pub fn signed(answer: &Answer, signed: &Signed, signer: &Signer) -> String {
    sign(&template(answer, signed, &signer.algorithm), signer)
}

/// XML Encryption's content algorithms and key transports, by their URIs.
pub const AES128_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes128-gcm";
pub const AES256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
pub const AES256_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes256-cbc";
pub const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
pub const RSA_1_5: &str = "http://www.w3.org/2001/04/xmlenc#rsa-1_5";

/// The service provider's certificate of the tests (the broker's `saml_sp_cert`).
pub fn sp_cert() -> PathBuf {
    fixture("saml-sp-cert.pem")
}

/// `xml` with its first Assertion encrypted by xmlsec1 to `cert`, in an
/// `EncryptedAssertion` where the Assertion stood, as identity providers send it: the
/// content with `content` (a fresh session key), that key wrapped with `key_transport`
/// in the `EncryptedData`'s `KeyInfo`. Encrypt after signing the assertion and before
/// signing the Response. Panics if xmlsec1 fails.
pub fn encrypted(xml: &str, cert: &Path, content: &str, key_transport: &str) -> String {
    let start = xml.find("<saml:Assertion ").expect("an Assertion to encrypt");
    let end = xml.find("</saml:Assertion>").expect("its end") + "</saml:Assertion>".len();
    let wrapped = format!("{}<saml:EncryptedAssertion>{}</saml:EncryptedAssertion>{}", &xml[..start], &xml[start..end], &xml[end..]);
    let session_key = if content.contains("128") { "aes-128" } else { "aes-256" };
    let template = format!(
        concat!(
            r#"<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element">"#,
            r#"<xenc:EncryptionMethod Algorithm="{content}"/><ds:KeyInfo xmlns:ds="{dsig}"><xenc:EncryptedKey>"#,
            r#"<xenc:EncryptionMethod Algorithm="{transport}"/><xenc:CipherData><xenc:CipherValue/></xenc:CipherData>"#,
            r#"</xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedData>"#
        ),
        content = content,
        dsig = DSIG_NS,
        transport = key_transport,
    );
    let dir = TempDir::new();
    let (data, template, output) = (dir.write("data.xml", &wrapped), dir.write("template.xml", &template), dir.path("encrypted.xml"));
    let out = xmlsec1()
        .arg("--encrypt")
        .arg("--pubkey-cert-pem")
        .arg(cert)
        .args(["--session-key", session_key, "--node-name", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"])
        .arg("--xml-data")
        .arg(&data)
        .arg("--output")
        .arg(&output)
        .arg(&template)
        .output()
        .expect("run xmlsec1");
    assert!(out.status.success(), "xmlsec1 --encrypt failed: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::read_to_string(&output).expect("read xmlsec1's output")
}

/// True when the document has at least one Signature and xmlsec1 verifies every one of
/// them trusting only `cert` (see `xmlsec1_verify`).
pub fn xmlsec1_verifies(xml: &str, cert: &Path) -> bool {
    xmlsec1_verify(xml, cert).verified()
}

/// What xmlsec1 made of one Signature element.
#[derive(Clone, Debug, Default)]
pub struct SignatureCheck {
    /// xmlsec1 exited 0 and its context says `succeeded`.
    pub verified: bool,
    /// The SignatureMethod xmlsec1 used (its href), when it got that far.
    pub signature_method: Option<String>,
    /// The DigestMethod of each Reference, in order.
    pub digest_methods: Vec<String>,
    /// The URI of each Reference, in order (`#_a…`).
    pub reference_uris: Vec<String>,
    /// What xmlsec1 printed on stderr.
    pub stderr: String,
}

/// xmlsec1's verdict on every Signature element of a document.
#[derive(Clone, Debug, Default)]
pub struct Verification {
    /// One per `ds:Signature` element, in document order (wherever it is).
    pub signatures: Vec<SignatureCheck>,
    /// The algorithms xmlsec1 was allowed, as its debug output puts it (always `all`
    /// with 1.2.37's CLI: it has no option to restrict them).
    pub enabled_transforms: String,
}

impl Verification {
    /// At least one signature, and every one verified.
    pub fn verified(&self) -> bool {
        !self.signatures.is_empty() && self.signatures.iter().all(|s| s.verified)
    }
}

/// Verifies each Signature element of `xml` in turn with xmlsec1, trusting only the key
/// of `cert`: `--pubkey-cert-pem cert` loads it, and `--enabled-key-data key-name` keeps
/// xmlsec1 from taking a key out of the document's KeyInfo (by default it would use an
/// attacker's `<ds:KeyValue>`; `x509` is off too, so an X509Data certificate is ignored).
/// ID attributes are registered for Response and Assertion; references may only point
/// into the document (`--enabled-reference-uris empty,same-doc`: no files, no network).
/// A document xmlsec1 cannot parse has no verified signature.
pub fn xmlsec1_verify(xml: &str, cert: &Path) -> Verification {
    let dir = TempDir::new();
    let input = dir.write("document.xml", xml);
    let mut verification = Verification::default();
    for n in 1..=MAX_SIGNATURES + 1 {
        let out = verify_nth(&input, cert, n);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if stderr.contains(NO_SUCH_NODE) {
            break;
        }
        if n > MAX_SIGNATURES {
            verification.signatures.push(SignatureCheck { stderr: "too many signatures".into(), ..Default::default() });
            break;
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let mut check = SignatureCheck { stderr, ..Default::default() };
        let mut status = None;
        let mut lines = stdout.lines();
        while let Some(line) = lines.next() {
            if let Some(s) = line.strip_prefix("== Status: ") {
                status.get_or_insert_with(|| s.trim().to_owned());
            } else if let Some(s) = line.strip_prefix("== enabled transforms: ") {
                if verification.enabled_transforms.is_empty() {
                    verification.enabled_transforms = s.trim().to_owned();
                }
            } else if let Some(s) = line.strip_prefix("== URI: ") {
                check.reference_uris.push(s.trim().trim_matches('"').to_owned());
            } else if line == "== Signature Method:" {
                check.signature_method = lines.next().and_then(transform_href);
            } else if line == "== Digest Method:" {
                check.digest_methods.extend(lines.next().and_then(transform_href));
            }
        }
        check.verified = out.status.success() && status.as_deref() == Some("succeeded");
        let unreadable = check.stderr.contains("failed to load document");
        verification.signatures.push(check);
        if unreadable || out.status.code().is_none() {
            break; // not a document xmlsec1 can read (or xmlsec1 was killed): no point going on
        }
    }
    verification
}

/// How many Signature elements xmlsec1 finds in `xml` (without trusting any key).
pub fn signature_count(xml: &str) -> usize {
    let dir = TempDir::new();
    count_signatures(&dir, xml)
}

/// The ACS form body: `SAMLResponse=<base64 of xml, URL-encoded>&RelayState=<relay_state,
/// URL-encoded>` (application/x-www-form-urlencoded).
pub fn form_body(xml: &str, relay_state: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("SAMLResponse", &STANDARD.encode(xml))
        .append_pair("RelayState", relay_state)
        .finish()
}

/// The XML and RelayState of an ACS form body (the reverse of `form_body`).
pub fn parse_form_body(body: &str) -> (String, Option<String>) {
    let mut xml = None;
    let mut relay_state = None;
    for (name, value) in url::form_urlencoded::parse(body.as_bytes()) {
        match &*name {
            "SAMLResponse" => xml = Some(String::from_utf8(STANDARD.decode(value.as_bytes()).expect("base64")).expect("UTF-8")),
            "RelayState" => relay_state = Some(value.into_owned()),
            _ => {}
        }
    }
    (xml.expect("a SAMLResponse field"), relay_state)
}

/// Unix seconds as xs:dateTime UTC: `2027-01-15T10:00:00Z`.
pub fn xs_datetime(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Days since 1970-01-01 to a civil date (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

/// XML-escapes text or an attribute value.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The current time, in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("a clock after 1970").as_secs() as i64
}

const ID_ATTRS: [&str; 4] =
    ["--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:Response", "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"];

fn xmlsec1() -> Command {
    Command::new("xmlsec1")
}

fn nth_signature(n: usize) -> String {
    format!("({SIGNATURES_XPATH})[{n}]")
}

fn verify_nth(input: &Path, cert: &Path, n: usize) -> Output {
    xmlsec1()
        .arg("--verify")
        .args(ID_ATTRS)
        .arg("--pubkey-cert-pem")
        .arg(cert)
        .args(["--enabled-key-data", "key-name", "--enabled-reference-uris", "empty,same-doc", "--print-debug", "--node-xpath"])
        .arg(nth_signature(n))
        .arg(input)
        .output()
        .expect("run xmlsec1")
}

/// Counts Signature elements by asking xmlsec1 for the n-th until it finds none.
fn count_signatures(dir: &TempDir, xml: &str) -> usize {
    let input = dir.write("count.xml", xml);
    let cert = idp_cert();
    for n in 1..=MAX_SIGNATURES + 1 {
        let out = verify_nth(&input, &cert, n);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains(NO_SUCH_NODE) {
            return n - 1;
        }
        assert!(
            !stderr.contains("failed to load document") && !stderr.contains("parser error"),
            "xmlsec1 cannot read the document: {stderr}\n{xml}"
        );
    }
    panic!("more than {MAX_SIGNATURES} signatures");
}

/// `=== Transform: sha1 (href=http://www.w3.org/2000/09/xmldsig#sha1)` → the href.
fn transform_href(line: &str) -> Option<String> {
    let start = line.find("(href=")? + "(href=".len();
    let end = line.rfind(')')?;
    (end > start).then(|| line[start..end].to_owned())
}

fn random_hex() -> String {
    rand::random::<[u8; 16]>().iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh directory under the system's temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = format!("login-broker-saml-{}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed), random_hex());
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir(&path).expect("create a temp dir");
        Self(path)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).expect("write a temp file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

//! HAS's main client, Perforce's p4d `loginhook` extension, driven through its whole
//! sequence as its description says it works (written here, not taken from its code):
//! over https through the reference TLS front (`deploy/tls-proxy/nginx.conf`) with its
//! client certificate, by `curl` as the extension calls it; `test-svc`, `test-ssl`; and
//! logins with `Auth-Protocol` unset, `oidc` and `saml`, the one status long poll
//! waiting while Chromium signs the person in at a real identity provider, and the
//! identity compared by email, case-insensitively, as the extension does.

use serde_json::Value;
use testkit::tls::{Authority, Credential, TlsFront};
use testkit::{Broker, OidcProvider, Reply, SamlIdp, Store, browser, free_port};

const PROXY_SECRET: &str = "proxy-secret-0123456789abcdef";
/// HAS's default, which the extension's one long poll relies on.
const LOGIN_TIMEOUT: u32 = 60;
/// The certificate the extension presents, and the CN the broker accepts (HAS's
/// `CLIENT_CERT_CN`, as its docs set it).
const EXTENSION_CN: &str = "LoginExtension";

/// The extension as p4d runs it: its `Service-URL` is the TLS front's origin.
struct Extension<'a> {
    front: &'a TlsFront,
    certificate: &'a Credential,
    /// `Auth-Protocol`: unset, the extension opens `loginUrl`; set, it builds the URL.
    auth_protocol: Option<&'a str>,
}

impl Extension<'_> {
    fn call(&self, path: &str) -> Reply {
        self.front.get(path, Some(self.certificate), &[])
    }

    /// `p4 extension --run loginhook test-svc`: OK on 200 without an `error`.
    fn test_svc(&self) -> bool {
        let reply = self.call("/requests/new/testuser");
        reply.status == 200 && reply.json().get("error").is_none()
    }

    /// `p4 extension --run loginhook test-ssl`: OK only on 404 (403: certificate not accepted).
    fn test_ssl(&self) -> u16 {
        self.call("/requests/status/nine3two?instanceId=none").status
    }

    /// A p4 login of the user whose email is `email`: the request, the URL the user's p4
    /// client opens (handed to `person`), the one status call meanwhile; returns the
    /// profile after checking it as the extension does.
    fn login(&self, email: &str, person: impl FnOnce(&str) + Send) -> Value {
        let escaped: String = url::form_urlencoded::byte_serialize(email.as_bytes()).collect();
        let created = self.call(&format!("/requests/new/{escaped}"));
        assert_eq!(created.status, 200, "{}", created.body);
        let created = created.json();
        let field = |name: &str| created[name].as_str().unwrap_or_else(|| panic!("no {name}: {created}")).to_owned();
        let (request, instance) = (field("request"), field("instanceId"));
        let url = match self.auth_protocol {
            Some(protocol) => format!("{}/{protocol}/login/{request}?instanceId={instance}", field("baseUrl")),
            None => field("loginUrl"),
        };
        std::thread::scope(|scope| {
            let status = scope.spawn(|| self.call(&format!("/requests/status/{request}?instanceId={instance}")));
            person(&url);
            let reply = status.join().unwrap();
            assert_eq!(reply.status, 200, "{:?}: {}", self.auth_protocol, reply.body);
            let profile = reply.json();
            let name = profile["email"].as_str().unwrap_or_else(|| panic!("no email: {profile}"));
            assert_eq!(name.to_lowercase(), email.to_lowercase(), "the extension's comparison: {profile}");
            profile
        })
    }
}

/// The person at the URL their p4 client opened: Chromium, which presents no client
/// certificate and trusts the test's server certificate.
fn signs_in_as(username: &str) -> impl FnOnce(&str) + Send + '_ {
    move |url| {
        let page = browser(&["--url", url, "--username", username, "--ignore-https-errors"]);
        assert!(page["text"].as_str().unwrap_or_default().contains("You are signed in"), "{page}");
    }
}

/// A broker behind the TLS front on `port`, accepting the extension's certificate by CN.
fn deployment(port: u16, provider_variables: &[(&str, &str)]) -> (Broker, TlsFront, Authority) {
    let origin = TlsFront::origin_on(port);
    let login_timeout = LOGIN_TIMEOUT.to_string();
    let mut variables = provider_variables.to_vec();
    variables.extend([
        ("svc_base_uri", origin.as_str()),
        ("client_cert_header", "x-client-cert"),
        ("client_cert_cn", EXTENSION_CN),
        ("client_cert_proxy_secret", PROXY_SECRET),
        ("login_timeout", &login_timeout),
    ]);
    let broker = Broker::start(Store::Memory, &variables);
    let clients = Authority::new("p4d");
    let front = TlsFront::start(port, &broker.http, &clients, PROXY_SECRET, LOGIN_TIMEOUT);
    (broker, front, clients)
}

#[test]
fn the_extension_tests_and_signs_people_in_over_openid_connect() {
    let port = free_port();
    let provider = OidcProvider::start(&[format!("{}/oidc/callback", TlsFront::origin_on(port))], &[]);
    let (_broker, front, clients) = deployment(port, &provider.variables());
    let certificate = clients.issue(EXTENSION_CN);
    let mut extension = Extension { front: &front, certificate: &certificate, auth_protocol: None };

    assert!(extension.test_svc(), "test-svc");
    assert_eq!(extension.test_ssl(), 404, "test-ssl");
    let stranger = clients.issue("SomeoneElse");
    assert_eq!(Extension { certificate: &stranger, ..extension }.test_ssl(), 403, "test-ssl names a certificate not accepted");

    for auth_protocol in [None, Some("oidc")] {
        extension.auth_protocol = auth_protocol;
        let profile = extension.login("alice@example.com", signs_in_as("Alice"));
        assert_eq!(profile["providerId"], "oidc", "{profile}");
    }
}

#[test]
fn the_extension_signs_people_in_over_saml() {
    let port = free_port();
    let idp = SamlIdp::start(&TlsFront::origin_on(port), &[]);
    let (_broker, front, clients) = deployment(port, &idp.variables());
    let certificate = clients.issue(EXTENSION_CN);
    for auth_protocol in [None, Some("saml")] {
        let extension = Extension { front: &front, certificate: &certificate, auth_protocol };
        let profile = extension.login("bob@example.com", signs_in_as("Bob@Example.com"));
        assert_eq!((&profile["providerId"], &profile["userId"]), (&"saml".into(), &"bob@example.com".into()), "{profile}");
    }
}

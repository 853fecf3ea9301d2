//! The reference TLS front, `deploy/tls-proxy/nginx.conf`, as shipped: a real nginx in
//! front of a broker under `spin up`, clients with and without certificates (made by
//! `openssl`) calling through it with `curl`, as HAS's p4d `loginhook` extension does.

use std::time::{Duration, Instant};
use testkit::provider_double;

use provider_double::{Key, ProviderDouble, alice_claims, finish_login, issuing, provider_with, start_broker};
use testkit::tls::{Authority, Credential, TlsFront};
use testkit::{Broker, Login, Reply, Store, free_port};

const PROXY_SECRET: &str = "proxy-secret-0123456789abcdef";
const LOGIN_TIMEOUT: u32 = 5;

/// How the broker recognises the certificates it accepts (HAS's rules: subject CN
/// patterns, or else fingerprints).
#[derive(Clone, Copy, Debug)]
enum Rule {
    CommonName,
    Fingerprint,
}

/// A broker behind nginx that accepts `accepted`, one of the certificates `clients` issues.
struct Deployment {
    front: TlsFront,
    broker: Broker,
    _provider: ProviderDouble,
    accepted: Credential,
    clients: Authority,
}

fn deployment(rule: Rule) -> Deployment {
    let clients = Authority::new("clients");
    let accepted = clients.issue("build-server-1");
    let (variable, value) = match rule {
        Rule::CommonName => ("client_cert_cn", "build-server-*".to_owned()),
        Rule::Fingerprint => ("client_cert_fp", accepted.fingerprint()),
    };
    let provider = provider_with(|issuer| issuing(Key::rsa("k1"), alice_claims(issuer.to_owned())));
    let port = free_port();
    let broker = start_broker(
        Store::Memory,
        &provider,
        &[
            ("svc_base_uri", &TlsFront::origin_on(port)),
            ("client_cert_header", "x-client-cert"),
            (variable, &value),
            ("client_cert_proxy_secret", PROXY_SECRET),
            ("login_timeout", &LOGIN_TIMEOUT.to_string()),
        ],
    );
    let front = TlsFront::start(port, &broker.http, &clients, PROXY_SECRET, LOGIN_TIMEOUT);
    Deployment { front, broker, _provider: provider, accepted, clients }
}

impl Deployment {
    fn finished_login(&self) -> Login {
        let login = self.broker.login("alice");
        finish_login(&self.broker, &login, "alice");
        login
    }

    /// The accepted certificate reads the identity through nginx.
    fn assert_accepted_reads(&self, login: &Login) {
        assert_alice(&self.front.status(login, Some(&self.accepted)));
    }
}

fn assert_alice(reply: &Reply) {
    assert_eq!((reply.status, reply.json()["sub"].clone()), (200, "alice".into()), "{}", reply.body);
}

/// nginx's own answer to a certificate it cannot verify: the request goes no further.
fn assert_refused_by_nginx(reply: &Reply) {
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(reply.body.contains("the client certificate is not accepted"), "nginx's answer, not the broker's: {}", reply.body);
}

#[test]
fn a_verified_certificate_reads_the_login_by_common_name_or_by_fingerprint() {
    for rule in [Rule::CommonName, Rule::Fingerprint] {
        let deployment = deployment(rule);
        deployment.assert_accepted_reads(&deployment.finished_login());
    }
}

/// Browsers present no certificate: the login pages must not need one, status calls do.
#[test]
fn without_a_certificate_the_login_pages_work_and_the_status_is_refused() {
    let deployment = deployment(Rule::CommonName);
    let created = deployment.front.get("/requests/new/alice", None, &[]);
    assert_eq!(created.status, 200, "{}", created.body);
    let (created, origin) = (created.json(), format!("{}/", deployment.front.origin));
    assert!(created["loginUrl"].as_str().unwrap().starts_with(&origin), "{created}");
    let login = Login::from_reply(&created);
    let page = deployment.front.get(&login.login_path, None, &[]);
    assert_eq!(page.status, 200, "{}", page.body);

    finish_login(&deployment.broker, &login, "alice");
    let refused = deployment.front.status(&login, None);
    assert_eq!(refused.status, 401, "{}", refused.body);
    deployment.assert_accepted_reads(&login);
}

/// Another CA's certificate, or an expired one: nginx answers 403 itself, as HAS answers
/// for a certificate it does not authorize.
#[test]
fn a_certificate_nginx_cannot_verify_never_reaches_the_broker() {
    let deployment = deployment(Rule::CommonName);
    let another_ca = Authority::new("another");
    let login = deployment.finished_login();
    for unverifiable in [another_ca.issue("build-server-1"), deployment.clients.issue_expired("build-server-1")] {
        assert_refused_by_nginx(&deployment.front.status(&login, Some(&unverifiable)));
    }
    deployment.assert_accepted_reads(&login);
}

/// HAS answers 403 for a certificate that verifies but is not permitted: by fingerprint,
/// even one of an accepted name.
#[test]
fn a_verified_certificate_the_rule_does_not_accept_is_forbidden() {
    for (rule, name) in [(Rule::CommonName, "intruder"), (Rule::Fingerprint, "build-server-1")] {
        let deployment = deployment(rule);
        let login = deployment.finished_login();
        let forbidden = deployment.front.status(&login, Some(&deployment.clients.issue(name)));
        assert_eq!(forbidden.status, 403, "{rule:?}: {}", forbidden.body);
        deployment.assert_accepted_reads(&login);
    }
}

/// Certificates are public: a header carrying an accepted one counts only as nginx's.
#[test]
fn only_nginx_forwards_a_certificate() {
    let deployment = deployment(Rule::CommonName);
    let login = deployment.finished_login();
    let accepted = deployment.accepted.escaped_pem();
    let status_path = format!("/requests/status/{}", login.request);

    let bypassing_nginx = deployment.broker.get_with(&status_path, &[("x-client-cert", &accepted)]);
    assert_eq!(bypassing_nginx.status, 401, "{}", bypassing_nginx.body);
    // nginx clears the client's copy...
    let forged = deployment.front.get(&status_path, None, &[("x-client-cert", &accepted)]);
    assert_eq!(forged.status, 401, "{}", forged.body);
    // ...or replaces it with the certificate it verified.
    let intruder = deployment.clients.issue("intruder");
    let replaced = deployment.front.get(&status_path, Some(&intruder), &[("x-client-cert", &accepted)]);
    assert_eq!(replaced.status, 403, "{}", replaced.body);

    deployment.assert_accepted_reads(&login);
}

/// A status call waits up to login_timeout: nginx passes it through unhurried, with the
/// identity when the login finishes meanwhile, and with the broker's 408 when it does not.
#[test]
fn a_status_call_waits_through_nginx() {
    let deployment = deployment(Rule::CommonName);
    let (finishing, abandoned) = (deployment.broker.login("alice"), deployment.broker.login("alice"));
    let timed_status = |login: &Login| {
        let started = Instant::now();
        (deployment.front.status(login, Some(&deployment.accepted)), started.elapsed())
    };
    let ((finished, waited_for_finish), (timed_out, waited_for_timeout)) = std::thread::scope(|scope| {
        let finished = scope.spawn(|| timed_status(&finishing));
        let timed_out = scope.spawn(|| timed_status(&abandoned));
        std::thread::sleep(Duration::from_secs(1));
        finish_login(&deployment.broker, &finishing, "alice");
        (finished.join().unwrap(), timed_out.join().unwrap())
    });
    assert_alice(&finished);
    assert!(waited_for_finish >= Duration::from_secs(1), "answered after {waited_for_finish:?}, before the login finished");
    assert_eq!(timed_out.status, 408, "{}", timed_out.body);
    assert!(waited_for_timeout >= Duration::from_secs(LOGIN_TIMEOUT.into()), "{waited_for_timeout:?}");
}

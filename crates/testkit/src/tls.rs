//! A TLS front for the tests: certificate authorities and certificates made with the
//! `openssl` CLI, nginx running the shipped `deploy/tls-proxy/nginx.conf` in front of a
//! broker, and requests through it with the `curl` CLI, as HAS's p4d `loginhook`
//! extension makes them.

use std::cell::Cell;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::{Reply, kill_group, project_dir, unique_name, wait_until};

/// For `openssl req` (a self-signed CA) and `openssl ca` (what it issues), so that no
/// system configuration plays a part. Paths are relative to the authority's directory.
const OPENSSL_CONFIG: &str = "
[req]
distinguished_name = subject
x509_extensions = authority
[subject]
[authority]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign
[ca]
default_ca = issuer
[issuer]
database = index.txt
new_certs_dir = .
default_md = sha256
policy = any_name
rand_serial = yes
unique_subject = no
[any_name]
commonName = supplied
[client]
basicConstraints = CA:false
extendedKeyUsage = clientAuth
[server]
basicConstraints = CA:false
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1
";

/// A new P-256 key, unencrypted: quick to make, and nginx needs no passphrase.
const NEW_KEY: [&str; 5] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

/// A certificate and its key, as PEM files.
pub struct Credential {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

impl Credential {
    /// SHA-256 fingerprint, as `client_cert_fp` takes it (hex with colons).
    pub fn fingerprint(&self) -> String {
        let printed = run(openssl(self.certificate.parent().unwrap())
            .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
            .arg(&self.certificate));
        printed.trim().split_once('=').expect("openssl prints `sha256 Fingerprint=…`").1.to_owned()
    }

    /// The certificate as nginx forwards it (`$ssl_client_escaped_cert`): URL-encoded PEM.
    pub fn escaped_pem(&self) -> String {
        let pem = std::fs::read(&self.certificate).unwrap();
        url::form_urlencoded::byte_serialize(&pem).collect::<String>().replace('+', "%20")
    }
}

/// A certificate authority in a directory of its own (removed on drop), and what it issues there.
pub struct Authority {
    dir: PathBuf,
    pub certificate: PathBuf,
    issued: Cell<u32>,
}

impl Authority {
    pub fn new(name: &str) -> Authority {
        let dir = unique_name(&format!("ca-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("openssl.cnf"), OPENSSL_CONFIG).unwrap();
        std::fs::write(dir.join("index.txt"), "").unwrap();
        let subject = format!("/CN=login-broker test CA {name}");
        run(openssl(&dir)
            .args(["req", "-config", "openssl.cnf", "-x509", "-days", "2", "-subj", &subject])
            .args(NEW_KEY)
            .args(["-keyout", "ca.key", "-out", "ca.pem"]));
        Authority { certificate: dir.join("ca.pem"), dir, issued: Cell::new(0) }
    }

    /// A client certificate for `common_name`, valid now.
    pub fn issue(&self, common_name: &str) -> Credential {
        self.sign(common_name, "client", &["-days", "2"])
    }

    /// A client certificate for `common_name` that expired in 2021.
    pub fn issue_expired(&self, common_name: &str) -> Credential {
        self.sign(common_name, "client", &["-startdate", "20200101000000Z", "-enddate", "20210101000000Z"])
    }

    /// A server certificate for `127.0.0.1`, valid now.
    pub fn issue_for_loopback(&self) -> Credential {
        self.sign("127.0.0.1", "server", &["-days", "2"])
    }

    /// `openssl ca` rather than `openssl x509 -req`: OpenSSL 3.0's `x509` cannot set
    /// dates in the past.
    fn sign(&self, common_name: &str, extensions: &str, validity: &[&str]) -> Credential {
        let index = self.issued.get();
        self.issued.set(index + 1);
        let (request, certificate, key) = (format!("{index}.csr"), format!("{index}.pem"), format!("{index}.key"));
        let subject = format!("/CN={common_name}");
        run(openssl(&self.dir)
            .args(["req", "-config", "openssl.cnf", "-new", "-subj", &subject])
            .args(NEW_KEY)
            .args(["-keyout", &key, "-out", &request]));
        run(openssl(&self.dir)
            .args(["ca", "-config", "openssl.cnf", "-batch", "-notext", "-cert", "ca.pem", "-keyfile", "ca.key", "-extensions", extensions])
            .args(validity)
            .args(["-in", &request, "-out", &certificate]));
        Credential { certificate: self.dir.join(certificate), key: self.dir.join(key) }
    }
}

impl Drop for Authority {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// `openssl`, run in `dir`: the configuration's paths are relative to it.
fn openssl(dir: &Path) -> Command {
    let mut openssl = Command::new("openssl");
    openssl.current_dir(dir);
    openssl
}

/// Runs `command` to success; returns what it printed.
fn run(command: &mut Command) -> String {
    let output = command.output().unwrap_or_else(|e| panic!("{command:?} does not start: {e}"));
    assert!(output.status.success(), "{command:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// nginx with `deploy/tls-proxy/nginx.conf`, its placeholders filled, on a loopback
/// port; stopped on drop.
pub struct TlsFront {
    child: Child,
    /// Its configuration, logs and temporary files, removed on drop.
    dir: PathBuf,
    pub origin: String,
    /// What clients trust nginx's certificate by.
    ca: PathBuf,
}

/// Where this nginx keeps its own files: in its directory (the prefix) rather than the
/// system's, which a user running the tests may not write to. The shipped file leaves
/// them to the operator's nginx.
const OWN_FILES: &str = "access_log access.log; client_body_temp_path temp; proxy_temp_path temp; \
                         fastcgi_temp_path temp; uwsgi_temp_path temp; scgi_temp_path temp;";

impl TlsFront {
    /// The origin of a front on `port`: the broker's `svc_base_uri`, known before either starts.
    pub fn origin_on(port: u16) -> String {
        format!("https://127.0.0.1:{port}")
    }

    /// nginx on `port` in front of the broker at `broker_addr` (`host:port`): it verifies
    /// client certificates against `clients` (which issues its own too), adds
    /// `proxy_secret`, and waits for status calls as long as `login_timeout` requires.
    pub fn start(port: u16, broker_addr: &str, clients: &Authority, proxy_secret: &str, login_timeout: u32) -> TlsFront {
        let dir = unique_name("nginx");
        std::fs::create_dir_all(&dir).unwrap();
        let server = clients.issue_for_loopback();
        let template = std::fs::read_to_string(project_dir().join("deploy/tls-proxy/nginx.conf")).unwrap();
        let path = |path: &Path| path.to_str().unwrap().to_owned();
        let filled = [
            ("@LISTEN_PORT@", format!("127.0.0.1:{port}")),
            ("@BROKER_ADDR@", broker_addr.to_owned()),
            ("@SERVER_CERT@", path(&server.certificate)),
            ("@SERVER_KEY@", path(&server.key)),
            ("@CLIENT_CA@", path(&clients.certificate)),
            ("@PROXY_SECRET@", proxy_secret.to_owned()),
            // As deploy/tls-proxy/README.md says: login_timeout with a margin.
            ("@READ_TIMEOUT@", format!("{}s", login_timeout + 30)),
        ]
        .into_iter()
        .fold(template, |config, (placeholder, value)| config.replace(placeholder, &value));
        // `@NAME@`, upper case: nginx's named locations (`@lower_case`) are not placeholders.
        let is_placeholder = |part: &str| !part.is_empty() && part.chars().all(|c| c.is_ascii_uppercase() || c == '_');
        let unfilled =
            filled.lines().find(|line| !line.trim_start().starts_with('#') && line.split('@').skip(1).step_by(2).any(is_placeholder));
        assert_eq!(unfilled, None, "a placeholder the tests do not fill");
        assert_eq!(filled.matches("http {").count(), 1, "one http block, for OWN_FILES");
        std::fs::write(dir.join("nginx.conf"), filled.replace("http {", &format!("http {{\n    {OWN_FILES}"))).unwrap();

        let mut child = nginx()
            .arg("-p")
            .arg(&dir)
            .args(["-c", "nginx.conf", "-g", "daemon off; pid nginx.pid; error_log error.log info;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("stderr")).unwrap())
            // Its own process group, with its workers: stopped together on drop.
            .process_group(0)
            .spawn()
            .expect("nginx on PATH (the test command installs nginx-light)");
        wait_until("nginx to listen", || {
            if let Some(status) = child.try_wait().unwrap() {
                let log = std::fs::read_to_string(dir.join("stderr")).unwrap_or_default()
                    + &std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
                panic!("nginx exited ({status}):\n{log}");
            }
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        TlsFront { child, dir, origin: TlsFront::origin_on(port), ca: clients.certificate.clone() }
    }

    /// A GET through nginx with `curl`, presenting `client`'s certificate if any.
    pub fn get(&self, path: &str, client: Option<&Credential>, headers: &[(&str, &str)]) -> Reply {
        let mut curl = Command::new("curl");
        curl.args(["--silent", "--show-error", "--max-time", "120", "--dump-header", "-", "--cacert"]).arg(&self.ca);
        if let Some(client) = client {
            curl.arg("--cert").arg(&client.certificate).arg("--key").arg(&client.key);
        }
        for (name, value) in headers {
            curl.args(["--header", &format!("{name}: {value}")]);
        }
        let output = curl.arg(format!("{}{path}", self.origin)).output().expect("curl on PATH");
        assert!(output.status.success(), "curl {path}: {}", String::from_utf8_lossy(&output.stderr));
        let text = String::from_utf8(output.stdout).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
        let mut lines = head.lines();
        let status =
            lines.next().and_then(|line| line.split_whitespace().nth(1)).and_then(|code| code.parse().ok()).expect("a status line");
        let headers =
            lines.filter_map(|line| line.split_once(':')).map(|(name, value)| (name.to_owned(), value.trim().to_owned())).collect();
        Reply { status, headers, body: body.to_owned() }
    }

    /// A status call through nginx, presenting `client`'s certificate if any.
    pub fn status(&self, request: &str, client: Option<&Credential>) -> Reply {
        self.get(&format!("/requests/status/{request}"), client, &[])
    }
}

/// `nginx` on `PATH`, else where Debian installs it: `/usr/sbin`, which a user's `PATH` may lack.
fn nginx() -> Command {
    let on_path = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).any(|dir| dir.join("nginx").is_file());
    Command::new(if on_path { "nginx" } else { "/usr/sbin/nginx" })
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        kill_group(&mut self.child);
        if std::thread::panicking() {
            eprintln!("nginx's log: {}", self.dir.join("error.log").display());
        } else {
            std::fs::remove_dir_all(&self.dir).ok();
        }
    }
}

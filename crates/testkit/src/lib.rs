//! Test equipment for the integration tests (`tests/broker`) and the benchmark: a real
//! `redis-server` on a free loopback port, and broker instances under the real `spin up`
//! (Spin 4.0.x from PATH).

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod provider_double;
pub mod regions;
pub mod saml;
pub mod tls;

pub const CLIENT_TOKEN: &str = "test-client-token-0123456789";

/// The `state_key` every test instance seals its records with (32 bytes, base64).
pub const STATE_KEY: &str = "dGVzdC1zdGF0ZS1rZXktMzItYnl0ZXMtbG9uZy0hISE=";

/// Owned `(name, value)` pairs as the brokers here take them.
pub fn borrowed(variables: &[(String, String)]) -> Vec<(&str, &str)> {
    variables.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect()
}

/// `variables` as one `settings_json` (with the state key and client token every broker
/// here is given), beside the origins Spin itself expands, which stay variables of their own.
pub fn in_settings_json(variables: &[(&str, &str)]) -> Vec<(String, String)> {
    let is_origin = |name: &str| name.ends_with("_origin") || name.starts_with("auth_provider_origin_");
    let mut bundled = serde_json::Map::new();
    bundled.insert("state_key".into(), STATE_KEY.into());
    bundled.insert("client_tokens".into(), CLIENT_TOKEN.into());
    let mut separate = Vec::new();
    for (name, value) in variables {
        if is_origin(name) {
            separate.push((name.to_string(), value.to_string()));
        } else {
            bundled.insert(name.to_string(), (*value).into());
        }
    }
    separate.push(("settings_json".into(), serde_json::Value::Object(bundled).to_string()));
    separate
}

/// A login request as its client holds it: the `request` it polls with (what it
/// derefs to) and the path of the login link it hands to the browser.
#[derive(Clone, Debug)]
pub struct Login {
    pub request: String,
    pub login_path: String,
}

impl Login {
    pub fn from_reply(reply: &Value) -> Self {
        let login_url = url::Url::parse(reply["loginUrl"].as_str().expect("a loginUrl")).unwrap();
        Self { request: reply["request"].as_str().expect("a request").to_owned(), login_path: login_url.path().to_owned() }
    }
}

impl std::ops::Deref for Login {
    type Target = str;
    fn deref(&self) -> &str {
        &self.request
    }
}

/// Well-formed, but no broker sealed it: unknown to every instance.
pub const UNKNOWN_REQUEST_ID: &str =
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// The repository's root, where the manifests and runtime configs under test are.
pub fn project_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn unique_name(stem: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    std::env::temp_dir().join(format!("login-broker-{stem}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)))
}

/// A throwaway `redis-server` without persistence, stopped on drop.
pub struct Redis {
    child: Option<Child>,
    pub port: u16,
}

impl Redis {
    pub fn start() -> Redis {
        let mut redis = Redis { child: None, port: free_port() };
        redis.restart();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts (again) on the same port, so brokers can reconnect.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "redis is already running");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server on PATH (the test command installs it)");
        self.child = Some(child);
        wait_until("redis-server to accept connections", || self.command(&["PING"]).is_some_and(|out| out.trim() == "PONG"));
    }

    /// SIGSTOP: Redis stops answering but keeps its data, until [`Redis::resume`].
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("redis is running").id().to_string();
        assert!(Command::new("kill").args([signal, &pid]).status().unwrap().success());
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }

    /// Every key the store holds (Spin's Redis store keeps keys raw, in db 0).
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .command(&["--raw", "KEYS", "*"])
            .expect("redis answers")
            .lines()
            .filter(|key| !key.is_empty())
            .map(str::to_owned)
            .collect();
        keys.sort();
        keys
    }

    /// Key-value operations Redis has served since the last [`Redis::reset_stats`], by
    /// the names of Spin's calls (`get`, `set`, `delete`, `exists`, `increment`), from
    /// Redis's own `INFO commandstats`: what the component really did, not what it says.
    pub fn kv_operations(&self) -> std::collections::BTreeMap<&'static str, u64> {
        let info = self.command(&["INFO", "commandstats"]).expect("redis answers");
        let mut operations = std::collections::BTreeMap::new();
        for (command, operation) in [("get", "get"), ("set", "set"), ("del", "delete"), ("exists", "exists"), ("incrby", "increment")] {
            let prefix = format!("cmdstat_{command}:calls=");
            let calls = info.lines().find_map(|line| line.strip_prefix(&prefix)).and_then(|rest| rest.split(',').next()?.parse().ok());
            operations.insert(operation, calls.unwrap_or(0));
        }
        operations
    }

    pub fn reset_stats(&self) {
        self.command(&["CONFIG", "RESETSTAT"]).expect("redis answers");
    }

    /// Runs one command with `redis-cli`; `None` when Redis does not answer.
    pub fn command(&self, args: &[&str]) -> Option<String> {
        let output = Command::new("redis-cli").args(["-p", &self.port.to_string()]).args(args).stderr(Stdio::null()).output().ok()?;
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        (output.status.success() && !text.starts_with("Could not connect")).then_some(text)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts a service that prints one JSON line when it is ready and exits when its
/// stdin closes; returns it, the stdin to hold open, and that line.
fn spawn_until_ready(command: &mut Command, what: &str) -> (Child, ChildStdin, Value) {
    let (mut child, ready) = spawn_until(command.stdin(Stdio::piped()), what, |line| serde_json::from_str(line).ok());
    let stdin = child.stdin.take().unwrap();
    (child, stdin, ready)
}

/// Starts `command` and reads its stdout until `ready` accepts a line; returns the
/// child and what `ready` made of that line. The rest of its stdout is drained.
///
/// Bounded: a start that is not ready within 30 s is killed and tried again (Node 20
/// was once seen to hang at start-up on a loaded CI machine), so a test never hangs.
fn spawn_until<T: Send + 'static>(command: &mut Command, what: &str, ready: fn(&str) -> Option<T>) -> (Child, T) {
    const ATTEMPTS: u32 = 3;
    for attempt in 1..=ATTEMPTS {
        // Its own process group, so that a retry (or a test) can stop all it started.
        let mut child = command.stdout(Stdio::piped()).process_group(0).spawn().unwrap_or_else(|e| panic!("{what} does not start: {e}"));
        let stdout = child.stdout.take().unwrap();
        let (sender, ready_value) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let mut seen = String::new();
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                if let Some(value) = ready(&line) {
                    sender.send(Ok(value)).ok();
                    lines.for_each(drop); // a full pipe would stall the service
                    return;
                }
                seen.push_str(&line);
                seen.push('\n');
            }
            sender.send(Err(seen)).ok();
        });
        match ready_value.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(value)) => return (child, value),
            Ok(Err(seen)) => {
                let status = child.wait().ok();
                panic!("{what} exited before it was ready ({status:?}); it printed:\n{seen}")
            }
            Err(_) => {
                eprintln!("{what} was not ready within 30 s (attempt {attempt} of {ATTEMPTS}); starting it again");
                kill_group(&mut child);
            }
        }
    }
    panic!("{what} did not start in {ATTEMPTS} attempts")
}

/// SIGKILL to `child`'s whole process group (see [`spawn_until`]), then reaps it.
fn kill_group(child: &mut Child) {
    signal_group(child, "-KILL");
    child.wait().ok();
}

/// Sends `signal` to the process group `child` leads; true if it was delivered.
pub fn signal_group(child: &Child, signal: &str) -> bool {
    Command::new("kill").args([signal, "--", &format!("-{}", child.id())]).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Which runtime-config file an instance starts with.
#[derive(Clone, Copy)]
pub enum Store<'a> {
    /// The project's own `runtime-config.toml`.
    Memory,
    /// The project's own `runtime-config.redis.toml`, pointed at this Redis.
    Redis(&'a Redis),
    /// No runtime config, as a plain `spin up`: Spin's default store, a SQLite file
    /// in the instance's state directory.
    SpinDefault,
    /// One region of a replicated store (`regions::Regions`), through its proxy, as
    /// Spin's Redis store.
    Region(&'a regions::Regions, usize),
}

/// One broker instance: `spin up` with the project's own `spin.toml`, `.wasm` and
/// runtime-config file, in its own process group (Spin serves from a child process),
/// stopped on drop.
pub struct Broker {
    child: Child,
    pub http: String,
    /// Spin's state and log directories, removed on drop.
    state_dir: PathBuf,
    runtime_config: Option<PathBuf>,
}

/// The Spin CLI: `spin` on `PATH` (the test command checks that it is there and that
/// it is Spin 4.0.x; `.ci/run` puts the one from `../shared/spin/` there).
pub fn spin_cli() -> Command {
    Spin::Four.command()
}

/// Which Spin runs an instance: the 4.0.x CLI, or 3.6.x (the runtime inside SpinKube's
/// shim), found as `spin3` on `PATH` (the test command checks it; `.ci/run` puts the
/// one from `../shared/spin/` there).
#[derive(Clone, Copy, Debug)]
pub enum Spin {
    Four,
    Three,
}

impl Spin {
    pub fn command(self) -> Command {
        let (variable, default) = match self {
            Spin::Four => ("SPIN", "spin"),
            Spin::Three => ("SPIN3", "spin3"),
        };
        Command::new(std::env::var_os(variable).unwrap_or_else(|| default.into()))
    }
}

/// Which build of the broker: for Spin 4 (`spin.toml`), or for `wasi:http` 0.2 hosts
/// (`deploy/wasi-http-0.2/spin.toml`).
#[derive(Clone, Copy, Debug)]
pub enum Build {
    Spin4,
    WasiHttp02,
    /// For Akamai Functions: Spin 4 with a replicated store and no atomics.
    Edge,
}

impl Build {
    pub fn manifest(self) -> PathBuf {
        match self {
            Build::Spin4 => project_dir().join("spin.toml"),
            Build::WasiHttp02 => project_dir().join("deploy/wasi-http-0.2/spin.toml"),
            Build::Edge => project_dir().join("deploy/edge/spin.toml"),
        }
    }

    pub fn wasm(self) -> PathBuf {
        let manifest = std::fs::read_to_string(self.manifest()).unwrap();
        let source = manifest.lines().find_map(|line| line.strip_prefix("source = \"")).unwrap().trim_end_matches('"');
        self.manifest().parent().unwrap().join(source)
    }
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The `error` code of a JSON error body.
    pub fn error_code(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).timeout_global(Some(Duration::from_secs(120))).build().into()
}

fn read_reply(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    try_read_reply(response).expect("the broker answers")
}

fn try_read_reply(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Reply, ureq::Error> {
    let mut response = response?;
    let status = response.status().as_u16();
    let headers =
        response.headers().iter().map(|(name, value)| (name.to_string(), value.to_str().unwrap_or_default().to_owned())).collect();
    let mut body = String::new();
    response.body_mut().as_reader().read_to_string(&mut body).map_err(ureq::Error::Io)?;
    Ok(Reply { status, headers, body })
}

/// A GET to any loopback URL, redirects not followed.
pub fn get_url(url: &str) -> Reply {
    read_reply(agent().get(url).call())
}

/// Like [`get_url`], with `headers`; `None` when nothing answers there.
pub fn try_get_url(url: &str, headers: &[(&str, &str)]) -> Option<Reply> {
    let mut request = agent().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    try_read_reply(request.call()).ok()
}

impl Broker {
    /// Starts an instance with client tokens configured and the given variable overrides.
    pub fn start(store: Store, variables: &[(&str, &str)]) -> Broker {
        Broker::start_on(0, store, variables)
    }

    /// What the component has logged (its stderr) so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.state_dir.join("logs/login-broker_stderr.txt")).unwrap_or_default()
    }

    /// Like [`Broker::start`], on a chosen port (0: any free one), for when the
    /// broker's address must be known before it starts (to register its callback).
    /// The component's log (its stderr) goes to a file: see [`Broker::log`].
    pub fn start_on(port: u16, store: Store, variables: &[(&str, &str)]) -> Broker {
        Broker::start_app(&project_dir().join("spin.toml"), port, store, variables)
    }

    /// `spin up` of any Spin app (the benchmark's reference component, say) the way
    /// [`Broker::start_on`] runs the broker: same runtime-config files, same flags.
    pub fn start_app(manifest: &Path, port: u16, store: Store, variables: &[(&str, &str)]) -> Broker {
        Broker::start_under(Spin::Four, manifest, port, store, variables)
    }

    /// Like [`Broker::start_app`], under the Spin CLI `spin`.
    pub fn start_under(spin: Spin, manifest: &Path, port: u16, store: Store, variables: &[(&str, &str)]) -> Broker {
        Broker::spawn(spin, manifest.as_os_str(), &[], port, store, variables)
    }

    /// An app pushed to a local OCI registry (plain HTTP: `--insecure`), run from there.
    pub fn start_from_registry(spin: Spin, reference: &str, store: Store, variables: &[(&str, &str)]) -> Broker {
        Broker::spawn(spin, std::ffi::OsStr::new(reference), &["--insecure"], 0, store, variables)
    }

    fn spawn(spin: Spin, from: &std::ffi::OsStr, flags: &[&str], port: u16, store: Store, variables: &[(&str, &str)]) -> Broker {
        // Any port will do: should another process take this one before Spin binds it,
        // Spin searches on from it (the address it serves is read from its output).
        let (port, search) = if port == 0 { (free_port(), Some("--find-free-port")) } else { (port, None) };
        let state_dir = unique_name("spin-state");
        std::fs::create_dir_all(&state_dir).unwrap();
        let redis_url = match store {
            Store::Redis(redis) => Some(redis.url()),
            Store::Region(regions, region) => Some(regions.url(region)),
            Store::Memory | Store::SpinDefault => None,
        };
        let (config_path, temporary) = match (store, redis_url) {
            (Store::Memory, _) => (Some(project_dir().join("runtime-config.toml")), None),
            (_, Some(url)) => {
                let template = std::fs::read_to_string(project_dir().join("runtime-config.redis.toml")).unwrap();
                let path = unique_name("runtime-config.toml");
                std::fs::write(&path, template.replace("redis://127.0.0.1:6379", &url)).unwrap();
                (Some(path.clone()), Some(path))
            }
            (_, None) => (None, None),
        };
        let mut command = spin.command();
        command
            .arg("up")
            .args(flags)
            .arg("--from")
            .arg(from)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .args(search)
            .args(config_path.iter().flat_map(|path| [std::ffi::OsStr::new("--runtime-config-file"), path.as_os_str()]))
            .arg("--state-dir")
            .arg(&state_dir)
            .arg("--log-dir")
            .arg(state_dir.join("logs"))
            .arg("--quiet")
            .stdin(Stdio::null())
            // Spin's own messages, kept with the component's log.
            .stderr(std::fs::File::create(state_dir.join("spin.stderr")).unwrap());
        // Only what the test sets: a developer's own SPIN_VARIABLE_* must not leak in.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("SPIN_VARIABLE_") {
                command.env_remove(name);
            }
        }
        command.env("SPIN_VARIABLE_CLIENT_TOKENS", CLIENT_TOKEN).env("SPIN_VARIABLE_STATE_KEY", STATE_KEY);
        for (name, value) in variables {
            command.env(format!("SPIN_VARIABLE_{}", name.to_uppercase()), value);
        }
        let (child, http) =
            spawn_until(&mut command, "spin up", |line| line.strip_prefix("Serving http://").map(|address| address.trim().to_owned()));
        Broker { child, http, state_dir, runtime_config: temporary }
    }

    pub fn get(&self, path: &str) -> Reply {
        self.get_with(path, &[])
    }

    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = agent().get(format!("http://{}{path}", self.http));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        read_reply(request.call())
    }

    pub fn get_with_token(&self, path: &str, token: &str) -> Reply {
        self.get_with(path, &[("Authorization", &format!("Bearer {token}"))])
    }

    pub fn request(&self, method: &str, path: &str) -> Reply {
        self.send(method, path, &[], Vec::new())
    }

    /// Any request at all; `None` if the client library refuses to form it.
    pub fn send(&self, method: &str, path: &str, headers: &[(String, String)], body: Vec<u8>) -> Reply {
        let mut request = ureq::http::Request::builder().method(method).uri(format!("http://{}{path}", self.http));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        read_reply(agent().run(request.body(body).unwrap()))
    }

    /// What a client does first: `/requests/new/<user>`; returns the reply's JSON.
    pub fn new_request(&self, user: &str) -> Value {
        let reply = self.get(&format!("/requests/new/{user}"));
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()
    }

    /// A new login request for `user`, as its client holds it.
    pub fn login(&self, user: &str) -> Login {
        Login::from_reply(&self.new_request(user))
    }

    /// What a person does with a login link under the default configuration: opens it
    /// and, on the confirmation page, clicks "Continue to sign in" (the form posts to
    /// its `action`, as a browser's would). Returns the answer that sends the browser on
    /// (303 to the provider when all went well).
    pub fn follow_login_link(&self, login: &Login) -> Reply {
        let page = self.get(&login.login_path);
        let Some(token) = page.body.split("name=\"confirmation\" value=\"").nth(1).and_then(|rest| rest.split('"').next()) else {
            return page;
        };
        assert_eq!(page.status, 200, "{}", page.body);
        let action = page.body.split(" action=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("the form's action");
        let cookie = page.header("set-cookie").expect("the confirmation cookie").split(';').next().unwrap().to_owned();
        let headers = [("Content-Type".to_owned(), "application/x-www-form-urlencoded".to_owned()), ("Cookie".to_owned(), cookie)];
        self.send("POST", &action.replace("&amp;", "&"), &headers, format!("confirmation={token}").into_bytes())
    }

    /// Posts `form` (URL-encoded) to `path` as the browser holding `cookie` would: a
    /// SAML identity provider's answer to `/saml/sso`, say.
    pub fn post_form(&self, path: &str, cookie: &str, form: String) -> Reply {
        let headers =
            [("Content-Type".to_owned(), "application/x-www-form-urlencoded".to_owned()), ("Cookie".to_owned(), cookie.to_owned())];
        self.send("POST", path, &headers, form.into_bytes())
    }

    pub fn status(&self, request_id: &str) -> Reply {
        self.get_with_token(&format!("/requests/status/{request_id}"), CLIENT_TOKEN)
    }

    /// A status call that may find the instance gone (killed mid-poll).
    pub fn try_status(&self, request_id: &str) -> Result<Reply, ureq::Error> {
        let url = format!("http://{}/requests/status/{request_id}", self.http);
        try_read_reply(agent().get(url).header("Authorization", format!("Bearer {CLIENT_TOKEN}")).call())
    }

    /// SIGKILL to the whole instance (Spin serves from a child process), as when a
    /// machine dies.
    pub fn kill(mut self) {
        kill_group(&mut self.child);
    }

    /// SIGKILL through a shared borrow, for when other threads still hold the broker.
    pub fn kill_now(&self) {
        assert!(signal_group(&self.child, "-KILL"), "the instance's process group is gone");
    }

    /// CPU time (user + system) the instance's process group has used so far.
    pub fn cpu_time(&self) -> Duration {
        process_group_cpu_time(self.child.id())
    }

    /// Resident memory of the instance's process group, in KiB.
    pub fn rss_kib(&self) -> u64 {
        process_group_rss_kib(self.child.id())
    }

    /// True while the instance accepts connections.
    pub fn is_listening(&self) -> bool {
        TcpStream::connect(&self.http).is_ok()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        kill_group(&mut self.child);
        if let Some(path) = &self.runtime_config {
            std::fs::remove_file(path).ok();
        }
        if std::thread::panicking() {
            eprintln!(
                "the broker's log: {} (Spin's own: spin.stderr beside it)",
                self.state_dir.join("logs/login-broker_stderr.txt").display()
            );
        } else {
            std::fs::remove_dir_all(&self.state_dir).ok();
        }
    }
}

/// CPU time (user + system) of every live process in process group `group`.
pub fn process_group_cpu_time(group: u32) -> Duration {
    // utime and stime are the 12th and 13th fields after the command name.
    let ticks: u64 =
        process_group_stats(group).iter().map(|fields| fields[11..13].iter().filter_map(|v| v.parse::<u64>().ok()).sum::<u64>()).sum();
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}

/// Resident memory of every live process in process group `group`, in KiB.
pub fn process_group_rss_kib(group: u32) -> u64 {
    // rss (in pages of 4 KiB) is the 22nd field after the command name.
    process_group_stats(group).iter().filter_map(|fields| fields[21].parse::<u64>().ok()).sum::<u64>() * 4
}

/// The `/proc/<pid>/stat` fields after the command name (which is in parentheses) of
/// every live process in process group `group` (the 3rd field).
fn process_group_stats(group: u32) -> Vec<Vec<String>> {
    let mut processes = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let fields: Vec<String> =
            stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().map(str::to_owned).collect()).unwrap_or_default();
        if fields.len() > 22 && fields[2].parse::<u32>().ok() == Some(group) {
            processes.push(fields);
        }
    }
    processes
}

/// The Node kit under `tests/oidc` (installed by the test command with `npm ci`).
fn node_script(name: &str) -> PathBuf {
    node_script_in("tests/oidc", name)
}

fn node_script_in(kit: &str, name: &str) -> PathBuf {
    let script = project_dir().join(kit).join(name);
    assert!(project_dir().join(kit).join("node_modules").exists(), "run `npm ci --prefix {kit}` (the test command does)");
    script
}

/// A real SAML 2.0 identity provider (`samlify`, scripted in `tests/saml/idp.mjs`) on
/// loopback, for a broker at `broker_base_url`; stopped on drop.
pub struct SamlIdp {
    child: Child,
    _stdin: ChildStdin,
    pub entity_id: String,
    pub sso_url: String,
    pub metadata_url: String,
    pub origin: String,
}

impl SamlIdp {
    /// `extra` are further `idp.mjs` flags, such as `--sign assertion`.
    pub fn start(broker_base_url: &str, extra: &[&str]) -> SamlIdp {
        let (acs, sp_entity_id) = (format!("{broker_base_url}/saml/sso"), format!("{broker_base_url}/saml/metadata"));
        let mut command = Command::new("node");
        command
            .arg(node_script_in("tests/saml", "idp.mjs"))
            .args(["--port", "0", "--acs-url", &acs, "--sp-entity-id", &sp_entity_id])
            .args(extra)
            .stderr(Stdio::null());
        let (child, stdin, ready) = spawn_until_ready(&mut command, "idp.mjs");
        let field = |name: &str| ready[name].as_str().unwrap_or_else(|| panic!("idp.mjs says no {name}: {ready}")).to_owned();
        let port = ready["port"].as_u64().expect("idp.mjs names its port");
        SamlIdp {
            child,
            _stdin: stdin,
            entity_id: field("entityId"),
            sso_url: field("ssoUrl"),
            metadata_url: field("metadataUrl"),
            origin: format!("http://127.0.0.1:{port}"),
        }
    }

    /// The broker variables that point at this identity provider by its metadata.
    pub fn variables(&self) -> [(&'static str, &str); 2] {
        [("saml_idp_metadata_url", self.metadata_url.as_str()), ("saml_idp_origin", self.origin.as_str())]
    }

    /// A user agent without a browser: from the broker's redirect to the identity
    /// provider (`sso_redirect`), signs `username` in, and returns the form its page
    /// would post to the broker (`SAMLResponse` and `RelayState`, URL-encoded).
    pub fn sign_in(&self, sso_redirect: &str, username: &str) -> String {
        let login_page = get_url(sso_redirect);
        assert_eq!(login_page.status, 200, "{}", login_page.body);
        let key = hidden_inputs(&login_page.body).into_iter().find(|(name, _)| name == "key").expect("the login form's key").1;
        let form: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([("key", key.as_str()), ("username", username), ("password", "password")])
            .finish();
        let request = ureq::http::Request::post(format!("{}/sso/login", self.origin))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form.into_bytes())
            .unwrap();
        let answer_page = read_reply(agent().run(request));
        assert_eq!(answer_page.status, 200, "{}", answer_page.body);
        form_urlencoded::Serializer::new(String::new()).extend_pairs(hidden_inputs(&answer_page.body)).finish()
    }

    /// The AuthnRequest it last received, as it read it.
    pub fn last_request(&self) -> Value {
        get_url(&format!("{}/last-request", self.origin)).json()
    }

    /// The logout message it last received at `/slo`, as it read it.
    pub fn last_logout(&self) -> Value {
        get_url(&format!("{}/last-logout", self.origin)).json()
    }

    /// The Response it last sent, as XML.
    pub fn last_response(&self) -> String {
        get_url(&format!("{}/last-response", self.origin)).body
    }
}

/// `(name, value)` of each hidden input of an HTML page (values unescaped).
fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    let attribute =
        |tag: &str, name: &str| tag.split(&format!("{name}=\"")).nth(1).and_then(|rest| rest.split('"').next()).map(str::to_owned);
    let unescape =
        |text: String| text.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&");
    html.split("<input")
        .skip(1)
        .filter(|tag| tag.contains("type=\"hidden\""))
        .filter_map(|tag| Some((attribute(tag, "name")?, unescape(attribute(tag, "value").unwrap_or_default()))))
        .collect()
}

impl Drop for SamlIdp {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// A real OpenID provider (the `oidc-provider` npm package), stopped on drop.
pub struct OidcProvider {
    child: Child,
    _stdin: ChildStdin,
    pub issuer: String,
    pub origin: String,
}

pub const OIDC_CLIENT_ID: &str = "login-broker";
pub const OIDC_CLIENT_SECRET: &str = "provider-client-secret-0123";

impl OidcProvider {
    /// `extra` are further `provider.mjs` flags, such as `--issuer-path /realms/acme`.
    pub fn start(redirect_uris: &[String], extra: &[&str]) -> OidcProvider {
        OidcProvider::start_on(free_port(), redirect_uris, extra)
    }

    /// On a chosen port: a provider restarted there keeps its issuer (with new keys).
    pub fn start_on(port: u16, redirect_uris: &[String], extra: &[&str]) -> OidcProvider {
        let mut command = Command::new("node");
        command
            .arg(node_script("provider.mjs"))
            .args(["--port", &port.to_string(), "--client-id", OIDC_CLIENT_ID, "--client-secret", OIDC_CLIENT_SECRET])
            .args(extra)
            .stderr(Stdio::null());
        for uri in redirect_uris {
            command.args(["--redirect-uri", uri]);
        }
        let (child, stdin, ready) = spawn_until_ready(&mut command, "provider.mjs");
        OidcProvider {
            _stdin: stdin,
            child,
            issuer: ready["issuer"].as_str().unwrap().to_owned(),
            origin: format!("http://127.0.0.1:{port}"),
        }
    }

    /// The broker variables that point at this provider.
    pub fn variables(&self) -> [(&'static str, &str); 4] {
        [
            ("oidc_issuer_uri", self.issuer.as_str()),
            ("oidc_provider_origin", self.origin.as_str()),
            ("oidc_client_id", OIDC_CLIENT_ID),
            ("oidc_client_secret", OIDC_CLIENT_SECRET),
        ]
    }
}

/// A user agent without a browser at the bundled `oidc-provider`: from the broker's
/// redirect to the provider (`authorize_url`), signs `username` in and consents,
/// keeping the provider's cookies, and returns the URL the provider sends the browser
/// back to (the broker's callback). For benchmarks, where Chromium would measure itself.
pub fn sign_in_at_oidc_provider(authorize_url: &str, username: &str) -> String {
    let authorize = url::Url::parse(authorize_url).unwrap();
    let origin = authorize.origin().ascii_serialization();
    let mut jar: Vec<(String, String)> = Vec::new();
    let mut next = ("GET", authorize_url.to_owned(), String::new());
    for _ in 0..16 {
        let (method, url, form) = &next;
        let cookies = jar.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("; ");
        let mut request = ureq::http::Request::builder().method(*method).uri(url).header("Cookie", cookies);
        if *method == "POST" {
            request = request.header("Content-Type", "application/x-www-form-urlencoded");
        }
        let reply = read_reply(agent().run(request.body(form.clone().into_bytes()).unwrap()));
        for (name, value) in &reply.headers {
            if name.eq_ignore_ascii_case("set-cookie") {
                let pair = value.split(';').next().unwrap_or_default();
                if let Some((cookie, value)) = pair.split_once('=') {
                    jar.retain(|(kept, _)| kept != cookie);
                    jar.push((cookie.to_owned(), value.to_owned()));
                }
            }
        }
        next = match reply.status {
            302 | 303 => {
                let location = reply.header("location").expect("a redirect names where");
                let absolute = authorize.join(location).unwrap().to_string();
                if !absolute.starts_with(&origin) {
                    return absolute; // back to the broker
                }
                ("GET", absolute, String::new())
            }
            200 => {
                // The login form, then the consent form: post whichever this page holds.
                let action = reply.body.split("action=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("a form");
                let form =
                    if action.ends_with("/login") { format!("username={username}&password=benchmark") } else { "consent=yes".to_owned() };
                ("POST", authorize.join(action).unwrap().to_string(), form)
            }
            status => panic!("the provider answered {status}: {}", reply.body),
        };
    }
    panic!("no way back to the broker from {authorize_url}");
}

/// `auth_providers` listing `(id, label, provider)` in order, and the origin and secret
/// variables each entry uses (`auth_provider_origin_a/_b/_c`, `auth_provider_secret_a/_b/_c`).
pub fn auth_providers_variables(providers: &[(&str, &str, &OidcProvider)]) -> Vec<(&'static str, String)> {
    const ORIGINS: [&str; 3] = ["auth_provider_origin_a", "auth_provider_origin_b", "auth_provider_origin_c"];
    const SECRETS: [&str; 3] = ["auth_provider_secret_a", "auth_provider_secret_b", "auth_provider_secret_c"];
    assert!(providers.len() <= SECRETS.len(), "spin.toml declares {} provider origins", ORIGINS.len());
    let entries: Vec<Value> = providers
        .iter()
        .zip(SECRETS)
        .map(|((id, label, provider), secret)| {
            serde_json::json!({"id": id, "label": label, "issuerUri": provider.issuer, "clientId": OIDC_CLIENT_ID, "clientSecretVariable": secret})
        })
        .collect();
    let mut variables = vec![("auth_providers", Value::from(entries).to_string())];
    for ((_, _, provider), (origin, secret)) in providers.iter().zip(ORIGINS.into_iter().zip(SECRETS)) {
        variables.push((origin, provider.origin.clone()));
        variables.push((secret, OIDC_CLIENT_SECRET.to_owned()));
    }
    variables
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// Signs `username` in with headless Chromium, starting from `login_url`; returns the
/// final page as `browser-login.mjs` reports it.
pub fn browser_login(login_url: &str, username: &str) -> Value {
    browser(&["--url", login_url, "--username", username])
}

/// Runs `browser-login.mjs` with `args` (see its header for the options); returns its
/// report, asserting that it succeeded.
///
/// The script bounds itself at 45 s; should Node hang before its timer is armed, the
/// run is killed at 90 s, so a test fails rather than hangs.
pub fn browser(args: &[&str]) -> Value {
    let mut child = Command::new("node")
        .arg(node_script("browser-login.mjs"))
        .args(args)
        .args(["--timeout-ms", "45000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node on PATH");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).ok();
        text
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            child.wait().ok();
            panic!("browser-login.mjs {args:?} did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = reader.join().unwrap();
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("browser-login.mjs printed no report: {stdout}"));
    assert!(status.success(), "the browser login failed: {report}");
    report
}

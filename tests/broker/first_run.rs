//! The first-run experience: `scripts/dev.sh` starts the bundled development OpenID
//! provider and the broker with one command, and a person signs in at once.
//!
//! Everything is what a user runs: the script, the real Spin CLI from `PATH` (`spin
//! build --up`), the provider, the banner and the clean-up.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use testkit::{CLIENT_TOKEN, STATE_KEY, browser_login, free_port, project_dir, signal_group, try_get_url};

/// `scripts/dev.sh` running in its own process group (the script, the provider, Spin).
struct DevScript {
    child: Child,
    /// Held open for the life of the script, as a terminal would.
    stdin: Option<ChildStdin>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
    stopped: bool,
}

/// Collects a stream and echoes it, so a failing run shows what the script said.
fn collect(stream: impl Read + Send + 'static, name: &'static str, into: Arc<Mutex<String>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            eprintln!("dev.sh {name}| {line}");
            let mut text = into.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    })
}

impl DevScript {
    fn start(broker_port: u16, provider_port: u16) -> DevScript {
        let root = project_dir();
        let mut command = Command::new(root.join("scripts/dev.sh"));
        // Only what this test sets: a developer's own SPIN_VARIABLE_* must not leak in.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("SPIN_VARIABLE_") {
                command.env_remove(name);
            }
        }
        command
            .current_dir(root)
            .env("BROKER_PORT", broker_port.to_string())
            .env("PROVIDER_PORT", provider_port.to_string())
            // Preset variables win over the script's defaults: a known state key (so the
            // test can check it is never printed), and client tokens instead of the
            // script's assume_client_authorized = true.
            .env("SPIN_VARIABLE_STATE_KEY", STATE_KEY)
            .env("SPIN_VARIABLE_CLIENT_TOKENS", CLIENT_TOKEN)
            .env("SPIN_VARIABLE_ASSUME_CLIENT_AUTHORIZED", "false")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = command.spawn().expect("scripts/dev.sh starts");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let readers = vec![
            collect(child.stdout.take().unwrap(), "stdout", stdout.clone()),
            collect(child.stderr.take().unwrap(), "stderr", stderr.clone()),
        ];
        let stdin = child.stdin.take();
        DevScript { child, stdin, stdout, stderr, readers, stopped: false }
    }

    fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Polls `ready` until it holds, failing if the script exits or `timeout` passes.
    fn wait_for(&mut self, what: &str, timeout: Duration, mut ready: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            if ready(self) {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("scripts/dev.sh exited ({status}) before {what}; stderr:\n{}", self.stderr());
            }
            assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The provider's command line, found among the processes of the script's group.
    fn provider_command_line(&self) -> Vec<String> {
        let pgid = self.child.id().to_string();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // After the command name in parentheses: state, ppid, pgrp.
            let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
            if fields.get(2) != Some(&pgid.as_str()) {
                continue;
            }
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let args: Vec<String> = cmdline.split(|&b| b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
            if args.iter().any(|a| a.ends_with("provider.mjs")) {
                return args;
            }
        }
        panic!("no provider.mjs process in the script's process group");
    }

    /// True while any process of the script's group is alive.
    fn group_alive(&self) -> bool {
        signal_group(&self.child, "-0")
    }

    /// SIGTERM to the whole group (as Ctrl-C reaches a terminal's foreground group), then
    /// SIGKILL if anything is left after 10 s; true if the group ended within the grace.
    fn stop(&mut self) -> bool {
        if self.stopped {
            return true;
        }
        self.stopped = true;
        signal_group(&self.child, "-TERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut clean = false;
        while Instant::now() < deadline {
            self.child.try_wait().ok();
            if !self.group_alive() {
                clean = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if !clean {
            signal_group(&self.child, "-KILL");
        }
        self.child.wait().ok();
        self.stdin.take();
        for reader in self.readers.drain(..) {
            reader.join().ok();
        }
        clean
    }
}

impl Drop for DevScript {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A GET, with the client token when `token`; `None` if nothing answers.
fn get(url: &str, token: bool) -> Option<testkit::Reply> {
    let bearer = format!("Bearer {CLIENT_TOKEN}");
    let headers: &[(&str, &str)] = if token { &[("Authorization", &bearer)] } else { &[] };
    try_get_url(url, headers)
}

#[test]
fn the_first_run_script_serves_a_login_with_the_bundled_provider() {
    let broker_port = free_port();
    let provider_port = std::iter::repeat_with(free_port).find(|&p| p != broker_port).unwrap();
    let broker = format!("http://127.0.0.1:{broker_port}");
    let issuer = format!("http://127.0.0.1:{provider_port}");
    let mut script = DevScript::start(broker_port, provider_port);

    script.wait_for("the broker's /liveness", Duration::from_secs(60), |_| {
        get(&format!("{broker}/liveness"), false).is_some_and(|reply| reply.status == 200)
    });
    let try_it = format!("curl -s {broker}/requests/new/alice");
    script.wait_for("the \"try it\" banner", Duration::from_secs(10), |s| s.stdout().contains(&try_it));

    // What the banner says to do: create a request, sign in at its login URL, read its status.
    let reply = get(&format!("{broker}/requests/new/alice"), false).expect("the broker answers");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let request = reply.json();
    let page = browser_login(request["loginUrl"].as_str().unwrap(), "alice");
    assert_eq!(page["status"], 200, "{page}");
    assert!(page["text"].as_str().unwrap().contains("You are signed in"), "{page}");

    let status_url = request["statusUrl"].as_str().unwrap();
    assert!(status_url.starts_with(&broker), "{status_url}");
    // The preset assume_client_authorized = false won over the script's default.
    let reply = get(status_url, false).expect("the broker answers");
    assert_eq!(reply.status, 401, "without a client token: {}", reply.body);
    let reply = get(status_url, true).expect("the broker answers");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let identity = reply.json();
    assert_eq!(identity["sub"], "alice", "{identity}");
    assert_eq!(identity["iss"], issuer.as_str(), "{identity}");

    // Secrets are passed on, never printed: not the generated client secret, not the
    // preset state key or client token.
    let provider = script.provider_command_line();
    let secret_at = provider.iter().position(|a| a == "--client-secret").expect("provider.mjs --client-secret") + 1;
    let client_secret = provider[secret_at].clone();
    assert!(client_secret.len() >= 32, "a fresh random client secret: {client_secret:?}");
    for (stream, text) in [("stdout", script.stdout()), ("stderr", script.stderr())] {
        for (what, secret) in
            [("the client secret", client_secret.as_str()), ("the state key", STATE_KEY), ("the client token", CLIENT_TOKEN)]
        {
            assert!(!text.contains(secret), "the script's {stream} shows {what}:\n{text}");
        }
        assert!(!text.contains("client_secret="), "the script's {stream}:\n{text}");
    }

    // Stopping the script's process group leaves neither the provider nor Spin behind.
    assert!(script.stop(), "processes of scripts/dev.sh outlived SIGTERM to its group");
    assert!(get(&format!("{broker}/liveness"), false).is_none(), "the broker still answers");
    assert!(get(&format!("{issuer}/.well-known/openid-configuration"), false).is_none(), "the provider still answers");
}

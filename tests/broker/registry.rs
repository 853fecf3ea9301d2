//! Deployment as docs/deployment.md writes it: each build pushed with `spin registry push` to an
//! OCI registry (Debian's `docker-registry`, on loopback), then run with
//! `spin up --from <reference>` over Redis: the Spin 4 build under Spin 4.0.2, the
//! `wasi:http` 0.2 build under Spin 3.6.3. A login finishes on each.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use testkit::provider_double;

use provider_double::{Key, alice_claims, finish_login, issuing, provider_with, variables_for};
use testkit::{Broker, Build, Redis, Spin, Store, free_port};

/// A registry on loopback, storing in a temporary directory; stopped on drop.
struct Registry {
    child: Child,
    address: String,
    dir: std::path::PathBuf,
}

impl Registry {
    fn start() -> Registry {
        let address = format!("127.0.0.1:{}", free_port());
        let dir = std::env::temp_dir().join(format!("login-broker-registry-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("config.yml");
        let storage = dir.join("storage");
        std::fs::write(
            &config,
            format!("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {address}\n", storage.display()),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry (Debian package docker-registry; the test command installs it)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while testkit::try_get_url(&format!("http://{address}/v2/"), &[]).is_none() {
            assert!(Instant::now() < deadline, "the registry did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Registry { child, address, dir }
    }

    /// `spin registry push` of `build` (by the Spin 4 CLI, as a user would) as `name`.
    fn push(&self, build: Build, name: &str) -> String {
        let reference = format!("{}/login-broker:{name}", self.address);
        let output =
            Spin::Four.command().args(["registry", "push", "--insecure", "-f"]).arg(build.manifest()).arg(&reference).output().unwrap();
        assert!(output.status.success(), "push failed: {}", String::from_utf8_lossy(&output.stderr));
        reference
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

#[test]
fn each_build_runs_from_a_registry_on_its_spin_and_finishes_a_login() {
    let (registry, redis) = (Registry::start(), Redis::start());
    let provider = provider_with(|issuer| issuing(Key::rsa("k1"), alice_claims(issuer.to_owned())));
    for (build, spin, tag) in [(Build::Spin4, Spin::Four, "spin4"), (Build::WasiHttp02, Spin::Three, "wasi-http-0.2")] {
        let reference = registry.push(build, tag);
        let broker = Broker::start_from_registry(spin, &reference, Store::Redis(&redis), &variables_for(&provider, &[]));
        let login = broker.login("alice");
        finish_login(&broker, &login, "alice");
        let identity = broker.status(&login);
        assert_eq!((identity.status, identity.json()["sub"].as_str()), (200, Some("alice")), "{tag}: {}", identity.body);
    }
}

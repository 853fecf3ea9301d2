//! The `wasi:http` 0.2 build (spin-sdk 5, `deploy/wasi-http-0.2/spin.toml`), for Spin
//! 2.x/3.x hosts such as SpinKube's shim, under the real Spin 3.6.3 CLI (the runtime in
//! that shim) and Spin 4.0.2: what it imports, the client API over memory and Redis, a
//! browser login at a real provider, and a login that outlives its instance.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use testkit::provider_double;

use provider_double::{Key, ProviderDouble, alice_claims, authorize_as, begin_for, finish_login, issuing, provider_with, variables_for};
use testkit::{Broker, Build, OidcProvider, Redis, Spin, Store, browser_login, free_port};

fn provider() -> ProviderDouble {
    provider_with(|issuer| issuing(Key::rsa("k1"), alice_claims(issuer.to_owned())))
}

fn start(spin: Spin, store: Store, provider: &ProviderDouble, extra: &[(&str, &str)]) -> Broker {
    Broker::start_under(spin, &Build::WasiHttp02.manifest(), 0, store, &variables_for(provider, extra))
}

/// The interfaces a component imports and exports, by name, read from its binary.
pub(crate) fn interfaces(wasm: &Path) -> (Vec<String>, Vec<String>) {
    use wasmparser::{Parser, Payload};
    let bytes = std::fs::read(wasm).unwrap_or_else(|error| panic!("{}: {error}", wasm.display()));
    let (mut imports, mut exports) = (Vec::new(), Vec::new());
    for payload in Parser::new(0).parse_all(&bytes) {
        match payload.unwrap() {
            // Only the component's own outer sections: nested modules import other things.
            Payload::ComponentImportSection(section) => imports.extend(section.into_iter().map(|import| import.unwrap().name.0.to_owned())),
            Payload::ComponentExportSection(section) => exports.extend(section.into_iter().map(|export| export.unwrap().name.0.to_owned())),
            _ => {}
        }
    }
    (imports, exports)
}

#[test]
fn it_speaks_wasi_http_0_2_only_and_the_spin_4_build_does_not() {
    let (imports, exports) = interfaces(&Build::WasiHttp02.wasm());
    assert!(exports.iter().any(|name| name.starts_with("wasi:http/incoming-handler@0.2.")), "{exports:?}");
    let wasi_http: Vec<&String> = imports.iter().filter(|name| name.starts_with("wasi:http/")).collect();
    assert!(!wasi_http.is_empty() && wasi_http.iter().all(|name| name.contains("@0.2.")), "{imports:?}");
    assert!(!imports.iter().chain(&exports).any(|name| name.contains("@0.3.")), "a Spin 4-only interface: {imports:?} {exports:?}");
    // The same inspection tells the Spin 4 build apart.
    let (spin4_imports, spin4_exports) = interfaces(&Build::Spin4.wasm());
    assert!(spin4_imports.iter().chain(&spin4_exports).any(|name| name.contains("wasi:http/") && name.contains("@0.3.0-rc")));
}

/// Why there are two builds: Spin 3.6.3 will not run the Spin 4 one.
#[test]
fn spin_3_refuses_the_spin_4_build() {
    let state = std::env::temp_dir().join(format!("login-broker-spin3-refuses-{}", std::process::id()));
    let mut child = Spin::Three
        .command()
        .args(["up", "--from"])
        .arg(Build::Spin4.manifest())
        .args(["--listen", &format!("127.0.0.1:{}", free_port()), "--state-dir"])
        .arg(&state)
        .env("SPIN_VARIABLE_STATE_KEY", testkit::STATE_KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("Spin 3.6.3 kept running the Spin 4 build");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && said.contains("wrong type"), "{said}");
}

#[test]
fn the_client_api_works_under_spin_3_and_spin_4_over_memory_and_redis() {
    let (provider, redis) = (provider(), Redis::start());
    for spin in [Spin::Three, Spin::Four] {
        for store in [Store::Memory, Store::Redis(&redis)] {
            let what = format!("{spin:?} over {}", if matches!(store, Store::Memory) { "memory" } else { "Redis" });
            let broker = start(spin, store, &provider, &[("login_timeout", "1")]);
            let login = broker.login("alice");
            let started = Instant::now();
            let pending = broker.status(&login);
            assert_eq!(pending.status, 408, "{what}: {}", pending.body);
            assert!(started.elapsed() >= Duration::from_millis(900), "{what}: the long poll waited");
            // The confirmation form's body is read through this build's host adapter.
            finish_login(&broker, &login, "alice");
            let identity = broker.status(&login);
            assert_eq!((identity.status, identity.json()["sub"].as_str()), (200, Some("alice")), "{what}: {}", identity.body);
            assert_eq!(broker.status(&login).status, 404, "{what}: handed out once");
            assert_eq!(broker.get("/liveness").status, 200, "{what}");
            assert_eq!(broker.get("/requests/new/%0A").status, 400, "{what}");
            let oversized = broker.send(
                "POST",
                &login.login_path,
                &[("Content-Type".into(), "application/x-www-form-urlencoded".into())],
                vec![b'x'; 10_000],
            );
            assert_eq!(oversized.status, 413, "{what}: {}", oversized.body);
        }
    }
}

#[test]
fn a_person_signs_in_through_a_real_provider_under_spin_3_and_spin_4() {
    for spin in [Spin::Three, Spin::Four] {
        let port = free_port();
        let base_url = format!("http://127.0.0.1:{port}");
        let provider = OidcProvider::start(&[format!("{base_url}/oidc/callback")], &[]);
        let mut variables = provider.variables().to_vec();
        variables.push(("svc_base_uri", &base_url));
        let broker = Broker::start_under(spin, &Build::WasiHttp02.manifest(), port, Store::Memory, &variables);
        let request = broker.new_request("alice");
        let page = browser_login(request["loginUrl"].as_str().unwrap(), "alice");
        assert!(page["text"].as_str().unwrap().contains("You are signed in"), "{spin:?}: {page}");
        let identity = broker.status(request["request"].as_str().unwrap()).json();
        assert_eq!(
            (identity["sub"].as_str(), identity["iss"].as_str()),
            (Some("alice"), Some(provider.issuer.as_str())),
            "{spin:?}: {identity}"
        );
    }
}

#[test]
fn a_login_begun_on_a_killed_instance_finishes_on_another_under_spin_3_and_spin_4() {
    let (provider, redis) = (provider(), Redis::start());
    for spin in [Spin::Three, Spin::Four] {
        let a = start(spin, Store::Redis(&redis), &provider, &[]);
        let sign_in = begin_for(&a, "bob");
        let callback = authorize_as(&sign_in, "bob");
        a.kill_now();
        let b = start(spin, Store::Redis(&redis), &provider, &[]);
        assert_eq!(b.get_with(&callback, &[("Cookie", &sign_in.cookie)]).status, 200, "{spin:?}");
        let identity = b.status(&sign_in.request_id);
        assert_eq!((identity.status, identity.json()["sub"].as_str()), (200, Some("bob")), "{spin:?}: {}", identity.body);
    }
}

/// SpinKube users sign in by SAML too: under Spin 3.6.3 over Redis, the 0.2 build reads
/// the real identity provider's metadata, sends the browser there, and takes the posted
/// Response (a ~10 KiB form, read whole by spin-sdk 5's body stream) on another instance.
#[test]
fn a_saml_login_finishes_under_spin_3_on_another_instance() {
    let redis = Redis::start();
    let port = free_port();
    let base_url = format!("http://127.0.0.1:{port}");
    let idp = testkit::SamlIdp::start(&base_url, &[]);
    let mut variables = idp.variables().to_vec();
    variables.push(("svc_base_uri", &base_url));
    let start = |port| Broker::start_under(Spin::Three, &Build::WasiHttp02.manifest(), port, Store::Redis(&redis), &variables);
    let (a, b) = (start(port), start(0));
    let login = a.login("dana");
    let departure = a.follow_login_link(&login);
    assert_eq!(departure.status, 303, "{}", departure.body);
    let cookie = departure.header("set-cookie").unwrap().split(';').next().unwrap().to_owned();
    let answer = idp.sign_in(departure.header("location").unwrap(), "dana@example.com");
    let page = b.post_form("/saml/sso", &cookie, answer);
    assert_eq!(page.status, 200, "{}", page.body);
    let identity = a.status(&login.request).json();
    assert_eq!((&identity["nameID"], &identity["providerId"]), (&serde_json::json!("dana@example.com"), &serde_json::json!("saml")));
}

/// This build reads its configuration for every request, and each variable read costs
/// Spin a hand-off between threads, so each route reads only what it needs: a status
/// call the essentials alone (so it answers while a provider's settings are broken, and
/// says https is required from now on), `/liveness` nothing at all (so no HSTS either).
#[test]
fn a_status_call_reads_only_the_essentials_and_liveness_reads_nothing() {
    let provider = provider();
    let broker = start(Spin::Three, Store::Memory, &provider, &[("svc_base_uri", "https://login.example.com"), ("oidc_client_id", "")]);
    let new = broker.get_with_token("/requests/new/alice", testkit::CLIENT_TOKEN);
    assert_eq!((new.status, new.error_code()), (500, "server_misconfigured".to_owned()), "{}", new.body);
    assert!(new.body.contains("`oidc_client_id`"), "{}", new.body);
    let status = broker.status(testkit::UNKNOWN_REQUEST_ID);
    assert_eq!((status.status, status.error_code()), (404, "not_found".to_owned()), "{}", status.body);
    assert_eq!(status.header("strict-transport-security"), Some("max-age=31536000"));
    let configured = start(Spin::Three, Store::Memory, &provider, &[("svc_base_uri", "https://login.example.com")]);
    let liveness = configured.get("/liveness");
    assert_eq!(liveness.status, 200, "{}", liveness.body);
    assert_eq!(liveness.header("strict-transport-security"), None, "liveness read the configuration");
}

/// `settings_json` holds every variable at once, for hosts like this build's that read
/// the configuration for every request: a login works from it alone, under Spin 3.6.3
/// and, with the Spin 4 build, under Spin 4.0.2, and a variable set beside it is not read.
#[test]
fn settings_json_configures_a_login_on_its_own() {
    let provider = provider();
    let mut variables = testkit::in_settings_json(&variables_for(&provider, &[("instance_id", "from-settings-json")]));
    variables.push(("instance_id".into(), "set-beside-it".into()));
    let variables = testkit::borrowed(&variables);
    for (spin, build) in [(Spin::Three, Build::WasiHttp02), (Spin::Four, Build::Spin4)] {
        let broker = Broker::start_under(spin, &build.manifest(), 0, Store::Memory, &variables);
        let created = broker.get("/requests/new/alice");
        assert_eq!(created.status, 200, "{spin:?}: {}", created.body);
        assert_eq!(created.json()["instanceId"], "from-settings-json", "{spin:?}");
        let login = broker.login("alice");
        finish_login(&broker, &login, "alice");
        let identity = broker.status(&login);
        assert_eq!((identity.status, identity.json()["sub"].as_str()), (200, Some("alice")), "{spin:?}: {}", identity.body);
    }

    // A mistake in it is named, and its values are never shown.
    let broken = Broker::start_under(
        Spin::Three,
        &Build::WasiHttp02.manifest(),
        0,
        Store::Memory,
        &[("settings_json", r#"{"state_key": "never-shown-secret", "login_timeot": "30"}"#)],
    );
    let reply = broken.status(testkit::UNKNOWN_REQUEST_ID);
    assert_eq!((reply.status, reply.error_code()), (500, "server_misconfigured".to_owned()), "{}", reply.body);
    assert!(reply.body.contains("`settings_json`") && reply.body.contains("`login_timeot`"), "{}", reply.body);
    assert!(!reply.body.contains("never-shown-secret") && !broken.log().contains("never-shown-secret"), "{}", reply.body);
}

//! One table of every variable (`crates/core/src/settings/table.rs`): `spin.toml`
//! declares and passes each with its default and secrecy, the configuration reference
//! (docs/configuration.md) is generated from it, and the code reads each; and the real
//! `spin up` accepts the project's own manifest and runtime configs.
//!
//! After changing the table, `LOGIN_BROKER_WRITE_DOCS=1 cargo test --release --test broker docs::`
//! writes the reference again.

use std::collections::BTreeSet;

use login_broker_core::settings::table::{VARIABLES, reference_table};
use testkit::{Broker, Redis, Store};

fn project_file(name: &str) -> String {
    std::fs::read_to_string(format!("{}/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// `name = value` lines of one table of `spin.toml`, comments left out.
fn spin_toml_table(table: &str) -> Vec<(String, String)> {
    let manifest = project_file("spin.toml");
    let mut in_table = false;
    let mut entries = Vec::new();
    for line in manifest.lines() {
        if line.starts_with('[') {
            in_table = line.trim() == table;
        } else if in_table
            && let Some((name, value)) = line.split_once('=')
            && !line.trim_start().starts_with('#')
        {
            entries.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    entries
}

#[test]
fn spin_toml_declares_and_passes_every_variable_of_the_table_as_the_table_says() {
    let declared: Vec<(String, String)> = spin_toml_table("[variables]");
    let expected: Vec<(String, String)> = VARIABLES
        .iter()
        .map(|variable| {
            let secret = if variable.secret { ", secret = true" } else { "" };
            (variable.name.to_owned(), format!("{{ default = \"{}\"{secret} }}", variable.default))
        })
        .collect();
    let sorted = |mut entries: Vec<(String, String)>| {
        entries.sort();
        entries
    };
    assert_eq!(sorted(declared), sorted(expected), "spin.toml's [variables] vs crates/core/src/settings/table.rs");
    let passed: BTreeSet<String> = spin_toml_table("[component.login-broker.variables]").into_iter().map(|(name, _)| name).collect();
    let names: BTreeSet<String> = VARIABLES.iter().map(|variable| variable.name.to_owned()).collect();
    assert_eq!(passed, names, "passed to the component");
}

#[test]
fn the_configuration_reference_is_generated_from_the_table() {
    let path = format!("{}/docs/configuration.md", env!("CARGO_MANIFEST_DIR"));
    let reference = project_file("docs/configuration.md");
    let (begin, end) = ("<!-- generated from crates/core/src/settings/table.rs -->\n", "<!-- end of generated table -->");
    let (before, rest) = reference.split_once(begin).expect("docs/configuration.md marks its generated table");
    let (table, after) = rest.split_once(end).expect("docs/configuration.md marks the end of its generated table");
    if std::env::var_os("LOGIN_BROKER_WRITE_DOCS").is_some() {
        std::fs::write(&path, format!("{before}{begin}{}{end}{after}", reference_table())).unwrap();
        return;
    }
    assert!(
        table == reference_table(),
        "docs/configuration.md is out of date: run LOGIN_BROKER_WRITE_DOCS=1 cargo test --release --test broker docs::"
    );
    for variable in VARIABLES.iter().filter(|variable| variable.secret) {
        assert!(variable.doc.starts_with("**Secret"), "the reference says `{}` is secret", variable.name);
    }
}

#[test]
fn the_code_reads_every_variable() {
    let code = [
        "crates/core/src/settings/mod.rs",
        "crates/core/src/settings/providers.rs",
        "crates/core/src/settings/oauth.rs",
        "crates/core/src/protocol/saml/settings.rs",
    ]
    .map(project_file)
    .concat();
    // Secret variables are read when `auth_providers` names them, not by a name in the code.
    for variable in VARIABLES.iter().filter(|variable| !variable.name.starts_with("auth_provider_secret_")) {
        assert!(code.contains(&format!("\"{}\"", variable.name)), "the settings never read `{}`", variable.name);
    }
}

/// `manifest` as `spin.toml` but for what `differences` replace, after its own header.
fn assert_is_spin_toml_but(manifest: &str, differences: &[(&str, &str)]) {
    let theirs = project_file(manifest);
    let body = theirs.split_once("spin_manifest_version").map(|(_, rest)| format!("spin_manifest_version{rest}")).unwrap();
    let expected = differences.iter().fold(project_file("spin.toml"), |manifest, (ours, theirs)| {
        assert!(manifest.contains(ours), "spin.toml no longer has {ours:?}");
        manifest.replace(ours, theirs)
    });
    assert_eq!(body, expected, "{manifest} drifted from spin.toml");
}

const SPIN_TOML_BUILD: &str = "command = \"cargo build --target wasm32-wasip2 --profile component\"\nwatch = [\"src/**/*.rs\", \"crates/core/**/*.rs\", \"Cargo.toml\"]";
const SPIN_TOML_SOURCE: &str = "source = \"target/wasm32-wasip2/component/login_broker.wasm\"";

/// The wasi:http 0.2 build's manifest is `spin.toml` but for the component's source and
/// build: the same variables, routes, stores and outbound hosts, always.
#[test]
fn the_wasi_http_0_2_manifest_differs_from_spin_toml_only_in_source_and_build() {
    assert_is_spin_toml_but(
        "deploy/wasi-http-0.2/spin.toml",
        &[
            (SPIN_TOML_SOURCE, "source = \"../../target/wasi-http-0.2/wasm32-wasip2/component/login_broker.wasm\""),
            (
                SPIN_TOML_BUILD,
                "# Its own target directory, so that the two builds never overwrite each other's .wasm.\n\
                 command = \"cargo build --target wasm32-wasip2 --profile component --no-default-features --features wasi-http-0-2 --target-dir target/wasi-http-0.2\"\n\
                 workdir = \"../..\"",
            ),
        ],
    );
}

/// The edge build's manifest is `spin.toml` but for its source and build, and the two
/// defaults the platform needs: a status call under its 30 s, a replication bound.
#[test]
fn the_edge_manifest_differs_from_spin_toml_only_in_source_build_and_platform_defaults() {
    assert_is_spin_toml_but(
        "deploy/edge/spin.toml",
        &[
            (
                "login_timeout = { default = \"60\" }",
                "# At most 25 here: the platform ends a request after 30 s, and a status call waits this long.\n\
                 login_timeout = { default = \"25\" }",
            ),
            (
                "# The edge build only: the longest its replicated store takes to reach every region (1-10 s).\n\
                 store_replication_secs = { default = \"0\" }",
                "# The longest the replicated store takes to reach every region (1-10 s): measure yours.\n\
                 store_replication_secs = { default = \"3\" }",
            ),
            (SPIN_TOML_SOURCE, "source = \"../../target/edge/wasm32-wasip2/component/login_broker.wasm\""),
            (
                SPIN_TOML_BUILD,
                "# Its own target directory, so that the builds never overwrite each other's .wasm.\n\
                 command = \"cargo build --target wasm32-wasip2 --profile component --features edge --target-dir target/edge\"\n\
                 workdir = \"../..\"",
            ),
        ],
    );
}

/// Spin 4.0.2 refuses the whole manifest over one bad variable name (`'_'-separated
/// words must start with an ASCII letter`): lower-case letters, digits and `_`, every
/// word starting with a letter. Checked here to name the culprit; the test below is
/// the authority.
#[test]
fn every_variable_name_is_one_spin_accepts() {
    for name in VARIABLES.iter().map(|variable| variable.name) {
        let valid = name.split('_').all(|word| {
            word.starts_with(|c: char| c.is_ascii_lowercase()) && word.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        });
        assert!(valid, "Spin refuses the variable name `{name}`");
    }
}

/// What a user runs: `spin up` with the project's `spin.toml` and each of its
/// runtime-config files, or none (Spin's default SQLite store), serving the component.
#[test]
fn spin_up_serves_the_projects_own_manifest_with_each_runtime_config() {
    let redis = Redis::start();
    for store in [Store::Memory, Store::Redis(&redis), Store::SpinDefault] {
        let broker = Broker::start(store, &[]);
        let reply = broker.get("/liveness");
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(broker.new_request("alice")["userId"], "alice");
    }
    assert!(!redis.keys().is_empty(), "the Redis runtime config put the state in this Redis");
}

//! The configuration table (docs/configuration.md) and `spin.toml` cannot drift apart: every
//! variable is declared, passed to the component, documented, and read by the code;
//! and the real `spin up` accepts the project's own manifest and runtime configs.

use std::collections::BTreeSet;

use testkit::{Broker, Redis, Store};

fn project_file(name: &str) -> String {
    std::fs::read_to_string(format!("{}/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Names of the `[variables]` (or `[component.login-broker.variables]`) table.
fn spin_toml_variables(table: &str) -> BTreeSet<String> {
    let manifest = project_file("spin.toml");
    let mut in_table = false;
    let mut names = BTreeSet::new();
    for line in manifest.lines() {
        if line.starts_with('[') {
            in_table = line.trim() == table;
        } else if in_table
            && let Some((name, _)) = line.split_once('=')
            && !line.trim_start().starts_with('#')
        {
            names.insert(name.trim().to_owned());
        }
    }
    names
}

/// Names in the first column of the configuration table.
fn documented_variables() -> BTreeSet<String> {
    let reference = project_file("docs/configuration.md");
    // The table comes before the page's first subheading.
    let section = reference.split("# Configuration").nth(1).unwrap().split("\n#").next().unwrap();
    section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(name, _)| name.to_owned())
        .collect()
}

#[test]
fn every_variable_is_declared_passed_documented_and_read() {
    let declared = spin_toml_variables("[variables]");
    assert!(declared.len() >= 20, "{declared:?}");
    assert_eq!(spin_toml_variables("[component.login-broker.variables]"), declared, "passed to the component");
    assert_eq!(documented_variables(), declared, "docs/configuration.md's table vs spin.toml");
    let config = project_file("crates/core/src/settings/mod.rs") + &project_file("crates/core/src/settings/providers.rs");
    // Secret variables are read when `auth_providers` names them, not by a name in the code.
    for name in declared.iter().filter(|name| !name.starts_with("auth_provider_secret_")) {
        assert!(config.contains(&format!("\"{name}\"")), "crates/core/src/settings/ never reads `{name}`");
    }
}

/// The wasi:http 0.2 build's manifest is `spin.toml` but for the component's source and
/// build: the same variables, routes, stores and outbound hosts, always.
#[test]
fn the_wasi_http_0_2_manifest_differs_from_spin_toml_only_in_source_and_build() {
    let ours = project_file("spin.toml");
    let theirs = project_file("deploy/wasi-http-0.2/spin.toml");
    let body = theirs.split_once("spin_manifest_version").map(|(_, rest)| format!("spin_manifest_version{rest}")).unwrap();
    let expected = ours
        .replace(
            "source = \"target/wasm32-wasip2/component/login_broker.wasm\"",
            "source = \"../../target/wasi-http-0.2/wasm32-wasip2/component/login_broker.wasm\"",
        )
        .replace(
            "command = \"cargo build --target wasm32-wasip2 --profile component\"\nwatch = [\"src/**/*.rs\", \"crates/core/**/*.rs\", \"Cargo.toml\"]",
            "# Its own target directory, so that the two builds never overwrite each other's .wasm.\n\
             command = \"cargo build --target wasm32-wasip2 --profile component --no-default-features --features wasi-http-0-2 --target-dir target/wasi-http-0.2\"\n\
             workdir = \"../..\"",
        );
    assert_eq!(body, expected, "deploy/wasi-http-0.2/spin.toml drifted from spin.toml");
}

/// Each variable's default as `spin.toml` declares it and as the configuration table says.
#[test]
fn the_configuration_table_states_each_default_as_spin_toml_declares_it() {
    let manifest = project_file("spin.toml");
    let declared: Vec<(String, String)> = manifest
        .lines()
        .filter_map(|line| {
            let (name, rest) = line.split_once(" = { default = \"")?;
            Some((name.trim().to_owned(), rest.split('"').next()?.to_owned()))
        })
        .collect();
    assert!(declared.len() >= 20, "{declared:?}");
    let reference = project_file("docs/configuration.md");
    for (name, default) in declared {
        let shown = if default.is_empty() { "*(empty)*".to_owned() } else { format!("`{default}`") };
        let row = format!("| `{name}` | {shown} |");
        assert!(
            reference.contains(&row),
            "docs/configuration.md should have the row `{row} …`: spin.toml declares `{name}` defaulting to {default:?}"
        );
    }
}

/// Spin 4.0.2 refuses the whole manifest over one bad variable name (`'_'-separated
/// words must start with an ASCII letter`): lower-case letters, digits and `_`, every
/// word starting with a letter. Checked here to name the culprit; the test below is
/// the authority.
#[test]
fn every_variable_name_is_one_spin_accepts() {
    for name in spin_toml_variables("[variables]") {
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

//! The core's layers import only downwards (docs/architecture.md): a `use` that runs
//! back up fails here, naming the file and the arrow. Unit tests may reach up for
//! their fixtures; the product may not. And two boundaries inside the layers: only the
//! protocol registry names a protocol, and only the web layer names HTTP errors.

use std::path::{Path, PathBuf};

/// Lowest first. Modules of one rank do not import each other.
const LAYERS: &[&[&str]] = &[&["base"], &["state"], &["host"], &["protocol"], &["login", "validate"], &["settings"], &["web"]];

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// A file's product code: its unit tests left out.
fn product(source: &str) -> &str {
    source.split("#[cfg(test)]\nmod tests").next().unwrap_or_default()
}

/// Every `crate::<module>` a file's product code names.
fn imported_modules(source: &str) -> Vec<String> {
    let product = product(source);
    product
        .match_indices("crate::")
        .map(|(at, _)| product[at + "crate::".len()..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect())
        .collect()
}

#[test]
fn every_import_runs_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut upward = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let own = relative.iter().next().unwrap().to_str().unwrap().trim_end_matches(".rs");
        let Some(own_rank) = rank(own) else {
            assert_eq!(own, "lib", "{} is in no layer: add its folder to LAYERS", relative.display());
            continue;
        };
        for module in imported_modules(&std::fs::read_to_string(file).unwrap()) {
            let Some(their_rank) = rank(&module) else { continue };
            if module != own && their_rank >= own_rank {
                upward.push(format!("{} → {module}", relative.display()));
            }
        }
    }
    upward.sort();
    upward.dedup();
    assert!(upward.is_empty(), "imports against the layers: {upward:#?}");
    assert!(files.len() > 40, "the walk found the sources");
}

/// `(file, what it names)` for every product file outside `allowed` that names `what`.
fn naming(what: &[&str], allowed: impl Fn(&str) -> bool) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut found = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap().display().to_string();
        let source = std::fs::read_to_string(&file).unwrap();
        for name in what.iter().filter(|name| !allowed(&relative) && product(&source).contains(*name)) {
            found.push(format!("{relative} names {name}"));
        }
    }
    found
}

#[test]
fn only_the_registry_names_a_protocol() {
    let found = naming(&["protocol::oidc", "protocol::saml"], |file| file.starts_with("protocol/") || file.starts_with("settings/"));
    assert!(found.is_empty(), "the web layer and the login core reach protocols through protocol::registry: {found:#?}");
}

#[test]
fn only_the_web_layer_names_http_errors() {
    let found = naming(&["HttpError"], |file| file.starts_with("web/"));
    assert!(found.is_empty(), "failures become HTTP in web/ only: {found:#?}");
}

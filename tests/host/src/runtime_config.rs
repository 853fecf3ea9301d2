//! Reads the key-value part of a Spin runtime-config file, as `spin up --runtime-config-file` does.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq)]
pub enum StoreBinding {
    /// `type = "spin"` without `path`: Spin's in-memory store.
    Memory,
    /// `type = "redis"`: keys stored raw in database 0.
    Redis { url: String },
}

#[derive(Deserialize)]
struct RuntimeConfig {
    #[serde(default)]
    key_value_store: HashMap<String, StoreDecl>,
}

#[derive(Deserialize)]
struct StoreDecl {
    #[serde(rename = "type")]
    kind: String,
    path: Option<String>,
    url: Option<String>,
}

pub fn load(path: &Path) -> anyhow::Result<HashMap<String, StoreBinding>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let config: RuntimeConfig = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let mut bindings = HashMap::new();
    for (label, decl) in config.key_value_store {
        let binding = match (decl.kind.as_str(), decl.path, decl.url) {
            ("spin", None, None) => StoreBinding::Memory,
            ("spin", Some(_), _) => bail!("store `{label}`: SQLite files are not emulated by this host"),
            ("redis", None, Some(url)) => StoreBinding::Redis { url },
            (kind, ..) => bail!("store `{label}`: unsupported or incomplete type `{kind}`"),
        };
        bindings.insert(label, binding);
    }
    Ok(bindings)
}

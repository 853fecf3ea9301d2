//! Reads what `spin up` reads from `spin.toml`: the HTTP component, its key-value
//! stores, its outbound hosts, and its variables with `SPIN_VARIABLE_*` overrides.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

#[derive(Deserialize)]
struct Manifest {
    spin_manifest_version: u32,
    #[serde(default)]
    variables: HashMap<String, VariableDecl>,
    trigger: Triggers,
    component: HashMap<String, ComponentDecl>,
}

#[derive(Deserialize)]
struct Triggers {
    http: Vec<HttpTrigger>,
}

#[derive(Deserialize)]
struct HttpTrigger {
    component: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct VariableDecl {
    default: Option<String>,
    required: bool,
}

#[derive(Deserialize)]
struct ComponentDecl {
    source: PathBuf,
    #[serde(default)]
    key_value_stores: Vec<String>,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    variables: HashMap<String, String>,
}

/// The one HTTP component, with every template already resolved.
pub struct Component {
    pub wasm: PathBuf,
    pub key_value_stores: Vec<String>,
    pub allowed_outbound_hosts: Vec<String>,
    pub variables: HashMap<String, String>,
}

pub fn load(path: &Path, env: &HashMap<String, String>) -> anyhow::Result<Component> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let manifest: Manifest = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    if manifest.spin_manifest_version != 2 {
        bail!("only spin_manifest_version = 2 is supported");
    }
    let [trigger] = manifest.trigger.http.as_slice() else {
        bail!("expected exactly one [[trigger.http]]");
    };
    let Some(decl) = manifest.component.get(&trigger.component) else {
        bail!("trigger names component `{}`, which is not declared", trigger.component);
    };

    let mut app_values = HashMap::new();
    for (name, var) in &manifest.variables {
        let from_env = env.get(&format!("SPIN_VARIABLE_{}", name.to_uppercase())).cloned();
        match from_env.or_else(|| var.default.clone()) {
            Some(value) => {
                app_values.insert(name.as_str(), value);
            }
            None if var.required => bail!("required variable `{name}` has no value (set SPIN_VARIABLE_{})", name.to_uppercase()),
            None => {}
        }
    }
    let render = |template: &str| render_template(template, &app_values);
    let base = path.parent().unwrap_or(Path::new("."));
    Ok(Component {
        wasm: base.join(&decl.source),
        key_value_stores: decl.key_value_stores.clone(),
        allowed_outbound_hosts: decl.allowed_outbound_hosts.iter().map(|h| render(h)).collect::<anyhow::Result<_>>()?,
        variables: decl
            .variables
            .iter()
            .map(|(name, template)| Ok((name.clone(), render(template)?)))
            .collect::<anyhow::Result<_>>()?,
    })
}

/// Spin's `{{ variable }}` substitution.
fn render_template(template: &str, values: &HashMap<&str, String>) -> anyhow::Result<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else { bail!("unclosed `{{{{` in `{template}`") };
        let name = rest[start + 2..start + len].trim();
        let Some(value) = values.get(name) else { bail!("template `{template}` names undefined variable `{name}`") };
        out.push_str(&rest[..start]);
        out.push_str(value);
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_filled_from_variables() {
        let values = HashMap::from([("issuer", "http://127.0.0.1:9".to_owned())]);
        assert_eq!(render_template("{{ issuer }}/x", &values).unwrap(), "http://127.0.0.1:9/x");
        assert!(render_template("{{ nope }}", &values).is_err());
    }
}

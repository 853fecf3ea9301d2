//! `from-has [--settings-json] <HAS .env or config.toml>`: prints login-broker's settings
//! for it, as `SPIN_VARIABLE_*` assignments for `spin up` (with `--settings-json`, all but
//! the origins in one `settings_json`, for Spin 3 hosts), the runtime config for HAS's
//! Redis, and what does not carry over, and why.

use std::path::Path;
use std::process::ExitCode;

use from_has::{convert, read_dotenv, read_toml, shell_quoted};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (one_variable, path) = match args.as_slice() {
        [path] => (false, path),
        [flag, path] if flag == "--settings-json" => (true, path),
        _ => {
            eprintln!("usage: from-has [--settings-json] <HAS .env or config.toml>");
            return ExitCode::from(2);
        }
    };
    let path = Path::new(path);
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("from-has: cannot read {}: {error}", path.display());
            return ExitCode::FAILURE;
        }
    };
    let settings = if path.extension().is_some_and(|extension| extension == "toml") {
        match read_toml(&text) {
            Ok(settings) => settings,
            Err(error) => {
                eprintln!("from-has: {}: {error}", path.display());
                return ExitCode::FAILURE;
            }
        }
    } else {
        read_dotenv(&text)
    };
    // HAS reads its *_FILE settings relative to where it runs: its configuration's folder.
    let folder = path.parent().unwrap_or(Path::new("."));
    let read_file = |name: &str| std::fs::read_to_string(folder.join(name)).map_err(|error| format!("cannot read {name}: {error}"));
    let conversion = convert(&settings, &read_file);

    println!("# login-broker's settings for {}: the environment of `spin up`", path.display());
    println!("# (or `spin aka deploy --variable NAME=value`). A new key seals the broker's state:");
    if one_variable {
        // The new key goes into the object through printf, which takes the rest as is.
        let (object, origins) = conversion.in_settings_json();
        let rest = serde_json::Value::Object(object).to_string();
        let rest = if rest == "{}" { "}".to_owned() } else { format!(", {}", &rest[1..]) };
        println!(
            "SPIN_VARIABLE_SETTINGS_JSON=\"$(printf '{{\"state_key\": \"%s\"%s' \"$(openssl rand -base64 32)\" {})\"",
            shell_quoted(&rest)
        );
        for (name, value) in &origins {
            println!("SPIN_VARIABLE_{}={}", name.to_uppercase(), shell_quoted(value));
        }
    } else {
        println!("SPIN_VARIABLE_STATE_KEY=\"$(openssl rand -base64 32)\"");
        for (name, value) in &conversion.variables {
            println!("SPIN_VARIABLE_{}={}", name.to_uppercase(), shell_quoted(value));
        }
    }
    if let Some(runtime_config) = &conversion.runtime_config {
        println!("\n# HAS used Redis: save this as runtime-config.redis.toml and pass it to every instance");
        println!("# (`spin up --runtime-config-file runtime-config.redis.toml`):");
        for line in runtime_config.lines() {
            println!("#   {line}");
        }
    }
    if !conversion.left_out.is_empty() {
        println!("\n# Not carried over:");
        for (setting, why) in &conversion.left_out {
            println!("#   {setting}: {why}");
        }
    }
    ExitCode::SUCCESS
}

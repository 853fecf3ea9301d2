//! What each part of the component costs: the bytes of its function bodies by the crate
//! that defines them (by module, for the broker's own core crate), its data segments,
//! and the rest, read from a build that keeps the name section and is otherwise the
//! shipped one (profile `component-names`: stripping removes names, not code).
//!
//! Run with `cargo build --target wasm32-wasip2 --profile component-names` (add
//! `--no-default-features --features wasi-http-0-2 --target-dir target/wasi-http-0.2` for
//! the other build, and pass that target directory as the argument), then
//! `cargo bench --bench size [target-dir]`. Prints a Markdown table for BENCHMARKS.md.

use std::collections::HashMap;

use wasmparser::{KnownCustom, Name, Parser, Payload, TypeRef};

/// One core module of the component: its functions' names and body sizes, its data.
#[derive(Default)]
struct Module {
    imported_functions: u32,
    bodies: Vec<usize>,
    names: HashMap<u32, String>,
    data_bytes: usize,
    /// Custom sections (names, producers): stripped from the shipped component.
    custom_bytes: usize,
    bytes: usize,
}

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::args().nth(1).filter(|arg| !arg.starts_with('-')).unwrap_or_else(|| "target".to_owned());
    let path = root.join(&target).join("wasm32-wasip2/component-names/login_broker.wasm");
    let bytes = std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error} (see this file's header)", path.display()));
    let module = largest_module(&bytes);

    let mut parts: HashMap<String, usize> = HashMap::new();
    for (index, size) in module.bodies.iter().enumerate() {
        let name = module.names.get(&(module.imported_functions + index as u32)).map_or("?", String::as_str);
        *parts.entry(part_of(&rustc_demangle::demangle(name).to_string())).or_default() += size;
    }
    let code: usize = module.bodies.iter().sum();
    let mut rows: Vec<(String, usize)> = parts.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));

    let kib = |bytes: usize| bytes as f64 / 1024.0;
    let shipped = module.bytes - module.custom_bytes;
    println!(
        "{}: {:.0} KiB with names; its main core module {:.0} KiB without its names, as shipped\n",
        path.display(),
        kib(bytes.len()),
        kib(shipped)
    );
    println!("| part | KiB | share of the module |");
    println!("|---|---|---|");
    let share = |bytes: usize| 100.0 * bytes as f64 / shipped as f64;
    let (shown, rest): (Vec<_>, Vec<_>) = rows.into_iter().partition(|(_, size)| share(*size) >= 0.5);
    for (part, size) in &shown {
        println!("| {part} (code) | {:.0} | {:.1} % |", kib(*size), share(*size));
    }
    let small: usize = rest.iter().map(|(_, size)| size).sum();
    println!("| {} smaller parts (code) | {:.0} | {:.1} % |", rest.len(), kib(small), share(small));
    println!("| data segments (constant tables, strings) | {:.0} | {:.1} % |", kib(module.data_bytes), share(module.data_bytes));
    let other = shipped.saturating_sub(code + module.data_bytes);
    println!("| other sections (types, imports, tables, …) | {:.0} | {:.1} % |", kib(other), share(other));
}

/// The core module with the most code: the broker itself, beside the small modules that
/// adapt it to the component model.
fn largest_module(bytes: &[u8]) -> Module {
    let mut modules: Vec<Module> = Vec::new();
    let mut current: Option<Module> = None;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.expect("a valid component") {
            Payload::ModuleSection { unchecked_range, .. } => {
                current = Some(Module { bytes: unchecked_range.len(), ..Module::default() });
            }
            Payload::ImportSection(imports) if current.is_some() => {
                let module = current.as_mut().expect("inside a module");
                for import in imports.into_imports() {
                    if matches!(import.expect("an import").ty, TypeRef::Func(_)) {
                        module.imported_functions += 1;
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                if let Some(module) = current.as_mut() {
                    module.bodies.push(body.range().len());
                }
            }
            Payload::DataSection(data) => {
                if let Some(module) = current.as_mut() {
                    module.data_bytes += data.into_iter().map(|segment| segment.expect("a data segment").data.len()).sum::<usize>();
                }
            }
            Payload::CustomSection(section) => {
                if let Some(module) = current.as_mut() {
                    module.custom_bytes += section.range().len();
                }
                if let (Some(module), KnownCustom::Name(names)) = (current.as_mut(), section.as_known()) {
                    for name in names {
                        if let Ok(Name::Function(map)) = name {
                            for naming in map.into_iter().flatten() {
                                module.names.insert(naming.index, naming.name.to_owned());
                            }
                        }
                    }
                }
            }
            Payload::End(_) => modules.extend(current.take()),
            _ => {}
        }
    }
    modules.into_iter().max_by_key(|module| module.bodies.iter().sum::<usize>()).expect("a core module")
}

/// The crate that defines a function, by its demangled path; for the broker's core
/// crate, the module under it (`login_broker_core::protocol::saml`).
fn part_of(name: &str) -> String {
    let path = name.trim_start_matches(['<', '&', '*', '(']).trim_start_matches("dyn ").trim_start_matches("mut ");
    // A crate's path segment may carry its disambiguator: `core[6d9e98711c484d2e]`.
    let segments: Vec<&str> = path.split("::").map(|segment| segment.split(['<', ' ', '>', '(', '[']).next().unwrap_or("")).collect();
    match segments.as_slice() {
        ["login_broker_core", "protocol", protocol, ..] => format!("login_broker_core::protocol::{protocol}"),
        ["login_broker_core", layer, ..] => format!("login_broker_core::{layer}"),
        // `<T as Trait>::method`: a blanket implementation, whoever's.
        [first, ..] if first.len() == 1 && first.chars().all(|c| c.is_ascii_uppercase()) => "(generic implementations)".to_owned(),
        [first, ..] if !first.is_empty() && !name.starts_with('?') => first.to_string(),
        _ => "(unnamed)".to_owned(),
    }
}

//! spin-test-host: runs login-broker's built `.wasm` the way `spin up` does, for tests
//! and benchmarks on machines without the Spin CLI.
//!
//! One process is one Spin instance: it reads `spin.toml` and a runtime-config file,
//! serves HTTP on a loopback port with a fresh component instance per request, and
//! serves an admin port through which tests read and write the key-value store and
//! read operation counts. It prints `{"http": "...", "admin": "..."}` once ready.

mod admin;
mod kv;
mod manifest;
mod outbound;
mod runtime_config;
mod server;
mod spin_imports;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use tokio::net::TcpListener;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::WasiHttpCtx;
use wasmtime_wasi_http::p3::bindings::ServicePre;
use wasmtime_wasi_http::p3::{WasiHttpCtxView, WasiHttpView};

use kv::KvStore;

/// What every request of this instance shares.
pub struct App {
    engine: Engine,
    service: ServicePre<Ctx>,
    component: manifest::Component,
    stores: HashMap<String, Arc<KvStore>>,
}

/// Per-request state, as Spin gives each request its own instance.
pub struct Ctx {
    app: Arc<App>,
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    outbound: outbound::Outbound,
}

impl Ctx {
    fn new(app: Arc<App>) -> Self {
        let outbound = outbound::Outbound::new(&app.component.allowed_outbound_hosts);
        Self {
            app,
            table: ResourceTable::new(),
            wasi: WasiCtx::builder().inherit_stderr().inherit_stdout().build(),
            http: WasiHttpCtx::new(),
            outbound,
        }
    }
}

impl WasiView for Ctx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for Ctx {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.outbound }
    }
}

struct Args {
    manifest: PathBuf,
    runtime_config: PathBuf,
    listen: SocketAddr,
    admin: SocketAddr,
    /// Tests pass this so that an instance never outlives the test that started it.
    exit_on_stdin_eof: bool,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        manifest: "spin.toml".into(),
        runtime_config: "runtime-config.toml".into(),
        listen: "127.0.0.1:0".parse()?,
        admin: "127.0.0.1:0".parse()?,
        exit_on_stdin_eof: false,
    };
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        if flag == "--exit-on-stdin-eof" {
            args.exit_on_stdin_eof = true;
            continue;
        }
        let value = argv.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--manifest" => args.manifest = value.into(),
            "--runtime-config-file" => args.runtime_config = value.into(),
            "--listen" => args.listen = value.parse()?,
            "--admin" => args.admin = value.parse()?,
            _ => bail!("unknown flag {flag}; flags: --manifest --runtime-config-file --listen --admin --exit-on-stdin-eof"),
        }
    }
    if !args.listen.ip().is_loopback() || !args.admin.ip().is_loopback() {
        bail!("test equipment listens on loopback only");
    }
    Ok(args)
}

async fn load_app(args: &Args) -> anyhow::Result<App> {
    let env: HashMap<String, String> = std::env::vars().collect();
    let component_decl = manifest::load(&args.manifest, &env)?;

    let mut config = Config::new();
    config.wasm_component_model_async(true);
    let engine = Engine::new(&config)?;
    let component = load_component(&engine, &component_decl.wasm)?;

    let mut linker = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi::p3::add_to_linker(&mut linker)?;
    wasmtime_wasi_http::p3::add_to_linker(&mut linker)?;
    spin_imports::add_to_linker(&mut linker)?;
    let service = ServicePre::new(linker.instantiate_pre(&component)?)?;

    let mut stores = HashMap::new();
    for (label, binding) in runtime_config::load(&args.runtime_config)? {
        let store = KvStore::connect(&binding).await.with_context(|| format!("connecting store `{label}`"))?;
        stores.insert(label, Arc::new(store));
    }
    Ok(App { engine, service, component: component_decl, stores })
}

/// Compiling the component takes about a second, and a test run starts many instances:
/// the compiled artefact is kept beside the `.wasm`, keyed by a hash of its bytes.
fn load_component(engine: &Engine, wasm_path: &std::path::Path) -> anyhow::Result<Component> {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let wasm = std::fs::read(wasm_path)
        .with_context(|| format!("reading {} (build it with `cargo build --target wasm32-wasip2 --release`)", wasm_path.display()))?;
    let mut hasher = DefaultHasher::new();
    wasm.hash(&mut hasher);
    let cached = wasm_path.with_extension(format!("{:016x}.cwasm", hasher.finish()));
    if let Ok(bytes) = std::fs::read(&cached) {
        // SAFETY: only this host writes these files (below), into the project's own
        // target directory; wasmtime refuses artefacts from another engine version.
        if let Ok(component) = unsafe { Component::deserialize(engine, &bytes) } {
            return Ok(component);
        }
    }
    let component = Component::new(engine, &wasm)?;
    // Written aside and renamed, so an instance starting meanwhile never reads half a file.
    let partial = cached.with_extension(format!("partial{}", std::process::id()));
    if std::fs::write(&partial, component.serialize()?).is_ok() {
        std::fs::rename(&partial, &cached).ok();
    }
    Ok(component)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let app = Arc::new(load_app(&args).await?);
    let http = TcpListener::bind(args.listen).await?;
    let admin = TcpListener::bind(args.admin).await?;
    println!("{}", serde_json::json!({"http": http.local_addr()?.to_string(), "admin": admin.local_addr()?.to_string()}));
    tokio::select! {
        result = server::serve(http, app.clone()) => result,
        result = admin::serve(admin, app) => result,
        () = stdin_closed(), if args.exit_on_stdin_eof => Ok(()),
    }
}

async fn stdin_closed() {
    use tokio::io::AsyncReadExt;
    let mut stdin = tokio::io::stdin();
    let mut buffer = [0u8; 64];
    while let Ok(1..) = stdin.read(&mut buffer).await {}
}

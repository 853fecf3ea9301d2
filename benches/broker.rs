//! Throughput and latency of the real `.wasm` under `spin up` (Spin 4.0.x from PATH),
//! over Spin's in-memory store and over Redis, measured in one run so the figures
//! compare. Key-value operations are counted by Redis itself (`INFO commandstats`).
//!
//! Each route is measured against a reference component that writes one value per
//! request (`benches/reference`), started the same way over the same store, back to
//! back in the same run: the ratios are what compare across machines.
//!
//! Run with `cargo bench --bench broker` after `spin build` and
//! `spin build -f benches/reference/spin.toml` (and `benches/reference-0.2/spin.toml`, its
//! wasi:http 0.2 twin); needs `wrk`. Prints Markdown tables
//! for BENCHMARKS.md.

use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use testkit::provider_double::{Key, ProviderDouble, alice_claims, issuing, provider_with, start_broker, variables_for};
use testkit::regions::Regions;
use testkit::{Broker, Build, Login, OidcProvider, Redis, SamlIdp, Spin, Store, sign_in_at_oidc_provider};

const CLIENT_THREADS: usize = 4;
const LATENCY_SAMPLES: usize = 60;
const LOGINS_PER_THREAD: usize = 100;
/// Load per route: `wrk` with 16 keep-alive connections for this long.
const WRK_SECONDS: u32 = 10;
const WRK_CONNECTIONS: u32 = 16;

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let kib = |path: &std::path::Path| std::fs::metadata(path).map_or(0, |m| m.len() / 1024);
    println!(
        "components: login_broker.wasm {} KiB (wasi:http 0.2 build: {} KiB), kv_write_reference.wasm {} KiB (wasi:http 0.2: {} KiB)",
        kib(&Build::Spin4.wasm()),
        kib(&Build::WasiHttp02.wasm()),
        kib(&root.join("target/wasm32-wasip2/release/kv_write_reference.wasm")),
        kib(&root.join("target/wasm32-wasip2/release/kv_write_reference_0_2.wasm"))
    );

    let redis = Redis::start();
    let provider = provider_with(|issuer| issuing(Key::rsa("k1"), alice_claims(issuer.to_owned())));
    assert!(
        root.join("target/wasm32-wasip2/release/kv_write_reference.wasm").exists(),
        "run `spin build -f benches/reference/spin.toml` first"
    );

    // `cargo bench --bench broker -- legs builds` runs only the sections named.
    let named: Vec<String> = std::env::args().skip(1).filter(|arg| !arg.starts_with('-')).collect();
    let wanted = |section: &str| named.is_empty() || named.iter().any(|name| name == section);
    if wanted("routes") {
        routes(&redis, &provider);
    }
    if wanted("builds") {
        builds(&redis, &provider);
    }
    if wanted("logins") {
        logins(&redis);
        login_floor(&redis);
    }
    if wanted("legs") {
        legs(&redis);
    }
    if wanted("saml") {
        saml_logins(&redis);
    }
    if wanted("edge") {
        edge_logins();
    }
    println!("\nRedis floor (redis-benchmark, same machine, 50 clients):");
    let floor = Command::new("redis-benchmark").args(["-p", &redis.port.to_string(), "-t", "get,set", "-n", "100000", "-q"]).output();
    match floor {
        Ok(output) => print!(
            "{}",
            String::from_utf8_lossy(&output.stdout)
                .replace('\r', "\n")
                .lines()
                .filter(|l| l.contains("requests per second"))
                .map(|l| format!("  {}\n", l.trim()))
                .collect::<String>()
        ),
        Err(error) => println!("  redis-benchmark unavailable: {error}"),
    }
}

/// Each route loaded on the Spin 4 build, against the one-write reference, over each store.
fn routes(redis: &Redis, provider: &ProviderDouble) {
    let reference_manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/reference/spin.toml");
    println!("\nUnder `spin up`, wrk -c{WRK_CONNECTIONS} -d{WRK_SECONDS}s per row; CPU is the `spin` process tree's.\n");
    println!("| store | route | requests/s | vs reference | CPU per request | vs reference | KV ops (Redis) | RSS idle → loaded |");
    println!("|---|---|---|---|---|---|---|---|");
    for (name, redis) in [("in-memory", None), ("Redis", Some(redis))] {
        let store = || redis.map_or(Store::Memory, Store::Redis);
        let reference = Broker::start_app(&reference_manifest, 0, store(), &[]);
        let floor = load(&reference, "/", &[], redis);
        row(name, "reference: one KV write", &floor, &floor);
        drop(reference);
        let broker = start_broker(store(), provider, &[]);
        for (route, path, token) in loaded_routes() {
            row(name, route, &load(&broker, &path, &authorization(&token), redis), &floor);
        }
    }
}

/// The routes each instance is loaded on: name, path, and the `Authorization` to send.
fn loaded_routes() -> [(&'static str, String, Option<String>); 3] {
    [
        ("GET /requests/new/:user", "/requests/new/bench-user".to_owned(), None),
        (
            "GET /requests/status/:id (unknown id: 404)",
            format!("/requests/status/{}", testkit::UNKNOWN_REQUEST_ID),
            Some(format!("Bearer {}", testkit::CLIENT_TOKEN)),
        ),
        ("GET /liveness", "/liveness".to_owned(), None),
    ]
}

fn authorization(token: &Option<String>) -> Vec<(&str, &str)> {
    token.iter().map(|value| ("Authorization", value.as_str())).collect()
}

/// The two builds side by side under Spin 4.0.2 over Redis, one loaded after the other,
/// and the wasi:http 0.2 build under its own host, Spin 3.6.3.
fn builds(redis: &Redis, provider: &ProviderDouble) {
    println!("\nThe two builds over Redis (wrk -c{WRK_CONNECTIONS} -d{WRK_SECONDS}s per cell):\n");
    println!(
        "| route | Spin 4 build: requests/s | CPU per request | wasi:http 0.2 build under Spin 4.0.2: requests/s | CPU per request | vs Spin 4 build (requests/s, CPU) | wasi:http 0.2 build under Spin 3.6.3: requests/s | CPU per request | vs Spin 4 build |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    // What Spin itself charges each kind: the one-write reference on spin-sdk 6 (an
    // instance serves many requests) and on spin-sdk 5 (a fresh instance per request).
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let reference = |spin: Spin, manifest: &str| {
        let instance = Broker::start_under(spin, &root.join(manifest), 0, Store::Redis(redis), &[]);
        load(&instance, "/", &[], Some(redis))
    };
    let floors = (
        reference(Spin::Four, "benches/reference/spin.toml"),
        reference(Spin::Four, "benches/reference-0.2/spin.toml"),
        reference(Spin::Three, "benches/reference-0.2/spin.toml"),
    );
    // Each configured by separate variables, then by one `settings_json`.
    let separate: Vec<(String, String)> = variables_for(provider, &[]).iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
    let bundled = testkit::in_settings_json(&variables_for(provider, &[]));
    let mut rows = Vec::new();
    for (how, variables) in [("", &separate), (", configured by `settings_json`", &bundled)] {
        let variables = testkit::borrowed(variables);
        let start = |spin: Spin, build: Build| Broker::start_under(spin, &build.manifest(), 0, Store::Redis(redis), &variables);
        let (four, two, three) =
            (start(Spin::Four, Build::Spin4), start(Spin::Four, Build::WasiHttp02), start(Spin::Three, Build::WasiHttp02));
        for (route, path, token) in loaded_routes() {
            let headers = authorization(&token);
            let load = |instance: &Broker| load(instance, &path, &headers, Some(redis));
            rows.push((format!("{route}{how}"), (load(&four), load(&two), load(&three))));
        }
    }
    let versus = |a: &Load, b: &Load| {
        format!("{:.0} %, {:.2}×", 100.0 * b.per_second / a.per_second, b.cpu_per_request.as_secs_f64() / a.cpu_per_request.as_secs_f64())
    };
    // What instantiating a larger component costs: /liveness reads one key and no
    // variable, as the fresh-instance reference writes one.
    let kib = |path: &std::path::Path| std::fs::metadata(path).map_or(0.0, |m| m.len() as f64 / 1024.0);
    let extra_mib = (kib(&Build::WasiHttp02.wasm()) - kib(&root.join("target/wasm32-wasip2/release/kv_write_reference_0_2.wasm"))) / 1024.0;
    let liveness = rows.iter().find(|(route, _)| route == "GET /liveness").map(|(_, loads)| loads).expect("a /liveness row");
    let per_mib = |broker: &Load, reference: &Load| (millis(broker.cpu_per_request) - millis(reference.cpu_per_request)) / extra_mib;
    let instantiation = format!(
        "Instantiation, by the wasi:http 0.2 build's /liveness (one key read, no variable) against its reference (one write), {extra_mib:.1} MiB larger: {:+.3} ms of CPU per MiB under Spin 4.0.2, {:+.3} ms under Spin 3.6.3.",
        per_mib(&liveness.1, &floors.1),
        per_mib(&liveness.2, &floors.2),
    );
    for (route, (a, b, c)) in std::iter::once(("reference: one KV write (spin-sdk 6; spin-sdk 5)".to_owned(), floors)).chain(rows) {
        println!(
            "| {route} | {:.0} | {:.3} ms | {:.0} | {:.3} ms | {} | {:.0} | {:.3} ms | {} |",
            a.per_second,
            millis(a.cpu_per_request),
            b.per_second,
            millis(b.cpu_per_request),
            versus(&a, &b),
            c.per_second,
            millis(c.cpu_per_request),
            versus(&a, &c),
        );
    }
    println!("\n{instantiation}");
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// What one `wrk` run measured on one instance.
struct Load {
    per_second: f64,
    cpu_per_request: Duration,
    /// Key-value operations per request, counted by Redis (none for the in-memory store).
    kv_per_request: Option<f64>,
    rss_kib: (u64, u64),
}

/// Loads `path` with `wrk` and reads the instance's CPU, memory and Redis's counts.
fn load(instance: &Broker, path: &str, headers: &[(&str, &str)], redis: Option<&Redis>) -> Load {
    let expected = instance.get_with(path, headers).status; // and instantiate before measuring
    let idle = instance.rss_kib();
    redis.inspect(|redis| redis.reset_stats());
    let cpu_before = instance.cpu_time();
    let mut command = Command::new("wrk");
    command.args(["-t2", &format!("-c{WRK_CONNECTIONS}"), &format!("-d{WRK_SECONDS}s")]);
    for (name, value) in headers {
        command.args(["-H", &format!("{name}: {value}")]);
    }
    let output = command.arg(format!("http://{}{path}", instance.http)).output().expect("wrk on PATH (apt install wrk)");
    let loaded = instance.rss_kib();
    let cpu = instance.cpu_time() - cpu_before;
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(expected >= 300 || !text.contains("Non-2xx"), "{path} answered errors under load:\n{text}");
    let requests: u64 = text
        .lines()
        .find_map(|l| l.trim().split_once(" requests in "))
        .and_then(|(n, _)| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("wrk said:\n{text}"));
    let per_second: f64 = text.lines().find_map(|l| l.strip_prefix("Requests/sec:")).and_then(|n| n.trim().parse().ok()).unwrap();
    let kv_per_request = redis.map(|redis| redis.kv_operations().values().sum::<u64>() as f64 / requests as f64);
    Load { per_second, cpu_per_request: cpu / requests.max(1) as u32, kv_per_request, rss_kib: (idle, loaded) }
}

fn row(store: &str, route: &str, load: &Load, floor: &Load) {
    let kv = load.kv_per_request.map_or_else(|| "—".to_owned(), |ops| format!("{ops:.2}"));
    println!(
        "| {store} | {route} | {:.0} | {:.0} % | {:.3} ms | {:.2}× | {kv} | {} → {} MiB |",
        load.per_second,
        100.0 * load.per_second / floor.per_second,
        millis(load.cpu_per_request),
        load.cpu_per_request.as_secs_f64() / floor.cpu_per_request.as_secs_f64(),
        load.rss_kib.0 / 1024,
        load.rss_kib.1 / 1024,
    );
}

fn total(redis: &Redis) -> u64 {
    redis.kv_operations().values().sum()
}

/// Complete logins against the bundled `oidc-provider` (Node; its CPU is not counted),
/// signed in by a cookie-keeping HTTP client instead of a browser: the client's new
/// request and status call, the browser's login link, the click on its confirmation
/// page (on by default) and the callback at the broker.
fn logins(redis: &Redis) {
    // Every instance's callback URL is the default `svc_base_uri`'s; the benchmark
    // delivers it to whichever instance it measures.
    let provider = OidcProvider::start(&["http://127.0.0.1:3000/oidc/callback".to_owned()], &[]);
    let variables = provider.variables();
    println!(
        "\nComplete logins at the bundled oidc-provider (its CPU not counted; client: new, status; browser: login link, its confirmation click, callback):\n"
    );
    println!("| store | logins/s | broker CPU per login | KV ops per login (Redis) | client answer after callback (p50 / p99) |");
    println!("|---|---|---|---|---|");
    let memory = Broker::start(Store::Memory, &variables);
    login_row("in-memory", &memory, &memory, None);
    let a = Broker::start(Store::Redis(redis), &variables);
    login_row("Redis", &a, &a, Some(redis));
    let b = Broker::start(Store::Redis(redis), &variables);
    login_row("Redis, callback and status on a second instance", &a, &b, Some(redis));
    drop((a, b));
    // The wasi:http 0.2 build under its own host: a fresh instance, and its configuration
    // read again, for every request.
    let two = Broker::start_under(Spin::Three, &Build::WasiHttp02.manifest(), 0, Store::Redis(redis), &variables);
    login_row("Redis, wasi:http 0.2 build under Spin 3.6.3", &two, &two, Some(redis));
    drop(two);
    let bundled = testkit::in_settings_json(&variables);
    let bundled = testkit::borrowed(&bundled);
    let two = Broker::start_under(Spin::Three, &Build::WasiHttp02.manifest(), 0, Store::Redis(redis), &bundled);
    login_row("Redis, wasi:http 0.2 build under Spin 3.6.3, configured by `settings_json`", &two, &two, Some(redis));
}

fn login_row(name: &str, first: &Broker, second: &Broker, redis: Option<&Redis>) {
    // Warm the instances and the provider cache so every measured login is a steady-state one.
    one_login(first, second, "warm-up");
    let instances: Vec<&Broker> = if std::ptr::eq(first, second) { vec![first] } else { vec![first, second] };
    let cpu = || instances.iter().map(|broker| broker.cpu_time()).sum::<Duration>();
    let cpu_before = cpu();
    let started = Instant::now();
    thread::scope(|scope| {
        for t in 0..CLIENT_THREADS {
            scope.spawn(move || {
                for n in 0..LOGINS_PER_THREAD {
                    one_login(first, second, &format!("user-{t}-{n}"));
                }
            });
        }
    });
    let elapsed = started.elapsed();
    let logins = (CLIENT_THREADS * LOGINS_PER_THREAD) as u32;
    let cpu_after = cpu();

    let ops = redis.map_or_else(
        || "—".to_owned(),
        |redis| {
            redis.reset_stats();
            one_login(first, second, "counted");
            total(redis).to_string()
        },
    );

    let mut latency: Vec<Duration> = (0..LATENCY_SAMPLES)
        .map(|n| {
            let user = format!("latency-{n}");
            let (login, callback, cookie) = to_the_callback(first, &user);
            thread::scope(|scope| {
                let poll = scope.spawn(|| {
                    assert_eq!(second.status(&login).status, 200);
                    Instant::now()
                });
                thread::sleep(Duration::from_millis(150 + (n as u64 * 37) % 500));
                assert_eq!(second.get_with(&callback, &[("Cookie", &cookie)]).status, 200);
                let returned = Instant::now();
                poll.join().unwrap().saturating_duration_since(returned)
            })
        })
        .collect();
    latency.sort();
    println!(
        "| {name} | {:.0} | {:.2} ms | {ops} | {:.1} / {:.1} ms |",
        f64::from(logins) / elapsed.as_secs_f64(),
        millis((cpu_after - cpu_before) / logins),
        millis(latency[latency.len() / 2]),
        millis(latency[latency.len() * 99 / 100]),
    );
}

/// What Spin itself charges for a login's traffic, whatever the broker does: the
/// reference component answering as many requests as a login makes of the broker (the
/// client's new request and status call; the browser's login link, confirmation click
/// and callback), each with one key-value write, two of them with an outbound GET to
/// the bundled `oidc-provider` (where the callback exchanges the code and reads
/// userinfo). Same clients, threads and store as `logins`.
fn login_floor(redis: &Redis) {
    let provider = OidcProvider::start(&["http://127.0.0.1:3000/oidc/callback".to_owned()], &[]);
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/reference/spin.toml");
    let reference = Broker::start_app(&manifest, 0, Store::Redis(redis), &[("fetch_origin", &provider.origin)]);
    let fetch = format!("/?fetch={}/.well-known/openid-configuration", provider.issuer);
    let one = || {
        for path in ["/", "/", "/", fetch.as_str(), fetch.as_str()] {
            assert_eq!(reference.get(path).status, 200, "{path}");
        }
    };
    one();
    let before = reference.cpu_time();
    thread::scope(|scope| {
        for _ in 0..CLIENT_THREADS {
            scope.spawn(|| (0..LOGINS_PER_THREAD).for_each(|_| one()));
        }
    });
    let logins = (CLIENT_THREADS * LOGINS_PER_THREAD) as u32;
    println!(
        "
The platform's floor for a login's traffic (the reference component: 5 requests with one KV write each, 2 of them with an outbound GET to the provider; Redis): {:.2} ms of CPU per login.",
        millis((reference.cpu_time() - before) / logins)
    );
}

/// Complete SAML logins at the bundled `samlify` identity provider (its CPU is not
/// counted): the client's new request and status call, the browser's login link, its
/// confirmation click, and the Response posted to the Assertion Consumer Service.
fn saml_logins(redis: &Redis) {
    const LOGINS: u32 = 100;
    // The identity provider posts to the default `svc_base_uri`; the benchmark delivers
    // the answer to the instance it measures.
    let idp = SamlIdp::start("http://127.0.0.1:3000", &[]);
    let broker = Broker::start(Store::Redis(redis), &idp.variables());
    let one = |user: &str| {
        let login = broker.login(user);
        let sent = broker.follow_login_link(&login);
        assert_eq!(sent.status, 303, "{}", sent.body);
        let cookie = sent.header("set-cookie").unwrap().split(';').next().unwrap().to_owned();
        let answer = idp.sign_in(sent.header("location").unwrap(), &format!("{user}@example.com"));
        assert_eq!(broker.post_form("/saml/sso", &cookie, answer).status, 200);
        assert_eq!(broker.status(&login).json()["nameID"], format!("{user}@example.com"));
    };
    one("warm-up");
    let mut cpu = Duration::ZERO;
    for n in 0..LOGINS {
        let before = broker.cpu_time();
        one(&format!("saml-{n}"));
        cpu += broker.cpu_time() - before;
    }
    redis.reset_stats();
    one("counted");
    println!(
        "
Complete SAML logins at the bundled samlify identity provider ({LOGINS} one after another, Redis, metadata by URL, both signatures): {:.2} ms of broker CPU per login, {} KV ops per login.",
        millis(cpu / LOGINS),
        total(redis)
    );
}

/// Where a login's CPU goes: logins one after another on one instance over Redis, the
/// `spin` tree's CPU read around each of the broker's four requests.
fn legs(redis: &Redis) {
    const LOGINS: u32 = 200;
    let provider = OidcProvider::start(&["http://127.0.0.1:3000/oidc/callback".to_owned()], &[]);
    let broker = Broker::start(Store::Redis(redis), &provider.variables());
    one_login(&broker, &broker, "warm-up");
    let mut spent = [Duration::ZERO; 4];
    let (mut at_provider, mut idle_cpu) = (Duration::ZERO, Duration::ZERO);
    for n in 0..LOGINS {
        let user = format!("leg-{n}");
        let before = broker.cpu_time();
        let login = broker.login(&user);
        let created = broker.cpu_time();
        let sent = broker.follow_login_link(&login);
        let sent_on = broker.cpu_time();
        let cookie = sent.header("set-cookie").unwrap().split(';').next().unwrap().to_owned();
        let left = Instant::now();
        let back = url::Url::parse(&sign_in_at_oidc_provider(sent.header("location").unwrap(), &user)).unwrap();
        at_provider += left.elapsed();
        let callback = format!("{}?{}", back.path(), back.query().unwrap_or_default());
        let at_callback = broker.cpu_time();
        idle_cpu += at_callback - sent_on;
        assert_eq!(broker.get_with(&callback, &[("Cookie", &cookie)]).status, 200);
        let finished = broker.cpu_time();
        assert_eq!(broker.status(&login).status, 200);
        let answered = broker.cpu_time();
        for (leg, cpu) in spent.iter_mut().zip([created - before, sent_on - created, finished - at_callback, answered - finished]) {
            *leg += cpu;
        }
    }
    let kv = kv_operations_per_leg(&broker, redis);
    println!(
        "\nCPU per leg ({LOGINS} logins one after another, one instance, Redis; a new connection per request), and the key-value operations of one more:\n"
    );
    println!(
        "| new request | login link (page and confirmation click) | callback (code exchange, ID token, userinfo) | status (finished) |"
    );
    println!("|---|---|---|---|");
    let per_login = |cpu: Duration| format!("{:.2} ms", millis(cpu / LOGINS));
    println!("| {} | {} | {} | {} |", per_login(spent[0]), per_login(spent[1]), per_login(spent[2]), per_login(spent[3]));
    println!("| {} | {} | {} | {} |", kv[0], kv[1], kv[2], kv[3]);
    println!(
        "\nMeanwhile the user spent {:.0} ms at the provider per login, and the `spin` tree {} of CPU (not in the legs above).",
        millis(at_provider / LOGINS),
        per_login(idle_cpu)
    );
}

/// Each leg of one more login, as Redis counted its commands (`get 1, set 2`).
fn kv_operations_per_leg(broker: &Broker, redis: &Redis) -> [String; 4] {
    let counted = |leg: &mut dyn FnMut()| {
        redis.reset_stats();
        leg();
        let operations: Vec<String> =
            redis.kv_operations().into_iter().filter(|(_, calls)| *calls > 0).map(|(name, calls)| format!("{name} {calls}")).collect();
        operations.join(", ")
    };
    let login = std::cell::OnceCell::new();
    let mut leg_callback = (String::new(), String::new());
    [
        counted(&mut || drop(login.set(broker.login("counted-legs")))),
        counted(&mut || {
            let sent = broker.follow_login_link(login.get().unwrap());
            let cookie = sent.header("set-cookie").unwrap().split(';').next().unwrap().to_owned();
            let back = url::Url::parse(&sign_in_at_oidc_provider(sent.header("location").unwrap(), "counted-legs")).unwrap();
            leg_callback = (format!("{}?{}", back.path(), back.query().unwrap_or_default()), cookie);
        }),
        counted(&mut || assert_eq!(broker.get_with(&leg_callback.0, &[("Cookie", &leg_callback.1)]).status, 200)),
        counted(&mut || assert_eq!(broker.status(login.get().unwrap()).status, 200)),
    ]
}

/// A new request on `first`, its login link opened and `user` signed in at the
/// provider: the login, the callback's path and query, and the sign-in cookie.
fn to_the_callback(first: &Broker, user: &str) -> (Login, String, String) {
    let login = first.login(user);
    let sent = first.follow_login_link(&login);
    assert_eq!(sent.status, 303, "{}", sent.body);
    let cookie = sent.header("set-cookie").unwrap().split(';').next().unwrap().to_owned();
    let back = url::Url::parse(&sign_in_at_oidc_provider(sent.header("location").unwrap(), user)).unwrap();
    (login, format!("{}?{}", back.path(), back.query().unwrap_or_default()), cookie)
}

/// The edge build over one region of the two-region equipment (`testkit::regions`):
/// what a login costs in the platform's currency, key-value writes and reads, counted
/// by the region's proxy, and how many logins a second fit Akamai Functions' quotas.
fn edge_logins() {
    const EDGE_LOGINS: u32 = 50;
    let regions = Regions::start(Duration::from_secs(2)).expect("two regions start");
    let provider = OidcProvider::start(&["http://127.0.0.1:3000/oidc/callback".to_owned()], &[]);
    let mut variables = provider.variables().to_vec();
    variables.extend([("login_timeout", "25"), ("store_replication_secs", "3")]);
    let edge = Broker::start_app(&Build::Edge.manifest(), 0, Store::Region(&regions, 0), &variables);
    one_login(&edge, &edge, "warm-up");
    let (writes, reads, cpu) = (regions.writes(0), regions.reads(0), edge.cpu_time());
    for n in 0..EDGE_LOGINS {
        one_login(&edge, &edge, &format!("edge-{n}"));
    }
    let per_login = |count: u64| count as f64 / f64::from(EDGE_LOGINS);
    let (writes, reads) = (per_login(regions.writes(0) - writes), per_login(regions.reads(0) - reads));
    println!("\nThe edge build ({EDGE_LOGINS} logins one after another in one region, the bundled oidc-provider):\n");
    println!("| broker CPU per login | KV writes per login | KV reads per login | logins/s within 50 writes/s and 1,000 reads/s |");
    println!("|---|---|---|---|");
    println!(
        "| {:.2} ms | {writes:.1} | {reads:.1} | {:.1} |",
        millis((edge.cpu_time() - cpu) / EDGE_LOGINS),
        (50.0 / writes).min(1000.0 / reads)
    );
    assert_eq!(regions.refused(), 0, "the edge build asked for an operation the edge store does not offer");
}

/// One user's whole login: started on `first`, finished and answered on `second`.
fn one_login(first: &Broker, second: &Broker, user: &str) {
    let (login, callback, cookie) = to_the_callback(first, user);
    assert_eq!(second.get_with(&callback, &[("Cookie", &cookie)]).status, 200);
    assert_eq!(second.status(&login).json()["sub"], user);
}

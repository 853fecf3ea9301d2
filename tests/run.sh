#!/usr/bin/env bash
# The whole test suite, from a fresh clone on a fresh machine: installs what it needs,
# builds the component with `spin build`, then runs every test. Every end-to-end test
# runs the broker under `spin up` (Spin 4.0.x, from PATH) with the project's own
# spin.toml and runtime-config files. Services the tests use (redis-server, the
# oidc-provider, headless Chromium, broker instances) are started by the tests
# themselves on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v spin >/dev/null; then
  echo "The tests run the broker under the Spin CLI, and \`spin\` is not on PATH." >&2
  echo "Install Spin 4.0.x (https://spinframework.dev/v3/install), or put its binary on PATH." >&2
  exit 1
fi
case "$(spin --version)" in
  "spin 4.0."*) ;;
  *) echo "The tests need Spin 4.0.x; \`spin --version\` says: $(spin --version)" >&2; exit 1 ;;
esac
# The wasi:http 0.2 build is also tested under Spin 3.x (the runtime in SpinKube's shim).
if ! command -v "${SPIN3:-spin3}" >/dev/null; then
  echo "The tests also run the wasi:http 0.2 build under Spin 3.x, found as \`spin3\` on PATH (or \$SPIN3)." >&2
  exit 1
fi
case "$("${SPIN3:-spin3}" --version)" in
  "spin 3."*) ;;
  *) echo "\`spin3\` must be Spin 3.x; it says: $("${SPIN3:-spin3}" --version)" >&2; exit 1 ;;
esac

rustup target add wasm32-wasip2
rustup component add rustfmt clippy

# Style and lints first: they fail fastest. The component builds for wasm32-wasip2
# only; the tests and the benchmark build for the host.
cargo fmt --check
(cd fuzz && cargo fmt --check)
(cd benches/reference && cargo fmt --check)
(cd benches/reference-0.2 && cargo fmt --check)
cargo clippy --target wasm32-wasip2 --release -- -D warnings
cargo clippy --target wasm32-wasip2 --release --features conformance -- -D warnings
cargo clippy --target wasm32-wasip2 --release --no-default-features --features wasi-http-0-2 --target-dir target/wasi-http-0.2 -- -D warnings
# The edge build differs from the Spin 4 one in the component crate only: same target directory.
cargo clippy --target wasm32-wasip2 --release --features edge -- -D warnings
cargo clippy --release --workspace --tests --benches -- -D warnings

missing=()
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || missing+=(redis-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
# An OCI registry on loopback, for the `spin registry push` / `spin up --from` test.
command -v docker-registry >/dev/null || missing+=(docker-registry)
# The independent XML-DSig implementation that signs and checks the SAML test answers.
command -v xmlsec1 >/dev/null || missing+=(xmlsec1)
# The reference TLS front (deploy/tls-proxy/nginx.conf) under test, the certificates its
# clients present, and the client that presents them, as HAS's p4d loginhook does.
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v openssl >/dev/null || missing+=(openssl)
command -v curl >/dev/null || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error
npm ci --prefix tests/saml --no-audit --no-fund --loglevel=error

# The store conformance suite as a component of its own (tests/broker/store_conformance.rs),
# then the product with the manifest's own build command (cargo build --target
# wasm32-wasip2 --profile component), which rebuilds the same output without the feature.
cargo build --target wasm32-wasip2 --profile component --features conformance
mkdir -p target/conformance
cp target/wasm32-wasip2/component/login_broker.wasm target/conformance/login_broker.wasm
spin build
# The wasi:http 0.2 build, with its own manifest and target directory.
spin build -f deploy/wasi-http-0.2/spin.toml
# The edge build (Akamai Functions), with its own manifest and target directory.
spin build -f deploy/edge/spin.toml
# The benchmark's yardsticks (benches/reference, and its wasi:http 0.2 twin), so that they keep building.
spin build -f benches/reference/spin.toml
spin build -f benches/reference-0.2/spin.toml
# The tests and the benchmark in one release build. Not `--lib`: the component library
# is built for wasm32-wasip2 only.
cargo build --release --workspace --tests --benches
# --show-output: some tests print what they measured (Spin's Redis reconnect time).
cargo test --release --workspace -- --test-threads 4 --show-output

# Fuzz every parser of outside input for a bounded time. cargo-fuzz needs -Z flags:
# RUSTC_BOOTSTRAP lets the machine's stable toolchain take them. No sanitizer: the
# code is safe Rust, so a panic or a failed assertion is what a finding looks like.
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# A target with seeds (fuzz/seeds/<target>: the signed SAML fixtures) starts from them;
# new inputs go to fuzz/corpus/<target>, never into the seeds.
for target in $(cd fuzz && cargo fuzz list); do
  seeds=()
  [ -d "fuzz/seeds/$target" ] && seeds=("corpus/$target" "seeds/$target") && mkdir -p "fuzz/corpus/$target"
  (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none "$target" "${seeds[@]}" -- -max_total_time=20)
done

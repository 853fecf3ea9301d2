#!/usr/bin/env bash
# The whole test suite, from a fresh clone on a fresh machine: installs what it needs,
# builds the component (as `spin build` does) and the test host, then runs every test.
# Services the tests use (redis-server, broker instances) are started by the tests
# themselves on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

rustup target add wasm32-wasip2
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server
fi

cargo build --target wasm32-wasip2 --release
cargo build --release -p spin-test-host
# Release throughout: the host's wasmtime is built once and shared with the tests.
cargo test --release --workspace -- --test-threads 4

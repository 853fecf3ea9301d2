#!/usr/bin/env bash
# First run: the broker plus a bundled development OpenID provider, in one command.
#
#   ./scripts/dev.sh [spin up args...]     e.g. --runtime-config-file runtime-config.redis.toml
#
# Starts tests/oidc/provider.mjs (any username and password sign in) with a fresh client
# secret, points the broker at it and runs `spin build --up` on 127.0.0.1:$BROKER_PORT.
# Ports: BROKER_PORT (default 3000), PROVIDER_PORT (default 9090). A SPIN_VARIABLE_* you
# set yourself wins, except the oidc_* ones, which must match the development provider.
# SPIN names the Spin CLI (default `spin` on PATH; Spin 4.0.x).
set -euo pipefail

# Resolve a relative $SPIN against the caller's directory, then work from the repo root.
SPIN=${SPIN:-spin}
if [[ $SPIN == */* && $SPIN != /* ]]; then SPIN="$PWD/$SPIN"; fi
cd "$(dirname "${BASH_SOURCE[0]}")/.."

die() { echo "dev.sh: $*" >&2; exit 1; }

# --- prerequisites ---------------------------------------------------------------
missing=()
command -v "$SPIN" >/dev/null || missing+=("spin ($SPIN): https://spinframework.dev/install")
command -v node >/dev/null || missing+=("node (20 or later): https://nodejs.org/")
command -v npm >/dev/null || missing+=("npm (comes with Node.js): https://nodejs.org/")
command -v openssl >/dev/null || missing+=("openssl: your system's package manager (apt install openssl, brew install openssl)")
if ((${#missing[@]})); then
  echo "dev.sh: missing prerequisites:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 20)) || die "node $(node --version) is too old: the development provider needs Node.js 20 or later (https://nodejs.org/)"

if [[ ! -d tests/oidc/node_modules ]]; then
  echo "dev.sh: installing the development provider (npm ci --prefix tests/oidc)..." >&2
  npm ci --prefix tests/oidc --silent --no-audit --no-fund || die "npm ci --prefix tests/oidc failed"
fi

# --- ports -------------------------------------------------------------------------
BROKER_PORT=${BROKER_PORT:-3000}
PROVIDER_PORT=${PROVIDER_PORT:-9090}
for name in BROKER_PORT PROVIDER_PORT; do
  [[ ${!name} =~ ^[0-9]+$ ]] && ((${!name} > 0 && ${!name} < 65536)) || die "$name must be a port number, not '${!name}'"
done
[[ $BROKER_PORT != "$PROVIDER_PORT" ]] || die "BROKER_PORT and PROVIDER_PORT must differ"
port_in_use() { (exec 9<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for name in BROKER_PORT PROVIDER_PORT; do
  ! port_in_use "${!name}" || die "127.0.0.1:${!name} is already in use: set $name to a free port"
done
for arg in "$@"; do
  [[ $arg != --listen && $arg != --listen=* ]] || die "set BROKER_PORT instead of passing --listen (the provider must know the callback address)"
done

# --- the development provider --------------------------------------------------------
dev_dir=.spin-dev
mkdir -p "$dev_dir"
provider_log="$dev_dir/provider.log"
provider_out="$dev_dir/provider.out"
: >"$provider_out"

# Where browsers reach the broker: the callback registered at the provider follows it.
broker_url=${SPIN_VARIABLE_SVC_BASE_URI:-http://127.0.0.1:$BROKER_PORT}
broker_url=${broker_url%/}
auth_method=${SPIN_VARIABLE_OIDC_TOKEN_ENDPOINT_AUTH_METHOD:-client_secret_basic}
client_id=login-broker-dev
client_secret=$(openssl rand -hex 24)

provider_pid='' banner_pid=''
cleanup() {
  [[ -z $banner_pid ]] || kill "$banner_pid" 2>/dev/null || true
  if [[ -n $provider_pid ]]; then
    kill "$provider_pid" 2>/dev/null || true
    wait "$provider_pid" 2>/dev/null || true
  fi
  rm -f "$provider_out"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The provider exits when its stdin reaches EOF: give it a pipe whose only writer is this
# script (fd 3, closed for everything else we start), so it stops even if we are killed.
fifo="$dev_dir/provider.stdin.$$"
rm -f "$fifo"
mkfifo "$fifo"
node tests/oidc/provider.mjs --port "$PROVIDER_PORT" \
  --client-id "$client_id" --client-secret "$client_secret" \
  --token-endpoint-auth-method "$auth_method" \
  --redirect-uri "$broker_url/oidc/callback" \
  --post-logout-redirect-uri "$broker_url/oidc/logged_out" \
  <"$fifo" >"$provider_out" 2>"$provider_log" &
provider_pid=$!
exec 3>"$fifo"
rm -f "$fifo"

# Wait (at most 60 s: a busy machine starts Node slowly) for its one ready line, {"issuer":"..."}.
issuer=''
for _ in $(seq 600); do
  issuer=$(sed -n 's/.*"issuer" *: *"\([^"]*\)".*/\1/p' "$provider_out")
  [[ -z $issuer ]] || break
  kill -0 "$provider_pid" 2>/dev/null || { tail -n 20 "$provider_log" >&2; die "the development provider exited (log: $provider_log)"; }
  sleep 0.1
done
[[ -n $issuer ]] || die "the development provider did not start within 60 s (log: $provider_log)"

# --- broker variables ---------------------------------------------------------------
# Secrets are exported, never printed.
export SPIN_VARIABLE_STATE_KEY=${SPIN_VARIABLE_STATE_KEY:-$(openssl rand -base64 32)}
export SPIN_VARIABLE_SVC_BASE_URI=$broker_url
export SPIN_VARIABLE_STATUS_ENABLED=${SPIN_VARIABLE_STATUS_ENABLED:-true}
# Any local client may read login outcomes (set client_tokens and this to false to try tokens).
export SPIN_VARIABLE_ASSUME_CLIENT_AUTHORIZED=${SPIN_VARIABLE_ASSUME_CLIENT_AUTHORIZED:-true}
export SPIN_VARIABLE_OIDC_ISSUER_URI=$issuer
export SPIN_VARIABLE_OIDC_PROVIDER_ORIGIN=http://127.0.0.1:$PROVIDER_PORT
export SPIN_VARIABLE_OIDC_CLIENT_ID=$client_id
export SPIN_VARIABLE_OIDC_CLIENT_SECRET=$client_secret
export SPIN_VARIABLE_OIDC_TOKEN_ENDPOINT_AUTH_METHOD=$auth_method

# --- "try it", printed once the broker accepts connections ---------------------------
if [[ $SPIN_VARIABLE_ASSUME_CLIENT_AUTHORIZED == true ]]; then
  status_call='curl -s <its "statusUrl">'
else
  status_call='curl -s -H "Authorization: Bearer <one of your client_tokens>" <its "statusUrl">'
fi
(
  while kill -0 $$ 2>/dev/null; do
    if port_in_use "$BROKER_PORT"; then
      cat <<EOF

==> login-broker: $broker_url   development provider: $issuer
    Try it:
      1. curl -s $broker_url/requests/new/alice
      2. Open its "loginUrl" in your browser and sign in with any username and password
         (the development provider accepts any), then click Continue.
      3. $status_call     # the signed-in identity, once
    Provider log: $provider_log. Stop with Ctrl-C.

EOF
      exit 0
    fi
    sleep 0.2
  done
) 3>&- &
banner_pid=$!

# --- the broker: build, then spin up (not exec: the EXIT trap stops the provider) ------
up_args=(--listen "127.0.0.1:$BROKER_PORT")
has_runtime_config=false
for arg in "$@"; do
  [[ $arg != --runtime-config-file && $arg != --runtime-config-file=* ]] || has_runtime_config=true
done
$has_runtime_config || up_args+=(--runtime-config-file runtime-config.toml)
"$SPIN" build --up -- "${up_args[@]}" "$@" 3>&-

#!/usr/bin/env bash
# The one test command: installs what a fresh Debian machine lacks, then runs every test.
#   Debian packages (apt-get): chromium for the browser test, redis-server for the cluster
#   tests (each starts its own on a free loopback port), nodejs/npm if missing.
#   npm packages (npm ci, in client/): playwright-core, which drives that chromium (never
#   downloads one), and typescript, which checks the client's declarations.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@"
}
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
# nginx-light: the reverse-proxy test runs the guide's configuration in front of two nodes.
[ -x /usr/sbin/nginx ] || missing+=(nginx-light)
# openssl: the browser test makes its https certificate with it.
command -v openssl >/dev/null || missing+=(openssl)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${missing[*]}"
  apt_install "${missing[@]}"
fi

echo "==> cargo fmt --check"
cargo fmt --all --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> cargo test (protocol, server, bot-client, end-to-end)"
cargo test --workspace --locked
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
echo "==> the template, as a studio gets it: copied outside the checkout, built and tested there"
template_dir=$(mktemp -d)/coins
./scripts/template-copy.sh "$template_dir"
# Its own workspace and manifest; the build cache is this checkout's, so the dependencies it
# shares with the workspace (same versions, features and profile) are not compiled twice. Not
# --locked: the copy of this checkout's Cargo.lock keeps every version, and cargo prunes what
# the template does not use.
(cd "$template_dir" && CARGO_TARGET_DIR="$target_dir" cargo clippy --all-targets -- -D warnings \
  && CARGO_TARGET_DIR="$target_dir" cargo test \
  && CARGO_TARGET_DIR="$target_dir" cargo build)
echo "==> browser client: node tests and the end-to-end tests in chromium (the reference games and the template)"
# The server binary `cargo test` just built for the end-to-end tests (a separate `cargo build`
# would compile dependencies again with fewer features).
(cd client && npm ci --no-audit --no-fund \
  && TICKSYNC_BIN="$target_dir/debug/ticksync" TEMPLATE_BIN="$target_dir/debug/coins" TEMPLATE_DIR="$template_dir" npm test)

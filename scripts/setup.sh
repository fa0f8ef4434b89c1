#!/usr/bin/env bash
# Installs every tool the build and the tests need, skipping what is already present.
# Idempotent; safe to run on every `make` invocation. See ../shared/docs/toolchain.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '[setup] %s\n' "$*" >&2; }

# Rust target for the SDK.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# wasm-bindgen CLI: must equal the wasm-bindgen crate version in Cargo.lock.
WB_VERSION=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/[^0-9.]/,"",$0); print; exit}' Cargo.lock 2>/dev/null || true)
WB_VERSION=${WB_VERSION:-0.2.130}
if ! wasm-bindgen --version 2>/dev/null | grep -q " $WB_VERSION\$"; then
  log "installing wasm-bindgen-cli $WB_VERSION (about 10 minutes on a fresh machine)"
  cargo install wasm-bindgen-cli --version "$WB_VERSION" --locked \
    || cargo install wasm-bindgen-cli --version "$WB_VERSION"
fi

# wasm-pack (the registry's npm package downloads from elsewhere, so build it from crates.io).
WP_VERSION=0.15.1
if ! wasm-pack --version 2>/dev/null | grep -q "$WP_VERSION"; then
  log "installing wasm-pack $WP_VERSION (about 6 minutes on a fresh machine)"
  cargo install wasm-pack --version "$WP_VERSION" --locked \
    || cargo install wasm-pack --version "$WP_VERSION"
fi

# Chromium + chromedriver from Debian, for wasm-pack --headless --chrome and Playwright.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  log "installing chromium and chromium-driver from apt"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium chromium-driver
fi

# npm packages (binaryen's wasm-opt, realm-web, playwright-core, typescript, esbuild, bson).
if [ -f package-lock.json ]; then
  # Also reinstall when a tool the build/tests call is missing (e.g. a half-finished install).
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
     || [ ! -x node_modules/.bin/wasm-opt ] || [ ! -x node_modules/.bin/tsc ] || [ ! -x node_modules/.bin/esbuild ]; then
    log "installing npm dev dependencies"
    npm ci --no-audit --no-fund
  fi
elif [ -f package.json ]; then
  npm install --no-audit --no-fund
fi
log "toolchain ready"

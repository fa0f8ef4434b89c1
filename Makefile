# realm-wasm — the two commands a newcomer needs:
#   make demo   builds everything and runs the custom-user-data example against a fresh local server
#   make test   builds everything and runs every test suite (what .ci/run does)
# Both start with `make setup` (scripts/setup.sh), which installs whatever of the toolchain is missing.
# Every server is started by scripts/server.mjs on a free loopback port with a temporary data
# directory and stopped when the command it wraps ends, so nothing is left running.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)

# Runs a command with REALM_BASE_URL / REALM_APP_ID pointing at a fresh server.
WITH_SERVER := node scripts/server.mjs --
WASM_PACK_TEST := wasm-pack test --mode no-install

.PHONY: help setup build build-server build-pkg demo test test-rust test-wasm-node test-wasm-chrome \
        test-node test-jest test-tsc test-www bench

help:
	@echo "make demo    build, then run examples/custom-user-data.{cjs,mjs} against a fresh server"
	@echo "make test    build, then run every test (cargo, wasm-pack node+chrome, node, jest, tsc, www)"
	@echo "make setup, make build, make bench (bench/run.mjs starts its own server)"

setup:
	bash scripts/setup.sh

build: setup
	$(MAKE) --no-print-directory build-server build-pkg

build-server:
	cargo build --release -p realm-wasm-server

build-pkg:
	bash scripts/build-pkg.sh

demo: build
	@echo "== examples/custom-user-data.cjs (CommonJS) =="
	$(WITH_SERVER) node examples/custom-user-data.cjs
	@echo
	@echo "== examples/custom-user-data.mjs (ES module) =="
	$(WITH_SERVER) node examples/custom-user-data.mjs

# --keep-going: every suite runs and reports even when an earlier one failed; the result still fails.
test: build
	$(MAKE) --no-print-directory --keep-going test-rust test-wasm-node test-wasm-chrome test-node test-jest test-tsc test-www
	@echo "make test: all suites passed"

test-rust:
	cargo test --workspace

# The wasm-bindgen-test suites read REALM_BASE_URL / REALM_APP_ID at compile time.
test-wasm-node:
	$(WITH_SERVER) $(WASM_PACK_TEST) --node

test-wasm-chrome:
	$(WITH_SERVER) $(WASM_PACK_TEST) --headless --chrome

test-node:
	node --test tests/node/

# The SDK under Jest's and sinon's fake timers (tests/jest), against a fresh server.
test-jest:
	$(WITH_SERVER) jest --config tests/jest/jest.config.cjs --ci

test-tsc:
	tsc -p tests/tsc

test-www:
	@if [ -d www/tests ]; then node --test www/tests/; else echo "no www/tests yet: skipped"; fi

bench: build
	node bench/run.mjs
	node bench/sdk.mjs
	node bench/server.mjs
	node bench/functions-http.mjs

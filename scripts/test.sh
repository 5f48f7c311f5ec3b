#!/usr/bin/env bash
# Every check and test: formatting, lints (native and wasm), unit and integration tests, the API
# fuzz run against the OpenAPI document, and the Playwright end-to-end suite in Debian Chromium
# against the release build.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$repo"
step() { printf '\n==> %s\n' "$*"; }

step "setup (idempotent)"
scripts/setup.sh --e2e

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (server + app with ssr)"
cargo clippy --all-targets -- -D warnings

step "cargo clippy (frontend for wasm32)"
cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

step "unit + integration tests: server"
cargo test -p server

step "unit tests: app with ssr"
cargo test -p app --features ssr

step "release build (the wasm dashboard, then the server with it embedded)"
cargo xtask build --release

step "API: the served OpenAPI document validated, every operation fuzzed (schemathesis)"
tools/py/.venv/bin/python end2end/api/fuzz.py

step "end-to-end: Playwright in Debian Chromium"
(cd end2end && npx playwright test)

#!/usr/bin/env bash
# Idempotent toolchain setup for codex-governance. Installs only what is missing, at pinned
# versions, from the registries (crates.io, npm, Debian apt). README.md (Toolchain) says why
# each pin exists.
#
#   scripts/setup.sh          build tools (wasm target, wasm-bindgen-cli, wasm-opt, xterm assets); the
#                             build itself is `cargo xtask build`, so cargo-leptos is not needed
#   scripts/setup.sh --e2e    also Debian chromium, @playwright/test and the pinned agent CLIs
#                             (tools/agents) for the end-to-end suite, and the API test tools
#                             (tools/py: schemathesis, openapi-spec-validator) in a venv
set -euo pipefail

WASM_BINDGEN_VERSION=0.2.108     # must equal the `wasm-bindgen = "=..."` pin in frontend/Cargo.toml

repo=$(cd "$(dirname "$0")/.." && pwd)
want_e2e=0
[ "${1:-}" = "--e2e" ] && want_e2e=1

say() { printf '[setup] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# The pinned wasm-bindgen must match the CLI; fail loudly if someone bumps one without the other.
if ! grep -q "wasm-bindgen = \"=$WASM_BINDGEN_VERSION\"" "$repo/frontend/Cargo.toml"; then
  say "frontend/Cargo.toml does not pin wasm-bindgen =$WASM_BINDGEN_VERSION; update scripts/setup.sh too"
  exit 1
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --locked
fi

# npm tools pinned by tools/package-lock.json: binaryen (wasm-opt; Debian's v108 breaks hydration)
# and the xterm.js assets we serve ourselves (no CDN).
npm_ci() { # dir: reinstall only when package-lock.json changed since the last install
  if ! cmp -s "$1/package-lock.json" "$1/node_modules/.setup-stamp" 2>/dev/null; then
    (cd "$1" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
    cp "$1/package-lock.json" "$1/node_modules/.setup-stamp"
  fi
}
say "checking npm tools (binaryen for wasm-opt, @xterm/xterm)"
npm_ci "$repo/tools"
vendor="$repo/public/vendor/xterm"
mkdir -p "$vendor"
for f in xterm/lib/xterm.js xterm/css/xterm.css addon-fit/lib/addon-fit.js; do
  src="$repo/tools/node_modules/@xterm/$f"
  cmp -s "$src" "$vendor/$(basename "$f")" 2>/dev/null || cp "$src" "$vendor/"
done

if [ "$want_e2e" -eq 1 ]; then
  # fonts-wqy-zenhei: the dashboard's Chinese labels render in screenshots instead of boxes.
  if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi zenhei; then
    say "installing Debian chromium and a CJK font"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-wqy-zenhei
  fi
  say "checking @playwright/test (no browser download; Debian chromium is used)"
  npm_ci "$repo/end2end"
  # The real agent CLIs the end-to-end tests drive against scripted local model endpoints.
  say "checking the pinned agent CLIs (tools/agents: @openai/codex)"
  npm_ci "$repo/tools/agents"
  # The API test tools (schemathesis, openapi-spec-validator) in a venv of the repository's own.
  say "checking the API test tools (tools/py: schemathesis, openapi-spec-validator)"
  python_ok() { python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }
  if ! python_ok; then
    say "installing Debian python3 (schemathesis needs Python 3.11 or newer)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-venv
    python_ok || { say "python3 is $(python3 --version 2>&1); the API tests need 3.11 or newer"; exit 1; }
  fi
  venv="$repo/tools/py/.venv"
  # Remade when the pins or the interpreter changed (a venv links to the Python that made it).
  stamp="$(python3 --version 2>&1)"$'\n'"$(cat "$repo/tools/py/requirements.txt")"
  if [ "$stamp" != "$(cat "$venv/.setup-stamp" 2>/dev/null)" ] || ! "$venv/bin/python" -c '' 2>/dev/null; then
    rm -rf "$venv"
    if ! python3 -m venv "$venv"; then
      say "installing Debian python3-venv"
      as_root apt-get update -qq
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv
      rm -rf "$venv"
      python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$repo/tools/py/requirements.txt"
    printf '%s' "$stamp" >"$venv/.setup-stamp"
  fi
fi

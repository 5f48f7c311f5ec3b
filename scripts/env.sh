# Sourced by the scripts: puts the pinned npm tools (wasm-opt from binaryen) first on PATH so
# cargo-leptos uses them instead of trying to download its own.
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$repo/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"

# Sourced by the scripts: puts the pinned npm tools (wasm-opt from binaryen) first on PATH, so
# cargo-leptos, when you use it for `cargo leptos watch`, takes them instead of downloading its
# own (`cargo xtask` finds them without this).
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$repo/tools/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

#!/usr/bin/env bash
# Benchmark (not a test): release wasm size, time to a hydrated dashboard, and the latency from a
# mailbox file being written to the result appearing in the DOM. Prints a table.
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
"$repo/scripts/setup.sh" --e2e
(cd "$repo" && cargo xtask build --release)
wasm="$repo/target/site/pkg/codex-governance.wasm"
raw=$(stat -c %s "$wasm")
gz=$(gzip -9 -c "$wasm" | wc -c)
work=$(mktemp -d -t cg-bench-dash-XXXXXX)
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
git -C "$work" init -q
port=$((20000 + RANDOM % 20000))
"$repo/target/release/codex-governance" serve --port "$port" --repo "$work" --agent custom \
  --agent-command "sleep 600" >/dev/null 2>"$work/server.log" &
server=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/api/status" >/dev/null && break; sleep 0.1; done
NODE_PATH="$repo/end2end/node_modules" node "$repo/bench/dashboard.cjs" "$port" "$work/.tmp" "$raw" "$gz"

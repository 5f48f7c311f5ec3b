#!/usr/bin/env bash
# Soak run (not part of the test command): a long crash loop plus a load run with 50 push-stream
# clients and 10 sessions producing output. Prints a table.
# Usage: bench/soak.sh [crash iterations] [load seconds]
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
iterations=${1:-50}; seconds=${2:-60}
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
cd "$repo"

echo "crash loop: $iterations SIGKILL iterations" >&2
crash_log=$(mktemp)
CRASH_ITERATIONS=$iterations cargo test -q --release -p server --test crash_safety -- --nocapture >"$crash_log" 2>&1 && crash=ok || crash=FAILED
crash_last=$(grep -E "^iteration" "$crash_log" | tail -1)

cargo build --release -p server --bin codex-governance -q
work=$(mktemp -d -t cg-soak-XXXXXX)
git -C "$work" init -q
port=$((20000 + RANDOM % 20000))
lines=$((seconds * 100))
"$repo/target/release/codex-governance" serve --port "$port" --repo "$work" --agent custom \
  --agent-command "sh -c 'i=0; while [ \$i -lt $lines ]; do echo line-\$i; i=\$((i+1)); sleep 0.01; done; echo soak-done; sleep 600'" \
  >/dev/null 2>"$work/server.log" &
server=$!
clients=()
cleanup() { kill "${clients[@]}" 2>/dev/null || true; kill $server 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/api/status" >/dev/null && break; sleep 0.1; done
for _ in $(seq 50); do curl -sN "http://127.0.0.1:$port/api/events" >/dev/null & clients+=($!); done
for i in $(seq 10); do
  curl -sf -X POST -H 'Content-Type: application/json' -d "{\"task\":\"soak $i\"}" "http://127.0.0.1:$port/api/start_zhongshu_session" >/dev/null
done
rss_max=0
( for _ in $(seq "$seconds"); do ps -o rss= -p $server; sleep 1; done ) >"$work/rss" &
sampler=$!
out=$(wrk -t1 -c4 -d"${seconds}s" --latency "http://127.0.0.1:$port/api/status")
wait $sampler || true
rss_max=$(sort -n "$work/rss" | tail -1 | tr -d ' ')
p99=$(echo "$out" | awk '$1=="99%"{print $2}')
rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
# Wait (up to 2 minutes) for every session to finish printing.
for _ in $(seq 120); do
  done_count=$( (grep -l '^soak-done' "$work"/.tmp/codex_governance_logs/*.log 2>/dev/null || true) | wc -l)
  [ "$done_count" -ge 10 ] && break
  sleep 1
done
missing=0
for log in "$work"/.tmp/codex_governance_logs/*.log; do
  have=$(grep -c '^line-' "$log" || true)
  [ "$have" -ge "$lines" ] || missing=$((missing + lines - have))
done
printf '\n| run | result |\n|---|---|\n'
printf '| crash loop (%s iterations) | %s — %s |\n' "$iterations" "$crash" "${crash_last:-no output}"
printf '| load: 50 push clients + 10 sessions x %s lines, %ss | status p99 %s, %s req/s, RSS max %s KiB, lines missing from transcripts: %s |\n' \
  "$lines" "$seconds" "$p99" "$rps" "$rss_max" "$missing"

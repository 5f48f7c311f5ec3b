#!/usr/bin/env bash
# Benchmark (not a test): GET /api/status latency with 100 recorded sessions under wrk.
# Usage: bench/status_latency.sh [sessions] [seconds] ["connection counts"]
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
sessions=${1:-100}; seconds=${2:-10}; connection_counts=${3:-"1 4 8"}
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
(cd "$repo" && cargo build --release -p server --bin codex-governance -q)
work=$(mktemp -d -t cg-bench-status-XXXXXX)
git -C "$work" init -q
port=$((20000 + RANDOM % 20000))
# Each session is a short real process with a few lines of transcript.
"$repo/target/release/codex-governance" serve --port "$port" --repo "$work" --agent custom \
  --agent-command "sh -c 'for i in 1 2 3 4 5 6 7 8; do echo line \$i of {model}; done'" >/dev/null 2>"$work/server.log" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/api/status" >/dev/null && break; sleep 0.1; done
for i in $(seq "$sessions"); do
  curl -sf -X POST -H 'Content-Type: application/json' -d "{\"task\":\"bench $i\"}" \
    "http://127.0.0.1:$port/api/start_zhongshu_session" >/dev/null
done
sleep 2
recorded=$(curl -sf "http://127.0.0.1:$port/api/status" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["sessions"]))')
bytes=$(curl -sf "http://127.0.0.1:$port/api/status" | wc -c)
echo "recorded sessions: $recorded, payload: $bytes bytes" >&2
rows=""
for connections in $connection_counts; do
  out=$(wrk -t1 -c"$connections" -d"${seconds}s" --latency "http://127.0.0.1:$port/api/status")
  p50=$(echo "$out" | awk '$1=="50%"{print $2}')
  p99=$(echo "$out" | awk '$1=="99%"{print $2}')
  rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
  rows+="| $recorded | $connections | ${seconds}s | $p50 | $p99 | $rps |"$'\n'
done
rss=$(ps -o rss= -p "$server" | tr -d ' ')
printf '\n| sessions | connections | duration | p50 | p99 | requests/s |\n|---|---|---|---|---|---|\n%s' "$rows"
printf '\nserver RSS after the run: %s KiB; payload %s bytes; 2 cores shared by server and wrk\n' "$rss" "$bytes"

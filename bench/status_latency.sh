#!/usr/bin/env bash
# Benchmark (not a test): GET /api/status under wrk with no sessions and with N recorded
# sessions, side by side in one run, so the cost of recorded sessions shows.
# Usage: bench/status_latency.sh [sessions] [seconds] ["connection counts"]
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
sessions=${1:-100}; seconds=${2:-10}; connection_counts=${3:-"1 8"}
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
(cd "$repo" && cargo build --release -p server --bin codex-governance -q)

servers=()
cleanup() { for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
work=$(mktemp -d -t cg-bench-status-XXXXXX)
trap cleanup EXIT

# Starts a server in a fresh repository with `count` recorded sessions; sets `port`. (Not in a
# command substitution: that subshell's `servers` would never be cleaned up.)
start() {
  local count=$1 dir="$work/repo-$1"
  port=$((20000 + RANDOM % 20000))
  git init -q "$dir"
  # Each session is a short real process with a few lines of transcript.
  "$repo/target/release/codex-governance" serve --port "$port" --repo "$dir" --agent custom \
    --agent-command "sh -c 'for i in 1 2 3 4 5 6 7 8; do echo line \$i of {model}; done'" \
    >/dev/null 2>"$dir.log" &
  servers+=($!)
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/api/status" >/dev/null && break; sleep 0.1; done
  for i in $(seq "$count"); do
    curl -sf -X POST -H 'Content-Type: application/json' -d "{\"task\":\"bench $i\"}" \
      "http://127.0.0.1:$port/api/start_zhongshu_session" >/dev/null
  done
}

start 0; empty=$port
start "$sessions"; full=$port
sleep 2
rows=""
for port in "$empty" "$full"; do
  recorded=$(curl -sf "http://127.0.0.1:$port/api/status" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["sessions"]))')
  bytes=$(curl -sf "http://127.0.0.1:$port/api/status" | wc -c)
  for connections in $connection_counts; do
   # Browsers ask for gzip (Accept-Encoding); a bare client does not.
   for encoding in identity gzip; do
    # Best of three runs (highest requests/s), as a user would see on a quiet machine.
    best=""; best_rps=0
    for _ in 1 2 3; do
      out=$(wrk -t1 -c"$connections" -d"${seconds}s" --latency -H "Accept-Encoding: $encoding" "http://127.0.0.1:$port/api/status")
      rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
      if python3 -c "import sys; sys.exit(0 if $rps > $best_rps else 1)"; then best=$out; best_rps=$rps; fi
    done
    p50=$(echo "$best" | awk '$1=="50%"{print $2}')
    p99=$(echo "$best" | awk '$1=="99%"{print $2}')
    rows+="| $recorded | $bytes | $encoding | $connections | $p50 | $p99 | $best_rps |"$'\n'
   done
  done
done
printf '\n| sessions | payload bytes | encoding | connections | p50 | p99 | requests/s (best of 3 x %ss) |\n|---|---|---|---|---|---|---|\n%s' "$seconds" "$rows"
printf '\nclient: wrk, 1 thread; the server and wrk share the machine (%s cores)\n' "$(nproc)"

#!/usr/bin/env bash
# Benchmark (not a test): the governance report against `git status` on a generated repository
# with 50,000 tracked files, 2,500 modified and 2,500 untracked files; then the served report
# from the live change index (warm latency over HTTP with wrk, file write to `report` push,
# memory, idle CPU). Prints tables.
# Usage: bench/report_vs_git.sh [files] [changed] [untracked]
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
files=${1:-50000}; changed=${2:-2500}; untracked=${3:-2500}
for tool in hyperfine wrk; do
  command -v "$tool" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool"; }
done
(cd "$repo" && cargo build --release -p server --bin codex-governance -q)
bin="$repo/target/release/codex-governance"
work=$(mktemp -d -t cg-bench-report-XXXXXX)
servers=()
trap 'for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"' EXIT
echo "generating $files files in $work ..." >&2
python3 - "$work" "$files" "$changed" "$untracked" <<'PY'
import os, sys
root, files, changed, untracked = sys.argv[1], *map(int, sys.argv[2:])
dirs = ["src", "docs", "scripts", "app", "data", "tools", "vendor", "tests"]
for i in range(files):
    d = os.path.join(root, dirs[i % len(dirs)], f"m{i % 97}", f"s{i % 13}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i}.{'md' if i % 5 == 0 else 'rs'}"), "w") as f:
        f.write(f"file {i}\n")
PY
git -C "$work" init -q
git -C "$work" add -A
git -C "$work" -c user.name=b -c user.email=b@b commit -qm init
python3 - "$work" "$files" "$changed" "$untracked" <<'PY'
import os, sys
root, files, changed, untracked = sys.argv[1], *map(int, sys.argv[2:])
dirs = ["src", "docs", "scripts", "app", "data", "tools", "vendor", "tests"]
step = max(1, files // changed)
for i in range(0, files, step)[:changed]:
    d = os.path.join(root, dirs[i % len(dirs)], f"m{i % 97}", f"s{i % 13}")
    with open(os.path.join(d, f"f{i}.{'md' if i % 5 == 0 else 'rs'}"), "a") as f:
        f.write("changed\n")
for i in range(untracked):
    d = os.path.join(root, "new", f"n{i % 50}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"u{i}.rs"), "w") as f:
        f.write("new\n")
PY
# Refresh the index stat cache once so neither tool pays for it in the timed runs.
git -C "$work" status --porcelain >/dev/null
count=$(git -C "$work" status --porcelain=v1 -z --untracked-files=all | tr -cd '\0' | wc -c)
echo "changed entries (git): $count" >&2
cd "$work"
hyperfine --warmup 2 --runs 10 --export-markdown "$work/table.md" -N \
  "git status --porcelain=v1 -z --untracked-files=all" \
  "$bin report --json" \
  "$bin report --json --base HEAD" >&2
cat "$work/table.md"

# The served report: a server on this repository (its change index) and one on an empty one
# (for the memory the index adds).
serve() { # repo port
  "$bin" serve --port "$2" --repo "$1" --agent demo --state-dir "$work/state-$2" >/dev/null 2>"$work/server-$2.log" &
  servers+=($!)
  for _ in $(seq 600); do curl -sf "http://127.0.0.1:$2/api/status" >/dev/null && return; sleep 0.1; done
  echo "server on port $2 did not start" >&2; exit 1
}
empty="$work/empty"; git init -q "$empty"
port=$((20000 + RANDOM % 10000)); empty_port=$((port + 1))
serve "$work" "$port"; big_pid=${servers[-1]}
serve "$empty" "$empty_port"; empty_pid=${servers[-1]}
curl -sf "http://127.0.0.1:$port/api/report" >/dev/null
watch=$(curl -sf "http://127.0.0.1:$port/api/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["report_watch"])')
out=$(wrk -t1 -c1 -d5s --latency "http://127.0.0.1:$port/api/report")
p50=$(echo "$out" | awk '$1=="50%"{print $2}'); p99=$(echo "$out" | awk '$1=="99%"{print $2}')
rss() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }
added_worktree=$(( ($(rss "$big_pid") - $(rss "$empty_pid")) / 1024 ))
# Base mode: the base-vs-HEAD tree diff is cached; the rest comes from the index.
curl -sf "http://127.0.0.1:$port/api/report?mode=base&base=HEAD" >/dev/null
out=$(wrk -t1 -c1 -d5s --latency "http://127.0.0.1:$port/api/report?mode=base&base=HEAD")
base_p50=$(echo "$out" | awk '$1=="50%"{print $2}'); base_p99=$(echo "$out" | awk '$1=="99%"{print $2}')
python3 - "$port" "$work" "$big_pid" <<'PY' >"$work/push.txt"
import os, socket, statistics, sys, time
port, root, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port))
s.sendall(f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n".encode())
f = s.makefile("rb")
while not f.readline().startswith(b"event: hello"):
    pass
latencies = []
for i in range(20):
    time.sleep(0.3)
    start = time.monotonic()
    with open(os.path.join(root, "src", f"pushed-{i}.rs"), "w") as out:
        out.write("x\n")
    while not f.readline().startswith(b"event: report"):
        pass
    latencies.append((time.monotonic() - start) * 1000)
# Idle CPU: the server's CPU time over 10 quiet seconds.
def cpu():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
time.sleep(1)
before = cpu(); time.sleep(10); idle = (cpu() - before) / 10 * 100
print(f"{statistics.median(latencies):.0f} {max(latencies):.0f} {idle:.2f}")
PY
read -r push_p50 push_max idle_cpu <"$work/push.txt"
added=$(( ($(rss "$big_pid") - $(rss "$empty_pid")) / 1024 ))
printf '\n| served report (%s files, %s changed entries) | result |\n|---|---|\n' "$files" "$count"
printf '| watching | %s |\n' "$watch"
printf '| warm GET /api/report over HTTP (wrk, 1 connection, 5 s) | p50 %s, p99 %s |\n' "$p50" "$p99"
printf '| warm GET /api/report?mode=base&base=HEAD (wrk, 1 connection, 5 s) | p50 %s, p99 %s |\n' "$base_p50" "$base_p99"
printf '| file write -> report event on /api/events (20 writes) | p50 %s ms, max %s ms |\n' "$push_p50" "$push_max"
printf '| server RSS added by the index (vs a server on an empty repository), after worktree requests | %s MiB |\n' "$added_worktree"
printf '| the same after base requests and pushes too | %s MiB |\n' "$added"
printf '| idle CPU with nothing changing (10 s) | %s %% |\n' "$idle_cpu"

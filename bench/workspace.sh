#!/usr/bin/env bash
# Benchmark (not a test): department worktrees on a generated repository of 50,000 tracked files,
# side by side in one run: creating a worktree (the launcher's git2 preparation vs
# `git worktree add`), the time from dispatch to a ready worktree through the server, a write in
# a worktree to its `workspaces` push event, and `GET /api/department_diff` with 200 changed
# files. Prints tables.
# Usage: bench/workspace.sh [files]
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
files=${1:-50000}
for tool in hyperfine; do
  command -v "$tool" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool"; }
done
(cd "$repo" && cargo build --release -p server --bin codex-governance -q)
bin="$repo/target/release/codex-governance"
work=$(mktemp -d -t cg-bench-ws-XXXXXX)
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
src="$work/repo"
echo "generating $files files ..." >&2
python3 - "$src" "$files" <<'PY'
import os, sys
root, files = sys.argv[1], int(sys.argv[2])
dirs = ["src", "docs", "scripts", "app", "data", "tools", "vendor", "tests"]
for i in range(files):
    d = os.path.join(root, dirs[i % len(dirs)], f"m{i % 97}", f"s{i % 13}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i}.{'md' if i % 5 == 0 else 'rs'}"), "w") as f:
        f.write(f"file {i}\n")
PY
git -C "$src" init -q -b main
printf '.tmp/\n' > "$src/.gitignore"
git -C "$src" add -A
git -C "$src" -c user.name=b -c user.email=b@b commit -qm init
base=$(git -C "$src" rev-parse HEAD)

# 1. Creating a worktree: git vs the launcher's preparation step (which then runs `true`).
# (SKIP_CREATE=1 skips this part: on a slow disk it takes minutes.)
mkdir -p "$work/wt"
if [ -z "${SKIP_CREATE:-}" ]; then
cat > "$work/spec.json" <<JSON
{"repo": "$src", "worktree": "$work/wt/launcher", "name": "bench-launcher", "branch": "bench-launcher",
 "base_commit": "$base", "copy": [], "exclude_prefix": null, "setup": [], "setup_timeout_seconds": 60,
 "program": "true", "args": []}
JSON
clean() { git -C "$src" worktree remove --force "$work/wt/$1" 2>/dev/null || true; rm -rf "$work/wt/$1"; git -C "$src" worktree prune; git -C "$src" branch -qD "bench-$1" 2>/dev/null || true; }
hyperfine --warmup 1 --runs 3 --export-markdown "$work/create.md" -N \
  --prepare "bash -c 'git -C $src worktree remove --force $work/wt/git 2>/dev/null; rm -rf $work/wt/git; git -C $src worktree prune; git -C $src branch -qD bench-git 2>/dev/null; true'" \
  "git -C $src worktree add -q -b bench-git $work/wt/git $base" \
  --prepare "bash -c 'git -C $src worktree remove --force $work/wt/launcher 2>/dev/null; rm -rf $work/wt/launcher; git -C $src worktree prune; git -C $src branch -qD bench-launcher 2>/dev/null; true'" \
  "$bin prepare-workspace $work/spec.json" >&2
clean git; clean launcher
cat "$work/create.md"
fi

# 2-4. Through the server: dispatch -> ready, write -> push, the diff API.
port=$((20000 + RANDOM % 20000))
"$bin" serve --port "$port" --repo "$src" --workspace worktree --agent custom \
  --agent-command "sleep 600" >/dev/null 2>"$work/server.log" &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/api/status" >/dev/null && break; sleep 0.1; done
python3 - "$port" <<'PY'
import http.client, json, os, socket, statistics, sys, time
port = int(sys.argv[1])
def call(method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port)
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Content-Type": "application/json"})
    r = c.getresponse(); data = r.read(); c.close()
    return json.loads(data)
zid = call("POST", "/api/start_zhongshu_session", {"task": "bench"})["session"]["id"]
ready_times = []
sessions = []
for i in range(3):
    t0 = time.monotonic()
    sid = call("POST", "/api/start_department", {"parent_session_id": zid, "department": "lingyubu", "task": f"bench {i}"})["session"]["id"]
    while True:
        status = call("GET", "/api/status")
        s = next(x for x in status["department_sessions"] if x["id"] == sid)
        if s["workspace"]["status"] == "ready":
            break
        time.sleep(0.01)
    ready_times.append((time.monotonic() - t0) * 1000)
    sessions.append(s)
    if i < 2:
        call("POST", "/api/close_session", {"session_id": sid})
s = sessions[-1]; wt = s["workspace"]["path"]; sid = s["id"]
time.sleep(1.0)
sock = socket.create_connection(("127.0.0.1", port))
sock.sendall(f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n".encode())
import select
pending = b""
def wait_event(name, timeout=None):
    """Reads until `event: name` arrives; False on timeout."""
    global pending
    marker = b"event: " + name.encode()
    deadline = None if timeout is None else time.monotonic() + timeout
    while marker not in pending:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not select.select([sock], [], [], left)[0]:
            return False
        pending += sock.recv(65536)
    pending = pending[pending.index(marker) + len(marker):]
    return True
wait_event("hello")
push = []
for i in range(20):
    # Events of earlier writes (the line counts follow the paths) must not count for this one.
    while wait_event("workspaces", 0.5):
        pass
    pending = b""
    t0 = time.monotonic()
    with open(os.path.join(wt, "src", f"pushed-{i}.rs"), "w") as out:
        out.write("x\n")
    wait_event("workspaces")
    push.append((time.monotonic() - t0) * 1000)
# 200 changed files (the 20 new ones included), then the diff API.
for i in range(180):
    d = ["src", "docs", "scripts", "app", "data", "tools", "vendor", "tests"][i % 8]
    path = os.path.join(wt, d, f"m{i % 97}", f"s{i % 13}", f"f{i}.{'md' if i % 5 == 0 else 'rs'}")
    if os.path.exists(path):
        with open(path, "a") as out:
            out.write("changed\n")
time.sleep(0.5)
diff_ms = []
for _ in range(10):
    t0 = time.monotonic()
    d = call("GET", f"/api/department_diff?session_id={sid}")
    diff_ms.append((time.monotonic() - t0) * 1000)
files = len(d["files"])
print()
print("| through the server (%s) | result |" % "python http.client, one connection per request")
print("|---|---|")
print(f"| dispatch -> workspace ready (3 departments) | p50 {statistics.median(ready_times):.0f} ms (runs: {', '.join(f'{t:.0f}' for t in ready_times)}) |")
print(f"| write in a worktree -> `workspaces` event (20 writes) | p50 {statistics.median(push):.0f} ms, max {max(push):.0f} ms |")
print(f"| GET /api/department_diff, {files} changed files (10 requests) | p50 {statistics.median(diff_ms):.1f} ms, best {min(diff_ms):.1f} ms |")
PY

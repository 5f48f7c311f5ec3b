#!/usr/bin/env bash
# Benchmark (not a test): the governance report against `git status` on a generated repository
# with 50,000 tracked files, 2,500 modified and 2,500 untracked files. Prints a table.
# Usage: bench/report_vs_git.sh [files] [changed] [untracked]
set -euo pipefail
source "$(dirname "$0")/../scripts/env.sh"
files=${1:-50000}; changed=${2:-2500}; untracked=${3:-2500}
command -v hyperfine >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine; }
(cd "$repo" && cargo build --release -p server --bin codex-governance -q)
bin="$repo/target/release/codex-governance"
work=$(mktemp -d -t cg-bench-report-XXXXXX)
trap 'rm -rf "$work"' EXIT
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
  "$bin report --json" >&2
cat "$work/table.md"

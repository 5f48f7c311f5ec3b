#!/usr/bin/env bash
# Starts the release server for the end-to-end suite in a fresh throw-away Git repository.
set -euo pipefail
port=${1:?port}
here=$(cd "$(dirname "$0")" && pwd)
repo="$here/../target/e2e-repo-$port"
rm -rf "$repo"
mkdir -p "$repo"
git -C "$repo" init -q
printf '# e2e fixture\n' >"$repo/README.md"
export CODEX_GOVERNANCE_DEMO_STEP_MS=${CODEX_GOVERNANCE_DEMO_STEP_MS:-1500}
# Agents end with the server: nothing is left running after the suite.
exec "$here/../target/release/codex-governance" serve --port "$port" --repo "$repo" --agent demo --stop-agents-on-exit

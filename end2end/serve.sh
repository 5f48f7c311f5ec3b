#!/usr/bin/env bash
# Starts the release server for the end-to-end suite in a fresh temporary Git repository.
set -euo pipefail
port=${1:?port}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(mktemp -d -t codex-governance-e2e-XXXXXX)
git -C "$repo" init -q
printf '# e2e fixture\n' >"$repo/README.md"
exec "$here/../target/release/codex-governance" serve --port "$port" --repo "$repo" --agent demo

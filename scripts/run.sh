#!/usr/bin/env bash
# Builds the release server with the dashboard inside (installing missing tools first) and serves
# it. With nothing changed since the last run, the build is a few seconds of checks.
# Arguments go to `codex-governance serve`, e.g. `scripts/run.sh --repo ~/src/project --port 6300`.
# Without --repo the governed repository is the one containing your working directory.
set -euo pipefail
source "$(dirname "$0")/env.sh"
"$repo/scripts/setup.sh"
(cd "$repo" && cargo xtask build --release)
exec "$repo/target/release/codex-governance" serve "$@"

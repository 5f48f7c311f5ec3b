#!/usr/bin/env bash
# Builds the self-contained release binary (the dashboard inside) and installs it:
#   scripts/install.sh            into ~/.local/bin
#   scripts/install.sh DIR        into DIR
# Then, from any Git repository: codex-governance serve
set -euo pipefail
source "$(dirname "$0")/env.sh"
dest=${1:-$HOME/.local/bin}
"$repo/scripts/setup.sh"
(cd "$repo" && cargo xtask build --release)
mkdir -p "$dest"
install -m 0755 "$repo/target/release/codex-governance" "$dest/codex-governance"
echo "installed $("$dest/codex-governance" --version) as $dest/codex-governance"
case ":$PATH:" in
  *":$dest:"*) ;;
  *) echo "$dest is not on your PATH: add it, e.g. export PATH=\"$dest:\$PATH\"" ;;
esac
echo "run it from any Git repository: cd ~/src/my-project && codex-governance serve"

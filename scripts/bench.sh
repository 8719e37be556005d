#!/usr/bin/env bash
# The benchmark suite is the Rust runner in e2e/src/bin/bench/ (issue 9); this
# wrapper builds lucidctl and runs it. Anchors: scripts/install-anchors.sh.
#   scripts/bench.sh [quick|full] [bench options, e.g. --only 2 --systems 10 --runs 1]
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-quick}"
[ $# -gt 0 ] && shift
args=()
case "$mode" in
quick) args+=(--quick) ;;
full) ;;
*) echo "usage: scripts/bench.sh [quick|full] [bench options]" >&2; exit 2 ;;
esac
cargo build -q --release -p controller
exec cargo run -q --release -p lucid-e2e --bin bench -- "${args[@]}" "$@"

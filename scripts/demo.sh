#!/usr/bin/env bash
# The main job on its embedded default: the whole Lucid system (configs/lucid
# plus the local overlay) on the local Docker engine.
set -euo pipefail
cd "$(dirname "$0")/.."
e2e/standin/build.sh >/dev/null
cargo build --release --locked -p controller
# Secrets are generated once and kept (configs/environment/, git-ignored).
target/release/lucidctl secrets generate >/dev/null
exec target/release/lucidctl "${@:-apply}"

#!/usr/bin/env bash
# Builds the static stand-in binary into e2e/standin/image/standin.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root"

host="$(rustc -vV | sed -n 's/host: //p')"
# A separate target dir: different RUSTFLAGS would otherwise invalidate the main build cache.
target_dir="target/standin"

# --target is explicit so RUSTFLAGS do not reach build scripts and proc macros.
RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release -p lucid-standin --target "$host" --target-dir "$target_dir"

out="e2e/standin/image/standin"
cp "$target_dir/$host/release/lucid-standin" "$out"
echo "$repo_root/$out"

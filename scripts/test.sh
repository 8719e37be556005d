#!/usr/bin/env bash
# The one test command: installs what the tests need on a fresh machine, starts
# it, and runs every test (unit, schema, e2e against the real engine and a real
# registry). LUCID_E2E=skip skips the engine tests explicitly; otherwise an
# unreachable engine fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

need_packages=()
command -v docker-registry >/dev/null 2>&1 || need_packages+=(docker-registry)
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || need_packages+=(openssh-server)
command -v docker-compose >/dev/null 2>&1 || need_packages+=(docker-compose)
command -v tmux >/dev/null 2>&1 || need_packages+=(tmux)
# The status page test (e2e/tests/page.rs) loads the page in headless Chromium.
command -v chromium >/dev/null 2>&1 || need_packages+=(chromium)
if [ "${#need_packages[@]}" -gt 0 ] && [ "${LUCID_E2E:-}" != "skip" ]; then
  echo "installing ${need_packages[*]} from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_packages[@]}" >/dev/null
fi

cleanup() { [ -n "${registry_pid:-}" ] && kill "$registry_pid" 2>/dev/null; [ -n "${registry_dir:-}" ] && rm -rf "$registry_dir"; true; }
trap cleanup EXIT

if [ "${LUCID_E2E:-}" != "skip" ]; then
  if ! docker info >/dev/null 2>&1; then
    echo "error: the Docker engine is not reachable (docker info failed); set LUCID_E2E=skip to skip the e2e suite" >&2
    exit 1
  fi
  e2e/standin/build.sh >/dev/null

  # A throwaway registry on loopback (the engine trusts 127.0.0.0/8 without TLS).
  registry_dir="$(mktemp -d)"
  for port in 5000 5055 5077 5099; do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  done
  cat >"$registry_dir/config.yml" <<YML
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $registry_dir/data}
  delete: {enabled: true}
http:
  addr: 127.0.0.1:$port
YML
  docker-registry serve "$registry_dir/config.yml" >"$registry_dir/log" 2>&1 &
  registry_pid=$!
  for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  export LUCID_TEST_REGISTRY="127.0.0.1:$port"

  # Compose v2 (Debian 13's package, unpacked under target/anchors): the
  # reference of the import/export round trip, and the export's `docker
  # compose config` acceptance.
  if scripts/install-anchors.sh compose-v2 >/dev/null 2>&1 && [ -x target/anchors/bin/docker-compose-v2 ]; then
    export LUCID_COMPOSE_V2="$PWD/target/anchors/bin/docker-compose-v2"
  else
    echo "warning: compose v2 could not be installed (scripts/install-anchors.sh compose-v2); the compose round trip against v2 (compose/tests/round_trip_v2.rs) will fail" >&2
  fi
fi

cargo test --workspace --locked --no-fail-fast

#!/usr/bin/env bash
# What the SSH tunnel costs (issue 7): per-call overhead (median of 200 pings)
# and `lucidctl diff` of the 27-service Lucid system through a throwaway sshd
# on 127.0.0.1 against the same diff done directly, alternating. The system
# runs under its own project and name prefix and is removed at the end.
#   scripts/tunnel-bench.sh [DIFF_RUNS]
# LUCIDCTL and TUNNEL_BENCH name binaries built earlier (nothing is built
# then), so a bench can measure the same build side by side with others.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}"
L="${LUCIDCTL:-$PWD/target/release/lucidctl}"
B="${TUNNEL_BENCH:-$PWD/target/release/examples/tunnel_bench}"
if [ -z "${LUCIDCTL:-}" ]; then
  cargo build -q --release -p controller
  cargo build -q --release -p reconcilers --example tunnel_bench
fi
e2e/standin/build.sh >/dev/null

d="$(mktemp -d /tmp/lucid-tunnel-bench.XXXXXX)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ssh-keygen -q -t ed25519 -N "" -f "$d/host_key"
ssh-keygen -q -t ed25519 -N "" -f "$d/user_key"
cp "$d/user_key.pub" "$d/authorized_keys"
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$d/host_key.pub")" >"$d/known_hosts"
cat >"$d/sshd_config" <<CFG
Port $port
ListenAddress 127.0.0.1
HostKey $d/host_key
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
UsePAM no
StrictModes no
AllowStreamLocalForwarding yes
Subsystem sftp /usr/lib/openssh/sftp-server
CFG
cat >"$d/ssh_config" <<CFG
Host 127.0.0.1
  User root
  IdentityFile $d/user_key
  IdentitiesOnly yes
  UserKnownHostsFile $d/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
CFG
mkdir -p /run/sshd
/usr/sbin/sshd -D -e -f "$d/sshd_config" 2>"$d/sshd.log" &
sshd_pid=$!
F=(-f configs/lucid -f configs/lucid/overlays/local -p tunnelbench --name-prefix tb- --files-dir "$d/files" --secrets-dir "$d/env")
trap '"$L" delete "${F[@]}" --volumes >/dev/null 2>&1 || true; kill $sshd_pid 2>/dev/null || true; rm -rf "$d"' EXIT
sleep 0.5
url="ssh://root@127.0.0.1:$port"
S=(-H "$url" --ssh-config "$d/ssh_config")

"$L" secrets generate -f configs/lucid --secrets-dir "$d/env" >/dev/null
"$L" apply "${F[@]}" >/dev/null 2>&1
echo "# tunnel overhead, $(date -u +%FT%TZ), $(ssh -V 2>&1)"
"$B" "$url" "$d/ssh_config" 200
direct=(); tunnel=()
for _ in $(seq "$runs"); do
  t=$(date +%s%N); "$L" diff "${F[@]}" >/dev/null 2>&1 || true; direct+=($(( ($(date +%s%N) - t) / 1000000 )))
  t=$(date +%s%N); "$L" diff "${F[@]}" "${S[@]}" >/dev/null 2>&1 || true; tunnel+=($(( ($(date +%s%N) - t) / 1000000 )))
done
python3 - "${direct[*]}" "${tunnel[*]}" <<'PY'
import statistics, sys
d = [int(x) for x in sys.argv[1].split()]; t = [int(x) for x in sys.argv[2].split()]
md, mt = statistics.median(d), statistics.median(t)
print(f"lucidctl diff of Lucid (27 services, whole process), median of {len(d)}: direct {md:.0f} ms, through ssh {mt:.0f} ms (incl. connecting), ratio {mt/md:.2}")
print(f"  direct min/max {min(d)}/{max(d)} ms; ssh min/max {min(t)}/{max(t)} ms")
PY

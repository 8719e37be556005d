#!/usr/bin/env bash
# Speed figures for the issues: lucidctl against docker-compose on the same
# engine in the same run, alternating A B A B. Prints medians, min and max.
# Uses the real Lucid system (configs/lucid + overlays/local, 27 services);
# it tears down what it starts. Needs docker-compose and a release build.
#   scripts/bench.sh [quick|full]
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-quick}"
L="$PWD/target/release/lucidctl"
cargo build -q --release -p controller
cargo build -q --release -p reconcilers --example api_floor
e2e/standin/build.sh >/dev/null
out="e2e/bench/last-run.txt"
: >"$out"
say() { echo "$*" | tee -a "$out"; }
now() { date +%s%N; }
secs() { python3 -c "print(($(now) - $1) / 1e9)"; }
stats() { python3 -c '
import sys, statistics
v = sorted(float(x) for x in sys.argv[2:])
print(f"{sys.argv[1]}: median {statistics.median(v):.3f}s  min {v[0]:.3f}s  max {v[-1]:.3f}s  n={len(v)}")' "$@"; }
ratio() { python3 -c "print(f'ratio $1: {float(\"$2\") / float(\"$3\"):.3f}')"; }
median() { python3 -c 'import sys, statistics; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

F=(-f configs/lucid -f configs/lucid/overlays/local)
compose_dir="$(mktemp -d)"
trap 'docker-compose -p lucidbench -f "$compose_dir/docker-compose.master.yml" down -t 1 >/dev/null 2>&1 || true; "$L" delete "${F[@]}" >/dev/null 2>&1 || true; rm -rf "$compose_dir"' EXIT
"$L" secrets generate -f configs/lucid >/dev/null
"$L" export compose "${F[@]}" -o "$compose_dir" >/dev/null
C=(docker-compose -p lucidbench -f "$compose_dir/docker-compose.master.yml")
say "# lucidctl benchmarks, $(date -u +%FT%TZ), $(docker version -f 'engine {{.Server.Version}} API {{.Server.APIVersion}}'), $(docker-compose version --short 2>/dev/null | head -1 | sed 's/^/docker-compose /')"

runs_cold=2; runs=10
[ "$mode" = full ] && runs_cold=5

# Cold converge, alternating.
lc=(); cc=()
"$L" delete "${F[@]}" >/dev/null 2>&1 || true
for i in $(seq "$runs_cold"); do
  t=$(now); "$L" apply "${F[@]}" >/dev/null 2>&1; lc+=("$(secs "$t")")
  "$L" delete "${F[@]}" >/dev/null 2>&1
  t=$(now); "${C[@]}" up -d >/dev/null 2>&1; cc+=("$(secs "$t")")
  "${C[@]}" down -t 1 >/dev/null 2>&1
done
stats "cold converge lucidctl apply (health-gated)" "${lc[@]}" | tee -a "$out"
stats "cold converge docker-compose up -d (service_healthy)" "${cc[@]}" | tee -a "$out"
ratio "cold lucidctl/compose" "$(median "${lc[@]}")" "$(median "${cc[@]}")" | tee -a "$out"

# No-op converge and dry run, alternating.
"$L" apply "${F[@]}" >/dev/null 2>&1
ln=(); ld=(); cn=()
for i in $(seq "$runs"); do
  t=$(now); "$L" apply "${F[@]}" >/dev/null 2>&1; ln+=("$(secs "$t")")
  t=$(now); "$L" diff "${F[@]}" >/dev/null 2>&1 || true; ld+=("$(secs "$t")")
done
floor=$(cargo run -q --release -p reconcilers --example api_floor -- "$runs")
say "$floor"
"$L" delete "${F[@]}" >/dev/null 2>&1
"${C[@]}" up -d >/dev/null 2>&1
for i in $(seq "$runs"); do
  t=$(now); "${C[@]}" up -d >/dev/null 2>&1; cn+=("$(secs "$t")")
done
"${C[@]}" down -t 1 >/dev/null 2>&1
stats "no-op lucidctl apply" "${ln[@]}" | tee -a "$out"
stats "no-op lucidctl diff" "${ld[@]}" | tee -a "$out"
stats "no-op docker-compose up -d" "${cn[@]}" | tee -a "$out"
ratio "no-op compose/lucidctl apply (x faster)" "$(median "${cn[@]}")" "$(median "${ln[@]}")" | tee -a "$out"
ratio "no-op compose/lucidctl diff (x faster)" "$(median "${cn[@]}")" "$(median "${ld[@]}")" | tee -a "$out"

# Drift repair through the run loop, and its idle cost.
"$L" apply "${F[@]}" >/dev/null 2>&1
"$L" run "${F[@]}" --listen 127.0.0.1:9798 --resync 10m >/tmp/lucid-bench-run.log 2>&1 &
run_pid=$!
sleep 3
rep=(); st=()
for i in $(seq "$runs"); do
  t=$(now); docker rm -f lucid-redis >/dev/null
  until [ "$(docker inspect -f '{{.State.Running}}' lucid-redis 2>/dev/null)" = true ]; do sleep 0.01; done
  rep+=("$(secs "$t")")
  sleep 4
done
for i in $(seq "$runs"); do
  docker stop -t 1 lucid-redis >/dev/null 2>&1 || true
  sleep 0.5
  t=$(now); docker start lucid-redis >/dev/null; st+=("$(secs "$t")")
  sleep 3
done
stats "repair after docker rm -f (event-driven run loop, to running)" "${rep[@]}" | tee -a "$out"
stats "docker start of the same container (its own start time)" "${st[@]}" | tee -a "$out"
sleep 5
read -r u1 s1 < <(awk '{print $14, $15}' /proc/$run_pid/stat)
sleep 60
read -r u2 s2 < <(awk '{print $14, $15}' /proc/$run_pid/stat)
tck=$(getconf CLK_TCK)
python3 -c "print(f'idle run loop: {(($u2 + $s2) - ($u1 + $s1)) / $tck:.3f} CPU-seconds over 60 s = {(($u2 + $s2) - ($u1 + $s1)) / $tck / 60 * 100:.2f}% of one core')" | tee -a "$out"
grep VmHWM /proc/$run_pid/status | sed 's/^/idle run loop peak RSS /' | tee -a "$out"
kill -TERM "$run_pid"; wait "$run_pid" || true
# Up-to-date build of a 200 MB context: lucidctl's hash check against cached builds.
ctx="$(mktemp -d)"
mkdir -p "$ctx/state/ctx/small"
python3 - "$ctx/state/ctx" <<'PY'
import os, sys
root = sys.argv[1]
for i in range(8000):
    with open(f"{root}/small/f{i:05}.txt", "wb") as f:
        f.write(os.urandom(2048 + (i * 37) % 20000))
for i in range(8):
    with open(f"{root}/blob{i}.bin", "wb") as f:
        f.write(os.urandom(20 * 1024 * 1024))
PY
printf 'FROM lucid-local/standin:dev\nCOPY . /ctx\n' >"$ctx/state/ctx/Dockerfile"
printf 'apiVersion: lucid/v1alpha1\nkind: Image\nmetadata: {name: big}\nspec: {ref: "lucid-bench/big:1", build: {context: ctx}}\n' >"$ctx/state/image.yaml"
du -sh "$ctx/state/ctx" | sed 's/^/build context /' | tee -a "$out"
"$L" build -f "$ctx/state" -p bench >/dev/null 2>&1
DOCKER_BUILDKIT=0 docker build -q -t lucid-bench/big:cli "$ctx/state/ctx" >/dev/null 2>&1
lb=(); db=()
for i in $(seq "$runs"); do
  t=$(now); "$L" build -f "$ctx/state" -p bench >/dev/null 2>&1; lb+=("$(secs "$t")")
  t=$(now); DOCKER_BUILDKIT=0 docker build -q -t lucid-bench/big:cli "$ctx/state/ctx" >/dev/null 2>&1; db+=("$(secs "$t")")
done
bk=()
for i in 1 2 3; do t=$(now); "$L" build -f "$ctx/state" -p bench --force >/dev/null 2>&1; bk+=("$(secs "$t")"); done
stats "up-to-date lucidctl build (hash check, no engine build)" "${lb[@]}" | tee -a "$out"
stats "cached docker build (classic builder; no buildx here)" "${db[@]}" | tee -a "$out"
stats "cached BuildKit build through the API (lucidctl build --force)" "${bk[@]}" | tee -a "$out"
ratio "cached docker build / up-to-date lucidctl build (x faster)" "$(median "${db[@]}")" "$(median "${lb[@]}")" | tee -a "$out"
ratio "cached BuildKit build / up-to-date lucidctl build (x faster)" "$(median "${bk[@]}")" "$(median "${lb[@]}")" | tee -a "$out"
docker rmi -f lucid-bench/big:1 lucid-bench/big:cli >/dev/null 2>&1 || true
docker builder prune -af >/dev/null 2>&1 || true
rm -rf "$ctx"
echo "results in $out"

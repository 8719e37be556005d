#!/usr/bin/env bash
# Installs the tools the benchmark (e2e/src/bin/bench/main.rs) compares lucidctl with,
# from registries this machine reaches (Debian mirrors and PyPI), into
# target/anchors/ so nothing system-wide changes except the Debian package of
# docker-compose 1.29:
#   docker-compose 1.29   apt-get install docker-compose (Debian 12)
#   compose v2 2.26       Debian 13's docker-compose .deb, fetched with a private
#                         trixie sources list + `apt-get download`, unpacked with
#                         `dpkg-deb -x`, run as a standalone binary:
#                         target/anchors/bin/docker-compose-v2
#   buildx                Debian 13's docker-buildx, the same way, as a CLI plugin in
#                         target/anchors/docker-config (for BuildKit `docker build`)
#   Ansible               python venv target/anchors/ansible with PyPI's `ansible`
#                         (which bundles community.docker) and `docker`:
#                         target/anchors/ansible/bin/ansible-playbook
# Each step is skipped when its result is already there; a failing step is
# reported and the others still run (the bench then marks that anchor missing).
#   scripts/install-anchors.sh [compose-v1] [compose-v2] [buildx] [ansible]   (default: all)
set -uo pipefail
cd "$(dirname "$0")/.."
root="$PWD/target/anchors"
mkdir -p "$root/bin"
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(compose-v1 compose-v2 buildx ansible)
failed=0

compose_v1() {
    if command -v docker-compose >/dev/null; then
        docker-compose version --short
        return
    fi
    apt-get install -y -q docker-compose >/dev/null && docker-compose version --short
}

# Fetches Debian 13 (trixie) package $1 and unpacks it into $root/apt/root-$1.
trixie_unpack() {
    local pkg="$1"
    # A private apt tree: the host's sources, lists and cache stay untouched.
    local apt="$root/apt"
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/deb"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
        >"$apt/sources.list"
    local opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
        -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o "APT::Get::List-Cleanup=0")
    # _apt must be able to write the download directory, else apt warns and falls back to root.
    chown _apt "$apt/deb" 2>/dev/null || true
    apt-get "${opts[@]}" -q update >/dev/null || return 1
    (cd "$apt/deb" && apt-get "${opts[@]}" -q download "$pkg" >/dev/null) || return 1
    local deb
    deb="$(ls "$apt"/deb/"${pkg}"_*.deb | head -1)"
    [ -n "$deb" ] || { echo "trixie offered no $pkg package"; return 1; }
    # Unpack the data part only: bookworm's dpkg-deb -x rejects trixie's long
    # Static-Built-Using control field ("field-too-long").
    rm -rf "$apt/root-$pkg" && mkdir -p "$apt/root-$pkg"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$apt/root-$pkg"
}

compose_v2() {
    local bin="$root/bin/docker-compose-v2"
    if [ -x "$bin" ]; then
        "$bin" version --short
        return
    fi
    trixie_unpack docker-compose || return 1
    # The package ships the CLI plugin; it also runs standalone.
    local plugin="$root/apt/root-docker-compose/usr/libexec/docker/cli-plugins/docker-compose"
    [ -f "$plugin" ] || { echo "no $plugin in $deb"; return 1; }
    install -m 0755 "$plugin" "$bin"
    "$bin" version --short
}

# The docker CLI here has no buildx, so `docker build` cannot use BuildKit. The
# plugin goes into a private DOCKER_CONFIG (target/anchors/docker-config), which
# the bench sets for its `docker build` only; ~/.docker stays untouched.
buildx() {
    local dir="$root/docker-config/cli-plugins"
    if [ -x "$dir/docker-buildx" ]; then
        DOCKER_CONFIG="$root/docker-config" docker buildx version
        return
    fi
    trixie_unpack docker-buildx || return 1
    mkdir -p "$dir"
    install -m 0755 "$root/apt/root-docker-buildx/usr/libexec/docker/cli-plugins/docker-buildx" "$dir/docker-buildx" || return 1
    DOCKER_CONFIG="$root/docker-config" docker buildx version
}

ansible() {
    local venv="$root/ansible"
    if [ -x "$venv/bin/ansible-playbook" ] && "$venv/bin/python" -c 'import docker' 2>/dev/null; then
        "$venv/bin/ansible-playbook" --version | head -1
        return
    fi
    python3 -m venv "$venv" || return 1
    "$venv/bin/pip" install -q --disable-pip-version-check ansible docker || return 1
    "$venv/bin/ansible-galaxy" collection list community.docker 2>/dev/null | grep community.docker
    "$venv/bin/ansible-playbook" --version | head -1
}

for step in "${steps[@]}"; do
    case "$step" in
    compose-v1) fn=compose_v1 ;;
    compose-v2) fn=compose_v2 ;;
    buildx) fn=buildx ;;
    ansible) fn=ansible ;;
    *) echo "unknown anchor $step (compose-v1, compose-v2, buildx, ansible)" >&2; exit 2 ;;
    esac
    if out="$($fn 2>&1)"; then
        echo "$step: $(echo "$out" | tr '\n' ' ')"
    else
        echo "$step: NOT INSTALLED: $(echo "$out" | tail -3 | tr '\n' ' ')" >&2
        failed=1
    fi
done
exit "$failed"

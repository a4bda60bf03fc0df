#!/usr/bin/env bash
# Installs every build and test dependency from Debian's archive. Safe to run twice:
# apt-get skips what is already there, and `apt-get update` runs only when lists are stale.
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake pkg-config
  libboost1.81-dev            # Beast/Asio with channels, as_tuple, message_generator (1.74 lacks them)
  nlohmann-json3-dev libarchive-dev libcurl4-openssl-dev libsqlite3-dev
  libyaml-cpp-dev libssl-dev doctest-dev libcli11-dev libspdlog-dev libfmt-dev
  libmnl-dev libnftables-dev  # rtnetlink and nftables for bridge networks
  libldns-dev                 # DNS packets for the embedded DNS server
)
RUNTIME_PKGS=(
  crun runc tini              # OCI runtimes; tini-static is --init
  iproute2 nftables iptables  # networking
)
TEST_PKGS=(
  python3 python3-pytest python3-docker python3-requests docker-compose
  busybox-static docker-registry skopeo umoci apache2-utils
  curl sqlite3 openssl
)

# `--bench` adds Debian's docker.io: bench/ compares ctld with a real dockerd in the same run.
BENCH_PKGS=()
[ "${1:-}" = "--bench" ] && BENCH_PKGS=(docker.io)

stamp=/var/lib/apt/periodic/ctl-update-stamp
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +720 2>/dev/null)" ]; then
  apt-get update -q
  mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi

export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${BUILD_PKGS[@]}" "${RUNTIME_PKGS[@]}" "${TEST_PKGS[@]}" "${BENCH_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The distribution registry package starts a system service on install; tests run their own.
systemctl disable --now docker-registry >/dev/null 2>&1 || true
pkill -x docker-registry 2>/dev/null || true
exit 0

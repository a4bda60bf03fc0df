#!/usr/bin/env bash
# Installs dependencies, builds, starts ctld on its default socket and data root, and runs the
# engine's main job against it with ctl. ctld keeps running afterwards (stop: kill "$(cat /run/ctld.pid)").
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh

SOCK=${CTL_SOCKET:-/run/ctld.sock}
DATA=${CTL_DATA_ROOT:-/var/lib/ctld}
CTL="./build/ctl -H unix://$SOCK"

if ! $CTL version >/dev/null 2>&1; then
  mkdir -p "$DATA"
  nohup ./build/ctld --host "unix://$SOCK" --data-root "$DATA" >"$DATA/ctld.log" 2>&1 &
  echo $! > /run/ctld.pid
  for _ in $(seq 1 100); do
    $CTL version >/dev/null 2>&1 && break
    sleep 0.1
  done
fi

echo "== ctl version"
$CTL version
echo "== ctl info"
$CTL info
echo "== make busybox:latest from Debian's busybox-static (no network) and import it"
if ! $CTL image inspect busybox:latest >/dev/null 2>&1; then
  rootfs=$(mktemp /tmp/ctl-busybox-XXXXXX.tar)
  ./scripts/make-busybox-rootfs.sh "$rootfs"
  $CTL import -c 'CMD ["sh"]' "$rootfs" busybox:latest
  rm -f "$rootfs"
fi
$CTL images
echo "== run a container from it"
$CTL run --rm busybox sh -c 'echo "hello from a container: $(hostname), $(ip -4 -o addr show eth0 | awk "{print \$4}")"; uname -r'
echo
echo "ctld is running (pid $(cat /run/ctld.pid 2>/dev/null || echo '?'), log $DATA/ctld.log)."

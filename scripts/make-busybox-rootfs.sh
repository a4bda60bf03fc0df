#!/usr/bin/env bash
# Makes a busybox root filesystem tar from Debian's busybox-static, with no network:
#   scripts/make-busybox-rootfs.sh OUT.tar
# The tar holds /bin/busybox, a symlink per applet (busybox --list-full), minimal /etc files
# and the usual empty directories. `ctl import OUT.tar busybox:latest` turns it into an image;
# tests also wrap it into OCI images with umoci to push to a local registry.
set -euo pipefail
out=${1:?usage: make-busybox-rootfs.sh OUT.tar}
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "busybox-static is not installed (apt-get install busybox-static)" >&2; exit 1; }

root=$(mktemp -d /tmp/ctl-busybox-rootfs-XXXXXX)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,home,proc,sys,dev,var/tmp,var/log}
chmod 755 "$root"
chmod 1777 "$root/tmp" "$root/var/tmp"
chmod 700 "$root/root"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list-full); do
  [ "$applet" = bin/busybox ] && continue
  mkdir -p "$root/$(dirname "$applet")"
  ln -sf /bin/busybox "$root/$applet"
done
cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
PASSWD
cat > "$root/etc/group" <<'GROUP'
root:x:0:
daemon:x:1:
nogroup:x:65534:
GROUP
echo "hosts: files dns" > "$root/etc/nsswitch.conf"
# Reproducible: fixed owners and mtimes, sorted names.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2024-01-01 00:00:00Z' -C "$root" -cf "$out" .

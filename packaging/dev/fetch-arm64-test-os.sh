#!/usr/bin/env bash
# Unpacks what the arm64 end-to-end boot needs from Debian's arm64 archive
# into DIR (default /var/cache/pixie-test/arm64), without installing any
# foreign-architecture package:
#
#   DIR/boot/vmlinuz-<version>         Debian's signed arm64 kernel
#   DIR/lib/modules/<version>/...      its modules, with modules.dep
#   DIR/bin/busybox                    busybox-static for arm64
#
# The test initrd (internal/testnet, BuildInitrdARM64) is built from these.
# It needs the arm64 package lists: as root it adds the architecture and
# runs apt-get update when they are missing. Running it again with the
# cache complete does nothing.
set -euo pipefail

dir="${1:-/var/cache/pixie-test/arm64}"
die() { echo "fetch-arm64-test-os: $*" >&2; exit 1; }

for tool in apt-get apt-cache dpkg dpkg-deb depmod; do
  command -v "$tool" >/dev/null || die "needs $tool (a Debian system with kmod)"
done

if compgen -G "$dir/boot/vmlinuz-*-arm64" >/dev/null && compgen -G "$dir/lib/modules/*/modules.dep" >/dev/null &&
   [ -x "$dir/bin/busybox" ]; then
  echo "fetch-arm64-test-os: $dir is complete"
  exit 0
fi

if ! apt-cache show linux-image-arm64:arm64 >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] || die "no arm64 package lists; as root: dpkg --add-architecture arm64 && apt-get update"
  dpkg --add-architecture arm64
  apt-get update -qq
fi

# linux-image-arm64 is a metapackage: the kernel is in the package it
# depends on (linux-image-<abi>-arm64).
kpkg="$(apt-cache depends linux-image-arm64:arm64 | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-arm64\).*/\1/p' | head -n1)"
[ -n "$kpkg" ] || die "cannot tell which kernel package linux-image-arm64:arm64 depends on"

work="$(mktemp -d "${TMPDIR:-/tmp}/pixie-arm64.XXXXXX")"
trap 'rm -rf "$work"' EXIT
chmod 777 "$work" # apt-get download drops to user _apt, which must write here
(cd "$work" && apt-get download -q "$kpkg:arm64" busybox-static:arm64 >/dev/null) ||
  die "apt-get download $kpkg:arm64 busybox-static:arm64 failed (run 'apt-get update' first?)"

mkdir -p "$work/root"
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/root"; done

version="$(basename "$(ls -d "$work"/root/lib/modules/*-arm64 | head -n1)")"
[ -f "$work/root/boot/vmlinuz-$version" ] || die "$kpkg has no /boot/vmlinuz-$version"
[ -x "$work/root/bin/busybox" ] || die "busybox-static:arm64 has no /bin/busybox"
# The package ships no modules.dep (its postinst runs depmod); depmod
# reads the foreign modules fine.
depmod -b "$work/root" "$version"
[ -s "$work/root/lib/modules/$version/modules.dep" ] || die "depmod wrote no modules.dep for $version"

mkdir -p "$(dirname "$dir")"
rm -rf "$dir.new"
mv "$work/root" "$dir.new"
rm -rf "$dir"
mv "$dir.new" "$dir"
echo "fetch-arm64-test-os: unpacked $kpkg ($version) and busybox-static:arm64 into $dir"

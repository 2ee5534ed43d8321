#!/usr/bin/env bash
# Fetch Debian's iPXE build into assets/firmware/ so the next `go build`
# embeds it (see README.md). Run by `make firmware`.
#
# Runs on Debian/Ubuntu and on macOS alike: the package is unpacked by
# packaging/debextract (Go; no dpkg). The .deb comes from, in order:
# $IPXE_DEB (a file you downloaded), `apt-get download ipxe` where apt
# exists, or Debian's archive over HTTPS with the pinned version and sha256
# below (curl). Debian 12's package uses data.tar.xz: unpacking needs the
# `xz` command (macOS: brew install xz).
#
# Every file is checked before it is copied: a truncated download or a
# package whose layout changed must fail here, not on a machine that cannot
# boot.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
files=(undionly.kpxe ipxe.efi snponly.efi)

die() { echo "fetch-debian-ipxe: $*" >&2; exit 1; }

# The Debian 12 (bookworm) package fetched when there is no apt-get.
pinned_version="1.0.0+git-20190125.36a4c85-5.1"
pinned_url="https://deb.debian.org/debian/pool/main/i/ipxe/ipxe_${pinned_version}_all.deb"
pinned_sha256="49dc854857dcfb354292bdc79ce7419e0d72988666723395b2e102d147c3730d"

repo="$(cd "$here/../.." && pwd)"
GO="${GO:-go}"
for tool in od "$GO"; do
  command -v "$tool" >/dev/null || die "needs $tool. Or put iPXE binaries into $here by hand."
done
if command -v sha256sum >/dev/null; then sha256() { sha256sum "$1" | cut -d' ' -f1; }
elif command -v shasum >/dev/null; then sha256() { shasum -a 256 "$1" | cut -d' ' -f1; }
else die "needs sha256sum or shasum"; fi

work="$(mktemp -d "${TMPDIR:-/tmp}/pixie-ipxe.XXXXXX")"
trap 'rm -rf "$work"' EXIT
chmod 755 "$work" # apt-get download drops to user _apt, which must write here

# hex OFFSET COUNT FILE: COUNT bytes at OFFSET as lowercase hex, in file order.
hex() { od -An -v -tx1 -j "$1" -N "$2" "$3" | tr -d ' \n'; }
# le16/le32 OFFSET FILE: a little-endian integer as a number.
le16() { local h; h="$(hex "$1" 2 "$2")"; echo $((16#${h:2:2}${h:0:2})); }
le32() { local h; h="$(hex "$1" 4 "$2")"; echo $((16#${h:6:2}${h:4:2}${h:2:2}${h:0:2})); }
size() { wc -c <"$1" | tr -d ' '; }

# check_nbp FILE: a PXE network boot program has no header; it is raw 16-bit
# code the PXE ROM loads at 0000:7C00 and must fit in base memory. iPXE's
# .kpxe starts with a far jump (0xEA) and carries its PXE API signatures.
check_nbp() {
  local f="$1" n
  n="$(size "$f")"
  [ "$n" -gt 0 ] || die "$f is empty"
  [ "$n" -le 524288 ] || die "$f is $n bytes: too big for a PXE boot program (base memory)"
  [ "$(hex 0 1 "$f")" = ea ] || die "$f does not start with a far jump: not a PXE boot program"
  grep -aq 'PXENV+' "$f" || die "$f has no PXENV+ signature: not iPXE's PXE boot program"
}

# check_efi_x64 FILE: a PE32+ EFI application for x86-64.
check_efi_x64() {
  local f="$1" pe
  [ "$(size "$f")" -gt 0 ] || die "$f is empty"
  [ "$(hex 0 2 "$f")" = 4d5a ] || die "$f has no MZ header: not an EFI application"
  pe="$(le32 60 "$f")" # e_lfanew: where the PE header starts
  [ "$(hex "$pe" 4 "$f")" = 50450000 ] || die "$f has no PE signature at offset $pe"
  [ "$(le16 $((pe + 4)) "$f")" -eq $((0x8664)) ] || die "$f is not for x86-64 (PE machine type is not 0x8664)"
  [ "$(le16 $((pe + 24)) "$f")" -eq $((0x20b)) ] || die "$f is not PE32+"
  [ "$(le16 $((pe + 24 + 68)) "$f")" -eq 10 ] || die "$f is not an EFI application (PE subsystem is not 10)"
}

if [ -n "${IPXE_DEB:-}" ]; then
  [ -f "$IPXE_DEB" ] || die "IPXE_DEB=$IPXE_DEB is not a file"
  cp "$IPXE_DEB" "$work/"
  deb="$work/$(basename "$IPXE_DEB")"
elif command -v apt-get >/dev/null; then
  echo "fetch-debian-ipxe: downloading Debian's ipxe package (apt-get download)"
  (cd "$work" && apt-get download -q ipxe) ||
    die "apt-get download ipxe failed (run 'sudo apt-get update' first?)"
  deb="$(ls "$work"/ipxe_*.deb)"
else
  command -v curl >/dev/null || die "needs apt-get or curl to fetch the ipxe package, or IPXE_DEB=FILE.deb"
  echo "fetch-debian-ipxe: downloading $pinned_url"
  deb="$work/ipxe_${pinned_version}_all.deb"
  curl -fsSL --max-time 300 -o "$deb" "$pinned_url" ||
    die "download of $pinned_url failed (offline? or Debian moved it: download it from https://snapshot.debian.org/package/ipxe/$pinned_version/ and run with IPXE_DEB=FILE)"
  [ "$(sha256 "$deb")" = "$pinned_sha256" ] || die "$deb does not have the pinned sha256 $pinned_sha256: refusing it"
fi
# The version from the file name (ipxe_VERSION_ARCH.deb, ':' as %3a).
version="$(basename "$deb" .deb)"
version="${version#ipxe_}"
version="${version%_*}"
version="${version//%3a/:}"
mkdir -p "$work/root"
(cd "$repo" && "$GO" run ./packaging/debextract -deb "$deb" -out "$work/root" \
  usr/lib/ipxe/undionly.kpxe usr/lib/ipxe/ipxe.efi usr/lib/ipxe/snponly.efi usr/share/doc/ipxe/copyright) ||
  die "could not unpack $deb"

# find_in_pkg NAME: the file debextract copied out (it resolves Debian's
# /usr/lib/ipxe -> /boot links inside the package).
find_in_pkg() {
  local p="$work/root/$1"
  [ -f "$p" ] && [ ! -L "$p" ] || die "ipxe $version has no usable $1 (looked for usr/lib/ipxe/$1)"
  echo "$p"
}

for name in "${files[@]}"; do
  src="$(find_in_pkg "$name")"
  case "$name" in
    *.kpxe) check_nbp "$src" ;;
    *.efi) check_efi_x64 "$src" ;;
  esac
  cp "$src" "$work/$name"
done

# All checked: only now touch the destination, so a failure leaves the old
# set intact.
{
  echo "iPXE binaries embedded in pixie, fetched by assets/firmware/fetch-debian-ipxe.sh"
  echo "Debian binary package: ipxe $version ($(basename "$deb"))"
  echo "Corresponding source: Debian source package ipxe $version"
  echo "  apt-get source ipxe=$version"
  echo "  https://sources.debian.org/src/ipxe/$version/"
  echo "  https://snapshot.debian.org/package/ipxe/$version/"
  echo
  echo "sha256 sums:"
  for name in "${files[@]}"; do echo "  $(sha256 "$work/$name")  $name"; done
  if [ -f "$work/root/copyright" ]; then
    echo
    echo "Debian's copyright file for ipxe $version:"
    echo
    cat "$work/root/copyright"
  fi
} >"$work/PROVENANCE.txt"

for name in "${files[@]}" PROVENANCE.txt; do
  cp "$work/$name" "$here/$name.tmp"
  mv -f "$here/$name.tmp" "$here/$name"
done

echo "fetch-debian-ipxe: installed from Debian ipxe $version into $here:"
for name in "${files[@]}"; do
  printf '  %-14s %8s bytes  sha256 %s\n' "$name" "$(size "$here/$name")" "$(sha256 "$here/$name")"
done
echo "fetch-debian-ipxe: provenance and licence recorded in $here/PROVENANCE.txt; notice in $here/COPYING.ipxe"

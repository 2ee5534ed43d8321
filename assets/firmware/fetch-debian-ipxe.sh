#!/usr/bin/env bash
# Fetch Debian's iPXE build into assets/firmware/ so the next `go build`
# embeds it (see README.md). Run by `make firmware`.
#
# Needs a Debian or Ubuntu system: apt-get download works unprivileged but
# needs package lists (run `apt-get update` once if it cannot find ipxe).
#
# Every file is checked before it is copied: a truncated download or a
# package whose layout changed must fail here, not on a machine that cannot
# boot.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
files=(undionly.kpxe ipxe.efi snponly.efi)

die() { echo "fetch-debian-ipxe: $*" >&2; exit 1; }

for tool in apt-get dpkg-deb od; do
  command -v "$tool" >/dev/null || die "needs $tool (a Debian or Ubuntu system). Elsewhere, put iPXE binaries into $here by hand."
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

echo "fetch-debian-ipxe: downloading Debian's ipxe package"
(cd "$work" && apt-get download -q ipxe) ||
  die "apt-get download ipxe failed (run 'sudo apt-get update' first?)"
deb="$(ls "$work"/ipxe_*.deb)"
version="$(dpkg-deb -f "$deb" Version)"
dpkg-deb -x "$deb" "$work/root"

# find NAME: the file in the unpacked package. Debian ships ipxe.efi in /boot
# with an absolute symlink from /usr/lib/ipxe: resolve links inside the
# unpacked tree, never on this machine.
find_in_pkg() {
  local p="$work/root/usr/lib/ipxe/$1" t i
  for i in 1 2 3 4 5; do
    [ -L "$p" ] || break
    t="$(readlink "$p")"
    case "$t" in
      /*) p="$work/root$t" ;;
      *) p="$(dirname "$p")/$t" ;;
    esac
  done
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
  if [ -f "$work/root/usr/share/doc/ipxe/copyright" ]; then
    echo
    echo "Debian's copyright file for ipxe $version:"
    echo
    cat "$work/root/usr/share/doc/ipxe/copyright"
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

#!/usr/bin/env bash
# Fetch Debian's signed Secure Boot loaders: shim (shim-signed, signed by
# Microsoft) and GRUB's network image (grub-efi-amd64-signed, signed by
# Debian), for x86-64 and, when the arm64 package lists are there
# (dpkg --add-architecture arm64 && apt-get update), for arm64.
#
#   fetch-debian-loaders.sh              into assets/firmware/ as shimx64.efi,
#                                        grubx64.efi (shimaa64.efi,
#                                        grubaa64.efi), for `make embedded`
#   fetch-debian-loaders.sh --unpack DIR the packages unpacked under DIR
#                                        (usr/lib/shim/..., usr/lib/grub/...),
#                                        for the tests (.ci/run)
#
# The packages are downloaded and unpacked, never installed: their
# maintainer scripts expect an EFI system with an EFI partition. Every file
# is checked (a PE32+ EFI application for the right machine) before
# anything is written, so a failure leaves what was there.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
die() { echo "fetch-debian-loaders: $*" >&2; exit 1; }

unpack=""
case "${1:-}" in
  --unpack) [ -n "${2:-}" ] || die "--unpack needs a directory"; unpack="$2" ;;
  "") ;;
  *) die "usage: $0 [--unpack DIR]" ;;
esac

for tool in apt-get dpkg-deb od; do
  command -v "$tool" >/dev/null || die "needs $tool (a Debian or Ubuntu system)"
done
if command -v sha256sum >/dev/null; then sha256() { sha256sum "$1" | cut -d' ' -f1; }
else sha256() { shasum -a 256 "$1" | cut -d' ' -f1; }; fi

work="$(mktemp -d "${TMPDIR:-/tmp}/pixie-loaders.XXXXXX")"
trap 'rm -rf "$work"' EXIT
chmod 755 "$work" # apt-get download drops to user _apt, which must write here

hex() { od -An -v -tx1 -j "$1" -N "$2" "$3" | tr -d ' \n'; }
le16() { local h; h="$(hex "$1" 2 "$2")"; echo $((16#${h:2:2}${h:0:2})); }
le32() { local h; h="$(hex "$1" 4 "$2")"; echo $((16#${h:6:2}${h:4:2}${h:2:2}${h:0:2})); }
size() { wc -c <"$1" | tr -d ' '; }

# check_efi FILE MACHINE: a PE32+ EFI application for MACHINE (0x8664
# x86-64, 0xaa64 arm64) that carries an Authenticode signature (the
# certificate table, data directory 4, is not empty).
check_efi() {
  local f="$1" machine="$2" pe opt
  [ -f "$f" ] || die "$f is missing from its package"
  [ "$(size "$f")" -gt 0 ] || die "$f is empty"
  [ "$(hex 0 2 "$f")" = 4d5a ] || die "$f has no MZ header: not an EFI application"
  pe="$(le32 60 "$f")"
  [ "$(hex "$pe" 4 "$f")" = 50450000 ] || die "$f has no PE signature at offset $pe"
  [ "$(le16 $((pe + 4)) "$f")" -eq $((machine)) ] || die "$f is not for machine type $machine"
  opt=$((pe + 24))
  [ "$(le16 "$opt" "$f")" -eq $((0x20b)) ] || die "$f is not PE32+"
  [ "$(le16 $((opt + 68)) "$f")" -eq 10 ] || die "$f is not an EFI application (PE subsystem is not 10)"
  [ "$(le32 $((opt + 112 + 4 * 8 + 4)) "$f")" -gt 0 ] || die "$f carries no signature: not a signed loader"
}

# arch: deb-arch efi-machine shim-name grub-dir grub-name served-shim served-grub
sets=("amd64 0x8664 shimx64.efi.signed x86_64-efi-signed grubnetx64.efi.signed shimx64.efi grubx64.efi")
if apt-cache show grub-efi-arm64-signed:arm64 >/dev/null 2>&1; then
  sets+=("arm64 0xaa64 shimaa64.efi.signed arm64-efi-signed grubnetaa64.efi.signed shimaa64.efi grubaa64.efi")
else
  echo "fetch-debian-loaders: no arm64 package lists (dpkg --add-architecture arm64 && apt-get update): x86-64 only"
fi

mkdir -p "$work/root"
provenance=()
served=()
for set in "${sets[@]}"; do
  read -r arch machine shim gdir grub sshim sgrub <<<"$set"
  for pkg in "shim-signed:$arch" "grub-efi-$([ "$arch" = amd64 ] && echo amd64 || echo arm64)-signed:$arch"; do
    (cd "$work" && apt-get download -q "$pkg" >/dev/null) || die "apt-get download $pkg failed (run 'sudo apt-get update' first?)"
  done
  for deb in "$work"/shim-signed_*_"$arch".deb "$work"/grub-efi-*-signed_*_"$arch".deb; do
    [ -f "$deb" ] || die "no package for $arch downloaded"
    dpkg-deb -x "$deb" "$work/root"
    provenance+=("$(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version) ($arch, $(basename "$deb"))")
  done
  check_efi "$work/root/usr/lib/shim/$shim" "$machine"
  check_efi "$work/root/usr/lib/grub/$gdir/$grub" "$machine"
  cp "$work/root/usr/lib/shim/$shim" "$work/$sshim"
  cp "$work/root/usr/lib/grub/$gdir/$grub" "$work/$sgrub"
  served+=("$sshim" "$sgrub")
done

if [ -n "$unpack" ]; then
  mkdir -p "$unpack"
  cp -a "$work/root/." "$unpack/"
  echo "fetch-debian-loaders: unpacked into $unpack:"
  for p in "${provenance[@]}"; do echo "  $p"; done
  exit 0
fi

{
  echo "Secure Boot loaders embedded in pixie, fetched by assets/firmware/fetch-debian-loaders.sh"
  for p in "${provenance[@]}"; do echo "Debian binary package: $p"; done
  echo "Corresponding source: Debian source packages shim, shim-signed, grub2 and grub-efi-*-signed"
  echo "  https://sources.debian.org/src/shim/  https://sources.debian.org/src/grub2/"
  echo
  echo "sha256 sums:"
  for name in "${served[@]}"; do echo "  $(sha256 "$work/$name")  $name"; done
  for doc in "$work"/root/usr/share/doc/*/copyright; do
    echo
    echo "Debian's copyright file for $(basename "$(dirname "$doc")"):"
    echo
    cat "$doc"
  done
} >"$work/PROVENANCE-loaders.txt"

for name in "${served[@]}" PROVENANCE-loaders.txt; do
  cp "$work/$name" "$here/$name.tmp"
  mv -f "$here/$name.tmp" "$here/$name"
done
echo "fetch-debian-loaders: installed into $here:"
for name in "${served[@]}"; do
  printf '  %-13s %8s bytes  sha256 %s\n' "$name" "$(size "$here/$name")" "$(sha256 "$here/$name")"
done
echo "fetch-debian-loaders: provenance and licences in $here/PROVENANCE-loaders.txt"

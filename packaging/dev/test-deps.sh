#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages pixie's test suite uses: QEMU and
# firmware for the end-to-end boots, dnsmasq as the LAN's ordinary DHCP
# server, busybox for the test initrd, TFTP clients, and a kernel to boot.
# As root it installs what is missing; otherwise it lists what to install
# (the tests that need them skip and say so).
set -euo pipefail

# debootstrap and systemd-container build and boot the Debian root with
# systemd that the service tests run in (cached in /var/cache/pixie-test,
# built by the tests on first use); ignition is Debian's Ignition, which
# the Ignition tests run as Fedora CoreOS's first boot does. podman and
# runc build and run the container image from that root (no registry).
# chromium, headless in a namespace of its own, drives the dashboard test.
# postgresql: the store suite's PostgreSQL half runs its own throwaway
# cluster from its binaries (the distribution's cluster is stopped).
pkgs=(iproute2 qemu-system-x86 ovmf ipxe ipxe-qemu qemu-system-arm qemu-efi-aarch64 dnsmasq
      busybox-static tftp-hpa atftp curl cpio kmod linux-image-amd64 gcc dbus-daemon systemd xz-utils
      debootstrap systemd-container ignition podman runc chromium postgresql)
here="$(cd "$(dirname "$0")" && pwd)"
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  # The arm64 boot's kernel, busybox and loaders come from Debian's arm64
  # package lists (unpacked below, never installed).
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64 && apt-get update -qq
  fi
  # Debian's signed shim and GRUB (Secure Boot and arm64 tests), unpacked
  # rather than installed: their maintainer scripts expect an EFI system.
  loaders=/var/cache/pixie-test/loaders
  if [ ! -f "$loaders/usr/lib/shim/shimx64.efi.signed" ] || [ ! -f "$loaders/usr/lib/shim/shimaa64.efi.signed" ]; then
    bash "$here/../../assets/firmware/fetch-debian-loaders.sh" --unpack "$loaders" >/dev/null 2>&1 ||
      echo "could not fetch Debian's signed shim/GRUB into $loaders (the Secure Boot and arm64 tests will skip)"
  fi
  bash "$here/fetch-arm64-test-os.sh" /var/cache/pixie-test/arm64 >/dev/null 2>&1 ||
    echo "could not unpack Debian's arm64 kernel and busybox into /var/cache/pixie-test/arm64 (the arm64 test will skip)"
fi
# matchbox's Go module (not a package): the import test compares with it.
if command -v go >/dev/null; then
  bash "$here/fetch-matchbox.sh" >/dev/null 2>&1 ||
    echo "could not fetch matchbox v0.11.0's Go module (the matchbox comparison test will skip)"
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "test dependencies: all installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "test dependencies missing: ${missing[*]}"
  # Say only what this machine can do: root needs no sudo, and a
  # machine without apt-get has other package names.
  if ! command -v apt-get >/dev/null; then
    echo "this is not a Debian/Ubuntu system: install the equivalents with your package manager (the names above are Debian's)"
  elif command -v sudo >/dev/null; then
    echo "install them with: sudo apt-get install -y ${missing[*]}"
  else
    echo "install them as root (there is no sudo here): su -c 'apt-get install -y ${missing[*]}'"
  fi
  echo "(tests that need them will be skipped)"
  exit 0
fi
echo "installing test dependencies: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
bash "$here/stop-distro-postgres.sh"
echo "test dependencies installed"

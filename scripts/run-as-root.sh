#!/bin/sh
# run-as-root.sh runs a command as root, for `make run`:
#
#   scripts/run-as-root.sh COMMAND [ARG...]
#
# As root it runs COMMAND directly: a fresh Debian install has no sudo, and
# root does not need it. Otherwise it runs COMMAND through sudo, and when
# sudo is not installed it says how to get root instead of letting make
# fail with "sudo: No such file or directory". pixie serve needs root to
# bind the DHCP (67, 4011) and TFTP (69) ports and to read raw packets.
set -eu

if [ "$#" -eq 0 ]; then
	echo "usage: $0 COMMAND [ARG...]" >&2
	exit 2
fi

if [ "$(id -u)" -eq 0 ]; then
	exec "$@"
fi

if command -v sudo >/dev/null 2>&1; then
	exec sudo -- "$@"
fi

user=$(id -un 2>/dev/null || id -u)
# printf, not cat: only sh builtins and id, so this message shows on the
# barest system.
printf '%s\n' \
	"$* needs root: pixie serve binds the DHCP (67, 4011) and TFTP (69) ports." \
	"You are $user, not root, and sudo is not installed. Either:" \
	"  - run it as root: su -c 'make run' (or log in as root and run make run), or" \
	"  - install sudo as root and let $user use it, then log in again:" \
	"      su -c 'apt-get install -y sudo && usermod -aG sudo $user'" >&2
exit 1

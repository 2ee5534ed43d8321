#!/usr/bin/env bash
# Downloads matchbox v0.11.0's Go module and its dependencies into the Go
# module cache (through the module proxy), for the test that compares what
# `pixie import matchbox` makes with matchbox's own answers
# (cmd/pixie TestImportMatchesMatchbox builds matchbox from that cache).
# Nothing is installed and no binary is kept.
set -euo pipefail
d="$(mktemp -d)"
trap 'rm -rf "$d"' EXIT
cd "$d"
printf 'module matchboxfetch\n\ngo 1.26.0\n\nrequire github.com/poseidon/matchbox v0.11.0\n' >go.mod
GOFLAGS=-mod=mod GOWORK=off go build -o "$d/matchbox" github.com/poseidon/matchbox/cmd/matchbox
echo "matchbox v0.11.0 module and dependencies: in the Go module cache"

// Package importer turns a matchbox data directory (/var/lib/matchbox:
// profiles/, groups/, ignition/, generic/, assets/) or the guide's
// coreos-baremetal bootcfg directory (data/specs/<id>/spec.json,
// data/ignition/, data/machines/<id>/machine.json or data/<MAC>/, images/)
// into a plan of pixie profiles, machines, a default profile and assets:
// "given these files, what would pixie hold?". Plan is a pure function of
// the files the client read and a snapshot of what pixie holds; the
// control server applies the plan in one store transaction.
//
// Who reads the tree: the CLI, as the user who runs it, with that user's
// permissions, and it sends the configs' text. The daemon runs as root and
// the control socket is open to an admin group, so a daemon that opened
// the paths a caller names would read files that caller could not.
//
// Assets (kernels and initrds of hundreds of MB) are streamed to the
// daemon after the configs, in the same request, into a staging directory
// inside the asset store, and renamed into place only when the store's
// transaction commits (removed when anything fails). With Link the daemon
// hard-links the tree's file instead (no copy, no second copy on disk):
// it does so only for a regular file whose SHA-256 matches the one the
// client computed by reading the file itself, so a caller can make pixie
// serve only bytes it could already read. A hard link rather than a
// symbolic one because the HTTP server resolves every asset inside its
// root (os.Root) and refuses links that leave it; a hard link needs the
// tree on the same file system as pixie's data directory, and the daemon
// says so when it is not. Remote (http/https) kernels and initrds are
// kept as URLs.
//
// Translation, what the summary reports as "changed on the way":
//   - kernel arguments: bootcfg's cmdline maps and matchbox's args lists
//     become one line; the old server's Ignition URL becomes
//     {{.IgnitionURL}} (so pixie's per-boot tokens apply), URLs into the
//     old /assets/ become pixie's, initrd= names are dropped (pixie names
//     initrds itself) and cloud-config URLs are dropped (pixie serves none);
//   - initrds: matchbox's "--name NAME PATH" form keeps the path;
//   - templates: matchbox's .mac, .hostname, .request.query.mac become
//     .MAC and .Hostname, .metadata.X, .request.query.X and a group's
//     top-level metadata names become .Vars.X, .request.raw_query becomes
//     the query pixie's own URLs carry (mac=...);
//   - configs: Butane and Ignition 3.x are validated as pixie validates
//     them (an invalid one skips its profile, with the reason); Ignition's
//     first spec ("ignitionVersion": 1) is served as it is to classic
//     Container Linux, and converted to spec 3 for Fedora CoreOS and
//     Flatcar for users and SSH keys, groups, systemd units, networkd units
//     (as files) and files, naming what it could not carry over;
//   - groups and machines: a MAC-only selector becomes a machine (profile,
//     hostname, metadata as variables); a selector-less group, or bootcfg's
//     "default" machine, becomes the default profile; anything pixie cannot
//     select on (uuid, os, hostname, serial...) is skipped with the reason.
package importer

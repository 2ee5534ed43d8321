package service

import (
	"fmt"
	"path"
	"strings"
)

// SystemdUnit renders the systemd unit for spec.
//
// The daemon runs as root with a capability bounding set of just
// CAP_NET_BIND_SERVICE (ports 67, 69, 4011) and CAP_NET_RAW (SO_BINDTODEVICE
// on the DHCP sockets), and a read-only view of the system except its data
// and socket directories. A dedicated user would take away little more and
// break in practice:
//   - the data directory is shared with `sudo pixie serve` and
//     `sudo pixie uninstall service --purge`: files a root run creates
//     there (database WAL, downloaded images) would be unwritable to a
//     service user, and the service would fail until someone chowns them;
//   - a --data-dir chosen by the administrator would need chowning too.
//
// Root without CAP_CHOWN or CAP_DAC_OVERRIDE can still hand the control
// socket to the socket group, because SupplementaryGroups makes the daemon a
// member of that group and an owner may give a file to a group it is in.
//
// Restart is on failure after 2 s, with no start limit: a daemon started
// before the network is up (no IPv4 address yet) fails and is retried until
// the address arrives.
func SystemdUnit(spec Spec) (string, error) {
	if !path.IsAbs(spec.Executable) {
		return "", fmt.Errorf("the unit needs the pixie binary's absolute path, not %q", spec.Executable)
	}
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	exec := []string{systemdQuote(spec.Executable)}
	for _, a := range spec.Args {
		exec = append(exec, systemdQuote(a))
	}

	line("# Installed by `pixie install service`. Change it with")
	line("# `sudo pixie install service --force [flags]`, not by editing this file.")
	line("[Unit]")
	line("Description=pixie network-boot server (proxyDHCP, TFTP, HTTP)")
	line("Documentation=https://github.com/pixie-boot/pixie")
	line("Wants=network-online.target")
	line("After=network-online.target")
	line("StartLimitIntervalSec=0")
	line("")
	line("[Service]")
	line("Type=simple")
	line("ExecStart=%s", strings.Join(exec, " "))
	line("Restart=on-failure")
	line("RestartSec=2s")
	line("TimeoutStopSec=15s")
	line("")
	line("# Root with two capabilities only: binding ports below 1024, and")
	line("# SO_BINDTODEVICE for the DHCP sockets.")
	line("CapabilityBoundingSet=CAP_NET_BIND_SERVICE CAP_NET_RAW")
	line("AmbientCapabilities=CAP_NET_BIND_SERVICE CAP_NET_RAW")
	line("# Membership lets the daemon give the control socket to this group")
	line("# without CAP_CHOWN.")
	line("SupplementaryGroups=%s", spec.SocketGroup)
	line("NoNewPrivileges=yes")
	line("")
	// The data and socket directories: systemd creates them under
	// /var/lib and /run (the latter emptied on stop); anywhere else they
	// must exist already, which Manager.Install sees to.
	var rw []string
	dirs := map[string]string{"StateDirectory": "", "RuntimeDirectory": ""}
	if rel, ok := strings.CutPrefix(spec.DataDir, "/var/lib/"); ok && rel != "" {
		dirs["StateDirectory"] = rel
	}
	sockDir := path.Dir(spec.Socket)
	if rel, ok := strings.CutPrefix(sockDir, "/run/"); ok && rel != "" {
		dirs["RuntimeDirectory"] = rel
	}
	for _, key := range []string{"StateDirectory", "RuntimeDirectory"} {
		if dirs[key] != "" {
			line("%s=%s", key, systemdQuote(dirs[key]))
		}
	}
	rw = append(rw, systemdQuote(spec.DataDir))
	if sockDir != spec.DataDir {
		rw = append(rw, systemdQuote(sockDir))
	}
	line("ReadWritePaths=%s", strings.Join(rw, " "))
	line("ProtectSystem=strict")
	home := "yes"
	for _, p := range []string{spec.Executable, spec.DataDir, spec.Socket} {
		if underHome(p) {
			home = "read-only" // "yes" would hide it from the daemon
		}
	}
	line("ProtectHome=%s", home)
	line("PrivateTmp=yes")
	line("PrivateDevices=yes")
	line("ProtectKernelTunables=yes")
	line("ProtectKernelModules=yes")
	line("ProtectKernelLogs=yes")
	line("ProtectControlGroups=yes")
	line("ProtectClock=yes")
	line("ProtectHostname=yes")
	line("RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK")
	line("RestrictNamespaces=yes")
	line("RestrictRealtime=yes")
	line("RestrictSUIDSGID=yes")
	line("LockPersonality=yes")
	line("MemoryDenyWriteExecute=yes")
	line("SystemCallArchitectures=native")
	line("")
	line("[Install]")
	line("WantedBy=multi-user.target")
	return b.String(), nil
}

func underHome(p string) bool {
	for _, h := range []string{"/home/", "/root/", "/run/user/"} {
		if strings.HasPrefix(p+"/", h) {
			return true
		}
	}
	return false
}

// systemdQuote quotes one word of a unit setting: plain words stay as they
// are, others are double-quoted with C escapes. "%" (specifiers) and "$"
// (variable expansion in ExecStart) are doubled so they reach the daemon
// literally.
func systemdQuote(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	s = strings.ReplaceAll(s, "$", "$$")
	plain := s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,@+%$", r))
	}) < 0
	if plain {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

package testnet

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// StartDnsmasq runs dnsmasq in namespace ns with the given configuration
// lines added to a base that every instance needs: no DNS (port=0), bound to
// Iface only, stays in the foreground and logs every DHCP exchange to its
// process log, pid and leases files in Dir, and no host files read. name
// tells instances apart in file names ("router", "proxy"). It returns once
// dnsmasq has logged that it started.
func (l *LAN) StartDnsmasq(ns, name string, conf ...string) (*Process, error) {
	dir := filepath.Join(l.Dir, "dnsmasq-"+name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	base := []string{
		"port=0",
		"interface=" + Iface,
		"bind-interfaces",
		// Stay root: the pid, leases and log files live in a 0700 test
		// directory that the default "nobody" could not write.
		"user=root",
		"no-hosts",
		"no-resolv",
		"log-dhcp",
		"log-facility=-",
		"pid-file=" + filepath.Join(dir, "dnsmasq.pid"),
		"dhcp-leasefile=" + filepath.Join(dir, "dnsmasq.leases"),
	}
	confPath := filepath.Join(dir, "dnsmasq.conf")
	text := strings.Join(append(base, conf...), "\n") + "\n"
	if err := os.WriteFile(confPath, []byte(text), 0o644); err != nil {
		return nil, err
	}
	p, err := l.Start(ns, "dnsmasq", "--keep-in-foreground", "--conf-file="+confPath)
	if err != nil {
		return nil, err
	}
	if err := p.WaitLog("started, version", 15*time.Second); err != nil {
		p.Stop()
		return nil, fmt.Errorf("dnsmasq %s: %w", name, err)
	}
	return p, nil
}

// StartRouterDHCP runs the LAN's ordinary DHCP server in the router
// namespace: dnsmasq in plain DHCP mode handing out DHCPRangeStart to
// DHCPRangeEnd, with no DNS, no TFTP and no PXE, so that everything PXE on
// the LAN has to come from the server namespace. It also sends IPv6 router
// advertisements for IPv6Prefix (see RouterIPv6 for why). extra lines are
// added to its configuration, e.g. NextServer(ServerIP).
func (l *LAN) StartRouterDHCP(extra ...string) (*Process, error) {
	return l.StartDnsmasq(l.RouterNS, "router", append([]string{
		fmt.Sprintf("dhcp-range=%s,%s,255.255.255.0,1h", DHCPRangeStart, DHCPRangeEnd),
		"dhcp-option=option:router," + RouterIP,
		"dhcp-authoritative",
		"enable-ra",
		fmt.Sprintf("dhcp-range=%s,ra-only,%d", IPv6Prefix, IPv6PrefixLen),
	}, extra...)...)
}

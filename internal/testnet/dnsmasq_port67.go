package testnet

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// StartDHCPHolding67 runs dnsmasq in namespace ns as the LAN's ordinary DHCP
// server (DHCPRangeStart to DHCPRangeEnd, no DNS, no PXE), the way a
// distribution's default dnsmasq runs: without bind-interfaces, so its DHCP
// socket is *:67 with no SO_REUSEADDR and no other program can bind UDP 67
// in ns. Run in the server namespace, it is the DHCP server on pixie's own
// host that pixie must answer beside without the port. It returns once
// dnsmasq has started.
func (l *LAN) StartDHCPHolding67(ns string) (*Process, error) {
	dir := filepath.Join(l.Dir, "dnsmasq-port67")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	conf := []string{
		"port=0",
		"interface=" + Iface, // answers on Iface only, but binds the wildcard
		"user=root",
		"no-hosts",
		"no-resolv",
		"log-dhcp",
		"log-facility=-",
		"pid-file=" + filepath.Join(dir, "dnsmasq.pid"),
		"dhcp-leasefile=" + filepath.Join(dir, "dnsmasq.leases"),
		fmt.Sprintf("dhcp-range=%s,%s,255.255.255.0,1h", DHCPRangeStart, DHCPRangeEnd),
		"dhcp-option=option:router," + RouterIP,
		"dhcp-authoritative",
		// Offer at once rather than after pinging the address first.
		"no-ping",
	}
	path := filepath.Join(dir, "dnsmasq.conf")
	if err := os.WriteFile(path, []byte(strings.Join(conf, "\n")+"\n"), 0o644); err != nil {
		return nil, err
	}
	p, err := l.Start(ns, "dnsmasq", "--keep-in-foreground", "--conf-file="+path)
	if err != nil {
		return nil, err
	}
	if err := p.WaitLog("started, version", 15*time.Second); err != nil {
		p.Stop()
		return nil, fmt.Errorf("dnsmasq holding port 67: %w", err)
	}
	return p, nil
}

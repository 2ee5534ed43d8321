// Package netif picks the network interface and IPv4 address pixie serves
// on, so `pixie serve` needs no flags on an ordinary machine: the interface
// of the default route, else the one real-looking wired interface with an
// IPv4 address.
package netif

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sort"
	"strings"
)

// Candidate is one interface as the chooser sees it.
type Candidate struct {
	Name      string
	Index     int
	Up        bool
	Loopback  bool
	Broadcast bool
	Addrs     []netip.Prefix // IPv4 only
}

// Choice is the interface and address pixie serves on.
type Choice struct {
	Interface string
	Addr      netip.Addr
	Prefix    netip.Prefix
}

// virtualPrefixes name interfaces that are rarely the LAN machines boot on.
// On macOS: bridge* (Internet Sharing, VM bridges), vmenet* (Virtualization
// framework VMs), anpi* (Apple's internal network proxy links), ap* (the
// Wi-Fi hotspot side), gif/stf (tunnels), utun/awdl/llw.
var virtualPrefixes = []string{"docker", "veth", "br-", "virbr", "vmnet", "vboxnet", "tun", "tap", "utun", "wg", "zt", "tailscale", "awdl", "llw", "lxc", "cni", "flannel", "cali", "podman", "bridge", "vmenet", "anpi", "ap", "gif", "stf"}

func isVirtual(name string) bool {
	for _, p := range virtualPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func usable(c Candidate) bool {
	return c.Up && !c.Loopback && c.Broadcast && len(c.Addrs) > 0
}

// Choose decides. wantIface and wantAddr come from --interface and
// --address (either may be empty); defaultRouteIface is the interface of
// the IPv4 default route if known.
func Choose(cands []Candidate, defaultRouteIface, wantIface, wantAddr string) (Choice, error) {
	var addr netip.Addr
	if wantAddr != "" {
		a, err := netip.ParseAddr(wantAddr)
		if err != nil || !a.Is4() {
			return Choice{}, fmt.Errorf("--address %q is not an IPv4 address: give one like 192.168.1.10", wantAddr)
		}
		addr = a
	}
	if wantIface != "" {
		for _, c := range cands {
			if c.Name != wantIface {
				continue
			}
			if !c.Up {
				return Choice{}, fmt.Errorf("interface %s is down: bring it up (e.g. `%s`) or pick another with --interface", c.Name, UpCommand(runtime.GOOS, c.Name))
			}
			return pickAddr(c, addr)
		}
		return Choice{}, fmt.Errorf("no interface named %q: pick one of %s", wantIface, names(cands))
	}
	if addr.IsValid() {
		for _, c := range cands {
			for _, p := range c.Addrs {
				if p.Addr() != addr {
					continue
				}
				if !c.Up {
					// Linux keeps a static address on a downed link; it
					// still cannot carry a boot.
					return Choice{}, fmt.Errorf("interface %s (address %s) is down: bring it up (e.g. `%s`)", c.Name, addr, UpCommand(runtime.GOOS, c.Name))
				}
				return Choice{Interface: c.Name, Addr: addr, Prefix: p}, nil
			}
		}
		return Choice{}, fmt.Errorf("no interface has the address %s: pick one of %s, or give --interface", addr, describe(cands))
	}
	var ok []Candidate
	for _, c := range cands {
		if usable(c) {
			if c.Name == defaultRouteIface {
				return pickAddr(c, addr)
			}
			ok = append(ok, c)
		}
	}
	// Without a default route, prefer physical-looking interfaces, then the
	// lowest index (usually the built-in port).
	sort.SliceStable(ok, func(i, j int) bool {
		vi, vj := isVirtual(ok[i].Name), isVirtual(ok[j].Name)
		if vi != vj {
			return !vi
		}
		return ok[i].Index < ok[j].Index
	})
	if len(ok) == 0 {
		return Choice{}, errors.New("found no network interface that is up and has an IPv4 address: connect to the LAN the machines boot on, or name one with --interface")
	}
	return pickAddr(ok[0], addr)
}

func pickAddr(c Candidate, want netip.Addr) (Choice, error) {
	if len(c.Addrs) == 0 {
		return Choice{}, fmt.Errorf("interface %s has no IPv4 address: give it one (DHCP reservation or static) or pick another with --interface", c.Name)
	}
	if !want.IsValid() {
		// A link-local address only if nothing better exists.
		for _, p := range c.Addrs {
			if !p.Addr().IsLinkLocalUnicast() {
				return Choice{Interface: c.Name, Addr: p.Addr(), Prefix: p}, nil
			}
		}
		p := c.Addrs[0]
		return Choice{Interface: c.Name, Addr: p.Addr(), Prefix: p}, nil
	}
	for _, p := range c.Addrs {
		if p.Addr() == want {
			return Choice{Interface: c.Name, Addr: want, Prefix: p}, nil
		}
	}
	return Choice{}, fmt.Errorf("interface %s does not have the address %s (it has %s)", c.Name, want, prefixes(c.Addrs))
}

func names(cands []Candidate) string {
	var n []string
	for _, c := range cands {
		n = append(n, c.Name)
	}
	return strings.Join(n, ", ")
}

func describe(cands []Candidate) string {
	var n []string
	for _, c := range cands {
		if len(c.Addrs) > 0 {
			n = append(n, c.Name+" "+prefixes(c.Addrs))
		}
	}
	return strings.Join(n, "; ")
}

func prefixes(ps []netip.Prefix) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.String())
	}
	return strings.Join(s, ", ")
}

// System lists this machine's interfaces as candidates.
func System() ([]Candidate, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: %w", err)
	}
	var out []Candidate
	for _, ifc := range ifs {
		c := Candidate{
			Name:      ifc.Name,
			Index:     ifc.Index,
			Up:        ifc.Flags&net.FlagUp != 0,
			Loopback:  ifc.Flags&net.FlagLoopback != 0,
			Broadcast: ifc.Flags&net.FlagBroadcast != 0,
		}
		addrs, err := ifc.Addrs()
		if err == nil {
			for _, a := range addrs {
				if ipn, ok := a.(*net.IPNet); ok {
					if ip, ok := netip.AddrFromSlice(ipn.IP); ok && ip.Unmap().Is4() {
						ones, _ := ipn.Mask.Size()
						c.Addrs = append(c.Addrs, netip.PrefixFrom(ip.Unmap(), ones))
					}
				}
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// Detect picks the interface and address from the live system.
func Detect(wantIface, wantAddr string) (Choice, error) {
	cands, err := System()
	if err != nil {
		return Choice{}, err
	}
	return Choose(cands, DefaultRouteInterface(), wantIface, wantAddr)
}

// UpCommand is how a person brings interface name up on goos.
func UpCommand(goos, name string) string {
	if goos == "darwin" {
		return "sudo ifconfig " + name + " up"
	}
	return "sudo ip link set " + name + " up"
}

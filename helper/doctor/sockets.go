package doctor

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// procSocket is one line of /proc/net/{udp,tcp}{,6}.
type procSocket struct {
	proto string // udp, tcp
	local netip.AddrPort
	state uint8
	inode uint64
}

// tcpListen is the TCP_LISTEN state in /proc/net/tcp.
const tcpListen = 0x0A

// parseProcNet reads a /proc/net/udp, udp6, tcp or tcp6 table. Addresses
// are in the kernel's byte order per 32-bit word, which is little-endian on
// every architecture pixie runs on (x86-64, arm64); ports are big-endian.
func parseProcNet(r io.Reader, proto string) ([]procSocket, error) {
	var out []procSocket
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	first := true
	for sc.Scan() {
		if first { // the header
			first = false
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) < 10 {
			continue
		}
		local, err := parseHexAddrPort(f[1])
		if err != nil {
			return nil, fmt.Errorf("%s table: %q: %w", proto, f[1], err)
		}
		state, err := strconv.ParseUint(f[3], 16, 8)
		if err != nil {
			return nil, fmt.Errorf("%s table: state %q: %w", proto, f[3], err)
		}
		inode, err := strconv.ParseUint(f[9], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s table: inode %q: %w", proto, f[9], err)
		}
		out = append(out, procSocket{proto: proto, local: local, state: uint8(state), inode: inode})
	}
	return out, sc.Err()
}

func parseHexAddrPort(s string) (netip.AddrPort, error) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, errors.New("no port")
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, err
	}
	raw, err := hex.DecodeString(a)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, errors.New("bad address")
	}
	// Each 32-bit word is in host (little-endian) order.
	b := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.BigEndian.PutUint32(b[i:], binary.LittleEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(b)
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}

// scanProc finds the sockets bound to the given UDP and TCP (listening)
// ports in the proc filesystem at procRoot, and the processes holding each:
// every /proc/PID/fd/N that links to "socket:[INODE]" names a holder, and
// /proc/PID/comm its command. Without root other users' fds are unreadable,
// which makes the scan Partial.
func scanProc(procRoot string, udpPorts, tcpPorts []int) PortScan {
	scan := PortScan{Supported: true}
	var socks []procSocket
	for _, t := range []struct{ file, proto string }{{"udp", "udp"}, {"udp6", "udp"}, {"tcp", "tcp"}, {"tcp6", "tcp"}} {
		f, err := os.Open(filepath.Join(procRoot, "net", t.file))
		if errors.Is(err, fs.ErrNotExist) && strings.HasSuffix(t.file, "6") {
			continue // no IPv6
		}
		if err != nil {
			scan.Err = err
			return scan
		}
		s, err := parseProcNet(f, t.proto)
		f.Close()
		if err != nil {
			scan.Err = err
			return scan
		}
		socks = append(socks, s...)
	}
	want := map[uint64]int{} // inode → index in Holders
	for _, s := range socks {
		ports := udpPorts
		if s.proto == "tcp" {
			if s.state != tcpListen {
				continue
			}
			ports = tcpPorts
		}
		if !slices.Contains(ports, int(s.local.Port())) {
			continue
		}
		if _, dup := want[s.inode]; dup || s.inode == 0 {
			continue
		}
		want[s.inode] = len(scan.Holders)
		scan.Holders = append(scan.Holders, Holder{Proto: s.proto, Local: s.local})
	}
	if len(want) == 0 {
		return scan
	}
	procs, err := os.ReadDir(procRoot)
	if err != nil {
		scan.Err = err
		return scan
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fdDir := filepath.Join(procRoot, p.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			if errors.Is(err, fs.ErrPermission) {
				scan.Partial = true
			}
			continue // also: the process ended
		}
		var name string
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err != nil {
				continue
			}
			ino, ok := socketInode(link)
			if !ok {
				continue
			}
			i, ok := want[ino]
			if !ok {
				continue
			}
			if name == "" {
				comm, _ := os.ReadFile(filepath.Join(procRoot, p.Name(), "comm"))
				name = strings.TrimSpace(string(comm))
			}
			h := &scan.Holders[i]
			if !slices.ContainsFunc(h.Procs, func(x Proc) bool { return x.PID == pid }) {
				h.Procs = append(h.Procs, Proc{PID: pid, Name: name})
			}
		}
	}
	return scan
}

// socketInode reads the inode out of a "socket:[12345]" fd link.
func socketInode(link string) (uint64, bool) {
	s, ok := strings.CutPrefix(link, "socket:[")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, "]")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// parseLsof reads `lsof -nP -F pcPn` output: a "p" line starts a process,
// "c" is its command, "P" a file's protocol and "n" its name
// ("*:67", "127.0.0.1:8080", "[::]:69").
func parseLsof(r io.Reader) []Holder {
	var out []Holder
	var proc Proc
	proto := ""
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		l := sc.Text()
		if l == "" {
			continue
		}
		v := l[1:]
		switch l[0] {
		case 'p':
			pid, _ := strconv.Atoi(v)
			proc, proto = Proc{PID: pid}, ""
		case 'c':
			proc.Name = v
		case 'f':
			proto = ""
		case 'P':
			proto = strings.ToLower(v)
		case 'n':
			if proto != "udp" && proto != "tcp" {
				continue
			}
			name, _, _ := strings.Cut(v, "->") // a connected socket's peer
			host, portStr, ok := cutLast(name, ":")
			if !ok {
				continue
			}
			port, err := strconv.ParseUint(portStr, 10, 16)
			if err != nil {
				continue
			}
			host = strings.Trim(host, "[]")
			addr := netip.IPv4Unspecified()
			if host != "*" {
				if a, err := netip.ParseAddr(host); err == nil {
					addr = a.Unmap()
				}
			}
			out = append(out, Holder{Proto: proto, Local: netip.AddrPortFrom(addr, uint16(port)), Procs: []Proc{proc}})
		}
	}
	return out
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

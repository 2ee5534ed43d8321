package dhcp

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// holder is a process holding a socket.
type holder struct {
	pid  int
	name string
}

func (h holder) String() string { return fmt.Sprintf("PID %d (%s)", h.pid, h.name) }

// describeHolders says who holds a port, for the log and status. On macOS
// launchd itself holds port 67 for bootpd (Internet Sharing, or a VM
// app's shared network), which is worth naming.
func describeHolders(hs []holder) string {
	if len(hs) == 0 {
		return "another program (pixie could not tell which; `pixie doctor` looks further)"
	}
	parts := make([]string, 0, len(hs))
	for _, h := range hs {
		s := h.String()
		if h.name == "launchd" || h.name == "bootpd" {
			s += ", for bootpd: Internet Sharing or a VM app's shared network"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// udpInodes reads a /proc/net/udp table and returns the inodes of the
// sockets bound to local port port.
func udpInodes(r io.Reader, port int) []uint64 {
	var out []uint64
	sc := bufio.NewScanner(r)
	for first := true; sc.Scan(); first = false {
		f := strings.Fields(sc.Text())
		if first || len(f) < 10 {
			continue
		}
		_, hexPort, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		if p, err := strconv.ParseUint(hexPort, 16, 16); err != nil || int(p) != port {
			continue
		}
		if ino, err := strconv.ParseUint(f[9], 10, 64); err == nil && ino != 0 {
			out = append(out, ino)
		}
	}
	return out
}

// parseLsofPC reads `lsof -F pc` output: "p<pid>" starts a process, "c<name>"
// names it.
func parseLsofPC(r io.Reader) []holder {
	var out []holder
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if len(line) < 2 {
			continue
		}
		switch line[0] {
		case 'p':
			if pid, err := strconv.Atoi(line[1:]); err == nil {
				out = append(out, holder{pid: pid, name: "?"})
			}
		case 'c':
			if len(out) > 0 {
				out[len(out)-1].name = line[1:]
			}
		}
	}
	return out
}

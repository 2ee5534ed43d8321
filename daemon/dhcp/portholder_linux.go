package dhcp

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// udpPortHolders finds the processes holding UDP port port in the calling
// thread's network namespace (/proc/thread-self: the server may run in a
// namespace the rest of the process is not in). Best effort: an empty
// answer means "could not tell".
func udpPortHolders(port int) []holder {
	var inodes []uint64
	for _, table := range []string{"/proc/thread-self/net/udp", "/proc/thread-self/net/udp6"} {
		if f, err := os.Open(table); err == nil {
			inodes = append(inodes, udpInodes(f, port)...)
			f.Close()
		}
	}
	if len(inodes) == 0 {
		return nil
	}
	want := make([]string, len(inodes))
	for i, ino := range inodes {
		want[i] = "socket:[" + strconv.FormatUint(ino, 10) + "]"
	}
	var out []holder
	pids, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range pids {
		pid, err := strconv.Atoi(filepath.Base(dir))
		if err != nil {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join(dir, "fd"))
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(dir, "fd", fd.Name()))
			if err != nil || !slices.Contains(want, link) {
				continue
			}
			name := "?"
			if b, err := os.ReadFile(filepath.Join(dir, "comm")); err == nil {
				name = strings.TrimSpace(string(b))
			}
			out = append(out, holder{pid: pid, name: name})
			break
		}
	}
	return out
}

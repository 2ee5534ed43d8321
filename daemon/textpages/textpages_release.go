//go:build linux && (amd64 || arm64)

package textpages

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Release drops the mappings of the executable's read-only, never-written
// pages (its code and read-only data), and those pages from the page cache
// when nothing else maps them, and reports how many bytes were resident
// before. Writable mappings, and read-only ones holding private copies
// (relocated data the dynamic loader wrote before making it read-only),
// are left alone: dropping those would lose their contents.
func Release() (int64, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, fmt.Errorf("find the executable: %w", err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, fmt.Errorf("read the process's mappings: %w", err)
	}
	ms, err := parseSmaps(f, exe)
	f.Close()
	if err != nil {
		return 0, fmt.Errorf("read the process's mappings: %w", err)
	}
	bin, err := os.Open(exe)
	if err != nil {
		return 0, fmt.Errorf("open the executable: %w", err)
	}
	defer bin.Close()
	var released int64
	for _, m := range ms {
		released += m.rss
		// No huge pages, and no read-ahead: each page that pixie runs
		// from now on is read in alone.
		if err := madvise(m, syscall.MADV_NOHUGEPAGE, syscall.MADV_RANDOM); err != nil {
			return 0, fmt.Errorf("release %s: %w", exe, err)
		}
	}
	// Recent kernels (6.18 here) map a whole large folio of the page cache
	// on a fault, and a binary just written (by the Go linker, a package
	// manager) sits in the cache in folios of up to 2 MB: the first
	// instruction run after dropping the mappings would map its 2 MB again
	// (measured: 19 MB back within 60 ms). So the file's cached pages that
	// nothing maps any more are dropped as well, and with read-ahead off
	// they come back a page at a time. The folios of the code running
	// between the two calls (this loop; other goroutines') are mapped again
	// at once and stay; each pass runs less code in between, so three
	// passes leave little more than the folio of this function. Raw system
	// calls, since the runtime's bookkeeping around a system call is code
	// in other folios. Another process running the same binary keeps the
	// pages it maps.
	fd := bin.Fd()
	// Pages of a binary written moments ago (a fresh build) may not be on
	// disk yet, and the page cache keeps dirty pages: write them first.
	if err := unix.Fdatasync(int(fd)); err != nil {
		return 0, fmt.Errorf("write %s out before dropping its cached pages: %w", exe, err)
	}
	for range 3 {
		for _, m := range ms {
			if _, _, e := syscall.RawSyscall(syscall.SYS_MADVISE, m.start, m.end-m.start, syscall.MADV_DONTNEED); e != 0 {
				return 0, fmt.Errorf("release %s: madvise %#x-%#x: %w", exe, m.start, m.end, e)
			}
		}
		if _, _, e := syscall.RawSyscall6(unix.SYS_FADVISE64, fd, 0, 0, unix.FADV_DONTNEED, 0, 0); e != 0 {
			return released, fmt.Errorf("drop %s from the page cache: %w", exe, e)
		}
	}
	return released, nil
}

func madvise(m mapping, advice ...uintptr) error {
	for _, a := range advice {
		if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, m.start, m.end-m.start, a); e != 0 {
			return fmt.Errorf("madvise %#x-%#x: %w", m.start, m.end, e)
		}
	}
	return nil
}

// mapping is one releasable range and its resident bytes.
type mapping struct {
	start, end uintptr
	rss        int64
}

// parseSmaps returns the mappings of file path in an smaps listing that are
// safe to release: not writable, and holding no anonymous (private copy)
// pages.
func parseSmaps(r io.Reader, path string) ([]mapping, error) {
	var out []mapping
	var cur *mapping
	var curOK bool
	var anon int64
	flush := func() {
		if cur != nil && curOK && anon == 0 {
			out = append(out, *cur)
		}
		cur, curOK, anon = nil, false, 0
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if strings.HasSuffix(fields[0], ":") {
			// A "Key: value kB" line of the current mapping.
			if cur == nil || len(fields) < 2 {
				continue
			}
			switch fields[0] {
			case "Rss:":
				n, err := strconv.ParseInt(fields[1], 10, 64)
				if err != nil {
					return nil, fmt.Errorf("bad Rss line %q", line)
				}
				cur.rss = n << 10
			case "Anonymous:":
				n, err := strconv.ParseInt(fields[1], 10, 64)
				if err != nil {
					return nil, fmt.Errorf("bad Anonymous line %q", line)
				}
				anon = n
			}
			continue
		}
		// A mapping's header: start-end perms offset dev inode [path].
		flush()
		if len(fields) < 5 {
			return nil, fmt.Errorf("bad mapping line %q", line)
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			return nil, fmt.Errorf("bad mapping range in %q", line)
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			return nil, fmt.Errorf("bad mapping range in %q", line)
		}
		cur = &mapping{start: uintptr(start), end: uintptr(end)}
		perms := fields[1]
		name := strings.Join(fields[5:], " ")
		curOK = name == path && len(perms) == 4 && perms[0] == 'r' && perms[1] == '-' && perms[3] == 'p'
	}
	flush()
	return out, sc.Err()
}

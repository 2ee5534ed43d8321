package tftp

import (
	"strconv"
	"time"
)

// Option limits. A client's value beyond them is lowered to the limit in
// the OACK (RFC 2347 lets the server answer with a smaller value); a value
// that is no number or below the minimum drops the option, as if the
// client had not asked.
const (
	defaultBlksize = 512
	minBlksize     = 8     // RFC 2348
	maxBlksize     = 65464 // RFC 2348
	// fallbackBlksize caps blksize when the receiving interface's MTU is
	// unknown: it fits an Ethernet frame, as iPXE's 1468 does.
	fallbackBlksize = 1468
	// maxWindow caps windowsize (RFC 7440 allows 65535): a window is
	// kept in memory, twice over (the window in flight and the next one,
	// read ahead), so it is bounded both in blocks and in bytes.
	maxWindow      = 64
	maxWindowBytes = 64 << 10
	maxTimeoutSecs = 255 // RFC 2349
)

// option is one name and value of an OACK.
type option struct{ name, value string }

// params are the transfer's negotiated parameters.
type params struct {
	blksize int
	window  int
	timeout time.Duration // 0: the server's
	oack    []option      // nil: no OACK, data starts at once
}

// negotiate answers the options of a read request. mtuBlksize is the
// largest block that fits the receiving interface (0 when unknown); size
// is the file's size for tsize (-1 when unknown).
func negotiate(r request, mtuBlksize int, size int64) params {
	p := params{blksize: defaultBlksize, window: 1}
	limit := mtuBlksize
	if limit <= 0 {
		limit = fallbackBlksize
	}
	limit = min(limit, maxBlksize)
	for _, name := range r.order {
		v := r.opts[name]
		n, err := strconv.Atoi(v)
		switch name {
		case "blksize":
			if err != nil || n < minBlksize {
				continue
			}
			p.blksize = min(n, limit)
			p.oack = append(p.oack, option{name, strconv.Itoa(p.blksize)})
		case "tsize":
			if size < 0 {
				continue
			}
			p.oack = append(p.oack, option{name, strconv.FormatInt(size, 10)})
		case "timeout":
			if err != nil || n < 1 || n > maxTimeoutSecs {
				continue
			}
			p.timeout = time.Duration(n) * time.Second
			p.oack = append(p.oack, option{name, v})
		case "windowsize":
			if err != nil || n < 1 {
				continue
			}
			p.window = n // clamped below, once blksize is known
			p.oack = append(p.oack, option{name, ""})
		}
	}
	for i := range p.oack {
		if p.oack[i].name == "windowsize" {
			p.window = clampWindow(p.window, p.blksize)
			p.oack[i].value = strconv.Itoa(p.window)
		}
	}
	return p
}

// clampWindow bounds a window in blocks and in bytes; it is at least 1.
func clampWindow(window, blksize int) int {
	window = min(window, maxWindow, maxWindowBytes/blksize)
	return max(window, 1)
}

package tftp

import "io"

// netascii encodes a file for netascii mode (RFC 764 line ends, as RFC
// 1350 asks): LF is sent as CR LF and a lone CR as CR NUL. Firmware uses
// octet mode; this is for tftp-hpa's default and the like.
type netascii struct {
	r       io.Reader
	buf     [512]byte
	in      []byte // read from r, not yet encoded
	pending byte   // the second byte of a pair that did not fit; 0: none
	err     error
}

func newNetascii(r io.Reader) *netascii { return &netascii{r: r} }

func (n *netascii) Read(p []byte) (int, error) {
	i := 0
	if n.pending != 0 && len(p) > 0 {
		p[0], n.pending = n.pending, 0
		if p[0] == 1 { // a NUL after CR is pending; 0 means none
			p[0] = 0
		}
		i++
	}
	for i < len(p) {
		if len(n.in) == 0 {
			if n.err != nil {
				break
			}
			var m int
			m, n.err = n.r.Read(n.buf[:])
			n.in = n.buf[:m]
			continue
		}
		c := n.in[0]
		n.in = n.in[1:]
		var second byte
		switch c {
		case '\n':
			c, second = '\r', '\n'
		case '\r':
			c, second = '\r', 1 // NUL, marked as 1 while pending
		}
		p[i] = c
		i++
		if second == 0 {
			continue
		}
		if i < len(p) {
			p[i] = second
			if second == 1 {
				p[i] = 0
			}
			i++
		} else {
			n.pending = second
		}
	}
	if i == 0 && n.err != nil {
		return 0, n.err
	}
	return i, nil
}

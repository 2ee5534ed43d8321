package storm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// TFTP opcodes (RFC 1350, RFC 2347).
const (
	opRRQ   = 1
	opDATA  = 3
	opACK   = 4
	opERROR = 5
	opOACK  = 6
)

// tftpTransfer is a TFTP read the way PXE firmware does it: a read
// request with tsize and blksize, the option ACK acknowledged with block
// 0, then one DATA/ACK round trip per block. With probe set it stops after
// the option ACK with error 8, as OVMF does to learn the size.
type tftpTransfer struct {
	conn    *net.UDPConn
	server  *net.UDPAddr // port 69; the transfer moves to the server's own port
	file    string
	blksize int
	probe   bool
	timeout time.Duration
	retries int
	onRetry func()
}

// run returns the number of bytes received (the tsize for a probe).
func (t *tftpTransfer) run(ctx context.Context) (int64, error) {
	rrq := []byte{0, opRRQ}
	for _, s := range []string{t.file, "octet", "tsize", "0", "blksize", strconv.Itoa(t.blksize)} {
		rrq = append(append(rrq, s...), 0)
	}
	last, to := rrq, t.server
	var peer *net.UDPAddr // the server's transfer port, once known
	blksize, tsize := 512, int64(-1)
	var got int64
	next := uint16(1)
	buf := make([]byte, 65536)
	tries := 0
	send := func() error {
		_, err := t.conn.WriteToUDP(last, to)
		return err
	}
	if err := send(); err != nil {
		return 0, err
	}
	for {
		if ctx.Err() != nil {
			return got, ctx.Err()
		}
		t.conn.SetReadDeadline(time.Now().Add(t.timeout))
		n, from, err := t.conn.ReadFromUDP(buf)
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				return got, err
			}
			if tries++; tries > t.retries {
				return got, fmt.Errorf("no answer after %d tries (block %d, %d bytes so far)", tries, next, got)
			}
			t.onRetry()
			if err := send(); err != nil {
				return got, err
			}
			continue
		}
		if !from.IP.Equal(t.server.IP) || (peer != nil && from.Port != peer.Port) || n < 4 {
			continue // not from our transfer
		}
		pkt := buf[:n]
		op := binary.BigEndian.Uint16(pkt)
		if peer == nil {
			peer = from
			to = peer
		}
		switch op {
		case opERROR:
			code := binary.BigEndian.Uint16(pkt[2:])
			return got, fmt.Errorf("TFTP error %d: %s", code, string(bytes.TrimRight(pkt[4:], "\x00")))
		case opOACK:
			if next != 1 || got > 0 {
				continue // a repeated OACK
			}
			opts := parseOptions(pkt[2:])
			if v, ok := opts["blksize"]; ok {
				b, err := strconv.Atoi(v)
				if err != nil || b < 8 || b > t.blksize {
					return 0, fmt.Errorf("server chose blksize %q, asked for %d", v, t.blksize)
				}
				blksize = b
			}
			if v, ok := opts["tsize"]; ok {
				tsize, _ = strconv.ParseInt(v, 10, 64)
			}
			if t.probe {
				abort := append([]byte{0, opERROR, 0, 8}, "User aborted the transfer\x00"...)
				t.conn.WriteToUDP(abort, peer)
				return tsize, nil
			}
			last, tries = []byte{0, opACK, 0, 0}, 0
			if err := send(); err != nil {
				return got, err
			}
		case opDATA:
			block := binary.BigEndian.Uint16(pkt[2:])
			if block != next {
				// A block we had already: its ACK got lost; ACK it again.
				if block == next-1 {
					t.conn.WriteToUDP([]byte{0, opACK, byte(block >> 8), byte(block)}, peer)
				}
				continue
			}
			if t.probe {
				return 0, errors.New("server sent data instead of an option ACK with tsize")
			}
			data := pkt[4:]
			got += int64(len(data))
			last, tries = []byte{0, opACK, byte(block >> 8), byte(block)}, 0
			if err := send(); err != nil {
				return got, err
			}
			next++
			if len(data) < blksize {
				if tsize >= 0 && got != tsize {
					return got, fmt.Errorf("received %d bytes, tsize said %d", got, tsize)
				}
				return got, nil
			}
		}
	}
}

// parseOptions reads the NUL-separated name/value pairs of an OACK.
func parseOptions(b []byte) map[string]string {
	parts := bytes.Split(bytes.TrimRight(b, "\x00"), []byte{0})
	opts := map[string]string{}
	for i := 0; i+1 < len(parts); i += 2 {
		opts[string(bytes.ToLower(parts[i]))] = string(parts[i+1])
	}
	return opts
}

package tftp

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// pollConn is a transfer socket read through Go's netpoller: cheaper than
// udpConn when many transfers wait at once.
type pollConn struct {
	uc    *net.UDPConn
	slice time.Duration
}

// dialPoll opens a transfer socket from local (any address when nil) to
// remote. A receive waits at most slice.
func dialPoll(local net.IP, remote *net.UDPAddr, slice time.Duration) (*pollConn, error) {
	var la *net.UDPAddr
	if local != nil {
		la = &net.UDPAddr{IP: local}
	}
	uc, err := net.DialUDP("udp4", la, remote)
	if err != nil {
		return nil, fmt.Errorf("transfer socket: %w", err)
	}
	return &pollConn{uc: uc, slice: slice}, nil
}

func (c *pollConn) send(p []byte) error {
	_, err := c.uc.Write(p)
	return err
}

func (c *pollConn) recv(p []byte) (int, error) {
	if err := c.uc.SetReadDeadline(time.Now().Add(c.slice)); err != nil {
		return 0, err
	}
	n, err := c.uc.Read(p)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return 0, errWait
	}
	return n, err
}

func (c *pollConn) close() error { return c.uc.Close() }

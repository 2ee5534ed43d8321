//go:build !linux && !darwin

package linklayer

import (
	"errors"
	"net"
)

// ErrUnsupported: this system has no link-layer path here.
var ErrUnsupported = errors.New("linklayer: raw Ethernet frames are supported on Linux (AF_PACKET) and macOS (BPF) only")

// Conn is not available on this system.
type Conn struct{}

// Open always fails here.
func Open(string, ...uint16) (*Conn, error) { return nil, ErrUnsupported }

func (*Conn) HardwareAddr() net.HardwareAddr { return nil }
func (*Conn) Close() error                   { return nil }
func (*Conn) Read([]RawFrame) (int, error)   { return 0, ErrUnsupported }
func (*Conn) Write([]byte) error             { return ErrUnsupported }

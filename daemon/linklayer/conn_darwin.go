package linklayer

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Conn is a BPF device (/dev/bpfN) attached to one interface, as Apple's
// bootpd sends and receives. One goroutine reads it; writes may come from
// another.
//
// This shell is compiled, not run, on Linux: everything it does to a
// frame (the filter, the record walk, parsing and building) is shared and
// tested there.
type Conn struct {
	f      *os.File
	rc     syscall.RawConn
	closed atomic.Bool
	mac    net.HardwareAddr

	buf  []byte // one read of the device: BIOCGBLEN bytes
	rest []byte // records of the last read not yet handed out
}

// bpfBufferLen asks for a buffer big enough for a burst of DISCOVERs.
const bpfBufferLen = 1 << 19

// Open opens a BPF device on interface ifname that captures the frames
// Filter(ports...) accepts. With no ports it only sends. It needs root.
func Open(ifname string, ports ...uint16) (*Conn, error) {
	ifc, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("BPF device on %q: %w", ifname, err)
	}
	if len(ifc.HardwareAddr) != 6 {
		return nil, fmt.Errorf("BPF device on %s: not an Ethernet interface (hardware address %q)", ifname, ifc.HardwareAddr)
	}
	if len(ifname) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("BPF device on %s: interface name too long", ifname)
	}
	prog, err := Filter(ports...)
	if err != nil {
		return nil, err
	}
	fd, err := openBPF()
	if err != nil {
		return nil, err
	}
	fail := func(what string, err error) (*Conn, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("BPF device on %s: %s: %w", ifname, what, err)
	}
	// The buffer size must be set before the interface.
	if err := unix.IoctlSetPointerInt(fd, unix.BIOCSBLEN, bpfBufferLen); err != nil {
		return fail("BIOCSBLEN", err)
	}
	var ifr [32]byte // struct ifreq: the name, then a union
	copy(ifr[:], ifname)
	if err := ioctl(fd, unix.BIOCSETIF, unsafe.Pointer(&ifr[0])); err != nil {
		return fail("BIOCSETIF", err)
	}
	dlt, err := unix.IoctlGetInt(fd, unix.BIOCGDLT)
	if err != nil {
		return fail("BIOCGDLT", err)
	}
	if dlt != unix.DLT_EN10MB {
		return fail("link type", fmt.Errorf("%d is not Ethernet", dlt))
	}
	for _, o := range []struct {
		req  uint
		name string
		v    int
	}{
		{unix.BIOCIMMEDIATE, "BIOCIMMEDIATE", 1}, // a frame is readable when it arrives
		{unix.BIOCSHDRCMPLT, "BIOCSHDRCMPLT", 1}, // our source MAC is sent as written
		{unix.BIOCSSEESENT, "BIOCSSEESENT", 0},   // our own frames are not requests
	} {
		if err := unix.IoctlSetPointerInt(fd, o.req, o.v); err != nil {
			return fail(o.name, err)
		}
	}
	insns := make([]unix.BpfInsn, len(prog))
	for i, ins := range prog {
		insns[i] = unix.BpfInsn{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	p := unix.BpfProgram{Len: uint32(len(insns)), Insns: &insns[0]}
	if err := ioctl(fd, unix.BIOCSETF, unsafe.Pointer(&p)); err != nil {
		return fail("BIOCSETF", err)
	}
	blen, err := unix.IoctlGetInt(fd, unix.BIOCGBLEN)
	if err != nil {
		return fail("BIOCGBLEN", err)
	}
	f := os.NewFile(uintptr(fd), "bpf:"+ifname)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Conn{f: f, rc: rc, mac: ifc.HardwareAddr, buf: make([]byte, blen)}, nil
}

// openBPF opens the first free /dev/bpfN, non-blocking so Go's poller
// waits for it (BPF devices support kqueue).
func openBPF() (int, error) {
	var last error
	for i := range 256 {
		fd, err := unix.Open(fmt.Sprintf("/dev/bpf%d", i), unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err == nil {
			return fd, nil
		}
		last = err
		if !errors.Is(err, unix.EBUSY) {
			break
		}
	}
	return -1, fmt.Errorf("no BPF device could be opened (/dev/bpf*): %w (pixie needs root)", last)
}

func ioctl(fd int, req uint, arg unsafe.Pointer) error {
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg)); e != 0 {
		return e
	}
	return nil
}

// HardwareAddr is the interface's Ethernet address, the source of every
// frame written.
func (c *Conn) HardwareAddr() net.HardwareAddr { return c.mac }

// Close closes the device; a blocked Read returns an error wrapping
// os.ErrClosed.
func (c *Conn) Close() error {
	c.closed.Store(true)
	return c.f.Close()
}

// rcErr turns the poller's error on a closed descriptor, which is not
// os.ErrClosed, into net.ErrClosed, as a network socket's would be.
func (c *Conn) rcErr(err error) error {
	if c.closed.Load() {
		return fmt.Errorf("link-layer socket: %w", net.ErrClosed)
	}
	return err
}

// Read fills frames[:n] with the next captured frames, blocking until at
// least one arrives. Each frame's Buf must be set.
func (c *Conn) Read(frames []RawFrame) (int, error) {
	for {
		k := 0
		for k < len(frames) && len(c.rest) > 0 {
			frame, truncated, rest, err := nextBPFRecord(c.rest)
			if err != nil {
				c.rest = nil // the rest of this read cannot be trusted
				break
			}
			c.rest = rest
			n := copy(frames[k].Buf, frame)
			frames[k].N = n
			frames[k].Truncated = truncated || n < len(frame)
			frames[k].VLAN, frames[k].ChecksumPending = false, false
			k++
		}
		if k > 0 {
			return k, nil
		}
		var n int
		var rerr error
		err := c.rc.Read(func(fd uintptr) bool {
			n, rerr = unix.Read(int(fd), c.buf)
			return rerr != unix.EAGAIN && rerr != unix.EINTR
		})
		if err != nil {
			return 0, c.rcErr(err)
		}
		if rerr != nil {
			return 0, os.NewSyscallError("read BPF device", rerr)
		}
		c.rest = c.buf[:n]
	}
}

// Write sends one frame as it is; its first six bytes are the destination.
func (c *Conn) Write(frame []byte) error {
	if len(frame) < etherHeaderLen {
		return fmt.Errorf("linklayer: a %d-byte frame has no Ethernet header", len(frame))
	}
	var n int
	var werr error
	err := c.rc.Write(func(fd uintptr) bool {
		n, werr = unix.Write(int(fd), frame)
		return werr != unix.EAGAIN && werr != unix.EINTR
	})
	if err != nil {
		return c.rcErr(err)
	}
	if werr != nil {
		return os.NewSyscallError("write BPF device", werr)
	}
	if n != len(frame) {
		return fmt.Errorf("BPF device took %d of %d bytes", n, len(frame))
	}
	return nil
}

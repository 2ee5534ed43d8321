package netif

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The message layout routemsg.go writes by hand must be xnu's; this runs
// on the macOS CI runner.
func TestRouteMsgLayoutIsXNUs(t *testing.T) {
	var h unix.RtMsghdr
	got := []uintptr{rtMsghdrLen, rtmVersion, rtmGet, rtaDst, rtaNetmask, rtaIfp, afInet,
		4, 8, 12, 16, 20, 24}
	want := []uintptr{unix.SizeofRtMsghdr, unix.RTM_VERSION, unix.RTM_GET, unix.RTA_DST, unix.RTA_NETMASK, unix.RTA_IFP, unix.AF_INET,
		unsafe.Offsetof(h.Index), unsafe.Offsetof(h.Flags), unsafe.Offsetof(h.Addrs), unsafe.Offsetof(h.Pid), unsafe.Offsetof(h.Seq), unsafe.Offsetof(h.Errno)}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("constant/offset %d: pixie uses %d, xnu %d", i, got[i], want[i])
		}
	}
}

// The live question: on a Mac with any network there is a default route,
// and its interface exists.
func TestDefaultRouteInterfaceLive(t *testing.T) {
	name := DefaultRouteInterface()
	if name == "" {
		t.Skip("no IPv4 default route on this Mac")
	}
	cands, err := System()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cands {
		if c.Name == name {
			return
		}
	}
	t.Fatalf("default route via %q, which is not an interface here", name)
}

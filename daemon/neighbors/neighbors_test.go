package neighbors

import (
	"fmt"
	"net"
	"testing"
)

func TestTableIsBoundedAndKeepsRecent(t *testing.T) {
	tb := New(3)
	mac := func(i int) net.HardwareAddr { return net.HardwareAddr{0x52, 0x54, 0, 0, 0, byte(i)} }
	ip := func(i int) net.IP { return net.ParseIP(fmt.Sprintf("10.0.0.%d", i)) }
	for i := 1; i <= 3; i++ {
		tb.Seen(mac(i), ip(i))
	}
	tb.Seen(mac(1), ip(1)) // refresh 1, so 2 is now the oldest
	tb.Seen(mac(4), ip(4))
	if tb.Len() != 3 {
		t.Fatalf("len = %d, want 3", tb.Len())
	}
	if got := tb.MACFor(ip(2)); got != "" {
		t.Errorf("evicted entry still found: %q", got)
	}
	if got := tb.MACFor(ip(1)); got != "52:54:00:00:00:01" {
		t.Errorf("MACFor(ip1) = %q", got)
	}
	tb.Seen(mac(9), ip(4)) // address moved to another machine
	if got := tb.MACFor(ip(4)); got != "52:54:00:00:00:09" {
		t.Errorf("MACFor(ip4) = %q after reassignment", got)
	}
	tb.Seen(mac(5), net.IPv4zero)
	tb.Seen(net.HardwareAddr{1, 2}, ip(7))
	if tb.Len() != 3 || tb.MACFor(ip(7)) != "" {
		t.Errorf("unspecified IP or short MAC was stored")
	}
}

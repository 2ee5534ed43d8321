// Package neighbors remembers which MAC last used which IPv4 address, as
// seen in DHCP traffic, so TFTP transfers (which carry only an address) can
// be attributed to the machine that is booting. The table is bounded: a
// flood of spoofed clients evicts old entries instead of growing memory.
package neighbors

import (
	"container/list"
	"net"
	"sync"

	"github.com/pixie-boot/pixie/daemon/hwaddr"
)

// Table is a fixed-size least-recently-seen map from IP to MAC.
type Table struct {
	mu    sync.Mutex
	max   int
	order *list.List // front = most recent; values are *entry
	byIP  map[string]*list.Element
}

type entry struct{ ip, mac string }

// New returns a table holding at most max entries.
func New(max int) *Table {
	if max <= 0 {
		max = 4096
	}
	return &Table{max: max, order: list.New(), byIP: make(map[string]*list.Element)}
}

// Seen records that mac uses ip.
func (t *Table) Seen(mac net.HardwareAddr, ip net.IP) {
	ip4 := ip.To4()
	if ip4 == nil || ip4.IsUnspecified() || len(mac) != 6 {
		return
	}
	key, m := ip4.String(), hwaddr.String(mac)
	t.mu.Lock()
	defer t.mu.Unlock()
	if el, ok := t.byIP[key]; ok {
		el.Value.(*entry).mac = m
		t.order.MoveToFront(el)
		return
	}
	t.byIP[key] = t.order.PushFront(&entry{ip: key, mac: m})
	for t.order.Len() > t.max {
		old := t.order.Back()
		t.order.Remove(old)
		delete(t.byIP, old.Value.(*entry).ip)
	}
}

// MACFor returns the MAC last seen with ip, or "".
func (t *Table) MACFor(ip net.IP) string {
	ip4 := ip.To4()
	if ip4 == nil {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if el, ok := t.byIP[ip4.String()]; ok {
		return el.Value.(*entry).mac
	}
	return ""
}

// Len reports how many entries the table holds.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.order.Len()
}

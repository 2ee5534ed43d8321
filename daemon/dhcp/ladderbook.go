package dhcp

import (
	"context"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/pixie-boot/pixie/daemon/events"
)

// LadderStep is a rung a machine reached, for the store to remember.
type LadderStep struct {
	MAC    string
	Rung   Loader
	Reason string
	At     time.Time
}

// LadderSeed is one machine's stored loader choice and rung, read at start.
type LadderSeed struct {
	MAC  string
	Pin  Loader
	Rung Loader
}

// LadderBook holds every MAC's ladder state in memory, so that the DHCP
// hot path reads and updates it without touching the database. Steps are
// handed to a writer goroutine (RunWriter); the book outlives the DHCP
// server of one binding, so an address change does not forget attempts.
type LadderBook struct {
	def      Loader
	max      int
	firmware Firmware
	own      ownSets // machines whose image has its own shim (loaderset.go)
	save     chan LadderStep

	mu sync.Mutex
	m  map[string]*LadderState
}

// NewLadderBook returns a book whose machines default to def (LoaderAuto
// unless the server was started with --loader), holding about max
// transient entries (pins and rungs are always kept). fw says whether a
// shim set exists, the condition for the ladder's top rung.
func NewLadderBook(def Loader, max int, fw Firmware, seeds []LadderSeed) *LadderBook {
	if def == "" {
		def = LoaderAuto
	}
	b := &LadderBook{def: def, max: max, firmware: fw, save: make(chan LadderStep, 1024), m: make(map[string]*LadderState, len(seeds))}
	for _, s := range seeds {
		b.m[s.MAC] = &LadderState{Pin: s.Pin, Rung: s.Rung}
	}
	return b
}

// Default is the server's default loader.
func (b *LadderBook) Default() Loader { return b.def }

// Set records a person's choice for mac (from the control API): its pin,
// and its rung (empty after a reset). When either changed, the attempt in
// progress is forgotten, so a reset machine starts again at the bottom.
func (b *LadderBook) Set(mac string, pin, rung Loader) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if st := b.m[mac]; st != nil && st.Pin == pin && st.Rung == rung {
		return // another field of the machine changed: keep the attempt
	}
	b.m[mac] = &LadderState{Pin: pin, Rung: rung}
}

// Forget drops a machine whose record was removed.
func (b *LadderBook) Forget(mac string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, mac)
}

// State returns a copy of mac's state (zero if unknown).
func (b *LadderBook) State(mac string) LadderState {
	b.mu.Lock()
	defer b.mu.Unlock()
	if st := b.m[mac]; st != nil {
		return *st
	}
	return LadderState{}
}

// entry returns mac's state, making room for it if needed. Call with mu.
func (b *LadderBook) entry(mac string) *LadderState {
	if st := b.m[mac]; st != nil {
		return st
	}
	if len(b.m) >= b.max {
		// A flood of new MACs must not grow the map without bound: drop
		// transient entries (machines with no pin and no rung lose only an
		// attempt in progress).
		for k, st := range b.m {
			if (st.Pin == "" || st.Pin == LoaderAuto) && st.Rung == "" {
				delete(b.m, k)
				if len(b.m) < b.max*3/4 {
					break
				}
			}
		}
	}
	st := &LadderState{}
	b.m[mac] = st
	return st
}

// ladderChoice is what the book tells Reply for one request, and the
// event to record if the machine stepped.
type ladderChoice struct {
	loader   Loader
	pinned   bool
	pinnedBy string
	reason   string
}

// choose applies a request to mac's state and says which loader it gets.
// Only a firmware DISCOVER on port 67 is a new attempt that may step; an
// iPXE request is the loader coming back; everything else (the 4011
// follow-up, REQUESTs) gets the rung already reached.
func (b *LadderBook) choose(req *dhcpv4.DHCPv4, svc Service, mac string, ipxe bool, at time.Time) ladderChoice {
	arch, reason := clientArch(req, req.ClassIdentifier())
	ladder, arm64 := false, false
	if reason == "" {
		ladder, arm64 = onLadder(arch)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if ipxe {
		if st := b.m[mac]; st != nil && st.Offered != "" && st.CameBack.IsZero() {
			st.CameBack = at
		}
		return ladderChoice{}
	}
	if !ladder {
		return ladderChoice{}
	}
	st := b.entry(mac)
	if svc == ServiceDHCP && req.MessageType() == dhcpv4.MessageTypeDiscover {
		a := Attempt{At: at, HTTPClient: strings.HasPrefix(req.ClassIdentifier(), ClassHTTP),
			Retransmit: st.Offered != "" && req.TransactionID == st.XID}
		if a.Retransmit {
			return b.current(st)
		}
		// Whether a shim set exists matters only when ipxe.efi may have
		// been refused; asking costs a file lookup when it does not.
		grub := fileLoader(st.Offered) == LoaderIPXE && !st.Delivered.IsZero() && (b.hasGRUB(arm64) || b.ownGRUB(mac, arm64))
		c := ClimbLadder(*st, a, b.def, arm64, grub)
		out := ladderChoice{loader: c.Loader, pinned: c.Pinned, reason: c.Reason}
		if c.Pinned {
			out.pinnedBy = "machine"
			if st.Pin == "" || st.Pin == LoaderAuto {
				out.pinnedBy = "server"
			}
		}
		if c.Stepped {
			st.Rung = c.Loader
			select {
			case b.save <- LadderStep{MAC: mac, Rung: c.Loader, Reason: c.Reason, At: at}:
			default: // the writer is far behind; the rung holds in memory
			}
		}
		// Whatever happened, this DISCOVER starts a new attempt.
		if st.Offered != "" && (!st.Delivered.IsZero() || !st.CameBack.IsZero()) {
			st.Offered, st.Delivered, st.CameBack = "", time.Time{}, time.Time{}
		}
		return out
	}
	return b.current(st)
}

// current is the loader a request that is not a new attempt gets. Call
// with mu.
func (b *LadderBook) current(st *LadderState) ladderChoice {
	pin := st.Pin
	by := "machine"
	if pin == "" || pin == LoaderAuto {
		pin, by = b.def, "server"
	}
	if pin != LoaderAuto {
		return ladderChoice{loader: pin, pinned: true, pinnedBy: by}
	}
	return ladderChoice{loader: st.Rung}
}

// offered notes the first stage a machine was just given, in answer to a
// request with transaction ID xid (a DISCOVER when discover is true).
func (b *LadderBook) offered(mac string, d Decision, at time.Time, xid dhcpv4.TransactionID, discover bool) {
	if d.Loader == "" || d.IPXE {
		return
	}
	name := path.Base(d.BootFile)
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.m[mac]
	if st == nil {
		return
	}
	if st.Offered != name {
		st.Offered, st.OfferedAt, st.Delivered, st.CameBack = name, at, time.Time{}, time.Time{}
		if d.Class == ClassHTTP {
			st.Delivered = at
		}
	}
	if discover {
		st.XID = xid
	}
}

// hasGRUB reports whether a shim set exists for the architecture family.
func (b *LadderBook) hasGRUB(arm64 bool) bool {
	if b.firmware == nil {
		return false
	}
	return b.firmware.Has(loaderFile(LoaderGRUB, arm64))
}

// Observe takes the boot events other servers record: a completed TFTP
// transfer of the offered file is its delivery, a script fetch (iPXE
// script or GRUB config) is the loader coming back.
func (b *LadderBook) Observe(e events.Event) {
	if e.MAC == "" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.m[e.MAC]
	if st == nil || st.Offered == "" || e.Time.Before(st.OfferedAt) {
		return
	}
	switch e.Stage {
	case events.StageTFTP:
		// "snponly.efi 173792 bytes from ...": the file is the first word.
		name, _, _ := strings.Cut(e.Detail, " ")
		if path.Base(name) == st.Offered && st.Delivered.IsZero() {
			st.Delivered = e.Time
		}
	case events.StageScript:
		if st.CameBack.IsZero() {
			st.CameBack = e.Time
		}
	}
}

// Follow feeds Observe from an event stream until ctx ends or the stream
// closes.
func (b *LadderBook) Follow(ctx context.Context, es <-chan events.Event) {
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-es:
			if !ok {
				return
			}
			b.Observe(e)
		}
	}
}

// RunWriter saves the steps machines reach, off the DHCP path, until ctx
// ends. A failed save is passed to onErr and the rung still holds in
// memory until the daemon restarts.
func (b *LadderBook) RunWriter(ctx context.Context, save func(context.Context, LadderStep) error, onErr func(LadderStep, error)) {
	for {
		select {
		case <-ctx.Done():
			return
		case s := <-b.save:
			if err := save(ctx, s); err != nil && onErr != nil {
				onErr(s, err)
			}
		}
	}
}

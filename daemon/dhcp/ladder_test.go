package dhcp

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/pixie-boot/pixie/daemon/events"
)

var t0 = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func TestClimbLadder(t *testing.T) {
	// A machine given snponly.efi at t0 that fetched it 1 s later.
	delivered := func(file string) LadderState {
		return LadderState{Offered: file, OfferedAt: t0, Delivered: at(time.Second)}
	}
	tests := []struct {
		name  string
		st    LadderState
		a     Attempt
		def   Loader
		arm64 bool
		grub  bool
		want  Climb
	}{
		{
			name: "first boot gets the bottom rung",
			a:    Attempt{At: t0},
			want: Climb{Loader: LoaderSNPOnly},
		},
		{
			name: "snponly delivered, never came back, DISCOVER 20 s later: steps to ipxe",
			st:   delivered(FileSNPOnly),
			a:    Attempt{At: at(20 * time.Second)},
			want: Climb{Loader: LoaderIPXE, Stepped: true, Reason: "firmware did not run snponly.efi: stepping to ipxe.efi"},
		},
		{
			name: "HTTPClient DISCOVER seconds after snponly: steps, and says so",
			st:   delivered(FileSNPOnly),
			a:    Attempt{At: at(3 * time.Second), HTTPClient: true},
			want: Climb{Loader: LoaderIPXE, Stepped: true, Reason: "firmware did not run snponly.efi (it went on to UEFI HTTP boot): stepping to ipxe.efi"},
		},
		{
			name: "ipxe refused with a shim set: Secure Boot, offering shim",
			st:   LadderState{Rung: LoaderIPXE, Offered: FileEFIx64, OfferedAt: t0, Delivered: at(time.Second)},
			a:    Attempt{At: at(4 * time.Second), HTTPClient: true},
			grub: true,
			want: Climb{Loader: LoaderGRUB, Stepped: true, Reason: "firmware did not run ipxe.efi (it went on to UEFI HTTP boot): Secure Boot is probably on; offering shim"},
		},
		{
			name: "ipxe refused without a shim set: stays, and says why",
			st:   LadderState{Rung: LoaderIPXE, Offered: FileEFIx64, OfferedAt: t0, Delivered: at(time.Second)},
			a:    Attempt{At: at(30 * time.Second)},
			want: Climb{Loader: LoaderIPXE, Reason: "firmware did not run ipxe.efi: Secure Boot is probably on, and no shim/GRUB set is available for it (see `pixie doctor`); offering it again"},
		},
		{
			name: "snponly missing on the server: the refused ipxe.efi steps from its own rung",
			st:   delivered(FileEFIx64),
			a:    Attempt{At: at(10 * time.Second)},
			grub: true,
			want: Climb{Loader: LoaderGRUB, Stepped: true, Reason: "firmware did not run ipxe.efi: Secure Boot is probably on; offering shim"},
		},
		{
			name: "grub is the top: no step",
			st:   LadderState{Rung: LoaderGRUB, Offered: FileShimX64, OfferedAt: t0, Delivered: at(time.Second)},
			a:    Attempt{At: at(10 * time.Second)},
			grub: true,
			want: Climb{Loader: LoaderGRUB},
		},
		{
			name: "loader came back as iPXE: a later DISCOVER (reboot) does not step",
			st:   LadderState{Offered: FileSNPOnly, OfferedAt: t0, Delivered: at(time.Second), CameBack: at(3 * time.Second)},
			a:    Attempt{At: at(40 * time.Second)},
			want: Climb{Loader: LoaderSNPOnly},
		},
		{
			name: "not delivered (transfer failed or a retransmitted DISCOVER): no step",
			st:   LadderState{Offered: FileSNPOnly, OfferedAt: t0},
			a:    Attempt{At: at(4 * time.Second)},
			want: Climb{Loader: LoaderSNPOnly},
		},
		{
			name: "switched off: the next DISCOVER comes after a long silence, no step",
			st:   delivered(FileSNPOnly),
			a:    Attempt{At: at(StepWindow + 2*time.Second)},
			want: Climb{Loader: LoaderSNPOnly},
		},
		{
			name: "last moment of the window still steps",
			st:   delivered(FileSNPOnly),
			a:    Attempt{At: at(StepWindow + time.Second)},
			want: Climb{Loader: LoaderIPXE, Stepped: true, Reason: "firmware did not run snponly.efi: stepping to ipxe.efi"},
		},
		{
			name: "switched off after coming back, powered on a day later: no step",
			st:   LadderState{Rung: LoaderIPXE, Offered: FileEFIx64, OfferedAt: t0, Delivered: at(time.Second), CameBack: at(7 * time.Second)},
			a:    Attempt{At: at(24 * time.Hour)},
			grub: true,
			want: Climb{Loader: LoaderIPXE},
		},
		{
			name: "pinned on the machine: never steps",
			st:   LadderState{Pin: LoaderSNPOnly, Offered: FileSNPOnly, OfferedAt: t0, Delivered: at(time.Second)},
			a:    Attempt{At: at(5 * time.Second), HTTPClient: true},
			grub: true,
			want: Climb{Loader: LoaderSNPOnly, Pinned: true},
		},
		{
			name: "server default pins every auto machine",
			st:   delivered(FileEFIx64),
			a:    Attempt{At: at(5 * time.Second)},
			def:  LoaderIPXE,
			grub: true,
			want: Climb{Loader: LoaderIPXE, Pinned: true},
		},
		{
			name: "a machine pin wins over the server default",
			st:   LadderState{Pin: LoaderGRUB},
			a:    Attempt{At: t0},
			def:  LoaderIPXE,
			want: Climb{Loader: LoaderGRUB, Pinned: true},
		},
		{
			name: "a reset machine (auto, no rung, no attempt) starts at the bottom",
			st:   LadderState{Pin: LoaderAuto},
			a:    Attempt{At: t0},
			def:  LoaderAuto,
			want: Climb{Loader: LoaderSNPOnly},
		},
		{
			name:  "arm64: refused ipxe-arm64.efi steps to shimaa64",
			st:    LadderState{Rung: LoaderIPXE, Offered: FileEFIARM64, OfferedAt: t0, Delivered: at(time.Second)},
			a:     Attempt{At: at(6 * time.Second)},
			arm64: true,
			grub:  true,
			want:  Climb{Loader: LoaderGRUB, Stepped: true, Reason: "firmware did not run ipxe-arm64.efi: Secure Boot is probably on; offering shim"},
		},
		{
			name:  "arm64 snponly refused names ipxe-arm64.efi",
			st:    delivered(FileSNPOnlyARM64),
			a:     Attempt{At: at(6 * time.Second)},
			arm64: true,
			want:  Climb{Loader: LoaderIPXE, Stepped: true, Reason: "firmware did not run snponly-arm64.efi: stepping to ipxe-arm64.efi"},
		},
		{
			name: "the answered DISCOVER retransmitted: no step",
			st:   delivered(FileSNPOnly),
			a:    Attempt{At: at(3 * time.Second), Retransmit: true},
			want: Climb{Loader: LoaderSNPOnly},
		},
		{
			name: "clock went backwards: no step",
			st:   delivered(FileSNPOnly),
			a:    Attempt{At: at(-time.Minute)},
			want: Climb{Loader: LoaderSNPOnly},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def := tt.def
			if def == "" {
				def = LoaderAuto
			}
			got := ClimbLadder(tt.st, tt.a, def, tt.arm64, tt.grub)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ClimbLadder (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReplyLoader(t *testing.T) {
	shims := firmwareSet{FileSNPOnly: true, FileEFIx64: true, FileEFIARM64: true, FileShimX64: true, FileShimARM64: true}
	noSNP := firmwareSet{FileEFIx64: true}
	onlyShimARM := firmwareSet{FileShimARM64: true}
	tests := []struct {
		name     string
		arch     uint16
		http     bool
		cfg      ReplyConfig
		wantFile string // "" means ignored for missing firmware
		wantNote string
	}{
		{name: "x64 default is snponly", arch: 7, cfg: ReplyConfig{Firmware: shims}, wantFile: FileSNPOnly, wantNote: "loader auto"},
		{name: "efi bc default is snponly", arch: 9, cfg: ReplyConfig{Firmware: shims}, wantFile: FileSNPOnly, wantNote: "loader auto"},
		{name: "no snponly.efi: falls to ipxe.efi", arch: 7, cfg: ReplyConfig{Firmware: noSNP}, wantFile: FileEFIx64, wantNote: "loader auto"},
		{name: "rung ipxe", arch: 7, cfg: ReplyConfig{Firmware: shims, Loader: LoaderIPXE}, wantFile: FileEFIx64, wantNote: "loader auto, stepped to ipxe"},
		{name: "rung grub x64", arch: 7, cfg: ReplyConfig{Firmware: shims, Loader: LoaderGRUB}, wantFile: FileShimX64, wantNote: "loader auto, stepped to grub"},
		{name: "rung grub arm64", arch: 11, cfg: ReplyConfig{Firmware: shims, Loader: LoaderGRUB}, wantFile: FileShimARM64, wantNote: "loader auto, stepped to grub"},
		{name: "arm64 without snponly gets ipxe-arm64", arch: 11, cfg: ReplyConfig{Firmware: shims}, wantFile: FileEFIARM64, wantNote: "loader auto"},
		{name: "arm64 without any iPXE gets shim", arch: 11, cfg: ReplyConfig{Firmware: onlyShimARM}, wantFile: FileShimARM64, wantNote: "loader auto"},
		{name: "pinned grub", arch: 7, cfg: ReplyConfig{Firmware: shims, Loader: LoaderGRUB, Pinned: true, PinnedBy: "machine"}, wantFile: FileShimX64, wantNote: "loader grub, set on the machine"},
		{name: "pinned grub without shim: not answered", arch: 7, cfg: ReplyConfig{Firmware: noSNP, Loader: LoaderGRUB, Pinned: true, PinnedBy: "machine"}},
		{name: "pinned snponly without the file: not answered", arch: 7, cfg: ReplyConfig{Firmware: noSNP, Loader: LoaderSNPOnly, Pinned: true, PinnedBy: "server"}},
		{name: "--efi-file replaces the ladder", arch: 7, cfg: ReplyConfig{Firmware: shims, EFIFile: FileEFIx64, Loader: LoaderGRUB}, wantFile: FileEFIx64, wantNote: "--efi-file"},
		{name: "--efi-file yields to a machine pin", arch: 7, cfg: ReplyConfig{Firmware: shims, EFIFile: FileEFIx64, Loader: LoaderGRUB, Pinned: true, PinnedBy: "machine"}, wantFile: FileShimX64, wantNote: "loader grub, set on the machine"},
		{name: "--efi-file does not touch arm64", arch: 11, cfg: ReplyConfig{Firmware: shims, EFIFile: FileEFIx64}, wantFile: FileEFIARM64, wantNote: "loader auto"},
		{name: "http boot gets the URL of the rung", arch: 16, http: true, cfg: ReplyConfig{Firmware: shims, Loader: LoaderIPXE}, wantFile: "http://10.78.0.2:8080/firmware/ipxe.efi", wantNote: "loader auto, stepped to ipxe"},
		{name: "bios ignores the loader", arch: 0, cfg: ReplyConfig{Firmware: firmwareSet{FileBIOS: true}, Loader: LoaderGRUB, Pinned: true, PinnedBy: "machine"}, wantFile: FileBIOS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.ServerIP, cfg.HTTPPort = serverIP, 8080
			mod := pxe(tt.arch)
			if tt.http {
				mod = httpBoot(tt.arch)
			}
			_, d := Reply(request(dhcpv4.MessageTypeDiscover, mod), ServiceDHCP, cfg)
			if tt.wantFile == "" {
				if !d.Ignored() {
					t.Fatalf("answered with %q, want no answer (firmware missing)", d.BootFile)
				}
				return
			}
			if d.BootFile != tt.wantFile || d.LoaderNote != tt.wantNote {
				t.Errorf("got %q (%q), want %q (%q)", d.BootFile, d.LoaderNote, tt.wantFile, tt.wantNote)
			}
		})
	}
}

// bookStep is one thing that happens to a machine, in time order.
type bookStep struct {
	after time.Duration
	// One of: a DHCP request, an event from another server, or a person's
	// change through the control API.
	req   *dhcpv4.DHCPv4
	svc   Service
	event *events.Event
	set   *LadderSeed
	// retransmit keeps the transaction ID of the request before; every
	// other request gets a new one, as firmware does for a new attempt.
	retransmit bool
	// For requests: the loader the request is given and the event, if any.
	wantLoader Loader
	wantReason string
}

func TestLadderBookSequences(t *testing.T) {
	mac := testMAC.String()
	fw := firmwareSet{FileSNPOnly: true, FileEFIx64: true, FileShimX64: true}
	discover := request(dhcpv4.MessageTypeDiscover, pxe(7))
	httpDiscover := request(dhcpv4.MessageTypeDiscover, httpBoot(16))
	pxeRequest := request(dhcpv4.MessageTypeRequest, pxe(7))
	ipxe := request(dhcpv4.MessageTypeDiscover, pxe(7), opt(77, "iPXE"))
	tftp := func(file string) *events.Event {
		return &events.Event{MAC: mac, Stage: events.StageTFTP, Detail: file + " 173792 bytes from data-dir"}
	}
	script := &events.Event{MAC: mac, Stage: events.StageScript, Detail: "default profile"}
	stepIPXE := "firmware did not run snponly.efi: stepping to ipxe.efi"
	stepGRUB := "firmware did not run ipxe.efi (it went on to UEFI HTTP boot): Secure Boot is probably on; offering shim"

	tests := []struct {
		name  string
		def   Loader
		steps []bookStep
		saved []Loader
	}{
		{
			name: "healthy boot, then a reboot: snponly throughout",
			steps: []bookStep{
				{req: discover, svc: ServiceDHCP, wantLoader: LoaderSNPOnly},
				{after: 2 * time.Second, req: pxeRequest, svc: ServicePXE, wantLoader: LoaderSNPOnly},
				{after: 2100 * time.Millisecond, event: tftp(FileSNPOnly)},
				{after: 4 * time.Second, req: ipxe, svc: ServiceDHCP},
				{after: 5 * time.Second, event: script},
				{after: 60 * time.Second, req: discover, svc: ServiceDHCP, wantLoader: LoaderSNPOnly},
			},
		},
		{
			name: "size probe only, DISCOVER retransmitted: no step",
			steps: []bookStep{
				{req: discover, svc: ServiceDHCP, wantLoader: LoaderSNPOnly},
				{after: 4 * time.Second, req: discover, svc: ServiceDHCP, wantLoader: LoaderSNPOnly},
				{after: 8 * time.Second, req: discover, svc: ServiceDHCP, wantLoader: LoaderSNPOnly},
			},
		},
		{
			name: "Secure Boot: snponly refused, ipxe refused, shim offered and kept",
			steps: []bookStep{
				{req: discover, svc: ServiceDHCP, wantLoader: LoaderSNPOnly},
				{after: time.Second, event: tftp(FileSNPOnly)},
				{after: 3 * time.Second, req: discover, svc: ServiceDHCP, wantLoader: LoaderIPXE, wantReason: stepIPXE},
				{after: 4 * time.Second, req: pxeRequest, svc: ServicePXE, wantLoader: LoaderIPXE},
				{after: 5 * time.Second, event: tftp(FileEFIx64)},
				{after: 7 * time.Second, req: httpDiscover, svc: ServiceDHCP, wantLoader: LoaderGRUB, wantReason: stepGRUB},
				{after: 20 * time.Second, event: script},
				{after: time.Hour, req: discover, svc: ServiceDHCP, wantLoader: LoaderGRUB},
			},
			saved: []Loader{LoaderIPXE, LoaderGRUB},
		},
		{
			name: "a DISCOVER retransmitted after the download is the same attempt",
			steps: []bookStep{
				{req: discover, svc: ServiceDHCP, wantLoader: LoaderSNPOnly},
				{after: time.Second, event: tftp(FileSNPOnly)},
				{after: 2 * time.Second, req: discover, svc: ServiceDHCP, retransmit: true, wantLoader: LoaderSNPOnly},
			},
		},
		{
			name: "Secure Boot through HTTP boot: the HTTP offer counts as delivered, the next boot gets shim",
			steps: []bookStep{
				{req: discover, svc: ServiceDHCP, wantLoader: LoaderSNPOnly},
				{after: time.Second, event: tftp(FileSNPOnly)},
				{after: 60 * time.Second, req: httpDiscover, svc: ServiceDHCP, wantLoader: LoaderIPXE,
					wantReason: "firmware did not run snponly.efi (it went on to UEFI HTTP boot): stepping to ipxe.efi"},
				{after: 61 * time.Second, req: httpDiscover, svc: ServiceDHCP, retransmit: true, wantLoader: LoaderIPXE},
				{after: 5 * time.Minute, req: discover, svc: ServiceDHCP, wantLoader: LoaderGRUB,
					wantReason: "firmware did not run ipxe.efi: Secure Boot is probably on; offering shim"},
			},
			saved: []Loader{LoaderIPXE, LoaderGRUB},
		},
		{
			name: "a TFTP event for another file is no delivery",
			steps: []bookStep{
				{req: discover, svc: ServiceDHCP, wantLoader: LoaderSNPOnly},
				{after: time.Second, event: tftp(FileEFIx64)},
				{after: 3 * time.Second, req: discover, svc: ServiceDHCP, wantLoader: LoaderSNPOnly},
			},
		},
		{
			name: "switched off after the download: no step an hour later",
			steps: []bookStep{
				{req: discover, svc: ServiceDHCP, wantLoader: LoaderSNPOnly},
				{after: time.Second, event: tftp(FileSNPOnly)},
				{after: time.Hour, req: discover, svc: ServiceDHCP, wantLoader: LoaderSNPOnly},
			},
		},
		{
			name: "reset by --loader auto starts at the bottom again",
			steps: []bookStep{
				{set: &LadderSeed{MAC: mac, Pin: LoaderAuto, Rung: LoaderGRUB}},
				{req: discover, svc: ServiceDHCP, wantLoader: LoaderGRUB},
				{after: time.Second, set: &LadderSeed{MAC: mac, Pin: LoaderAuto}},
				{after: 2 * time.Second, req: discover, svc: ServiceDHCP, wantLoader: LoaderSNPOnly},
			},
		},
		{
			name: "pinned ipxe: refused again and again, never steps",
			steps: []bookStep{
				{set: &LadderSeed{MAC: mac, Pin: LoaderIPXE}},
				{req: discover, svc: ServiceDHCP, wantLoader: LoaderIPXE},
				{after: time.Second, event: tftp(FileEFIx64)},
				{after: 3 * time.Second, req: httpDiscover, svc: ServiceDHCP, wantLoader: LoaderIPXE},
				{after: 4 * time.Second, event: tftp(FileEFIx64)},
				{after: 6 * time.Second, req: discover, svc: ServiceDHCP, wantLoader: LoaderIPXE},
			},
		},
		{
			name: "server default grub",
			def:  LoaderGRUB,
			steps: []bookStep{
				{req: discover, svc: ServiceDHCP, wantLoader: LoaderGRUB},
				{after: time.Second, req: pxeRequest, svc: ServicePXE, wantLoader: LoaderGRUB},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def := tt.def
			if def == "" {
				def = LoaderAuto
			}
			b := NewLadderBook(def, 16, fw, nil)
			cfg := ReplyConfig{ServerIP: serverIP, HTTPPort: 8080, Firmware: fw}
			var xid byte
			for i, s := range tt.steps {
				now := at(s.after)
				switch {
				case s.set != nil:
					b.Set(s.set.MAC, s.set.Pin, s.set.Rung)
				case s.event != nil:
					e := *s.event
					e.Time = now
					b.Observe(e)
				default:
					req := *s.req
					if !s.retransmit {
						xid++
					}
					req.TransactionID = dhcpv4.TransactionID{0, 0, 0, xid}
					s.req = &req
					c := b.choose(s.req, s.svc, mac, isIPXE(s.req), now)
					got := c.loader
					if got == "" && !isIPXE(s.req) {
						got = LoaderSNPOnly // the bottom rung, as Reply reads it
					}
					if got != s.wantLoader || c.reason != s.wantReason {
						t.Fatalf("step %d: got %q (%q), want %q (%q)", i, got, c.reason, s.wantLoader, s.wantReason)
					}
					rc := cfg
					rc.Loader, rc.Pinned, rc.PinnedBy = c.loader, c.pinned, c.pinnedBy
					_, d := Reply(s.req, s.svc, rc)
					if d.Ignored() {
						t.Fatalf("step %d: request ignored: %s", i, d.Reason)
					}
					b.offered(mac, d, now, s.req.TransactionID, s.svc == ServiceDHCP && s.req.MessageType() == dhcpv4.MessageTypeDiscover)
				}
			}
			var saved []Loader
			for len(b.save) > 0 {
				saved = append(saved, (<-b.save).Rung)
			}
			if diff := cmp.Diff(tt.saved, saved); diff != "" {
				t.Errorf("saved rungs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLadderBookBounded(t *testing.T) {
	b := NewLadderBook(LoaderAuto, 100, firmwareSet{FileSNPOnly: true}, []LadderSeed{{MAC: "02:00:00:00:00:01", Rung: LoaderIPXE}})
	for i := range 1000 {
		req := request(dhcpv4.MessageTypeDiscover, pxe(7), func(d *dhcpv4.DHCPv4) {
			d.ClientHWAddr = []byte{0x02, 0x01, 0, 0, byte(i >> 8), byte(i)}
		})
		b.choose(req, ServiceDHCP, req.ClientHWAddr.String(), false, t0)
	}
	if n := len(b.m); n > 100 {
		t.Errorf("book holds %d entries, want at most 100", n)
	}
	if st := b.State("02:00:00:00:00:01"); st.Rung != LoaderIPXE {
		t.Errorf("the stepped machine was evicted: %+v", st)
	}
}

package dhcp

import (
	"path"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/pixie-boot/pixie/daemon/events"
)

// fakeSets gives each MAC the image folder its profile boots.
type fakeSets map[string]string

func (f fakeSets) ShimFor(mac, shim string) string {
	if dir, ok := f[mac]; ok {
		return "img/" + dir + "/" + shim
	}
	return ""
}

func TestOwnShim(t *testing.T) {
	const fcos = "fedora-coreos/stable/x86_64/43.20251110.3.1"
	const fcosARM = "fedora-coreos/stable/aarch64/43.20251110.3.1"
	own := "img/" + fcos + "/" + FileShimX64
	ownARM := "img/" + fcosARM + "/" + FileShimARM64
	both := firmwareSet{FileSNPOnly: true, FileEFIx64: true, FileShimX64: true, FileShimARM64: true, own: true, ownARM: true}
	onlyOwn := firmwareSet{FileSNPOnly: true, own: true}
	mac := testMAC.String()
	sets := fakeSets{mac: fcos}
	tests := []struct {
		name     string
		arch     uint16
		http     bool
		cfg      ReplyConfig
		wantFile string // "" means not answered
		wantNote string
	}{
		{name: "grub rung: the image's shim", arch: 7, cfg: ReplyConfig{Firmware: both, LoaderSets: sets, Loader: LoaderGRUB},
			wantFile: own, wantNote: "loader auto, stepped to grub; the profile image's own shim and GRUB"},
		{name: "pinned grub: the image's shim", arch: 7, cfg: ReplyConfig{Firmware: both, LoaderSets: sets, Loader: LoaderGRUB, Pinned: true, PinnedBy: "machine"},
			wantFile: own, wantNote: "loader grub, set on the machine; the profile image's own shim and GRUB"},
		{name: "pinned grub, no server-wide shim: the image's", arch: 7, cfg: ReplyConfig{Firmware: onlyOwn, LoaderSets: sets, Loader: LoaderGRUB, Pinned: true, PinnedBy: "server"},
			wantFile: own, wantNote: "loader grub, set on the server; the profile image's own shim and GRUB"},
		{name: "arm64 grub: the image's aa64 shim", arch: 11, cfg: ReplyConfig{Firmware: both, LoaderSets: fakeSets{mac: fcosARM}, Loader: LoaderGRUB},
			wantFile: ownARM, wantNote: "loader auto, stepped to grub; the profile image's own shim and GRUB"},
		{name: "the image's shim is missing: the server's", arch: 7, cfg: ReplyConfig{Firmware: firmwareSet{FileShimX64: true}, LoaderSets: sets, Loader: LoaderGRUB},
			wantFile: FileShimX64, wantNote: "loader auto, stepped to grub"},
		{name: "another machine: the server's", arch: 7, cfg: ReplyConfig{Firmware: both, LoaderSets: fakeSets{"52:54:00:99:99:99": fcos}, Loader: LoaderGRUB},
			wantFile: FileShimX64, wantNote: "loader auto, stepped to grub"},
		{name: "iPXE rungs are not touched", arch: 7, cfg: ReplyConfig{Firmware: both, LoaderSets: sets},
			wantFile: FileSNPOnly, wantNote: "loader auto"},
		{name: "UEFI HTTP boot: the image's shim by URL", arch: 16, http: true, cfg: ReplyConfig{Firmware: both, LoaderSets: sets, Loader: LoaderGRUB},
			wantFile: "http://10.78.0.2:8080/firmware/" + own, wantNote: "loader auto, stepped to grub; the profile image's own shim and GRUB"},
		{name: "a path too long for the BOOTP file field: the server's", arch: 7, cfg: ReplyConfig{Firmware: firmwareSet{FileShimX64: true, "img/" + strings.Repeat("x", 100) + "/" + FileShimX64: true},
			LoaderSets: fakeSets{mac: strings.Repeat("x", 100)}, Loader: LoaderGRUB}, wantFile: FileShimX64, wantNote: "loader auto, stepped to grub"},
		{name: "no loader sets", arch: 7, cfg: ReplyConfig{Firmware: both, Loader: LoaderGRUB},
			wantFile: FileShimX64, wantNote: "loader auto, stepped to grub"},
		{name: "--efi-file wins for machines on auto", arch: 7, cfg: ReplyConfig{Firmware: both, LoaderSets: sets, EFIFile: FileEFIx64, Loader: LoaderGRUB},
			wantFile: FileEFIx64, wantNote: "--efi-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.ServerIP, cfg.HTTPPort = serverIP, 8080
			mod := pxe(tt.arch)
			if tt.http {
				mod = httpBoot(tt.arch)
			}
			resp, d := Reply(request(dhcpv4.MessageTypeDiscover, mod), ServiceDHCP, cfg)
			if tt.wantFile == "" {
				if !d.Ignored() {
					t.Fatalf("answered with %q", d.BootFile)
				}
				return
			}
			if d.BootFile != tt.wantFile || d.LoaderNote != tt.wantNote {
				t.Fatalf("got %q (%q), want %q (%q)", d.BootFile, d.LoaderNote, tt.wantFile, tt.wantNote)
			}
			if want := fileLoader(path.Base(tt.wantFile)); d.Loader != want && tt.wantNote != "--efi-file" {
				t.Fatalf("loader %q, want %q", d.Loader, want)
			}
			// The path fits the BOOTP file field and is what goes on the wire.
			if w := onWire(t, resp); w.File != tt.wantFile && !tt.http {
				t.Fatalf("file on the wire %q", w.File)
			}
		})
	}
}

// A server with no shim of its own still climbs a Secure Boot machine to
// GRUB when the machine's image has its own set, and offers that shim.
func TestLadderClimbsToOwnSet(t *testing.T) {
	const dir = "fedora-coreos/stable/x86_64/43.20251110.3.1"
	own := "img/" + dir + "/" + FileShimX64
	fw := firmwareSet{FileSNPOnly: true, FileEFIx64: true, own: true}
	mac := testMAC.String()
	for _, withSets := range []bool{false, true} {
		b := NewLadderBook(LoaderAuto, 100, fw, nil)
		cfg := ReplyConfig{ServerIP: serverIP, HTTPPort: 8080, Firmware: fw}
		if withSets {
			b.UseLoaderSets(fakeSets{mac: dir}, fw)
			cfg.LoaderSets = fakeSets{mac: dir}
		}
		now := t0
		var last Decision
		var lastReason string
		for i, file := range []string{FileSNPOnly, FileEFIx64, ""} {
			req := request(dhcpv4.MessageTypeDiscover, pxe(7), func(d *dhcpv4.DHCPv4) { d.TransactionID = dhcpv4.TransactionID{0, 0, 0, byte(i + 1)} })
			c := b.choose(req, ServiceDHCP, mac, false, now)
			rc := cfg
			rc.Loader, rc.Pinned, rc.PinnedBy = c.loader, c.pinned, c.pinnedBy
			_, d := Reply(req, ServiceDHCP, rc)
			if d.Ignored() {
				t.Fatalf("attempt %d ignored: %s", i, d.Reason)
			}
			b.offered(mac, d, now, req.TransactionID, true)
			last, lastReason = d, c.reason
			if file != "" {
				now = now.Add(time.Second)
				b.Observe(events.Event{MAC: mac, Stage: events.StageTFTP, Time: now, Detail: file + " 1000 bytes from data-dir"})
				now = now.Add(3 * time.Second)
			}
		}
		switch {
		case withSets && (last.BootFile != own || !strings.Contains(lastReason, "offering shim")):
			t.Errorf("with the image's set: offered %q (%q), want %s", last.BootFile, lastReason, own)
		case !withSets && (last.BootFile != FileEFIx64 || !strings.Contains(lastReason, "no shim/GRUB set is available")):
			t.Errorf("without loader sets: offered %q (%q), want ipxe.efi again with the explanation", last.BootFile, lastReason)
		}
	}
}

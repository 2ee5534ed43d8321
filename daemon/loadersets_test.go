package daemon

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
	pintftp "github.com/pin/tftp/v3"

	"github.com/pixie-boot/pixie/daemon/dhcp"
	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/firmware"
	"github.com/pixie-boot/pixie/daemon/httpboot"
	"github.com/pixie-boot/pixie/daemon/store"
	"github.com/pixie-boot/pixie/daemon/tftp"
)

const fcosImage = "fedora-coreos/stable/x86_64/43.20251110.3.1"

type eventLog struct {
	mu sync.Mutex
	es []events.Event
}

func (l *eventLog) Record(_ context.Context, e events.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.es = append(l.es, e)
}

func (l *eventLog) all() []events.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]events.Event(nil), l.es...)
}

// TestImageLoaderSetOfferedAndServed is the per-profile loader set end to
// end on loopback: a machine pinned to GRUB whose profile boots a Fedora
// CoreOS image with its own shim and GRUB is offered that shim by path
// (the real store decides), and pixie's TFTP server sends it, then the
// GRUB shim asks for in the same folder, then the GRUB config that
// Fedora's GRUB asks for under that folder; a machine whose profile's
// image has no set of its own gets the server-wide shim.
func TestImageLoaderSetOfferedAndServed(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	assets := filepath.Join(data, "assets")
	loaders := filepath.Join(assets, fcosImage, firmware.ImageLoaderDir)
	debianDir := filepath.Join(assets, "generic/debian")
	for _, d := range []string{loaders, debianDir, firmware.OverrideDir(data)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fedoraShim, fedoraGRUB := bytes.Repeat([]byte("fedora shim "), 9000), bytes.Repeat([]byte("fedora grub "), 20000)
	write := func(p string, b []byte) {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(loaders, "shimx64.efi"), fedoraShim)
	write(filepath.Join(loaders, "grubx64.efi"), fedoraGRUB)
	write(filepath.Join(assets, fcosImage, "kernel"), []byte("fcos kernel"))
	write(filepath.Join(assets, fcosImage, "initramfs.img"), []byte("fcos initramfs"))
	write(filepath.Join(debianDir, "vmlinuz"), []byte("debian kernel"))
	write(filepath.Join(firmware.OverrideDir(data), "shimx64.efi"), []byte("debian shim"))

	st, err := store.Open(ctx, filepath.Join(data, "pixie.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, p := range []store.Profile{
		{Name: "fcos", OS: "fedora-coreos", Kernel: fcosImage + "/kernel", Initrds: []string{fcosImage + "/initramfs.img"}, Args: "ignition.firstboot"},
		{Name: "debian", OS: "generic", Kernel: "generic/debian/vmlinuz"},
	} {
		if _, err := st.CreateProfile(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	const fcosMAC, debMAC = "52:54:00:11:00:01", "52:54:00:11:00:02"
	for mac, prof := range map[string]string{fcosMAC: "fcos", debMAC: "debian"} {
		if _, err := st.PutMachine(ctx, store.Machine{MAC: mac, Profile: prof, Loader: "grub"}); err != nil {
			t.Fatal(err)
		}
	}

	fw := firmware.WithImages{Set: firmware.NewFrom(firmware.Dirs{DataDir: data}, nil), AssetsDir: assets}
	sets := newImageLoaders(st)
	offer := func(mac string) string {
		hw, _ := net.ParseMAC(mac)
		req, _ := dhcpv4.New(dhcpv4.WithHwAddr(hw), dhcpv4.WithMessageType(dhcpv4.MessageTypeDiscover),
			dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00007:UNDI:003016")),
			dhcpv4.WithOption(dhcpv4.OptClientArch(iana.EFI_X86_64)))
		_, d := dhcp.Reply(req, dhcp.ServiceDHCP, dhcp.ReplyConfig{ServerIP: netip.MustParseAddr("127.0.0.1"), HTTPPort: 8080,
			Loader: dhcp.LoaderGRUB, Pinned: true, PinnedBy: "machine", Firmware: fw, LoaderSets: sets})
		return d.BootFile
	}
	ownShim := "img/" + fcosImage + "/shimx64.efi"
	if got := offer(fcosMAC); got != ownShim {
		t.Fatalf("the Fedora CoreOS machine is offered %q, want %q", got, ownShim)
	}
	if got := offer(debMAC); got != "shimx64.efi" {
		t.Fatalf("the Debian machine is offered %q, want the server-wide shimx64.efi", got)
	}

	// pixie's TFTP server, with the GRUB files of its HTTP boot server.
	root, err := os.OpenRoot(assets)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	evs := &eventLog{}
	log := slog.New(slog.DiscardHandler)
	boot := httpboot.New(httpboot.Config{ServerURL: func() string { return "http://127.0.0.1:8080" }}, httpboot.Deps{
		Log: log, Store: st, Assets: root, Events: evs, Counters: events.NewCounters()})
	srv := tftp.New(tftp.Config{Timeout: 500 * time.Millisecond, Retries: 3}, tftp.Deps{
		Log: log, Files: fw, Events: evs, Generated: grubFiles{boot},
		MACFor: func(net.IP) string { return fcosMAC }})
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.ServeConn(sctx, conn) }()
	defer func() { cancel(); <-done }()

	c, err := pintftp.NewClient(conn.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.SetTimeout(2 * time.Second)
	get := func(name string) ([]byte, error) {
		wt, err := c.Receive(name, "octet")
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		_, err = wt.WriteTo(&b)
		return b.Bytes(), err
	}
	for name, want := range map[string][]byte{ownShim: fedoraShim, "img/" + fcosImage + "/grubx64.efi": fedoraGRUB} {
		b, err := get(name)
		if err != nil || !bytes.Equal(b, want) {
			t.Fatalf("%s: %d bytes, %v", name, len(b), err)
		}
	}
	// Fedora's GRUB looks for its config in the folder it came from.
	cfg, err := get("img/" + fcosImage + "/grub.cfg-01-52-54-00-11-00-01")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), "/pixie/52-54-00-11-00-01/kernel") || !strings.Contains(string(cfg), "profile fcos") {
		t.Fatalf("GRUB config:\n%s", cfg)
	}
	// Nothing else of the asset store is served under img/.
	for _, name := range []string{"img/" + fcosImage + "/kernel", "img/" + fcosImage + "/../../../../pixie.db"} {
		if b, err := get(name); err == nil {
			t.Errorf("%s served (%d bytes)", name, len(b))
		}
	}
	if b, err := get("img/" + fcosImage + "/revocations_sbat.efi"); err == nil {
		t.Errorf("optional file served (%d bytes)", len(b))
	}

	// The downloads are boot events under the plain loader names, so the
	// ladder sees the offered shim delivered.
	deadline := time.Now().Add(5 * time.Second)
	var tftpDetails []string
	for time.Now().Before(deadline) {
		tftpDetails = nil
		for _, e := range evs.all() {
			if e.Stage == events.StageTFTP && e.MAC == fcosMAC {
				tftpDetails = append(tftpDetails, e.Detail)
			}
		}
		if len(tftpDetails) == 2 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	joined := "\n" + strings.Join(tftpDetails, "\n")
	if len(tftpDetails) != 2 || !containsAll(joined, "\nshimx64.efi ", "\ngrubx64.efi ", "from image "+fcosImage) {
		t.Fatalf("TFTP events %q", tftpDetails)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}

func TestWithoutImagePrefix(t *testing.T) {
	const img = "img/" + fcosImage + "/"
	for in, want := range map[string]string{
		img + "shimx64.efi":                   img + "shimx64.efi", // a loader: the firmware lookup's
		img + "grubaa64.efi":                  img + "grubaa64.efi",
		img + "grub.cfg-01-52-54-00-11-00-01": "grub.cfg-01-52-54-00-11-00-01",
		"/" + img + "grub.cfg":                "grub.cfg",
		img + "x86_64-efi/command.lst":        "grub/x86_64-efi/command.lst",
		img + "fonts/unicode.pf2":             "grub/fonts/unicode.pf2",
		"grub/grub.cfg":                       "grub/grub.cfg",
		"img/../../etc/passwd":                "img/../../etc/passwd", // refused later, never shortened
		"shimx64.efi":                         "shimx64.efi",
	} {
		if got := withoutImagePrefix(in); got != want {
			t.Errorf("withoutImagePrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

// The answer is remembered for shimTTL, then the store is asked again.
func TestImageLoadersRemembers(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "pixie.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const mac = "52:54:00:11:00:09"
	for _, p := range []store.Profile{{Name: "fcos", OS: "fedora-coreos", Kernel: fcosImage + "/kernel"}, {Name: "deb", OS: "generic", Kernel: "generic/debian/vmlinuz"}} {
		if _, err := st.CreateProfile(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.PutMachine(ctx, store.Machine{MAC: mac, Profile: "fcos", Loader: "grub"}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	l := newImageLoaders(st)
	l.now = func() time.Time { return now }
	want := "img/" + fcosImage + "/shimx64.efi"
	if got := l.ShimFor(mac, "shimx64.efi"); got != want {
		t.Fatalf("ShimFor = %q, want %q", got, want)
	}
	if _, err := st.PutMachine(ctx, store.Machine{MAC: mac, Profile: "deb", Loader: "grub"}); err != nil {
		t.Fatal(err)
	}
	if got := l.ShimFor(mac, "shimx64.efi"); got != want {
		t.Fatalf("within the TTL: %q", got)
	}
	now = now.Add(shimTTL)
	if got := l.ShimFor(mac, "shimx64.efi"); got != "img/generic/debian/shimx64.efi" {
		t.Fatalf("after the TTL: %q, want the new profile's image folder", got)
	}
	if got := l.ShimFor("52:54:00:11:00:0a", "shimx64.efi"); got != "img/first-time/shimx64.efi" {
		t.Fatalf("an unknown machine (default profile): %q", got)
	}
}

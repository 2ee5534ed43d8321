package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/internal/testnet"
)

// httpPort is where the boot files are served in the server namespace,
// the same port pixie's HTTP server uses in the pixie end-to-end test.
const httpPort = "8080"

// TestHarnessWithDnsmasq proves the testnet harness by doing with dnsmasq
// what pixie will do: the guide's proxyDHCP + TFTP setup next to the LAN's
// own DHCP server, with busybox httpd serving the iPXE script, kernel,
// initrd and Ignition config. Both firmware kinds must boot to the initrd
// and fetch the config.
//
// It doubles the CI time of the end-to-end tests and checks no pixie code,
// so it runs only with PIXIE_E2E_DNSMASQ=1: use it when the harness or
// the host's QEMU/OVMF/iPXE changed, to tell a harness problem from a
// pixie problem.
func TestHarnessWithDnsmasq(t *testing.T) {
	if os.Getenv("PIXIE_E2E_DNSMASQ") != "1" {
		t.Skip("set PIXIE_E2E_DNSMASQ=1 to validate the harness against dnsmasq")
	}
	testnet.RequireVM(t)

	lan := testnet.NewLAN(t, testnet.Options{})
	if _, err := lan.StartRouterDHCP(); err != nil {
		t.Fatal(err)
	}

	www := filepath.Join(lan.Dir, "www")
	tftp := filepath.Join(lan.Dir, "tftp")
	for _, d := range []string{www, tftp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ignition := []byte(`{"ignition":{"version":"3.4.0"},"passwd":{"users":[{"name":"core"}]}}` + "\n")
	wantSHA := sha256.Sum256(ignition)
	writeBootFiles(t, www, tftp, ignition)

	base := "http://" + testnet.ServerIP + ":" + httpPort
	network, _, _ := strings.Cut(testnet.Subnet, "/")
	if _, err := lan.StartDnsmasq(lan.ServerNS, "proxy",
		"dhcp-range="+network+",proxy",
		"enable-tftp",
		"tftp-root="+tftp,
		"dhcp-option=vendor:PXEClient,6,2b",
		"dhcp-userclass=set:ipxe,iPXE",
		`pxe-service=tag:!ipxe,x86PC,"PXE chainload to iPXE",undionly.kpxe`,
		`pxe-service=tag:!ipxe,X86-64_EFI,"PXE chainload to iPXE",ipxe.efi`,
		`pxe-service=tag:ipxe,x86PC,"Run iPXE boot",`+base+`/boot.ipxe`,
		`pxe-service=tag:ipxe,X86-64_EFI,"Run iPXE boot",`+base+`/boot.ipxe`,
	); err != nil {
		t.Fatal(err)
	}
	busybox, err := testnet.Busybox()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lan.Start(lan.ServerNS, busybox, "httpd", "-f", "-p", testnet.ServerIP+":"+httpPort, "-h", www); err != nil {
		t.Fatal(err)
	}
	waitHTTP(t, lan, busybox, base+"/ign.json")

	// One after the other: two TCG guests on a 2-core machine would only
	// slow each other down and blur the timings.
	for i, fw := range []testnet.Firmware{testnet.UEFI, testnet.BIOS} {
		t.Run(string(fw), func(t *testing.T) {
			tap, err := lan.AddTap(fmt.Sprintf("tap%d", i))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), testnet.DefaultVMTimeout+30*time.Second)
			defer cancel()
			res, err := lan.RunVM(ctx, testnet.VMOptions{
				Firmware: fw,
				MAC:      fmt.Sprintf("52:54:00:77:00:%02x", i+1),
				Tap:      tap,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s boot: %s", fw, res)
			got, ok := res.IgnitionSHA256()
			if !ok || got != hex.EncodeToString(wantSHA[:]) {
				t.Errorf("%s: ignition sha256 = %q (found %v), want %x\nQEMU: %s\nserial console:\n%s",
					fw, got, ok, wantSHA, res.Stderr, res.Log)
			}
		})
	}
}

// writeBootFiles fills www with what busybox httpd serves (iPXE script,
// kernel, initrd, Ignition config) and tftp with the iPXE firmware.
func writeBootFiles(t *testing.T, www, tftp string, ignition []byte) {
	t.Helper()
	k, err := testnet.FindKernel()
	if err != nil {
		t.Fatal(err)
	}
	if err := testnet.CopyFile(filepath.Join(www, "vmlinuz"), k.Path); err != nil {
		t.Fatal(err)
	}
	testnet.BuildInitrd(t, www)
	if err := os.WriteFile(filepath.Join(www, "ign.json"), ignition, 0o644); err != nil {
		t.Fatal(err)
	}
	base := "http://" + testnet.ServerIP + ":" + httpPort
	// initrd=initrd.img: without it the kernel loaded by ipxe.efi finds no
	// initramfs. panic=5 turns a failed boot into a reboot, which
	// -no-reboot turns into QEMU exiting, instead of a hang until the
	// timeout.
	script := strings.Join([]string{
		"#!ipxe",
		"kernel " + base + "/vmlinuz initrd=initrd.img console=ttyS0 panic=5 ignition.config.url=" + base + "/ign.json",
		"initrd --name initrd.img " + base + "/initrd.img",
		"boot",
	}, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(www, "boot.ipxe"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ipxe.efi", "undionly.kpxe"} {
		src, err := testnet.IPXEFirmware(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := testnet.CopyFile(filepath.Join(tftp, name), src); err != nil {
			t.Fatal(err)
		}
	}
}

// waitHTTP waits until url answers from inside the server namespace, so a
// VM never races the HTTP server's start.
func waitHTTP(t *testing.T, lan *testnet.LAN, busybox, url string) {
	t.Helper()
	var out string
	var err error
	for range 50 {
		if out, err = lan.Exec(lan.ServerNS, busybox, "wget", "-q", "-O", "/dev/null", url); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s not served: %v\n%s", url, err, out)
}

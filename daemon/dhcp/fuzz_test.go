package dhcp

import (
	"bytes"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// fuzzSeeds are real boot requests, as the firmware families pixie serves
// send them, built with the DHCP library rather than by hand so the seeds
// are well-formed packets the fuzzer then mutates.
func fuzzSeeds(t testing.TB) map[string][]byte {
	mac := net.HardwareAddr{0x52, 0x54, 0x00, 0xab, 0xcd, 0xef}
	xid := dhcpv4.WithTransactionID(dhcpv4.TransactionID{1, 2, 3, 4}) // fixed: seeds stay deterministic
	guid := dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.OptionClientMachineIdentifier, append([]byte{0}, bytes.Repeat([]byte{0x42}, 16)...)))
	pxe := func(class string, arch iana.Arch, more ...dhcpv4.Modifier) []byte {
		mods := append([]dhcpv4.Modifier{
			xid, guid,
			dhcpv4.WithOption(dhcpv4.OptClassIdentifier(class)),
			dhcpv4.WithOption(dhcpv4.OptClientArch(arch)),
			dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.OptionClientNetworkInterfaceIdentifier, []byte{1, 3, 16})),
			dhcpv4.WithRequestedOptions(dhcpv4.OptionBootfileName, dhcpv4.OptionVendorSpecificInformation),
		}, more...)
		p, err := dhcpv4.NewDiscovery(mac, mods...)
		if err != nil {
			t.Fatal(err)
		}
		return p.ToBytes()
	}
	ipxe := []dhcpv4.Modifier{
		dhcpv4.WithUserClass("iPXE", false),
		dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(175), []byte{0xb1, 0x05, 0x01, 0x80, 0x86, 0x10, 0x0e})),
	}
	seeds := map[string][]byte{
		"bios":       pxe("PXEClient:Arch:00000:UNDI:002001", iana.INTEL_X86PC),
		"uefi-x64":   pxe("PXEClient:Arch:00007:UNDI:003016", iana.EFI_X86_64),
		"uefi-bc":    pxe("PXEClient:Arch:00009:UNDI:003016", iana.EFI_BC),
		"uefi-ia32":  pxe("PXEClient:Arch:00006:UNDI:003016", iana.EFI_IA32),
		"arm64":      pxe("PXEClient:Arch:00011:UNDI:003016", iana.EFI_ARM64),
		"ipxe-bios":  pxe("PXEClient:Arch:00000:UNDI:002001", iana.INTEL_X86PC, ipxe...),
		"ipxe-efi":   pxe("PXEClient:Arch:00007:UNDI:003016", iana.EFI_X86_64, dhcpv4.WithUserClass("iPXE", true)),
		"http-x64":   pxe("HTTPClient:Arch:00016:UNDI:003001", iana.EFI_X86_64_HTTP),
		"http-arm64": pxe("HTTPClient:Arch:00019:UNDI:003001", iana.EFI_ARM64_HTTP),
		"relayed":    pxe("PXEClient:Arch:00007:UNDI:003016", iana.EFI_X86_64, func(d *dhcpv4.DHCPv4) { d.GatewayIPAddr = net.IPv4(10, 1, 0, 1) }),
		"no-opt93":   pxe("PXEClient:Arch:00007:UNDI:003016", iana.EFI_X86_64, func(d *dhcpv4.DHCPv4) { delete(d.Options, dhcpv4.OptionClientSystemArchitectureType.Code()) }),
		"request-4011": pxe("PXEClient:Arch:00007:UNDI:003016", iana.EFI_X86_64,
			dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), func(d *dhcpv4.DHCPv4) { d.ClientIPAddr = net.IPv4(10, 1, 0, 50) }),
		"request-for-us": pxe("PXEClient:Arch:00000:UNDI:002001", iana.INTEL_X86PC,
			dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 78, 0, 2)))),
		// More options than parsePacket's fast path takes: the library's path.
		"many-options": pxe("PXEClient:Arch:00000:UNDI:002001", iana.INTEL_X86PC, func(d *dhcpv4.DHCPv4) {
			for code := 100; code < 170; code++ {
				d.Options[uint8(code)] = []byte{byte(code)}
			}
		}),
		"not-pxe": func() []byte {
			p, err := dhcpv4.NewDiscovery(mac, xid, dhcpv4.WithOption(dhcpv4.OptClassIdentifier("MSFT 5.0")))
			if err != nil {
				t.Fatal(err)
			}
			return p.ToBytes()
		}(),
	}
	// Damaged versions of a good packet: what a fuzzer finds first, kept
	// so every plain `go test` run covers them.
	good := seeds["uefi-x64"]
	seeds["truncated-header"] = good[:100]
	seeds["truncated-options"] = good[:len(good)-20]
	seeds["no-end-option"] = bytes.TrimRight(good, "\x00\xff")
	seeds["empty"] = nil
	bad := bytes.Clone(good)
	bad[240+1] = 0xff // first option's length runs past the packet
	seeds["option-length-too-long"] = bad
	odd := bytes.Clone(good)
	odd[2] = 0xff // hlen 255: more than the 16-byte chaddr field
	seeds["hlen-255"] = odd
	zero := bytes.Clone(good)
	zero[2] = 0 // hlen 0: no MAC
	seeds["hlen-0"] = zero
	// Option 93 of odd length, and empty: both malformed.
	seeds["opt93-odd"] = pxe("PXEClient:Arch:00007", iana.EFI_X86_64, dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.OptionClientSystemArchitectureType, []byte{0, 7, 0})))
	seeds["opt93-empty"] = pxe("PXEClient:Arch:00007", iana.EFI_X86_64, dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.OptionClientSystemArchitectureType, nil)))
	// Option 60 with a short or non-numeric Arch field and no option 93.
	for name, class := range map[string]string{"arch-short": "PXEClient:Arch:7", "arch-letters": "PXEClient:Arch:0x007", "arch-huge": "PXEClient:Arch:99999"} {
		seeds[name] = pxe(class, 0, func(d *dhcpv4.DHCPv4) { delete(d.Options, dhcpv4.OptionClientSystemArchitectureType.Code()) })
	}
	return seeds
}

// FuzzReply feeds arbitrary bytes through the same path the server takes:
// parse as a DHCPv4 packet, then the pure reply decision. Nothing may
// panic, and every answer must be a proxyDHCP reply to exactly that client.
func FuzzReply(f *testing.F) {
	for _, p := range fuzzSeeds(f) {
		f.Add(p, false)
		f.Add(p, true)
	}
	server := netip.MustParseAddr("10.78.0.2")
	all := firmwareSet{FileBIOS: true, FileEFIIA32: true, FileEFIx64: true, FileSNPOnly: true, FileEFIARM64: true}
	configs := []ReplyConfig{
		{ServerIP: server, HTTPPort: 8080, Firmware: all},
		{ServerIP: server, HTTPPort: 80, EFIFile: FileSNPOnly, Firmware: all},
		{ServerIP: server, HTTPPort: 8080, Firmware: firmwareSet{FileBIOS: true}},
		{ServerIP: server, HTTPPort: 8080}, // no firmware at all
	}
	f.Fuzz(func(t *testing.T, pkt []byte, port4011 bool) {
		req, err := dhcpv4.FromBytes(pkt)
		// pixie's parser agrees with the library on every input.
		fast, ferr := parsePacket(pkt)
		if (err == nil) != (ferr == nil) {
			t.Fatalf("parsePacket error %v, library's %v", ferr, err)
		}
		if err != nil {
			return // the server drops what does not parse
		}
		if !reflect.DeepEqual(fast, req) {
			t.Fatalf("parsePacket differs from the library:\n got %#v\nwant %#v", fast, req)
		}
		// pixie's encoder writes what the library's does, for any packet
		// the library parses (and, below, for every reply).
		checkEncoding(t, req)
		svc := ServiceDHCP
		if port4011 {
			svc = ServicePXE
		}
		for _, cfg := range configs {
			reply, d := Reply(req, svc, cfg)
			checkDecision(t, req, svc, cfg, reply, d)
			if reply != nil {
				checkEncoding(t, reply)
			}
			// The rest of the server's path for this packet.
			_ = Destination(req, svc, &net.UDPAddr{IP: net.IPv4(10, 1, 0, 9), Port: 68}, 68)
			_ = clientIP(req)
			_ = describe(d)
		}
	})
}

// checkDecision asserts what must hold of any decision Reply makes.
func checkDecision(t *testing.T, req *dhcpv4.DHCPv4, svc Service, cfg ReplyConfig, reply *dhcpv4.DHCPv4, d Decision) {
	t.Helper()
	if reply == nil {
		if !d.Ignored() || d.Reason == "" || d.BootFile != "" {
			t.Fatalf("no reply but decision %+v", d)
		}
		return
	}
	if d.Ignored() || d.Reason != "" {
		t.Fatalf("reply sent but decision says ignored: %+v", d)
	}
	if reply.OpCode != dhcpv4.OpcodeBootReply {
		t.Errorf("reply opcode %v, want BOOTREPLY", reply.OpCode)
	}
	if reply.TransactionID != req.TransactionID {
		t.Errorf("reply xid %v, request xid %v", reply.TransactionID, req.TransactionID)
	}
	if !bytes.Equal(reply.ClientHWAddr, req.ClientHWAddr) || len(reply.ClientHWAddr) == 0 {
		t.Errorf("reply chaddr %x, request chaddr %x", reply.ClientHWAddr, req.ClientHWAddr)
	}
	if !reply.YourIPAddr.IsUnspecified() {
		t.Errorf("proxyDHCP reply hands out address %v", reply.YourIPAddr)
	}
	switch mt := reply.MessageType(); {
	case mt != d.Reply:
		t.Errorf("reply message type %v, decision %v", mt, d.Reply)
	case svc == ServicePXE && mt != dhcpv4.MessageTypeAck,
		svc == ServiceDHCP && mt != dhcpv4.MessageTypeOffer && mt != dhcpv4.MessageTypeAck:
		t.Errorf("reply message type %v on %v", mt, svc)
	}
	serverIP := net.IP(cfg.ServerIP.AsSlice())
	if !reply.ServerIdentifier().Equal(serverIP) || !reply.ServerIPAddr.Equal(serverIP) {
		t.Errorf("server id %v, siaddr %v; want %v", reply.ServerIdentifier(), reply.ServerIPAddr, serverIP)
	}
	class := reply.ClassIdentifier()
	if class != d.Class || class != ClassPXE && class != ClassHTTP {
		t.Errorf("reply option 60 %q, decision class %q", class, d.Class)
	}
	if class == ClassPXE && string(reply.Options.Get(dhcpv4.OptionVendorSpecificInformation)) != pxeVendorOptions {
		t.Errorf("PXEClient reply option 43 %q", reply.Options.Get(dhcpv4.OptionVendorSpecificInformation))
	}
	if reply.BootFileName != d.BootFile {
		t.Errorf("reply file %q, decision %q", reply.BootFileName, d.BootFile)
	}
	if !allowedBootFile(d, cfg) {
		t.Errorf("boot file %q is neither served firmware nor pixie's own URL (decision %+v)", d.BootFile, d)
	}
	// What the client receives: the reply survives marshalling with the
	// same identity and file.
	back, err := dhcpv4.FromBytes(reply.ToBytes())
	if err != nil {
		t.Fatalf("reply does not parse back: %v", err)
	}
	if back.TransactionID != req.TransactionID || !bytes.Equal(back.ClientHWAddr, req.ClientHWAddr) || back.BootFileName != d.BootFile {
		t.Errorf("reply on the wire: xid %v chaddr %x file %q", back.TransactionID, back.ClientHWAddr, back.BootFileName)
	}
}

// allowedBootFile: a firmware name the set has (over TFTP), the same as an
// http URL on pixie's own address (UEFI HTTP boot), or pixie's boot script
// (iPXE). Nothing a client sent can end up here.
func allowedBootFile(d Decision, cfg ReplyConfig) bool {
	base := cfg.url("")
	if !strings.HasPrefix(base, "http://10.78.0.2:") {
		return false
	}
	switch {
	case d.IPXE:
		return d.BootFile == base+ScriptPath
	case d.Class == ClassHTTP:
		name, ok := strings.CutPrefix(d.BootFile, base+FirmwarePath)
		return ok && knownFirmware(name) && cfg.Firmware != nil && cfg.Firmware.Has(name)
	default:
		return knownFirmware(d.BootFile) && cfg.Firmware != nil && cfg.Firmware.Has(d.BootFile)
	}
}

func knownFirmware(name string) bool {
	switch name {
	case FileBIOS, FileEFIIA32, FileEFIx64, FileSNPOnly, FileEFIARM64:
		return true
	}
	return false
}

// TestFuzzSeeds pins what each seed is, so the fuzzer starts from packets
// that reach every branch of Reply rather than from ones all dropped early.
func TestFuzzSeeds(t *testing.T) {
	cfg := ReplyConfig{ServerIP: netip.MustParseAddr("10.78.0.2"), HTTPPort: 8080,
		Firmware: firmwareSet{FileBIOS: true, FileEFIIA32: true, FileEFIx64: true, FileEFIARM64: true}}
	want := map[string]struct {
		svc    Service
		file   string // "" when ignored
		reason string // prefix, when ignored; "parse" when it does not parse
	}{
		"bios":                   {ServiceDHCP, FileBIOS, ""},
		"uefi-x64":               {ServiceDHCP, FileEFIx64, ""},
		"uefi-bc":                {ServiceDHCP, FileEFIx64, ""},
		"uefi-ia32":              {ServiceDHCP, FileEFIIA32, ""},
		"arm64":                  {ServiceDHCP, FileEFIARM64, ""},
		"ipxe-bios":              {ServiceDHCP, "http://10.78.0.2:8080/boot.ipxe", ""},
		"ipxe-efi":               {ServiceDHCP, "http://10.78.0.2:8080/boot.ipxe", ""},
		"http-x64":               {ServiceDHCP, "http://10.78.0.2:8080/firmware/ipxe.efi", ""},
		"http-arm64":             {ServiceDHCP, "http://10.78.0.2:8080/firmware/ipxe-arm64.efi", ""},
		"relayed":                {ServiceDHCP, FileEFIx64, ""},
		"no-opt93":               {ServiceDHCP, FileEFIx64, ""},
		"request-4011":           {ServicePXE, FileEFIx64, ""},
		"request-for-us":         {ServiceDHCP, FileBIOS, ""},
		"many-options":           {ServiceDHCP, FileBIOS, ""},
		"not-pxe":                {ServiceDHCP, "", ReasonNotPXE},
		"truncated-header":       {ServiceDHCP, "", "parse"},
		"truncated-options":      {ServiceDHCP, "", "parse"},
		"no-end-option":          {ServiceDHCP, "", "parse"},
		"empty":                  {ServiceDHCP, "", "parse"},
		"option-length-too-long": {ServiceDHCP, "", "parse"},
		"hlen-255":               {ServiceDHCP, FileEFIx64, ""},
		"hlen-0":                 {ServiceDHCP, "", ReasonNoMAC},
		"opt93-odd":              {ServiceDHCP, "", ReasonMalformedOption93},
		"opt93-empty":            {ServiceDHCP, "", ReasonMalformedOption93},
		"arch-short":             {ServiceDHCP, "", ReasonNoArch},
		"arch-letters":           {ServiceDHCP, "", ReasonNoArch},
		"arch-huge":              {ServiceDHCP, "", ReasonNoArch},
	}
	seeds := fuzzSeeds(t)
	if len(seeds) != len(want) {
		t.Errorf("%d seeds, %d expectations", len(seeds), len(want))
	}
	for name, pkt := range seeds {
		w, ok := want[name]
		if !ok {
			t.Errorf("seed %s has no expectation", name)
			continue
		}
		req, err := dhcpv4.FromBytes(pkt)
		if err != nil {
			if w.reason != "parse" {
				t.Errorf("%s: does not parse: %v", name, err)
			}
			continue
		}
		if w.reason == "parse" {
			t.Errorf("%s: parses, want a parse error", name)
			continue
		}
		reply, d := Reply(req, w.svc, cfg)
		checkDecision(t, req, w.svc, cfg, reply, d)
		if d.BootFile != w.file || !strings.HasPrefix(d.Reason, w.reason) {
			t.Errorf("%s: decision %+v, want file %q reason %q", name, d, w.file, w.reason)
		}
	}
}

// checkEncoding fails t unless appendPacket writes p as p.ToBytes() does,
// both into an empty buffer and after bytes already in one.
func checkEncoding(t *testing.T, p *dhcpv4.DHCPv4) {
	t.Helper()
	want := p.ToBytes()
	if got := appendPacket(nil, p); !bytes.Equal(got, want) {
		t.Fatalf("appendPacket differs from ToBytes:\n got %x\nwant %x", got, want)
	}
	prefix := []byte("earlier reply")
	got := appendPacket(append([]byte(nil), prefix...), p)
	if !bytes.Equal(got[:len(prefix)], prefix) || !bytes.Equal(got[len(prefix):], want) {
		t.Fatalf("appendPacket after %d bytes differs from ToBytes:\n got %x\nwant %x", len(prefix), got[len(prefix):], want)
	}
}

// TestParsePacketFastPath checks that well-formed boot requests take
// parsePacket's own path (three allocations; the library's takes about
// twenty), where FuzzReply checks that both paths agree with the library.
func TestParsePacketFastPath(t *testing.T) {
	for name, pkt := range fuzzSeeds(t) {
		if _, err := dhcpv4.FromBytes(pkt); err != nil || name == "many-options" {
			continue // the library's path
		}
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := parsePacket(pkt); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		})
		if allocs > 4 {
			t.Errorf("%s: %v allocations per parse: not the fast path", name, allocs)
		}
	}
}

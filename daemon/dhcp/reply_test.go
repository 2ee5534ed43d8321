package dhcp

import (
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// firmwareSet is a Firmware holding the named files.
type firmwareSet map[string]bool

func (f firmwareSet) Has(name string) bool { return f[name] }

var (
	allFirmware = firmwareSet{FileBIOS: true, FileEFIIA32: true, FileEFIx64: true, FileSNPOnly: true, FileEFIARM64: true}
	testMAC     = net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
	testXID     = dhcpv4.TransactionID{0xde, 0xad, 0xbe, 0xef}
	testGUID    = "\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff\x00"
	serverIP    = netip.MustParseAddr("10.78.0.2")
	otherServer = net.IPv4(10, 78, 0, 1).To4()
	// testCfg names ipxe.efi as the server's x86-64 file (--efi-file), so
	// these tables test the protocol; ladder_test.go tests what the loader
	// choice offers.
	testCfg = ReplyConfig{ServerIP: serverIP, HTTPPort: 8080, Firmware: allFirmware, EFIFile: FileEFIx64}
)

// packet is a request built field by field, so each test case says exactly
// what the client sent.
type packet func(*dhcpv4.DHCPv4)

func request(mt dhcpv4.MessageType, mods ...packet) *dhcpv4.DHCPv4 {
	d := &dhcpv4.DHCPv4{
		OpCode:        dhcpv4.OpcodeBootRequest,
		HWType:        iana.HWTypeEthernet,
		TransactionID: testXID,
		ClientIPAddr:  net.IPv4zero,
		YourIPAddr:    net.IPv4zero,
		ServerIPAddr:  net.IPv4zero,
		GatewayIPAddr: net.IPv4zero,
		ClientHWAddr:  testMAC,
		Options:       dhcpv4.Options{},
	}
	d.UpdateOption(dhcpv4.OptMessageType(mt))
	for _, m := range mods {
		m(d)
	}
	return d
}

func opt(code uint8, value string) packet {
	return func(d *dhcpv4.DHCPv4) { d.Options[code] = []byte(value) }
}

func without(code uint8) packet { return func(d *dhcpv4.DHCPv4) { delete(d.Options, code) } }

// pxe is a PXE ROM's DISCOVER: vendor class, architecture, NIC type, GUID.
func pxe(arch uint16) packet {
	return func(d *dhcpv4.DHCPv4) {
		d.Options[60] = []byte("PXEClient:Arch:" + pad5(arch) + ":UNDI:003016")
		d.Options[93] = []byte{byte(arch >> 8), byte(arch)}
		d.Options[94] = []byte{1, 3, 16}
		d.Options[97] = []byte(testGUID)
	}
}

// httpBoot is a UEFI HTTP boot client.
func httpBoot(arch uint16) packet {
	return func(d *dhcpv4.DHCPv4) {
		pxe(arch)(d)
		d.Options[60] = []byte("HTTPClient:Arch:" + pad5(arch) + ":UNDI:003001")
	}
}

func pad5(n uint16) string {
	s := []byte("00000")
	for i := 4; n > 0; i-- {
		s[i] = byte('0' + n%10)
		n /= 10
	}
	return string(s)
}

func ciaddr(ip string) packet {
	return func(d *dhcpv4.DHCPv4) { d.ClientIPAddr = net.ParseIP(ip).To4() }
}

func giaddr(ip string) packet {
	return func(d *dhcpv4.DHCPv4) { d.GatewayIPAddr = net.ParseIP(ip).To4() }
}

func serverID(ip net.IP) packet { return opt(54, string(ip.To4())) }

// wire is a reply as the client sees it: the packet is marshalled and parsed
// back, so the test checks bytes on the wire rather than Go values.
type wire struct {
	Op             dhcpv4.OpcodeType
	XID            dhcpv4.TransactionID
	Broadcast      bool
	CIAddr, YIAddr string
	SIAddr, GIAddr string
	CHAddr         string
	SName, File    string
	Options        map[uint8]string
}

func onWire(t *testing.T, p *dhcpv4.DHCPv4) *wire {
	t.Helper()
	if p == nil {
		return nil
	}
	q, err := dhcpv4.FromBytes(p.ToBytes())
	if err != nil {
		t.Fatalf("reply does not parse back: %v", err)
	}
	w := &wire{
		Op: q.OpCode, XID: q.TransactionID, Broadcast: q.IsBroadcast(),
		CIAddr: q.ClientIPAddr.String(), YIAddr: q.YourIPAddr.String(),
		SIAddr: q.ServerIPAddr.String(), GIAddr: q.GatewayIPAddr.String(),
		CHAddr: q.ClientHWAddr.String(), SName: q.ServerHostName, File: q.BootFileName,
		Options: map[uint8]string{},
	}
	for code, v := range q.Options {
		w.Options[code] = string(v)
	}
	return w
}

const (
	optVendor43 = "\x06\x01\x08\xff" // PXE_DISCOVERY_CONTROL = 8, End
	sid         = "\x0a\x4e\x00\x02" // 10.78.0.2
)

// answer is the reply every answered request gets, adjusted by mods.
func answer(mt dhcpv4.MessageType, class, file string, mods ...func(*wire)) *wire {
	w := &wire{
		Op: dhcpv4.OpcodeBootReply, XID: testXID, Broadcast: true,
		CIAddr: "0.0.0.0", YIAddr: "0.0.0.0", SIAddr: "10.78.0.2", GIAddr: "0.0.0.0",
		CHAddr: testMAC.String(), SName: "10.78.0.2", File: file,
		Options: map[uint8]string{
			53: string([]byte{byte(mt)}),
			54: sid,
			60: class,
			97: testGUID,
			67: file, // requests without option 55 get every option
		},
	}
	if class == ClassPXE {
		w.Options[43] = optVendor43
	}
	for _, m := range mods {
		m(w)
	}
	return w
}

func TestReply(t *testing.T) {
	offer, ack := dhcpv4.MessageTypeOffer, dhcpv4.MessageTypeAck
	const (
		scriptURL = "http://10.78.0.2:8080/boot.ipxe"
		fwURL     = "http://10.78.0.2:8080/firmware/"
	)
	snponly := func(c *ReplyConfig) { c.EFIFile = FileSNPOnly }
	missing := func(names ...string) func(*ReplyConfig) {
		return func(c *ReplyConfig) {
			set := firmwareSet{}
			for n := range allFirmware {
				set[n] = true
			}
			for _, n := range names {
				delete(set, n)
			}
			c.Firmware = set
		}
	}
	ignored := func(reason, arch string) Decision { return Decision{Reason: reason, Arch: arch} }

	tests := []struct {
		name  string
		svc   Service
		cfg   func(*ReplyConfig)
		req   *dhcpv4.DHCPv4
		want  Decision
		reply *wire
	}{
		// Every architecture, first stage over TFTP.
		{
			name:  "bios",
			req:   request(dhcpv4.MessageTypeDiscover, pxe(0)),
			want:  Decision{Reply: offer, Arch: "bios", Class: ClassPXE, BootFile: FileBIOS},
			reply: answer(offer, ClassPXE, FileBIOS),
		},
		{
			name:  "efi ia32",
			req:   request(dhcpv4.MessageTypeDiscover, pxe(6)),
			want:  Decision{Reply: offer, Arch: "efi-ia32", Class: ClassPXE, BootFile: FileEFIIA32},
			reply: answer(offer, ClassPXE, FileEFIIA32),
		},
		{
			name:  "efi x64",
			req:   request(dhcpv4.MessageTypeDiscover, pxe(7)),
			want:  Decision{Reply: offer, Arch: "efi-x64", Class: ClassPXE, BootFile: FileEFIx64},
			reply: answer(offer, ClassPXE, FileEFIx64),
		},
		{
			name:  "efi x64 with snponly selected",
			cfg:   snponly,
			req:   request(dhcpv4.MessageTypeDiscover, pxe(7)),
			want:  Decision{Reply: offer, Arch: "efi-x64", Class: ClassPXE, BootFile: FileSNPOnly},
			reply: answer(offer, ClassPXE, FileSNPOnly),
		},
		{
			name:  "efi bc is x64",
			req:   request(dhcpv4.MessageTypeDiscover, pxe(9)),
			want:  Decision{Reply: offer, Arch: "efi-x64", Class: ClassPXE, BootFile: FileEFIx64},
			reply: answer(offer, ClassPXE, FileEFIx64),
		},
		{
			name:  "efi arm64",
			req:   request(dhcpv4.MessageTypeDiscover, pxe(11)),
			want:  Decision{Reply: offer, Arch: "efi-arm64", Class: ClassPXE, BootFile: FileEFIARM64},
			reply: answer(offer, ClassPXE, FileEFIARM64),
		},
		{
			name:  "first of several architectures wins",
			req:   request(dhcpv4.MessageTypeDiscover, pxe(0), opt(93, "\x00\x07\x00\x00")),
			want:  Decision{Reply: offer, Arch: "efi-x64", Class: ClassPXE, BootFile: FileEFIx64},
			reply: answer(offer, ClassPXE, FileEFIx64),
		},
		{
			name:  "arch from option 60 when option 93 is missing",
			req:   request(dhcpv4.MessageTypeDiscover, pxe(0), without(93)),
			want:  Decision{Reply: offer, Arch: "bios", Class: ClassPXE, BootFile: FileBIOS},
			reply: answer(offer, ClassPXE, FileBIOS),
		},

		// UEFI HTTP boot: an http:// URL and vendor class HTTPClient, no option 43.
		{
			name:  "efi x64 http",
			req:   request(dhcpv4.MessageTypeDiscover, httpBoot(16)),
			want:  Decision{Reply: offer, Arch: "efi-x64-http", Class: ClassHTTP, BootFile: fwURL + FileEFIx64},
			reply: answer(offer, ClassHTTP, fwURL+FileEFIx64),
		},
		{
			name:  "efi x64 http with snponly selected",
			cfg:   snponly,
			req:   request(dhcpv4.MessageTypeDiscover, httpBoot(16)),
			want:  Decision{Reply: offer, Arch: "efi-x64-http", Class: ClassHTTP, BootFile: fwURL + FileSNPOnly},
			reply: answer(offer, ClassHTTP, fwURL+FileSNPOnly),
		},
		{
			name:  "efi arm64 http",
			req:   request(dhcpv4.MessageTypeDiscover, httpBoot(19)),
			want:  Decision{Reply: offer, Arch: "efi-arm64-http", Class: ClassHTTP, BootFile: fwURL + FileEFIARM64},
			reply: answer(offer, ClassHTTP, fwURL+FileEFIARM64),
		},

		// iPXE gets the script, never the firmware again.
		{
			name:  "ipxe user class",
			req:   request(dhcpv4.MessageTypeDiscover, pxe(7), opt(77, "iPXE")),
			want:  Decision{Reply: offer, Arch: "efi-x64", Class: ClassPXE, IPXE: true, BootFile: scriptURL},
			reply: answer(offer, ClassPXE, scriptURL),
		},
		{
			name:  "ipxe user class in RFC 3004 encoding",
			req:   request(dhcpv4.MessageTypeDiscover, pxe(0), opt(77, "\x04iPXE")),
			want:  Decision{Reply: offer, Arch: "bios", Class: ClassPXE, IPXE: true, BootFile: scriptURL},
			reply: answer(offer, ClassPXE, scriptURL),
		},
		{
			name:  "ipxe option 175",
			req:   request(dhcpv4.MessageTypeDiscover, pxe(0), opt(175, "\xb1\x05\x01\x80\x86\x10\x0e")),
			want:  Decision{Reply: offer, Arch: "bios", Class: ClassPXE, IPXE: true, BootFile: scriptURL},
			reply: answer(offer, ClassPXE, scriptURL),
		},
		{
			name:  "ipxe needs no firmware file",
			cfg:   missing(FileEFIx64),
			req:   request(dhcpv4.MessageTypeDiscover, pxe(7), opt(77, "iPXE")),
			want:  Decision{Reply: offer, Arch: "efi-x64", Class: ClassPXE, IPXE: true, BootFile: scriptURL},
			reply: answer(offer, ClassPXE, scriptURL),
		},

		// Who is never answered.
		{
			name: "no vendor class",
			req:  request(dhcpv4.MessageTypeDiscover, pxe(0), without(60)),
			want: ignored(ReasonNotPXE, ""),
		},
		{
			name: "windows client",
			req:  request(dhcpv4.MessageTypeDiscover, opt(60, "MSFT 5.0")),
			want: ignored(ReasonNotPXE, ""),
		},
		{
			name: "vendor class must start with PXEClient",
			req:  request(dhcpv4.MessageTypeDiscover, pxe(0), opt(60, "udhcp PXEClient")),
			want: ignored(ReasonNotPXE, ""),
		},
		{
			name: "a reply overheard",
			req:  request(dhcpv4.MessageTypeOffer, pxe(0), func(d *dhcpv4.DHCPv4) { d.OpCode = dhcpv4.OpcodeBootReply }),
			want: ignored(ReasonNotBootRequest, ""),
		},
		{
			name: "no hardware address",
			req:  request(dhcpv4.MessageTypeDiscover, pxe(0), func(d *dhcpv4.DHCPv4) { d.ClientHWAddr = nil }),
			want: Decision{Reason: ReasonNoMAC, Class: ClassPXE},
		},
		{
			name: "missing firmware",
			cfg:  missing(FileEFIARM64),
			req:  request(dhcpv4.MessageTypeDiscover, pxe(11)),
			want: Decision{Reason: "no-firmware-for-arch:efi-arm64", Arch: "efi-arm64", Class: ClassPXE},
		},
		{
			name: "missing ia32 firmware",
			cfg:  missing(FileEFIIA32),
			req:  request(dhcpv4.MessageTypeDiscover, pxe(6)),
			want: Decision{Reason: "no-firmware-for-arch:efi-ia32", Arch: "efi-ia32", Class: ClassPXE},
		},
		{
			name: "missing firmware for http boot",
			cfg:  missing(FileEFIARM64),
			req:  request(dhcpv4.MessageTypeDiscover, httpBoot(19)),
			want: Decision{Reason: "no-firmware-for-arch:efi-arm64-http", Arch: "efi-arm64-http", Class: ClassHTTP},
		},
		{
			name: "selected snponly missing",
			cfg:  func(c *ReplyConfig) { snponly(c); missing(FileSNPOnly)(c) },
			req:  request(dhcpv4.MessageTypeDiscover, pxe(7)),
			want: Decision{Reason: "no-firmware-for-arch:efi-x64", Arch: "efi-x64", Class: ClassPXE},
		},
		{
			name: "unsupported architecture",
			req:  request(dhcpv4.MessageTypeDiscover, pxe(2)),
			want: Decision{Reason: ReasonUnsupportedArch, Arch: "arch-2", Class: ClassPXE},
		},
		{
			name: "option 93 one byte long",
			req:  request(dhcpv4.MessageTypeDiscover, pxe(0), opt(93, "\x07")),
			want: Decision{Reason: ReasonMalformedOption93, Class: ClassPXE},
		},
		{
			name: "option 93 three bytes long",
			req:  request(dhcpv4.MessageTypeDiscover, pxe(0), opt(93, "\x00\x07\x00")),
			want: Decision{Reason: ReasonMalformedOption93, Class: ClassPXE},
		},
		{
			name: "option 93 empty",
			req:  request(dhcpv4.MessageTypeDiscover, pxe(0), opt(93, "")),
			want: Decision{Reason: ReasonMalformedOption93, Class: ClassPXE},
		},
		{
			name: "no architecture anywhere",
			req:  request(dhcpv4.MessageTypeDiscover, opt(60, "PXEClient")),
			want: Decision{Reason: ReasonNoArch, Class: ClassPXE},
		},

		// Message types on each port.
		{
			name:  "request naming pixie on port 67",
			req:   request(dhcpv4.MessageTypeRequest, pxe(0), serverID(net.IP(serverIP.AsSlice()))),
			want:  Decision{Reply: ack, Arch: "bios", Class: ClassPXE, BootFile: FileBIOS},
			reply: answer(ack, ClassPXE, FileBIOS),
		},
		{
			name: "request for the LAN's DHCP server",
			req:  request(dhcpv4.MessageTypeRequest, pxe(0), serverID(otherServer), opt(50, "\x0a\x4e\x00\x32")),
			want: Decision{Reason: ReasonRequestNotForUs, Class: ClassPXE},
		},
		{
			name: "request naming pixie while a server on this host holds port 67: that server's client",
			req:  request(dhcpv4.MessageTypeRequest, pxe(7), serverID(net.IP(serverIP.AsSlice())), opt(50, "\x0a\x4e\x00\x32")),
			cfg:  func(c *ReplyConfig) { c.PortHeld = true },
			want: Decision{Reason: ReasonRequestForPortHolder, Class: ClassPXE},
		},
		{
			name: "request without server id on port 67",
			req:  request(dhcpv4.MessageTypeRequest, pxe(0), ciaddr("10.78.0.50")),
			want: Decision{Reason: ReasonRequestNotForUs, Class: ClassPXE},
		},
		{
			name: "inform on port 67",
			req:  request(dhcpv4.MessageTypeInform, pxe(7), ciaddr("10.78.0.50")),
			want: Decision{Reason: ReasonUnsupportedMessageType, Class: ClassPXE},
		},
		{
			name: "release",
			req:  request(dhcpv4.MessageTypeRelease, pxe(7)),
			want: Decision{Reason: ReasonUnsupportedMessageType, Class: ClassPXE},
		},
		{
			name: "no message type",
			req:  request(dhcpv4.MessageTypeDiscover, pxe(7), without(53)),
			want: Decision{Reason: ReasonUnsupportedMessageType, Class: ClassPXE},
		},
		{
			name: "request on port 4011 (UEFI asking again)",
			svc:  ServicePXE,
			req:  request(dhcpv4.MessageTypeRequest, pxe(7), ciaddr("10.78.0.50")),
			want: Decision{Reply: ack, Arch: "efi-x64", Class: ClassPXE, BootFile: FileEFIx64},
			reply: answer(ack, ClassPXE, FileEFIx64, func(w *wire) {
				w.CIAddr = "10.78.0.50"
				w.Broadcast = false // it has an address: unicast is fine
			}),
		},
		{
			name: "ipxe proxyDHCP request on port 4011",
			svc:  ServicePXE,
			req:  request(dhcpv4.MessageTypeRequest, pxe(0), opt(77, "iPXE"), ciaddr("10.78.0.50")),
			want: Decision{Reply: ack, Arch: "bios", Class: ClassPXE, IPXE: true, BootFile: scriptURL},
			reply: answer(ack, ClassPXE, scriptURL, func(w *wire) {
				w.CIAddr = "10.78.0.50"
				w.Broadcast = false
			}),
		},
		{
			name: "inform on port 4011",
			svc:  ServicePXE,
			req:  request(dhcpv4.MessageTypeInform, pxe(7), ciaddr("10.78.0.50")),
			want: Decision{Reply: ack, Arch: "efi-x64", Class: ClassPXE, BootFile: FileEFIx64},
			reply: answer(ack, ClassPXE, FileEFIx64, func(w *wire) {
				w.CIAddr = "10.78.0.50"
				w.Broadcast = false
			}),
		},
		{
			name: "discover on port 4011",
			svc:  ServicePXE,
			req:  request(dhcpv4.MessageTypeDiscover, pxe(7)),
			want: Decision{Reason: ReasonUnsupportedMessageType, Class: ClassPXE},
		},
		{
			name: "non-PXE request on port 4011",
			svc:  ServicePXE,
			req:  request(dhcpv4.MessageTypeRequest, ciaddr("10.78.0.50")),
			want: ignored(ReasonNotPXE, ""),
		},

		// Options the reply echoes or leaves out.
		{
			name:  "no option 97 sent, none echoed",
			req:   request(dhcpv4.MessageTypeDiscover, pxe(0), without(97)),
			want:  Decision{Reply: offer, Arch: "bios", Class: ClassPXE, BootFile: FileBIOS},
			reply: answer(offer, ClassPXE, FileBIOS, func(w *wire) { delete(w.Options, 97) }),
		},
		{
			name:  "option 67 only when asked for",
			req:   request(dhcpv4.MessageTypeDiscover, pxe(7), opt(55, "\x01\x03\x2b\x3c")),
			want:  Decision{Reply: offer, Arch: "efi-x64", Class: ClassPXE, BootFile: FileEFIx64},
			reply: answer(offer, ClassPXE, FileEFIx64, func(w *wire) { delete(w.Options, 67) }),
		},
		{
			name:  "option 67 asked for",
			req:   request(dhcpv4.MessageTypeDiscover, pxe(7), opt(55, "\x01\x03\x2b\x3c\x42\x43")),
			want:  Decision{Reply: offer, Arch: "efi-x64", Class: ClassPXE, BootFile: FileEFIx64},
			reply: answer(offer, ClassPXE, FileEFIx64),
		},
		{
			name:  "client identifier echoed",
			req:   request(dhcpv4.MessageTypeDiscover, pxe(0), opt(61, "\x01\x52\x54\x00\x12\x34\x56")),
			want:  Decision{Reply: offer, Arch: "bios", Class: ClassPXE, BootFile: FileBIOS},
			reply: answer(offer, ClassPXE, FileBIOS, func(w *wire) { w.Options[61] = "\x01\x52\x54\x00\x12\x34\x56" }),
		},
		{
			name: "relayed discover",
			req:  request(dhcpv4.MessageTypeDiscover, pxe(7), giaddr("10.9.0.1"), opt(82, "\x01\x04port")),
			want: Decision{Reply: offer, Arch: "efi-x64", Class: ClassPXE, BootFile: FileEFIx64, Relay: net.IPv4(10, 9, 0, 1).To4()},
			reply: answer(offer, ClassPXE, FileEFIx64, func(w *wire) {
				w.GIAddr = "10.9.0.1"
				w.Options[82] = "\x01\x04port"
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testCfg
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			svc := tt.svc
			if svc == 0 {
				svc = ServiceDHCP
			}
			reply, got := Reply(tt.req, svc, cfg)
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(Decision{}, "Loader", "LoaderNote")); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.reply, onWire(t, reply)); diff != "" {
				t.Errorf("reply on the wire (-want +got):\n%s", diff)
			}
			if (reply == nil) != got.Ignored() {
				t.Errorf("reply is %v but Ignored() = %v", reply, got.Ignored())
			}
		})
	}
}

func TestReplyHasNoLeaseOptions(t *testing.T) {
	// pixie is not the address server: whatever the client asks for, the
	// reply must carry nothing that configures its address.
	req := request(dhcpv4.MessageTypeDiscover, pxe(7), opt(55, "\x01\x03\x06\x0c\x0f\x1c\x33\x3a\x3b"))
	reply, d := Reply(req, ServiceDHCP, testCfg)
	if d.Ignored() {
		t.Fatalf("ignored: %s", d.Reason)
	}
	for _, code := range []uint8{1, 3, 6, 12, 15, 28, 51, 58, 59} {
		if reply.Options.Has(dhcpv4.GenericOptionCode(code)) {
			t.Errorf("reply carries option %d", code)
		}
	}
}

func TestDestination(t *testing.T) {
	src := &net.UDPAddr{IP: net.IPv4(10, 78, 0, 50), Port: 68}
	srcHigh := &net.UDPAddr{IP: net.IPv4(10, 78, 0, 50), Port: 1025}
	bcast := func(d *dhcpv4.DHCPv4) { d.SetBroadcast() }
	tests := []struct {
		name string
		svc  Service
		req  *dhcpv4.DHCPv4
		src  *net.UDPAddr
		want string
	}{
		{"discover without address is broadcast", ServiceDHCP, request(dhcpv4.MessageTypeDiscover, pxe(0)), &net.UDPAddr{IP: net.IPv4zero, Port: 68}, "255.255.255.255:68"},
		{"client with address unicast", ServiceDHCP, request(dhcpv4.MessageTypeRequest, ciaddr("10.78.0.50")), src, "10.78.0.50:68"},
		{"client with address asking for broadcast", ServiceDHCP, request(dhcpv4.MessageTypeRequest, ciaddr("10.78.0.50"), bcast), src, "255.255.255.255:68"},
		{"relayed goes to the relay's server port", ServiceDHCP, request(dhcpv4.MessageTypeDiscover, giaddr("10.9.0.1")), &net.UDPAddr{IP: net.IPv4(10, 9, 0, 1), Port: 67}, "10.9.0.1:67"},
		{"relayed with ciaddr still goes to the relay", ServiceDHCP, request(dhcpv4.MessageTypeRequest, giaddr("10.9.0.1"), ciaddr("10.8.0.7")), &net.UDPAddr{IP: net.IPv4(10, 9, 0, 1), Port: 67}, "10.9.0.1:67"},
		{"port 4011 answers the sender", ServicePXE, request(dhcpv4.MessageTypeRequest, ciaddr("10.78.0.50")), srcHigh, "10.78.0.50:1025"},
		{"port 4011 answers the sender even if relayed", ServicePXE, request(dhcpv4.MessageTypeRequest, giaddr("10.9.0.1")), srcHigh, "10.78.0.50:1025"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Destination(tt.req, tt.svc, tt.src, 68).String(); got != tt.want {
				t.Errorf("Destination = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestArchName(t *testing.T) {
	got := map[uint16]string{}
	for _, a := range []uint16{0, 6, 7, 9, 11, 16, 19, 2, 10} {
		got[a] = ArchName(iana.Arch(a))
	}
	want := map[uint16]string{
		0: "bios", 6: "efi-ia32", 7: "efi-x64", 9: "efi-x64", 11: "efi-arm64",
		16: "efi-x64-http", 19: "efi-arm64-http", 2: "arch-2", 10: "arch-10",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ArchName (-want +got):\n%s", diff)
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		d    Decision
		want string
	}{
		{Decision{Reply: dhcpv4.MessageTypeOffer, Class: ClassPXE, BootFile: FileBIOS}, "offer undionly.kpxe"},
		{Decision{Reply: dhcpv4.MessageTypeAck, Class: ClassPXE, IPXE: true, BootFile: "http://10.78.0.2:8080/boot.ipxe"}, "ack http://10.78.0.2:8080/boot.ipxe (iPXE)"},
		{Decision{Reply: dhcpv4.MessageTypeOffer, Class: ClassHTTP, BootFile: "http://10.78.0.2:8080/firmware/ipxe.efi"}, "offer http://10.78.0.2:8080/firmware/ipxe.efi (HTTPClient)"},
	}
	for _, tt := range tests {
		if got := describe(tt.d); got != tt.want {
			t.Errorf("describe(%+v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

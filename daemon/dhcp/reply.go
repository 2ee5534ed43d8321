package dhcp

import (
	"bytes"
	"net"
	"net/netip"
	"path"
	"strconv"
	"strings"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"

	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/hwaddr"
)

// Service names the listener a request arrived on. The same packet means
// different things on the two ports: on port 67 pixie overhears broadcasts
// meant for every DHCP server on the LAN, on port 4011 a client talks to
// pixie alone.
type Service int

const (
	// ServiceDHCP is UDP port 67, where PXE firmware broadcasts its
	// DHCPDISCOVER and pixie answers with a proxyDHCP offer.
	ServiceDHCP Service = iota + 1
	// ServicePXE is UDP port 4011, where firmware that wants more than the
	// offer gave (UEFI's BINL-style retry, iPXE's ProxyDHCPREQUEST) asks
	// pixie directly for its boot file.
	ServicePXE
)

// String returns "dhcp" or "pxe".
func (s Service) String() string {
	switch s {
	case ServiceDHCP:
		return "dhcp"
	case ServicePXE:
		return "pxe"
	}
	return "service(" + strconv.Itoa(int(s)) + ")"
}

// Stage is the boot event stage an answer on this service records.
func (s Service) Stage() events.Stage {
	if s == ServicePXE {
		return events.StagePXE
	}
	return events.StageDHCP
}

// Vendor classes (option 60). Network boot firmware starts its option 60
// with one of these, and a proxyDHCP reply must carry the bare class back:
// that is how firmware tells a boot offer from an ordinary DHCP offer.
const (
	ClassPXE  = "PXEClient"
	ClassHTTP = "HTTPClient"
)

// First-stage firmware file names. They are the contract between this
// package, the TFTP server and the firmware set: pixie offers a file only
// when the firmware set has it.
const (
	FileBIOS     = "undionly.kpxe"  // BIOS: iPXE on top of the NIC's PXE (UNDI) stack
	FileEFIIA32  = "ipxe-i386.efi"  // 32-bit UEFI
	FileEFIx64   = "ipxe.efi"       // x86-64 UEFI, iPXE's own NIC drivers (the default)
	FileSNPOnly  = "snponly.efi"    // x86-64 UEFI, using the firmware's network stack
	FileEFIARM64 = "ipxe-arm64.efi" // arm64 UEFI
)

// HTTP paths pixie's HTTP server serves and replies point at.
const (
	// ScriptPath is the iPXE script every iPXE client is sent to.
	ScriptPath = "/boot.ipxe"
	// FirmwarePath prefixes the firmware files handed to UEFI HTTP boot
	// clients, which fetch their first stage over HTTP instead of TFTP.
	FirmwarePath = "/firmware/"
)

// Reasons a request is ignored, as Decision.Reason and in the
// "dhcp.ignored.<reason>" counters. ReasonNoFirmware is followed by ":" and
// the ArchName of the client, e.g. "no-firmware-for-arch:efi-arm64".
const (
	ReasonNotBootRequest         = "not-boot-request"         // a BOOTREPLY, e.g. another server's offer
	ReasonNotPXE                 = "not-pxe"                  // option 60 does not start with PXEClient or HTTPClient
	ReasonNoMAC                  = "no-mac"                   // empty chaddr: nothing to attribute the boot to
	ReasonUnsupportedMessageType = "unsupported-message-type" // e.g. RELEASE, or INFORM on port 67
	ReasonRequestNotForUs        = "request-not-for-us"       // REQUEST on port 67 whose server id is not pixie
	ReasonMalformedOption93      = "malformed-option-93"      // client architecture not a list of 16-bit values
	ReasonNoArch                 = "no-arch"                  // neither option 93 nor "Arch:" in option 60
	ReasonUnsupportedArch        = "unsupported-arch"         // an architecture pixie has no firmware kind for
	ReasonNoFirmware             = "no-firmware-for-arch"     // the firmware file for the architecture is missing
	ReasonPaused                 = "paused"                   // serving is paused (decided by the Server, not Reply)
	// ReasonRequestForPortHolder: a REQUEST on port 67 while another
	// program on this host holds port 67. That program is a DHCP server
	// answering from this host's address too, so a REQUEST naming that
	// address is its client taking its lease, never pixie's to answer.
	ReasonRequestForPortHolder = "request-for-port-holder"
)

// Firmware reports which first-stage firmware files can be served.
type Firmware interface {
	Has(name string) bool
}

// ReplyConfig is what Reply needs to know about this server.
type ReplyConfig struct {
	// ServerIP is the IPv4 address clients reach pixie at: siaddr, option 54
	// and the host of every http:// URL.
	ServerIP netip.Addr
	// HTTPPort is the port of pixie's HTTP server.
	HTTPPort int
	// EFIFile, when set, is the x86-64 UEFI first stage for every machine
	// not pinned to a loader of its own (`pixie serve --efi-file`): it
	// replaces the ladder. Empty: the ladder decides.
	EFIFile string
	// Loader is the loader this request's machine is on: a rung of the
	// ladder (LoaderAuto means its bottom) or, with Pinned, a loader a
	// person chose. The Server sets it per request from the machine's
	// ladder state; it matters only to UEFI architectures.
	Loader Loader
	Pinned bool
	// PinnedBy says who pinned it, for the boot event: "machine" or
	// "server".
	PinnedBy string
	// Firmware says which firmware files exist. A client whose file is
	// missing is not answered, so it can still boot from another server.
	Firmware Firmware
	// PortHeld: another program on this host holds the DHCP port (pixie
	// answers it over the link layer); see ReasonRequestForPortHolder.
	PortHeld bool
	// LoaderSets finds machines whose profile's image has its own shim
	// and GRUB (loaderset.go); nil: every machine gets the server's.
	LoaderSets LoaderSets
}

func (c ReplyConfig) url(path string) string {
	return "http://" + netip.AddrPortFrom(c.ServerIP, uint16(c.HTTPPort)).String() + path
}

// Decision says what Reply decided and what it learned about the client.
type Decision struct {
	// Reply is MessageTypeOffer or MessageTypeAck when the request is
	// answered, MessageTypeNone when it is ignored.
	Reply dhcpv4.MessageType
	// Reason is why the request was ignored (one of the Reason constants),
	// empty when it is answered.
	Reason string
	// Arch is ArchName of the client's architecture, empty when unknown.
	Arch string
	// Class is the vendor class the reply carries: ClassPXE or ClassHTTP.
	Class string
	// IPXE is true when the client is already iPXE (user class "iPXE" or
	// option 175), so it was sent the boot script rather than firmware.
	IPXE bool
	// BootFile is the file or URL the client is told to load.
	BootFile string
	// Loader is the loader BootFile belongs to for UEFI first stages
	// chosen by loader (empty otherwise: BIOS, iPXE clients, --efi-file),
	// and LoaderNote what chose it, as the boot event shows it.
	Loader     Loader
	LoaderNote string
	// Relay is the relay agent (giaddr) a relayed request came through, nil
	// otherwise; the reply to a relayed port-67 request goes to Relay:67.
	Relay net.IP
}

// Ignored reports whether the request is left unanswered.
func (d Decision) Ignored() bool { return d.Reply == dhcpv4.MessageTypeNone }

// ArchName names a client architecture (option 93, RFC 4578 and the IANA
// registry) the way boot events and logs show it.
func ArchName(a iana.Arch) string {
	switch a {
	case iana.INTEL_X86PC:
		return "bios"
	case iana.EFI_IA32:
		return "efi-ia32"
	case iana.EFI_X86_64, iana.EFI_BC: // RFC 4578 swapped 7 and 9: firmware following it sends 9
		return "efi-x64"
	case iana.EFI_ARM64:
		return "efi-arm64"
	case iana.EFI_X86_64_HTTP:
		return "efi-x64-http"
	case iana.EFI_ARM64_HTTP:
		return "efi-arm64-http"
	}
	return "arch-" + strconv.Itoa(int(a))
}

// pxeVendorOptions is option 43 for PXEClient replies: PXE_DISCOVERY_CONTROL
// (tag 6) = 8, "the boot file name is in this packet: download it, no boot
// server discovery, no menu", then the End tag. It is the smallest option 43
// that tells a PXE 2.1 client everything, and what dnsmasq's proxy mode (with
// no pxe-service menu) and Tinkerbell smee send; some firmware ignores a
// proxy offer without option 43. EDK2 (OVMF, most UEFI firmware) sees tag 6
// bit 3 plus a boot file and boots from the offer without asking on port
// 4011 (seen with Debian 12's OVMF); given no discovery tags at all it would
// ask on 4011 first (EDK2 calls that a BINL offer), which pixie also answers.
// EDK2 before its 2017 fix (TianoCore bug 469) dropped proxy offers with
// tag 6; pixiecore leaves option 43 out for UEFI for that reason.
const pxeVendorOptions = "\x06\x01\x08\xff"

// Reply decides whether and how to answer a boot request received on svc,
// and builds the reply. It does no I/O: it only reads req and cfg (including
// cfg.Firmware), so every rule can be tested with packets built in memory.
// The reply is nil exactly when the decision is to ignore the request.
//
// pixie is a proxyDHCP server: it never hands out addresses. Its replies
// carry yiaddr 0 and no lease options, only where to get the boot file, and
// it stays silent for anything that is not a PXE or HTTP boot client, so the
// LAN's own DHCP server is never contradicted.
func Reply(req *dhcpv4.DHCPv4, svc Service, cfg ReplyConfig) (*dhcpv4.DHCPv4, Decision) {
	var d Decision
	ignore := func(reason string) (*dhcpv4.DHCPv4, Decision) {
		d.Reply, d.Reason, d.BootFile = dhcpv4.MessageTypeNone, reason, ""
		return nil, d
	}
	if req.OpCode != dhcpv4.OpcodeBootRequest {
		return ignore(ReasonNotBootRequest)
	}
	vendorClass := req.ClassIdentifier()
	switch {
	case strings.HasPrefix(vendorClass, ClassHTTP):
		d.Class = ClassHTTP
	case strings.HasPrefix(vendorClass, ClassPXE):
		d.Class = ClassPXE
	default:
		return ignore(ReasonNotPXE)
	}
	if len(req.ClientHWAddr) == 0 {
		return ignore(ReasonNoMAC)
	}
	if g := req.GatewayIPAddr.To4(); g != nil && !g.IsUnspecified() {
		d.Relay = g
	}

	switch mt := req.MessageType(); {
	case svc == ServiceDHCP && mt == dhcpv4.MessageTypeDiscover:
		d.Reply = dhcpv4.MessageTypeOffer
	case svc == ServiceDHCP && mt == dhcpv4.MessageTypeRequest && cfg.PortHeld:
		return ignore(ReasonRequestForPortHolder)
	case svc == ServiceDHCP && mt == dhcpv4.MessageTypeRequest:
		// A REQUEST on port 67 is the client taking one server's offer. It
		// is for pixie only when it names pixie as the server; answering
		// the REQUEST that accepts the LAN's DHCP server's address offer
		// would race that server's ACK with one that carries no address.
		sid := req.ServerIdentifier()
		if sid == nil || !sid.Equal(net.IP(cfg.ServerIP.AsSlice())) {
			return ignore(ReasonRequestNotForUs)
		}
		d.Reply = dhcpv4.MessageTypeAck
	case svc == ServicePXE && (mt == dhcpv4.MessageTypeRequest || mt == dhcpv4.MessageTypeInform):
		d.Reply = dhcpv4.MessageTypeAck
	default:
		return ignore(ReasonUnsupportedMessageType)
	}

	if reason := bootFields(req, vendorClass, cfg, &d); reason != "" {
		return ignore(reason)
	}
	return buildReply(req, d, cfg), d
}

// bootFields fills in d's architecture and boot file for a boot client
// whose vendor class is vendorClass: the PXE half of an answer, shared by
// proxy replies and full-DHCP replies. It returns the reason the client
// cannot be served, empty when it can.
func bootFields(req *dhcpv4.DHCPv4, vendorClass string, cfg ReplyConfig, d *Decision) string {
	arch, reason := clientArch(req, vendorClass)
	if reason != "" {
		return reason
	}
	d.Arch = ArchName(arch)
	d.IPXE = isIPXE(req)
	if arch == iana.EFI_X86_64_HTTP || arch == iana.EFI_ARM64_HTTP {
		d.Class = ClassHTTP // HTTP boot firmware; say so even if option 60 was odd
	}

	switch {
	case d.IPXE:
		// iPXE is already running: hand it the script, never the firmware
		// again, or it would chainload itself forever.
		d.BootFile = cfg.url(ScriptPath)
	default:
		name, ok := firmwareFor(arch, cfg, d, hwaddr.String(req.ClientHWAddr))
		if !ok {
			return ReasonUnsupportedArch
		}
		if name == "" || cfg.Firmware == nil || !cfg.Firmware.Has(name) {
			return ReasonNoFirmware + ":" + d.Arch
		}
		d.BootFile = name
		if d.Class == ClassHTTP {
			d.BootFile = cfg.url(FirmwarePath + name)
		}
	}
	return ""
}

// clientArch returns the client's architecture from option 93, or from the
// "Arch:xxxxx" field of option 60 for the odd ROM that omits option 93.
func clientArch(req *dhcpv4.DHCPv4, vendorClass string) (iana.Arch, string) {
	if raw, ok := req.Options[dhcpv4.OptionClientSystemArchitectureType.Code()]; ok {
		// A list of 16-bit values, most preferred first (RFC 4578 2.1).
		if len(raw) == 0 || len(raw)%2 != 0 {
			return 0, ReasonMalformedOption93
		}
		return iana.Arch(uint16(raw[0])<<8 | uint16(raw[1])), ""
	}
	// "PXEClient:Arch:00007:UNDI:003016": the arch is five decimal digits.
	_, rest, ok := strings.Cut(vendorClass, ":Arch:")
	if !ok || len(rest) < 5 {
		return 0, ReasonNoArch
	}
	n, err := strconv.ParseUint(rest[:5], 10, 16)
	if err != nil {
		return 0, ReasonNoArch
	}
	return iana.Arch(n), ""
}

// isIPXE reports whether the client is iPXE: it sends user class "iPXE"
// (option 77, raw or RFC 3004 encoded) and its own option 175.
func isIPXE(req *dhcpv4.DHCPv4) bool {
	if req.Options.Has(dhcpv4.OptionEtherboot) {
		return true
	}
	return bytes.Contains(req.Options.Get(dhcpv4.OptionUserClassInformation), []byte("iPXE"))
}

// firmwareFor maps an architecture to its first-stage file name. For UEFI
// x86-64 and arm64 the loader decides (see pickFile) and is noted in d; an
// empty name with ok means the loader's file is missing.
func firmwareFor(arch iana.Arch, cfg ReplyConfig, d *Decision, mac string) (string, bool) {
	switch arch {
	case iana.INTEL_X86PC:
		return FileBIOS, true
	case iana.EFI_IA32:
		return FileEFIIA32, true
	}
	ladder, arm64 := onLadder(arch)
	if !ladder {
		return "", false
	}
	if cfg.EFIFile != "" && !arm64 && !(cfg.Pinned && cfg.PinnedBy == "machine") {
		d.LoaderNote = "--efi-file"
		return cfg.EFIFile, true
	}
	l := cfg.Loader
	if l == "" || l == LoaderAuto {
		l = LoaderSNPOnly
	}
	name, ok := pickFile(l, cfg.Pinned, arm64, cfg.Firmware)
	own := ownShim(name, mac, cfg)
	if own != "" {
		name, ok = own, true
	}
	if !ok {
		return "", true
	}
	d.Loader = fileLoader(path.Base(name))
	switch {
	case cfg.Pinned:
		d.LoaderNote = "loader " + string(l) + ", set on the " + cfg.PinnedBy
	case l == LoaderSNPOnly:
		d.LoaderNote = "loader auto"
	default:
		d.LoaderNote = "loader auto, stepped to " + string(l)
	}
	if own != "" {
		d.LoaderNote += "; the profile image's own shim and GRUB"
	}
	return name, true
}

// buildReply makes the proxyDHCP OFFER or ACK for an answered request.
func buildReply(req *dhcpv4.DHCPv4, d Decision, cfg ReplyConfig) *dhcpv4.DHCPv4 {
	server := net.IP(cfg.ServerIP.AsSlice())
	resp := &dhcpv4.DHCPv4{
		OpCode:         dhcpv4.OpcodeBootReply,
		HWType:         req.HWType,
		TransactionID:  req.TransactionID,
		Flags:          req.Flags,
		ClientIPAddr:   net.IPv4zero,
		YourIPAddr:     net.IPv4zero, // proxyDHCP: the address comes from the LAN's DHCP server
		ServerIPAddr:   server,       // next server: where the TFTP download comes from
		GatewayIPAddr:  req.GatewayIPAddr,
		ClientHWAddr:   req.ClientHWAddr,
		ServerHostName: cfg.ServerIP.String(),
		BootFileName:   d.BootFile,
		Options:        make(dhcpv4.Options, 8), // room for every option set below
	}
	if resp.GatewayIPAddr == nil {
		resp.GatewayIPAddr = net.IPv4zero
	}
	if d.Reply == dhcpv4.MessageTypeAck && req.ClientIPAddr != nil && req.ClientIPAddr.To4() != nil {
		resp.ClientIPAddr = req.ClientIPAddr // RFC 2131 table 3: an ACK keeps ciaddr
	}
	if resp.ClientIPAddr.IsUnspecified() {
		// A client without an address cannot receive unicast, and a relay
		// agent would try to unicast to yiaddr, which is 0 here. Dnsmasq's
		// proxy mode sets the flag for the same reason.
		resp.SetBroadcast()
	}
	resp.UpdateOption(dhcpv4.OptMessageType(d.Reply))
	resp.UpdateOption(dhcpv4.OptServerIdentifier(server))
	addBootOptions(resp, req, d)
	echoOptions(resp, req)
	return resp
}

// addBootOptions puts the PXE half of an answer into resp: the class, the
// PXE vendor options, the client's GUID and the boot file option. Proxy
// replies and full-DHCP replies to boot clients share it.
func addBootOptions(resp, req *dhcpv4.DHCPv4, d Decision) {
	resp.UpdateOption(dhcpv4.OptClassIdentifier(d.Class))
	if d.Class == ClassPXE {
		resp.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionVendorSpecificInformation, []byte(pxeVendorOptions)))
	}
	// PXE clients expect their GUID (option 97) back in the reply.
	if guid := req.Options.Get(dhcpv4.OptionClientMachineIdentifier); guid != nil {
		resp.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionClientMachineIdentifier, guid))
	}
	// The file field always has the boot file (old ROMs read only that);
	// option 67 repeats it for clients that ask for it, as dnsmasq does.
	if req.IsOptionRequested(dhcpv4.OptionBootfileName) {
		resp.UpdateOption(dhcpv4.OptBootFileName(d.BootFile))
	}
}

// echoOptions returns what senders expect back: relay agents their option
// 82 (RFC 3046), clients their client identifier (RFC 6842).
func echoOptions(resp, req *dhcpv4.DHCPv4) {
	for _, code := range []dhcpv4.OptionCode{dhcpv4.OptionRelayAgentInformation, dhcpv4.OptionClientIdentifier} {
		if v := req.Options.Get(code); v != nil {
			resp.UpdateOption(dhcpv4.OptGeneric(code, v))
		}
	}
}

// Destination returns where the reply to req, received on svc from src, is
// sent. clientPort is the DHCP client port (68 outside tests).
//
//   - Port 4011: straight back to the sender, which is talking to pixie
//     from an address it already has.
//   - Port 67, relayed (giaddr set): to the relay agent's server port 67
//     (RFC 2131 4.1); the relay takes it from there.
//   - Port 67, from a client with an address (ciaddr) that did not ask for
//     broadcast: unicast to ciaddr.
//   - Otherwise: broadcast, since the client has no address yet.
func Destination(req *dhcpv4.DHCPv4, svc Service, src *net.UDPAddr, clientPort int) *net.UDPAddr {
	if svc == ServicePXE {
		return src
	}
	if g := req.GatewayIPAddr.To4(); g != nil && !g.IsUnspecified() {
		return &net.UDPAddr{IP: g, Port: dhcpv4.ServerPort}
	}
	if c := req.ClientIPAddr.To4(); c != nil && !c.IsUnspecified() && !req.IsBroadcast() {
		return &net.UDPAddr{IP: c, Port: clientPort}
	}
	return &net.UDPAddr{IP: net.IPv4bcast, Port: clientPort}
}

// clientIP returns the address a client revealed: ciaddr, or the address it
// asks for in option 50 (in a REQUEST, the one the LAN's DHCP server offered).
func clientIP(req *dhcpv4.DHCPv4) net.IP {
	if c := req.ClientIPAddr.To4(); c != nil && !c.IsUnspecified() {
		return c
	}
	if r := req.RequestedIPAddress().To4(); r != nil && !r.IsUnspecified() {
		return r
	}
	return nil
}

// verb names a reply type in counters and event details.
func verb(t dhcpv4.MessageType) string {
	switch t {
	case dhcpv4.MessageTypeOffer:
		return "offer"
	case dhcpv4.MessageTypeAck:
		return "ack"
	}
	return strings.ToLower(t.String())
}

// describe is the event detail of an answer: "offer undionly.kpxe",
// "ack http://10.0.0.2:8080/boot.ipxe (iPXE)".
func describe(d Decision) string {
	s := verb(d.Reply) + " " + d.BootFile
	switch {
	case d.IPXE:
		s += " (iPXE)"
	case d.Class == ClassHTTP && d.LoaderNote != "":
		s += " (" + ClassHTTP + "; " + d.LoaderNote + ")"
	case d.Class == ClassHTTP:
		s += " (" + ClassHTTP + ")"
	case d.LoaderNote != "":
		s += " (" + d.LoaderNote + ")"
	}
	return s
}

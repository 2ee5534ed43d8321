// Package dhcp is pixie's proxyDHCP server: the first step of a network boot.
//
// PXE firmware broadcasts a DHCPDISCOVER carrying option 60
// "PXEClient:Arch:xxxxx" (or "HTTPClient:…" for UEFI HTTP boot). The LAN's
// own DHCP server gives the machine its address; pixie answers beside it as a
// proxyDHCP server (PXE 2.1): an offer with no address (yiaddr 0) that only
// says where to fetch the first-stage firmware, from which server (siaddr,
// option 54) and that no boot server discovery is needed (option 43). Some
// firmware then asks again on UDP 4011, where pixie answers with an ACK.
// Anything that is not a PXE or HTTP boot client is never answered, so pixie
// can run on a network whose DHCP server it does not control.
//
// The first stage depends on the client architecture (option 93): BIOS gets
// undionly.kpxe, UEFI gets an iPXE EFI binary over TFTP, UEFI HTTP boot gets
// an http:// URL to the same binary. Once iPXE runs it DHCPs again, now with
// user class "iPXE", and is given the http:// URL of pixie's boot script
// instead, which breaks the chainload loop.
//
// The package has two layers. Reply is the whole decision, a pure function
// of the request and a ReplyConfig; Decision says what was decided and why a
// request was ignored. Server does the I/O: it reads both ports, asks Reply,
// sends the answer where RFC 2131 says it goes (see Destination), and
// records counters and boot events. Its collaborators come in through Deps;
// the package has no globals.
package dhcp

package storm

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// client is one simulated machine.
type client struct {
	r     *runner
	idx   int
	mac   net.HardwareAddr
	uefi  bool
	guid  []byte
	start time.Time
	res   Result
}

func (c *client) arch() string {
	if c.uefi {
		return "efi-x64"
	}
	return "bios"
}

// stageErr is a failure in a stage.
type stageErr struct {
	stage string
	err   error
}

func (e *stageErr) Error() string { return e.stage + ": " + e.err.Error() }

func fail(stage string, format string, args ...any) error {
	return &stageErr{stage, fmt.Errorf(format, args...)}
}

func (c *client) done(stage string) {
	c.res.Stages = append(c.res.Stages, StageTime{Stage: stage, At: time.Since(c.start)})
	if c.r.cfg.Pace > 0 {
		time.Sleep(c.r.cfg.Pace)
	}
}

func (c *client) retry(stage string) {
	if c.res.Retries == nil {
		c.res.Retries = map[string]int{}
	}
	c.res.Retries[stage]++
}

// boot runs the whole chain and returns the client's result.
func (c *client) boot(ctx context.Context) Result {
	c.start = time.Now()
	c.res = Result{MAC: c.mac.String(), Arch: c.arch()}
	c.guid = make([]byte, 17) // option 97: type 0 + a 16-byte UUID
	rand.Read(c.guid[1:])
	if err := c.run(ctx); err != nil {
		var se *stageErr
		if errors.As(err, &se) {
			c.res.Failed, c.res.Err = se.stage, se.err.Error()
		} else {
			c.res.Failed, c.res.Err = "unknown", err.Error()
		}
		return c.res
	}
	c.res.Total = time.Since(c.start)
	return c.res
}

func (c *client) run(ctx context.Context) error {
	cfg := c.r.cfg
	server := net.IP(cfg.ServerIP.AsSlice())

	// 1. The firmware's DISCOVER: pixie's proxy offer names the file.
	offer, err := c.broadcast(ctx, StageOffer, dhcpv4.MessageTypeDiscover, c.pxeOptions(false)...)
	if err != nil {
		return err
	}
	file := offer.BootFileName
	want := "undionly.kpxe"
	if c.uefi {
		want = "snponly.efi" // pixie's default first stage for UEFI x86-64
	}
	if file != want || !offer.ServerIPAddr.Equal(server) || !offer.YourIPAddr.IsUnspecified() {
		return fail(StageOffer, "pixie offered file %q next-server %s yiaddr %s, want %q from %s and no address", file, offer.ServerIPAddr, offer.YourIPAddr, want, server)
	}
	c.done(StageOffer)

	// The LAN's DHCP server gives the address: take one from the pool
	// and accept it the way a client accepts a lease offer, with a
	// REQUEST naming that server (pixie sees it and stays silent).
	waitStart := time.Now()
	var addr netip.Addr
	select {
	case addr = <-c.r.pool:
	case <-ctx.Done():
		return fail(StagePXE, "cancelled waiting for an address")
	}
	c.res.AddrWait = time.Since(waitStart)
	released := false
	release := func() {
		if !released {
			released = true
			c.r.pool <- addr
		}
	}
	defer release()
	if cfg.RouterIP.Is4() {
		c.sendOnly(dhcpv4.MessageTypeRequest, append(c.pxeOptions(false),
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(cfg.RouterIP.AsSlice()))),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP(addr.AsSlice())))))
	}

	// 2. The PXE follow-up on port 4011, from the new address.
	ack, err := c.pxeRequest(ctx, addr)
	if err != nil {
		return err
	}
	if ack.BootFileName != file {
		return fail(StagePXE, "pixie's 4011 ACK names %q, the offer %q", ack.BootFileName, file)
	}
	c.done(StagePXE)

	// 3. TFTP of the first stage; UEFI firmware probes the size first.
	n, err := c.tftp(ctx, addr, server, file)
	if err != nil {
		return fail(StageTFTP, "%s: %v", file, err)
	}
	c.res.TFTPBytes = n
	c.done(StageTFTP)
	release() // the TFTP phase is over: pixie knows this MAC by its URLs now

	// 4. iPXE asks again and is sent to the boot script.
	ipxeOffer, err := c.broadcast(ctx, StageIPXE, dhcpv4.MessageTypeDiscover, c.pxeOptions(true)...)
	if err != nil {
		return err
	}
	chainURL := ipxeOffer.BootFileName
	if !strings.HasPrefix(chainURL, "http://") || !strings.HasSuffix(chainURL, "/boot.ipxe") {
		return fail(StageIPXE, "pixie sent iPXE to %q, want http://…/boot.ipxe", chainURL)
	}
	c.done(StageIPXE)

	// 5. HTTP: boot.ipxe, the machine's script, kernel, initrd, Ignition.
	hc := c.r.httpClient(addr)
	defer hc.CloseIdleConnections()
	chain, err := c.get(ctx, hc, StageChain, chainURL, true)
	if err != nil {
		return err
	}
	scriptURL, err := c.chainTarget(chain)
	if err != nil {
		return fail(StageChain, "%v\n%s", err, chain)
	}
	c.done(StageChain)

	script, err := c.get(ctx, hc, StageScript, scriptURL, true)
	if err != nil {
		return err
	}
	kernel, initrds, ignURL, err := parseScript(script)
	if err != nil {
		return fail(StageScript, "%v\n%s", err, script)
	}
	c.done(StageScript)

	if _, err := c.get(ctx, hc, StageKernel, kernel, false); err != nil {
		return err
	}
	c.done(StageKernel)
	for _, u := range initrds {
		if _, err := c.get(ctx, hc, StageInitrd, u, false); err != nil {
			return err
		}
	}
	c.done(StageInitrd)

	ign, err := c.get(ctx, hc, StageIgnition, ignURL, true)
	if err != nil {
		return err
	}
	var cfgJSON struct {
		Ignition struct {
			Version string `json:"version"`
		} `json:"ignition"`
	}
	if err := json.Unmarshal(ign, &cfgJSON); err != nil || cfgJSON.Ignition.Version == "" {
		return fail(StageIgnition, "not an Ignition config (%v): %.200s", err, ign)
	}
	c.done(StageIgnition)
	return nil
}

// pxeOptions are what a PXE ROM (or, with ipxe, the iPXE it loaded) puts
// in its DHCP packets.
func (c *client) pxeOptions(ipxe bool) []dhcpv4.Modifier {
	arch, class := iana.INTEL_X86PC, "PXEClient:Arch:00000:UNDI:002001"
	if c.uefi {
		arch, class = iana.EFI_X86_64, "PXEClient:Arch:00007:UNDI:003016"
	}
	mods := []dhcpv4.Modifier{
		dhcpv4.WithOption(dhcpv4.OptClassIdentifier(class)),
		dhcpv4.WithGeneric(dhcpv4.OptionClientSystemArchitectureType, []byte{byte(arch >> 8), byte(arch)}),
		dhcpv4.WithGeneric(dhcpv4.OptionClientNetworkInterfaceIdentifier, []byte{1, 3, 16}),
		dhcpv4.WithGeneric(dhcpv4.OptionClientMachineIdentifier, c.guid),
		dhcpv4.WithRequestedOptions(dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionVendorSpecificInformation,
			dhcpv4.OptionClassIdentifier, dhcpv4.OptionTFTPServerName, dhcpv4.OptionBootfileName),
		dhcpv4.WithGeneric(dhcpv4.OptionMaximumDHCPMessageSize, []byte{0x05, 0xc0}),
	}
	if ipxe {
		// iPXE: user class "iPXE" (option 77) and its encapsulated 175.
		mods = append(mods,
			dhcpv4.WithGeneric(dhcpv4.OptionUserClassInformation, []byte("iPXE")),
			dhcpv4.WithGeneric(dhcpv4.OptionEtherboot, []byte{0xb1, 0x05, 0x01, 0x80, 0x86, 0x10, 0x0e}))
	}
	return mods
}

func (c *client) message(typ dhcpv4.MessageType, xid dhcpv4.TransactionID, mods []dhcpv4.Modifier) (*dhcpv4.DHCPv4, error) {
	return dhcpv4.New(append([]dhcpv4.Modifier{
		dhcpv4.WithTransactionID(xid),
		dhcpv4.WithHwAddr(c.mac),
		dhcpv4.WithBroadcast(true),
		dhcpv4.WithMessageType(typ),
	}, mods...)...)
}

var bcast = &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ServerPort}

// broadcast sends a message to everyone on port 67 and waits for pixie's
// answer, retransmitting (same transaction ID) like firmware does.
func (c *client) broadcast(ctx context.Context, stage string, typ dhcpv4.MessageType, mods ...dhcpv4.Modifier) (*dhcpv4.DHCPv4, error) {
	xid, ch := c.r.register()
	defer c.r.unregister(xid)
	msg, err := c.message(typ, xid, mods)
	if err != nil {
		return nil, fail(stage, "build %s: %v", typ, err)
	}
	pkt := msg.ToBytes()
	server := net.IP(c.r.cfg.ServerIP.AsSlice())
	for i, wait := range c.r.cfg.DHCPTimeouts {
		if i > 0 {
			c.retry(stage)
		}
		if _, err := c.r.dhcp.WriteToUDP(pkt, bcast); err != nil {
			return nil, fail(stage, "send %s: %v", typ, err)
		}
		timer := time.NewTimer(wait)
	wait:
		for {
			select {
			case reply := <-ch:
				if !reply.ServerIdentifier().Equal(server) || !bytes.Equal(reply.ClientHWAddr, c.mac) {
					continue // the LAN's DHCP server, or not ours
				}
				timer.Stop()
				return reply, nil
			case <-timer.C:
				break wait
			case <-ctx.Done():
				timer.Stop()
				return nil, fail(stage, "cancelled")
			}
		}
	}
	return nil, fail(stage, "no answer from pixie to %d %ss (%d tries)", len(c.r.cfg.DHCPTimeouts), typ, len(c.r.cfg.DHCPTimeouts))
}

// sendOnly broadcasts a message nobody needs to answer.
func (c *client) sendOnly(typ dhcpv4.MessageType, mods []dhcpv4.Modifier) {
	var xid dhcpv4.TransactionID
	rand.Read(xid[:])
	if msg, err := c.message(typ, xid, mods); err == nil {
		c.r.dhcp.WriteToUDP(msg.ToBytes(), bcast)
	}
}

// pxeRequest is the PXE client's REQUEST to port 4011, unicast from its
// address; pixie answers straight back.
func (c *client) pxeRequest(ctx context.Context, addr netip.Addr) (*dhcpv4.DHCPv4, error) {
	var conn *net.UDPConn
	err := c.r.enter(func() (err error) {
		conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IP(addr.AsSlice())})
		return err
	})
	if err != nil {
		return nil, fail(StagePXE, "socket: %v", err)
	}
	defer conn.Close()
	var xid dhcpv4.TransactionID
	rand.Read(xid[:])
	msg, err := dhcpv4.New(append([]dhcpv4.Modifier{
		dhcpv4.WithTransactionID(xid),
		dhcpv4.WithHwAddr(c.mac),
		dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithClientIP(net.IP(addr.AsSlice())),
	}, c.pxeOptions(false)...)...)
	if err != nil {
		return nil, fail(StagePXE, "build: %v", err)
	}
	to := &net.UDPAddr{IP: net.IP(c.r.cfg.ServerIP.AsSlice()), Port: 4011}
	buf := make([]byte, 4096)
	for i, wait := range c.r.cfg.DHCPTimeouts {
		if i > 0 {
			c.retry(StagePXE)
		}
		if _, err := conn.WriteToUDP(msg.ToBytes(), to); err != nil {
			return nil, fail(StagePXE, "send: %v", err)
		}
		deadline := time.Now().Add(wait)
		for {
			if ctx.Err() != nil {
				return nil, fail(StagePXE, "cancelled")
			}
			conn.SetReadDeadline(deadline)
			n, _, err := conn.ReadFromUDP(buf)
			if err != nil {
				break // timeout: send again
			}
			reply, err := dhcpv4.FromBytes(buf[:n])
			if err == nil && reply.TransactionID == xid && reply.MessageType() == dhcpv4.MessageTypeAck {
				return reply, nil
			}
		}
	}
	return nil, fail(StagePXE, "no ACK from pixie on port 4011 (%d tries)", len(c.r.cfg.DHCPTimeouts))
}

// tftp downloads file from server with a socket on addr. UEFI clients
// first ask only for the size and abort, as OVMF does.
func (c *client) tftp(ctx context.Context, addr netip.Addr, server net.IP, file string) (int64, error) {
	blksize := 1456
	if c.uefi {
		blksize = 1468
		size, err := c.tftpGet(ctx, addr, server, file, blksize, true)
		if err != nil {
			return 0, fmt.Errorf("size probe: %w", err)
		}
		if size <= 0 {
			return 0, fmt.Errorf("size probe: no tsize in pixie's option ACK")
		}
	}
	return c.tftpGet(ctx, addr, server, file, blksize, false)
}

func (c *client) tftpGet(ctx context.Context, addr netip.Addr, server net.IP, file string, blksize int, probe bool) (int64, error) {
	var conn *net.UDPConn
	err := c.r.enter(func() (err error) {
		conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IP(addr.AsSlice())})
		return err
	})
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	t := &tftpTransfer{
		conn: conn, server: &net.UDPAddr{IP: server, Port: 69}, file: file, blksize: blksize, probe: probe,
		timeout: c.r.cfg.TFTPTimeout, retries: c.r.cfg.TFTPRetries,
		onRetry: func() { c.retry(StageTFTP) },
	}
	return t.run(ctx)
}

// get fetches url, trying again after a failure as the boot script does,
// and returns the body when keep is set (it is only counted otherwise).
func (c *client) get(ctx context.Context, hc *http.Client, stage, url string, keep bool) ([]byte, error) {
	var last error
	for attempt := range c.r.cfg.HTTPAttempts {
		if attempt > 0 {
			c.retry(stage)
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
				return nil, fail(stage, "cancelled")
			}
		}
		body, n, err := fetch(ctx, hc, url, keep)
		c.res.HTTPBytes += n
		if err == nil {
			return body, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fail(stage, "GET %s: %v", url, last)
}

func fetch(ctx context.Context, hc *http.Client, url string, keep bool) ([]byte, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("User-Agent", "iPXE/1.21.1+ (storm)")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	var w io.Writer = io.Discard
	if keep || resp.StatusCode != http.StatusOK {
		w = &buf
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return nil, n, fmt.Errorf("after %d bytes: %w", n, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, n, fmt.Errorf("%s: %.200s", resp.Status, buf.String())
	}
	if resp.ContentLength < 0 {
		return nil, n, errors.New("no Content-Length (iPXE downloads crawl without it)")
	}
	if n != resp.ContentLength {
		return nil, n, fmt.Errorf("got %d bytes of %d", n, resp.ContentLength)
	}
	return buf.Bytes(), n, nil
}

// ipxeSetting matches an iPXE setting reference: ${name} or ${name:type}.
var ipxeSetting = regexp.MustCompile(`\$\{([^}:]+)(?::([^}]*))?\}`)

// expand fills in the iPXE settings of s the way iPXE would for this
// client. Settings iPXE would not have expand to "", as in iPXE.
func (c *client) expand(s string) string {
	platform, buildarch := "pcbios", "i386"
	if c.uefi {
		platform, buildarch = "efi", "x86_64"
	}
	uuid := fmt.Sprintf("%x-%x-%x-%x-%x", c.guid[1:5], c.guid[5:7], c.guid[7:9], c.guid[9:11], c.guid[11:17])
	return ipxeSetting.ReplaceAllStringFunc(s, func(ref string) string {
		m := ipxeSetting.FindStringSubmatch(ref)
		name, typ := m[1], m[2]
		var v string
		switch name {
		case "netX/mac", "net0/mac", "mac":
			v = c.mac.String()
			if typ == "hexhyp" {
				v = strings.ReplaceAll(v, ":", "-")
			}
		case "uuid", "smbios/uuid":
			v = uuid
		case "buildarch":
			v = buildarch
		case "platform":
			v = platform
		}
		if typ == "uristring" {
			v = url.QueryEscape(v)
		}
		return v
	})
}

// chainTarget returns the URL the chain line of boot.ipxe leads this
// client to.
func (c *client) chainTarget(script []byte) (string, error) {
	if !bytes.HasPrefix(script, []byte("#!ipxe")) {
		return "", errors.New("boot.ipxe is not an iPXE script")
	}
	for _, line := range strings.Split(string(script), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "chain" {
			continue
		}
		for _, a := range f[1:] {
			if strings.HasPrefix(a, "http://") {
				return c.expand(a), nil
			}
		}
	}
	return "", errors.New("boot.ipxe chains to no http:// URL")
}

// parseScript returns the kernel and initrd URLs and the Ignition URL (from
// the kernel arguments) of a machine's boot script.
func parseScript(script []byte) (kernel string, initrds []string, ignition string, err error) {
	if !bytes.HasPrefix(script, []byte("#!ipxe")) {
		return "", nil, "", errors.New("not an iPXE script")
	}
	for _, line := range strings.Split(string(script), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || (f[0] != "kernel" && f[0] != "initrd") {
			continue
		}
		i := 1
		for i < len(f) && strings.HasPrefix(f[i], "-") {
			switch f[i] {
			case "--name", "-n", "--timeout", "-t":
				i++ // the option's value
			}
			i++
		}
		if i == len(f) {
			return "", nil, "", fmt.Errorf("%s line without a URL", f[0])
		}
		if f[0] == "initrd" {
			initrds = append(initrds, f[i])
			continue
		}
		kernel = f[i]
		for _, arg := range f[i+1:] {
			for _, key := range []string{"ignition.config.url=", "coreos.config.url="} {
				if v, ok := strings.CutPrefix(arg, key); ok {
					ignition = v
				}
			}
		}
	}
	switch {
	case kernel == "":
		return "", nil, "", errors.New("no kernel line (an error script?)")
	case len(initrds) == 0:
		return "", nil, "", errors.New("no initrd line")
	case ignition == "":
		return "", nil, "", errors.New("no ignition.config.url in the kernel arguments")
	}
	return kernel, initrds, ignition, nil
}

// netNS identifies a network namespace.
type netNS struct{ dev, ino uint64 }

// threadNetNS returns the network namespace of the calling thread.
func threadNetNS() (netNS, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/thread-self/ns/net", &st); err != nil {
		return netNS{}, fmt.Errorf("storm: cannot tell which network namespace this is: %w", err)
	}
	return netNS{uint64(st.Dev), st.Ino}, nil
}

// notHostNamespace refuses to go on when the calling thread is in host,
// the namespace the storm was started from, or in pid 1's: the simulator
// only ever talks inside test namespaces.
func notHostNamespace(host netNS) error {
	self, err := threadNetNS()
	if err != nil {
		return err
	}
	var st syscall.Stat_t
	if self == host || (syscall.Stat("/proc/1/ns/net", &st) == nil && self == netNS{uint64(st.Dev), st.Ino}) {
		return errors.New("storm: refusing to open a socket in the host's network namespace")
	}
	return nil
}

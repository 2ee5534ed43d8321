// Command pxload is the load generator and probe of pixie's side-by-side
// benchmarks (bench/*.sh). It runs inside the benchmarks' own network
// namespaces; every loop in it is bounded in count and time.
//
//	pxload tftp -server IP:69 -files a,b -clients N [-blksize 1468] [-rounds R]
//	    N concurrent clients, each fetching every file R times; prints
//	    "seconds=… bytes=… transfers=… errors=…".
//	pxload first-offer -server IP -local IP [-timeout 10s]
//	    sends a relayed PXE DHCPDISCOVER (from local:67, giaddr local) every
//	    5 ms until one is answered; prints the Unix time in ns of the answer.
//	pxload first-http -url URL [-timeout 10s]
//	    polls URL every 2 ms until it answers 200; prints the Unix time in ns.
//	pxload seed -socket PATH -n 1000 -macs FILE
//	    adds n machines through the control socket; writes their MACs to FILE.
//	pxload profile-assets -socket PATH -profile NAME -dir ASSETS
//	    creates small stand-in files for the profile's kernel and initrds in
//	    the asset store, so its iPXE script is the real one.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
	"github.com/pin/tftp/v3"

	"github.com/pixie-boot/pixie/daemon/api"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: pxload tftp|first-offer|first-http|seed [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "tftp":
		err = tftpLoad(os.Args[2:])
	case "first-offer":
		err = firstOffer(os.Args[2:])
	case "first-http":
		err = firstHTTP(os.Args[2:])
	case "seed":
		err = seed(os.Args[2:])
	case "profile-assets":
		err = profileAssets(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pxload:", err)
		os.Exit(1)
	}
}

func tftpLoad(args []string) error {
	fs := flag.NewFlagSet("tftp", flag.ExitOnError)
	server := fs.String("server", "", "TFTP server host:port")
	files := fs.String("files", "ipxe.efi,undionly.kpxe", "comma-separated files to fetch")
	clients := fs.Int("clients", 1, "concurrent clients")
	blksize := fs.Int("blksize", 1468, "TFTP block size (RFC 2348)")
	rounds := fs.Int("rounds", 1, "times each client fetches each file")
	timeout := fs.Duration("timeout", 120*time.Second, "give up after this long")
	fs.Parse(args)
	names := strings.Split(*files, ",")
	var bytes, transfers, errs atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(*timeout)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < *clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := tftp.NewClient(*server)
			if err != nil {
				errs.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			c.SetBlockSize(*blksize)
			c.SetTimeout(2 * time.Second)
			c.SetRetries(5)
			for r := 0; r < *rounds && time.Now().Before(deadline); r++ {
				for _, name := range names {
					wt, err := c.Receive(name, "octet")
					if err != nil {
						errs.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
						continue
					}
					n, err := wt.WriteTo(io.Discard)
					bytes.Add(n)
					if err != nil {
						errs.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
						continue
					}
					transfers.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	fmt.Printf("seconds=%.4f bytes=%d transfers=%d errors=%d\n", took.Seconds(), bytes.Load(), transfers.Load(), errs.Load())
	if e := firstErr.Load(); e != nil {
		fmt.Fprintln(os.Stderr, "pxload tftp: first error:", e)
	}
	if errs.Load() > 0 {
		return errors.New("some transfers failed")
	}
	return nil
}

// firstOffer measures when a proxyDHCP server starts answering: it sends a
// PXE DISCOVER the way a relay would (perfdhcp does the same), from
// local:67 with giaddr local, so the answer comes back to local:67.
func firstOffer(args []string) error {
	fs := flag.NewFlagSet("first-offer", flag.ExitOnError)
	server := fs.String("server", "", "server IPv4 address")
	local := fs.String("local", "", "local IPv4 address (giaddr)")
	timeout := fs.Duration("timeout", 10*time.Second, "give up after this long")
	fs.Parse(args)
	srv, loc := net.ParseIP(*server).To4(), net.ParseIP(*local).To4()
	if srv == nil || loc == nil {
		return errors.New("-server and -local must be IPv4 addresses")
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: loc, Port: 67})
	if err != nil {
		return err
	}
	defer conn.Close()
	mac := net.HardwareAddr{0x02, 0x00, 0x5e, 0x00, 0x00, 0x01}
	req, err := dhcpv4.NewDiscovery(mac,
		dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00000:UNDI:002001")),
		dhcpv4.WithOption(dhcpv4.OptClientArch(iana.INTEL_X86PC)),
		dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.OptionClientMachineIdentifier, append([]byte{0}, make([]byte, 16)...))),
	)
	if err != nil {
		return err
	}
	req.GatewayIPAddr = loc
	req.SetUnicast()
	pkt := req.ToBytes()
	dst := &net.UDPAddr{IP: srv, Port: 67}
	deadline := time.Now().Add(*timeout)
	buf := make([]byte, 1500)
	for time.Now().Before(deadline) {
		if _, err := conn.WriteToUDP(pkt, dst); err != nil {
			// the server's namespace may not route yet: retry
			time.Sleep(5 * time.Millisecond)
			continue
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
		for {
			n, _, err := conn.ReadFromUDP(buf)
			if err != nil {
				break
			}
			resp, err := dhcpv4.FromBytes(buf[:n])
			if err == nil && resp.TransactionID == req.TransactionID && resp.MessageType() == dhcpv4.MessageTypeOffer {
				fmt.Println(time.Now().UnixNano())
				return nil
			}
		}
	}
	return errors.New("no offer before the timeout")
}

func firstHTTP(args []string) error {
	fs := flag.NewFlagSet("first-http", flag.ExitOnError)
	url := fs.String("url", "", "URL to poll")
	timeout := fs.Duration("timeout", 10*time.Second, "give up after this long")
	fs.Parse(args)
	client := &http.Client{Timeout: 200 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(*timeout)
	for time.Now().Before(deadline) {
		resp, err := client.Get(*url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				fmt.Println(time.Now().UnixNano())
				return nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return errors.New("no 200 before the timeout")
}

func seed(args []string) error {
	fs := flag.NewFlagSet("seed", flag.ExitOnError)
	socket := fs.String("socket", "", "pixie's control socket")
	n := fs.Int("n", 1000, "machines to add")
	macs := fs.String("macs", "", "write the MACs here, one a line")
	fs.Parse(args)
	if *n > 65536 {
		return errors.New("-n is at most 65536")
	}
	c := api.NewClient(*socket)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out strings.Builder
	for i := 0; i < *n; i++ {
		mac := fmt.Sprintf("02:be:00:00:%02x:%02x", i>>8, i&0xff)
		_, err := c.PutMachine(ctx, api.Machine{
			MAC:      mac,
			Hostname: fmt.Sprintf("node%04d", i),
			Vars:     map[string]string{"rack": fmt.Sprint(i / 40)},
		})
		if err != nil {
			return fmt.Errorf("machine %d: %w", i, err)
		}
		out.WriteString(mac + "\n")
	}
	if *macs != "" {
		return os.WriteFile(*macs, []byte(out.String()), 0o644)
	}
	return nil
}

func profileAssets(args []string) error {
	fs := flag.NewFlagSet("profile-assets", flag.ExitOnError)
	socket := fs.String("socket", "", "pixie's control socket")
	name := fs.String("profile", "first-time", "profile")
	dir := fs.String("dir", "", "pixie's asset store (DATA/assets)")
	fs.Parse(args)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := api.NewClient(*socket).Profile(ctx, *name)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(*dir)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, a := range append([]string{p.Kernel}, p.Initrds...) {
		if a == "" || strings.Contains(a, "://") {
			continue
		}
		if d := filepath.Dir(a); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		if err := root.WriteFile(a, make([]byte, 64<<10), 0o644); err != nil {
			return err
		}
		fmt.Println(a)
	}
	return nil
}

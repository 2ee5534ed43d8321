package httpboot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/grubcfg"
	"github.com/pixie-boot/pixie/daemon/hwaddr"
	"github.com/pixie-boot/pixie/daemon/store"
)

// Errors OpenGRUB returns besides the file.
var (
	// ErrNotGRUB: the name is none of GRUB's; serve it as before.
	ErrNotGRUB = errors.New("not a GRUB name")
	// ErrGRUBProbe: a name GRUB tries that pixie never has (module lists,
	// per-IP configs); "not found" is the normal answer, not a warning.
	ErrGRUBProbe = errors.New("GRUB probe: not found, as expected")
	// ErrGRUBAsset: a kernel or initrd pixie's GRUB config named cannot be
	// served now (the machine's profile changed, the file went away);
	// already recorded as a boot event.
	ErrGRUBAsset = errors.New("GRUB asset not available")
)

// GRUBFile is a file pixie makes or serves for a machine on the GRUB
// loader: its GRUB config, or a kernel or initrd that config names. Close
// it when done.
type GRUBFile struct {
	io.ReadSeeker
	io.Closer
	Name string // what the file is, for logs ("GRUB config", the asset path)
	MAC  string
	Size int64
	// Stage is the boot stage the transport records when it has sent the
	// whole file (kernel, initrd), with Detail; "" for configs, which are
	// recorded when rendered.
	Stage  events.Stage
	Detail string
}

// OpenGRUB answers a name GRUB asks for over TFTP or HTTP. ip is the
// client's address, mac the MAC proxyDHCP saw at it ("" if none); a MAC in
// the name wins. Unknown names are ErrNotGRUB.
func (s *Server) OpenGRUB(ctx context.Context, name, ip, mac string) (*GRUBFile, error) {
	n := grubcfg.Parse(name)
	if n.MAC != "" {
		mac = n.MAC
	}
	switch n.What {
	case grubcfg.IsConfig:
		cfg := s.grubConfig(ctx, ip, mac)
		return &GRUBFile{ReadSeeker: strings.NewReader(cfg), Closer: io.NopCloser(nil), Name: "GRUB config", MAC: mac, Size: int64(len(cfg))}, nil
	case grubcfg.IsQuiet:
		return nil, ErrGRUBProbe
	case grubcfg.IsKernel, grubcfg.IsInitrd:
		return s.grubAsset(ctx, n, ip)
	}
	return nil, ErrNotGRUB
}

// serverHost is pixie's address as machines reach it, for the (tftp,IP)
// device in GRUB paths.
func (s *Server) serverHost() string {
	u, err := url.Parse(s.cfg.ServerURL())
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// grubConfig renders the GRUB config for one machine, or one that shows
// what is missing and reloads itself, and records it as the machine's
// script stage (or an error).
func (s *Server) grubConfig(ctx context.Context, ip, mac string) string {
	host := s.serverHost()
	retry := grubcfg.Retry{Reload: grubcfg.ConfigPath(host, mac), Seconds: s.retrySeconds()}
	ev := events.Event{MAC: mac, IP: ip, Stage: events.StageScript}
	fail := func(problem string, fixes ...string) string {
		s.deps.Counters.Inc("grub.boot_errors")
		s.deps.Log.Warn("cannot boot machine on GRUB", "mac", mac, "ip", ip, "problem", problem)
		ev.Stage, ev.Detail = events.StageError, "GRUB config: "+problem
		s.deps.Events.Record(context.WithoutCancel(ctx), ev)
		who := mac
		if who == "" {
			who = "the machine at " + ip
		}
		return grubcfg.Error(append([]string{"cannot boot " + who + ": " + problem}, fixes...), retry)
	}
	if mac == "" {
		return fail("pixie has not seen this address ("+ip+") network-boot, so it does not know the machine's MAC",
			"power-cycle the machine so that its firmware's PXE request reaches pixie, or check that pixie answers on this link (`pixie status`)")
	}
	plan, err := s.deps.Store.PlanBoot(ctx, mac)
	if err != nil {
		return fail("no profile to boot: "+err.Error(),
			"fix it on the server: `pixie machines set "+mac+" --profile NAME` (see `pixie profiles list`)")
	}
	if remote := remoteRefs(plan.Profile); len(remote) > 0 {
		return fail(fmt.Sprintf("profile %s loads %s from another server; GRUB fetches kernels and initrds from pixie over TFTP", plan.Profile.Name, strings.Join(remote, ", ")),
			"fix it on the server: pull the image into pixie (`pixie images pull`) and point the profile at it (`pixie profiles edit "+plan.Profile.Name+" --kernel PATH --initrd PATH`)")
	}
	if missing := s.missingAssets(plan.Profile); len(missing) > 0 {
		var lines []string
		for _, m := range missing {
			lines = append(lines, fmt.Sprintf("profile %s needs %s, which is not in pixie's asset store", plan.Profile.Name, m))
		}
		return fail(strings.Join(lines, "; "),
			"fix it on the server: put the file under the data dir's assets/ folder, or `pixie profiles edit "+plan.Profile.Name+" --kernel PATH --initrd PATH`")
	}
	req := Request{ServerURL: s.cfg.ServerURL(), MAC: mac, IP: ip}
	if err := s.issueToken(ctx, plan, &req); err != nil {
		return fail("cannot issue an Ignition token: " + err.Error())
	}
	args, err := KernelArgs(plan, req)
	if err != nil {
		return fail(err.Error(), "fix the profile on the server: `pixie profiles edit "+plan.Profile.Name+" --args ...`")
	}
	who := "profile " + plan.Profile.Name
	if plan.Default {
		who += " (default for machines pixie does not know yet)"
	}
	boot := grubcfg.Boot{
		Banner: "pixie: booting " + mac + " with " + who + " (GRUB)",
		Kernel: grubcfg.KernelPath(host, mac),
		Args:   strings.Fields(args),
		Failed: fmt.Sprintf("pixie: loading or starting profile %s failed (see `pixie timeline %s` on the server)", plan.Profile.Name, mac),
		Retry:  retry,
	}
	for i := range plan.Profile.Initrds {
		boot.Initrds = append(boot.Initrds, grubcfg.InitrdPath(host, mac, i))
	}
	cfg, err := grubcfg.Config(boot)
	if err != nil {
		return fail("the profile's kernel arguments cannot be written into a GRUB config: "+err.Error(),
			"fix the profile on the server: `pixie profiles edit "+plan.Profile.Name+" --args ...`")
	}
	ev.Detail = "GRUB config, profile " + plan.Profile.Name
	if plan.Default {
		ev.Detail += " (default)"
	}
	s.deps.Log.Info("GRUB config served", "mac", mac, "ip", ip, "profile", plan.Profile.Name, "default", plan.Default)
	s.deps.Events.Record(context.WithoutCancel(ctx), ev)
	return cfg
}

// remoteRefs are the profile's kernel and initrds that live on another
// web server: iPXE fetches those itself, GRUB (over TFTP) cannot.
func remoteRefs(p store.Profile) []string {
	var out []string
	for _, ref := range append([]string{p.Kernel}, p.Initrds...) {
		if strings.HasPrefix(ref, "http://") || strings.HasPrefix(ref, "https://") {
			out = append(out, ref)
		}
	}
	return out
}

// grubAsset opens the kernel or an initrd of the machine's profile, as
// its GRUB config named them. The profile is resolved again now, so the
// path never comes from the client.
func (s *Server) grubAsset(ctx context.Context, n grubcfg.Name, ip string) (*GRUBFile, error) {
	what, stage := "kernel", events.StageKernel
	if n.What == grubcfg.IsInitrd {
		what, stage = fmt.Sprintf("initrd %d", n.Index), events.StageInitrd
	}
	fail := func(problem string) (*GRUBFile, error) {
		s.deps.Counters.Inc("grub.boot_errors")
		s.deps.Log.Warn("GRUB asset not served", "mac", n.MAC, "ip", ip, "file", what, "problem", problem)
		s.deps.Events.Record(context.WithoutCancel(ctx), events.Event{MAC: n.MAC, IP: ip, Stage: events.StageError,
			Detail: "GRUB asked for the " + what + ": " + problem + " (its config retries)"})
		return nil, fmt.Errorf("%w: %s", ErrGRUBAsset, problem)
	}
	plan, err := s.deps.Store.PlanBoot(ctx, n.MAC)
	if err != nil {
		return fail("no profile to boot: " + err.Error())
	}
	ref := plan.Profile.Kernel
	if n.What == grubcfg.IsInitrd {
		if n.Index >= len(plan.Profile.Initrds) {
			return fail(fmt.Sprintf("profile %s has %d initrds", plan.Profile.Name, len(plan.Profile.Initrds)))
		}
		ref = plan.Profile.Initrds[n.Index]
	}
	if len(remoteRefs(store.Profile{Kernel: ref})) > 0 {
		return fail(ref + " is on another server")
	}
	if s.deps.Assets == nil {
		return fail("no asset store is configured")
	}
	f, err := s.deps.Assets.Open(ref)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fail(ref + " is not in pixie's asset store")
		}
		return fail(ref + ": " + err.Error())
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return fail(ref + " is not a regular file")
	}
	return &GRUBFile{ReadSeeker: f, Closer: f, Name: ref, MAC: n.MAC, Size: fi.Size(), Stage: stage,
		Detail: fmt.Sprintf("%s, %d bytes over TFTP (GRUB)", ref, fi.Size())}, nil
}

// serveGRUB answers GRUB's names over HTTP (GRUB started by UEFI HTTP
// boot reads its config from the directory of its boot URL). It reports
// whether the name was GRUB's.
func (s *Server) serveGRUB(w http.ResponseWriter, r *http.Request, name string) bool {
	if grubcfg.Parse(name).What == grubcfg.NotGRUB {
		return false
	}
	ip := clientIP(r)
	mac, _ := hwaddr.Parse(r.URL.Query().Get("mac"))
	if mac == "" && s.deps.MACFor != nil {
		mac = s.deps.MACFor(net.ParseIP(ip))
	}
	f, err := s.OpenGRUB(r.Context(), name, ip, mac)
	switch {
	case errors.Is(err, ErrGRUBProbe):
		s.deps.Log.Debug("GRUB probe not found (normal)", "ip", ip, "file", fmt.Sprintf("%q", name))
		http.Error(w, "pixie: no such GRUB file", http.StatusNotFound)
		return true
	case err != nil:
		http.Error(w, "pixie: "+err.Error(), http.StatusNotFound)
		return true
	}
	defer f.Close()
	w.Header().Set("Cache-Control", "no-store")
	cw := &countingWriter{ResponseWriter: w, status: http.StatusOK}
	http.ServeContent(cw, r, "", time.Time{}, f.ReadSeeker)
	if f.Stage != "" && cw.n == f.Size {
		s.deps.Events.Record(context.WithoutCancel(r.Context()), events.Event{MAC: f.MAC, IP: ip, Stage: f.Stage, Detail: strings.Replace(f.Detail, "over TFTP", "over HTTP", 1)})
	}
	return true
}

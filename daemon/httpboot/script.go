package httpboot

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"text/template"

	"github.com/pixie-boot/pixie/daemon/ignition"
	"github.com/pixie-boot/pixie/daemon/store"
)

// Request is what one booting machine told us about itself, plus where
// pixie is reachable, the inputs to every script and config it is given.
type Request struct {
	ServerURL string // e.g. http://10.0.0.2:8080, no trailing slash
	MAC       string // normalized
	IP        string // client address as seen by the HTTP server
	UUID      string
	Arch      string // iPXE ${buildarch}: i386, x86_64, arm64
	Platform  string // iPXE ${platform}: pcbios, efi
	Hostname  string // as iPXE reported it (DHCP option 12)
	// Token is the per-boot token put in the machine's Ignition and
	// phone-home URLs ("" when tokens are off).
	Token string
}

// chainScript is served at /boot.ipxe. It sends iPXE to the per-machine
// script with everything iPXE knows about the machine. netX is the network
// device iPXE booted from, so a multi-NIC machine is identified by the card
// that is actually booting.
func chainScript(serverURL string) string {
	return "#!ipxe\n" +
		"echo pixie: asking " + serverURL + " for this machine's boot script\n" +
		"chain --autofree " + serverURL + "/ipxe?mac=${netX/mac:hexhyp}&uuid=${uuid}&arch=${buildarch}&platform=${platform}&hostname=${hostname:uristring} || goto failed\n" +
		"exit\n" +
		":failed\n" +
		"echo pixie: could not fetch the boot script from " + serverURL + "; retrying in 10 seconds\n" +
		"sleep 10\n" +
		"chain --replace --autofree " + serverURL + "/boot.ipxe || goto failed\n"
}

// argsData is what kernel-argument templates may use.
type argsData struct {
	ServerURL   string
	IgnitionURL string
	MAC         string
	Hostname    string
	Profile     string
	Vars        map[string]string
}

// newArgsData is what kernel-argument and phone-home templates see for
// one machine's boot.
func newArgsData(plan store.BootPlan, r Request) argsData {
	return argsData{
		ServerURL:   r.ServerURL,
		IgnitionURL: ignitionURL(r),
		MAC:         r.MAC,
		Hostname:    hostnameFor(plan, r),
		Profile:     plan.Profile.Name,
		Vars:        planVars(plan),
	}
}

// ignitionURL is the address the booted OS fetches its config from.
func ignitionURL(r Request) string {
	return r.ServerURL + "/ignition?mac=" + macParam(r.MAC) + archParam(r) + tokenParam(r.Token)
}

// phoneHomeURL is where the booted OS reports that it is up.
func phoneHomeURL(r Request) string {
	return r.ServerURL + "/phone-home?mac=" + macParam(r.MAC) + tokenParam(r.Token)
}

// tokenParam spells the token for a query; tokens are base64url, which
// needs no escaping.
func tokenParam(tok string) string {
	if tok == "" {
		return ""
	}
	return "&token=" + url.QueryEscape(tok)
}

// macParam spells a MAC for URLs with hyphens, which never need escaping.
func macParam(mac string) string { return strings.ReplaceAll(mac, ":", "-") }

// archParam carries the machine's architecture (as its boot script
// request reported it, the same names the DHCP events use) into the URLs
// pixie generates, so the later fetches' boot events can say it too: the
// booted kernel and initramfs do not report it themselves.
func archParam(r Request) string {
	a := archName(r)
	if !validArch(a) {
		return ""
	}
	return "&arch=" + a
}

// eventArch is the architecture a request's URL carries, if it is a
// plausible name; anything else is left out of the event.
func eventArch(req *http.Request) string {
	if a := req.URL.Query().Get("arch"); validArch(a) {
		return a
	}
	return ""
}

func validArch(a string) bool {
	if a == "" || len(a) > 32 {
		return false
	}
	for _, c := range a {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// rootfsArg is the kernel argument naming Fedora CoreOS's live rootfs,
// which its initramfs fetches over HTTP.
const rootfsArg = "coreos.live.rootfs_url="

// tagRootfs adds the MAC, the stage and the architecture to a
// coreos.live.rootfs_url that points into pixie's own asset store, so the
// initramfs's download is recorded as the machine's rootfs boot event like
// the kernel and initrd downloads. URLs elsewhere, or that already carry a
// query, are left as they are.
func tagRootfs(args string, r Request) string {
	if !strings.Contains(args, rootfsArg) {
		return args
	}
	fields := strings.Fields(args)
	prefix := r.ServerURL + "/assets/"
	for i, f := range fields {
		u, ok := strings.CutPrefix(f, rootfsArg)
		if !ok || !strings.HasPrefix(u, prefix) || strings.ContainsAny(u, "?#") {
			continue
		}
		fields[i] = f + "?mac=" + macParam(r.MAC) + "&stage=rootfs" + archParam(r)
	}
	return strings.Join(fields, " ")
}

// KernelArgs renders a profile's kernel-argument template for one machine.
// It does not include the initrd= arguments; BootScript adds those.
func KernelArgs(plan store.BootPlan, r Request) (string, error) {
	t, err := template.New("args").Option("missingkey=error").Funcs(store.TemplateFuncs()).Parse(plan.Profile.Args)
	if err != nil {
		return "", fmt.Errorf("profile %s: kernel arguments template: %w", plan.Profile.Name, err)
	}
	var b bytes.Buffer
	err = t.Execute(&b, newArgsData(plan, r))
	if err != nil {
		return "", fmt.Errorf("profile %s: kernel arguments: %w", plan.Profile.Name, err)
	}
	rendered := b.String()
	if st, ok, err := reservedStatic(plan); err != nil {
		return "", err
	} else if ok && !strings.Contains(rendered, "ip=") {
		// The reservation, where the profile does not set ip= itself:
		// in proxy mode this is how the machine gets its address.
		rendered += " " + st.KernelArgs()
	}
	out := tagRootfs(strings.Join(strings.Fields(rendered), " "), r)
	if err := inertArgs(out); err != nil {
		return "", fmt.Errorf("profile %s: kernel arguments: %w", plan.Profile.Name, err)
	}
	return out, nil
}

func hostnameFor(plan store.BootPlan, r Request) string {
	if plan.Machine.Hostname != "" {
		return plan.Machine.Hostname
	}
	return reportedHostname(r.Hostname)
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// planVars are the template variables of one boot: the profile's, with the
// machine's own of the same name winning.
func planVars(plan store.BootPlan) map[string]string {
	vars := make(map[string]string, len(plan.Profile.Vars)+len(plan.Machine.Vars))
	for k, v := range plan.Profile.Vars {
		vars[k] = v
	}
	for k, v := range plan.Machine.Vars {
		vars[k] = v
	}
	return vars
}

// profilePhoneHome renders the profile's phone-home URL for one machine:
// pixie's own endpoint for "default" (or unset), "" for "none", the
// profile's URL template otherwise.
func profilePhoneHome(plan store.BootPlan, r Request) (string, error) {
	switch ph := plan.Profile.PhoneHome; ph {
	case store.PhoneHomeNone:
		return "", nil
	case "", store.PhoneHomeDefault:
		return phoneHomeURL(r), nil
	default:
		t, err := template.New("phone-home").Option("missingkey=error").Funcs(store.TemplateFuncs()).Parse(ph)
		if err != nil {
			return "", fmt.Errorf("profile %s: phone-home URL template: %w", plan.Profile.Name, err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, newArgsData(plan, r)); err != nil {
			return "", fmt.Errorf("profile %s: phone-home URL: %w", plan.Profile.Name, err)
		}
		u := b.String()
		if strings.ContainsAny(u, " \t\r\n\"'\\") {
			return "", fmt.Errorf("profile %s: the phone-home URL rendered for %s contains spaces or quotes: %q", plan.Profile.Name, r.MAC, u)
		}
		return u, nil
	}
}

// assetURL is where iPXE fetches a kernel or initrd. Local assets carry the
// MAC and the stage so the download can be recorded as a boot event.
func assetURL(r Request, ref, stage string) string {
	if strings.HasPrefix(ref, "http://") || strings.HasPrefix(ref, "https://") {
		return ref
	}
	segs := strings.Split(ref, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return r.ServerURL + "/assets/" + strings.Join(segs, "/") + "?mac=" + macParam(r.MAC) + "&stage=" + stage + archParam(r)
}

// initrdNames gives each initrd a distinct name for iPXE's --name and the
// kernel's initrd= argument (UEFI kernels find their initramfs by it).
func initrdNames(refs []string) []string {
	names := make([]string, len(refs))
	seen := map[string]bool{}
	for i, ref := range refs {
		base := path.Base(strings.SplitN(ref, "?", 2)[0])
		if base == "" || base == "." || base == "/" || seen[base] || !safeName(base) {
			base = fmt.Sprintf("initrd%d", i)
		}
		seen[base] = true
		names[i] = base
	}
	return names
}

// safeName keeps iPXE names to characters that mean nothing to its parser.
func safeName(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// BootScript renders the per-machine iPXE script that loads the profile's
// kernel and initrds. If anything fails while iPXE runs it, the machine's
// console says so and it starts over after retryDelay seconds.
func BootScript(plan store.BootPlan, r Request, retrySeconds int) (string, error) {
	args, err := KernelArgs(plan, r)
	if err != nil {
		return "", err
	}
	if err := oneWordRefs(plan.Profile); err != nil {
		return "", err
	}
	names := initrdNames(plan.Profile.Initrds)
	var initrdArgs []string
	for _, n := range names {
		initrdArgs = append(initrdArgs, "initrd="+n)
	}
	kernelLine := strings.TrimSpace(strings.Join(append(initrdArgs, args), " "))

	var b strings.Builder
	b.WriteString("#!ipxe\n")
	who := "profile " + plan.Profile.Name
	if plan.Default {
		who += " (default for machines pixie does not know yet)"
	}
	b.WriteString("echo " + scriptSafe("pixie: booting "+r.MAC+" with "+who) + "\n")
	fmt.Fprintf(&b, "kernel --name kernel %s %s || goto failed\n", assetURL(r, plan.Profile.Kernel, "kernel"), kernelLine)
	for i, ref := range plan.Profile.Initrds {
		fmt.Fprintf(&b, "initrd --name %s %s || goto failed\n", names[i], assetURL(r, ref, "initrd"))
	}
	b.WriteString("boot || goto failed\n")
	b.WriteString(":failed\n")
	b.WriteString("echo " + scriptSafe(fmt.Sprintf("pixie: loading or starting profile %s failed (see `pixie timeline %s` on the server)", plan.Profile.Name, r.MAC)) + "\n")
	writeRetry(&b, r.ServerURL, retrySeconds)
	return b.String(), nil
}

// ErrorScript tells the person at the machine's console what is wrong and
// how to fix it on the server, then tries again: a missing kernel should not
// need a trip to the machine once it is fixed.
func ErrorScript(serverURL string, lines []string, retrySeconds int) string {
	var b strings.Builder
	b.WriteString("#!ipxe\n")
	for _, l := range lines {
		b.WriteString("echo pixie: " + scriptSafe(l) + "\n")
	}
	writeRetry(&b, serverURL, retrySeconds)
	return b.String()
}

// writeRetry ends a script with a retry loop: while pixie cannot be reached
// (restarting, or its host rebooting) the machine keeps trying rather than
// giving up after the first attempt and falling through to the next boot
// device.
func writeRetry(b *strings.Builder, serverURL string, retrySeconds int) {
	b.WriteString(":retry\n")
	fmt.Fprintf(b, "echo pixie: retrying in %d seconds\n", retrySeconds)
	fmt.Fprintf(b, "sleep %d\n", retrySeconds)
	fmt.Fprintf(b, "chain --replace --autofree %s/boot.ipxe || goto retry\n", serverURL)
}

// scriptSafe strips what iPXE would interpret in an echo line (see
// inertText): newlines end the command, ${...} expands settings, "||" and
// friends start another command.
func scriptSafe(s string) string { return inertText(s) }

// RenderIgnition renders the profile's config, and the machine's own config
// merged over it, for one machine: template, then Butane translation, then
// validation with the coreos libraries (see package ignition), so a broken
// config is never served. Templates should insert values with the json
// function, e.g. "hostname": {{json .Hostname}}, which quotes and escapes
// them (in Butane YAML too).
func RenderIgnition(plan store.BootPlan, r Request) ([]byte, error) {
	vars := planVars(plan)
	phoneHome, err := profilePhoneHome(plan, r)
	if err != nil && strings.Contains(plan.Profile.Ignition+plan.Machine.Ignition, "PhoneHomeURL") {
		return nil, err
	}
	var keys []string
	for _, k := range strings.Split(vars["ssh_keys"], "\n") {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	out, err := ignition.Render(plan.Profile.Ignition, plan.Machine.Ignition, plan.Profile.OS, ignition.Data{
		MAC:               r.MAC,
		IP:                r.IP,
		Hostname:          hostnameFor(plan, r),
		Profile:           plan.Profile.Name,
		ServerURL:         r.ServerURL,
		PhoneHomeURL:      phoneHome,
		PixiePhoneHomeURL: phoneHomeURL(r),
		SSHKeys:           keys,
		Vars:              vars,
	})
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", plan.Profile.Name, err)
	}
	if st, ok, err := reservedStatic(plan); err != nil {
		return nil, err
	} else if ok {
		// The OS's network file keeps the reserved address on the
		// installed system.
		if out, err = ignition.AddStaticFile(out, plan.Profile.OS, st); err != nil {
			return nil, fmt.Errorf("machine %s: %w", plan.Machine.MAC, err)
		}
	}
	// Served at the spec the machine's Ignition reads, or not at all: a
	// machine overlay can need a newer spec than the profile's config.
	if out, err = ignition.FitSpec(out, ignition.SpecFor(plan.Profile.OS, plan.Profile.IgnitionSpec, plan.Profile.Kernel)); err != nil {
		return nil, fmt.Errorf("profile %s: %w", plan.Profile.Name, err)
	}
	return out, nil
}

// reservedStatic is the machine's reserved address (pixie machines set
// --ip), if it has one. A reservation without a prefix is taken as a /24,
// the prefix of nearly every LAN pixie serves.
func reservedStatic(plan store.BootPlan) (ignition.Static, bool, error) {
	m := plan.Machine
	if m.IP == "" {
		return ignition.Static{}, false, nil
	}
	st, err := ignition.ParseStatic(m.MAC, m.IP, m.Gateway, m.DNS, m.Hostname, 24)
	if err != nil {
		return st, false, fmt.Errorf("machine %s: %w", m.MAC, err)
	}
	return st, true, nil
}

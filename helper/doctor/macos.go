package doctor

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// socketfilterfw is the Application Firewall's command-line tool.
const socketfilterfw = "/usr/libexec/ApplicationFirewall/socketfilterfw"

// AppFirewall is what macOS's Application Firewall says about pixie.
type AppFirewall struct {
	// Checked: socketfilterfw ran and its answer was understood.
	Checked  bool
	Enabled  bool
	BlockAll bool // "block all incoming connections"
	// App is the pixie binary asked about; AppState is "allowed",
	// "blocked" or "unlisted" (not in the firewall's list: macOS would
	// prompt, and a root daemon has nobody to answer).
	App      string
	AppState string
	Err      error
}

// parseGlobalState reads `socketfilterfw --getglobalstate`: "Firewall is
// enabled. (State = 1)", "Firewall is disabled. (State = 0)"; State 2 is
// block-all on the releases that fold it into the global state.
func parseGlobalState(out string) (enabled, blockAll bool, err error) {
	l := strings.ToLower(out)
	switch {
	case strings.Contains(l, "state = 2"):
		return true, true, nil
	case strings.Contains(l, "is enabled") || strings.Contains(l, "state = 1"):
		return true, false, nil
	case strings.Contains(l, "is disabled") || strings.Contains(l, "state = 0"):
		return false, false, nil
	}
	return false, false, fmt.Errorf("socketfilterfw --getglobalstate said %q", strings.TrimSpace(out))
}

// parseBlockAll reads `socketfilterfw --getblockall`: "Block all INCOMING
// connections: enabled" (older: "Firewall has block all state set to
// enabled.").
func parseBlockAll(out string) bool {
	l := strings.ToLower(out)
	return strings.Contains(l, "enabled") && !strings.Contains(l, "disabled")
}

// parseAppBlocked reads `socketfilterfw --getappblocked PATH`: "The
// application PATH is not part of the firewall", "Incoming connection to
// the application is blocked", "... is permitted".
func parseAppBlocked(out string) (string, error) {
	l := strings.ToLower(out)
	switch {
	case strings.Contains(l, "not part of the firewall") || strings.Contains(l, "not in the firewall"):
		return "unlisted", nil
	case strings.Contains(l, "permitted") || strings.Contains(l, "allowed") || strings.Contains(l, "unblocked"):
		return "allowed", nil
	case strings.Contains(l, "blocked"):
		return "blocked", nil
	}
	return "", fmt.Errorf("socketfilterfw --getappblocked said %q", strings.TrimSpace(out))
}

// gatherFirewall asks socketfilterfw about app (the binary the daemon
// runs).
func gatherFirewall(ctx context.Context, app string) *AppFirewall {
	fw := &AppFirewall{App: app}
	run := func(args ...string) (string, error) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(cctx, socketfilterfw, args...).CombinedOutput()
		return string(out), err
	}
	out, err := run("--getglobalstate")
	if err != nil {
		fw.Err = fmt.Errorf("%s --getglobalstate: %v", socketfilterfw, err)
		return fw
	}
	if fw.Enabled, fw.BlockAll, fw.Err = parseGlobalState(out); fw.Err != nil {
		return fw
	}
	if fw.Enabled && !fw.BlockAll {
		if out, err := run("--getblockall"); err == nil {
			fw.BlockAll = parseBlockAll(out)
		}
	}
	if fw.Enabled && app != "" {
		out, err := run("--getappblocked", app)
		if err != nil {
			fw.Err = fmt.Errorf("%s --getappblocked %s: %v", socketfilterfw, app, err)
			return fw
		}
		if fw.AppState, fw.Err = parseAppBlocked(out); fw.Err != nil {
			return fw
		}
	}
	fw.Checked = true
	return fw
}

// checkFirewall judges the Application Firewall (macOS only: nil
// elsewhere). With it on, incoming DHCP, TFTP and HTTP reach pixie only if
// pixie is allowed; a root daemon cannot answer the "accept incoming
// connections?" prompt.
func checkFirewall(fw *AppFirewall) []Check {
	if fw == nil {
		return nil
	}
	c := Check{Name: "macOS firewall"}
	allow := fmt.Sprintf("sudo %s --add %s && sudo %s --unblockapp %s", socketfilterfw, fw.App, socketfilterfw, fw.App)
	switch {
	case !fw.Checked:
		c.Status, c.Message = Warn, fmt.Sprintf("not checked: %v", fw.Err)
		c.Fix = "look in System Settings › Network › Firewall: pixie must be allowed incoming connections"
	case !fw.Enabled:
		c.Status, c.Message = OK, "the Application Firewall is off"
	case fw.BlockAll:
		c.Status, c.Message = Fail, "the Application Firewall blocks all incoming connections: PXE clients never reach pixie"
		c.Fix = "turn off \"Block all incoming connections\" (System Settings › Network › Firewall › Options), then " + allow
	case fw.AppState == "allowed":
		c.Status, c.Message = OK, "on; "+fw.App+" is allowed incoming connections"
	case fw.AppState == "blocked":
		c.Status, c.Message = Fail, "on, and it blocks "+fw.App+": PXE clients never reach pixie"
		c.Fix = allow
	case fw.AppState == "unlisted":
		c.Status, c.Message = Warn, "on, and "+fw.App+" is not in its list: macOS asks whether to accept incoming connections, and a root daemon cannot answer"
		c.Fix = allow
	default:
		c.Status, c.Message = Warn, "on; pixie's binary unknown, so not checked"
		c.Fix = "allow pixie in System Settings › Network › Firewall › Options"
	}
	return []Check{c}
}

// darwinHolder explains a holder of a DHCP port on macOS by its name:
// lsof shows launchd itself for Internet Sharing (launchd holds *:67 and
// starts bootpd on demand) and for NAT-mode VM networking on Apple's
// shared network.
func darwinHolder(name string) (what, fix string, ok bool) {
	switch name {
	case "launchd", "bootpd":
		return "that is macOS's own DHCP server (bootpd, started by launchd for Internet Sharing or for VMs on Apple's shared NAT network); it holds *:67 with SO_REUSEADDR only, so macOS refuses pixie's bind of the same port; pixie then answers proxyDHCP beside it over the link layer (BPF), and bootpd may still answer PXE clients on a shared interface",
			"if machines do not boot, turn Internet Sharing off (System Settings › General › Sharing), or switch VM tools that use shared/NAT networking (UTM, Parallels, Docker/Lima vmnet) to bridged, then `sudo pixie restart`", true
	}
	return "", "", false
}

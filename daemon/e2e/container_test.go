package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/internal/testnet"
)

// podman runs podman with the flags this kind of machine needs and returns
// its combined output. runc rather than crun: crun refuses a host with
// cgroups in hybrid mode, runc works with v1, hybrid and v2.
func podman(ctx context.Context, args ...string) (string, error) {
	args = append([]string{"--runtime", "runc", "--cgroup-manager", "cgroupfs"}, args...)
	out, err := exec.CommandContext(ctx, "podman", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("podman %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// TestContainerImage builds pixie's image with no registry at all: the
// base is imported from the Debian root the systemd tests use (Debian
// packages only, iPXE included), and packaging/container/
// Containerfile.prebuilt adds the pixie binary. The image then runs the way
// the Containerfile's header says (all capabilities dropped but two, data
// on a volume, socket directory from the host), with the LAN's server
// namespace as its network instead of the host's, and serves the LAN.
func TestContainerImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a container image")
	}
	testnet.RequireNspawn(t)
	testnet.RequireTools(t, "podman", "runc", "tar")
	bin := pixieBinary(t)
	root := testnet.SystemdRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	base := "localhost/pixie-test-base:" + filepath.Base(root)
	if _, err := podman(ctx, "image", "exists", base); err != nil {
		start := time.Now()
		imp := exec.CommandContext(ctx, "sh", "-c",
			`tar -C "$1" --numeric-owner -c . | podman --runtime runc --cgroup-manager cgroupfs import - "$2"`, "sh", root, base)
		if out, err := imp.CombinedOutput(); err != nil {
			t.Fatalf("import the Debian root as %s: %v\n%s", base, err, out)
		}
		t.Logf("imported %s from %s in %s", base, root, time.Since(start).Round(100*time.Millisecond))
	}

	buildCtx := t.TempDir()
	if err := os.Mkdir(filepath.Join(buildCtx, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := testnet.CopyFile(filepath.Join(buildCtx, "bin/pixie"), bin); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(buildCtx, "bin/pixie"), 0o755); err != nil {
		t.Fatal(err)
	}
	file, err := filepath.Abs("../../packaging/container/Containerfile.prebuilt")
	if err != nil {
		t.Fatal(err)
	}
	tag := fmt.Sprintf("localhost/pixie-test:%d", os.Getpid())
	start := time.Now()
	// --pull=never: nothing may come from a registry; --network none: the
	// base has iPXE, so the build needs no network either.
	if out, err := podman(ctx, "build", "--pull=never", "--network", "none", "--build-arg", "BASE="+base,
		"-f", file, "-t", tag, buildCtx); err != nil {
		t.Fatalf("%v\n%s", err, tail(out, 30))
	}
	t.Logf("built %s in %s", tag, time.Since(start).Round(100*time.Millisecond))
	t.Cleanup(func() { _, _ = podman(context.Background(), "rmi", "-f", tag) })

	lan := testnet.NewLAN(t, testnet.Options{})
	data := t.TempDir()
	run, err := os.MkdirTemp("", "pixie-ctr-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(run) })
	name := fmt.Sprintf("pixie-test-%d", os.Getpid())
	// Lower limits than podman's defaults: raising them is refused in
	// some sandboxes (setrlimit EPERM), lowering never is.
	if _, err := podman(ctx, "run", "-d", "--name", name,
		"--network", "ns:/run/netns/"+lan.ServerNS,
		"--cap-drop", "all", "--cap-add", "NET_BIND_SERVICE", "--cap-add", "NET_RAW",
		"--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096",
		"-v", data+":/var/lib/pixie", "-v", run+":/run/pixie",
		tag, "--interface", testnet.Iface); err != nil {
		t.Fatal(err)
	}
	// Registered after NewLAN: runs before the LAN's namespaces go.
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := podman(context.Background(), "logs", name)
			t.Logf("podman logs %s:\n%s", name, tail(out, 40))
		}
		_, _ = podman(context.Background(), "rm", "-f", "-v", "-t", "5", name)
	})

	socket := filepath.Join(run, "pixie.sock")
	var st api.Status
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := exec.Command(bin, "--socket", socket, "status", "--json").Output()
		if err == nil && json.Unmarshal(out, &st) == nil && st.Serving {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container's pixie did not serve within 60 s: %v %s", err, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if st.Interface != testnet.Iface || st.Address != testnet.ServerIP {
		t.Errorf("the container's pixie serves on %s %s, want %s %s", st.Interface, st.Address, testnet.Iface, testnet.ServerIP)
	}
	if !strings.Contains(fmt.Sprint(st.Firmware), "/usr/lib/ipxe") {
		t.Errorf("the image serves no firmware from Debian's iPXE: %+v", st.Firmware)
	}
	busybox, err := testnet.Busybox()
	if err != nil {
		t.Fatal(err)
	}
	script, err := lan.Exec(lan.RouterNS, busybox, "wget", "-q", "-O-", "http://"+testnet.ServerIP+":"+httpPort+"/boot.ipxe")
	if err != nil || !strings.HasPrefix(script, "#!ipxe") {
		t.Errorf("boot.ipxe from the LAN: %v\n%s", err, script)
	}
	caps, err := podman(ctx, "exec", name, "grep", "^CapEff", "/proc/1/status")
	if err != nil || !strings.Contains(caps, unitCaps) {
		t.Errorf("the container's pixie has %q (%v), want CapEff %s", caps, err, unitCaps)
	}
	if _, err := os.Stat(filepath.Join(data, "pixie.db")); err != nil {
		t.Errorf("no database on the data volume: %v", err)
	}
	if _, err := podman(ctx, "stop", "-t", "15", name); err != nil {
		t.Fatal(err)
	}
	if code, err := podman(ctx, "inspect", "--format", "{{.State.ExitCode}}", name); err != nil || strings.TrimSpace(code) != "0" {
		t.Errorf("pixie in the container exited with %q (%v) on podman stop, want 0", strings.TrimSpace(code), err)
	}
}

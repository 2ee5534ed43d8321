package httpboot

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pixie-boot/pixie/daemon/store"
)

var testReq = Request{ServerURL: "http://10.0.0.2:8080", MAC: "52:54:00:12:34:56", IP: "10.0.0.50", Hostname: "from-dhcp"}

func TestKernelArgs(t *testing.T) {
	cases := []struct {
		name string
		plan store.BootPlan
		want string
		err  string
	}{
		{
			name: "ignition url for the machine",
			plan: store.BootPlan{Profile: store.Profile{Name: "p", Args: "ignition.firstboot ignition.config.url={{.IgnitionURL}}"}},
			want: "ignition.firstboot ignition.config.url=http://10.0.0.2:8080/ignition?mac=52-54-00-12-34-56",
		},
		{
			name: "machine hostname wins over the one iPXE reported",
			plan: store.BootPlan{Machine: store.Machine{Hostname: "node1"}, Profile: store.Profile{Name: "p", Args: "hostname={{.Hostname}}"}},
			want: "hostname=node1",
		},
		{
			name: "iPXE hostname when the machine has none",
			plan: store.BootPlan{Profile: store.Profile{Name: "p", Args: "hostname={{.Hostname}}"}},
			want: "hostname=from-dhcp",
		},
		{
			name: "variables and whitespace folded",
			plan: store.BootPlan{Machine: store.Machine{Vars: map[string]string{"disk": "/dev/sda"}}, Profile: store.Profile{Name: "p", Args: "  coreos.inst.install_dev={{.Vars.disk}}\t  console=ttyS0 "}},
			want: "coreos.inst.install_dev=/dev/sda console=ttyS0",
		},
		{
			name: "missing variable is an error, not an empty value",
			plan: store.BootPlan{Profile: store.Profile{Name: "p", Args: "x={{.Vars.nope}}"}},
			err:  "kernel arguments",
		},
		{
			name: "newline smuggled through a variable is folded",
			plan: store.BootPlan{Machine: store.Machine{Vars: map[string]string{"v": "a\nshell"}}, Profile: store.Profile{Name: "p", Args: "x={{.Vars.v}}"}},
			want: "x=a shell",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := KernelArgs(c.plan, testReq)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one mentioning %q", err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("KernelArgs = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func TestBootScript(t *testing.T) {
	plan := store.BootPlan{
		Default: true,
		Profile: store.Profile{Name: "first-time", Kernel: "fcos/vmlinuz", Initrds: []string{"fcos/initramfs.img", "other/initramfs.img", "https://mirror.example/rootfs.img"}, Args: "ignition.config.url={{.IgnitionURL}}"},
	}
	got, err := BootScript(plan, testReq, 15)
	if err != nil {
		t.Fatal(err)
	}
	want := `#!ipxe
echo pixie: booting 52:54:00:12:34:56 with profile first-time (default for machines pixie does not know yet)
kernel --name kernel http://10.0.0.2:8080/assets/fcos/vmlinuz?mac=52-54-00-12-34-56&stage=kernel initrd=initramfs.img initrd=initrd1 initrd=rootfs.img ignition.config.url=http://10.0.0.2:8080/ignition?mac=52-54-00-12-34-56 || goto failed
initrd --name initramfs.img http://10.0.0.2:8080/assets/fcos/initramfs.img?mac=52-54-00-12-34-56&stage=initrd || goto failed
initrd --name initrd1 http://10.0.0.2:8080/assets/other/initramfs.img?mac=52-54-00-12-34-56&stage=initrd || goto failed
initrd --name rootfs.img https://mirror.example/rootfs.img || goto failed
boot || goto failed
:failed
echo pixie: loading or starting profile first-time failed (see ` + "`pixie timeline 52:54:00:12:34:56`" + ` on the server)
:retry
echo pixie: retrying in 15 seconds
sleep 15
chain --replace --autofree http://10.0.0.2:8080/boot.ipxe || goto retry
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("script mismatch (-want +got):\n%s", diff)
	}
}

func TestAssetURLEscapesPathSegments(t *testing.T) {
	got := assetURL(testReq, "my images/a#b.img", "initrd")
	want := "http://10.0.0.2:8080/assets/my%20images/a%23b.img?mac=52-54-00-12-34-56&stage=initrd"
	if got != want {
		t.Errorf("assetURL = %q, want %q", got, want)
	}
}

func TestErrorScriptCannotInjectCommands(t *testing.T) {
	got := ErrorScript("http://s", []string{"bad\nshell\r${net0/mac}"}, 5)
	for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
		if line != "#!ipxe" && line != ":retry" && !strings.HasPrefix(line, "echo pixie: ") && !strings.HasPrefix(line, "sleep ") && !strings.HasPrefix(line, "chain ") {
			t.Errorf("unexpected script line %q in:\n%s", line, got)
		}
	}
	if strings.Contains(got, "${net0") {
		t.Errorf("setting expansion survived: %s", got)
	}
}

func TestRenderIgnition(t *testing.T) {
	plan := store.BootPlan{
		Machine: store.Machine{Hostname: "node1", Vars: map[string]string{"key": `ssh-ed25519 AAAA "quoted" \ back`}},
		Profile: store.Profile{Name: "p", Ignition: `{"ignition":{"version":"3.4.0"},"passwd":{"users":[{"name":"core","sshAuthorizedKeys":[{{json .Vars.key}}]}]},"storage":{"files":[{"path":"/etc/hostname","contents":{"source":{{json (printf "data:,%s" .Hostname)}}}}]}}`},
	}
	body, err := RenderIgnition(plan, testReq)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Passwd struct {
			Users []struct {
				Keys []string `json:"sshAuthorizedKeys"`
			}
		}
		Storage struct {
			Files []struct {
				Contents struct{ Source string }
			}
		}
	}
	if err := json.Unmarshal(body, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Passwd.Users[0].Keys[0] != plan.Machine.Vars["key"] || cfg.Storage.Files[0].Contents.Source != "data:,node1" {
		t.Errorf("rendered %s", body)
	}

	plan.Profile.Ignition = `{"broken": {{.Hostname}}}` // unquoted: invalid JSON
	if _, err := RenderIgnition(plan, testReq); err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Errorf("broken config: err = %v", err)
	}
}

// A machine whose retry finds pixie still down (restarting, its host
// rebooting) must try again, not fall through to the next boot device:
// every retry's chain loops back on failure.
func TestRetriesLoopWhilePixieIsDown(t *testing.T) {
	chain := chainScript("http://s")
	if !strings.Contains(chain, "\n:failed\n") || !strings.HasSuffix(chain, "chain --replace --autofree http://s/boot.ipxe || goto failed\n") {
		t.Errorf("chain script does not loop on a failed retry:\n%s", chain)
	}
	errScript := ErrorScript("http://s", []string{"no kernel"}, 5)
	if !strings.Contains(errScript, "\n:retry\n") || !strings.HasSuffix(errScript, "chain --replace --autofree http://s/boot.ipxe || goto retry\n") {
		t.Errorf("error script does not loop on a failed retry:\n%s", errScript)
	}
}

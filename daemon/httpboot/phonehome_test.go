package httpboot

import (
	"strings"
	"testing"

	"github.com/pixie-boot/pixie/daemon/store"
)

// TestProfilePhoneHomeAndVars: {{.PhoneHomeURL}} is the profile's
// phone-home setting rendered for the machine, {{.PixiePhoneHomeURL}}
// always pixie's own endpoint, and a machine's variables win over its
// profile's.
func TestProfilePhoneHomeAndVars(t *testing.T) {
	const cfg = `{"ignition":{"version":"3.4.0"},"passwd":{"users":[{"name":"core","gecos":{{json (printf "ph:%s|%s|%s|%s" .PhoneHomeURL .PixiePhoneHomeURL .Vars.role .Vars.zone)}}}]}}`
	r := Request{ServerURL: "http://10.0.0.2:8080", MAC: "52:54:00:00:00:01", Token: "TOK"}
	pixieURL := "http://10.0.0.2:8080/phone-home?mac=52-54-00-00-00-01&token=TOK"
	for _, tc := range []struct {
		phone string
		want  string
	}{
		{"", pixieURL},
		{"default", pixieURL},
		{"none", ""},
		{"https://inv.example/up?mac={{.MAC}}&role={{.Vars.role}}", "https://inv.example/up?mac=52:54:00:00:00:01&role=worker"},
	} {
		plan := store.BootPlan{
			Profile: store.Profile{Name: "p", OS: "fedora-coreos", Ignition: cfg, PhoneHome: tc.phone, Vars: map[string]string{"role": "server", "zone": "a"}},
			Machine: store.Machine{Vars: map[string]string{"role": "worker"}},
		}
		out, err := RenderIgnition(plan, r)
		if err != nil {
			t.Fatalf("%q: %v", tc.phone, err)
		}
		want := strings.NewReplacer("&", `\u0026`).Replace("ph:" + tc.want + "|" + pixieURL + "|worker|a")
		if !strings.Contains(string(out), want) {
			t.Errorf("phone-home %q: config\n%s\nlacks %s", tc.phone, out, want)
		}
	}
	// A phone-home template the machine lacks a variable for fails only
	// the configs that use it.
	plan := store.BootPlan{Profile: store.Profile{Name: "p", OS: "fedora-coreos", PhoneHome: "http://x/{{.Vars.nope}}",
		Ignition: `{"ignition":{"version":"3.4.0"}}`}}
	if _, err := RenderIgnition(plan, r); err != nil {
		t.Errorf("config without {{.PhoneHomeURL}}: %v", err)
	}
	plan.Profile.Ignition = cfg
	if _, err := RenderIgnition(plan, r); err == nil || !strings.Contains(err.Error(), "phone-home URL") {
		t.Errorf("config with a phone-home URL that cannot render: %v", err)
	}
}

package grubcfg

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pixie-boot/pixie/daemon/grubcfg/grubtest"
)

func TestQuote(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      bool
	}{
		{in: "plain", want: "'plain'"},
		{in: "", want: "''"},
		{in: "it's", want: `'it'\''s'`},
		{in: "$root;reboot", want: "'$root;reboot'"},
		{in: `a\b"{c}`, want: `'a\b"{c}'`},
		{in: "ignition.config.url=http://10.0.0.2:8080/ignition?mac=aa&token=x", want: "'ignition.config.url=http://10.0.0.2:8080/ignition?mac=aa&token=x'"},
		{in: "a\nreboot", err: true},
		{in: "a\rb", err: true},
		{in: "nul\x00", err: true},
		{in: "del\x7f", err: true},
	} {
		got, err := Quote(tc.in)
		if tc.err {
			if !errors.Is(err, ErrUnquotable) {
				t.Errorf("Quote(%q) = %q, %v; want ErrUnquotable", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Quote(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			continue
		}
		words, sp, err := grubtest.Lex(got)
		if err != nil || sp != "" || len(words) != 1 || words[0].Text != tc.in {
			t.Errorf("Quote(%q) = %s lexes as %v %q %v", tc.in, got, words, sp, err)
		}
	}
}

func sample() Boot {
	return Boot{
		Banner:  "pixie: booting 52:54:00:12:34:56 with profile debian",
		Kernel:  KernelPath("10.0.0.2", "52:54:00:12:34:56"),
		Initrds: []string{InitrdPath("10.0.0.2", "52:54:00:12:34:56", 0)},
		Args:    []string{"console=ttyS0", "ignition.config.url=http://10.0.0.2:8080/ignition?mac=52-54-00-12-34-56&token=abc"},
		Failed:  "pixie: loading profile debian failed",
		Retry:   Retry{Reload: ConfigPath("10.0.0.2", "52:54:00:12:34:56"), Seconds: 30},
	}
}

func TestConfig(t *testing.T) {
	got, err := Config(sample())
	if err != nil {
		t.Fatal(err)
	}
	want := `# pixie: generated for this boot; do not edit
echo 'pixie: booting 52:54:00:12:34:56 with profile debian'
if linux '(tftp,10.0.0.2)/pixie/52-54-00-12-34-56/kernel' 'console=ttyS0' 'ignition.config.url=http://10.0.0.2:8080/ignition?mac=52-54-00-12-34-56&token=abc'; then
  if initrd '(tftp,10.0.0.2)/pixie/52-54-00-12-34-56/initrd/0'; then
    boot
  fi
fi
echo 'pixie: loading profile debian failed'
echo 'pixie: retrying in 30 seconds'
sleep 30
configfile '(tftp,10.0.0.2)/grub.cfg-01-52-54-00-12-34-56'
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Config mismatch (-want +got):\n%s", diff)
	}

	noInitrd := sample()
	noInitrd.Initrds = nil
	got, err = Config(noInitrd)
	if err != nil || strings.Contains(got, "initrd") || !strings.Contains(got, "; then\n  boot\nfi\n") {
		t.Errorf("without initrds: %v\n%s", err, got)
	}

	for _, bad := range []func(*Boot){
		func(b *Boot) { b.Args = append(b.Args, "x\nreboot") },
		func(b *Boot) { b.Kernel += "\x00" },
		func(b *Boot) { b.Initrds = []string{"a\rb"} },
		func(b *Boot) { b.Retry.Reload = "\n" },
	} {
		b := sample()
		bad(&b)
		if got, err := Config(b); !errors.Is(err, ErrUnquotable) {
			t.Errorf("Config(%+v) = %q, %v; want ErrUnquotable", b, got, err)
		}
	}
}

func TestError(t *testing.T) {
	got := Error([]string{"cannot boot aa: kernel k is missing", "fix it: `pixie profiles edit x`\nreboot"}, Retry{Reload: "(tftp,10.0.0.2)/grub/grub.cfg", Seconds: 30})
	want := `# pixie: this machine cannot boot yet
echo 'pixie: cannot boot aa: kernel k is missing'
echo 'pixie: fix it: ` + "`pixie profiles edit x` reboot'" + `
echo 'pixie: retrying in 30 seconds'
sleep 30
configfile '(tftp,10.0.0.2)/grub/grub.cfg'
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Error mismatch (-want +got):\n%s", diff)
	}
	if got := Error([]string{"x"}, Retry{Reload: "a\nb"}); strings.Contains(got, "configfile") || !strings.Contains(got, "cannot retry") {
		t.Errorf("unquotable reload:\n%s", got)
	}
}

func TestParse(t *testing.T) {
	const mac = "52:54:00:12:34:56"
	for name, want := range map[string]Name{
		"grub/grub.cfg":                            {What: IsConfig},
		"/grub/grub.cfg":                           {What: IsConfig},
		"grub.cfg":                                 {What: IsConfig},
		"EFI/fedora/grub.cfg":                      {What: IsConfig},
		"grub.cfg-01-52-54-00-12-34-56":            {What: IsConfig, MAC: mac},
		"/grub.cfg-01-52-54-00-12-34-56":           {What: IsConfig, MAC: mac},
		"EFI/fedora/grub.cfg-01-52-54-00-12-34-56": {What: IsConfig, MAC: mac},
		"grub/grub.cfg-01-52-54-00-12-34-56":       {What: IsConfig, MAC: mac},
		"grub.cfg-01-52:54:00:12:34:56":            {What: IsQuiet},
		"grub.cfg-01-5-54-00-12-34-56x":            {What: IsQuiet},
		"grub.cfg-0A000210":                        {What: IsQuiet},
		"grub.cfg-0A0":                             {What: IsQuiet},
		"grub/x86_64-efi/command.lst":              {What: IsQuiet},
		"grub/arm64-efi/fs.lst":                    {What: IsQuiet},
		"grub/fonts/unicode.pf2":                   {What: IsQuiet},
		"pixie/52-54-00-12-34-56/kernel":           {What: IsKernel, MAC: mac},
		"/pixie/52-54-00-12-34-56/initrd/0":        {What: IsInitrd, MAC: mac},
		"pixie/52-54-00-12-34-56/initrd/12":        {What: IsInitrd, MAC: mac, Index: 12},
		"pixie/52-54-00-12-34-56/initrd/012":       {},
		"pixie/52-54-00-12-34-56/initrd/-1":        {},
		"pixie/52-54-00-12-34-56/initrd/64":        {},
		"pixie/52-54-00-12-34-56/initrd":           {},
		"pixie/52-54-00-12-34-56/kernel/x":         {},
		"pixie/52-54-00-12-34-56/../../etc":        {},
		"pixie/../etc/passwd":                      {},
		"pixie/5254.0012.3456/kernel":              {},
		"grub/../etc/passwd":                       {},
		"grub/":                                    {},
		"ipxe.efi":                                 {},
		"grubx64.efi":                              {},
		"shimx64.efi":                              {},
		"EFI/fedora/x/grub.cfg":                    {},
		"grub.cfg.bak":                             {},
		"":                                         {},
	} {
		if got := Parse(name); got != want {
			t.Errorf("Parse(%q) = %+v, want %+v", name, got, want)
		}
	}
}

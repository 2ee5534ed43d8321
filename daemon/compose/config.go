package compose

import (
	"fmt"
	"strings"

	"github.com/pixie-boot/pixie/daemon/osprofile"
)

// FirstTimeConfig writes the guide's first-time config as Butane: user core
// with the SSH keys (one key file's content each), the machine's hostname,
// and a unit calling the profile's phone-home URL once the system is up.
// The unit is a template over the profile's phone-home setting: none
// leaves it out, a URL of your own is called after pixie's /phone-home
// (which records the booted stage).
func FirstTimeConfig(kind osprofile.Kind, keyFiles []string) (string, error) {
	var keys []string
	for i, text := range keyFiles {
		which := fmt.Sprintf("--ssh-key #%d", i+1)
		for _, l := range strings.Split(text, "\n") {
			l = strings.TrimSpace(l)
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			if strings.HasPrefix(l, "-----BEGIN") || !strings.Contains(l, " ") {
				return "", invalidf("%s: give the public key (.pub), not the private one", which)
			}
			if strings.Contains(l, "{{") || strings.Contains(l, "}}") {
				return "", invalidf("%s: a key line contains {{ or }}", which)
			}
			keys = append(keys, l)
		}
	}
	if len(keys) == 0 {
		return "", invalidf("--ssh-key: no public key found in the %d file(s) given", len(keyFiles))
	}
	var b strings.Builder
	switch kind {
	case osprofile.FedoraCoreOS, osprofile.Generic:
		b.WriteString("variant: fcos\nversion: 1.5.0\n")
	case osprofile.Flatcar:
		b.WriteString("variant: flatcar\nversion: 1.1.0\n")
	default:
		return "", invalidf("--ssh-key generates Ignition 3 (Butane) configs, which classic Container Linux cannot read: give --ignition with a legacy config")
	}
	b.WriteString("passwd:\n  users:\n    - name: core\n      ssh_authorized_keys:\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "        - %q\n", k)
	}
	b.WriteString("{{- if .Hostname}}\nstorage:\n  files:\n    - path: /etc/hostname\n      mode: 0644\n      overwrite: true\n      contents:\n        inline: {{json .Hostname}}\n{{- end}}\n")
	b.WriteString(`{{- if .PhoneHomeURL}}
systemd:
  units:
    - name: pixie-phone-home.service
      enabled: true
      contents: |
        [Unit]
        Description=Tell the pixie boot server this machine is up
        Wants=network-online.target
        After=network-online.target
        [Service]
        Type=oneshot
        ExecStart={{if ne .PhoneHomeURL .PixiePhoneHomeURL}}-{{end}}/usr/bin/curl -fsS --retry 10 --retry-delay 5 -X POST {{unitArg .PixiePhoneHomeURL}}
{{- if ne .PhoneHomeURL .PixiePhoneHomeURL}}
        ExecStart=/usr/bin/curl -fsS --retry 10 --retry-delay 5 -X POST {{unitArg .PhoneHomeURL}}
{{- end}}
        [Install]
        WantedBy=multi-user.target
{{- end}}
`)
	return b.String(), nil
}

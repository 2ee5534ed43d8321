package firmware

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pixie-boot/pixie/daemon/api"
)

// FileStatus is one known file in a Report.
type FileStatus struct {
	Name   string `json:"name"`
	Kind   Kind   `json:"kind"`
	Found  bool   `json:"found"`
	Source string `json:"source,omitempty"` // where it is served from, when found
	Path   string `json:"path,omitempty"`   // the file on disk; "" if embedded
	Size   int64  `json:"size,omitempty"`
	// Vendor is, for a shim, whose CA is built into it (ShimVendor):
	// whose kernels it boots under Secure Boot. "" when unknown.
	Vendor string `json:"vendor,omitempty"`
	// Problem says why a file that is present cannot be served (a refused
	// symlink, an unreadable file). Found is false then.
	Problem string `json:"problem,omitempty"`
}

// ArchReport is what the Set can serve to one architecture.
type ArchReport struct {
	Arch Arch `json:"arch"`
	// Files lists every known file of the architecture, found or not, in
	// order of preference.
	Files []FileStatus `json:"files"`
}

// Ready reports whether at least one file for the architecture is found.
func (r ArchReport) Ready() bool { return len(r.Found()) > 0 }

// Found returns the files that can be served.
func (r ArchReport) Found() []FileStatus {
	var out []FileStatus
	for _, f := range r.Files {
		if f.Found {
			out = append(out, f)
		}
	}
	return out
}

// Missing returns the names of the files that cannot be served.
func (r ArchReport) Missing() []string {
	var out []string
	for _, f := range r.Files {
		if !f.Found {
			out = append(out, f.Name)
		}
	}
	return out
}

// String is one line for a startup banner, e.g.
//
//	efi-x64: ipxe.efi (/usr/lib/ipxe, 850528 bytes); missing snponly.efi
func (r ArchReport) String() string {
	var found, missing []string
	for _, f := range r.Files {
		switch {
		case f.Found && f.Vendor != "":
			found = append(found, fmt.Sprintf("%s (%s, %d bytes, boots what %s signed)", f.Name, f.Source, f.Size, f.Vendor))
		case f.Found:
			found = append(found, fmt.Sprintf("%s (%s, %d bytes)", f.Name, f.Source, f.Size))
		case f.Problem != "":
			missing = append(missing, fmt.Sprintf("%s (%s)", f.Name, f.Problem))
		default:
			missing = append(missing, f.Name)
		}
	}
	var b strings.Builder
	b.WriteString(string(r.Arch) + ": ")
	if len(found) == 0 {
		b.WriteString("nothing to serve")
	} else {
		b.WriteString(strings.Join(found, ", "))
	}
	if len(missing) > 0 {
		b.WriteString("; missing " + strings.Join(missing, ", "))
	}
	return b.String()
}

// Report says, for each architecture in Arches, which known files are
// found and where, and which are missing. It is for `pixie serve`'s banner
// and `pixie status`; it opens each file but reads nothing.
func (s *Set) Report() []ArchReport {
	var out []ArchReport
	for _, arch := range Arches() {
		r := ArchReport{Arch: arch}
		for _, k := range Known() {
			if k.Arch != arch {
				continue
			}
			st := FileStatus{Name: k.Name, Kind: k.Kind}
			f, err := s.Open(k.Name)
			switch {
			case err == nil:
				st.Found, st.Source, st.Path, st.Size = true, f.Source(), f.Path(), f.Size()
				if k.Kind == KindShim {
					st.Vendor = f.vendor()
				}
				f.Close()
			case !errors.Is(err, ErrNotFound):
				st.Problem = err.Error()
			}
			r.Files = append(r.Files, st)
		}
		out = append(out, r)
	}
	return out
}

// StatusReport is the Report as the control API carries it (`pixie status`,
// `pixie doctor`).
func (s *Set) StatusReport() []api.Firmware {
	var out []api.Firmware
	for _, r := range s.Report() {
		a := api.Firmware{Arch: string(r.Arch), Files: []api.FirmwareFile{}, Missing: r.Missing()}
		for _, f := range r.Found() {
			a.Files = append(a.Files, api.FirmwareFile{Name: f.Name, Source: f.Source, Kind: string(f.Kind), Vendor: f.Vendor})
		}
		out = append(out, a)
	}
	return out
}

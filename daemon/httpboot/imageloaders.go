package httpboot

import (
	"net/http"

	"github.com/pixie-boot/pixie/daemon/firmware"
)

// serveImageLoader answers /firmware/img/IMAGE/FILE for UEFI HTTP boot
// clients offered their profile image's own shim: the shim and GRUB
// themselves (from Deps.Firmware, which serves the images' loaders), and
// GRUB's config names, which Fedora's GRUB asks for in the directory of
// its own URL.
func (s *Server) serveImageLoader(w http.ResponseWriter, r *http.Request) {
	name := firmware.ImagePrefix + r.PathValue("path")
	_, file, ok, err := firmware.SplitImagePath(name)
	if !ok || err != nil {
		s.deps.Counters.Inc("http.firmware.not_found")
		http.Error(w, "pixie: no firmware file "+name, http.StatusNotFound)
		return
	}
	if _, loader := firmware.KindOf(file); !loader && s.serveGRUB(w, r, file) {
		return
	}
	s.serveFirmwareFile(w, r, name)
}

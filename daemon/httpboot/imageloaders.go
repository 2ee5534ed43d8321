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
	if g, ok := firmware.ImageGRUBName(name); ok {
		if !s.serveGRUB(w, r, g) {
			s.deps.Counters.Inc("http.firmware.not_found")
			http.Error(w, "pixie: no such file "+name, http.StatusNotFound)
		}
		return
	}
	s.serveFirmwareFile(w, r, name)
}

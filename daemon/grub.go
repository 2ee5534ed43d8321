package daemon

import (
	"context"
	"errors"
	"io"
	"net"

	"github.com/pixie-boot/pixie/daemon/httpboot"
	"github.com/pixie-boot/pixie/daemon/tftp"
)

// grubFiles lets the TFTP server answer GRUB's names (its config, and the
// kernels and initrds the config names) from the HTTP boot server, which
// owns profiles, tokens and the asset store.
type grubFiles struct{ boot *httpboot.Server }

func (g grubFiles) OpenGenerated(ctx context.Context, name string, ip net.IP, mac string) (*tftp.GeneratedFile, error) {
	f, err := g.boot.OpenGRUB(ctx, withoutImagePrefix(name), ip.String(), mac)
	switch {
	case errors.Is(err, httpboot.ErrNotGRUB):
		return nil, tftp.ErrNotGenerated
	case errors.Is(err, httpboot.ErrGRUBProbe):
		return nil, tftp.ErrProbe
	case err != nil:
		return nil, err
	}
	source := "assets"
	if f.Stage == "" {
		source = "generated"
	}
	return &tftp.GeneratedFile{
		Content: readSeekCloser{f.ReadSeeker, f.Closer},
		Name:    f.Name, Source: source, MAC: f.MAC, Size: f.Size,
		Stage: f.Stage, Detail: f.Detail, Config: f.Stage == "",
	}, nil
}

type readSeekCloser struct {
	io.ReadSeeker
	io.Closer
}

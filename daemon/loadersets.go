package daemon

import (
	"context"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/pixie-boot/pixie/daemon/firmware"
	"github.com/pixie-boot/pixie/daemon/store"
)

// imageLoaders tells the proxyDHCP server which machines have a loader
// set of their own: the one in the folder of their profile's image (see
// daemon/dhcp/loaderset.go). It is asked only when a machine is about to
// be offered shim, so the store lookup is off the path of iPXE boots.
// A machine's answer is remembered for a few seconds: firmware sends a
// DISCOVER, a REQUEST on 4011 and retransmits within that time, and a
// storm of new MACs on a server whose default loader is grub must not
// turn into a database query per packet. A profile changed is seen
// within shimTTL.
type imageLoaders struct {
	st  *store.Store
	now func() time.Time

	mu   sync.Mutex
	seen map[string]shimAnswer // mac + "/" + shim
}

type shimAnswer struct {
	path string
	at   time.Time
}

const (
	shimTTL   = 3 * time.Second
	shimCache = 4096
)

func newImageLoaders(st *store.Store) *imageLoaders {
	return &imageLoaders{st: st, now: time.Now, seen: make(map[string]shimAnswer)}
}

func (l *imageLoaders) ShimFor(mac, shim string) string {
	key, now := mac+"/"+shim, l.now()
	l.mu.Lock()
	a, ok := l.seen[key]
	l.mu.Unlock()
	if ok && now.Sub(a.at) < shimTTL {
		return a.path
	}
	path := l.lookup(mac, shim)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.seen) >= shimCache {
		clear(l.seen)
	}
	l.seen[key] = shimAnswer{path: path, at: now}
	return path
}

func (l *imageLoaders) lookup(mac, shim string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	plan, err := l.st.PlanBoot(ctx, mac)
	if err != nil {
		return "" // the GRUB config explains a missing profile
	}
	dir := imageDirOf(plan.Profile.Kernel)
	if dir == "" {
		return ""
	}
	return firmware.ImageLoaderPath(dir, shim)
}

// imageDirOf is the asset-store folder of an image from the path of its
// kernel (images keep their files side by side with their loaders/), or
// "" for a kernel on another server or at the store's top.
func imageDirOf(kernel string) string {
	if kernel == "" || strings.Contains(kernel, "://") {
		return ""
	}
	dir := path.Dir(strings.TrimPrefix(path.Clean("/"+kernel), "/"))
	if dir == "." || dir == "/" {
		return ""
	}
	return dir
}

// withoutImagePrefix turns a GRUB request made under an image's folder
// (Fedora's GRUB looks for its config in the directory it was loaded
// from: img/IMAGE/grub.cfg-01-MAC) into the name pixie's GRUB files
// answer. Loader files themselves (img/IMAGE/grubx64.efi) are left for the
// firmware lookup.
func withoutImagePrefix(name string) string {
	if n, ok := firmware.ImageGRUBName(name); ok {
		return n
	}
	return name
}

package control

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// Listen creates the control socket at path, readable and writable by its
// owner (root, when the daemon runs as root) and group (mode 0660).
//
// A socket left behind by a daemon that died is removed; a socket another
// daemon still answers on is not, and Listen says so. If group does not
// exist the socket is left for root only (0600) and a warning says how to
// create the group. The parent directory is created if missing.
//
// Listen logs to slog.Default(); Server.Listen does the same with the
// server's logger.
func Listen(path, group string) (net.Listener, error) {
	return listen(path, group, slog.Default())
}

// Listen is the package-level Listen logging to the server's logger.
func (s *Server) Listen(path, group string) (net.Listener, error) {
	return listen(path, group, s.log)
}

func listen(path, group string, log *slog.Logger) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create the control socket's directory: %w", err)
	}
	if err := removeStale(path, log); err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on control socket %s: %w", path, err)
	}
	// Until the chmod below the socket has the umask's mode; callers are
	// checked by peer credentials anyway, so the window grants nothing.
	if err := restrict(path, group, log); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// removeStale removes a socket nothing answers on. It refuses to touch a
// file that is not a socket, or a socket another process serves.
func removeStale(path string, log *slog.Logger) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("control socket %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket: move it away or give pixie another --socket", path)
	}
	conn, err := net.DialTimeout("unix", path, 2*time.Second)
	if err == nil {
		conn.Close()
		return fmt.Errorf("another pixie daemon is already listening on %s: stop it first (end the other `pixie serve`, or `sudo pixie stop` for the service), or give this one another --socket", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("cannot tell whether another pixie daemon uses %s, so it is left alone: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale control socket: %w", err)
	}
	log.Info("removed a stale control socket left by a previous daemon", "socket", path)
	return nil
}

// restrict gives the socket to group with mode 0660, or makes it root-only
// (0600) if that cannot be done.
func restrict(path, group string, log *slog.Logger) error {
	mode := os.FileMode(0o600)
	switch g, err := user.LookupGroup(group); {
	case err != nil:
		log.Warn(fmt.Sprintf("group %s does not exist, so the control socket is for root only: create it (%s), add users to it (%s), and restart pixie",
			group, createGroupHint(runtime.GOOS, group), addUserHint(runtime.GOOS, group, "USER")),
			"socket", path, "err", err)
	default:
		gid, _ := strconv.Atoi(g.Gid)
		if err := os.Chown(path, -1, gid); err != nil {
			log.Warn("cannot give the control socket to its group, so it is for root only", "socket", path, "group", group, "err", err)
			break
		}
		mode = 0o660
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("set control socket permissions: %w", err)
	}
	return nil
}

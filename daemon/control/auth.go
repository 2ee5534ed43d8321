package control

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/user"
	"runtime"
	"slices"
	"strconv"

	"github.com/pixie-boot/pixie/daemon/api"
)

// Peer is the identity the kernel reports for the process at the other end
// of a Unix socket connection.
type Peer struct {
	UID    uint32
	GID    uint32   // effective group
	Groups []uint32 // supplementary groups, where the OS reports them (macOS)
	PID    int32    // 0 if unknown
}

// caller is one connection's identity and the verdict on it, decided once
// when the connection is accepted.
type caller struct {
	peer    Peer
	socket  string
	allowed bool
	why     string // the refusal, for a 403
}

type callerKey struct{}

func withCaller(ctx context.Context, c *caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

func callerFrom(ctx context.Context) *caller {
	c, _ := ctx.Value(callerKey{}).(*caller)
	return c
}

// identify reads a new connection's peer credentials and decides whether
// its requests will be served.
func (s *Server) identify(conn net.Conn, socket string) *caller {
	c := &caller{socket: socket}
	p, err := peerCred(conn)
	if err != nil {
		c.why = fmt.Sprintf("cannot identify the caller, so pixie refuses it: %v", err)
		s.log.Warn("control connection refused", "err", err)
		return c
	}
	c.peer = p
	if s.deps.AllowUID != nil {
		c.allowed = s.deps.AllowUID(p.UID)
		if !c.allowed {
			c.why = fmt.Sprintf("uid %d is not allowed on this socket", p.UID)
		}
		return c
	}
	gid, groupAccess, err := socketGroup(socket)
	if err != nil {
		s.log.Warn("cannot read the control socket's group; allowing root only", "socket", socket, "err", err)
		groupAccess = false
	}
	var groups []string
	username := ""
	if p.UID != 0 {
		// The user's groups from the user database (as `id` shows them),
		// plus those the process itself runs with (sg, newgrp).
		if u, err := user.LookupId(strconv.FormatUint(uint64(p.UID), 10)); err == nil {
			username = u.Username
			ids, _ := u.GroupIds()
			groups = append(groups, ids...)
		}
		groups = append(groups, strconv.FormatUint(uint64(p.GID), 10))
		for _, g := range p.Groups {
			groups = append(groups, strconv.FormatUint(uint64(g), 10))
		}
	}
	socketGID := ""
	if groupAccess {
		socketGID = strconv.FormatUint(uint64(gid), 10)
	}
	c.allowed = allowed(p.UID, groups, socketGID)
	if !c.allowed {
		c.why = refusal(runtime.GOOS, p.UID, username, groupName(gid), groupAccess)
		s.log.Warn("control connection refused", "uid", p.UID, "pid", p.PID, "user", username)
	}
	return c
}

// allowed is the authorization decision: root always; anyone else only if
// one of their group IDs is the socket's group. An empty socketGID means the
// socket grants its group nothing, so only root may call.
func allowed(uid uint32, groupIDs []string, socketGID string) bool {
	if uid == 0 {
		return true
	}
	return socketGID != "" && slices.Contains(groupIDs, socketGID)
}

// refusal says why a caller is refused and what would let it in.
func refusal(goos string, uid uint32, username, group string, groupAccess bool) string {
	if !groupAccess {
		return fmt.Sprintf("uid %d is not root, and this pixie socket is for root only: use sudo (or create the group %s and restart pixie)", uid, DefaultGroupFor(goos))
	}
	who := username
	if who == "" {
		who = "USER"
	}
	return fmt.Sprintf("uid %d is not root or in group %s: add the user to the group (%s) or use sudo", uid, group, addUserHint(goos, group, who))
}

func groupName(gid uint32) string {
	id := strconv.FormatUint(uint64(gid), 10)
	if g, err := user.LookupGroupId(id); err == nil {
		return g.Name
	}
	return id
}

// authorize serves a request only for a caller identify allowed.
func (s *Server) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := callerFrom(r.Context())
		switch {
		case c == nil:
			writeError(w, http.StatusForbidden, api.CodeForbidden, "the pixie control API is served only on its Unix socket")
		case !c.allowed:
			writeError(w, http.StatusForbidden, api.CodeForbidden, c.why)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// audit logs a change and who made it.
func (s *Server) audit(r *http.Request, msg string, args ...any) {
	if c := callerFrom(r.Context()); c != nil {
		args = append(args, "uid", c.peer.UID, "pid", c.peer.PID)
	}
	s.log.InfoContext(r.Context(), msg, args...)
}

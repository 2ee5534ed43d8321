package dhcp

import (
	"bytes"
	"context"
	"os/exec"
	"strconv"
	"time"
)

// udpPortHolders asks lsof who holds UDP port port (macOS has no /proc).
// Best effort: an empty answer means "could not tell".
func udpPortHolders(port int) []holder {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, "/usr/sbin/lsof", "-nP", "-F", "pc", "-iUDP:"+strconv.Itoa(port)).Output()
	return parseLsofPC(bytes.NewReader(out))
}

// Command pixie network-boots CoreOS-family machines: `pixie serve` runs the
// daemon (proxyDHCP, TFTP, HTTP), and the other commands control a running
// daemon over its Unix socket.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Package testnet builds throw-away LANs out of Linux network namespaces and
// boots real firmware in QEMU on them, for pixie's end-to-end tests.
//
// DHCP and PXE are broadcast protocols: a server or client started on one of
// the machine's real interfaces talks to a network that is not ours. Every
// helper here therefore runs its programs through `ip netns exec` inside
// namespaces this package created itself, refuses any other namespace, and
// deletes everything it made when the test ends: through t.Cleanup, and
// through a small watchdog process when the test binary dies without running
// its cleanups (go test's -timeout panics straight out of it). Namespace
// names also carry the test process's pid, so NewLAN removes the leftovers
// of a run whose watchdog was killed too.
//
// The LAN (see NewLAN) mirrors a home or office network:
//
//	lan     a namespace holding only the bridge br0 (the "switch")
//	router  10.77.0.1/24 + fd77:77::1/64, runs the LAN's ordinary DHCP server
//	server  10.77.0.2/24, where pixie (or dnsmasq) runs
//	VMs     QEMU started in lan, connected through a tap enslaved to br0
//
// Every host namespace sees its end of the LAN as Iface ("eth0").
//
// A typical pixie end-to-end test:
//
//	testnet.RequireVM(t)
//	lan := testnet.NewLAN(t, testnet.Options{})
//	if _, err := lan.StartRouterDHCP(); err != nil { t.Fatal(err) }
//	k, err := testnet.FindKernel()
//	... copy k.Path and testnet.BuildInitrd(t, dir) into pixie's assets ...
//	pixie, err := lan.Start(lan.ServerNS, bin, "serve", "--interface", testnet.Iface,
//		"--address", testnet.ServerIP, ...)
//	tap, err := lan.AddTap("tap0")
//	res, err := lan.RunVM(ctx, testnet.VMOptions{Firmware: testnet.UEFI, MAC: mac, Tap: tap})
//	sha, ok := res.IgnitionSHA256()
//
// The package is for tests only: it calls out to ip, dnsmasq, busybox and
// qemu-system-x86_64, and needs root.
package testnet

// Command mkbundle lays out Pixie.app for `make macos-app`:
//
//	go run ./packaging/macos/mkbundle -app bin/Pixie.app -version v1.2.3 \
//	    -pixie bin/darwin/pixie -tray bin/darwin/pixie-tray -icons assets/icons
//
// With -bundle-version it prints the numeric version pkgbuild needs and
// exits.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/pixie-boot/pixie/packaging/macos"
)

func main() {
	var in macos.Inputs
	app := flag.String("app", "bin/Pixie.app", "the bundle to write")
	flag.StringVar(&in.Version, "version", "dev", "pixie's version")
	flag.StringVar(&in.Pixie, "pixie", "bin/darwin/pixie", "the pixie binary")
	flag.StringVar(&in.Tray, "tray", "bin/darwin/pixie-tray", "the menu-bar app binary")
	flag.StringVar(&in.Icons, "icons", "assets/icons", "directory of .png icons")
	bundleVersion := flag.Bool("bundle-version", false, "print the numeric version for -version and exit")
	flag.Parse()
	if *bundleVersion {
		fmt.Println(macos.BundleVersion(in.Version))
		return
	}
	if err := macos.Build(*app, in); err != nil {
		fmt.Fprintln(os.Stderr, "mkbundle:", err)
		os.Exit(1)
	}
	fmt.Println("wrote", *app)
}

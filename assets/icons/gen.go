//go:build ignore

// gen writes the icon PNGs of package icons into the current directory:
// go generate ./assets/icons
package main

import (
	"bytes"
	"image/png"
	"log"
	"os"

	"github.com/pixie-boot/pixie/assets/icons"
)

func main() {
	for _, on := range []bool{true, false} {
		for _, template := range []bool{true, false} {
			var b bytes.Buffer
			enc := png.Encoder{CompressionLevel: png.BestCompression}
			if err := enc.Encode(&b, icons.Draw(on, template)); err != nil {
				log.Fatal(err)
			}
			name := icons.FileName(on, template)
			if err := os.WriteFile(name, b.Bytes(), 0o644); err != nil {
				log.Fatal(err)
			}
			log.Printf("wrote %s (%d bytes)", name, b.Len())
		}
	}
}

package icons

import (
	"bytes"
	"image"
	"image/png"
	"testing"
)

// TestFilesMatchDrawing keeps the checked-in PNGs in step with Draw: after
// changing the drawing, run `go generate ./assets/icons`.
func TestFilesMatchDrawing(t *testing.T) {
	for _, on := range []bool{true, false} {
		for _, template := range []bool{true, false} {
			name := FileName(on, template)
			b := Template(on)
			if !template {
				b = Color(on)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			want := Draw(on, template)
			if img.Bounds() != image.Rect(0, 0, Size, Size) {
				t.Fatalf("%s: bounds %v, want %dx%d", name, img.Bounds(), Size, Size)
			}
			for y := range Size {
				for x := range Size {
					r1, g1, b1, a1 := img.At(x, y).RGBA()
					r2, g2, b2, a2 := want.At(x, y).RGBA()
					if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
						t.Fatalf("%s differs from Draw(%v, %v) at %d,%d: run go generate ./assets/icons", name, on, template, x, y)
					}
				}
			}
		}
	}
}

// TestTemplatesAreBlack checks the macOS template rule: only black and
// alpha, so the system can tint the icon for light and dark menu bars.
func TestTemplatesAreBlack(t *testing.T) {
	for _, on := range []bool{true, false} {
		img := Draw(on, true)
		opaque := 0
		for i := 0; i < len(img.Pix); i += 4 {
			if p := img.Pix[i : i+4]; p[3] != 0 {
				opaque++
				if p[0] != 0 || p[1] != 0 || p[2] != 0 {
					t.Fatalf("template on=%v has a colored pixel %v", on, p)
				}
			}
		}
		if opaque < Size*Size/10 {
			t.Errorf("template on=%v is nearly empty (%d pixels)", on, opaque)
		}
	}
	if bytes.Equal(Template(true), Template(false)) || bytes.Equal(Color(true), Color(false)) {
		t.Error("on and off look the same")
	}
}

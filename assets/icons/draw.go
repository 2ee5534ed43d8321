package icons

import (
	"image"
	"image/color"
)

// Size is the icons' width and height in pixels: 16 points at 2x, which
// macOS shows in the menu bar and Linux panels scale as they like.
const Size = 32

// offAlpha dims the "off" template icon, the way macOS menu-bar icons show
// an inactive state.
const offAlpha = 0.55

// Draw renders an icon: a screen on a stand, with a down arrow (booting
// from the network) when on, or pause bars when off. A template icon is
// black with alpha only, for macOS to tint; otherwise it is colored.
func Draw(on, template bool) *image.NRGBA {
	c, alpha := color.NRGBA{0x1e, 0x88, 0xe5, 0xff}, 1.0 // blue
	switch {
	case template && on:
		c = color.NRGBA{0, 0, 0, 0xff}
	case template:
		c, alpha = color.NRGBA{0, 0, 0, 0xff}, offAlpha
	case !on:
		c = color.NRGBA{0x8a, 0x8a, 0x8a, 0xff} // grey
	}
	inside := glyph(on)
	img := image.NewNRGBA(image.Rect(0, 0, Size, Size))
	// 8×8 samples a pixel: enough anti-aliasing that the strokes look
	// smooth at 16 points.
	const n = 8
	for y := range Size {
		for x := range Size {
			hits := 0
			for sy := range n {
				for sx := range n {
					if inside(float64(x)+(float64(sx)+0.5)/n, float64(y)+(float64(sy)+0.5)/n) {
						hits++
					}
				}
			}
			if hits == 0 {
				continue
			}
			a := alpha * float64(hits) / (n * n)
			img.SetNRGBA(x, y, color.NRGBA{c.R, c.G, c.B, uint8(a*255 + 0.5)})
		}
	}
	return img
}

// glyph returns the icon's shape as an inside test in pixel coordinates
// (0..Size, y down).
func glyph(on bool) func(x, y float64) bool {
	const stroke = 2.5
	screen := func(x, y float64) bool {
		return inRoundRect(x, y, 4, 4.5, 28, 21.5, 3.5) &&
			!inRoundRect(x, y, 4+stroke, 4.5+stroke, 28-stroke, 21.5-stroke, 3.5-stroke)
	}
	stand := func(x, y float64) bool {
		return inRoundRect(x, y, 14.5, 21, 17.5, 26, 0) || inRoundRect(x, y, 9, 25, 23, 28, 1.5)
	}
	mark := func(x, y float64) bool { // down arrow
		return inRoundRect(x, y, 14.75, 7.5, 17.25, 13, 0) || inTriangle(x, y, 11, 12, 21, 12, 16, 18)
	}
	if !on {
		mark = func(x, y float64) bool { // pause bars
			return inRoundRect(x, y, 11.5, 8, 14.5, 18, 1) || inRoundRect(x, y, 17.5, 8, 20.5, 18, 1)
		}
	}
	return func(x, y float64) bool { return screen(x, y) || stand(x, y) || mark(x, y) }
}

// inRoundRect reports whether (x, y) is in the rectangle (x0,y0)-(x1,y1)
// with corners rounded to radius r.
func inRoundRect(x, y, x0, y0, x1, y1, r float64) bool {
	if x < x0 || x > x1 || y < y0 || y > y1 {
		return false
	}
	// Distance into the corner region, if any.
	dx := max(x0+r-x, x-(x1-r), 0)
	dy := max(y0+r-y, y-(y1-r), 0)
	return dx*dx+dy*dy <= r*r
}

// inTriangle reports whether (x, y) is inside the triangle a, b, c.
func inTriangle(x, y, ax, ay, bx, by, cx, cy float64) bool {
	side := func(px, py, qx, qy float64) float64 { return (qx-px)*(y-py) - (qy-py)*(x-px) }
	d1, d2, d3 := side(ax, ay, bx, by), side(bx, by, cx, cy), side(cx, cy, ax, ay)
	neg := d1 < 0 || d2 < 0 || d3 < 0
	pos := d1 > 0 || d2 > 0 || d3 > 0
	return !(neg && pos)
}

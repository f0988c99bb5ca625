package compliance

import (
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestHTMLRendersInChromium opens the HTML report in headless Chromium
// and checks the screenshot: a real page with the report's colours, not a
// blank one. Chromium is required, never skipped.
func TestHTMLRendersInChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed; the HTML report is tested in a real browser: install it with `apt-get update && apt-get install -y chromium` (Debian package chromium)")
	}
	rep := Evaluate(context.Background(), HIPAA, liveSources(t), clock)
	page, err := HTML(rep)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "report.html")
	if err := os.WriteFile(file, page, 0o600); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "out.png")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--screenshot="+shot, "--window-size=1280,2000", "file://"+file)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 2000 {
		t.Errorf("screenshot is %dx%d, want 1280x2000", b.Dx(), b.Dy())
	}
	colours := map[[3]uint8]int{}
	red := 0 // the "not satisfied" tile, #b3261e
	green := 0
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y += 2 {
		for x := bounds.Min.X; x < bounds.Max.X; x += 2 {
			c := rgb(img, x, y)
			colours[c]++
			if near(c, [3]uint8{0xb3, 0x26, 0x1e}) {
				red++
			}
			if near(c, [3]uint8{0x1f, 0x7a, 0x3d}) {
				green++
			}
		}
	}
	if len(colours) < 16 {
		t.Fatalf("the page rendered blank: %d colours", len(colours))
	}
	if red < 500 || green < 500 {
		t.Errorf("the report's styles did not render: %d red and %d green samples", red, green)
	}
}

func rgb(img image.Image, x, y int) [3]uint8 {
	r, g, b, _ := img.At(x, y).RGBA()
	return [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)}
}

func near(a, b [3]uint8) bool {
	d := func(x, y uint8) int {
		if x > y {
			return int(x - y)
		}
		return int(y - x)
	}
	return d(a[0], b[0]) < 8 && d(a[1], b[1]) < 8 && d(a[2], b[2]) < 8
}

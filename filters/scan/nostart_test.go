package scan

import "testing"

// TestNoStartLetters: the letters noStart8 dismisses start no keyword and
// no secret prefix, and noStart8 marks exactly those bytes.
func TestNoStartLetters(t *testing.T) {
	const dismissed = "fjkoqtuvwyz"
	isDismissed := func(c byte) bool {
		for i := 0; i < len(dismissed); i++ {
			if dismissed[i] == c {
				return true
			}
		}
		return false
	}
	forEachKeyword(func(w string) {
		if isDismissed(w[0]) {
			t.Errorf("keyword %q starts with a dismissed letter", w)
		}
	})
	// matchWord's own first letters: secret prefixes (lower case).
	for _, c := range []byte("gxesrnhpab") {
		if isDismissed(c) {
			t.Errorf("secret prefix letter %q is dismissed", c)
		}
	}
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 8; pos++ {
			x := uint64(0x2020202020202020) // spaces around
			x = x&^(0xff<<(8*pos)) | uint64(c)<<(8*pos)
			got := noStart8(x)>>(8*pos+7)&1 == 1
			if want := isDismissed(byte(c)); got != want {
				t.Fatalf("byte %#x at %d: marked %v, want %v", c, pos, got, want)
			}
			if other := noStart8(x) &^ (0x80 << (8 * pos)); other != 0 {
				t.Fatalf("byte %#x at %d marks other bytes: %#x", c, pos, other)
			}
		}
	}
}

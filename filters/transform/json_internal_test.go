package transform

import "testing"

func TestHasControlMatchesBytewise(t *testing.T) {
	slow := func(s []byte) bool {
		for _, c := range s {
			if c < 0x20 {
				return true
			}
		}
		return false
	}
	buf := make([]byte, 40)
	for i := range buf {
		buf[i] = 'a'
	}
	for pos := 0; pos < len(buf); pos++ {
		for _, c := range []byte{0x00, 0x09, 0x0a, 0x1f, 0x20, 0x7f, 0x80, 0xff, '"'} {
			b := append([]byte{}, buf...)
			b[pos] = c
			for n := pos; n <= len(b); n++ {
				if got, want := hasControl(b[:n]), slow(b[:n]); got != want {
					t.Fatalf("byte %#x at %d of %d: got %v want %v", c, pos, n, got, want)
				}
			}
		}
	}
}

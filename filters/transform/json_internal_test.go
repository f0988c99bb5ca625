package transform

import "testing"

// TestSpecialIndexMatchesBytewise puts every byte value at every position
// of a run, after every other byte value, and compares with a plain loop.
func TestSpecialIndexMatchesBytewise(t *testing.T) {
	slow := func(s []byte) int {
		for i, c := range s {
			if c < 0x20 || c == '"' || c == '\\' {
				return i
			}
		}
		return -1
	}
	buf := make([]byte, 20)
	for prev := 0; prev < 256; prev++ {
		for c := 0; c < 256; c++ {
			for pos := 1; pos < len(buf); pos++ {
				for i := range buf {
					buf[i] = 'a'
				}
				buf[pos-1], buf[pos] = byte(prev), byte(c)
				for n := pos; n <= len(buf); n++ {
					if got, want := specialIndex(buf[:n]), slow(buf[:n]); got != want {
						t.Fatalf("bytes %#x %#x at %d of %d: got %d want %d", prev, c, pos, n, got, want)
					}
				}
			}
		}
	}
}

package audit

import "testing"

// FuzzParseCheckpoint: a checkpoint comes from the network or a saved
// file; whatever parses writes back to the same text.
func FuzzParseCheckpoint(f *testing.F) {
	f.Add("nexus.local/nexus/audit\n3\nrfm3gVMVdOy2K9BOfNeyDBOCodRZINUy7f5qgMkr4ww=\n")
	f.Add("x\n-1\n\n")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := ParseCheckpoint(text)
		if err != nil {
			return
		}
		again, err := ParseCheckpoint(c.Text())
		if err != nil || again != c {
			t.Fatalf("%q → %+v → %q → %+v, %v", text, c, c.Text(), again, err)
		}
	})
}

package consent

import (
	"testing"
	"time"
)

func TestPreferWait(t *testing.T) {
	for _, c := range []struct {
		h    string
		want time.Duration
	}{
		{"", 0}, {"wait=2", 2 * time.Second}, {"modes=snapshot,delta;wait=5", 5 * time.Second},
		{"WAIT = 3", 3 * time.Second}, {"wait=600", MaxWait}, {"wait=-1", 0}, {"wait=x", 0}, {"respond-async", 0},
	} {
		if got := preferWait(c.h); got != c.want {
			t.Errorf("preferWait(%q) = %s, want %s", c.h, got, c.want)
		}
	}
}

func TestETagMatches(t *testing.T) {
	for _, c := range []struct {
		h    string
		want bool
	}{
		{`"r1"`, true}, {`W/"r1"`, true}, {`"r0", "r1"`, true}, {`r1`, true}, {`*`, true},
		{`"r2"`, false}, {``, false}, {`"r1`, false},
	} {
		if got := etagMatches(c.h, `"r1"`); got != c.want {
			t.Errorf("etagMatches(%q) = %v, want %v", c.h, got, c.want)
		}
	}
}

// The bundle endpoint's request headers are untrusted: never a panic,
// never a wait past MaxWait.
func FuzzBundleHeaders(f *testing.F) {
	f.Add("modes=snapshot,delta;wait=5", `"abc", W/"def"`)
	f.Add("wait=99999999999999999999", "*")
	f.Fuzz(func(t *testing.T, prefer, inm string) {
		if w := preferWait(prefer); w < 0 || w > MaxWait {
			t.Fatalf("preferWait(%q) = %s", prefer, w)
		}
		_ = etagMatches(inm, `"abc"`)
	})
}

package sealer_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/authz/internal/sealer"
)

func TestSealOpen(t *testing.T) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	l := sealer.Lease{ID: "0123456789abcdef", Key: key, Class: "logs", NotAfter: time.Now().Add(time.Hour)}
	pt := []byte(`{"/input/parsed_body":{"messages":[{"content":"Jane Roe, MRN 483920"}]}}`)
	sealed, err := sealer.Seal(l, "d1", pt)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("Jane")) {
		t.Fatal("the ciphertext holds the plaintext")
	}
	got, err := sealer.Open(l, "d1", sealed)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("open: %q, %v", got, err)
	}
	// Bound to its line and key: moved to another decision, it does not
	// open; nor with another class or a flipped bit.
	if _, err := sealer.Open(l, "d2", sealed); err == nil {
		t.Fatal("opened under another decision id")
	}
	other := l
	other.Class = "inference"
	if _, err := sealer.Open(other, "d1", sealed); err == nil {
		t.Fatal("opened under another class")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := sealer.Open(l, "d1", sealed); err == nil {
		t.Fatal("an altered ciphertext opened")
	}
	if _, err := sealer.Open(l, "d1", []byte{1, 2}); err == nil {
		t.Fatal("a truncated ciphertext opened")
	}
	if _, err := sealer.Seal(sealer.Lease{Key: []byte("short")}, "d", pt); err == nil {
		t.Fatal("a short key sealed")
	}
}

// Without a lease, nothing is sealed: the caller drops the values.
func TestLeaserWithoutALeaseSealsNothing(t *testing.T) {
	s := &sealer.Leaser{URL: "http://127.0.0.1:1"}
	if _, ok := s.Seal("d", []byte("x")); ok {
		t.Fatal("sealed without a lease")
	}
}

// FuzzOpen: a sealed input read from a decision-log file may be anything;
// Open refuses what it cannot open and never panics.
func FuzzOpen(f *testing.F) {
	key := bytes.Repeat([]byte{7}, 32)
	l := sealer.Lease{ID: "k", Key: key, Class: "logs"}
	good, _ := sealer.Seal(l, "d", []byte(`{"/input/parsed_body":"x"}`))
	f.Add(good, "d")
	f.Add([]byte{}, "")
	f.Fuzz(func(t *testing.T, sealed []byte, id string) {
		pt, err := sealer.Open(l, id, sealed)
		if err == nil && id != "d" {
			t.Fatalf("opened under decision %q: %q", id, pt)
		}
	})
}

// BenchmarkSealMasked is what keeping the masked values costs the decision
// log's writer goroutine per line (never the Check): the JSON of a 16 KiB
// masked body sealed, against marshalling it alone.
func BenchmarkSealMasked(b *testing.B) {
	body := map[string]any{"/input/parsed_body": map[string]any{"messages": []any{map[string]any{"role": "user", "content": strings.Repeat("patient note ", 1260)}}}}
	key := make([]byte, 32)
	s := &sealer.Leaser{}
	if err := s.Use(sealer.Lease{ID: "k", Key: key, Class: "logs", NotAfter: time.Now().Add(time.Hour)}); err != nil {
		b.Fatal(err)
	}
	for _, seal := range []bool{false, true} {
		name := "marshal"
		if seal {
			name = "marshal+seal"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				raw, _ := json.Marshal(body)
				if seal {
					if _, ok := s.Seal("d", raw); !ok {
						b.Fatal("no lease")
					}
				}
			}
		})
	}
}

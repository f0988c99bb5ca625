package keys_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/secureai-nexus/nexus/controlplane/internal/keys"
)

// FuzzOpen feeds arbitrary blobs to Open: it never panics, never opens
// anything but what was sealed, and reports a malformed envelope as such.
func FuzzOpen(f *testing.F) {
	e := newEnv(f)
	ctx := context.Background()
	good, err := e.ring.Seal(ctx, inference, []byte("fuzz seed"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:10])
	f.Add([]byte("NXK\x01\x00"))
	f.Add([]byte("NXK\x02\x04dek_"))
	f.Add(append([]byte("NXK\x01\x40"), bytes.Repeat([]byte("a"), 100)...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, blob []byte) {
		pt, err := e.ring.Open(ctx, inference, blob)
		if err == nil {
			if !bytes.Equal(blob, good) || string(pt) != "fuzz seed" {
				t.Fatalf("opened a forged blob %x as %q", blob, pt)
			}
			return
		}
		if !errors.Is(err, keys.ErrMalformed) && !errors.Is(err, keys.ErrUnknownKey) && !errors.Is(err, keys.ErrContext) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}

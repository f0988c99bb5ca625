package keys_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secureai-nexus/nexus/controlplane/internal/keys"
)

func TestLocalKEK(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keys", "kek.json")
	k := &keys.LocalKEK{Path: path}
	dek := bytes.Repeat([]byte{1}, 32)
	w1, err := k.Wrap(ctx, dek, []byte("row a"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Unwrap(ctx, w1, []byte("row b")); err == nil {
		t.Fatal("unwrapped under another row's context")
	}
	if err := k.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	w2, err := k.Rewrap(ctx, w1, []byte("row a"))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := k.WrappedVersion(w2); v != 2 {
		t.Fatalf("rewrap gave v%d, want v2", v)
	}
	// A fresh instance reads both versions from the file.
	k2 := &keys.LocalKEK{Path: path}
	for _, w := range [][]byte{w1, w2} {
		if got, err := k2.Unwrap(ctx, w, []byte("row a")); err != nil || !bytes.Equal(got, dek) {
			t.Fatalf("unwrap after reload: %v", err)
		}
	}
	if cur, err := k2.Current(ctx); err != nil || cur.Version != 2 {
		t.Fatalf("current = %+v, %v", cur, err)
	}
	if _, err := k2.Unwrap(ctx, []byte("nexus-local:v9:AAAA"), nil); err == nil || !strings.Contains(err.Error(), "no version 9") {
		t.Errorf("unknown version: %v", err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := (&keys.LocalKEK{Path: path}).Current(ctx); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a world-readable keyring was accepted: %v", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := (&keys.LocalKEK{Path: path}).Current(ctx); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("a corrupt keyring was accepted: %v", err)
	}
}

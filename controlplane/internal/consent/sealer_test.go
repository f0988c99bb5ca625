package consent_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/secureai-nexus/nexus/controlplane/internal/keys"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
)

// newSealer is the control plane's own: the keyring's per-subject keys
// over the same store, wrapped by a local KEK file.
func newSealer(t *testing.T, st *store.SQLite) (*keys.SubjectSealer, *keys.Keyring) {
	t.Helper()
	ring, err := keys.New(context.Background(), keys.Options{Tables: st, KEK: &keys.LocalKEK{Path: filepath.Join(t.TempDir(), "kek.json")}})
	if err != nil {
		t.Fatal(err)
	}
	return ring.SubjectSealer("consent"), ring
}

package identity_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/ca"
	"github.com/secureai-nexus/nexus/controlplane/internal/identity"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
)

// A client refused in a loop is recorded once, then once a minute with
// how many times it was refused in between: every refusal is accounted
// for without flooding the audit log.
func TestRepeatedRefusalsAreCoalescedWithTheirCount(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var mu sync.Mutex
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	a, err := identity.Open(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), td, st, identity.Config{
		CAPath: filepath.Join(dir, "ca.sealed"), KEK: ca.FileKEK{Path: filepath.Join(dir, "ca.kek")}, CA: ca.Options{Now: clock},
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		a.RefuseRenewal(ctx, "spiffe://other.domain/x", "127.0.0.1:5000", "not in trust domain nexus.local")
	}
	a.RefuseJoin(ctx, "127.0.0.1:5001", "no join token")
	mu.Lock()
	now = now.Add(61 * time.Second)
	mu.Unlock()
	a.RefuseRenewal(ctx, "spiffe://other.domain/x", "127.0.0.1:5002", "not in trust domain nexus.local")

	recs, err := st.Audit(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		action string
		after  map[string]any
	}
	var got []rec
	for _, r := range recs {
		if r.Action == "identity.renew.refused" || r.Action == "identity.join.refused" {
			var after map[string]any
			if err := json.Unmarshal(r.After, &after); err != nil {
				t.Fatal(err)
			}
			got = append(got, rec{r.Action, after})
		}
	}
	reason := "not in trust domain nexus.local"
	want := []rec{
		{"identity.renew.refused", map[string]any{"reason": reason}},
		{"identity.join.refused", map[string]any{"reason": "no join token"}},
		{"identity.renew.refused", map[string]any{"reason": reason, "repeats_since_last_record": 4.0}},
	}
	if len(got) != len(want) {
		t.Fatalf("records %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].action != want[i].action || !jsonEqual(got[i].after, want[i].after) {
			t.Fatalf("record %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

package keys_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/keys"
)

// A leased data key is the class's current key, handed out on the record;
// reading it back works until its bucket is destroyed, and a subject's
// key is never leased.
func TestLeaseDataKey(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	logs := keys.Context{Purpose: "decision-log", Class: keys.ClassInference}
	l, err := e.ring.LeaseDataKey(ctx, "token:key-lease", logs)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Key) != 32 || l.ID == "" || !l.NotAfter.After(e.clock.Now()) || l.NotAfter.After(e.clock.Now().Add(time.Hour)) {
		t.Fatalf("lease %+v: want a 32-byte key valid until its hourly bucket ends", l)
	}
	again, err := e.ring.LeaseDataKey(ctx, "token:key-lease", logs)
	if err != nil || again.ID != l.ID || !bytes.Equal(again.Key, l.Key) {
		t.Fatalf("the same bucket leased another key: %+v, %v", again, err)
	}
	read, err := e.ring.LeasedKey(ctx, "token:local-admin", l.ID)
	if err != nil || !bytes.Equal(read.Key, l.Key) {
		t.Fatalf("read back: %+v, %v", read, err)
	}
	if _, err := e.ring.LeaseDataKey(ctx, "x", keys.Context{Purpose: "p", Class: keys.ClassSubject, Subject: subj}); err == nil {
		t.Fatal("a subject's key was leased")
	}
	if _, err := e.ring.LeasedKey(ctx, "x", "../etc"); err == nil {
		t.Fatal("a malformed id was accepted")
	}
	recs, _ := e.st.Audit(ctx, 0, 100)
	if !hasAction(recs, "keys.dek.lease") || !hasAction(recs, "keys.dek.read") {
		t.Fatal("leases and reads are not audited")
	}
	for _, r := range recs {
		if bytes.Contains(r.After, l.Key) {
			t.Fatal("a key reached the audit log")
		}
	}
	// Past retention the bucket's key is destroyed: the leased key cannot
	// be read back, so what was sealed under it is gone.
	e.clock.Add(26 * time.Hour)
	if _, err := e.ring.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ring.LeasedKey(ctx, "token:local-admin", l.ID); !errors.Is(err, keys.ErrDestroyed) {
		t.Fatalf("after destruction: %v, want ErrDestroyed", err)
	}
}

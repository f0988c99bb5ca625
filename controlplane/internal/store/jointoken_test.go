package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
)

func TestJoinTokenLifecycle(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	mk := func(hash string, ttl time.Duration) {
		t.Helper()
		tok := store.JoinToken{Hash: hash, SPIFFEID: "spiffe://nexus.local/app", CreatedAt: now, ExpiresAt: now.Add(ttl)}
		if _, err := st.CreateJoinToken(ctx, tok, audit.Entry{Time: now, Actor: "test", Action: "jointoken.create", Target: tok.SPIFFEID}); err != nil {
			t.Fatal(err)
		}
	}
	mk("good", time.Minute)
	mk("short", time.Second)
	mk("revoked", time.Minute)
	if _, err := st.RevokeJoinToken(ctx, "revoked", now, audit.Entry{Time: now, Actor: "test", Action: "jointoken.revoke", Target: "revoked"}); err != nil {
		t.Fatal(err)
	}
	entry := func(tok store.JoinToken, err error) audit.Entry {
		action := "jointoken.exchange"
		if err != nil {
			action = "jointoken.refused"
		}
		return audit.Entry{Time: now, Actor: "workload", Action: action, Target: tok.SPIFFEID}
	}
	tests := []struct {
		name, hash string
		at         time.Time
		want       error
	}{
		{"valid", "good", now, nil},
		{"replayed", "good", now, store.ErrTokenUsed},
		{"expired", "short", now.Add(2 * time.Second), store.ErrTokenExpired},
		{"revoked", "revoked", now, store.ErrTokenRevoked},
		{"unknown", "nope", now, store.ErrTokenUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := st.ConsumeJoinToken(ctx, tt.hash, tt.at, entry)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err == nil && tok.SPIFFEID != "spiffe://nexus.local/app" {
				t.Errorf("token bound to %q", tok.SPIFFEID)
			}
		})
	}
	recs, err := st.Audit(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var refused int
	for _, r := range recs {
		if r.Action == "jointoken.refused" {
			refused++
		}
	}
	if refused != 4 {
		t.Errorf("%d refusals audited, want 4", refused)
	}
	if v, err := st.VerifyAudit(ctx); err != nil || !v.OK {
		t.Errorf("audit chain: %+v %v", v, err)
	}
	if _, err := st.RevokeJoinToken(ctx, "good", now, audit.Entry{Time: now, Actor: "t", Action: "jointoken.revoke", Target: "good"}); !errors.Is(err, store.ErrTokenUnknown) {
		t.Errorf("revoking a used token: err = %v", err)
	}
}

func TestOpenJoinTokens(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for _, tok := range []store.JoinToken{
		{Hash: "open", SPIFFEID: "spiffe://nexus.local/a", CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		{Hash: "expired", SPIFFEID: "spiffe://nexus.local/b", CreatedAt: now, ExpiresAt: now.Add(time.Second)},
		{Hash: "revoked", SPIFFEID: "spiffe://nexus.local/c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		{Hash: "used", SPIFFEID: "spiffe://nexus.local/d", CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
	} {
		if _, err := st.CreateJoinToken(ctx, tok, audit.Entry{Time: now, Actor: "test", Action: "jointoken.create", Target: tok.SPIFFEID}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.RevokeJoinToken(ctx, "revoked", now, audit.Entry{Time: now, Actor: "test", Action: "jointoken.revoke", Target: "revoked"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ConsumeJoinToken(ctx, "used", now, func(store.JoinToken, error) audit.Entry {
		return audit.Entry{Time: now, Actor: "w", Action: "identity.join", Target: "d"}
	}); err != nil {
		t.Fatal(err)
	}
	open, err := st.OpenJoinTokens(ctx, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != 1 || open[0].Hash != "open" || !open[0].ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("open tokens = %+v, want only the unused, unrevoked, unexpired one", open)
	}
}

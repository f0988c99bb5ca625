package admin_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/secureai-nexus/nexus/controlplane/internal/ca"
	"github.com/secureai-nexus/nexus/controlplane/internal/identity"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
)

func withAuthority(t *testing.T, s *stack) {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(s.dir, "id"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a, err := identity.Open(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)),
		spiffeid.RequireTrustDomainFromString("nexus.local"), st, identity.Config{
			CAPath: filepath.Join(s.dir, "ca.sealed"), KEK: ca.FileKEK{Path: filepath.Join(s.dir, "ca.kek")},
		})
	if err != nil {
		t.Fatal(err)
	}
	s.api.Identity = a
}

func TestJoinTokenEndpoints(t *testing.T) {
	s := newStack(t, t.TempDir())
	withAuthority(t, s)
	tests := []struct {
		name, body string
		code       int
		field      string
	}{
		{"valid", `{"spiffe_id":"spiffe://nexus.local/nexus/authz","ttl":"5m"}`, 201, ""},
		{"default ttl", `{"spiffe_id":"spiffe://nexus.local/nexus/authz"}`, 201, ""},
		{"not a SPIFFE id", `{"spiffe_id":"https://nexus.local/x"}`, 400, "spiffe_id"},
		{"other trust domain", `{"spiffe_id":"spiffe://evil.example/x"}`, 400, "spiffe_id"},
		{"trust domain itself", `{"spiffe_id":"spiffe://nexus.local"}`, 400, "spiffe_id"},
		{"ttl too long", `{"spiffe_id":"spiffe://nexus.local/x","ttl":"48h"}`, 400, "ttl"},
		{"ttl not a duration", `{"spiffe_id":"spiffe://nexus.local/x","ttl":"soon"}`, 400, "ttl"},
		{"ttl negative", `{"spiffe_id":"spiffe://nexus.local/x","ttl":"-1m"}`, 400, "ttl"},
		{"ttl zero", `{"spiffe_id":"spiffe://nexus.local/x","ttl":"0s"}`, 400, "ttl"},
		{"unknown field", `{"spiffe_id":"spiffe://nexus.local/x","admin":true}`, 400, ""},
	}
	var token string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := s.do(t, "POST", "/api/v1/admin/identity/join-tokens", tt.body)
			if code != tt.code {
				t.Fatalf("code = %d, want %d: %v", code, tt.code, out)
			}
			if tt.code == 201 {
				token, _ = out["token"].(string)
				if !strings.HasPrefix(token, identity.JoinTokenPrefix) {
					t.Errorf("token = %q", token)
				}
				return
			}
			if f := out["error"].(map[string]any)["field"]; tt.field != "" && f != tt.field {
				t.Errorf("field = %v, want %s", f, tt.field)
			}
		})
	}
	if code, out := s.do(t, "POST", "/api/v1/admin/identity/join-tokens/revoke", `{"token":"`+token+`"}`); code != 200 {
		t.Fatalf("revoke: %d %v", code, out)
	}
	if code, _ := s.do(t, "POST", "/api/v1/admin/identity/join-tokens/revoke", `{"token":"`+token+`"}`); code != 404 {
		t.Errorf("second revoke: %d, want 404", code)
	}
	code, out := s.do(t, "POST", "/api/v1/admin/identity/rotate-root", "")
	if code != 202 || out["activate_at"] == nil {
		t.Fatalf("rotate-root: %d %v", code, out)
	}
	if code, _ := s.do(t, "POST", "/api/v1/admin/identity/rotate-root", ""); code != 409 {
		t.Errorf("second rotate-root while one is pending: %d, want 409", code)
	}
	req, _ := http.NewRequest("GET", s.url+"/api/v1/admin/identity/bundle", nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.Count(string(b), "BEGIN CERTIFICATE") != 2 {
		t.Errorf("bundle during a prepared rotation: %d, %d roots", resp.StatusCode, strings.Count(string(b), "BEGIN CERTIFICATE"))
	}
	// Unauthenticated callers get nothing.
	resp, err = http.Post(s.url+"/api/v1/admin/identity/join-tokens", "application/json", strings.NewReader(`{"spiffe_id":"spiffe://nexus.local/x"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("token without admin auth: %d", resp.StatusCode)
	}
}

func TestIdentityEndpointsWithSPIRE(t *testing.T) {
	s := newStack(t, t.TempDir())
	code, out := s.do(t, "POST", "/api/v1/admin/identity/join-tokens", `{"spiffe_id":"spiffe://nexus.local/x"}`)
	if code != 404 || !strings.Contains(out["error"].(map[string]any)["message"].(string), "SPIRE") {
		t.Errorf("%d %v", code, out)
	}
}

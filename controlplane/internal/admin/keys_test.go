package admin_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secureai-nexus/nexus/controlplane/internal/admin"
	"github.com/secureai-nexus/nexus/controlplane/internal/keys"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
)

// newKeysStack serves the key endpoints over a real keyring: SQLite store
// and local KEK file.
func newKeysStack(t testing.TB) (*stack, *keys.Keyring, *store.SQLite) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ring, err := keys.New(ctx, keys.Options{Tables: st, KEK: &keys.LocalKEK{Path: filepath.Join(dir, "keys.kek")}})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := admin.LoadOrCreateToken(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	api := &admin.API{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Auth: auth, Audit: st, Keys: ring}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	tok, _ := os.ReadFile(filepath.Join(dir, "admin.token"))
	return &stack{url: srv.URL, token: strings.TrimSpace(string(tok)), dir: dir, api: api}, ring, st
}

func TestKeysInventoryAndRotation(t *testing.T) {
	s, ring, st := newKeysStack(t)
	ctx := context.Background()
	c := keys.Context{Purpose: "capture", Class: keys.ClassInference}
	sealed, err := ring.Seal(ctx, c, []byte("kept"))
	if err != nil {
		t.Fatal(err)
	}
	code, body := s.do(t, "GET", "/api/v1/admin/keys", "")
	if code != 200 {
		t.Fatal(code, body)
	}
	ks := body["keys"].([]any)
	if len(ks) != 1 {
		t.Fatalf("keys = %v", ks)
	}
	k := ks[0].(map[string]any)
	if k["class"] != "inference" || k["state"] != "active" || k["kek_version"].(float64) != 1 || k["bucket_start"] == nil {
		t.Errorf("key = %v", k)
	}
	raw, _ := json.Marshal(body)
	if strings.Contains(string(raw), "nexus-local:") || strings.Contains(string(raw), "wrapped") {
		t.Errorf("inventory shows key material: %s", raw)
	}
	classes := body["classes"].([]any)
	if len(classes) != 3 || classes[0].(map[string]any)["retention"] != "24h0m0s" {
		t.Errorf("classes = %v", classes)
	}
	if body["kek"].(map[string]any)["version"].(float64) != 1 {
		t.Errorf("kek = %v", body["kek"])
	}

	code, body = s.do(t, "POST", "/api/v1/admin/keys/rotate", "")
	if code != 200 || body["from_version"].(float64) != 1 || body["to_version"].(float64) != 2 || body["rewrapped"].(float64) != 1 {
		t.Fatalf("rotate = %d %v", code, body)
	}
	if pt, err := ring.Open(ctx, c, sealed); err != nil || string(pt) != "kept" {
		t.Fatalf("data unreadable after rotation: %v", err)
	}
	_, body = s.do(t, "GET", "/api/v1/admin/keys", "")
	if v := body["keys"].([]any)[0].(map[string]any)["kek_version"].(float64); v != 2 {
		t.Errorf("key still on KEK v%v after rewrap", v)
	}
	recs, _ := st.Audit(ctx, 0, 100)
	if recs[len(recs)-1].Action != "keys.kek.rotate" || recs[len(recs)-1].Actor != "token:local-admin" {
		t.Errorf("last record = %+v", recs[len(recs)-1])
	}
}

func TestLegalHoldEndpoints(t *testing.T) {
	s, _, st := newKeysStack(t)
	code, body := s.do(t, "POST", "/api/v1/admin/keys/legal-holds",
		`{"class":"inference","from":"2026-03-01T00:00:00Z","to":"2026-03-02T00:00:00Z","reason":"case 2026-114"}`)
	if code != 201 {
		t.Fatal(code, body)
	}
	id := body["id"].(string)
	if body["actor"] != "token:local-admin" || body["from"] != "2026-03-01T00:00:00Z" {
		t.Errorf("hold = %v", body)
	}
	code, body = s.do(t, "GET", "/api/v1/admin/keys/legal-holds", "")
	if code != 200 || len(body["legal_holds"].([]any)) != 1 {
		t.Fatalf("list = %d %v", code, body)
	}
	code, body = s.do(t, "DELETE", "/api/v1/admin/keys/legal-holds/"+id, "")
	if code != 200 || body["lifted_by"] != "token:local-admin" {
		t.Fatalf("lift = %d %v", code, body)
	}
	code, body = s.do(t, "DELETE", "/api/v1/admin/keys/legal-holds/"+id, "")
	if code != 404 {
		t.Errorf("lift twice = %d %v, want 404", code, body)
	}
	_, body = s.do(t, "GET", "/api/v1/admin/keys/legal-holds", "")
	if len(body["legal_holds"].([]any)) != 0 {
		t.Errorf("a lifted hold is still listed: %v", body)
	}
	recs, _ := st.Audit(context.Background(), 0, 100)
	if len(recs) != 2 || recs[0].Action != "keys.hold.place" || recs[1].Action != "keys.hold.lift" {
		t.Errorf("audit = %+v", recs)
	}
}

func TestLegalHoldRejects(t *testing.T) {
	s, _, st := newKeysStack(t)
	for _, tt := range []struct {
		name, body string
		status     int
		field, msg string
	}{
		{"no class", `{"reason":"case 1"}`, 400, "class", "is required"},
		{"unknown class", `{"class":"nope","reason":"case 1"}`, 400, "class", `no retention class "nope"`},
		{"no reason", `{"class":"logs"}`, 400, "reason", "is required"},
		{"e-mail in reason", `{"class":"logs","reason":"asked by bob@example.org"}`, 400, "reason", "e-mail"},
		{"bad time", `{"class":"logs","reason":"case 1","from":"yesterday"}`, 400, "from", "RFC 3339"},
		{"reversed range", `{"class":"logs","reason":"case 1","from":"2026-03-02T00:00:00Z","to":"2026-03-01T00:00:00Z"}`, 400, "to", "after from"},
		{"raw subject", `{"class":"subject","subject":"Jane Doe","reason":"case 1"}`, 400, "subject", "keyed hash"},
		{"subject on a bucketed class", `{"class":"logs","subject":"hmac-sha256:0123456789abcdef","reason":"case 1"}`, 400, "subject", "time range"},
		{"unknown field", `{"class":"logs","reason":"case 1","until":"x"}`, 400, "until", "unknown field"},
		{"not JSON", `{"class":`, 400, "", "not valid JSON"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body := s.do(t, "POST", "/api/v1/admin/keys/legal-holds", tt.body)
			if code != tt.status {
				t.Fatalf("status %d, want %d: %v", code, tt.status, body)
			}
			e := body["error"].(map[string]any)
			if tt.field != "" && e["field"] != tt.field {
				t.Errorf("field = %v, want %s", e["field"], tt.field)
			}
			if !strings.Contains(e["message"].(string), tt.msg) {
				t.Errorf("message %q lacks %q", e["message"], tt.msg)
			}
		})
	}
	if code, body := s.do(t, "DELETE", "/api/v1/admin/keys/legal-holds/nothing", ""); code != 404 {
		t.Errorf("unknown id = %d %v", code, body)
	}
	if code, _ := s.do(t, "PUT", "/api/v1/admin/keys/rotate", ""); code != 405 {
		t.Errorf("PUT rotate = %d, want 405", code)
	}
	if recs, _ := st.Audit(context.Background(), 0, 100); len(recs) != 0 {
		t.Errorf("rejected requests were audited: %+v", recs)
	}
}

// FuzzPlaceHold: arbitrary bodies never get a 5xx.
func FuzzPlaceHold(f *testing.F) {
	f.Add(`{"class":"inference","reason":"case 1"}`)
	f.Add(`{"class":"subject","subject":"hmac-sha256:0123456789abcdef","reason":"x","from":"2026-01-01T00:00:00Z"}`)
	f.Add(`{"class":null}`)
	s, _, _ := newKeysStack(f)
	f.Fuzz(func(t *testing.T, body string) {
		code, out := s.do(t, "POST", "/api/v1/admin/keys/legal-holds", body)
		if code >= 500 {
			t.Fatalf("status %d for %q: %v", code, body, out)
		}
	})
}

// nexus-authz's lease token leases a data key and nothing else; reading a
// key back is an admin's.
func TestDataKeyLeases(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ring, err := keys.New(ctx, keys.Options{Tables: st, KEK: &keys.LocalKEK{Path: filepath.Join(dir, "keys.kek")}})
	if err != nil {
		t.Fatal(err)
	}
	auth, _ := admin.LoadOrCreateToken(filepath.Join(dir, "admin.token"))
	lease, _ := admin.LoadOrCreateScopedToken(filepath.Join(dir, "key-lease.token"), "key-lease")
	api := &admin.API{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Auth: auth, Audit: st, Keys: ring, LeaseAuth: lease}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	read := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		return strings.TrimSpace(string(b))
	}
	adminTok, leaseTok := read("admin.token"), read("key-lease.token")
	call := func(method, path, tok, body string) (int, map[string]any) {
		req := httptest.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.RequestURI = ""
		req.Header.Set("Authorization", "Bearer "+tok)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	code, l := call("POST", "/api/v1/admin/keys/leases", leaseTok, `{"purpose":"decision-log"}`)
	if code != 200 || l["class"] != "logs" || l["key"] == "" || l["id"] == "" {
		t.Fatalf("lease: %d %v", code, l)
	}
	if code, e := call("POST", "/api/v1/admin/keys/leases", leaseTok, `{"class":"logs"}`); code != 400 || e["error"].(map[string]any)["field"] != "purpose" {
		t.Fatalf("no purpose: %d %v", code, e)
	}
	if code, e := call("POST", "/api/v1/admin/keys/leases", leaseTok, `{"class":"subject","purpose":"x"}`); code != 400 || e["error"] == nil {
		t.Fatalf("subject class: %d %v", code, e)
	}
	id := l["id"].(string)
	if code, _ := call("GET", "/api/v1/admin/keys/leases/"+id, leaseTok, ""); code != 401 {
		t.Fatalf("the lease token read a key back: %d", code)
	}
	if code, _ := call("GET", "/api/v1/admin/keys", leaseTok, ""); code != 401 {
		t.Fatalf("the lease token listed keys: %d", code)
	}
	if code, k := call("GET", "/api/v1/admin/keys/leases/"+id, adminTok, ""); code != 200 || k["key"] != l["key"] {
		t.Fatalf("admin read back: %d %v", code, k)
	}
	if code, _ := call("GET", "/api/v1/admin/keys/leases/0123456789abcdef0123456789abcdef", adminTok, ""); code != 404 {
		t.Fatalf("unknown key: %d", code)
	}
	recs, _ := st.Audit(ctx, 0, 100)
	var actions []string
	for _, r := range recs {
		actions = append(actions, r.Actor+" "+r.Action)
	}
	joined := strings.Join(actions, ",")
	if !strings.Contains(joined, "token:key-lease keys.dek.lease") || !strings.Contains(joined, "token:local-admin keys.dek.read") {
		t.Fatalf("audit: %s", joined)
	}
}

package admin_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/admin"
	"github.com/secureai-nexus/nexus/controlplane/internal/consent"
	"github.com/secureai-nexus/nexus/controlplane/internal/controller"
	"github.com/secureai-nexus/nexus/controlplane/internal/keys"
	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
	"github.com/secureai-nexus/nexus/controlplane/internal/xds"
)

// SubjectKey is shared with nexus-authz (NEXUS_TELEMETRY_SUBJECT_KEY).
const testSubjectKey = "consent-test-subject-key-0123456"

type consentStack struct {
	*stack
	svc   *consent.Service
	store *store.SQLite
	srv   *httptest.Server
	// bundleToken opens the consent bundle and nothing else.
	bundleToken string
}

// newConsentStack runs the API with the consent service over the real
// controller and SQLite store, on 127.0.0.1.
func newConsentStack(t testing.TB, requesters ...string) *consentStack {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := mesh.LoadFile("../translate/testdata/canary.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	xs := xds.NewServer(log)
	ctrl, err := controller.New(ctx, log, m, st, xs, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := admin.LoadOrCreateToken(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	ring, err := keys.New(ctx, keys.Options{Tables: st, KEK: &keys.LocalKEK{Path: filepath.Join(dir, "kek.json")}})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := consent.New(ctx, consent.Config{Tables: st, Sealer: ring.SubjectSealer("consent"), SubjectKey: []byte(testSubjectKey), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	bundleAuth, err := admin.LoadOrCreateScopedToken(filepath.Join(dir, "consent-bundle.token"), "consent-bundle")
	if err != nil {
		t.Fatal(err)
	}
	bundleTok, err := os.ReadFile(filepath.Join(dir, "consent-bundle.token"))
	if err != nil {
		t.Fatal(err)
	}
	api := &admin.API{Log: log, Auth: auth, Ctrl: ctrl, Status: xs, Audit: st, Consents: svc, BreakGlassRequesters: requesters, BundleAuth: bundleAuth}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	tok, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	return &consentStack{stack: &stack{url: srv.URL, token: strings.TrimSpace(string(tok)), xds: xs, dir: dir, api: api}, svc: svc, store: st, srv: srv,
		bundleToken: strings.TrimSpace(string(bundleTok))}
}

const consentBody = `{"subject":"auth0|patient-17","purposes":["research"],"categories":["health"],"duration":"720h","sharing":false,"collection_method":"signed form at admission","jurisdiction":"EU","policy_url":"https://hospital.example/privacy"}`

func errField(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	f, _ := e["field"].(string)
	return f
}

func TestConsentAPI(t *testing.T) {
	s := newConsentStack(t)
	code, body := s.do(t, "POST", "/api/v1/admin/consents", consentBody)
	if code != 201 {
		t.Fatalf("create: %d %v", code, body)
	}
	c := body["consent"].(map[string]any)
	id := c["id"].(string)
	if c["subject"] != "auth0|patient-17" || c["subject_id"] != consent.SubjectID([]byte(testSubjectKey), "auth0|patient-17") || body["bundle_revision"] == "" {
		t.Fatalf("created %v", body)
	}
	code, body = s.do(t, "GET", "/api/v1/admin/consents?subject="+url.QueryEscape("auth0|patient-17"), "")
	if code != 200 || len(body["consents"].([]any)) != 1 {
		t.Fatalf("list: %d %v", code, body)
	}
	code, body = s.do(t, "GET", "/api/v1/admin/consents/"+id, "")
	if code != 200 || body["active"] != true {
		t.Fatalf("get: %d %v", code, body)
	}
	code, body = s.do(t, "DELETE", "/api/v1/admin/consents/"+id, "")
	if code != 200 || body["consent"].(map[string]any)["revoked_at"] == nil {
		t.Fatalf("revoke: %d %v", code, body)
	}
	if code, body = s.do(t, "DELETE", "/api/v1/admin/consents/"+id, ""); code != 409 {
		t.Fatalf("revoke twice: %d %v", code, body)
	}
	if code, body = s.do(t, "GET", "/api/v1/admin/consents/"+id, ""); code != 200 || body["active"] != false {
		t.Fatalf("get revoked: %d %v", code, body)
	}
	for _, c := range []struct {
		method, path, body string
		code               int
		field              string
	}{
		{"GET", "/api/v1/admin/consents/00000000000000000000000000000000", "", 404, "id"},
		{"GET", "/api/v1/admin/consents/not-an-id", "", 400, "id"},
		{"DELETE", "/api/v1/admin/consents/xyz", "", 400, "id"},
		{"GET", "/api/v1/admin/consents", "", 400, "subject"},
		{"POST", "/api/v1/admin/consents", strings.Replace(consentBody, `"720h"`, `"0s"`, 1), 400, "duration"},
		{"POST", "/api/v1/admin/consents", strings.Replace(consentBody, `["research"]`, `[]`, 1), 400, "purposes"},
		{"POST", "/api/v1/admin/consents", strings.Replace(consentBody, `"sharing":false`, `"sharing":"no"`, 1), 400, "sharing"},
		{"POST", "/api/v1/admin/consents", strings.Replace(consentBody, `"subject"`, `"subjekt"`, 1), 400, "subjekt"},
		{"POST", "/api/v1/admin/consents", `{"subject":`, 400, ""},
		{"PUT", "/api/v1/admin/consents", consentBody, 405, ""},
	} {
		code, body := s.do(t, c.method, c.path, c.body)
		if code != c.code || errField(body) != c.field {
			t.Errorf("%s %s %s: %d %v, want %d naming %q", c.method, c.path, c.body, code, body, c.code, c.field)
		}
	}
	// The wrong content type and no credentials.
	req, _ := http.NewRequest("POST", s.url+"/api/v1/admin/consents", strings.NewReader(consentBody))
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "text/plain")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 415 {
		t.Errorf("text/plain body: %v %v", resp.StatusCode, err)
	}
	for _, p := range []string{"/api/v1/admin/consents?subject=x", "/api/v1/bundles/nexus-consent.tar.gz", "/api/v1/admin/subjects/x/export"} {
		resp, err := http.Get(s.url + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("GET %s without a token: %d", p, resp.StatusCode)
		}
	}
}

func TestConsentBundleEndpoint(t *testing.T) {
	s := newConsentStack(t)
	get := func(etag, prefer string) *http.Response {
		req, _ := http.NewRequest("GET", s.url+"/api/v1/bundles/nexus-consent.tar.gz", nil)
		req.Header.Set("Authorization", "Bearer "+s.token)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		if prefer != "" {
			req.Header.Set("Prefer", prefer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	first := get("", "")
	etag := first.Header.Get("ETag")
	if first.StatusCode != 200 || etag == "" || first.Header.Get("Content-Type") != consent.BundleContentType {
		t.Fatalf("bundle: %d %v", first.StatusCode, first.Header)
	}
	if r := get(etag, ""); r.StatusCode != 304 {
		t.Fatalf("If-None-Match: %d", r.StatusCode)
	}
	// nexus-authz's token opens the bundle, and nothing else.
	for _, c := range []struct {
		path string
		want int
	}{{"/api/v1/bundles/nexus-consent.tar.gz", 200}, {"/api/v1/admin/consents?subject=x", 401}, {"/api/v1/admin/break-glass", 401}} {
		req, _ := http.NewRequest("GET", s.url+c.path, nil)
		req.Header.Set("Authorization", "Bearer "+s.bundleToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("bundle token on %s: %d, want %d", c.path, resp.StatusCode, c.want)
		}
	}
	// A long poll is answered by the next change.
	done := make(chan *http.Response, 1)
	go func() { done <- get(etag, "modes=snapshot,delta;wait=10") }()
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	if code, body := s.do(t, "POST", "/api/v1/admin/consents", consentBody); code != 201 {
		t.Fatalf("create: %d %v", code, body)
	}
	select {
	case r := <-done:
		if r.StatusCode != 200 || r.Header.Get("ETag") == etag {
			t.Fatalf("long poll: %d %s", r.StatusCode, r.Header.Get("ETag"))
		}
		t.Logf("long poll answered %s after the change", time.Since(start))
	case <-time.After(5 * time.Second):
		t.Fatal("the long poll was not answered by the change")
	}
}

func TestSubjectExportAndErasure(t *testing.T) {
	s := newConsentStack(t)
	if code, body := s.do(t, "POST", "/api/v1/admin/consents", consentBody); code != 201 {
		t.Fatalf("create: %d %v", code, body)
	}
	path := "/api/v1/admin/subjects/" + url.PathEscape("auth0|patient-17")
	code, body := s.do(t, "GET", path+"/export", "")
	if code != 200 || body["subject"] != "auth0|patient-17" || len(body["consents"].([]any)) != 1 || len(body["audit"].([]any)) != 1 {
		t.Fatalf("export: %d %v", code, body)
	}
	code, body = s.do(t, "POST", path+"/erase", "")
	if code != 200 || body["consents_deleted"] != 1.0 || body["keys_destroyed"] != true {
		t.Fatalf("erase: %d %v", code, body)
	}
	code, body = s.do(t, "GET", path+"/export", "")
	// What is left: the grant, the keyring's destruction of the subject's
	// key and the erasure, each under the keyed hash only.
	if code != 200 || len(body["consents"].([]any)) != 0 || len(body["audit"].([]any)) != 3 {
		t.Fatalf("export after erasure: %d %v", code, body)
	}
	// The audit log names the subject only by its keyed hash.
	code, body = s.do(t, "GET", "/api/v1/admin/audit", "")
	raw, _ := json.Marshal(body)
	if code != 200 || strings.Contains(string(raw), "patient-17") || !strings.Contains(string(raw), "subject.erase") {
		t.Fatalf("audit: %d %s", code, raw)
	}
	// A sub with a slash is one path segment, escaped.
	if code, body := s.do(t, "POST", "/api/v1/admin/consents", consentFor("tenant-a/p-9")); code != 201 {
		t.Fatalf("create: %d %v", code, body)
	}
	if code, body := s.do(t, "GET", "/api/v1/admin/subjects/"+url.PathEscape("tenant-a/p-9")+"/export", ""); code != 200 || body["subject"] != "tenant-a/p-9" || len(body["consents"].([]any)) != 1 {
		t.Fatalf("export of a sub with a slash: %d %v", code, body)
	}
	if code, body := s.do(t, "GET", "/api/v1/admin/subjects/"+strings.Repeat("x", 300)+"/export", ""); code != 400 || errField(body) != "subject" {
		t.Fatalf("long subject: %d %v", code, body)
	}
}

func TestBreakGlassAPI(t *testing.T) {
	s := newConsentStack(t, "token:local-admin")
	req := `{"spiffe_id":"spiffe://nexus.local/ns/er/sa/frontend","model":"triage","reason":"cardiac arrest, chart locked","duration":"1h"}`
	code, body := s.do(t, "POST", "/api/v1/admin/break-glass", req)
	if code != 201 {
		t.Fatalf("create: %d %v", code, body)
	}
	g := body["grant"].(map[string]any)
	id := g["id"].(string)
	if g["active"] != true || g["requested_by"] != "token:local-admin" {
		t.Fatalf("grant %v", g)
	}
	for _, c := range []struct {
		body, field string
	}{
		{strings.Replace(req, `"1h"`, `"5h"`, 1), "duration"},
		{strings.Replace(req, `"triage"`, `"radiology"`, 1), "model"},
		{strings.Replace(req, `cardiac arrest, chart locked`, `because`, 1), "reason"},
		{strings.Replace(req, `"spiffe_id":"spiffe://nexus.local/ns/er/sa/frontend"`, `"spiffe_id":"http://x"`, 1), "spiffe_id"},
		{strings.Replace(req, `"spiffe_id":"spiffe://nexus.local/ns/er/sa/frontend",`, ``, 1), "spiffe_id"},
		{strings.Replace(req, `"model"`, `"subject":"p-1","model"`, 1), "subject"},
	} {
		if code, body := s.do(t, "POST", "/api/v1/admin/break-glass", c.body); code != 400 || errField(body) != c.field {
			t.Errorf("%s: %d %v, want 400 naming %s", c.body, code, body, c.field)
		}
	}
	code, body = s.do(t, "GET", "/api/v1/admin/break-glass", "")
	if code != 200 || len(body["grants"].([]any)) != 1 || body["unreviewed"] != 0.0 {
		t.Fatalf("list: %d %v", code, body)
	}
	if code, body = s.do(t, "DELETE", "/api/v1/admin/break-glass/"+id, ""); code != 200 {
		t.Fatalf("end: %d %v", code, body)
	}
	if code, _ = s.do(t, "DELETE", "/api/v1/admin/break-glass/"+id, ""); code != 409 {
		t.Fatalf("end twice: %d", code)
	}
	if code, body = s.do(t, "GET", "/api/v1/admin/break-glass", ""); body["unreviewed"] != 1.0 {
		t.Fatalf("ended, unreviewed: %d %v", code, body)
	}
	if code, body = s.do(t, "POST", "/api/v1/admin/break-glass/"+id+"/review", `{}`); code != 400 || errField(body) != "note" {
		t.Fatalf("review without a note: %d %v", code, body)
	}
	if code, body = s.do(t, "POST", "/api/v1/admin/break-glass/"+id+"/review", `{"note":"justified; chart unlocked by ER lead"}`); code != 200 {
		t.Fatalf("review: %d %v", code, body)
	}
	if code, body = s.do(t, "GET", "/api/v1/admin/break-glass/"+id, ""); code != 200 || body["grant"].(map[string]any)["reviewed_by"] != "token:local-admin" {
		t.Fatalf("get: %d %v", code, body)
	}
	// Only the configured requesters may break the glass.
	other := newConsentStack(t)
	if code, body := other.do(t, "POST", "/api/v1/admin/break-glass", req); code != 403 {
		t.Fatalf("not a requester: %d %v", code, body)
	}
}

func TestConsentRoutesDocumented(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(admin.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ method, path string }{
		{"post", "/api/v1/admin/consents"}, {"get", "/api/v1/admin/consents"},
		{"get", "/api/v1/admin/consents/{id}"}, {"delete", "/api/v1/admin/consents/{id}"},
		{"get", "/api/v1/admin/subjects/{subject}/export"}, {"post", "/api/v1/admin/subjects/{subject}/erase"},
		{"post", "/api/v1/admin/break-glass"}, {"get", "/api/v1/admin/break-glass"},
		{"get", "/api/v1/admin/break-glass/{id}"}, {"delete", "/api/v1/admin/break-glass/{id}"},
		{"post", "/api/v1/admin/break-glass/{id}/review"}, {"get", "/api/v1/bundles/nexus-consent.tar.gz"},
	} {
		if _, ok := doc.Paths[r.path][r.method]; !ok {
			t.Errorf("%s %s is not documented", r.method, r.path)
		}
	}
}

// FuzzCreateConsent: no body ever gets a 5xx, and a refused body stores
// nothing.
func FuzzCreateConsent(f *testing.F) {
	f.Add(consentBody)
	f.Add(`{"subject":"a","purposes":["x"],"categories":["y"],"duration":"1h","collection_method":"z","consent_time":"1970-01-01T00:00:00Z"}`)
	f.Add(`{"subject":"a","purposes":["x"],"categories":["y"],"duration":"87840h","collection_method":"z","consent_time":"2999-01-01T00:00:00Z"}`)
	s := newConsentStack(f)
	f.Fuzz(func(t *testing.T, body string) {
		req, _ := http.NewRequest("POST", s.url+"/api/v1/admin/consents", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+s.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%q: %d", body, resp.StatusCode)
		}
	})
}

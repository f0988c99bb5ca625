package admin_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/secureai-nexus/nexus/controlplane/internal/compliance"
)

type adminAuth compliance.AdminAuthEvidence

func (a adminAuth) AdminAuth() compliance.AdminAuthEvidence { return compliance.AdminAuthEvidence(a) }

// complianceStack serves the report over the real controller and xDS
// server; key, consent and break-glass sources stay nil, as today.
func complianceStack(t *testing.T) (*stack, string) {
	t.Helper()
	s := newStack(t, t.TempDir())
	s.api.Compliance = &compliance.Sources{Mesh: s.api.Ctrl.(compliance.MeshSource), Snapshot: s.xds, AdminAuth: adminAuth{Address: "127.0.0.1:0"}}
	srv := httptest.NewServer(s.api.Handler())
	t.Cleanup(srv.Close)
	return s, srv.URL
}

func get(t *testing.T, url, token string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestComplianceReport(t *testing.T) {
	s, url := complianceStack(t)
	base := url + "/api/v1/admin/compliance/report"
	for _, c := range []struct {
		query, ctype string
		want         []string
	}{
		{"?framework=hipaa", "application/json", []string{`"assessment-results"`, `"target-id": "hipaa-164.312-d"`, `"state": "satisfied"`}},
		{"?framework=soc2&format=oscal", "application/json", []string{`"soc2-cc6.1"`}},
		{"?framework=gdpr&format=md", "text/markdown", []string{"# SecureAI Nexus compliance report: GDPR", "cannot be evaluated: no key manager configured", "| `mtls-every-hop` "}},
		{"?framework=iso27001&format=html", "text/html", []string{"<!DOCTYPE html>", "A.8.24", "loopback dev mode"}},
	} {
		resp, body := get(t, base+c.query, s.token)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), c.ctype) {
			t.Fatalf("%s: %d %s %s", c.query, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		for _, w := range c.want {
			if !strings.Contains(string(body), w) {
				t.Errorf("%s lacks %q", c.query, w)
			}
		}
	}
	// The mTLS check walked the snapshot the xDS server published.
	_, body := get(t, base+"?framework=hipaa&format=md", s.token)
	if !strings.Contains(string(body), "node model~triage listener inbound chain mtls: mTLS, client certificate required") {
		t.Errorf("the report does not show the published snapshot:\n%s", body)
	}

	for _, c := range []struct{ query, field string }{
		{"", "framework"}, {"?framework=pci", "framework"}, {"?framework=hipaa&format=pdf", "format"},
	} {
		resp, body := get(t, base+c.query, s.token)
		var e struct {
			Error struct{ Code, Field, Message string }
		}
		if resp.StatusCode != 400 || json.Unmarshal(body, &e) != nil || e.Error.Field != c.field || e.Error.Code != "invalid_argument" {
			t.Errorf("%q: %d %s", c.query, resp.StatusCode, body)
		}
	}
	if resp, _ := get(t, base+"?framework=hipaa", "wrong"); resp.StatusCode != 401 {
		t.Errorf("unauthenticated: %d", resp.StatusCode)
	}
}

package app_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secureai-nexus/nexus/controlplane/internal/app"
)

// With Consent configured the control plane serves the consent
// endpoints and bundle, and keeps records across a restart.
func TestConsentServed(t *testing.T) {
	dir := t.TempDir()
	cfg := app.Config{DataDir: dir, Consent: &app.ConsentConfig{
		SubjectKey: []byte("0123456789abcdef0123"), BreakGlassRequesters: []string{"token:local-admin"},
	}}
	c := startApp(t, cfg)
	var created struct {
		Consent struct{ ID string } `json:"consent"`
	}
	body := `{"subject":"p-1","purposes":["research"],"categories":["health"],"duration":"24h","collection_method":"kiosk"}`
	if code := c.call(t, "POST", "/api/v1/admin/consents", body, &created); code != 201 || created.Consent.ID == "" {
		t.Fatalf("create: %d %+v", code, created)
	}
	if b := c.text(t, "/api/v1/bundles/nexus-consent.tar.gz"); len(b) == 0 {
		t.Fatal("empty consent bundle")
	}
	// nexus-authz's own token, created beside the admin token.
	tok, err := os.ReadFile(filepath.Join(dir, "consent-bundle.token"))
	if err != nil {
		t.Fatal(err)
	}
	bundle := cp{addr: c.addr, token: strings.TrimSpace(string(tok))}
	if b := bundle.text(t, "/api/v1/bundles/nexus-consent.tar.gz"); len(b) == 0 {
		t.Fatal("the bundle token does not open the bundle")
	}
	if code := bundle.call(t, "GET", "/api/v1/admin/consents?subject=p-1", "", nil); code != 401 {
		t.Fatalf("the bundle token opened the admin API: %d", code)
	}
	c.stop()
	c = startApp(t, cfg)
	var list struct{ Consents []map[string]any }
	if code := c.call(t, "GET", "/api/v1/admin/consents?subject=p-1", "", &list); code != 200 || len(list.Consents) != 1 || list.Consents[0]["id"] != created.Consent.ID {
		t.Fatalf("after restart: %d %+v", code, list)
	}
}

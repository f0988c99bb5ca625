package app_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/secureai-nexus/nexus/controlplane/internal/app"
)

// keySealer stands in for keys.SubjectSealer: an AES-256-GCM key per
// subject, forgotten on ForgetSubject.
type keySealer struct {
	mu   sync.Mutex
	keys map[string]cipher.AEAD
}

func (s *keySealer) aead(subject string, create bool) (cipher.AEAD, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.keys[subject]; ok {
		return a, nil
	}
	if !create {
		return nil, errors.New("forgotten")
	}
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	b, _ := aes.NewCipher(k)
	a, err := cipher.NewGCM(b)
	s.keys[subject] = a
	return a, err
}

func (s *keySealer) Seal(_ context.Context, subject, purpose string, p []byte) ([]byte, error) {
	a, err := s.aead(subject, true)
	if err != nil {
		return nil, err
	}
	n := make([]byte, a.NonceSize())
	_, _ = rand.Read(n)
	return a.Seal(n, n, p, []byte(purpose)), nil
}

func (s *keySealer) Open(_ context.Context, subject, purpose string, c []byte) ([]byte, error) {
	a, err := s.aead(subject, false)
	if err != nil {
		return nil, err
	}
	if len(c) < a.NonceSize() {
		return nil, errors.New("short")
	}
	return a.Open(nil, c[:a.NonceSize()], c[a.NonceSize():], []byte(purpose))
}

func (s *keySealer) ForgetSubject(_ context.Context, subject string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.keys, subject)
	return nil
}

// With Consent configured the control plane serves the consent
// endpoints and bundle, and keeps records across a restart.
func TestConsentServed(t *testing.T) {
	dir := t.TempDir()
	cfg := app.Config{DataDir: dir, Consent: &app.ConsentConfig{
		Sealer: &keySealer{keys: map[string]cipher.AEAD{}}, SubjectKey: []byte("0123456789abcdef0123"), BreakGlassRequesters: []string{"token:local-admin"},
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

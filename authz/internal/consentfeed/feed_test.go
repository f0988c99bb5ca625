package consentfeed_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/secureai-nexus/nexus/authz/internal/consentfeed"
	"github.com/secureai-nexus/nexus/authz/internal/policy"
)

func consentTarball(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range map[string]string{
		"/.manifest":                  `{"revision":"r1","roots":["nexus/consent","nexus/breakglass"]}`,
		"/nexus/consent/data.json":    `{"abc":{"research":[{"id":"c1","categories":["health"]}]}}`,
		"/nexus/breakglass/data.json": `{"callers":{},"subjects":{}}`,
	} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func consentOf(b *bundle.Bundle) any {
	nx, _ := b.Data["nexus"].(map[string]any)
	return nx["consent"]
}

// Over TLS with the caller's own client (as nexus-authz's mTLS client
// is passed), the feed merges the bundle's data, and drops it once the
// service has been silent past the bound.
func TestFeedOverTLSClientAndStaleness(t *testing.T) {
	tarball := consentTarball(t)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"r1"` {
			time.Sleep(time.Second)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.openpolicyagent.bundles")
		w.Header().Set("ETag", `"r1"`)
		_, _ = w.Write(tarball)
	}))
	defer srv.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "p.rego"), []byte("package p\nallow := true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data.json"), []byte(`{"nexus":{"grants":{}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	base, err := policy.NewSource(dir, ast.RegoV1, "")
	if err != nil {
		t.Fatal(err)
	}
	f, err := consentfeed.New(base, consentfeed.Options{URL: srv.URL + "/b.tar.gz", HTTPClient: srv.Client(), MaxStaleness: 2 * time.Second, LongPoll: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b, changed, err := f.Fetch(ctx)
	if err != nil || !changed || consentOf(b) != nil {
		t.Fatalf("before any download: changed %v, consent %v, %v", changed, consentOf(b), err)
	}
	f.Start(ctx)
	defer f.Stop(context.Background())
	wait := func(what string, ok func(*bundle.Bundle) bool) {
		t.Helper()
		deadline := time.After(6 * time.Second)
		for {
			select {
			case <-f.Changes():
				b, changed, err := f.Fetch(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if changed && ok(b) {
					return
				}
			case <-deadline:
				t.Fatalf("%s: not within 6s", what)
			}
		}
	}
	wait("consent merged", func(b *bundle.Bundle) bool { return consentOf(b) != nil })
	if !f.Serving() {
		t.Fatal("Serving is false while the data is served")
	}
	srv.Close()
	stopped := time.Now()
	wait("consent dropped", func(b *bundle.Bundle) bool { return consentOf(b) == nil })
	if time.Since(stopped) < 500*time.Millisecond || f.Serving() {
		t.Fatalf("dropped %s after the service stopped (serving %v)", time.Since(stopped), f.Serving())
	}
}

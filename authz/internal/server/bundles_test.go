package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/bundle"
)

func signedTarball(t *testing.T, revision, rule, secret string) []byte {
	t.Helper()
	src := "package envoy.authz\n\n" + rule + "\n"
	b := bundle.Bundle{
		Manifest: bundle.Manifest{Revision: revision, Roots: &[]string{"envoy"}},
		Data:     map[string]any{},
		Modules:  []bundle.ModuleFile{{URL: "/envoy/authz/policy.rego", Path: "/envoy/authz/policy.rego", Raw: []byte(src)}},
	}
	if secret != "" {
		if err := b.GenerateSignature(bundle.NewSigningConfig(secret, "HS256", ""), "hs", false); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := bundle.NewWriter(&buf).Write(b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestSignedBundleService: the config file's bundle is downloaded, its
// signature verified and served; a bundle signed with the wrong key is
// refused with a reason and the last good one keeps deciding; /health
// follows OPA's ?bundles and ?plugins semantics.
func TestSignedBundleService(t *testing.T) {
	var mu sync.Mutex
	var body []byte
	bs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if body == nil {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(body)
	}))
	defer bs.Close()
	s := startOPAConfig(t, `
services:
  acme:
    url: `+bs.URL+`
keys:
  hs:
    key: "0123456789abcdef0123456789abcdef"
    algorithm: HS256
bundles:
  authz:
    service: acme
    resource: bundles/authz.tar.gz
    polling:
      min_delay_seconds: 1
      max_delay_seconds: 1
    signing:
      keyid: hs
plugins:
  envoy_ext_authz_grpc:
    addr: 127.0.0.1:0
`, nil)
	req := modelCall("spiffe://nexus.local/a", nil, "")

	// Nothing downloaded yet: fail closed, not healthy.
	if resp := check(t, s, req); allowed(resp) {
		t.Fatal("allowed before any bundle was activated")
	}
	if code, _ := httpDo(t, "GET", s.http+"/health?bundles", ""); code != 500 {
		t.Errorf("health?bundles before activation = %d", code)
	}

	mu.Lock()
	body = signedTarball(t, "r1", "allow := true", "0123456789abcdef0123456789abcdef")
	mu.Unlock()
	waitFor(t, func() bool { return allowed(check(t, s, req)) }, "signed bundle r1 to serve")
	for _, q := range []string{"?bundles", "?plugins"} {
		if code, body := httpDo(t, "GET", s.http+"/health"+q, ""); code != 200 {
			t.Errorf("health%s after activation = %d %v", q, code, body)
		}
	}

	// Wrong key: refused, r1 keeps serving, the status says why.
	mu.Lock()
	body = signedTarball(t, "r2", "allow := false", "another secret entirely, not ours!")
	mu.Unlock()
	waitFor(t, func() bool {
		_, st := httpDo(t, "GET", s.http+"/v1/status/bundles", "")
		return strings.Contains(jsonString(st), "signature")
	}, "the refusal of the wrongly signed bundle")
	if !allowed(check(t, s, req)) {
		t.Fatal("the last good bundle stopped serving")
	}
	// Unsigned: refused too.
	mu.Lock()
	body = signedTarball(t, "r3", "allow := false", "")
	mu.Unlock()
	waitFor(t, func() bool {
		_, st := httpDo(t, "GET", s.http+"/v1/status/bundles", "")
		return strings.Contains(jsonString(st), "signatures.json")
	}, "the refusal of the unsigned bundle")
	if !allowed(check(t, s, req)) {
		t.Fatal("the last good bundle stopped serving")
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestStatusService: status reports reach the status service as OPA sends
// them, and follow the bundle's activation.
func TestStatusService(t *testing.T) {
	var mu sync.Mutex
	var reports []map[string]any
	bundleBody := signedTarball(t, "r7", "allow := true", "")
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/bundles/authz.tar.gz":
			_, _ = w.Write(bundleBody)
		case "/status":
			var rep map[string]any
			if err := json.NewDecoder(r.Body).Decode(&rep); err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			mu.Lock()
			reports = append(reports, rep)
			mu.Unlock()
		default:
			http.NotFound(w, r)
		}
	}))
	defer svc.Close()
	startOPAConfig(t, `
services:
  acme:
    url: `+svc.URL+`
bundles:
  authz:
    service: acme
    resource: bundles/authz.tar.gz
status:
  service: acme
labels:
  region: eu-west
plugins:
  envoy_ext_authz_grpc:
    addr: 127.0.0.1:0
`, nil)
	waitFor(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range reports {
			b, _ := r["bundles"].(map[string]any)["authz"].(map[string]any)
			p, _ := r["plugins"].(map[string]any)["bundle"].(map[string]any)
			if b["active_revision"] == "r7" && p["state"] == "OK" && r["labels"].(map[string]any)["region"] == "eu-west" {
				return true
			}
		}
		return false
	}, "a status report with bundle r7 active")
}

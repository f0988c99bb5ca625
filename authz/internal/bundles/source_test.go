package bundles_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/secureai-nexus/nexus/authz/internal/bundles"
	"github.com/secureai-nexus/nexus/authz/internal/opaconfig"
	"github.com/secureai-nexus/nexus/authz/internal/policy"
)

var _ policy.Source = (*bundles.Source)(nil)

const hsSecret = "correct horse battery staple"

// served is what the test bundle server answers for one path.
type served struct {
	body   []byte
	etag   string
	status int // 0: 200 with body
}

// bundleServer is an OPA bundle service on 127.0.0.1 that honours
// If-None-Match and records what it was asked.
type bundleServer struct {
	*httptest.Server
	mu       sync.Mutex
	files    map[string]served
	requests []*http.Request
	token    string
}

func newBundleServer(t testing.TB) *bundleServer {
	t.Helper()
	bs := &bundleServer{files: map[string]served{}}
	// httptest binds 127.0.0.1 on a free port.
	bs.Server = httptest.NewServer(http.HandlerFunc(bs.serve))
	t.Cleanup(bs.Close)
	return bs
}

func (bs *bundleServer) serve(w http.ResponseWriter, r *http.Request) {
	bs.mu.Lock()
	bs.requests = append(bs.requests, r.Clone(context.Background()))
	f, ok := bs.files[r.URL.Path]
	token := bs.token
	bs.mu.Unlock()
	if token != "" && r.Header.Get("Authorization") != "Bearer "+token {
		http.Error(w, "no", http.StatusUnauthorized)
		return
	}
	switch {
	case !ok:
		http.NotFound(w, r)
	case f.status != 0:
		http.Error(w, "broken", f.status)
	case f.etag != "" && r.Header.Get("If-None-Match") == f.etag:
		w.WriteHeader(http.StatusNotModified)
	default:
		if f.etag != "" {
			w.Header().Set("ETag", f.etag)
		}
		w.Header().Set("Content-Type", "application/gzip")
		_, _ = w.Write(f.body)
	}
}

func (bs *bundleServer) put(path string, f served) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	bs.files[path] = f
}

func (bs *bundleServer) seen() []*http.Request {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	return slices.Clone(bs.requests)
}

// policyBundle builds a bundle with one module under root.
func policyBundle(root, revision, rule string) *bundle.Bundle {
	pkg := strings.ReplaceAll(root, "/", ".")
	src := fmt.Sprintf("package %s\n\n%s\n", pkg, rule)
	file := "/" + root + "/policy.rego"
	return &bundle.Bundle{
		Manifest: bundle.Manifest{Revision: revision, Roots: &[]string{root}},
		Data:     map[string]any{},
		Modules:  []bundle.ModuleFile{{URL: file, Path: file, Raw: []byte(src)}},
	}
}

func signHS(t testing.TB, b *bundle.Bundle, secret, keyID string) {
	t.Helper()
	if err := b.GenerateSignature(bundle.NewSigningConfig(secret, "HS256", ""), keyID, false); err != nil {
		t.Fatal(err)
	}
}

func tarball(t *testing.T, b *bundle.Bundle) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := bundle.NewWriter(&buf).Write(*b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func esKeyPair(t *testing.T) (privPEM, pubPEM string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
}

// indent prefixes every line of a PEM block for a YAML block scalar.
func indent(s, by string) string {
	return by + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+by)
}

func newSource(t testing.TB, yaml string) *bundles.Source {
	t.Helper()
	cfg, err := opaconfig.Parse("test.yaml", []byte(yaml), opaconfig.Options{})
	if err != nil {
		t.Fatal(err)
	}
	src, err := bundles.New(cfg, bundles.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = src.Stop(context.Background()) })
	return src
}

func hsConfig(url string) string { return hsConfigKeyID(url, "hs") }

// hsConfigKeyID configures signing.keyid; "" lets the signature's kid
// pick the key.
func hsConfigKeyID(url, keyID string) string {
	return fmt.Sprintf(`
services:
  acme:
    url: %s
keys:
  hs:
    key: %q
    algorithm: HS256
bundles:
  authz:
    service: acme
    resource: bundles/authz.tar.gz
    trigger: manual
    signing:
      keyid: %q
`, url, hsSecret, keyID)
}

func mustFetch(t *testing.T, src *bundles.Source) *bundle.Bundle {
	t.Helper()
	b, changed, err := src.Fetch(context.Background())
	if err != nil || !changed || b == nil {
		t.Fatalf("Fetch = %v, %v, %v; want a new bundle", b != nil, changed, err)
	}
	return b
}

func mustUnchanged(t *testing.T, src *bundles.Source) {
	t.Helper()
	b, changed, err := src.Fetch(context.Background())
	if err != nil || changed || b != nil {
		t.Fatalf("Fetch = %v, %v, %v; want nothing new", b != nil, changed, err)
	}
}

func modulePaths(b *bundle.Bundle) []string {
	var ps []string
	for _, m := range b.Modules {
		ps = append(ps, m.Path)
	}
	slices.Sort(ps)
	return ps
}

func TestSignedBundleAcceptedHS256(t *testing.T) {
	bs := newBundleServer(t)
	b := policyBundle("authz", "r1", "default allow := false")
	signHS(t, b, hsSecret, "hs")
	bs.put("/bundles/authz.tar.gz", served{body: tarball(t, b), etag: `"e1"`})
	src := newSource(t, hsConfig(bs.URL))
	ctx := context.Background()

	mustUnchanged(t, src) // nothing downloaded before Trigger
	if err := src.Trigger(ctx); err != nil {
		t.Fatal(err)
	}
	got := mustFetch(t, src)
	if got.Manifest.Revision != "r1" {
		t.Errorf("revision = %q, want r1", got.Manifest.Revision)
	}
	if want := []string{"authz/authz/policy.rego"}; !slices.Equal(modulePaths(got), want) {
		t.Errorf("modules = %v, want %v", modulePaths(got), want)
	}
	st := src.Status()
	if len(st) != 1 || st[0].Name != "authz" || st[0].DownloadedRevision != "r1" || st[0].LastSuccessfulDownload.IsZero() || st[0].Code != "" || st[0].ActiveRevision != "" {
		t.Errorf("status = %+v", st)
	}
	if src.Activated() {
		t.Error("Activated before ReportActivation")
	}
	// The manager reports right after building what Fetch gave.
	src.ReportActivation(nil)
	if st := src.Status(); st[0].ActiveRevision != "r1" || st[0].LastSuccessfulActivation.IsZero() || !src.Activated() {
		t.Errorf("after activation: %+v", st)
	}
	mustUnchanged(t, src) // offered once
}

func TestSignedBundleAcceptedES256WithKid(t *testing.T) {
	priv, pub := esKeyPair(t)
	bs := newBundleServer(t)
	bs.token = "s3cret"
	b := policyBundle("authz", "r1", "default allow := true")
	// No signing.keyid in the config: the signature's kid picks the key.
	if err := b.GenerateSignature(bundle.NewSigningConfig(priv, "ES256", ""), "es", false); err != nil {
		t.Fatal(err)
	}
	bs.put("/bundles/authz", served{body: tarball(t, b)})
	src := newSource(t, fmt.Sprintf(`
services:
  - name: acme
    url: %s
    credentials:
      bearer:
        token: s3cret
keys:
  es:
    algorithm: ES256
    key: |
%s
bundles:
  authz:
    trigger: manual
    signing: {}
`, bs.URL, indent(pub, "      ")))
	if err := src.Trigger(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := mustFetch(t, src); got.Manifest.Revision != "r1" {
		t.Errorf("revision = %q", got.Manifest.Revision)
	}
	// Default resource is bundles/<name>, and the bearer token was sent.
	reqs := bs.seen()
	if len(reqs) != 1 || reqs[0].URL.Path != "/bundles/authz" || reqs[0].Header.Get("Authorization") != "Bearer s3cret" {
		t.Errorf("requests: %v", reqs)
	}
}

func TestETagNotModified(t *testing.T) {
	bs := newBundleServer(t)
	b := policyBundle("authz", "r1", "default allow := false")
	signHS(t, b, hsSecret, "hs")
	bs.put("/bundles/authz.tar.gz", served{body: tarball(t, b), etag: `"e1"`})
	src := newSource(t, hsConfig(bs.URL))
	ctx := context.Background()

	if err := src.Trigger(ctx); err != nil {
		t.Fatal(err)
	}
	mustFetch(t, src)
	first := src.Status()[0]

	if err := src.Trigger(ctx); err != nil {
		t.Fatal(err)
	}
	mustUnchanged(t, src)
	reqs := bs.seen()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	if inm := reqs[1].Header.Get("If-None-Match"); inm != `"e1"` {
		t.Errorf("second request If-None-Match = %q, want \"e1\"", inm)
	}
	st := src.Status()[0]
	if !st.LastSuccessfulDownload.Equal(first.LastSuccessfulDownload) {
		t.Error("a 304 changed last_successful_download")
	}
	if !st.LastSuccessfulRequest.After(first.LastSuccessfulRequest) && !st.LastSuccessfulRequest.Equal(first.LastSuccessfulRequest) {
		t.Error("last_successful_request went back")
	}
	if st.LastRequest.Before(first.LastRequest) {
		t.Error("last_request went back")
	}

	// A new ETag is a new bundle.
	b2 := policyBundle("authz", "r2", "default allow := true")
	signHS(t, b2, hsSecret, "hs")
	bs.put("/bundles/authz.tar.gz", served{body: tarball(t, b2), etag: `"e2"`})
	if err := src.Trigger(ctx); err != nil {
		t.Fatal(err)
	}
	if got := mustFetch(t, src); got.Manifest.Revision != "r2" {
		t.Errorf("revision = %q, want r2", got.Manifest.Revision)
	}
}

func TestRefusedBundles(t *testing.T) {
	cases := []struct {
		name   string
		keyID  string
		make   func(t *testing.T) *bundle.Bundle
		reason bundles.Reason
		msg    string
	}{
		{"unsigned", "hs", func(*testing.T) *bundle.Bundle {
			return policyBundle("authz", "bad", "default allow := true")
		}, bundles.ReasonUnsigned, "bundle missing .signatures.json file"},
		{"unknown key id", "", func(t *testing.T) *bundle.Bundle {
			b := policyBundle("authz", "bad", "default allow := true")
			signHS(t, b, hsSecret, "nobody")
			return b
		}, bundles.ReasonUnknownKey, "verification key corresponding to ID nobody not found"},
		{"wrong secret", "hs", func(t *testing.T) *bundle.Bundle {
			b := policyBundle("authz", "bad", "default allow := true")
			signHS(t, b, "another secret", "hs")
			return b
		}, bundles.ReasonBadSignature, "failed to verify JWT signature"},
		{"tampered module", "hs", func(t *testing.T) *bundle.Bundle {
			b := policyBundle("authz", "bad", "default allow := false")
			signHS(t, b, hsSecret, "hs")
			b.Modules[0].Raw = []byte("package authz\n\ndefault allow := true\n")
			return b
		}, bundles.ReasonDigestMismatch, "authz/policy.rego: digest mismatch"},
		{"unsigned extra file", "hs", func(t *testing.T) *bundle.Bundle {
			b := policyBundle("authz", "bad", "default allow := false")
			signHS(t, b, hsSecret, "hs")
			b.Modules = append(b.Modules, bundle.ModuleFile{URL: "/authz/extra.rego", Path: "/authz/extra.rego", Raw: []byte("package authz\n\nallow if true\n")})
			return b
		}, bundles.ReasonUnsignedFile, "file authz/extra.rego not included in bundle signature"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bs := newBundleServer(t)
			good := policyBundle("authz", "good", "default allow := false")
			signHS(t, good, hsSecret, "hs")
			bs.put("/bundles/authz.tar.gz", served{body: tarball(t, good), etag: `"good"`})
			src := newSource(t, hsConfigKeyID(bs.URL, tc.keyID))
			ctx := context.Background()
			if err := src.Trigger(ctx); err != nil {
				t.Fatal(err)
			}
			last := mustFetch(t, src)
			src.ReportActivation(nil)

			bs.put("/bundles/authz.tar.gz", served{body: tarball(t, tc.make(t)), etag: `"bad"`})
			err := src.Trigger(ctx)
			var de *bundles.DownloadError
			if !errors.As(err, &de) {
				t.Fatalf("Trigger = %v, want a *DownloadError", err)
			}
			if de.Bundle != "authz" || de.Reason != tc.reason || !strings.Contains(de.Error(), tc.msg) {
				t.Errorf("error = %q (reason %q), want reason %q and %q", de, de.Reason, tc.reason, tc.msg)
			}
			if !strings.HasPrefix(de.Error(), `bundle "authz" refused: `+string(tc.reason)) {
				t.Errorf("error %q does not start by naming the bundle and reason", de)
			}

			// Fetch reports the refusal once, then has nothing new: the
			// policy manager keeps serving what it last got.
			b, changed, ferr := src.Fetch(ctx)
			if b != nil || changed || !errors.As(ferr, &de) || de.Reason != tc.reason {
				t.Fatalf("Fetch after refusal = %v, %v, %v", b != nil, changed, ferr)
			}
			mustUnchanged(t, src)
			st := src.Status()[0]
			if st.Code != "bundle_error" || !strings.Contains(st.Message, string(tc.reason)) || st.ActiveRevision != "good" || st.DownloadedRevision != "good" {
				t.Errorf("status = %+v", st)
			}
			if last.Manifest.Revision != "good" {
				t.Errorf("last fetched revision = %q", last.Manifest.Revision)
			}

			// The refused bundle's ETag is not remembered: the next poll
			// asks afresh, and a fixed bundle is taken.
			fixed := policyBundle("authz", "fixed", "default allow := false")
			signHS(t, fixed, hsSecret, "hs")
			bs.put("/bundles/authz.tar.gz", served{body: tarball(t, fixed), etag: `"bad"`})
			if err := src.Trigger(ctx); err != nil {
				t.Fatal(err)
			}
			if got := mustFetch(t, src); got.Manifest.Revision != "fixed" {
				t.Errorf("revision = %q, want fixed", got.Manifest.Revision)
			}
			if st := src.Status()[0]; st.Code != "" || st.Message != "" {
				t.Errorf("error not cleared: %+v", st)
			}
		})
	}
}

// TestManagerKeepsLastGoodSet runs the real policy manager over the
// source: a refused bundle leaves the previous set serving.
func TestManagerKeepsLastGoodSet(t *testing.T) {
	bs := newBundleServer(t)
	good := policyBundle("authz", "good", "default allow := false")
	signHS(t, good, hsSecret, "hs")
	bs.put("/bundles/authz.tar.gz", served{body: tarball(t, good), etag: `"1"`})
	src := newSource(t, hsConfig(bs.URL))
	ctx := context.Background()
	m := policy.NewManager(src, policy.Options{Query: "data.authz.allow"}, slog.New(slog.DiscardHandler))
	m.OnLoad = func(ok bool, _ string, _ error) {
		if ok {
			src.ReportActivation(nil)
		} else {
			src.ReportActivation(errors.New("refused"))
		}
	}

	if err := src.Trigger(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if cur := m.Current(); cur == nil || cur.Revision != "good" {
		t.Fatalf("current = %+v", cur)
	}

	bad := policyBundle("authz", "evil", "default allow := true")
	bs.put("/bundles/authz.tar.gz", served{body: tarball(t, bad), etag: `"2"`})
	_ = src.Trigger(ctx)
	if err := m.Reload(ctx); err == nil || !strings.Contains(err.Error(), string(bundles.ReasonUnsigned)) {
		t.Fatalf("Reload = %v, want the refusal", err)
	}
	if cur := m.Current(); cur == nil || cur.Revision != "good" {
		t.Fatalf("after refusal current = %+v, want the good set", cur)
	}
	if st := m.Status(); !strings.Contains(st.LastError, `bundle "authz" refused`) {
		t.Errorf("manager last error = %q", st.LastError)
	}
	if err := m.Reload(ctx); err != nil {
		t.Errorf("second Reload = %v, want quiet", err)
	}
	if st := src.Status()[0]; st.ActiveRevision != "good" {
		t.Errorf("active revision = %q", st.ActiveRevision)
	}
}

func twoBundleConfig(url string) string {
	return fmt.Sprintf(`
services:
  acme:
    url: %s
bundles:
  authz:
    resource: authz.tar.gz
    trigger: manual
  users:
    resource: users.tar.gz
    trigger: manual
`, url)
}

func TestTwoBundlesMerged(t *testing.T) {
	bs := newBundleServer(t)
	a := policyBundle("authz", "a1", "default allow := false")
	u := &bundle.Bundle{
		Manifest: bundle.Manifest{Revision: "u1", Roots: &[]string{"users"}},
		Data:     map[string]any{"users": map[string]any{"people": map[string]any{"alice": map[string]any{"admin": true}}}},
		Modules: []bundle.ModuleFile{{URL: "/users/rules/policy.rego", Path: "/users/rules/policy.rego",
			Raw: []byte("package users.rules\n\nadmins contains n if data.users.people[n].admin\n")}},
	}
	bs.put("/authz.tar.gz", served{body: tarball(t, a)})
	bs.put("/users.tar.gz", served{status: http.StatusInternalServerError})
	src := newSource(t, twoBundleConfig(bs.URL))
	ctx := context.Background()

	// Until every bundle has arrived once, no set is offered.
	err := src.Trigger(ctx)
	var de *bundles.DownloadError
	if !errors.As(err, &de) || de.Bundle != "users" || de.Reason != bundles.ReasonHTTP || de.HTTPCode != 500 {
		t.Fatalf("Trigger = %v", err)
	}
	b, changed, err := src.Fetch(ctx)
	if b != nil || changed || !errors.As(err, &de) || de.Bundle != "users" {
		t.Fatalf("Fetch with users missing = %v, %v, %v", b != nil, changed, err)
	}
	mustUnchanged(t, src)
	for _, st := range src.Status() {
		if st.Name == "users" && (st.HTTPCode != "500" || st.Code != "bundle_error") {
			t.Errorf("users status = %+v", st)
		}
	}

	bs.put("/users.tar.gz", served{body: tarball(t, u)})
	if err := src.Trigger(ctx); err != nil {
		t.Fatal(err)
	}
	got := mustFetch(t, src)
	if want := []string{"authz/authz/policy.rego", "users/users/rules/policy.rego"}; !slices.Equal(modulePaths(got), want) {
		t.Errorf("modules = %v, want %v", modulePaths(got), want)
	}
	if got.Manifest.Revision != "authz=a1,users=u1" {
		t.Errorf("revision = %q", got.Manifest.Revision)
	}
	if r := *got.Manifest.Roots; !slices.Equal(r, []string{"authz", "users"}) {
		t.Errorf("roots = %v", r)
	}
	if _, ok := got.Data["users"].(map[string]any)["people"].(map[string]any)["alice"]; !ok {
		t.Errorf("data = %v", got.Data)
	}

	// The merged set compiles and evaluates with both bundles' content.
	set, err := policy.Build(ctx, got, policy.Options{Query: "data.users.rules.admins"})
	if err != nil {
		t.Fatal(err)
	}
	if set.Revision != "authz=a1,users=u1" {
		t.Errorf("set revision = %q", set.Revision)
	}
	out, ok, err := set.Eval(ctx, ast.NewObject())
	if err != nil || !ok || fmt.Sprint(out) != "[alice]" {
		t.Errorf("admins = %v, %v, %v; want [alice]", out, ok, err)
	}
	allow, ok, err := set.Data(ctx, ast.MustParseRef("data.authz.allow"), nil)
	if err != nil || !ok || allow != false {
		t.Errorf("authz.allow = %v, %v, %v; want false", allow, ok, err)
	}
}

func TestRootsOverlapRefused(t *testing.T) {
	bs := newBundleServer(t)
	bs.put("/authz.tar.gz", served{body: tarball(t, policyBundle("authz", "a1", "default allow := false"))})
	bs.put("/users.tar.gz", served{body: tarball(t, policyBundle("authz/users", "u1", "default x := 1"))})
	src := newSource(t, twoBundleConfig(bs.URL))
	ctx := context.Background()
	if err := src.Trigger(ctx); err != nil {
		t.Fatal(err)
	}
	b, changed, err := src.Fetch(ctx)
	var oe *bundles.RootsOverlapError
	if b != nil || changed || !errors.As(err, &oe) {
		t.Fatalf("Fetch = %v, %v, %v; want a roots overlap", b != nil, changed, err)
	}
	if oe.Bundles != [2]string{"authz", "users"} || !strings.Contains(err.Error(), `bundles "authz" and "users" have overlapping roots "authz" and "authz/users"`) {
		t.Errorf("error = %v", err)
	}
	mustUnchanged(t, src)
}

func TestLongPollingPreference(t *testing.T) {
	bs := newBundleServer(t)
	bs.put("/authz.tar.gz", served{body: tarball(t, policyBundle("authz", "a1", "default allow := false"))})
	src := newSource(t, fmt.Sprintf(`
services:
  acme:
    url: %s
bundles:
  authz:
    resource: /authz.tar.gz
    trigger: manual
    polling:
      long_polling_timeout_seconds: 7
`, bs.URL))
	if err := src.Trigger(context.Background()); err != nil {
		t.Fatal(err)
	}
	reqs := bs.seen()
	if len(reqs) != 1 || !strings.Contains(reqs[0].Header.Get("Prefer"), "wait=7") {
		t.Fatalf("requests = %v", reqs)
	}
}

func TestPeriodicPollingInBackground(t *testing.T) {
	bs := newBundleServer(t)
	bs.put("/authz.tar.gz", served{body: tarball(t, policyBundle("authz", "a1", "default allow := false")), etag: `"1"`})
	src := newSource(t, fmt.Sprintf(`
services:
  acme:
    url: %s
bundles:
  authz:
    resource: authz.tar.gz
    polling:
      min_delay_seconds: 0
      max_delay_seconds: 1
`, bs.URL))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src.Start(ctx)

	// Poll Fetch as the manager would, woken by Changes.
	deadline := time.After(20 * time.Second)
	for {
		b, changed, err := src.Fetch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if changed {
			if b.Manifest.Revision != "a1" {
				t.Fatalf("revision %q", b.Manifest.Revision)
			}
			break
		}
		select {
		case <-src.Changes():
		case <-deadline:
			t.Fatal("no bundle within the deadline")
		}
	}
	// With zero delays the downloader keeps asking; the server answers 304.
	for {
		if n := len(bs.seen()); n >= 3 {
			break
		}
		select {
		case <-src.Changes():
		case <-deadline:
			t.Fatal("no repeated polls within the deadline")
		}
	}
	mustUnchanged(t, src)
	stopCtx, stopCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer stopCancel()
	if err := src.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	n := len(bs.seen())
	// After Stop returns, no downloader is left to ask.
	if err := src.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	if m := len(bs.seen()); m != n {
		t.Errorf("requests after Stop: %d -> %d", n, m)
	}
}

func TestNewWithoutBundles(t *testing.T) {
	cfg, err := opaconfig.Parse("x.yaml", []byte("services: {a: {url: 'http://127.0.0.1:1'}}"), opaconfig.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bundles.New(cfg, bundles.Options{}); err == nil {
		t.Fatal("New with no bundles succeeded")
	}
}

func TestDeltaBundleRefused(t *testing.T) {
	bs := newBundleServer(t)
	good := policyBundle("authz", "a1", "default allow := false")
	bs.put("/authz.tar.gz", served{body: tarball(t, good), etag: `"1"`})
	src := newSource(t, fmt.Sprintf("services: {acme: {url: %q}}\nbundles: {authz: {resource: authz.tar.gz, trigger: manual}}\n", bs.URL))
	ctx := context.Background()
	if err := src.Trigger(ctx); err != nil {
		t.Fatal(err)
	}
	mustFetch(t, src)

	delta := &bundle.Bundle{
		Manifest: bundle.Manifest{Revision: "d1", Roots: &[]string{"authz"}},
		Patch:    bundle.Patch{Data: []bundle.PatchOperation{{Op: "upsert", Path: "/authz/x", Value: 1}}},
	}
	bs.put("/authz.tar.gz", served{body: tarball(t, delta), etag: `"2"`})
	err := src.Trigger(ctx)
	var de *bundles.DownloadError
	if !errors.As(err, &de) || de.Reason != bundles.ReasonDelta {
		t.Fatalf("Trigger = %v, want a delta refusal", err)
	}
	if _, changed, _ := src.Fetch(ctx); changed {
		t.Fatal("a delta bundle was offered")
	}
	// The delta's ETag was dropped, so a snapshot under the same ETag is
	// downloaded rather than answered 304. (OPA's rest client keeps
	// sending the previous If-None-Match, that of the bundle still held.)
	bs.put("/authz.tar.gz", served{body: tarball(t, good), etag: `"2"`})
	if err := src.Trigger(ctx); err != nil {
		t.Fatal(err)
	}
	reqs := bs.seen()
	if inm := reqs[len(reqs)-1].Header.Get("If-None-Match"); inm == `"2"` {
		t.Errorf("If-None-Match after a delta = %q, the delta's ETag", inm)
	}
	mustFetch(t, src)
}

func TestStringRedactsCredentials(t *testing.T) {
	src := newSource(t, "services: {acme: {url: 'https://user:hunter2@bundles.example/v1/'}}\nbundles: {authz: {trigger: manual}}\n")
	if got, want := src.String(), "bundles authz=https://bundles.example/v1/bundles/authz"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestResolvedErrorNotReported(t *testing.T) {
	bs := newBundleServer(t)
	good := policyBundle("authz", "a1", "default allow := false")
	bs.put("/authz.tar.gz", served{body: tarball(t, good), etag: `"1"`})
	src := newSource(t, fmt.Sprintf("services: {acme: {url: %q}}\nbundles: {authz: {resource: authz.tar.gz, trigger: manual}}\n", bs.URL))
	ctx := context.Background()
	if err := src.Trigger(ctx); err != nil {
		t.Fatal(err)
	}
	mustFetch(t, src)

	bs.put("/authz.tar.gz", served{status: http.StatusBadGateway})
	if err := src.Trigger(ctx); err == nil {
		t.Fatal("Trigger against a 502 succeeded")
	}
	if st := src.Status()[0]; st.HTTPCode != "502" || !strings.Contains(st.Message, `bundle "authz": download failed: server replied with Bad Gateway`) {
		t.Errorf("status = %+v", st)
	}
	// The service recovers before the manager's next Fetch: nothing to
	// report, and the status is clean again.
	bs.put("/authz.tar.gz", served{body: tarball(t, good), etag: `"1"`})
	if err := src.Trigger(ctx); err != nil {
		t.Fatal(err)
	}
	b, changed, err := src.Fetch(ctx)
	if err != nil {
		t.Fatalf("Fetch = %v, want no stale error", err)
	}
	if changed && b.Manifest.Revision != "a1" {
		t.Fatalf("revision %q", b.Manifest.Revision)
	}
	if st := src.Status()[0]; st.HTTPCode != "" || st.Code != "" {
		t.Errorf("status = %+v", st)
	}
}

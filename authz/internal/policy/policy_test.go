package policy_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/secureai-nexus/nexus/authz/internal/policy"
)

const allowPolicy = `package envoy.authz

import rego.v1

default allow := false

allow if input.nexus.caller.spiffe_id in data.callers
`

const allowTest = `package envoy.authz_test

import rego.v1

import data.envoy.authz

test_known_caller if authz.allow with input as {"nexus": {"caller": {"spiffe_id": "spiffe://t/a"}}}

test_unknown_caller if not authz.allow with input as {"nexus": {"caller": {"spiffe_id": "spiffe://t/b"}}}
`

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func manager(t *testing.T, spec string) *policy.Manager {
	t.Helper()
	src, err := policy.NewSource(spec, ast.RegoV1, "")
	if err != nil {
		t.Fatal(err)
	}
	return policy.NewManager(src, policy.Options{Query: "envoy/authz/allow", RegoVersion: ast.RegoV1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func decide(t *testing.T, m *policy.Manager, caller string) any {
	t.Helper()
	in, err := ast.InterfaceToValue(map[string]any{"nexus": map[string]any{"caller": map[string]any{"spiffe_id": caller}}})
	if err != nil {
		t.Fatal(err)
	}
	set := m.Current()
	if set == nil {
		t.Fatal("no set serving")
	}
	v, _, err := set.Eval(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDirectoryLifecycle(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{"authz.rego": allowPolicy, "authz_test.rego": allowTest, "data.json": `{"callers": ["spiffe://t/a"]}`})
	m := manager(t, dir)
	ctx := context.Background()
	if err := m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	st := m.Status()
	if !st.Ready || st.Tests != 2 || !strings.HasPrefix(st.Revision, "sha256:") {
		t.Fatalf("status = %+v", st)
	}
	if decide(t, m, "spiffe://t/a") != true || decide(t, m, "spiffe://t/b") != false {
		t.Fatal("wrong decisions from the first set")
	}
	good := st.Revision

	// A syntax error is refused with file and line; the good set serves on.
	write(t, dir, map[string]string{"broken.rego": "package envoy.authz\n\nallow if {\n"})
	err := m.Reload(ctx)
	if err == nil || !strings.Contains(err.Error(), "broken.rego:") {
		t.Fatalf("syntax error: %v", err)
	}
	st = m.Status()
	if st.Revision != good || !strings.Contains(st.LastError, "broken.rego") || !st.Ready {
		t.Fatalf("after a broken set: %+v", st)
	}
	if decide(t, m, "spiffe://t/a") != true {
		t.Fatal("the last good set stopped serving")
	}
	os.Remove(filepath.Join(dir, "broken.rego"))

	// A compile error (unknown function) names file and line too.
	write(t, dir, map[string]string{"authz.rego": allowPolicy + "\nx := nosuchfunc(1)\n"})
	if err := m.Reload(ctx); err == nil || !strings.Contains(err.Error(), "authz.rego:9") {
		t.Fatalf("compile error: %v", err)
	}

	// A set whose own tests fail is refused, naming the test.
	write(t, dir, map[string]string{"authz.rego": allowPolicy, "data.json": `{"callers": ["spiffe://t/b"]}`})
	err = m.Reload(ctx)
	var tf *policy.TestsFailedError
	if !errors.As(err, &tf) || len(tf.Failures) != 2 || !strings.Contains(err.Error(), "envoy.authz_test.test_known_caller") {
		t.Fatalf("failing tests: %v", err)
	}
	if decide(t, m, "spiffe://t/a") != true {
		t.Fatal("a set with failing tests replaced the good one")
	}

	// A fixed set replaces it.
	write(t, dir, map[string]string{"data.json": `{"callers": ["spiffe://t/a", "spiffe://t/c"]}`})
	if err := m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if m.Status().Revision == good || decide(t, m, "spiffe://t/c") != true {
		t.Fatal("the fixed set is not serving")
	}
	// Nothing changed: no reload.
	before := m.Status().LastSuccess
	if err := m.Reload(ctx); err != nil || m.Status().LastSuccess != before {
		t.Fatal("an unchanged directory was reloaded")
	}
}

func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: "/" + name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func TestBundleFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bundle.tar.gz")
	if err := os.WriteFile(p, tarGz(t, map[string]string{
		".manifest":               `{"revision": "2026-11-22.1", "roots": ["envoy", "callers"]}`,
		"envoy/authz/policy.rego": allowPolicy,
		"data.json":               `{"callers": ["spiffe://t/a"]}`,
	}), 0o644); err != nil {
		t.Fatal(err)
	}
	m := manager(t, p)
	if err := m.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m.Status().Revision != "2026-11-22.1" || decide(t, m, "spiffe://t/a") != true {
		t.Fatalf("bundle: %+v", m.Status())
	}
	// Data outside the manifest's roots is refused.
	if err := os.WriteFile(p, tarGz(t, map[string]string{
		".manifest":               `{"revision": "2", "roots": ["envoy"]}`,
		"envoy/authz/policy.rego": allowPolicy,
		"data.json":               `{"callers": ["spiffe://t/a"]}`,
	}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := m.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), "root") {
		t.Fatalf("data outside roots: %v", err)
	}
	if m.Status().Revision != "2026-11-22.1" {
		t.Fatal("refused bundle replaced the serving one")
	}
}

// TestBundleService pulls bundles over OPA's bundle service API with ETags.
func TestBundleService(t *testing.T) {
	var rev atomic.Int64
	rev.Store(1)
	var gets, notModified atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gets.Add(1)
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		etag := `"` + string(rune('0'+rev.Load())) + `"`
		if r.Header.Get("If-None-Match") == etag {
			notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		callers := `["spiffe://t/a"]`
		if rev.Load() == 2 {
			callers = `["spiffe://t/b"]`
		}
		_, _ = w.Write(tarGz(t, map[string]string{
			".manifest":               `{"revision": "r` + string(rune('0'+rev.Load())) + `"}`,
			"envoy/authz/policy.rego": allowPolicy,
			"data.json":               `{"callers": ` + callers + `}`,
		}))
	}))
	defer srv.Close()
	src, err := policy.NewSource(srv.URL+"/bundles/nexus.tar.gz", ast.RegoV1, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	m := policy.NewManager(src, policy.Options{Query: "data.envoy.authz.allow", RegoVersion: ast.RegoV1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()
	if err := m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if m.Status().Revision != "r1" || decide(t, m, "spiffe://t/a") != true {
		t.Fatalf("first pull: %+v", m.Status())
	}
	if err := m.Reload(ctx); err != nil || notModified.Load() != 1 {
		t.Fatalf("second pull should be a 304: %v, %d", err, notModified.Load())
	}
	rev.Store(2)
	if err := m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if m.Status().Revision != "r2" || decide(t, m, "spiffe://t/a") != false || decide(t, m, "spiffe://t/b") != true {
		t.Fatalf("after update: %+v", m.Status())
	}
}

func TestNormalizeQuery(t *testing.T) {
	for in, want := range map[string]string{
		"envoy/authz/allow":      "data.envoy.authz.allow",
		"/envoy/authz/allow":     "data.envoy.authz.allow",
		"data.envoy.authz.allow": "data.envoy.authz.allow",
		"data.nexus.decision":    "data.nexus.decision",
	} {
		got, err := policy.NormalizeQuery(in)
		if err != nil || got != want {
			t.Errorf("%q → %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "data.a[", "not a ref!"} {
		if _, err := policy.NormalizeQuery(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestReadyAfterRestore: putting back the serving content after a broken
// edit clears /readyz's last_error, whether the edit failed to parse or
// failed to compile, and whether it was a directory or a bundle file.
func TestReadyAfterRestore(t *testing.T) {
	ctx := context.Background()
	for _, broken := range []string{"package envoy.authz\n\nallow if {\n", "package envoy.authz\n\nx := nosuchfunc(1)\n"} {
		dir := t.TempDir()
		write(t, dir, map[string]string{"authz.rego": allowPolicy, "data.json": `{"callers": ["spiffe://t/a"]}`})
		m := manager(t, dir)
		if err := m.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		good := m.Status().Revision
		write(t, dir, map[string]string{"authz.rego": broken})
		if err := m.Reload(ctx); err == nil {
			t.Fatal("broken set accepted")
		}
		// Polling the same broken content keeps the error.
		if err := m.Reload(ctx); err != nil && m.Status().LastError == "" {
			t.Fatal("error lost")
		}
		if m.Status().LastError == "" {
			t.Fatal("last_error cleared while the broken file is in place")
		}
		write(t, dir, map[string]string{"authz.rego": allowPolicy})
		if err := m.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if st := m.Status(); st.LastError != "" || st.Revision != good || !st.Ready {
			t.Errorf("after restoring: %+v", st)
		}
	}
}

func TestMultiSource(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	write(t, a, map[string]string{"authz.rego": allowPolicy, "data.json": `{"callers": ["spiffe://t/a"]}`})
	write(t, b, map[string]string{"extra/x.rego": "package extra\n\nlimit := data.extra.max\n", "extra/data.json": `{"max": 3}`})
	src, err := policy.NewMultiSource([]string{a, b}, ast.RegoV1)
	if err != nil {
		t.Fatal(err)
	}
	m := policy.NewManager(src, policy.Options{Query: "envoy/authz/allow", RegoVersion: ast.RegoV1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()
	if err := m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if decide(t, m, "spiffe://t/a") != true {
		t.Fatal("policy of the first path not serving")
	}
	out, ok, err := m.Current().Data(ctx, ast.MustParseRef("data.extra.limit"), nil)
	if err != nil || !ok || out == nil {
		t.Fatalf("data of the second path: %v %v %v", out, ok, err)
	}
	// The same key from two paths is a conflict, and the good set serves on.
	write(t, b, map[string]string{"data.json": `{"callers": ["spiffe://t/b"]}`})
	if err := m.Reload(ctx); err == nil || !strings.Contains(err.Error(), "data /callers is written by two paths") {
		t.Fatalf("conflict: %v", err)
	}
	if decide(t, m, "spiffe://t/a") != true {
		t.Fatal("last good set lost")
	}
}

// TestMultiSourceBrokenPath: a path that does not load keeps the whole set
// from serving — a deny list that fails to parse never silently drops out
// — and objects of data shared by two paths merge again on every edit.
func TestMultiSourceBrokenPath(t *testing.T) {
	deny, allow := t.TempDir(), t.TempDir()
	write(t, deny, map[string]string{"deny.rego": "package denylist\n\ndeny if {\n"}) // broken
	write(t, allow, map[string]string{"authz.rego": "package envoy.authz\n\nimport rego.v1\n\ndefault allow := false\n\nallow if not data.denylist.deny\n"})
	src, err := policy.NewMultiSource([]string{deny, allow}, ast.RegoV1)
	if err != nil {
		t.Fatal(err)
	}
	m := policy.NewManager(src, policy.Options{Query: "envoy/authz/allow", RegoVersion: ast.RegoV1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()
	for range 3 {
		if err := m.Reload(ctx); err == nil {
			t.Fatal("a set without its broken deny list was accepted")
		}
	}
	if m.Current() != nil || m.Status().LastError == "" {
		t.Fatalf("serving without a path: %+v", m.Status())
	}
	write(t, deny, map[string]string{"deny.rego": "package denylist\n\nimport rego.v1\n\ndeny := true\n"})
	if err := m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if decide(t, m, "spiffe://t/a") != false || m.Status().LastError != "" {
		t.Fatalf("deny list not applied: %+v", m.Status())
	}

	// Data objects shared by two paths: every edit merges afresh.
	a, b := t.TempDir(), t.TempDir()
	write(t, a, map[string]string{"authz.rego": "package envoy.authz\n\nimport rego.v1\n\ndefault allow := false\n\nallow if not data.lists.blocked[input.nexus.caller.spiffe_id]\n", "data.json": `{"lists": {"owner": "sec"}}`})
	write(t, b, map[string]string{"lists/data.json": `{"blocked": {"spiffe://t/m": true}}`})
	src, err = policy.NewMultiSource([]string{a, b}, ast.RegoV1)
	if err != nil {
		t.Fatal(err)
	}
	m = policy.NewManager(src, policy.Options{Query: "envoy/authz/allow", RegoVersion: ast.RegoV1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if decide(t, m, "spiffe://t/m") != false || decide(t, m, "spiffe://t/e") != true {
		t.Fatal("first merge")
	}
	write(t, b, map[string]string{"lists/data.json": `{"blocked": {"spiffe://t/m": true, "spiffe://t/e": true}}`})
	if err := m.Reload(ctx); err != nil {
		t.Fatalf("second edit of shared data refused: %v", err)
	}
	if decide(t, m, "spiffe://t/e") != false {
		t.Fatal("the edited deny list is not serving")
	}
}

// TestLoaderSource: paths as `opa run` reads them without --bundle: a
// single .rego file, data files of any name (nested by directory), a
// Kubernetes ConfigMap mount skipped with --ignore '.*'.
func TestLoaderSource(t *testing.T) {
	dir := t.TempDir()
	// A ConfigMap mount: the files are links into ..data, itself a link
	// to a timestamped directory.
	cm := filepath.Join(dir, "policy")
	write(t, cm, map[string]string{"..2026_12_01/policy.rego": "package envoy.authz\n\nimport rego.v1\n\ndefault allow := false\n\nallow if not data.blocked[input.user]\n"})
	if err := os.Symlink("..2026_12_01", filepath.Join(cm, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..data/policy.rego", filepath.Join(cm, "policy.rego")); err != nil {
		t.Fatal(err)
	}
	users := filepath.Join(dir, "users")
	write(t, users, map[string]string{"users.json": `{"blocked": {"mallory": true}}`})

	if _, err := policy.NewLoaderSource([]string{filepath.Join(cm, "policy.rego"), users}, []string{"["}, ast.RegoV1); err == nil {
		t.Error("a malformed --ignore pattern was accepted")
	}
	for _, paths := range [][]string{{filepath.Join(cm, "policy.rego"), users}, {cm, users}} {
		src, err := policy.NewLoaderSource(paths, []string{".*"}, ast.RegoV1)
		if err != nil {
			t.Fatal(err)
		}
		m := policy.NewManager(src, policy.Options{Query: "envoy/authz/allow", RegoVersion: ast.RegoV1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		ctx := context.Background()
		if err := m.Reload(ctx); err != nil {
			t.Fatalf("%v: %v", paths, err)
		}
		for user, want := range map[string]bool{"mallory": false, "alice": true} {
			in, _ := ast.InterfaceToValue(map[string]any{"user": user})
			out, _, err := m.Current().Eval(ctx, in)
			if err != nil || out != want {
				t.Errorf("%v: %s → %v %v, want %v", paths, user, out, err, want)
			}
		}
		// Unchanged: no reload; a change to the data file: reload.
		before := m.Status().LastSuccess
		if err := m.Reload(ctx); err != nil || m.Status().LastSuccess != before {
			t.Fatal("unchanged paths reloaded")
		}
		write(t, users, map[string]string{"users.json": `{"blocked": {"mallory": true, "alice": true}}`})
		if err := m.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		in, _ := ast.InterfaceToValue(map[string]any{"user": "alice"})
		if out, _, _ := m.Current().Eval(ctx, in); out != false {
			t.Errorf("%v: data change not loaded", paths)
		}
		write(t, users, map[string]string{"users.json": `{"blocked": {"mallory": true}}`})
	}
}

// A refused set is logged once per distinct error, not on every reload of
// a source that stays broken; a new error is logged again.
func TestRefusalLoggedOncePerError(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{"authz.rego": allowPolicy, "authz_test.rego": allowTest, "data.json": `{"callers": ["spiffe://t/a"]}`})
	src, err := policy.NewSource(dir, ast.RegoV1, "")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	m := policy.NewManager(src, policy.Options{Query: "envoy/authz/allow", RegoVersion: ast.RegoV1}, slog.New(slog.NewTextHandler(&logs, nil)))
	ctx := context.Background()
	if err := m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	refusals := func() int { return strings.Count(logs.String(), "policy set refused") }

	write(t, dir, map[string]string{"broken.rego": "package envoy.authz\n\nallow if {\n"})
	for range 5 {
		if err := m.Reload(ctx); err == nil {
			t.Fatal("a broken set was accepted")
		}
	}
	if n := refusals(); n != 1 {
		t.Fatalf("%d refusal lines for one error over five reloads:\n%s", n, logs.String())
	}
	write(t, dir, map[string]string{"broken.rego": "package envoy.authz\n\nx := nosuchfunc(1)\n"})
	for range 3 {
		_ = m.Reload(ctx)
	}
	if n := refusals(); n != 2 {
		t.Fatalf("%d refusal lines after a second, different error, want 2:\n%s", n, logs.String())
	}
	if decide(t, m, "spiffe://t/a") != true {
		t.Fatal("the last good set stopped serving")
	}
}

package server_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/secureai-nexus/nexus/authz/internal/input"
	"github.com/secureai-nexus/nexus/authz/internal/server"
)

// consentService is a bundle service as the control plane runs it: a
// tar.gz with data under nexus/consent and nexus/breakglass, ETags, and
// long polls held until the revision changes.
type consentService struct {
	t       *testing.T
	token   string
	mu      sync.Mutex
	rev     int
	bg      map[string]any
	tarball []byte
	changed chan struct{}
	srv     *http.Server
	addr    string
}

func newConsentService(t *testing.T, token string, consent map[string]any) *consentService {
	c := &consentService{t: t, token: token, changed: make(chan struct{}), bg: map[string]any{"callers": map[string]any{}, "subjects": map[string]any{}}}
	c.set(consent)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.addr = lis.Addr().String()
	c.srv = &http.Server{Handler: c}
	go func() { _ = c.srv.Serve(lis) }()
	t.Cleanup(func() { c.srv.Close() })
	return c
}

func (c *consentService) url() string {
	return "http://" + c.addr + "/api/v1/bundles/nexus-consent.tar.gz"
}

func (c *consentService) set(consent map[string]any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rev++
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	files := map[string]any{
		"/.manifest":                  map[string]any{"revision": strconv.Itoa(c.rev), "roots": []string{"nexus/consent", "nexus/breakglass"}},
		"/nexus/consent/data.json":    consent,
		"/nexus/breakglass/data.json": c.bg,
	}
	for name, v := range files {
		b, _ := json.Marshal(v)
		_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		_, _ = tw.Write(b)
	}
	tw.Close()
	gz.Close()
	c.tarball = buf.Bytes()
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *consentService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+c.token {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	c.mu.Lock()
	etag, changed := strconv.Quote(strconv.Itoa(c.rev)), c.changed
	c.mu.Unlock()
	if r.Header.Get("If-None-Match") == etag {
		if strings.Contains(r.Header.Get("Prefer"), "wait=") {
			select {
			case <-changed:
			case <-time.After(time.Second):
			case <-r.Context().Done():
				return
			}
		}
		c.mu.Lock()
		etag = strconv.Quote(strconv.Itoa(c.rev))
		c.mu.Unlock()
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	c.mu.Lock()
	body := c.tarball
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/vnd.openpolicyagent.bundles")
	w.Header().Set("ETag", etag)
	_, _ = w.Write(body)
}

// researchCall is a model call for purpose research on behalf of sub.
func researchCall(sub string) *authv3.CheckRequest {
	req := modelCall("spiffe://nexus.local/ns/clinic/sa/frontdesk", map[string]float64{"MEDICAL_RECORD_NUMBER": 1}, "research")
	claims, _ := structpb.NewStruct(map[string]any{"sub": sub})
	req.Attributes.MetadataContext.FilterMetadata[input.JWTNamespace] = &structpb.Struct{Fields: map[string]*structpb.Value{"claims": structpb.NewStructValue(claims)}}
	return req
}

func eventually(t *testing.T, within time.Duration, what string, ok func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !ok() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// Consent data from the bundle service allows a call that needs consent;
// a new revision without it denies the next call; and once the service
// stops answering, the data is dropped after the staleness bound — with
// the decision cache on, so no cached allow outlives either.
func TestConsentBundleRevocationAndStaleness(t *testing.T) {
	key := []byte("consent-test-subject-key")
	sid := input.PseudonymousSubject(key, "patient-17")
	grant := map[string]any{sid: map[string]any{"research": []any{map[string]any{"id": "c1", "categories": []any{"health"}, "sharing": false, "expires_ns": 1}}}}
	svc := newConsentService(t, "bundle-token", grant)
	s := start(t, server.Config{
		Policies: "../../../policies", SubjectKey: key, DecisionCacheSize: 1000,
		ConsentBundle: svc.url(), ConsentToken: "bundle-token", ConsentMaxStaleness: 3 * time.Second, ConsentLongPoll: time.Second,
	})
	eventually(t, 5*time.Second, "allowed with consent", func() bool { return allowed(check(t, s, researchCall("patient-17"))) })
	// Cached now; another subject has no consent.
	if !allowed(check(t, s, researchCall("patient-17"))) || allowed(check(t, s, researchCall("patient-18"))) {
		t.Fatal("consent applies to the wrong subject")
	}
	svc.set(map[string]any{})
	d := eventually(t, 2*time.Second, "denied after revocation", func() bool { return !allowed(check(t, s, researchCall("patient-17"))) })
	t.Logf("revocation served after %s", d)
	resp := check(t, s, researchCall("patient-17"))
	if body := resp.GetDeniedResponse().GetBody(); !strings.Contains(body, "has not consented to purpose research") || strings.Contains(body, "patient-17") || strings.Contains(body, sid) {
		t.Fatalf("deny body %q", body)
	}

	svc.set(grant)
	eventually(t, 2*time.Second, "allowed again", func() bool { return allowed(check(t, s, researchCall("patient-17"))) })
	stopped := time.Now()
	svc.srv.Close()
	d = eventually(t, 6*time.Second, "denied once stale", func() bool { return !allowed(check(t, s, researchCall("patient-17"))) })
	if time.Since(stopped) < time.Second {
		t.Fatalf("consent data dropped %s after the service stopped, before the 3s bound could have passed from its last answer", d)
	}
	body := check(t, s, researchCall("patient-17")).GetDeniedResponse().GetBody()
	if !strings.Contains(body, "missing or stale") {
		t.Fatalf("stale deny body %q", body)
	}
	// Calls that need no consent are not affected.
	if !allowed(check(t, s, modelCall("spiffe://nexus.local/ns/clinic/sa/frontdesk", nil, "treatment"))) {
		t.Fatal("a call without a consent purpose was denied by stale consent data")
	}
}

// The bundle service refuses nexus-authz without its token, and
// nexus-authz then never has consent data.
func TestConsentBundleNeedsItsToken(t *testing.T) {
	key := []byte("consent-test-subject-key")
	sid := input.PseudonymousSubject(key, "patient-17")
	svc := newConsentService(t, "right", map[string]any{sid: map[string]any{"research": []any{map[string]any{"id": "c1", "categories": []any{"health"}}}}})
	s := start(t, server.Config{
		Policies: "../../../policies", SubjectKey: key,
		ConsentBundle: svc.url(), ConsentToken: "wrong", ConsentMaxStaleness: 2 * time.Second, ConsentLongPoll: time.Second,
	})
	for range 10 {
		if allowed(check(t, s, researchCall("patient-17"))) {
			t.Fatal("allowed without consent data")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A break-glass grant in the bundle overrides the missing consent, and
// the decision says so: header, decision object, decision log, metric.
func TestBreakGlassFromTheBundle(t *testing.T) {
	key := []byte("consent-test-subject-key")
	svc := newConsentService(t, "bundle-token", map[string]any{})
	svc.bg = map[string]any{"callers": map[string]any{"spiffe://nexus.local/ns/clinic/sa/frontdesk": []any{map[string]any{"id": "bg-7", "model": "triage", "expires_ns": 1}}}, "subjects": map[string]any{}}
	svc.set(map[string]any{})
	s := start(t, server.Config{
		Policies: "../../../policies", SubjectKey: key, DecisionCacheSize: 1000,
		ConsentBundle: svc.url(), ConsentToken: "bundle-token", ConsentMaxStaleness: 10 * time.Second, ConsentLongPoll: time.Second,
	})
	eventually(t, 5*time.Second, "allowed under break-glass", func() bool { return allowed(check(t, s, researchCall("patient-17"))) })
	resp := check(t, s, researchCall("patient-17"))
	if h := header(resp.GetOkResponse().GetHeaders(), "x-nexus-break-glass"); h != "bg-7" {
		t.Fatalf("x-nexus-break-glass = %q", h)
	}
	lines := logLines(t, s.log, 2)
	last := lines[len(lines)-1]
	if bg, _ := last["break_glass"].([]any); len(bg) != 1 || bg[0] != "bg-7" || last["result"] != "allow" {
		t.Fatalf("decision log line %v", last)
	}
	mresp, err := http.Get(s.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	if !strings.Contains(string(metrics), `nexus_authz_break_glass_decisions_total{grant="bg-7",result="allow"}`) {
		t.Fatal("break-glass decisions are not counted")
	}
}

package admin_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"
)

// The real nexus-authz, built once from the workspace for the tests that
// feed it the control plane's consent bundle.
var authzBin struct {
	once sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if authzBin.path != "" {
		os.RemoveAll(filepath.Dir(authzBin.path))
	}
	os.Exit(code)
}

func buildAuthz(tb testing.TB) string {
	tb.Helper()
	authzBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "nexus-authz-bin-")
		if err != nil {
			authzBin.err = err
			return
		}
		cmd := exec.Command("go", "build", "-o", dir+"/", "./cmd/nexus-authz")
		cmd.Dir = "../../../authz"
		if out, err := cmd.CombinedOutput(); err != nil {
			authzBin.err = fmt.Errorf("build nexus-authz: %v\n%s", err, out)
			return
		}
		authzBin.path = filepath.Join(dir, "nexus-authz")
	})
	if authzBin.err != nil {
		tb.Fatal(authzBin.err)
	}
	return authzBin.path
}

func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type authzProc struct {
	client authv3.AuthorizationClient
	http   string
	log    *bytes.Buffer
}

// startAuthz runs nexus-authz on the shipped policies, fed by bundleURL
// with token, its gRPC on a Unix socket and HTTP on a free port.
func startAuthz(tb testing.TB, bundleURL, token string, staleness time.Duration) *authzProc {
	tb.Helper()
	bin := buildAuthz(tb)
	dir, err := os.MkdirTemp("", "authz-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "authz.sock")
	httpAddr := freeAddr(tb)
	cmd := exec.Command(bin, "--policies", "../../../policies", "--addr", "unix://"+sock, "--http-addr", httpAddr,
		"--decision-log", "off", "--consent-bundle", bundleURL,
		"--consent-max-staleness", staleness.String(), "--consent-long-poll", "1s")
	cmd.Env = append(os.Environ(), "NEXUS_TELEMETRY_SUBJECT_KEY="+testSubjectKey, "NEXUS_CONSENT_TOKEN="+token)
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("nexus-authz not ready: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return &authzProc{client: authv3.NewAuthorizationClient(conn), http: "http://" + httpAddr, log: &logs.buf}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

const clinicCaller = "spiffe://nexus.local/ns/clinic/sa/frontdesk"

// researchCheck is what a model sidecar's Envoy sends for a call on
// behalf of end user sub (verified by jwt_authn) for purpose research,
// carrying a medical record number piiguard found.
func researchCheck(sub string) *authv3.CheckRequest {
	claims, _ := structpb.NewStruct(map[string]any{"sub": sub, "iss": "https://idp.hospital.example"})
	findings, _ := structpb.NewStruct(map[string]any{"findings": map[string]any{"MEDICAL_RECORD_NUMBER": 1.0}})
	body := `{"model":"triage","messages":[{"role":"user","content":"summarise the chart"}]}`
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Principal: clinicCaller},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "POST", Path: "/v1/chat/completions", Host: "triage.models.nexus.local",
			Headers: map[string]string{":method": "POST", ":path": "/v1/chat/completions", "content-type": "application/json", "x-nexus-purpose": "research", "x-nexus-model": "triage"},
			Body:    body, Size: int64(len(body)),
		}},
		ContextExtensions: map[string]string{"model": "triage", "policy": "nexus.models.triage"},
		MetadataContext: &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
			"piiguard":                     findings,
			"envoy.filters.http.jwt_authn": {Fields: map[string]*structpb.Value{"claims": structpb.NewStructValue(claims)}},
		}},
	}}
}

func (p *authzProc) check(tb testing.TB, req *authv3.CheckRequest) *authv3.CheckResponse {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := p.client.Check(ctx, req)
	if err != nil {
		tb.Fatal(err)
	}
	return resp
}

func isAllowed(r *authv3.CheckResponse) bool { return r.GetStatus().GetCode() == int32(codes.OK) }

// waitFor polls until ok, at most within, and returns how long it took.
func waitFor(tb testing.TB, within time.Duration, what string, ok func() bool) time.Duration {
	tb.Helper()
	start := time.Now()
	for !ok() {
		if time.Since(start) > within {
			tb.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

func consentFor(sub string) string {
	return strings.Replace(consentBody, "auth0|patient-17", sub, 1)
}

// The control plane's admin API on 127.0.0.1 feeds a real nexus-authz:
// a consent allows a Check that needs it, its revocation denies the next
// one, and a break-glass grant overrides the missing consent, visibly.
func TestConsentReachesNexusAuthz(t *testing.T) {
	s := newConsentStack(t, "token:local-admin")
	p := startAuthz(t, s.url+"/api/v1/bundles/nexus-consent.tar.gz", s.bundleToken, 3*time.Second)
	sub := "auth0|patient-17"

	if r := p.check(t, researchCheck(sub)); isAllowed(r) {
		t.Fatal("allowed before any consent")
	}
	code, body := s.do(t, "POST", "/api/v1/admin/consents", consentFor(sub))
	if code != 201 {
		t.Fatalf("consent: %d %v", code, body)
	}
	id := body["consent"].(map[string]any)["id"].(string)
	waitFor(t, 3*time.Second, "allowed with consent", func() bool { return isAllowed(p.check(t, researchCheck(sub))) })
	if isAllowed(p.check(t, researchCheck("auth0|someone-else"))) {
		t.Fatal("one subject's consent allowed another's call")
	}
	if code, body := s.do(t, "DELETE", "/api/v1/admin/consents/"+id, ""); code != 200 {
		t.Fatalf("revoke: %d %v", code, body)
	}
	d := waitFor(t, 3*time.Second, "denied after revocation", func() bool { return !isAllowed(p.check(t, researchCheck(sub))) })
	t.Logf("first denied Check %s after DELETE returned", d)
	r := p.check(t, researchCheck(sub))
	if msg := r.GetDeniedResponse().GetBody(); !strings.Contains(msg, "has not consented to purpose research") || strings.Contains(msg, "patient-17") {
		t.Fatalf("deny body %q", msg)
	}

	// Break-glass for the caller overrides the missing consent, and says so.
	code, body = s.do(t, "POST", "/api/v1/admin/break-glass", `{"spiffe_id":"`+clinicCaller+`","model":"triage","reason":"patient unconscious, research protocol emergency","duration":"30m"}`)
	if code != 201 {
		t.Fatalf("break-glass: %d %v", code, body)
	}
	gid := body["grant"].(map[string]any)["id"].(string)
	waitFor(t, 3*time.Second, "allowed under break-glass", func() bool { return isAllowed(p.check(t, researchCheck(sub))) })
	ok := p.check(t, researchCheck(sub)).GetOkResponse()
	if h := header(ok.GetHeaders(), "x-nexus-break-glass"); h != gid {
		t.Fatalf("x-nexus-break-glass = %q, want %s", h, gid)
	}
	if h := header(ok.GetResponseHeadersToAdd(), "x-nexus-break-glass"); h != gid {
		t.Fatalf("response x-nexus-break-glass = %q", h)
	}
	resp, err := http.Get(p.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`nexus_authz_break_glass_decisions_total{grant="` + gid + `",result="allow"}`, "nexus_authz_consent_data_fresh 1"} {
		if !strings.Contains(string(metrics), want) {
			t.Fatalf("metrics lack %s", want)
		}
	}
	if code, body := s.do(t, "DELETE", "/api/v1/admin/break-glass/"+gid, ""); code != 200 {
		t.Fatalf("end break-glass: %d %v", code, body)
	}
	waitFor(t, 3*time.Second, "denied once break-glass ends", func() bool { return !isAllowed(p.check(t, researchCheck(sub))) })
}

// When the control plane stops answering, nexus-authz drops the consent
// data after its staleness bound and denies calls that need consent.
func TestConsentStalenessFailsClosed(t *testing.T) {
	s := newConsentStack(t)
	const staleness = 2 * time.Second
	p := startAuthz(t, s.url+"/api/v1/bundles/nexus-consent.tar.gz", s.bundleToken, staleness)
	sub := "auth0|patient-17"
	if code, body := s.do(t, "POST", "/api/v1/admin/consents", consentFor(sub)); code != 201 {
		t.Fatalf("consent: %d %v", code, body)
	}
	waitFor(t, 3*time.Second, "allowed with consent", func() bool { return isAllowed(p.check(t, researchCheck(sub))) })
	stopped := time.Now()
	s.srv.CloseClientConnections()
	s.srv.Close()
	waitFor(t, staleness+2*time.Second, "denied once stale", func() bool { return !isAllowed(p.check(t, researchCheck(sub))) })
	if took := time.Since(stopped); took < staleness/2 {
		t.Fatalf("denied %s after the control plane stopped: the data was dropped before it could be stale", took)
	}
	if msg := p.check(t, researchCheck(sub)).GetDeniedResponse().GetBody(); !strings.Contains(msg, "missing or stale") {
		t.Fatalf("deny body %q", msg)
	}
	resp, err := http.Get(p.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), "nexus_authz_consent_data_fresh 0") {
		t.Fatal("nexus_authz_consent_data_fresh is not 0 once the data is dropped")
	}
}

func header(hs []*corev3.HeaderValueOption, name string) string {
	for _, h := range hs {
		if h.GetHeader().GetKey() == name {
			return h.GetHeader().GetValue()
		}
	}
	return ""
}

// BenchmarkRevocationStaleness measures, against a real nexus-authz
// long-polling the admin API's consent bundle, the time from a consent's
// DELETE returning to the first denied Check.
func BenchmarkRevocationStaleness(b *testing.B) {
	s := newConsentStack(b)
	p := startAuthz(b, s.url+"/api/v1/bundles/nexus-consent.tar.gz", s.bundleToken, 5*time.Second)
	sub := "auth0|patient-17"
	var total, worst time.Duration
	n := 0
	for b.Loop() {
		b.StopTimer()
		code, body := s.do(b, "POST", "/api/v1/admin/consents", consentFor(sub))
		if code != 201 {
			b.Fatalf("consent: %d %v", code, body)
		}
		id := body["consent"].(map[string]any)["id"].(string)
		waitFor(b, 5*time.Second, "allowed with consent", func() bool { return isAllowed(p.check(b, researchCheck(sub))) })
		b.StartTimer()
		if code, _ := s.do(b, "DELETE", "/api/v1/admin/consents/"+id, ""); code != 200 {
			b.Fatalf("revoke: %d", code)
		}
		d := waitFor(b, 5*time.Second, "denied after revocation", func() bool { return !isAllowed(p.check(b, researchCheck(sub))) })
		total += d
		worst = max(worst, d)
		n++
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(n), "ms/revocation")
	b.ReportMetric(float64(worst.Milliseconds()), "max-ms")
}

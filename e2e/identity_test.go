package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// TestIdentityEndToEnd: the real control plane mints join tokens through
// nexusctl, nexusctl agents exchange them for SVIDs and serve the Workload
// API, nexus-authz takes its SVID from one and serves ext_authz over mTLS
// that admits only the model sidecar's SPIFFE id: the sidecar gets
// decisions, a workload with a valid SVID but another id is refused and
// logged, a plaintext client gets nothing, and a replayed token is refused.
func TestIdentityEndToEnd(t *testing.T) {
	t.Parallel()
	bin := binaries(t)
	m := writeMesh(t)
	_, adminToken := m.startControlPlane(t, bin)
	data := filepath.Join(m.dir, "data")
	sockets := t.TempDir()
	agentFor := func(id string) (socket, token string) {
		return startAgent(t, bin, m, data, sockets, adminToken, id)
	}
	authzSock, authzTok := agentFor("spiffe://nexus.local/nexus/authz")
	sidecarSock, _ := agentFor("spiffe://nexus.local/model/triage")
	strangerSock, _ := agentFor("spiffe://nexus.local/ns/clinic/sa/stranger")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	source := func(sock string) *workloadapi.X509Source {
		t.Helper()
		src, err := workloadapi.NewX509Source(ctx, workloadapi.WithClientOptions(workloadapi.WithAddr("unix://"+sock)))
		if err != nil {
			t.Fatalf("Workload API at %s: %v", sock, err)
		}
		t.Cleanup(func() { src.Close() })
		return src
	}
	sidecar := source(sidecarSock)
	if s, _ := sidecar.GetX509SVID(); s.ID.String() != "spiffe://nexus.local/model/triage" {
		t.Fatalf("agent served %s", s.ID)
	}

	addr := "127.0.0.1:" + itoa(freePort(t))
	httpAddr := "127.0.0.1:" + itoa(freePort(t))
	authz := start(t, filepath.Join(bin, "nexus-authz"), "--policies", "../policies", "--addr", addr, "--http-addr", httpAddr,
		"--decision-log", "off", "--spiffe-socket", "unix://"+authzSock, "--allow-spiffe-id", "spiffe://nexus.local/model/triage")
	waitHTTP(t, "http://"+httpAddr+"/readyz")

	authzID := spiffeid.RequireFromString("spiffe://nexus.local/nexus/authz")
	check := func(creds credentials.TransportCredentials) error {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err = authv3.NewAuthorizationClient(conn).Check(c, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/"}},
		}}, grpc.WaitForReady(false))
		return err
	}
	if err := check(credentials.NewTLS(tlsconfig.MTLSClientConfig(sidecar, sidecar, tlsconfig.AuthorizeID(authzID)))); err != nil {
		t.Fatalf("the model sidecar's SVID was refused: %v", err)
	}
	stranger := source(strangerSock)
	if err := check(credentials.NewTLS(tlsconfig.MTLSClientConfig(stranger, stranger, tlsconfig.AuthorizeID(authzID)))); err == nil {
		t.Fatal("a valid SVID with an id not allowed got a decision")
	}
	if err := check(insecure.NewCredentials()); err == nil {
		t.Fatal("a plaintext client got a decision")
	}
	// The sidecar also refuses a server that is not nexus-authz.
	if err := check(credentials.NewTLS(tlsconfig.MTLSClientConfig(sidecar, sidecar, tlsconfig.AuthorizeID(spiffeid.RequireFromString("spiffe://nexus.local/nexus/other"))))); err == nil {
		t.Fatal("the sidecar accepted a server with the wrong id")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(authz.log.String(), "spiffe_id=spiffe://nexus.local/ns/clinic/sa/stranger") {
		if time.Now().After(deadline) {
			t.Fatalf("the refused peer was not logged:\n%s", authz.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The last hop: a model version's backend serves over mTLS with its own
	// SVID and admits only the model's sidecar.
	backendSock, _ := agentFor("spiffe://nexus.local/model/triage/v1")
	backendAddr := "127.0.0.1:" + itoa(freePort(t))
	healthAddr := "127.0.0.1:" + itoa(freePort(t))
	backend := start(t, filepath.Join(bin, "nexus-backend"), "--model", "triage", "--version", "v1", "--addr", backendAddr, "--health-addr", healthAddr,
		"--spiffe-socket", "unix://"+backendSock, "--allow-spiffe-id", "spiffe://nexus.local/model/triage")
	waitHTTP(t, "http://"+healthAddr+"/readyz")
	v1ID := spiffeid.RequireFromString("spiffe://nexus.local/model/triage/v1")
	chat := func(src *workloadapi.X509Source) (*http.Response, error) {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsconfig.MTLSClientConfig(src, src, tlsconfig.AuthorizeID(v1ID))}}
		return c.Post("https://"+backendAddr+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"triage","messages":[{"role":"user","content":"fever"}]}`))
	}
	resp, err := chat(sidecar)
	if err != nil {
		t.Fatalf("the sidecar could not reach its backend over mTLS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("x-nexus-model-version") != "v1" {
		t.Fatalf("backend answered %d as %q", resp.StatusCode, resp.Header.Get("x-nexus-model-version"))
	}
	if resp, err := chat(stranger); err == nil {
		resp.Body.Close()
		t.Fatal("the backend served a workload that is not the model's sidecar")
	}
	if resp, err := http.Post("http://"+backendAddr+"/v1/chat/completions", "application/json", strings.NewReader(`{}`)); err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Fatal("the backend answered plaintext HTTP")
		}
	}
	// The refused handshakes are logged through slog, as every other line.
	deadline = time.Now().Add(5 * time.Second)
	for !strings.Contains(backend.log.String(), `level=WARN msg="http: TLS handshake error from 127.0.0.1:`) {
		if time.Now().After(deadline) {
			t.Fatalf("no slog warning for the refused handshake:\n%s", backend.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, line := range strings.Split(backend.log.String(), "\n") {
		if line != "" && !strings.HasPrefix(line, "time=") {
			t.Errorf("nexus-backend logged a line outside slog: %q", line)
		}
	}

	// A spent join token cannot be used twice.
	tokFile := filepath.Join(sockets, "replay.jointoken")
	_ = os.WriteFile(tokFile, []byte(authzTok), 0o600)
	out, err := exec.Command(filepath.Join(bin, "nexusctl"), "agent", "--server", m.xds, "--bundle", filepath.Join(data, "bundle.pem"),
		"--join-token-file", tokFile, "--socket", filepath.Join(sockets, "replay.sock")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "already used") {
		t.Fatalf("replayed join token: %v\n%s", err, out)
	}
}

// TestAdminOverMTLS: the admin API's mTLS listener serves nexusctl holding
// an allowed SVID (audited under its SPIFFE id) and refuses, and logs, a
// workload whose SVID is valid but not allowed.
func TestAdminOverMTLS(t *testing.T) {
	t.Parallel()
	bin := binaries(t)
	m := writeMesh(t)
	mtlsAddr := "127.0.0.1:" + itoa(freePort(t))
	cp, adminToken := m.startControlPlane(t, bin, "--admin-mtls-addr", mtlsAddr, "--admin-spiffe-id", "spiffe://nexus.local/ops/deployer")
	data := filepath.Join(m.dir, "data")
	sockets := t.TempDir()
	nexusctl := func(env []string, args ...string) (string, error) {
		cmd := exec.Command(filepath.Join(bin, "nexusctl"), args...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	deployer, _ := startAgent(t, bin, m, data, sockets, adminToken, "spiffe://nexus.local/ops/deployer")
	intruder, _ := startAgent(t, bin, m, data, sockets, adminToken, "spiffe://nexus.local/ops/intruder")

	out, err := nexusctl(nil, "--server", "https://"+mtlsAddr, "--spiffe-socket", "unix://"+deployer, "traffic", "triage", "v1=70", "v2=30")
	if err != nil {
		t.Fatalf("allowed SVID: %v\n%s", err, out)
	}
	out, err = nexusctl(nil, "--server", "https://"+mtlsAddr, "--spiffe-socket", "unix://"+deployer, "audit")
	if err != nil || !strings.Contains(out, "spiffe:spiffe://nexus.local/ops/deployer") {
		t.Fatalf("audit does not name the SVID: %v\n%s", err, out)
	}
	if out, err := nexusctl(nil, "--server", "https://"+mtlsAddr, "--spiffe-socket", "unix://"+intruder, "models"); err == nil {
		t.Fatalf("an SVID not allowed was served:\n%s", out)
	}
	if out, err := nexusctl([]string{"NEXUS_TOKEN=" + adminToken}, "--server", "https://"+mtlsAddr, "models"); err == nil {
		t.Fatalf("a bearer token without an SVID was served on the mTLS listener:\n%s", out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(cp.log.String(), "admin mTLS peer refused") {
		if time.Now().After(deadline) {
			t.Fatalf("refused admin peer not logged:\n%s", cp.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startAgent mints a join token for id over the loopback admin API and
// runs a nexusctl agent for it; it returns the Workload API socket and the
// (now spent) token.
func startAgent(t *testing.T, bin string, m mesh, data, dir, adminToken, id string) (socket, token string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "nexusctl"), "--server", "http://"+m.admin, "token", "create", id)
	cmd.Env = append(os.Environ(), "NEXUS_TOKEN="+adminToken)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("token create %s: %v", id, err)
	}
	tok := strings.TrimSpace(string(out))
	tokFile := filepath.Join(dir, filepath.Base(id)+".jointoken")
	if err := os.WriteFile(tokFile, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, filepath.Base(id), "agent.sock")
	start(t, filepath.Join(bin, "nexusctl"), "agent", "--server", m.xds, "--bundle", filepath.Join(data, "bundle.pem"),
		"--join-token-file", tokFile, "--socket", sock)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			return sock, tok
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent for %s did not serve %s", id, sock)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"
)

// TestAuthzEndToEnd runs the nexus-authz binary with the shipped policies,
// sends it CheckRequests as a model sidecar's Envoy would, and verifies its
// decision log with its own verify-log command — then shows that verify-log
// catches an edited line.
func TestAuthzEndToEnd(t *testing.T) {
	t.Parallel()
	bin := binaries(t)
	authz := filepath.Join(bin, "nexus-authz")
	if _, err := os.Stat(authz); err != nil {
		cmd := exec.Command("go", "build", "-o", bin+"/", "./cmd/nexus-authz")
		cmd.Dir = "../authz"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build nexus-authz: %v\n%s", err, out)
		}
	}
	dir := t.TempDir()
	logFile := filepath.Join(dir, "decisions.log")
	addr := "127.0.0.1:" + itoa(freePort(t))
	httpAddr := "127.0.0.1:" + itoa(freePort(t))
	p := start(t, authz, "--policies", "../policies", "--addr", addr, "--http-addr", httpAddr, "--decision-log", logFile)
	waitHTTP(t, "http://"+httpAddr+"/readyz")

	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := authv3.NewAuthorizationClient(conn)
	call := func(caller string, pii map[string]any) *authv3.CheckResponse {
		md, _ := structpb.NewStruct(map[string]any{"findings": pii})
		resp, err := client.Check(context.Background(), &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Source: &authv3.AttributeContext_Peer{Principal: caller},
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: "POST", Path: "/v1/chat/completions", Host: "triage.models.nexus.local",
				Headers: map[string]string{"content-type": "application/json", "authorization": "Bearer secret-token"},
				Body:    `{"model":"triage","messages":[{"role":"user","content":"hi"}]}`,
			}},
			ContextExtensions: map[string]string{"model": "triage", "policy": "nexus.models.triage"},
			MetadataContext:   &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{"piiguard": md}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if r := call("spiffe://nexus.local/ns/clinic/sa/frontdesk", map[string]any{}); r.GetOkResponse() == nil {
		t.Fatalf("granted caller denied: %v", r)
	}
	if r := call("spiffe://nexus.local/ns/clinic/sa/frontdesk", map[string]any{"CREDIT_CARD": 1.0}); !strings.Contains(r.GetDeniedResponse().GetBody(), "CREDIT_CARD") {
		t.Fatalf("blocked class not named: %v", r)
	}
	// Stop the service so the log is flushed, then verify it.
	_ = p.cmd.Process.Signal(os.Interrupt)
	_ = p.cmd.Wait()
	if b, _ := os.ReadFile(logFile); strings.Contains(string(b), "secret-token") {
		t.Fatal("the Authorization header reached the decision log unmasked")
	}
	out, err := exec.Command(authz, "verify-log", logFile).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "decision log OK: 2 lines") {
		t.Fatalf("verify-log: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(logFile)
	if err := os.WriteFile(logFile, []byte(strings.Replace(string(b), `"result":"deny"`, `"result":"allow"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(authz, "verify-log", logFile).CombinedOutput()
	if err == nil || !strings.Contains(string(out), ":2: content does not match its hash") {
		t.Fatalf("tampered log passed verify-log: %v\n%s", err, out)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

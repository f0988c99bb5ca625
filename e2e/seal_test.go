package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// TestSealedDecisionLogInputs runs nexus-authz keeping its masked values
// sealed under data keys leased from a real control plane: the decision
// log holds no plaintext and an admin's unseal-log reads them back, each
// lease and read on the audit record. (That no one can once the keyring
// destroys the bucket's key is held by the keys package's tests, on a
// clock: the shortest bucket is a minute.)
func TestSealedDecisionLogInputs(t *testing.T) {
	t.Parallel()
	bin := binaries(t)
	m := writeMesh(t)
	_, adminToken := m.startControlPlane(t, bin)
	leaseToken, err := os.ReadFile(filepath.Join(m.dir, "data", "key-lease.token"))
	if err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(t.TempDir(), "decisions.log")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	authz := filepath.Join(bin, "nexus-authz")
	az := start(t, authz, "--policies", "../policies", "--addr", addr, "--http-addr", httpAddr, "--decision-log", logFile,
		"--decision-log-seal", "http://"+m.admin, "--decision-log-seal-token", strings.TrimSpace(string(leaseToken)))
	waitHTTP(t, "http://"+httpAddr+"/readyz")

	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := authv3.NewAuthorizationClient(conn)
	const secret = "Jane Roe, MRN 4839201, chest pain"
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := client.Check(context.Background(), &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Source: &authv3.AttributeContext_Peer{Principal: "spiffe://nexus.local/ns/clinic/sa/frontdesk"},
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: "POST", Path: "/v1/chat/completions", Host: "triage.models.nexus.local",
				Headers: map[string]string{"content-type": "application/json", "authorization": "Bearer caller-secret"},
				Body:    `{"model":"triage","messages":[{"role":"user","content":"` + secret + `"}]}`,
			}},
			ContextExtensions: map[string]string{"model": "triage", "policy": "nexus.models.triage"},
		}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		if b, _ := os.ReadFile(logFile); strings.Contains(string(b), `"sealed_input"`) {
			break // the lease was in place for this one
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logFile)
			t.Fatalf("no line with a sealed_input:\n%s", b)
		}
	}
	_ = az.cmd.Process.Signal(os.Interrupt)
	_ = az.cmd.Wait()
	raw, _ := os.ReadFile(logFile)
	for _, v := range []string{"Jane Roe", "4839201", "caller-secret"} {
		if strings.Contains(string(raw), v) {
			t.Fatalf("%q is in the decision log in the clear", v)
		}
	}
	if out, err := exec.Command(authz, "verify-log", logFile).CombinedOutput(); err != nil {
		t.Fatalf("verify-log: %v\n%s", err, out)
	}

	unseal := func() []map[string]any {
		cmd := exec.Command(authz, "unseal-log", "--server", "http://"+m.admin, logFile)
		cmd.Env = append(os.Environ(), "NEXUS_TOKEN="+adminToken)
		out, _ := cmd.Output()
		var lines []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			var v map[string]any
			if json.Unmarshal([]byte(l), &v) == nil {
				lines = append(lines, v)
			}
		}
		return lines
	}
	opened := false
	for _, l := range unseal() {
		if b, _ := json.Marshal(l["masked_values"]); strings.Contains(string(b), secret) && strings.Contains(string(b), "caller-secret") {
			opened = true
		}
	}
	if !opened {
		t.Fatalf("unseal-log did not give back the masked values: %v", unseal())
	}

	var audit struct {
		Records []struct {
			Actor, Action string
		} `json:"records"`
	}
	api(t, "GET", "http://"+m.admin+"/api/v1/admin/audit?after=0&limit=1000", adminToken, "", &audit)
	var actions []string
	for _, r := range audit.Records {
		actions = append(actions, r.Actor+" "+r.Action)
	}
	joined := strings.Join(actions, ",")
	for _, want := range []string{"token:key-lease keys.dek.lease", "token:local-admin keys.dek.read"} {
		if !strings.Contains(joined, want) {
			t.Errorf("audit log lacks %q: %s", want, joined)
		}
	}
}

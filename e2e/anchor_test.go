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

// TestDecisionLogAnchoredIntoAuditLog runs nexus-authz and the control
// plane as the binaries they are: the control plane pulls nexus-authz's
// audit feed, records its policy activations and refusals, and anchors the
// decision log's chain head into the audit log, so the signed checkpoint
// that covers the anchor covers every decision up to it — which
// nexus-authz verify-log --anchor then checks against the file.
func TestDecisionLogAnchoredIntoAuditLog(t *testing.T) {
	t.Parallel()
	bin := binaries(t)
	authz := filepath.Join(bin, "nexus-authz")
	policies := t.TempDir()
	if out, err := exec.Command("cp", "-r", "../policies/.", policies).CombinedOutput(); err != nil {
		t.Fatalf("copy policies: %v\n%s", err, out)
	}
	logFile := filepath.Join(t.TempDir(), "decisions.log")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	az := start(t, authz, "--policies", policies, "--addr", addr, "--http-addr", httpAddr,
		"--decision-log", logFile, "--reload-interval", "200ms")
	waitHTTP(t, "http://"+httpAddr+"/readyz")

	m := writeMesh(t)
	_, token := m.startControlPlane(t, bin, "--authz-audit-feed", "http://"+httpAddr, "--anchor-interval", "200ms")

	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := authv3.NewAuthorizationClient(conn)
	for range 3 {
		if _, err := client.Check(context.Background(), &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Source: &authv3.AttributeContext_Peer{Principal: "spiffe://nexus.local/ns/clinic/sa/frontdesk"},
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: "POST", Path: "/v1/chat/completions", Host: "triage.models.nexus.local",
				Headers: map[string]string{"content-type": "application/json"}, Body: `{"model":"triage"}`,
			}},
			ContextExtensions: map[string]string{"model": "triage", "policy": "nexus.models.triage"},
		}}); err != nil {
			t.Fatal(err)
		}
	}

	type record struct {
		Seq    int64           `json:"seq"`
		Actor  string          `json:"actor"`
		Action string          `json:"action"`
		Target string          `json:"target"`
		After  json.RawMessage `json:"after"`
	}
	records := func() []record {
		var page struct {
			Records []record `json:"records"`
		}
		api(t, "GET", "http://"+m.admin+"/api/v1/admin/audit?after=0&limit=1000", token, "", &page)
		return page.Records
	}
	waitFor := func(what string, ok func(record) bool) record {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			for _, r := range records() {
				if ok(r) {
					return r
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("no %s in the audit log: %+v", what, records())
		return record{}
	}
	feed := "authz/" + httpAddr
	act := waitFor("policy activation", func(r record) bool { return r.Action == "policy.activate" && r.Actor == feed })
	if !strings.Contains(string(act.After), `"revision"`) {
		t.Fatalf("activation record %s", act.After)
	}
	type head struct {
		Head  string `json:"head"`
		Lines int64  `json:"lines"`
	}
	var anchored head
	waitFor("anchor of all three decisions", func(r record) bool {
		if r.Action != "decisionlog.anchor" {
			return false
		}
		var h head
		_ = json.Unmarshal(r.After, &h)
		if h.Lines >= 3 {
			anchored = h
			return true
		}
		return false
	})

	// A policy that does not compile is refused, and the refusal is in the
	// audit log; the good set keeps serving.
	if err := os.WriteFile(filepath.Join(policies, "nexus", "broken.rego"), []byte("package nexus.broken\nallow if {\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	refusal := waitFor("policy refusal", func(r record) bool { return r.Action == "policy.refuse" })
	if !strings.Contains(string(refusal.After), "broken.rego") {
		t.Fatalf("refusal does not say where: %s", refusal.After)
	}

	var anchors struct {
		Feeds []struct {
			Feed      string `json:"feed"`
			Head      string `json:"head"`
			LastError string `json:"last_error"`
		} `json:"feeds"`
	}
	if code := api(t, "GET", "http://"+m.admin+"/api/v1/admin/audit/anchors", token, "", &anchors); code != 200 ||
		len(anchors.Feeds) != 1 || anchors.Feeds[0].Feed != feed || anchors.Feeds[0].Head == "" {
		t.Fatalf("anchors: %d %+v", code, anchors)
	}

	// The access review names the caller the policy allowed, the grant it
	// used, the admin token and an open join token, each with its last use.
	nexusctl := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(bin, "nexusctl"), append([]string{"--server", "http://" + m.admin,
			"--token-file", filepath.Join(m.dir, "data", "admin.token")}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("nexusctl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	nexusctl("token", "create", "spiffe://nexus.local/nexus/authz", "--ttl", "10m")
	var review struct {
		Principals []struct {
			Kind     string    `json:"kind"`
			ID       string    `json:"id"`
			LastUsed time.Time `json:"last_used"`
			Stale    bool      `json:"stale"`
		} `json:"principals"`
		Unavailable []string `json:"unavailable"`
	}
	if err := json.Unmarshal([]byte(nexusctl("access-review", "-o", "json")), &review); err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, p := range review.Principals {
		switch {
		case p.Kind == "caller" && p.ID == "spiffe://nexus.local/ns/clinic/sa/frontdesk",
			p.Kind == "policy-grant" && p.ID == "spiffe://nexus.local/ns/clinic/sa/*",
			p.Kind == "admin-token":
			if p.LastUsed.IsZero() || p.Stale {
				t.Errorf("%s %s: last used %v, stale %v", p.Kind, p.ID, p.LastUsed, p.Stale)
			}
			found[p.Kind] = true
		case p.Kind == "join-token":
			found[p.Kind] = true
		}
	}
	if len(found) != 4 || len(review.Unavailable) != 0 {
		t.Fatalf("access review is missing some of caller, policy-grant, admin-token, join-token (found %v); unavailable %v", found, review.Unavailable)
	}
	if table := nexusctl("access-review"); !strings.Contains(table, "KIND") || !strings.Contains(table, "stale") {
		t.Fatalf("access review table:\n%s", table)
	}

	// The compliance report sees the real nexus-authz: its masks and its
	// anchored decision log.
	report := nexusctl("compliance", "report", "--framework", "soc2", "--format", "md")
	for _, check := range []string{"decision-log-masked", "decision-log-anchored"} {
		line := ""
		for _, l := range strings.Split(report, "\n") {
			if strings.Contains(l, "`"+check+"`") && strings.HasPrefix(l, "|") {
				line = l
				break
			}
		}
		if !strings.Contains(line, "satisfied") || strings.Contains(line, "not satisfied") {
			t.Errorf("%s: %q\n%s", check, line, report)
		}
	}

	// The anchored head is a line of the file, and the chain up to it is
	// intact.
	_ = az.cmd.Process.Signal(os.Interrupt)
	_ = az.cmd.Wait()
	out, err := exec.Command(authz, "verify-log", "--anchor", anchored.Head, logFile).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "anchored head at "+logFile+":3") {
		t.Fatalf("verify-log --anchor: %v\n%s", err, out)
	}
	// Cut the file before the anchored line: verify-log says the anchored
	// decisions are gone.
	raw, _ := os.ReadFile(logFile)
	lines := strings.SplitAfter(string(raw), "\n")
	if err := os.WriteFile(logFile, []byte(strings.Join(lines[:2], "")), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(authz, "verify-log", "--anchor", anchored.Head, logFile).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no line has the anchored hash") {
		t.Fatalf("a log cut before its anchor passed: %v\n%s", err, out)
	}

	// The whole audit log, anchors included, verifies under its checkpoint.
	var v struct {
		OK bool `json:"ok"`
	}
	if code := api(t, "GET", "http://"+m.admin+"/api/v1/admin/audit/verify", token, "", &v); code != 200 || !v.OK {
		t.Fatalf("audit chain: %d %+v", code, v)
	}
}

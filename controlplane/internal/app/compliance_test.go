package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secureai-nexus/nexus/controlplane/internal/app"
	"github.com/secureai-nexus/nexus/controlplane/internal/cli"
)

// TestComplianceReport: `nexusctl compliance report` against a running
// control plane, whose report is built from its own mesh, published xDS,
// audit log, registry, keyring and admin configuration; the sources this
// control plane is started without (nexus-authz's feed, consent) leave
// their checks not satisfied, saying why.
func TestComplianceReport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	c := startApp(t, app.Config{DataDir: dir})
	t.Setenv("NEXUS_TOKEN", c.token)
	run := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := cli.Run(context.Background(), append([]string{"--server", c.addr}, args...), &out, &errb)
		return out.String(), errb.String(), code
	}
	md, errs, code := run("compliance", "report", "--framework", "hipaa", "--format", "md")
	if code != 0 {
		t.Fatalf("%d %s", code, errs)
	}
	for _, want := range []string{
		"| `mtls-every-hop` Mutual TLS on every hop of the served xDS | 164.312(d), 164.312(e)(1), 164.312(e)(2)(ii) | TEST | ✅ satisfied |",
		"| `audit-log-checkpoint` ",
		"cannot be evaluated: no break-glass source configured",
		"cannot be evaluated: nexus-authz's configuration could not be read: no nexus-authz audit feed is configured (--authz-audit-feed)",
		"no nexus-authz audit feed is configured (--authz-audit-feed): decision logs are not anchored",
		"the admin API uses loopback dev mode",
		"node model~triage listener inbound chain mtls: mTLS, client certificate required",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, check := range []string{"key-rotation-age"} { // dek-retention maps to no HIPAA control
		row := ""
		for _, l := range strings.Split(md, "\n") {
			if strings.HasPrefix(l, "| `"+check+"`") {
				row = l
			}
		}
		if !strings.Contains(row, "✅ satisfied") {
			t.Errorf("%s with the local keyring: %q", check, row)
		}
	}
	if !strings.Contains(md, "✅ satisfied | the chain of") {
		t.Errorf("the audit log does not verify against its checkpoint:\n%s", md)
	}
	if _, err := os.Stat(filepath.Join(dir, "compliance-checkpoint")); err != nil {
		t.Errorf("no checkpoint kept: %v", err)
	}
	// A change between reports: the second checks the log against the
	// checkpoint the first kept.
	if code := c.call(t, "PUT", "/api/v1/admin/models/triage/traffic", `{"weights":{"v1":50,"v2":50}}`, nil); code != 200 {
		t.Fatalf("PUT traffic: %d", code)
	}
	out := filepath.Join(t.TempDir(), "soc2.json")
	if stdout, errs, code := run("compliance", "report", "--framework", "soc2", "-o", out); code != 0 || !strings.Contains(stdout, "wrote the soc2 report (oscal) to "+out) {
		t.Fatalf("%d %s %s", code, stdout, errs)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		AR struct {
			Results []struct {
				Observations []struct {
					Title            string
					RelevantEvidence []struct{ Description string } `json:"relevant-evidence"`
				}
			}
		} `json:"assessment-results"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, o := range doc.AR.Results[0].Observations {
		for _, e := range o.RelevantEvidence {
			found = found || strings.Contains(e.Description, "records hash to the checkpoint's root; 1 records since")
		}
	}
	if !found {
		t.Errorf("the second report did not check the log against the first's checkpoint:\n%s", raw)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"compliance", "report"}, "--framework is required"},
		{[]string{"compliance", "report", "--framework", "pci"}, `--framework: unknown framework "pci"`},
		{[]string{"compliance", "report", "--framework", "gdpr", "--format", "pdf"}, `--format: unknown format "pdf"`},
		{[]string{"compliance", "audit"}, "want `compliance report"},
	} {
		if _, errs, code := run(c.args...); code == 0 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: %d %q, want %q", c.args, code, errs, c.want)
		}
	}
}

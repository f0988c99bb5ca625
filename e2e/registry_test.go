package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRegistryEndToEnd takes a candidate version through the registry
// with the real binaries: refused traffic while registered, an unsafe
// artifact refused with the opcode and offset, a clean one verified, the
// behavioural checks run against the candidate nexus-backend and the
// serving one, and then traffic allowed.
func TestRegistryEndToEnd(t *testing.T) {
	bin := binaries(t)
	m := writeMesh(t)
	backend3 := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	artifact := filepath.Join(m.dir, "artifact")
	if err := os.MkdirAll(artifact, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"good.safetensors", "torch_safe.pt"} {
		b, err := os.ReadFile(filepath.Join("../controlplane/internal/registry/testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(artifact, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	doc, err := os.ReadFile(m.file)
	if err != nil {
		t.Fatal(err)
	}
	mesh := strings.Replace(string(doc), "      - {name: v2, weight: 10, endpoints: ["+m.backend2+"]}",
		"      - {name: v2, weight: 10, endpoints: ["+m.backend2+"]}\n      - {name: v3, weight: 0, state: registered, artifact: "+artifact+", endpoints: ["+backend3+"]}", 1)
	if mesh == string(doc) {
		t.Fatal("the e2e mesh changed shape; update this test")
	}
	if err := os.WriteFile(m.file, []byte(mesh), 0o600); err != nil {
		t.Fatal(err)
	}
	start(t, filepath.Join(bin, "nexus-backend"), "--model", "triage", "--version", "v1", "--addr", m.backend1)
	start(t, filepath.Join(bin, "nexus-backend"), "--model", "triage", "--version", "v3", "--addr", backend3)
	waitHTTP(t, "http://"+m.backend1+"/readyz")
	waitHTTP(t, "http://"+backend3+"/readyz")
	// The built-in model answers each version in its own words (so traffic
	// tests can tell them apart): its versions overlap by about 0.15.
	_, token := m.startControlPlane(t, bin, "--validation-similarity", "0.1")
	base := "http://" + m.admin + "/api/v1/admin/models/triage"

	if code := api(t, "PUT", base+"/traffic", token, `{"weights":{"v1":80,"v2":10,"v3":10}}`, nil); code != 409 {
		t.Fatalf("weight for a registered version: %d, want 409", code)
	}
	if code := api(t, "POST", base+"/versions/v3/validate", token, "", nil); code != 409 {
		t.Fatalf("validate before verify: %d, want 409", code)
	}

	// An unsafe pickle in the artifact: refused, with where.
	evil, _ := os.ReadFile("../controlplane/internal/registry/testdata/os_system_p2.pkl")
	if err := os.WriteFile(filepath.Join(artifact, "optimizer.pt"), evil, 0o644); err != nil {
		t.Fatal(err)
	}
	type view struct {
		State  string
		Record struct {
			Verification struct {
				OK       bool
				Problems []string
			}
			Validation struct {
				OK     bool
				Checks []struct {
					Name, Detail string
					OK           bool
				}
			}
		}
	}
	var v view
	if code := api(t, "POST", base+"/versions/v3/verify", token, "", &v); code != 422 || v.State != "registered" {
		t.Fatalf("verify with an unsafe pickle: %d %+v", code, v)
	}
	if p := strings.Join(v.Record.Verification.Problems, "; "); !strings.Contains(p, "optimizer.pt: unsafe pickle: GLOBAL posix.system at offset 2") {
		t.Errorf("problems %q", p)
	}
	if err := os.Remove(filepath.Join(artifact, "optimizer.pt")); err != nil {
		t.Fatal(err)
	}
	v = view{}
	if code := api(t, "POST", base+"/versions/v3/verify", token, "", &v); code != 200 || v.State != "verified" {
		t.Fatalf("verify: %d %+v", code, v)
	}
	v = view{}
	if code := api(t, "POST", base+"/versions/v3/validate", token, "", &v); code != 200 || v.State != "validated" {
		t.Fatalf("validate: %d %+v", code, v)
	}
	names := map[string]bool{}
	for _, c := range v.Record.Validation.Checks {
		names[c.Name] = c.OK
	}
	for _, n := range []string{"input-validation", "output-stability", "resource-use", "pii-echo"} {
		if !names[n] {
			t.Errorf("check %s missing or failed: %+v", n, v.Record.Validation.Checks)
		}
	}
	var report map[string]any
	if code := api(t, "GET", base+"/versions/v3/validation", token, "", &report); code != 200 || report["state"] != "validated" {
		t.Errorf("validation report: %d %v", code, report)
	}
	if code := api(t, "PUT", base+"/traffic", token, `{"weights":{"v1":80,"v2":10,"v3":10}}`, nil); code != 200 {
		t.Fatalf("weight for a validated version: %d, want 200", code)
	}
	var audit struct {
		Records []struct{ Action, Target string }
	}
	api(t, "GET", "http://"+m.admin+"/api/v1/admin/audit", token, "", &audit)
	var got []string
	for _, r := range audit.Records {
		if strings.HasPrefix(r.Action, "version.") {
			got = append(got, r.Action)
		}
	}
	if strings.Join(got, ",") != "version.registered,version.verified,version.validated" {
		t.Errorf("audited %v", got)
	}
}

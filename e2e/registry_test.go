package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
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
	t.Parallel()
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
	// The model's publisher's key: signatures must verify with it.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	pub, _ := x509.MarshalPKIXPublicKey(key.Public())
	keyFile, pubFile := filepath.Join(m.dir, "signing.key"), filepath.Join(m.dir, "signing.pub")
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	_ = os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644)

	start(t, filepath.Join(bin, "nexus-backend"), "--model", "triage", "--version", "v1", "--addr", m.backend1)
	waitHTTP(t, "http://"+m.backend1+"/readyz")
	// The built-in model answers each version in its own words (so traffic
	// tests can tell them apart): its versions overlap by about 0.15.
	_, token := m.startControlPlane(t, bin, "--validation-similarity", "0.1", "--model-signing-key", pubFile)
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
	// Unsigned: refused, since the control plane requires signatures.
	v = view{}
	if code := api(t, "POST", base+"/versions/v3/verify", token, "", &v); code != 422 || !strings.Contains(strings.Join(v.Record.Verification.Problems, ";"), "unsigned") {
		t.Fatalf("verify unsigned: %d %+v", code, v)
	}
	// Signed with nexusctl, then a file changed after signing: refused,
	// naming it.
	sign := exec.Command(filepath.Join(bin, "nexusctl"), "model", "sign", artifact, "--key", keyFile)
	if out, err := sign.CombinedOutput(); err != nil || !strings.Contains(string(out), "signed "+artifact) {
		t.Fatalf("nexusctl model sign: %v\n%s", err, out)
	}
	orig, _ := os.ReadFile(filepath.Join(artifact, "good.safetensors"))
	tampered := append([]byte(nil), orig...)
	tampered[len(tampered)-1] ^= 1
	_ = os.WriteFile(filepath.Join(artifact, "good.safetensors"), tampered, 0o644)
	v = view{}
	if code := api(t, "POST", base+"/versions/v3/verify", token, "", &v); code != 422 || !strings.Contains(strings.Join(v.Record.Verification.Problems, ";"), "good.safetensors") {
		t.Fatalf("verify tampered: %d %+v", code, v)
	}
	_ = os.WriteFile(filepath.Join(artifact, "good.safetensors"), orig, 0o644)
	v = view{}
	if code := api(t, "POST", base+"/versions/v3/verify", token, "", &v); code != 200 || v.State != "verified" {
		t.Fatalf("verify: %d %+v", code, v)
	}
	// The candidate backend serves the verified files, and says so.
	start(t, filepath.Join(bin, "nexus-backend"), "--model", "triage", "--version", "v3", "--addr", backend3, "--artifact", artifact)
	waitHTTP(t, "http://"+backend3+"/readyz")
	v = view{}
	if code := api(t, "POST", base+"/versions/v3/validate", token, "", &v); code != 200 || v.State != "validated" {
		t.Fatalf("validate: %d %+v", code, v)
	}
	names := map[string]bool{}
	for _, c := range v.Record.Validation.Checks {
		names[c.Name] = c.OK
	}
	for _, n := range []string{"artifact-digest", "input-validation", "output-stability", "resource-use", "pii-echo"} {
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
	// Three refused verifications (unsafe pickle, unsigned, tampered), each
	// audited with its evidence, then the two that passed.
	if strings.Join(got, ",") != "version.registered,version.registered,version.registered,version.verified,version.validated" {
		t.Errorf("audited %v", got)
	}
}

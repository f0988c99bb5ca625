package piiguard_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/secureai-nexus/nexus/filters/piiguard"
)

// TestControlPlaneConfigIsAccepted reads the plugin configurations the
// control plane generates (its translation golden files) and checks the
// filter accepts every one: the two sides of the contract stay in step.
func TestControlPlaneConfigIsAccepted(t *testing.T) {
	files, err := filepath.Glob("../../controlplane/internal/translate/testdata/*.listeners.golden.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no control plane golden files: %v", err)
	}
	re := regexp.MustCompile(`value: '(\{"model".*\})'`)
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllSubmatch(b, -1) {
			n++
			if _, _, err := piiguard.ParseConfig(m[1]); err != nil {
				t.Errorf("%s: the filter refuses the control plane's configuration %s: %v", f, m[1], err)
			}
		}
	}
	if n == 0 {
		t.Fatal("found no piiguard configurations in the golden files")
	}
}

// FuzzParseConfig: any configuration bytes give a policy or an error
// naming the problem, never a panic.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(config))
	f.Add([]byte(`{"modes":{"EMAIL":"hash"},"hash_key":"k"}`))
	f.Add([]byte(`{"max_body_bytes":-1}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, c, err := piiguard.ParseConfig(raw)
		if err == nil && (p == nil || c == nil || c.MaxBodyBytes <= 0) {
			t.Fatalf("accepted %q without a usable policy", raw)
		}
	})
}

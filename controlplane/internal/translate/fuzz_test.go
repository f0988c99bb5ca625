package translate_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
	"github.com/secureai-nexus/nexus/controlplane/internal/translate"
	"github.com/secureai-nexus/nexus/controlplane/internal/xdscheck"
)

// FuzzTranslate feeds raw mesh documents through loading and translation:
// whatever loads must translate without error into resources Envoy accepts.
func FuzzTranslate(f *testing.F) {
	in, _ := filepath.Glob("testdata/*.in.yaml")
	for _, p := range in {
		b, err := os.ReadFile(p)
		if err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := mesh.Parse(data, "/")
		if err != nil {
			return
		}
		res, err := translate.Translate(m)
		if err != nil {
			t.Fatalf("a valid mesh failed to translate: %v", err)
		}
		for id, r := range res {
			for _, l := range r.Listeners {
				if err := xdscheck.Validate(l); err != nil {
					t.Fatalf("%s: %v", id, err)
				}
			}
			for _, c := range r.Routes {
				if err := xdscheck.Validate(c); err != nil {
					t.Fatalf("%s: %v", id, err)
				}
			}
			for _, c := range r.Clusters {
				if err := xdscheck.Validate(c); err != nil {
					t.Fatalf("%s: %v", id, err)
				}
			}
			for _, c := range r.Endpoints {
				if err := xdscheck.Validate(c); err != nil {
					t.Fatalf("%s: %v", id, err)
				}
			}
		}
	})
}

package translate_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
)

// TestSPIREEntriesCoverTheMesh keeps spire/entries.json in step with
// spire/mesh.yaml: every SPIFFE id the SPIRE-mode mesh makes a workload
// present has a registration entry, or that workload would get no SVID.
func TestSPIREEntriesCoverTheMesh(t *testing.T) {
	m, err := mesh.LoadFile("../../../spire/mesh.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if m.Identity.Provider != mesh.IdentitySPIRE {
		t.Fatalf("spire/mesh.yaml uses %q", m.Identity.Provider)
	}
	raw, err := os.ReadFile("../../../spire/entries.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Entries []struct {
			SPIFFEID  string `json:"spiffe_id"`
			ParentID  string `json:"parent_id"`
			Selectors []struct {
				Type, Value string
			} `json:"selectors"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("entries.json: %v", err)
	}
	registered := map[string]bool{}
	for _, e := range doc.Entries {
		if e.ParentID == "" || len(e.Selectors) == 0 {
			t.Errorf("entry %s has no parent or no selector", e.SPIFFEID)
		}
		registered[e.SPIFFEID] = true
	}
	want := []string{m.ControlPlane.SPIFFEID, m.ExtAuthz.SPIFFEID}
	for _, n := range m.Nodes() {
		want = append(want, n.SPIFFEID)
	}
	for _, md := range m.Models {
		for _, v := range md.Versions {
			want = append(want, v.SPIFFEID)
		}
	}
	for _, id := range want {
		if !registered[id] {
			t.Errorf("%s has no registration entry in spire/entries.json", id)
		}
	}
}

package translate_test

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
	"github.com/secureai-nexus/nexus/controlplane/internal/translate"
)

// TestUnvalidatedVersionsGetNoTraffic is the life-cycle invariant as a
// property: whatever weights and states a mesh holds — even ones its
// validation would refuse, set on the model directly — every route gives
// a version that is not validated or serving a weight of 0.
func TestUnvalidatedVersionsGetNoTraffic(t *testing.T) {
	ins, _ := filepath.Glob("testdata/*.in.yaml")
	rng := rand.New(rand.NewPCG(7, 11))
	checked, mirrored := 0, 0
	for _, in := range ins {
		b, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		base, err := mesh.Parse(b, "/")
		if err != nil {
			continue // the invalid inputs of the golden tests
		}
		for trial := range 200 {
			m := *base
			m.Models = append([]mesh.Model(nil), base.Models...)
			for i := range m.Models {
				vs := append([]mesh.Version(nil), m.Models[i].Versions...)
				for j := range vs {
					vs[j].State = mesh.VersionStates[rng.IntN(len(mesh.VersionStates))]
					vs[j].Weight = uint32(rng.IntN(101))
					vs[j].Mirror = uint32(rng.IntN(3) * 25)
				}
				m.Models[i].Versions = vs
			}
			res, err := translate.Translate(&m)
			if err != nil {
				t.Fatalf("%s trial %d: %v", in, trial, err)
			}
			servable := map[string]bool{}
			for _, md := range m.Models {
				for _, v := range md.Versions {
					servable[translate.ModelVersionCluster(md.Name, v.Name)] = v.MayServe()
				}
			}
			for node, r := range res {
				for _, rc := range r.Routes {
					for _, vh := range rc.VirtualHosts {
						for _, rt := range vh.Routes {
							wc := rt.GetRoute().GetWeightedClusters()
							for _, c := range wc.GetClusters() {
								ok, known := servable[c.Name]
								if known && !ok && c.GetWeight().GetValue() != 0 {
									t.Fatalf("%s trial %d, node %s: cluster %s of a version that may not serve has weight %d", in, trial, node, c.Name, c.GetWeight().GetValue())
								}
								checked++
							}
							for _, mp := range rt.GetRoute().GetRequestMirrorPolicies() {
								if ok, known := servable[mp.GetCluster()]; !known || !ok {
									t.Fatalf("%s trial %d: mirror to %s, a version that may not serve", in, trial, mp.GetCluster())
								}
								mirrored++
							}
						}
					}
				}
			}
		}
	}
	if checked == 0 || mirrored == 0 {
		t.Fatalf("%d weighted clusters and %d mirrors checked: the property saw nothing", checked, mirrored)
	}
}

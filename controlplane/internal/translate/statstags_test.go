package translate_test

import (
	"regexp"
	"slices"
	"testing"

	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
	"github.com/secureai-nexus/nexus/controlplane/internal/translate"
)

// TestStatsTags applies the bootstrap's tag specifiers to piiguard's stat
// names as Envoy does (each regex matched against the full name; the
// first group is cut from the name, the second is the tag's value), so the
// series the dashboards, alerts and data-protection gate query exist.
func TestStatsTags(t *testing.T) {
	m, err := mesh.LoadFile("../../../examples/mesh.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bs, err := translate.Bootstrap(m, m.Nodes()[0].ID, testCreds)
	if err != nil {
		t.Fatal(err)
	}
	specs := bs.GetStatsConfig().GetStatsTags()
	var names []string
	for _, s := range specs {
		if slices.Contains(names, s.GetTagName()) {
			t.Fatalf("tag %q is specified twice: Envoy refuses the bootstrap", s.GetTagName())
		}
		names = append(names, s.GetTagName())
	}
	extract := func(stat string) (string, map[string]string) {
		tags := map[string]string{}
		cut := make([]bool, len(stat))
		for _, s := range specs {
			m := regexp.MustCompile(s.GetRegex()).FindStringSubmatchIndex(stat)
			if len(m) < 6 || m[2] < 0 {
				continue
			}
			tags[s.GetTagName()] = stat[m[4]:m[5]]
			for i := m[2]; i < m[3]; i++ {
				cut[i] = true
			}
		}
		var out []byte
		for i := range stat {
			if !cut[i] {
				out = append(out, stat[i])
			}
		}
		return string(out), tags
	}
	for stat, want := range map[string]struct {
		name string
		tags map[string]string
	}{
		"wasmcustom.piiguard.findings.class.EMAIL":                       {"wasmcustom.piiguard.findings", map[string]string{"class": "EMAIL"}},
		"wasmcustom.piiguard.actions.mode.tokenize":                      {"wasmcustom.piiguard.actions", map[string]string{"mode": "tokenize"}},
		"wasmcustom.piiguard.answers.findings.class.US_SSN":              {"wasmcustom.piiguard.answers.findings", map[string]string{"class": "US_SSN"}},
		"wasmcustom.piiguard.answers.leaked.model.triage.version.v2":     {"wasmcustom.piiguard.answers.leaked", map[string]string{"model": "triage", "version": "v2"}},
		"wasmcustom.piiguard.answers.scanned.model.triage.version.2.1.0": {"wasmcustom.piiguard.answers.scanned", map[string]string{"model": "triage", "version": "2.1.0"}},
		"wasmcustom.piiguard.requests.scanned":                           {"wasmcustom.piiguard.requests.scanned", map[string]string{}},
	} {
		name, tags := extract(stat)
		if name != want.name || len(tags) != len(want.tags) {
			t.Errorf("%s → %s %v, want %s %v", stat, name, tags, want.name, want.tags)
			continue
		}
		for k, v := range want.tags {
			if tags[k] != v {
				t.Errorf("%s → %v, want %v", stat, tags, want.tags)
			}
		}
	}
}

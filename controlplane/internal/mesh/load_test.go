package mesh_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
)

const valid = `
trustDomain: nexus.local
piiGuard: {wasm: piiguard.wasm}
services:
  - {name: frontdesk, appPort: 9000, inbound: 127.0.0.1:15006, outbound: 127.0.0.1:15001}
models:
  - name: triage
    hosts: [triage.models.nexus.local]
    sidecar: 127.0.0.1:10000
    policy: nexus.models.triage
    pii: {EMAIL: tokenize}
    versions:
      - {name: v1, weight: 90, endpoints: [127.0.0.1:8001]}
      - {name: v2, weight: 10, endpoints: [127.0.0.1:8002]}
`

func TestParseValid(t *testing.T) {
	m, err := mesh.Parse([]byte(valid), "/etc/nexus")
	if err != nil {
		t.Fatal(err)
	}
	if got := m.PIIGuard.WasmPath; got != "/etc/nexus/piiguard.wasm" {
		t.Errorf("wasm path = %q, want it resolved against the base dir", got)
	}
	if got := m.Services[0].SPIFFEID; got != "spiffe://nexus.local/service/frontdesk" {
		t.Errorf("default service SPIFFE id = %q", got)
	}
	if got := m.Models[0].Versions[1].SPIFFEID; got != "spiffe://nexus.local/model/triage/v2" {
		t.Errorf("default version SPIFFE id = %q", got)
	}
	if m.ExtAuthz.Address.String() != "127.0.0.1:9191" || m.ExtAuthz.Timeout != mesh.DefaultExtAuthzTimeout {
		t.Errorf("ext_authz defaults = %+v", m.ExtAuthz)
	}
	nodes := m.Nodes()
	if len(nodes) != 2 || nodes[0].ID != "model~triage" || nodes[1].ID != "service~frontdesk" {
		t.Errorf("nodes = %+v", nodes)
	}
}

// TestParseErrors pins that each mistake is reported at its path, and that
// all of a document's mistakes are reported together.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(string) string
		want []string
	}{
		{"weight out of range", r("weight: 10,", "weight: 101,"), []string{"models[0].versions[1].weight: must be 0..100, got 101"}},
		{"negative weight", r("weight: 10,", "weight: -5,"), []string{"models[0].versions[1].weight: must be 0..100, got -5"}},
		{"weights do not sum", r("weight: 10,", "weight: 5,"), []string{"models[0].versions: weights sum to 95; they must sum to 100"}},
		{"missing weight", r("weight: 10, ", ""), []string{"models[0].versions[1].weight: is required"}},
		{"duplicate version", r("name: v2", "name: v1"), []string{`models[0].versions[1].name: version "v1" is listed twice`}},
		{"bad endpoint", r("127.0.0.1:8002", "127.0.0.1"), []string{`models[0].versions[1].endpoints[0]: "127.0.0.1" is not host:port`}},
		{"bad port", r("127.0.0.1:8002", "127.0.0.1:99999"), []string{`models[0].versions[1].endpoints[0]: "127.0.0.1:99999" has an invalid port`}},
		{"unknown pii class", r("EMAIL: tokenize", "EMALE: tokenize"), []string{"models[0].pii.EMALE: unknown data class"}},
		{"unknown pii mode", r("EMAIL: tokenize", "EMAIL: shred"), []string{`models[0].pii.EMAIL: mode must be one of tokenize, redact, hash, block, report; got "shred"`}},
		{"bad model name", r("name: triage", "name: Triage_Model"), []string{`models[0].name: "Triage_Model" must be a DNS label`}},
		{"bad policy", r("policy: nexus.models.triage", "policy: nexus/models"), []string{`models[0].policy: "nexus/models" is not a Rego package path`}},
		{"foreign spiffe id", r("name: frontdesk,", "name: frontdesk, spiffeId: spiffe://evil.org/x,"), []string{`services[0].spiffeId: "spiffe://evil.org/x" is outside the mesh trust domain "nexus.local"`}},
		{"non-loopback outbound", r("outbound: 127.0.0.1:15001", "outbound: 10.0.0.1:15001"), []string{"services[0].outbound: must be a loopback address"}},
		{"port clash", r("inbound: 127.0.0.1:15006", "inbound: 127.0.0.1:10000"), []string{"models[0].sidecar: address 127.0.0.1:10000 is already used by services[0].inbound"}},
		{"no models", func(s string) string { return s[:strings.Index(s, "models:")] }, []string{"models: at least one model is required"}},
		{"unknown field", r("trustDomain:", "trustDomian: x\ntrustDomain:"), []string{`trustDomian: unknown field (line 2); did you mean "trustDomain"?`}},
		{"hash without key", r("EMAIL: tokenize", "EMAIL: hash"), []string{"models[0].pii.EMAIL: hash mode needs a key: set piiGuard.hashKeyFile"}},
		{"unreadable hash key", r("piiGuard: {wasm: piiguard.wasm}", "piiGuard: {wasm: piiguard.wasm, hashKeyFile: /nonexistent/key}"), []string{"piiGuard.hashKeyFile: cannot read /nonexistent/key"}},
		{"missing wasm", r("piiGuard: {wasm: piiguard.wasm}", ""), []string{"piiGuard.wasm: is required"}},
		{"mirror out of range", r("weight: 10,", "weight: 10, mirror: 150,"), []string{"models[0].versions[1].mirror: must be 0..100 (percent of the model's requests), got 150"}},
		{"mirror to an unvalidated version", r("weight: 10,", "weight: 0, mirror: 20, state: verified,"), []string{"models[0].versions[1].mirror: version v2 is verified: it may receive mirrored traffic only once validated"}},
		{"wrong type", r("appPort: 9000", "appPort: nine"), []string{"cannot unmarshal !!str `nine` into int64"}},
		{"every problem at once", func(s string) string {
			return r("weight: 10,", "weight: 200,")(r("EMAIL: tokenize", "EMAIL: shred")(r("trustDomain: nexus.local", "trustDomain: Nexus Local")(s)))
		}, []string{
			"trustDomain: \"Nexus Local\" is not a SPIFFE trust domain",
			"models[0].pii.EMAIL: mode must be one of",
			"models[0].versions[1].weight: must be 0..100, got 200",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := mesh.Parse([]byte(tt.edit(valid)), "")
			if err == nil {
				t.Fatalf("accepted an invalid mesh: %+v", m)
			}
			if m != nil {
				t.Fatal("a rejected mesh must not be returned half-loaded")
			}
			var ve *mesh.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %T is not a *ValidationError: %v", err, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

func r(old, new string) func(string) string {
	return func(s string) string {
		if !strings.Contains(s, old) {
			panic("test edit does not apply: " + old)
		}
		return strings.Replace(s, old, new, 1)
	}
}

func TestLoadFileNamesTheFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "mesh.yaml")
	if err := os.WriteFile(p, []byte(r("weight: 10,", "weight: 101,")(valid)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := mesh.LoadFile(p)
	if err == nil || !strings.HasPrefix(err.Error(), p+": 1 problem:") {
		t.Fatalf("error should start with the file name: %v", err)
	}
}

func TestExampleMeshLoads(t *testing.T) {
	if _, err := mesh.LoadFile("../../../examples/mesh.yaml"); err != nil {
		t.Fatal(err)
	}
}

func TestValidateWeights(t *testing.T) {
	m, err := mesh.Parse([]byte(valid), "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		model   string
		weights map[string]int64
		want    string
	}{
		{"ok", "triage", map[string]int64{"v1": 50, "v2": 50}, ""},
		{"omitted version drains", "triage", map[string]int64{"v2": 100}, ""},
		{"unknown model", "nope", map[string]int64{"v1": 100}, "unknown model"},
		{"unknown version", "triage", map[string]int64{"v1": 50, "v3": 50}, `weights.v3: model "triage" has no version "v3"`},
		{"bad sum", "triage", map[string]int64{"v1": 50, "v2": 40}, "weights: sum to 90; they must sum to 100"},
		{"negative", "triage", map[string]int64{"v1": 110, "v2": -10}, "weights.v2: must be 0..100, got -10"},
		{"empty", "triage", map[string]int64{}, "weights: is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.ValidateWeights(tt.model, tt.weights)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				var sum uint32
				for _, w := range got {
					sum += w
				}
				if sum != 100 || len(got) != 2 {
					t.Errorf("weights = %v", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// FuzzParse feeds arbitrary documents through loading: it must never panic,
// and whatever it accepts must satisfy the invariants translation relies on.
func FuzzParse(f *testing.F) {
	f.Add([]byte(valid))
	if b, err := os.ReadFile("../../../examples/mesh.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("models: [{versions: [{weight: 100}]}]"))
	f.Add([]byte("{{{{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := mesh.Parse(data, "")
		if err != nil {
			if m != nil {
				t.Fatal("error with a non-nil mesh")
			}
			return
		}
		for _, md := range m.Models {
			var sum uint32
			for _, v := range md.Versions {
				sum += v.Weight
				if len(v.Endpoints) == 0 {
					t.Fatal("accepted a version without endpoints")
				}
			}
			if sum != 100 || len(md.Hosts) == 0 {
				t.Fatalf("accepted model %s with weights summing to %d", md.Name, sum)
			}
		}
	})
}

// TestUnknownKeysWithEveryProblem: misspelled keys are reported with their
// paths and a suggestion, together with the document's other problems, in
// one run; no Go type names appear.
func TestUnknownKeysWithEveryProblem(t *testing.T) {
	doc := `trustDomain: nexus.local
models:
  - name: triage
    sidecar: {address: 127.0.0.1:15006}
    versions:
      - {name: v1, weight: 90, endpoints: [127.0.0.1:9001]}
      - {name: v2, wieght: 10, endpoints: [127.0.0.1:9002]}
    polcy: strict
`
	_, err := mesh.Parse([]byte(doc), "")
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		`models[0].versions[1].wieght: unknown field (line 7); did you mean "weight"?`,
		`models[0].polcy: unknown field (line 8)`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not mention %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "mesh.") || strings.Contains(msg, "File") {
		t.Errorf("error names Go types:\n%s", msg)
	}
	var ve *mesh.ValidationError
	if !errors.As(err, &ve) || len(ve.Errors) < 3 {
		t.Errorf("want the typos and the value problems together, got %v", err)
	}
}

// TestTabPosition: a tab in the indentation is reported on its own line,
// with its column.
func TestTabPosition(t *testing.T) {
	_, err := mesh.Parse([]byte("trustDomain: x\nmodels:\n  - name: a\n\t  versions: []\n"), "")
	if err == nil || !strings.Contains(err.Error(), "line 4, column 1: a tab in the indentation") {
		t.Errorf("err = %v, want the tab at line 4, column 1", err)
	}
}

// An unfinished flow collection is reported where it breaks, not on the
// line before it opened (where the parser was when it began).
func TestFlowCollectionErrorPosition(t *testing.T) {
	for _, tc := range []struct {
		doc, want string
	}{
		{"trustDomain: x\nmodels:\n  - {name: v2, weight: 10 endpoints: [x]}\n",
			"line 3, column 27: did not find expected ',' or '}' (the flow collection opened at line 3, column 5)"},
		{"trustDomain: x\npiiGuard: {wasm: a.wasm,\n  hashKeyId: k\nmodels: []\n",
			"line 4, column 1: did not find expected ',' or '}' (the flow collection opened at line 2, column 11)"},
		{"trustDomain: x\nmodels:\n  - name: a\n    hosts: [a.example, b.example\n    policy: p\n",
			"line 5, column 5: did not find expected ',' or ']' (the flow collection opened at line 4, column 12)"},
	} {
		_, err := mesh.Parse([]byte(tc.doc), "")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %s", tc.doc, err, tc.want)
		}
	}
}

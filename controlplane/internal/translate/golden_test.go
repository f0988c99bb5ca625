package translate_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
	"github.com/secureai-nexus/nexus/controlplane/internal/translate"
	"github.com/secureai-nexus/nexus/controlplane/internal/xdscheck"
)

var update = flag.Bool("update", false, "rewrite golden files from the current translation")

// outputs are the golden files written per case, one per xDS type.
func cases(t *testing.T) []string {
	t.Helper()
	in, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil || len(in) == 0 {
		t.Fatalf("no golden inputs in testdata: %v", err)
	}
	return in
}

func translateFile(t *testing.T, path string) (*mesh.Mesh, map[string]*translate.Resources) {
	t.Helper()
	m, err := mesh.LoadFile(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	res, err := translate.Translate(m)
	if err != nil {
		t.Fatalf("translate %s: %v", path, err)
	}
	return m, res
}

func render[T proto.Message](t *testing.T, m *mesh.Mesh, res map[string]*translate.Resources, pick func(*translate.Resources) []T) []byte {
	t.Helper()
	byNode := map[string][]json.RawMessage{}
	for _, n := range m.Nodes() {
		items := []json.RawMessage{}
		for _, r := range pick(res[n.ID]) {
			j, err := translate.ToJSON(r)
			if err != nil {
				t.Fatal(err)
			}
			items = append(items, j)
		}
		byNode[n.ID] = items
	}
	y, err := translate.ToYAML(byNode)
	if err != nil {
		t.Fatal(err)
	}
	return y
}

// testCreds stand in for what the control plane writes to its data dir.
var testCreds = translate.BootstrapCredentials{BundleSDSFile: "/var/lib/nexus/sds/bundle.json", Token: "node-credential-for-tests"}

func renderAll(t *testing.T, m *mesh.Mesh, res map[string]*translate.Resources) map[string][]byte {
	secrets := map[string][]string{}
	for id, r := range res {
		secrets[id] = r.Secrets
	}
	sy, err := translate.ToYAML(secrets)
	if err != nil {
		t.Fatal(err)
	}
	boots := map[string]json.RawMessage{}
	for _, n := range m.Nodes() {
		bs, err := translate.Bootstrap(m, n.ID, testCreds)
		if err != nil {
			t.Fatal(err)
		}
		if err := xdscheck.Validate(bs); err != nil {
			t.Errorf("bootstrap %s: %v", n.ID, err)
		}
		j, err := translate.ToJSON(bs)
		if err != nil {
			t.Fatal(err)
		}
		boots[n.ID] = j
	}
	by, err := translate.ToYAML(boots)
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"listeners": render(t, m, res, func(r *translate.Resources) []proto.Message { return msgs(r.Listeners) }),
		"routes":    render(t, m, res, func(r *translate.Resources) []proto.Message { return msgs(r.Routes) }),
		"clusters":  render(t, m, res, func(r *translate.Resources) []proto.Message { return msgs(r.Clusters) }),
		"endpoints": render(t, m, res, func(r *translate.Resources) []proto.Message { return msgs(r.Endpoints) }),
		"secrets":   sy,
		"bootstrap": by,
	}
}

func msgs[T proto.Message](in []T) []proto.Message {
	out := make([]proto.Message, len(in))
	for i, m := range in {
		out[i] = m
	}
	return out
}

// TestGolden compares the translation of every testdata/*.in.yaml with its
// golden files. go test ./internal/translate -run TestGolden -update
// rewrites them and deletes outputs whose input is gone.
func TestGolden(t *testing.T) {
	inputs := cases(t)
	want := map[string]bool{}
	for _, in := range inputs {
		base := strings.TrimSuffix(in, ".in.yaml")
		t.Run(filepath.Base(base), func(t *testing.T) {
			m, res := translateFile(t, in)
			for typ, got := range renderAll(t, m, res) {
				golden := base + "." + typ + ".golden.yaml"
				want[golden] = true
				if *update {
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				exp, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if string(exp) != string(got) {
					t.Errorf("%s differs from the translation; diff it with -update and review:\n%s", golden, firstDiff(string(exp), string(got)))
				}
			}
		})
	}
	if *update {
		orphans, _ := filepath.Glob("testdata/*.golden.yaml")
		for _, o := range orphans {
			if !want[o] {
				if err := os.Remove(o); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return "line " + strconv.Itoa(i+1) + ":\n  golden: " + x + "\n  got:    " + y
		}
	}
	return ""
}

// TestEveryResourceValidates enforces, for every golden case, that each
// generated resource passes its proto constraints and that every packed
// config resolves to a registered Envoy type that validates too.
func TestEveryResourceValidates(t *testing.T) {
	for _, in := range cases(t) {
		t.Run(filepath.Base(in), func(t *testing.T) {
			_, res := translateFile(t, in)
			for id, r := range res {
				all := append(append(append(msgs(r.Listeners), msgs(r.Routes)...), msgs(r.Clusters)...), msgs(r.Endpoints)...)
				if len(r.Listeners) == 0 || len(r.Routes) == 0 || len(r.Clusters) == 0 {
					t.Errorf("node %s: missing listeners, routes or clusters", id)
				}
				for _, m := range all {
					if err := xdscheck.Validate(m); err != nil {
						t.Errorf("node %s: %v", id, err)
					}
				}
			}
		})
	}
}

// TestDeterministic translates each case repeatedly: Go randomizes map
// iteration, so any map-order leak shows up as differing bytes.
func TestDeterministic(t *testing.T) {
	for _, in := range cases(t) {
		m, first := translateFile(t, in)
		want := renderAll(t, m, first)
		for i := 0; i < 20; i++ {
			res, err := translate.Translate(m)
			if err != nil {
				t.Fatal(err)
			}
			for typ, got := range renderAll(t, m, res) {
				if string(got) != string(want[typ]) {
					t.Fatalf("%s: %s changed between two translations of the same mesh", in, typ)
				}
			}
			for id, r := range res {
				for i, c := range r.Clusters {
					a, _ := proto.MarshalOptions{Deterministic: true}.Marshal(c)
					b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(first[id].Clusters[i])
					if string(a) != string(b) {
						t.Fatalf("%s: cluster %s bytes differ between translations", in, c.Name)
					}
				}
			}
		}
	}
}

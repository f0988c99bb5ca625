package compat

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/secureai-nexus/nexus/authz/internal/compat/internal/protoset"
)

func mustDecode(t *testing.T, s string) map[string]any {
	t.Helper()
	m, err := decodeObject([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func paths(ds []Difference) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Path
	}
	return out
}

func TestNormalizeSortsMapOrderedListsAndDropsNexusHeader(t *testing.T) {
	nexus := Outcome{Name: "x", Response: mustDecode(t, `{
		"status": {"code": 7},
		"dynamicMetadata": {"decision_id": "abc", "k": 1},
		"deniedResponse": {"headers": [
			{"header": {"key": "y", "value": "1"}},
			{"header": {"key": "x-nexus-decision-id", "value": "abc"}},
			{"header": {"key": "x", "value": "2"}},
			{"header": {"key": "x", "value": "1"}}
		]}
	}`)}
	opa := Outcome{Name: "x", Response: mustDecode(t, `{
		"status": {"code": 7},
		"dynamicMetadata": {"decision_id": "f847a060", "k": 1.0},
		"deniedResponse": {"headers": [
			{"header": {"key": "x", "value": "2"}},
			{"header": {"key": "y", "value": "1"}},
			{"header": {"key": "x", "value": "1"}}
		]}
	}`)}
	if ds := CompareOutcome(NormalizeOPAEnvoy(opa), NormalizeNexus(nexus)); len(ds) != 0 {
		t.Fatalf("want no differences, got %v", ds)
	}
	if got := lookup(NormalizeNexus(nexus).Response, "dynamicMetadata", "decision_id"); got != DecisionIDPlaceholder {
		t.Errorf("decision_id = %v, want the placeholder", got)
	}
	// The input is not changed.
	if got := lookup(nexus.Response, "dynamicMetadata", "decision_id"); got != "abc" {
		t.Errorf("normalising changed its input: decision_id = %v", got)
	}
	// Values of one key keep their order: x=2 before x=1 is a difference
	// from x=1 before x=2.
	swapped := Outcome{Name: "x", Response: mustDecode(t, `{
		"status": {"code": 7},
		"dynamicMetadata": {"decision_id": "q", "k": 1},
		"deniedResponse": {"headers": [
			{"header": {"key": "x", "value": "1"}},
			{"header": {"key": "x", "value": "2"}},
			{"header": {"key": "y", "value": "1"}}
		]}
	}`)}
	ds := CompareOutcome(NormalizeOPAEnvoy(opa), NormalizeNexus(swapped))
	if want := []string{"$.deniedResponse.headers[0].header.value", "$.deniedResponse.headers[1].header.value"}; !slices.Equal(paths(ds), want) {
		t.Errorf("differences at %v, want %v", paths(ds), want)
	}
}

func TestCompareDecisionIDPresence(t *testing.T) {
	with := NormalizeOPAEnvoy(Outcome{Response: mustDecode(t, `{"status": {}, "dynamicMetadata": {"decision_id": "a"}}`)})
	without := NormalizeNexus(Outcome{Response: mustDecode(t, `{"status": {}}`)})
	if ds := CompareOutcome(with, without); !slices.Equal(paths(ds), []string{"$.dynamicMetadata"}) {
		t.Errorf("missing decision_id: differences %v", ds)
	}
	if ds := CompareOutcome(without, with); !slices.Equal(paths(ds), []string{"$.dynamicMetadata"}) {
		t.Errorf("unexpected decision_id: differences %v", ds)
	}
}

func TestCompareAcceptsOnlyFailClosedForAGRPCError(t *testing.T) {
	want := Outcome{Error: &GRPCError{Code: "Unknown", Message: "undefined decision"}}
	failClosed := Outcome{Response: mustDecode(t, `{"status": {"code": 7}, "deniedResponse": {"status": {"code": "Forbidden"}, "body": "denied"}, "dynamicMetadata": {"decision_id": "x"}}`)}
	if ds := CompareOutcome(want, failClosed); len(ds) != 0 {
		t.Errorf("fail-closed answer: %v", ds)
	}
	for name, c := range map[string]struct {
		got   Outcome
		paths []string
	}{
		"allowed":         {Outcome{Response: mustDecode(t, `{"status": {}, "okResponse": {}}`)}, []string{"$.status.code", "$.deniedResponse.status.code", "$.okResponse"}},
		"400":             {Outcome{Response: mustDecode(t, `{"status": {"code": 7}, "deniedResponse": {"status": {"code": "BadRequest"}}}`)}, []string{"$.deniedResponse.status.code"}},
		"denied, no body": {Outcome{Response: mustDecode(t, `{"status": {"code": 7}}`)}, []string{"$.deniedResponse.status.code"}},
		"a gRPC error":    {Outcome{Error: &GRPCError{Code: "Unknown", Message: "undefined decision"}}, []string{"$"}},
	} {
		if ds := CompareOutcome(want, c.got); !slices.Equal(paths(ds), c.paths) {
			t.Errorf("%s: differences at %v, want %v", name, paths(ds), c.paths)
		}
	}
}

func TestCompareReportsEveryDifference(t *testing.T) {
	want := mustDecode(t, `{"a": 1, "b": [1, 2, 3], "c": {"d": "x"}, "e": "gone", "n": 1000, "body": "{\"k\": [1, {\"z\": true}]}"}`)
	got := mustDecode(t, `{"a": 2, "b": [1, 5], "c": {"d": "x", "f": null}, "n": 1e3, "body": "{\"k\":[1,{\"z\":false}]}"}`)
	ds := CompareInput(want, got)
	wantPaths := []string{"$.a", "$.b[1]", "$.b[2]", "$.body<json>.k[1].z", "$.c.f", "$.e"}
	if !slices.Equal(paths(ds), wantPaths) {
		t.Fatalf("differences at %v, want %v", paths(ds), wantPaths)
	}
	if ds[2].Got != absent || ds[4].Want != absent {
		t.Errorf("missing and extra members: %v", ds)
	}
	if ds := CompareInput(nil, nil); len(ds) != 0 {
		t.Errorf("two unbuilt inputs differ: %v", ds)
	}
	if ds := CompareInput(nil, map[string]any{}); len(ds) != 1 {
		t.Errorf("an input built where opa-envoy-plugin refused: %v", ds)
	}
}

func TestProtobufErrorSpace(t *testing.T) {
	nbsp := Outcome{Response: mustDecode(t, `{"status": {"code": 7, "message": "request_parse_error: proto:\u00a0cannot parse"}}`)}
	space := Outcome{Response: mustDecode(t, `{"status": {"code": 7, "message": "request_parse_error: proto: cannot parse"}}`)}
	if ds := CompareOutcome(NormalizeOPAEnvoy(nbsp), NormalizeNexus(space)); len(ds) != 0 {
		t.Errorf("differences %v", ds)
	}
}

func TestFixOPAEnvoyInputDecodesTermEncodedVersion(t *testing.T) {
	logged := mustDecode(t, `{"parsed_path": ["a"], "version": [[{"type":"string","value":"encoding"},{"type":"string","value":"protojson"}],[{"type":"string","value":"ext_authz"},{"type":"string","value":"v3"}]]}`)
	fixed := FixOPAEnvoyInput(logged)
	want := mustDecode(t, `{"parsed_path": ["a"], "version": {"encoding": "protojson", "ext_authz": "v3"}}`)
	if ds := CompareInput(want, fixed); len(ds) != 0 {
		t.Errorf("differences %v", ds)
	}
	if ds := CompareInput(want, NormalizeNexusInput(map[string]any{"parsed_path": []any{"a"}, "version": map[string]any{"encoding": "protojson", "ext_authz": "v3"}, "nexus": map[string]any{}})); len(ds) != 0 {
		t.Errorf("nexus member not dropped: %v", ds)
	}
}

// TestFixtures checks the fixture files: every request decodes, the names
// are unique, both sources are there, and every run has an expectation
// for every fixture.
func TestFixtures(t *testing.T) {
	fixtures := mustFixtures(t)
	var oep, gen int
	for _, f := range fixtures {
		if _, err := f.CheckRequest(); err != nil {
			t.Error(err)
		}
		switch {
		case strings.HasPrefix(f.Name, "oep/"):
			oep++
			if !strings.Contains(f.Source, "opa-envoy-plugin") {
				t.Errorf("%s: source %q does not say where it came from", f.Name, f.Source)
			}
		case strings.HasPrefix(f.Name, "gen/"):
			gen++
		default:
			t.Errorf("%s: neither oep/ nor gen/", f.Name)
		}
	}
	if oep < 40 || gen < 400 {
		t.Errorf("%d fixtures from opa-envoy-plugin, %d generated", oep, gen)
	}
	inputs, err := LoadExpectedInputs(testdata)
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range mustRuns(t) {
		want, err := LoadExpected(testdata, run.Name)
		if err != nil {
			t.Error(err)
			continue
		}
		if _, err := os.Stat(filepath.Join(policyDir(testdata, run.Policy), "SOURCE.md")); err != nil {
			t.Errorf("run %s: policy %s has no SOURCE.md", run.Name, run.Policy)
		}
		for _, f := range fixtures {
			if _, ok := want[f.Name]; !ok {
				t.Errorf("run %s has no expectation for %s", run.Name, f.Name)
			}
		}
	}
	for _, f := range fixtures {
		if _, ok := inputs[f.Name]; !ok {
			t.Errorf("no expected input for %s", f.Name)
		}
	}
}

// TestDescriptorSetIsCurrent checks that testdata/proto/compat.pb is what
// package protoset builds (regenerate with internal/gen), that it
// resolves, and that the .proto text declares every message, enum, field
// and service of the files it describes.
func TestDescriptorSetIsCurrent(t *testing.T) {
	onDisk, err := os.ReadFile(descriptorSet(testdata))
	if err != nil {
		t.Fatal(err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(onDisk, &set); err != nil {
		t.Fatal(err)
	}
	built := protoset.Set()
	own := protoset.Own()
	byName := func(s *descriptorpb.FileDescriptorSet, name string) *descriptorpb.FileDescriptorProto {
		for _, f := range s.GetFile() {
			if f.GetName() == name {
				return f
			}
		}
		return nil
	}
	for _, name := range own {
		if !proto.Equal(byName(&set, name), byName(built, name)) {
			t.Errorf("%s in compat.pb is not what protoset builds: regenerate with go run ./internal/compat/internal/gen", name)
		}
	}
	files, err := protoset.Files()
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	for _, p := range []string{"compat.proto", "book.proto", "example.proto", "kitchensink.proto"} {
		b, err := os.ReadFile(filepath.Join(testdata, "proto", p))
		if err != nil {
			t.Fatal(err)
		}
		text.Write(b)
	}
	declared := func(re string) bool { return regexp.MustCompile(re).Match(text.Bytes()) }
	for _, name := range own {
		fd, err := files.FindFileByPath(name)
		if err != nil {
			t.Fatal(err)
		}
		if !declared(`(?m)^package ` + regexp.QuoteMeta(string(fd.Package())) + `;`) {
			t.Errorf("package %s is not in the .proto text", fd.Package())
		}
		for i := range fd.Services().Len() {
			s := fd.Services().Get(i)
			if !declared(`service ` + string(s.Name()) + ` \{`) {
				t.Errorf("service %s is not in the .proto text", s.FullName())
			}
			for j := range s.Methods().Len() {
				m := s.Methods().Get(j)
				if !declared(`rpc ` + string(m.Name()) + `\(`) {
					t.Errorf("rpc %s is not in the .proto text", m.FullName())
				}
			}
		}
		for i := range fd.Enums().Len() {
			if e := fd.Enums().Get(i); !declared(`enum ` + string(e.Name()) + ` \{`) {
				t.Errorf("enum %s is not in the .proto text", e.FullName())
			}
		}
		for i := range fd.Messages().Len() {
			m := fd.Messages().Get(i)
			if !declared(`message ` + string(m.Name()) + ` \{`) {
				t.Errorf("message %s is not in the .proto text", m.FullName())
			}
			for j := range m.Fields().Len() {
				f := m.Fields().Get(j)
				if !declared(`\b` + string(f.Name()) + ` = ` + jsonInt(int(f.Number())) + `;`) {
					t.Errorf("field %s = %d is not in the .proto text", f.FullName(), f.Number())
				}
				if f.Kind() == protoreflect.MessageKind && f.IsMap() && !declared(`map<`) {
					t.Errorf("map field %s is not in the .proto text", f.FullName())
				}
			}
		}
	}
}

func jsonInt(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestLoadRunsRefusesUnknownOptions checks that a misspelt option in
// runs.json is an error rather than a run without it.
func TestLoadRunsRefusesUnknownOptions(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "runs.json"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`[{"name": "a", "policy": "p", "path": "envoy/authz/allow", "dry_run": true, "skip_request_body_parse": true}]`)
	runs, err := LoadRuns(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || !runs[0].DryRun || !runs[0].SkipRequestBodyParse {
		t.Errorf("runs = %+v", runs)
	}
	for name, s := range map[string]string{
		"opa-envoy-plugin's spelling": `[{"name": "a", "policy": "p", "path": "x", "dry-run": true}]`,
		"a name used twice":           `[{"name": "a", "policy": "p", "path": "x"}, {"name": "a", "policy": "q", "path": "x"}]`,
		"no name":                     `[{"policy": "p", "path": "x"}]`,
	} {
		write(s)
		if _, err := LoadRuns(dir); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// baseRun is the run that serves run's policy the same way without
// dry-run and skip-request-body-parse.
func baseRun(t *testing.T, runs []Run, run Run) Run {
	t.Helper()
	for _, r := range runs {
		if r.Policy == run.Policy && r.Path == run.Path && r.V0Compatible == run.V0Compatible &&
			r.ProtoDescriptor == run.ProtoDescriptor && !r.DryRun && !r.SkipRequestBodyParse {
			return r
		}
	}
	t.Fatalf("run %s: no run of policy %s without its options to compare with", run.Name, run.Policy)
	return Run{}
}

// badRequest is a request_parse_error answer's body, or "" for any other
// outcome.
func badRequest(o Outcome) string {
	if lookup(o.Response, "deniedResponse", "status", "code") != "BadRequest" {
		return ""
	}
	body, _ := lookup(o.Response, "deniedResponse", "body").(string)
	return body
}

// TestRunOptionsShowInExpectations checks, against the run without them,
// that opa-envoy-plugin's answers in testdata/expected were recorded with
// the options runs.json names (so the live driver passed them on): under
// dry-run every denial by the policy is an allow with an empty
// okResponse and the policy's dynamic metadata, and everything else (a
// request_parse_error, a gRPC error, an allow) is unchanged; under
// skip-request-body-parse the only parse errors left are the ones that do
// not come from the body, and some do.
func TestRunOptionsShowInExpectations(t *testing.T) {
	runs := mustRuns(t)
	fixtures := mustFixtures(t)
	var dry, skip int
	for _, run := range runs {
		if !run.DryRun && !run.SkipRequestBodyParse {
			continue
		}
		if run.DryRun && run.SkipRequestBodyParse {
			t.Errorf("run %s: one option a run, so each is compared with the run without it", run.Name)
			continue
		}
		base := baseRun(t, runs, run)
		want, err := LoadExpected(testdata, base.Name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := LoadExpected(testdata, run.Name)
		if err != nil {
			t.Fatal(err)
		}
		changed := 0
		for _, f := range fixtures {
			w, g := want[f.Name], got[f.Name]
			if run.SkipRequestBodyParse {
				skip++
				if body := badRequest(g); body != "" && body != badRequest(w) {
					t.Errorf("%s [%s]: a parse error (%q) the run without skip-request-body-parse does not have", f.Name, run.Name, body)
				}
				if badRequest(w) != "" && badRequest(g) == "" {
					changed++
				}
				continue
			}
			dry++
			denial := w.Error == nil && badRequest(w) == "" && !numberIs(lookup(w.Response, "status", "code"), 0) &&
				lookup(w.Response, "status", "code") != nil
			if !denial {
				if ds := sameOutcome(w, g); len(ds) > 0 {
					t.Errorf("%s [%s]: not a denial, so dry-run must not change it: %v", f.Name, run.Name, ds)
				}
				continue
			}
			changed++
			allowed := map[string]any{"status": map[string]any{}, "okResponse": map[string]any{}}
			if dm, ok := w.Response["dynamicMetadata"]; ok {
				allowed["dynamicMetadata"] = dm
			}
			if ds := sameOutcome(Outcome{Name: f.Name, Response: allowed}, g); len(ds) > 0 {
				t.Errorf("%s [%s]: a denial, so dry-run must allow it keeping only its dynamic metadata: %v", f.Name, run.Name, ds)
			}
		}
		if changed == 0 {
			t.Errorf("run %s: no fixture's answer differs from %s's", run.Name, base.Name)
		}
	}
	if dry == 0 || skip == 0 {
		t.Errorf("runs.json has %d dry-run and %d skip-request-body-parse comparisons; it must have both", dry, skip)
	}
}

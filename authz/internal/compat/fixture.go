package compat

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
)

// Fixture is one CheckRequest to send to both servers.
type Fixture struct {
	Name   string `json:"name"`
	Source string `json:"source,omitempty"`
	// Request is the CheckRequest as protojson.
	Request json.RawMessage `json:"request"`
}

// CheckRequest decodes the fixture's request.
func (f Fixture) CheckRequest() (*authv3.CheckRequest, error) {
	req := &authv3.CheckRequest{}
	if err := protojson.Unmarshal(f.Request, req); err != nil {
		return nil, fmt.Errorf("fixture %s: %w", f.Name, err)
	}
	return req, nil
}

// Run is one policy set served the way opa-envoy-plugin is configured for
// it (testdata/runs.json).
type Run struct {
	Name string `json:"name"`
	// Policy is the directory under testdata/policies.
	Policy string `json:"policy"`
	// Path is opa-envoy-plugin's decision path (envoy/authz/allow); the
	// query is data. followed by it with dots.
	Path         string `json:"path"`
	V0Compatible bool   `json:"v0_compatible"`
	// ProtoDescriptor says whether the run has testdata/proto/compat.pb
	// as its proto-descriptor.
	ProtoDescriptor bool `json:"proto_descriptor"`
	// DryRun is opa-envoy-plugin's dry-run: a denial is answered as an
	// allow (failures are not: see nexusConfig).
	DryRun bool `json:"dry_run,omitempty"`
	// SkipRequestBodyParse is opa-envoy-plugin's skip-request-body-parse:
	// the input has no parsed_body or truncated_body.
	SkipRequestBodyParse bool `json:"skip_request_body_parse,omitempty"`
}

// GRPCError is a Check that failed with a gRPC status rather than
// answering.
type GRPCError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Outcome is how a server answered one fixture: a CheckResponse (as
// protojson, decoded with json.Number) or a gRPC error.
type Outcome struct {
	Name     string         `json:"name"`
	Response map[string]any `json:"response,omitempty"`
	Error    *GRPCError     `json:"error,omitempty"`
}

// InputRecord is the input document a server built for one fixture; nil
// where it refused to build one.
type InputRecord struct {
	Name  string `json:"name"`
	Input any    `json:"input"`
}

// Paths of testdata, relative to dir (the package's testdata directory).
func policyDir(dir, policy string) string { return filepath.Join(dir, "policies", policy) }
func descriptorSet(dir string) string     { return filepath.Join(dir, "proto", "compat.pb") }
func expectedFile(dir, run string) string { return filepath.Join(dir, "expected", run+".jsonl") }
func inputsFile(dir string) string        { return filepath.Join(dir, "expected", "inputs.jsonl") }

// InputsRun is the run whose decision log the expected inputs are read
// from: the probe, with the descriptor set.
const InputsRun = "probe"

// LoadFixtures reads every fixture: opa-envoy-plugin's, then the
// generated ones. Names are unique.
func LoadFixtures(dir string) ([]Fixture, error) {
	var all []Fixture
	for _, name := range []string{"requests-opa-envoy-plugin.jsonl", "requests-generated.jsonl"} {
		fs, err := readJSONL[Fixture](filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		all = append(all, fs...)
	}
	seen := map[string]bool{}
	for _, f := range all {
		if seen[f.Name] {
			return nil, fmt.Errorf("fixture name %q is used twice", f.Name)
		}
		seen[f.Name] = true
	}
	return all, nil
}

// LoadRuns reads testdata/runs.json. An unknown member is an error (a
// misspelt option would otherwise be a run without it), and so is a name
// used twice (each run has its own expectations file).
func LoadRuns(dir string) ([]Run, error) {
	b, err := os.ReadFile(filepath.Join(dir, "runs.json"))
	if err != nil {
		return nil, fmt.Errorf("read runs: %w", err)
	}
	var runs []Run
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&runs); err != nil {
		return nil, fmt.Errorf("parse runs.json: %w", err)
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("parse runs.json: data after the list")
	}
	seen := map[string]bool{}
	for _, r := range runs {
		if r.Name == "" || seen[r.Name] {
			return nil, fmt.Errorf("runs.json: run name %q is empty or used twice", r.Name)
		}
		seen[r.Name] = true
	}
	return runs, nil
}

// LoadExpected reads a run's expected outcomes, keyed by fixture name.
func LoadExpected(dir, run string) (map[string]Outcome, error) {
	outcomes, err := readJSONL[Outcome](expectedFile(dir, run))
	if err != nil {
		return nil, err
	}
	out := make(map[string]Outcome, len(outcomes))
	for _, o := range outcomes {
		out[o.Name] = o
	}
	return out, nil
}

// LoadExpectedInputs reads the expected inputs, keyed by fixture name.
func LoadExpectedInputs(dir string) (map[string]InputRecord, error) {
	rs, err := readJSONL[InputRecord](inputsFile(dir))
	if err != nil {
		return nil, err
	}
	out := make(map[string]InputRecord, len(rs))
	for _, r := range rs {
		out[r.Name] = r
	}
	return out, nil
}

// WriteExpected writes a run's outcomes in fixture order.
func WriteExpected(dir, run string, outcomes []Outcome) error {
	return writeJSONL(expectedFile(dir, run), outcomes)
}

// WriteExpectedInputs writes the inputs in fixture order.
func WriteExpectedInputs(dir string, inputs []InputRecord) error {
	return writeJSONL(inputsFile(dir), inputs)
}

// Check sends one fixture and records the answer as it will be compared:
// protojson decoded with json.Number, or the gRPC status.
func Check(ctx context.Context, client authv3.AuthorizationClient, f Fixture) (Outcome, error) {
	req, err := f.CheckRequest()
	if err != nil {
		return Outcome{}, err
	}
	resp, err := client.Check(ctx, req)
	if err != nil {
		st, ok := status.FromError(err)
		if !ok {
			return Outcome{}, fmt.Errorf("fixture %s: %w", f.Name, err)
		}
		return Outcome{Name: f.Name, Error: &GRPCError{Code: st.Code().String(), Message: st.Message()}}, nil
	}
	b, err := protojson.Marshal(resp)
	if err != nil {
		return Outcome{}, fmt.Errorf("fixture %s: encode response: %w", f.Name, err)
	}
	m, err := decodeObject(b)
	if err != nil {
		return Outcome{}, fmt.Errorf("fixture %s: %w", f.Name, err)
	}
	return Outcome{Name: f.Name, Response: m}, nil
}

// decodeObject decodes a JSON object with numbers as json.Number.
func decodeObject(b []byte) (map[string]any, error) {
	var m map[string]any
	if err := decodeJSON(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

func decodeJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("decode JSON: %w", err)
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return errors.New("decode JSON: data after the value")
	}
	return nil
}

func readJSONL[T any](path string) ([]T, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var v T
		if err := decodeJSON(sc.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

// writeJSONL writes one compact JSON value a line, keys sorted, without
// HTML escaping, so the files diff well.
func writeJSONL[T any](path string, values []T) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, v := range values {
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("encode %s: %w", path, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

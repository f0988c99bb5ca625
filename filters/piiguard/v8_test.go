package piiguard_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/filters/piiguard"
	"github.com/secureai-nexus/nexus/filters/proxywasm"
	"github.com/secureai-nexus/nexus/filters/transform"
)

// The V8 benchmark (filters/bench/v8, make bench.v8) runs piiguard.wasm
// under node, which cannot build its inputs or know the right answers: this
// file writes both, from the same chatBody and configuration as
// GuestOwnHost, with the native filter as the oracle.
var (
	v8Dump = flag.String("v8.dump", "", "write the V8 benchmark's inputs, expected outputs and native Apply timings to this directory")
	v8N    = flag.Int("v8.n", 2000, "native Apply runs per body size for -v8.dump")
	// With -v8.serve, after writing the inputs the test times native
	// Applies as asked on the FIFO DIR/native.req (two bytes: a case's
	// index and a count) and answers each one's µs (float64,
	// little-endian) on DIR/native.resp, until EOF: bench.mjs alternates
	// these blocks with blocks of V8 requests, so both are timed in the
	// same moments of a shared machine.
	v8Serve = flag.Bool("v8.serve", false, "with -v8.dump: serve paired native Apply timings on DIR/native.req and native.resp (FIFOs)")
)

// benchHeaders are GuestOwnHost's request headers.
var benchHeaders = [][2]string{{":method", "POST"}, {"content-type", "application/json"}, {"content-length", "1"}}

// v8Case is one body, as bench.mjs reads it from manifest.json.
type v8Case struct {
	Name    string      `json:"name"`
	Headers [][2]string `json:"headers"`
	// Body and Want are files: the request body and the body the native
	// filter forwards.
	Body string `json:"body"`
	Want string `json:"want"`
	// WantHeaders are the request headers after the filter, sorted.
	WantHeaders [][2]string `json:"want_headers"`
	// WantLocal is the status of the filter's own reply (0: none), and
	// WantLocalBody its body.
	WantLocal     int    `json:"want_local"`
	WantLocalBody string `json:"want_local_body,omitempty"`
	Bench         bool   `json:"bench"`
	Native        *stats `json:"native,omitempty"`

	body, want []byte
}

type stats struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50_us"`
	P99  float64 `json:"p99_us"`
	Mean float64 `json:"mean_us"`
}

type v8Manifest struct {
	Config string   `json:"config"`
	Cases  []v8Case `json:"cases"`
}

// nativeHost is the proxy's side of one stream for the filter run as Go
// code: what Envoy would hold, without the ABI in between.
type nativeHost struct {
	headers   [][2]string
	body      []byte
	local     int
	localBody []byte
	localHdrs [][2]string
}

func (h *nativeHost) GetBuffer(t proxywasm.BufferType, start, size int) ([]byte, error) {
	if t != proxywasm.BufferHTTPRequestBody {
		return nil, proxywasm.ErrNotFound
	}
	return h.body[start:min(len(h.body), start+size)], nil
}

func (h *nativeHost) SetBuffer(t proxywasm.BufferType, _, _ int, data []byte) error {
	if t != proxywasm.BufferHTTPRequestBody {
		return proxywasm.ErrNotFound
	}
	h.body = slices.Clone(data)
	return nil
}

func (h *nativeHost) GetHeader(_ proxywasm.MapType, k string) (string, error) {
	for _, kv := range h.headers {
		if kv[0] == k {
			return kv[1], nil
		}
	}
	return "", proxywasm.ErrNotFound
}

func (h *nativeHost) GetHeaders(proxywasm.MapType) ([][2]string, error) {
	return slices.Clone(h.headers), nil
}

func (h *nativeHost) ReplaceHeader(_ proxywasm.MapType, k, v string) error {
	_ = h.RemoveHeader(0, k)
	h.headers = append(h.headers, [2]string{k, v})
	return nil
}

func (h *nativeHost) RemoveHeader(_ proxywasm.MapType, k string) error {
	h.headers = slices.DeleteFunc(h.headers, func(kv [2]string) bool { return kv[0] == k })
	return nil
}

func (h *nativeHost) SendLocalResponse(status int, _ string, body []byte, headers [][2]string) error {
	h.local, h.localBody, h.localHdrs = status, slices.Clone(body), headers
	return nil
}

func (h *nativeHost) Log(proxywasm.LogLevel, string) {}

// nativeCase runs the filter natively on one request and records what it
// forwards or answers. A forwarded body must also be transform.Apply's
// output byte for byte: that is the work the guest is timed against.
func nativeCase(t testing.TB, name string, headers [][2]string, body []byte) (c v8Case, want []byte) {
	t.Helper()
	p := &piiguard.Plugin{}
	if err := p.OnConfigure([]byte(config)); err != nil {
		t.Fatal(err)
	}
	h := &nativeHost{headers: slices.Clone(headers), body: body}
	s := p.NewHTTPContext(h)
	s.OnRequestHeaders(len(headers), false)
	if h.local == 0 {
		s.OnRequestBody(len(body), true)
	}
	s.OnDone()
	c = v8Case{Name: name, Headers: headers, Body: name + ".body", Want: name + ".want", WantLocal: h.local, WantLocalBody: string(h.localBody)}
	c.WantHeaders = slices.Clone(h.headers)
	slices.SortFunc(c.WantHeaders, func(a, b [2]string) int { return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1]) })
	if h.local == 0 {
		ct, _ := header(headers, "content-type")
		policy, _, _ := piiguard.ParseConfig([]byte(config))
		r, err := transform.Apply(policy, body, strings.Contains(strings.ToLower(ct), "json"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(r.Body, h.body) {
			t.Fatalf("%s: the native filter forwards a body other than transform.Apply's", name)
		}
	}
	return c, h.body
}

// checkCases are bodies for the correctness test: every mode of the
// configuration, a blocked body, a body that is not JSON, JSON escapes,
// and a slice of the labeled corpus.
func checkCases(t testing.TB) []v8Case {
	t.Helper()
	type in struct {
		name    string
		headers [][2]string
		body    string
	}
	text := [][2]string{{":method", "POST"}, {"content-type", "text/plain"}, {"content-length", "1"}}
	var corpus []string
	f, err := os.Open("../testdata/corpus.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() && len(corpus) < 300 {
		var line struct {
			Text  string
			Spans []struct{ Class string }
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		// A card number blocks the whole body; the blocked case has one.
		if !slices.ContainsFunc(line.Spans, func(s struct{ Class string }) bool { return s.Class == "CREDIT_CARD" }) {
			corpus = append(corpus, line.Text)
		}
	}
	content, _ := json.Marshal(strings.Join(corpus, "\n"))
	ins := []in{
		{"tokenize", benchHeaders, `{"model":"triage","messages":[{"role":"user","content":"I am jane@example.com, SSN 123-45-6789, from 10.1.2.3"}]}`},
		{"hash", benchHeaders, `{"model":"triage","messages":[{"role":"user","content":"MRN: 00123456, write to a.b@example.org"}]}`},
		{"escapes", benchHeaders, `{"model":"triage","messages":[{"role":"user","content":"caf\u00e9 \"jane@example.com\"\nSSN\t123-45-6789 \ud83d\ude00"}]}`},
		{"blocked", benchHeaders, `{"model":"triage","messages":[{"role":"user","content":"charge 4111 1111 1111 1111"}]}`},
		{"text", text, "plain text from jane@example.com, SSN 123-45-6789"},
		{"clean", benchHeaders, `{"model":"triage","messages":[{"role":"user","content":"nothing personal here"}]}`},
		{"corpus", benchHeaders, `{"model":"triage","messages":[{"role":"user","content":` + string(content) + `}]}`},
		{"1KiB", benchHeaders, string(chatBody(1 << 10))},
	}
	var cases []v8Case
	for _, i := range ins {
		c, want := nativeCase(t, i.name, i.headers, []byte(i.body))
		c.body, c.want = []byte(i.body), want
		cases = append(cases, c)
	}
	return cases
}

// writeCases writes the bodies, expected outputs and manifest.json.
func writeCases(t testing.TB, dir string, cases []v8Case) {
	t.Helper()
	for _, c := range cases {
		if err := os.WriteFile(filepath.Join(dir, c.Body), c.body, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, c.Want), c.want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := json.Marshal(v8Manifest{Config: config, Cases: cases})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), m, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestV8Inputs writes the benchmark's inputs (make bench.v8 sets -v8.dump),
// with native transform.Apply timed on each body in this run. Without
// -v8.dump it writes them to a temporary directory and reads the manifest
// back, timing a few runs only: the inputs bench.v8 relies on are built and
// checked against the native filter in every make test.
func TestV8Inputs(t *testing.T) {
	dir, runs := *v8Dump, *v8N
	if dir == "" {
		dir, runs = t.TempDir(), 4
	}
	policy, _, err := piiguard.ParseConfig([]byte(config))
	if err != nil {
		t.Fatal(err)
	}
	var cases []v8Case
	for _, size := range []int{1 << 10, 16 << 10, 256 << 10} {
		body := chatBody(size)
		c, want := nativeCase(t, fmt.Sprintf("%dKiB", size>>10), benchHeaders, body)
		c.body, c.want, c.Bench = body, want, true
		for range runs / 4 { // warm up, as the V8 side does
			_, _ = transform.Apply(policy, body, true)
		}
		lat := make([]float64, runs)
		var sum float64
		for i := range lat {
			t0 := time.Now()
			if _, err := transform.Apply(policy, body, true); err != nil {
				t.Fatal(err)
			}
			lat[i] = float64(time.Since(t0).Nanoseconds()) / 1000
			sum += lat[i]
		}
		slices.Sort(lat)
		c.Native = &stats{N: len(lat), P50: lat[len(lat)/2], P99: lat[len(lat)*99/100], Mean: sum / float64(len(lat))}
		cases = append(cases, c)
	}
	writeCases(t, dir, cases)
	var m v8Manifest
	if raw, err := os.ReadFile(filepath.Join(dir, "manifest.json")); err != nil || json.Unmarshal(raw, &m) != nil || len(m.Cases) != len(cases) {
		t.Fatalf("manifest.json does not read back with its %d cases: %v", len(cases), err)
	}
	if *v8Serve {
		serveNative(t, dir, policy, cases)
	}
}

func serveNative(t *testing.T, dir string, policy *transform.Policy, cases []v8Case) {
	req, err := os.Open(filepath.Join(dir, "native.req"))
	if err != nil {
		t.Fatal(err)
	}
	defer req.Close()
	resp, err := os.OpenFile(filepath.Join(dir, "native.resp"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Close()
	in, out := make([]byte, 2), make([]byte, 8*255)
	for {
		if _, err := io.ReadFull(req, in); err != nil {
			return // bench.mjs is done
		}
		if int(in[0]) >= len(cases) {
			t.Fatalf("native.req: no case %d", in[0])
		}
		body := cases[in[0]].body
		for i := range int(in[1]) {
			t0 := time.Now()
			if _, err := transform.Apply(policy, body, true); err != nil {
				t.Fatal(err)
			}
			binary.LittleEndian.PutUint64(out[8*i:], math.Float64bits(float64(time.Since(t0).Nanoseconds())/1000))
		}
		if _, err := resp.Write(out[:8*int(in[1])]); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGuestUnderV8 runs the compiled filter under node with Envoy's V8
// configuration (TurboFan only) on the proxy-wasm host of
// filters/bench/v8, and holds its output — body, headers, local reply —
// to the native filter's. Without node 20 or later on PATH it skips,
// except in CI (CI set), where .ci/run installs node and a skip would hide
// a missing engine.
func TestGuestUnderV8(t *testing.T) {
	skip := t.Skipf
	if os.Getenv("CI") != "" {
		skip = t.Fatalf
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skip("node not on PATH: the V8 host is not exercised")
	}
	out, err := exec.Command(node, "--version").Output()
	major, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(strings.TrimSpace(string(out)), "v"), ".", 2)[0])
	if err != nil || major < 20 {
		skip("node %s: the V8 host needs node:wasi's preview1 of node 20 or later", strings.TrimSpace(string(out)))
	}
	wasmModule(t) // fails, never skips, when piiguard.wasm is missing
	dir := t.TempDir()
	cases := checkCases(t)
	writeCases(t, dir, cases)
	cmd := exec.Command(node, "--no-liftoff", "--no-warnings", "../bench/v8/bench.mjs", "--check", "--wasm", wasmPath, dir)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node: %v\n%s", err, msg)
	}
	for _, c := range cases {
		got, err := os.ReadFile(filepath.Join(dir, c.Name+".got"))
		if err != nil {
			t.Fatal(err)
		}
		var meta struct {
			Headers   [][2]string `json:"headers"`
			Local     int         `json:"local"`
			LocalBody string      `json:"local_body"`
		}
		raw, err := os.ReadFile(filepath.Join(dir, c.Name+".got.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &meta); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, c.want) {
			t.Errorf("%s: body under V8\n%s\nnative\n%s", c.Name, got, c.want)
		}
		if !slices.Equal(meta.Headers, c.WantHeaders) {
			t.Errorf("%s: headers under V8 %q, native %q", c.Name, meta.Headers, c.WantHeaders)
		}
		if meta.Local != c.WantLocal || meta.LocalBody != c.WantLocalBody {
			t.Errorf("%s: local reply under V8 %d %s, native %d %s", c.Name, meta.Local, meta.LocalBody, c.WantLocal, c.WantLocalBody)
		}
	}
}

package compat

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/secureai-nexus/nexus/authz/internal/server"
)

// testdata is the package's testdata directory (tests run in the
// package directory).
const testdata = "testdata"

// callTimeout bounds one Check: a safety net for a hung server, not a
// measurement.
const callTimeout = time.Minute

// nexusConfig is the one place nexus-authz is configured for a run, the
// way opa-envoy-plugin is configured for it in TestLive: the run's policy
// directory and decision path, its Rego version and proto-descriptor,
// opa-envoy-plugin's defaults (non-strict builtin errors, the decision id
// only in the dynamic metadata), the decision cache off (so every request
// is evaluated), and a decision log file with no masks (what
// --decision-log FILE --no-default-masks gives) so each decision's input
// can be read back. The run's dry-run and skip-request-body-parse are
// opa-envoy-plugin's options of those names; under dry run nexus-authz
// allows what the policy denied, as opa-envoy-plugin does, but not a
// failure, which it answers fail-closed where opa-envoy-plugin answers a
// gRPC error (rule 4 in normalize.go).
func nexusConfig(run Run, logPath string) server.Config {
	cfg := server.Config{
		Policies:             policyDir(testdata, run.Policy),
		Addr:                 "127.0.0.1:0",
		HTTPAddr:             "127.0.0.1:0",
		Query:                run.Path,
		V0Compatible:         run.V0Compatible,
		DryRun:               run.DryRun,
		SkipRequestBodyParse: run.SkipRequestBodyParse,
		StrictBuiltinErrors:  false,
		DecisionIDHeader:     "",
		DecisionTimeout:      time.Minute,
		MaxInputBytes:        8 << 20,
		ReloadInterval:       time.Hour,
		DecisionCacheSize:    0,
		DecisionLog:          logPath,
		DecisionLogMaxBytes:  1 << 30,
		DecisionLogBackups:   1,
		Masks:                []string{},
	}
	if run.ProtoDescriptor {
		cfg.ProtoDescriptor = descriptorSet(testdata)
	}
	return cfg
}

// nexus is nexus-authz serving one run in-process.
type nexus struct {
	client  authv3.AuthorizationClient
	readyz  string
	logPath string
	stop    func() error
	stopped bool
}

func startNexus(t *testing.T, run Run) *nexus {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "decisions.log")
	cfg := nexusConfig(run, logPath)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan server.Ready, 1)
	done := make(chan error, 1)
	go func() { done <- server.Run(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), cfg, ready) }()
	var r server.Ready
	select {
	case r = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("nexus-authz did not start for %s: %v", run.Name, err)
	}
	conn, err := grpc.NewClient(r.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		cancel()
		<-done
		t.Fatal(err)
	}
	n := &nexus{client: authv3.NewAuthorizationClient(conn), readyz: "http://" + r.HTTPAddr + "/readyz", logPath: logPath}
	n.stop = func() error {
		conn.Close()
		cancel()
		return <-done
	}
	t.Cleanup(func() {
		if !n.stopped {
			if err := n.stop(); err != nil {
				t.Error(err)
			}
		}
	})
	return n
}

// policyStatus is /readyz's answer, for saying why a run went wrong.
func (n *nexus) policyStatus() string {
	resp, err := http.Get(n.readyz)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
}

// checkAll sends every fixture in order.
func (n *nexus) checkAll(t *testing.T, fixtures []Fixture) []Outcome {
	t.Helper()
	out := make([]Outcome, 0, len(fixtures))
	for _, f := range fixtures {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		o, err := Check(ctx, n.client, f)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, o)
	}
	return out
}

// inputs stops the server (which flushes its decision log) and returns
// the input of each decision, in the order the decisions were made: the
// order the fixtures were sent, one decision each.
func (n *nexus) inputs(t *testing.T, fixtures []Fixture, outcomes []Outcome) []InputRecord {
	t.Helper()
	n.stopped = true
	if err := n.stop(); err != nil {
		t.Fatal(err)
	}
	recs, err := readJSONL[map[string]any](n.logPath)
	if err != nil {
		t.Fatal(err)
	}
	var decisions []map[string]any
	for _, r := range recs {
		if r["type"] == "decision" {
			decisions = append(decisions, r)
		}
	}
	if len(decisions) != len(fixtures) {
		t.Fatalf("decision log has %d decisions for %d requests", len(decisions), len(fixtures))
	}
	out := make([]InputRecord, len(fixtures))
	for i, f := range fixtures {
		// The log's order is the requests' order; where the response
		// names its decision, it must be this one.
		if id := responseDecisionID(outcomes[i]); id != "" && id != decisions[i]["decision_id"] {
			t.Fatalf("%s: response names decision %s, log line %d is %v", f.Name, id, i, decisions[i]["decision_id"])
		}
		out[i] = InputRecord{Name: f.Name, Input: NormalizeNexusInput(decisions[i]["input"])}
	}
	return out
}

// responseDecisionID is the decision id a nexus-authz response carries:
// dynamic metadata's decision_id, else its x-nexus-decision-id header.
func responseDecisionID(o Outcome) string {
	if id, ok := lookup(o.Response, "dynamicMetadata", "decision_id").(string); ok {
		return id
	}
	for _, which := range []string{"okResponse", "deniedResponse"} {
		hs, _ := lookup(o.Response, which, "headers").([]any)
		for _, h := range hs {
			if headerKey(h) == NexusDecisionIDHeader {
				v, _ := lookup(h, "header", "value").(string)
				return v
			}
		}
	}
	return ""
}

func mustFixtures(t *testing.T) []Fixture {
	t.Helper()
	fs, err := LoadFixtures(testdata)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func mustRuns(t *testing.T) []Run {
	t.Helper()
	runs, err := LoadRuns(testdata)
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

// tally groups differences by run and path pattern, for a summary at the
// end of a test (and, with COMPAT_REPORT=file, a file listing every
// difference).
type tally struct {
	mu     sync.Mutex // TestGolden's runs add to it in parallel
	groups map[string]*group
	lines  []string
}

type group struct {
	run, pattern string
	count        int
	examples     []string
}

func newTally() *tally { return &tally{groups: map[string]*group{}} }

func (ta *tally) add(run, fixture string, d Difference) {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	key := run + "\x00" + PathPattern(d.Path)
	g := ta.groups[key]
	if g == nil {
		g = &group{run: run, pattern: PathPattern(d.Path)}
		ta.groups[key] = g
	}
	g.count++
	line := fmt.Sprintf("%s [%s] %s", fixture, run, d)
	if len(g.examples) < 3 {
		g.examples = append(g.examples, line)
	}
	ta.lines = append(ta.lines, line)
}

// report logs the groups, largest first, and writes every difference to
// $COMPAT_REPORT if set.
func (ta *tally) report(t *testing.T) {
	t.Helper()
	ta.mu.Lock()
	defer ta.mu.Unlock()
	if len(ta.lines) == 0 {
		return
	}
	slices.Sort(ta.lines)
	gs := slices.Collect(maps.Values(ta.groups))
	slices.SortFunc(gs, func(a, b *group) int {
		return cmp.Or(cmp.Compare(b.count, a.count), cmp.Compare(a.run, b.run), cmp.Compare(a.pattern, b.pattern))
	})
	var b strings.Builder
	fmt.Fprintf(&b, "%d differences in %d groups (run, path):\n", len(ta.lines), len(gs))
	for _, g := range gs {
		fmt.Fprintf(&b, "%6d  %-32s %s\n", g.count, g.run, g.pattern)
		for _, e := range g.examples {
			fmt.Fprintf(&b, "          e.g. %s\n", e)
		}
	}
	t.Log(b.String())
	if path := os.Getenv("COMPAT_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(b.String()+"\nall differences:\n"+strings.Join(ta.lines, "\n")+"\n"), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// sameOutcome compares two of opa-envoy-plugin's outcomes: gRPC errors
// must be the same error, responses the same response.
func sameOutcome(want, got Outcome) []Difference {
	if want.Error != nil || got.Error != nil {
		if want.Error != nil && got.Error != nil && *want.Error == *got.Error {
			return nil
		}
		return []Difference{{Path: "$", Want: outcomeText(want), Got: outcomeText(got)}}
	}
	var out []Difference
	diffValue("$", want.Response, got.Response, &out)
	return out
}

func outcomeText(o Outcome) string {
	if o.Error != nil {
		return grpcText(o.Error)
	}
	return render(o.Response)
}

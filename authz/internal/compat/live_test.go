//go:build live

package compat

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

var update = flag.Bool("update", false, "TestLive: rewrite testdata/expected from the live opa-envoy-plugin")

// TestLive runs the opa-envoy-plugin binary named by OPA_ENVOY_BIN beside
// nexus-authz for every run and compares the two, answer by answer and,
// for the probe run, input by input. It also reports where the live
// opa-envoy-plugin no longer agrees with testdata/expected. With -update
// it instead rewrites testdata/expected from the live run.
func TestLive(t *testing.T) {
	bin := os.Getenv("OPA_ENVOY_BIN")
	if bin == "" {
		t.Fatal("OPA_ENVOY_BIN is not set: it names the opa-envoy-plugin binary to compare with (make compat.live OPA_ENVOY_BIN=…)")
	}
	fixtures := mustFixtures(t)
	ta := newTally()
	for _, run := range mustRuns(t) {
		t.Run(run.Name, func(t *testing.T) {
			oe := startOPAEnvoy(t, bin, run)
			live := make([]Outcome, len(fixtures))
			liveInputs := make([]InputRecord, len(fixtures))
			for i, f := range fixtures {
				live[i], liveInputs[i] = oe.check(t, f)
			}
			if *update {
				if err := WriteExpected(testdata, run.Name, live); err != nil {
					t.Fatal(err)
				}
				if run.Name == InputsRun {
					if err := WriteExpectedInputs(testdata, liveInputs); err != nil {
						t.Fatal(err)
					}
				}
				return
			}
			if want, err := LoadExpected(testdata, run.Name); err != nil {
				t.Errorf("no expectations to check for staleness: %v", err)
			} else {
				for _, o := range live {
					if w, ok := want[o.Name]; !ok {
						t.Errorf("%s [%s]: not in testdata/expected (run with -update)", o.Name, run.Name)
					} else if ds := sameOutcome(w, o); len(ds) > 0 {
						t.Errorf("%s [%s]: testdata/expected is stale (run with -update): %v", o.Name, run.Name, ds)
					}
				}
			}
			n := startNexus(t, run)
			got := n.checkAll(t, fixtures)
			for i, f := range fixtures {
				for _, d := range CompareOutcome(live[i], NormalizeNexus(got[i])) {
					ta.add(run.Name, f.Name, d)
					t.Errorf("%s [%s] %s", f.Name, run.Name, d)
				}
			}
			if run.Name == InputsRun {
				for i, in := range n.inputs(t, fixtures, got) {
					for _, d := range CompareInput(liveInputs[i].Input, in.Input) {
						ta.add("input", in.Name, d)
						t.Errorf("%s [input] %s", in.Name, d)
					}
				}
			}
		})
	}
	ta.report(t)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startOPAEnvoy runs bin as opa-envoy-plugin is deployed: opa run
// --server with the envoy_ext_authz_grpc plugin at the run's path (and
// proto-descriptor, dry-run and skip-request-body-parse), and console
// decision logs, which carry each decision's id and input.
func startOPAEnvoy(t *testing.T, bin string, run Run) *opaEnvoy {
	t.Helper()
	dir := t.TempDir()
	grpcAddr, httpAddr, diagAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "plugins:\n  envoy_ext_authz_grpc:\n    addr: %s\n    path: %s\n", grpcAddr, run.Path)
	if run.ProtoDescriptor {
		pb, err := filepath.Abs(descriptorSet(testdata))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&cfg, "    proto-descriptor: %s\n", pb)
	}
	if run.DryRun {
		cfg.WriteString("    dry-run: true\n")
	}
	if run.SkipRequestBodyParse {
		cfg.WriteString("    skip-request-body-parse: true\n")
	}
	cfg.WriteString("decision_logs:\n  console: true\n")
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	// Relative, so the file names in its error messages are the same on
	// every machine.
	policies := policyDir(testdata, run.Policy)
	args := []string{"run", "--server", "--addr", httpAddr, "--diagnostic-addr", diagAddr,
		"--config-file", cfgPath, "--log-level", "error"}
	if run.V0Compatible {
		args = append(args, "--v0-compatible")
	}
	args = append(args, policies)

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	// The console decision log goes to stderr, with opa's own log lines.
	stderrPipe, err := cmd.StderrPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	cmd.Stdout = logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", bin, err)
	}
	decisions := make(chan []byte, 16)
	stopRead := make(chan struct{})
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer close(decisions)
		sc := bufio.NewScanner(stderrPipe)
		sc.Buffer(make([]byte, 0, 1<<20), 256<<20)
		for sc.Scan() {
			if !bytes.Contains(sc.Bytes(), []byte(`"msg":"Decision Log"`)) {
				logs.Write(append(bytes.Clone(sc.Bytes()), '\n'))
				continue
			}
			select {
			case decisions <- bytes.Clone(sc.Bytes()):
			case <-stopRead:
				_, _ = io.Copy(io.Discard, stderrPipe)
				return
			}
		}
	}()
	exited := make(chan struct{})
	go func() {
		<-readDone
		_ = cmd.Wait()
		close(exited)
	}()
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		close(stopRead)
		cancel()
		<-exited
	})
	oe := &opaEnvoy{client: authv3.NewAuthorizationClient(conn), decisions: decisions, exited: exited, logs: logs}
	oe.waitReady(t, "http://"+diagAddr+"/health?plugins")
	return oe
}

// waitReady polls opa's health endpoint (with plugins) until it answers
// 200, the process exits, or a generous bound passes.
func (oe *opaEnvoy) waitReady(t *testing.T, url string) {
	t.Helper()
	for range 600 {
		select {
		case <-oe.exited:
			t.Fatalf("opa-envoy-plugin exited: %s", oe.logs.String())
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("opa-envoy-plugin not ready at %s: %s", url, oe.logs.String())
}

// check sends one fixture and pairs its answer with the decision log line
// opa-envoy-plugin wrote for it (the next one: it logs each decision
// before answering).
func (oe *opaEnvoy) check(t *testing.T, f Fixture) (Outcome, InputRecord) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	o, err := Check(ctx, oe.client, f)
	if err != nil {
		t.Fatal(err)
	}
	var line []byte
	select {
	case l, ok := <-oe.decisions:
		if !ok {
			t.Fatalf("%s: opa-envoy-plugin's output ended: %s", f.Name, oe.logs.String())
		}
		line = l
	case <-ctx.Done():
		t.Fatalf("%s: no decision log line from opa-envoy-plugin; its log: %s", f.Name, oe.logs.String())
	}
	entry, err := decodeLogLine(line)
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := lookup(o.Response, "dynamicMetadata", "decision_id").(string); ok && id != entry["decision_id"] {
		t.Fatalf("%s: response names decision %s, the log line is %v", f.Name, id, entry["decision_id"])
	}
	return NormalizeOPAEnvoy(o), InputRecord{Name: f.Name, Input: FixOPAEnvoyInput(entry["input"])}
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// opaEnvoy is an opa-envoy-plugin process serving one run.
type opaEnvoy struct {
	client authv3.AuthorizationClient
	// decisions carries its console decision log's lines, one per Check,
	// in order.
	decisions <-chan []byte
	exited    <-chan struct{}
	// logs is the rest of its output, for failure messages.
	logs *lockedBuffer
}

// decodeLogLine parses one JSON line of a decision log.
func decodeLogLine(b []byte) (map[string]any, error) {
	m, err := decodeObject(b)
	if err != nil {
		return nil, fmt.Errorf("decision log line: %w", err)
	}
	if m == nil {
		return nil, errors.New("decision log line is null")
	}
	return m, nil
}

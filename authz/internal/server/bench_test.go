package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/secureai-nexus/nexus/authz/internal/input"
	"github.com/secureai-nexus/nexus/authz/internal/policy"
	"github.com/secureai-nexus/nexus/authz/internal/server"
)

const clinicCaller = "spiffe://nexus.local/ns/clinic/sa/frontdesk"

// BenchmarkRawEval is the baseline: the shipped policy's prepared query
// evaluated in-process on an already-converted input, nothing else.
func BenchmarkRawEval(b *testing.B) {
	set := loadSet(b, "../../../policies")
	in, err := input.Build(modelCall(clinicCaller, map[string]float64{"EMAIL": 1}, ""), input.Options{})
	if err != nil {
		b.Fatal(err)
	}
	v, err := ast.InterfaceToValue(in)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		out, _, err := set.Eval(ctx, v)
		if err != nil || out.(map[string]any)["allowed"] != true {
			b.Fatalf("%v %v", out, err)
		}
	}
}

func loadSet(tb testing.TB, dir string) *policy.Set {
	tb.Helper()
	src, err := policy.NewSource(dir, ast.RegoV1, "")
	if err != nil {
		tb.Fatal(err)
	}
	m := policy.NewManager(src, policy.Options{Query: "data.envoy.authz.allow", RegoVersion: ast.RegoV1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := m.Reload(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return m.Current()
}

// BenchmarkCheckGRPC is the whole service over real gRPC on loopback —
// input conversion, evaluation, response mapping, decision log to a file —
// driven closed-loop by parallel clients: its ns/op is the cost per check
// at full load on this machine.
func BenchmarkCheckGRPC(b *testing.B) {
	s := startBench(b)
	req := modelCall(clinicCaller, map[string]float64{"EMAIL": 1}, "")
	ctx := context.Background()
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := s.client.Check(ctx, req)
			if err != nil || resp.GetOkResponse() == nil {
				b.Fatalf("%v %v", resp, err)
			}
		}
	})
}

// BenchmarkCheckAt5000RPS drives an open-loop load of 5,000 checks/s for
// 2 s over real gRPC and reports latency percentiles as the client saw
// them, against the raw in-process evaluation measured in the same run.
func BenchmarkCheckAt5000RPS(b *testing.B) {
	set := loadSet(b, "../../../policies")
	in, _ := input.Build(modelCall(clinicCaller, map[string]float64{"EMAIL": 1}, ""), input.Options{})
	v, _ := ast.InterfaceToValue(in)
	raw := make([]float64, 0, 2000)
	for i := 0; i < 2000; i++ {
		t0 := time.Now()
		if _, _, err := set.Eval(context.Background(), v); err != nil {
			b.Fatal(err)
		}
		raw = append(raw, float64(time.Since(t0).Microseconds()))
	}
	slices.Sort(raw)

	s := startBench(b)
	req := modelCall(clinicCaller, map[string]float64{"EMAIL": 1}, "")
	const rate, dur = 5000, 2 * time.Second
	for b.Loop() {
		total := int(rate * dur.Seconds())
		lat := make([]float64, total)
		var wg sync.WaitGroup
		interval := time.Second / rate
		start := time.Now()
		for i := 0; i < total; i++ {
			// Open loop: each check starts on schedule whether or not the
			// earlier ones finished, so queueing shows up in the latency.
			due := start.Add(time.Duration(i) * interval)
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
			wg.Add(1)
			go func(i int, due time.Time) {
				defer wg.Done()
				if _, err := s.client.Check(context.Background(), req); err != nil {
					b.Error(err)
				}
				lat[i] = float64(time.Since(due).Microseconds())
			}(i, due)
		}
		wg.Wait()
		elapsed := time.Since(start)
		slices.Sort(lat)
		p50, p99 := lat[total/2], lat[total*99/100]
		b.ReportMetric(p50, "µs-p50")
		b.ReportMetric(p99, "µs-p99")
		b.ReportMetric(float64(total)/elapsed.Seconds(), "checks/s")
		b.ReportMetric(raw[len(raw)/2], "µs-raw-eval-p50")
		b.ReportMetric(raw[len(raw)*99/100], "µs-raw-eval-p99")
		b.ReportMetric(p50/raw[len(raw)/2], "x-p50-over-raw")
	}
}

func startBench(b *testing.B) *running {
	b.Helper()
	return start(b, server.Config{Policies: "../../../policies", DecisionLog: filepath.Join(b.TempDir(), "decisions.log")})
}

// BenchmarkGrants10k loads a policy set whose data holds 10,000
// caller→model grants and reports the heap it takes and the cost of one
// decision that has to search them.
func BenchmarkGrants10k(b *testing.B) {
	dir := b.TempDir()
	shipped, err := os.ReadFile("../../../policies/nexus/authz.rego")
	if err != nil {
		b.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "nexus"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "nexus", "authz.rego"), shipped, 0o644); err != nil {
		b.Fatal(err)
	}
	var base map[string]any
	raw, _ := os.ReadFile("../../../policies/data.json")
	_ = json.Unmarshal(raw, &base)
	nx := base["nexus"].(map[string]any)
	grants := []any{}
	for i := 0; i < 10000; i++ {
		grants = append(grants, map[string]any{"caller": fmt.Sprintf("spiffe://nexus.local/ns/team-%d/sa/*", i), "models": []any{fmt.Sprintf("model-%d", i%100), "triage"}, "versions": []any{"*"}, "phi": i%2 == 0})
	}
	nx["grants"] = grants
	data, _ := json.Marshal(base)
	if err := os.WriteFile(filepath.Join(dir, "data.json"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	set := loadSet(b, dir)
	runtime.GC()
	runtime.ReadMemStats(&m1)
	in, _ := input.Build(modelCall("spiffe://nexus.local/ns/team-9999/sa/app", nil, ""), input.Options{})
	v, _ := ast.InterfaceToValue(in)
	b.ResetTimer()
	for b.Loop() {
		out, _, err := set.Eval(context.Background(), v)
		if err != nil || out.(map[string]any)["allowed"] != true {
			b.Fatalf("%v %v", out, err)
		}
	}
	b.ReportMetric(float64(m1.HeapInuse-m0.HeapInuse)/(1<<20), "MiB-heap-for-set")
}

package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

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

// trafficMix is n model calls as a clinic's sidecars send them: a dozen
// callers (two not granted), three kinds of findings, and a request id and
// end-user token that differ on every call.
func trafficMix(n int) []*authv3.CheckRequest {
	var callers []string
	for i := 0; i < 8; i++ {
		callers = append(callers, fmt.Sprintf("spiffe://nexus.local/ns/clinic/sa/desk-%d", i))
	}
	callers = append(callers, "spiffe://nexus.local/service/batch", "spiffe://nexus.local/service/eval",
		"spiffe://nexus.local/ns/other/sa/a", "spiffe://nexus.local/ns/other/sa/b")
	findings := []map[string]float64{nil, {"EMAIL": 2}, {"MEDICAL_RECORD_NUMBER": 1}}
	reqs := make([]*authv3.CheckRequest, n)
	for i := range reqs {
		purpose := ""
		if i%3 == 2 {
			purpose = "treatment"
		}
		r := modelCall(callers[i%len(callers)], findings[(i/len(callers))%len(findings)], purpose)
		h := r.Attributes.Request.Http.Headers
		h["x-request-id"] = fmt.Sprintf("%08x-1c9e-4a51-9b0e-%012x", i, i*7919)
		h["authorization"] = fmt.Sprintf("Bearer end-user-token-%d", i)
		reqs[i] = r
	}
	return reqs
}

// BenchmarkCheckGRPC is the whole service over real gRPC on loopback —
// input conversion, evaluation, response mapping, decision log to a file —
// driven closed-loop by parallel clients over a traffic mix: its ns/op is
// the cost per check at full load on this machine, with the decision cache
// off and on.
func BenchmarkCheckGRPC(b *testing.B) {
	reqs := trafficMix(4096)
	for _, size := range []int{0, 10000} {
		b.Run(fmt.Sprintf("cache=%d", size), func(b *testing.B) {
			checkClosedLoop(b, startBench(b, size), reqs)
		})
	}
}

// checkClosedLoop sends reqs in turn from 8 parallel clients per CPU, each
// as soon as its last check returned.
func checkClosedLoop(b *testing.B, s *running, reqs []*authv3.CheckRequest) {
	ctx := context.Background()
	var next atomic.Int64
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.client.Check(ctx, reqs[int(next.Add(1))%len(reqs)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCheckGRPCPrompt16KiB is one check of a model call carrying a
// 16 KiB prompt, the decision cache on. With parsed_body masked in the log
// (the default) only the body members the policy reads are decoded; with
// no masks the whole body is, as a baseline in the same run.
func BenchmarkCheckGRPCPrompt16KiB(b *testing.B) {
	var sb strings.Builder
	for sb.Len() < 16<<10 {
		sb.WriteString("The patient reports mild chest pain since Tuesday and asks about the dose. ")
	}
	body := `{"model":"triage","max_tokens":512,"messages":[{"role":"user","content":"` + sb.String() + `"}]}`
	reqs := trafficMix(512)
	for _, r := range reqs {
		h := r.Attributes.Request.Http
		h.Body, h.Size = body, int64(len(body))
		h.Headers["content-length"] = fmt.Sprint(len(body))
	}
	for _, tc := range []struct {
		name  string
		masks []string
	}{{"masked", nil}, {"unmasked", []string{}}} {
		b.Run(tc.name, func(b *testing.B) {
			s := start(b, server.Config{
				Policies: "../../../policies", DecisionLog: filepath.Join(b.TempDir(), "decisions.log"),
				ReloadInterval: 5 * time.Second, DecisionCacheSize: 10000, Masks: tc.masks,
			})
			checkClosedLoop(b, s, reqs)
		})
	}
}

// BenchmarkCheckOpenLoop runs nexus-authz as its own process (so the
// load driver's CPU is not the server's) and drives an open-loop load of
// 2,000 and 5,000 checks/s for 3 s each over real gRPC on loopback (4
// connections, as a few Envoy workers would hold), with the decision cache
// off and on, over a traffic mix. It reports the latency percentiles the
// client saw, the server's CPU per check (from /proc), the cache hit ratio
// (from /metrics), and the raw cost of the same prepared query evaluated
// in-process, measured in the same run.
func BenchmarkCheckOpenLoop(b *testing.B) {
	set := loadSet(b, "../../../policies")
	in, _ := input.Build(modelCall(clinicCaller, map[string]float64{"EMAIL": 1}, ""), input.Options{})
	v, _ := ast.InterfaceToValue(in)
	raw := make([]float64, 0, 5000)
	for i := 0; i < 5000; i++ {
		t0 := time.Now()
		if _, _, err := set.Eval(context.Background(), v); err != nil {
			b.Fatal(err)
		}
		raw = append(raw, float64(time.Since(t0).Nanoseconds())/1000)
	}
	slices.Sort(raw)

	dir := b.TempDir()
	bin := filepath.Join(dir, "nexus-authz")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/nexus-authz").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	reqs := trafficMix(30000)
	for _, tc := range []struct {
		name      string
		cacheSize int
		unix      bool
	}{{"cache=0", 0, false}, {"cache=10000", 10000, false}, {"cache=10000/unix", 10000, true}} {
		size := tc.cacheSize
		b.Run(tc.name, func(b *testing.B) {
			addr := freeAddr(b)
			if tc.unix {
				addr = "unix://" + filepath.Join(b.TempDir(), "authz.sock")
			}
			srv := startProcess(b, bin, addr, size)
			for _, rate := range []int{2000, 5000} {
				b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) {
					driveLoad(b, srv, rate, raw, func(i int) error {
						_, err := srv.clients[i%4].Check(context.Background(), reqs[i%len(reqs)])
						return err
					})
				})
			}
			if size != 0 && !tc.unix {
				return
			}
			// The floor: the same driver, connections and process
			// answering gRPC health checks, which do no work at all. What
			// this machine's scheduler and loopback cost every unary call
			// shows here, not in nexus-authz.
			for _, rate := range []int{2000, 5000} {
				b.Run(fmt.Sprintf("floor=grpc-health/rate=%d", rate), func(b *testing.B) {
					driveLoad(b, srv, rate, raw, func(i int) error {
						_, err := srv.health[i%4].Check(context.Background(), &healthpb.HealthCheckRequest{})
						return err
					})
				})
			}
		})
	}
}

type process struct {
	pid     int
	clients []authv3.AuthorizationClient
	health  []healthpb.HealthClient
	metrics string
}

func startProcess(b *testing.B, bin, addr string, cacheSize int) *process {
	httpAddr := envOr("NEXUS_AUTHZ_BENCH_HTTP", freeAddr(b))
	args := []string{"--policies", "../../../policies", "--addr", addr, "--http-addr", httpAddr, "--pprof",
		"--decision-cache-size", fmt.Sprint(cacheSize),
		"--decision-log", envOr("NEXUS_AUTHZ_BENCH_LOG", filepath.Join(b.TempDir(), "decisions.log"))}
	srv := exec.Command(bin, args...)
	// NEXUS_AUTHZ_BENCH_SERVER_CPUS=1 pins the server to CPU 1 (taskset
	// execs it, so the pid is the server's); run the driver with
	// taskset -c 0 to give each its own core, as separate machines would.
	if cpus := os.Getenv("NEXUS_AUTHZ_BENCH_SERVER_CPUS"); cpus != "" {
		srv = exec.Command("taskset", append([]string{"-c", cpus, bin}, args...)...)
	}
	srv.Args = append(srv.Args, strings.Fields(os.Getenv("NEXUS_AUTHZ_BENCH_ARGS"))...)
	srv.Env = append(os.Environ(), os.Getenv("NEXUS_AUTHZ_BENCH_ENV"))
	return startAny(b, srv, addr, httpAddr, modelCall(clinicCaller, map[string]float64{"EMAIL": 1}, ""))
}

// cacheCounts reads the decision cache's hit and miss counters.
func (p *process) cacheCounts(b *testing.B) (hits, misses float64) {
	resp, err := http.Get(p.metrics)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, `nexus_authz_decision_cache_total{result="hit"} `); ok {
			hits, _ = strconv.ParseFloat(v, 64)
		}
		if v, ok := strings.CutPrefix(line, `nexus_authz_decision_cache_total{result="miss"} `); ok {
			misses, _ = strconv.ParseFloat(v, 64)
		}
	}
	return hits, misses
}

func driveLoad(b *testing.B, p *process, rate int, raw []float64, call func(i int) error) {
	const dur = 3 * time.Second
	for b.Loop() {
		total := int(float64(rate) * dur.Seconds())
		lat := make([]float64, total)
		// sent measures from when the check was actually sent: the gap to
		// lat is the driver's own lateness on this shared machine.
		sent := make([]float64, total)
		var wg sync.WaitGroup
		interval := time.Second / time.Duration(rate)
		cpu0 := procCPU(b, p.pid)
		h0, m0 := p.cacheCounts(b)
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
				t0 := time.Now()
				if err := call(i); err != nil {
					b.Error(err)
				}
				lat[i] = float64(time.Since(due).Nanoseconds()) / 1000
				sent[i] = float64(time.Since(t0).Nanoseconds()) / 1000
			}(i, due)
		}
		wg.Wait()
		elapsed := time.Since(start)
		cpu := procCPU(b, p.pid) - cpu0
		h1, m1 := p.cacheCounts(b)
		slices.Sort(lat)
		slices.Sort(sent)
		p50, p99 := lat[total/2], lat[total*99/100]
		b.ReportMetric(sent[total/2], "µs-p50-from-send")
		b.ReportMetric(sent[total*99/100], "µs-p99-from-send")
		b.ReportMetric(p50, "µs-p50")
		b.ReportMetric(p99, "µs-p99")
		b.ReportMetric(float64(total)/elapsed.Seconds(), "checks/s")
		b.ReportMetric(cpu.Seconds()*1e6/float64(total), "µs-server-cpu/check")
		rss, peak := procMem(b, p.pid)
		b.ReportMetric(rss, "MiB-rss")
		b.ReportMetric(peak, "MiB-rss-peak")
		if n := (h1 - h0) + (m1 - m0); n > 0 {
			b.ReportMetric((h1-h0)/n, "cache-hit-ratio")
		}
		if len(raw) > 0 {
			b.ReportMetric(raw[len(raw)/2], "µs-raw-eval-p50")
			b.ReportMetric(raw[len(raw)*99/100], "µs-raw-eval-p99")
			b.ReportMetric(p50/raw[len(raw)/2], "x-p50-over-raw")
		}
	}
}

// procCPU reads a process's user+system CPU time from /proc.
func procCPU(tb testing.TB, pid int) time.Duration {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startBench starts the service as nexus-authz's defaults would.
func startBench(b *testing.B, cacheSize int) *running {
	b.Helper()
	return start(b, server.Config{
		Policies: "../../../policies", DecisionLog: filepath.Join(b.TempDir(), "decisions.log"),
		ReloadInterval: 5 * time.Second, DecisionCacheSize: cacheSize,
	})
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
	grants := map[string]any{}
	for i := 0; i < 10000; i++ {
		grants[fmt.Sprintf("spiffe://nexus.local/ns/team-%d/sa/*", i)] = map[string]any{"models": []any{fmt.Sprintf("model-%d", i%100), "triage"}, "versions": []any{"*"}, "phi": i%2 == 0}
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

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

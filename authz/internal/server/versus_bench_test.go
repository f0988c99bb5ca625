package server_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// versusPolicy is opa-envoy-plugin's Istio quick start policy (its
// example, unchanged), which both servers run.
const versusPolicy = "../compat/testdata/policies/istio-quick-start"

// versusMix is Istio bookinfo traffic the quick start policy decides:
// alice (guest) and bob (admin) on their pages, unknown users, health
// checks, and a request id that differs on every call.
func versusMix(n int) []*authv3.CheckRequest {
	users := []string{"alice:x", "bob:y", "carol:z", ""}
	paths := []string{"/productpage", "/api/v1/products", "/health", "/api/v1/products/1/reviews"}
	reqs := make([]*authv3.CheckRequest, n)
	for i := range reqs {
		h := map[string]string{
			":authority": "bookinfo", ":method": "GET", ":path": paths[i%len(paths)],
			"x-request-id": fmt.Sprintf("%08x-1c9e-4a51-9b0e-%012x", i, i*7919), "user-agent": "curl/8.5.0",
		}
		if u := users[(i/len(paths))%len(users)]; u != "" {
			h["authorization"] = "Basic " + base64.URLEncoding.EncodeToString([]byte(u))
		}
		reqs[i] = &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Source: &authv3.AttributeContext_Peer{Principal: "spiffe://cluster.local/ns/default/sa/productpage"},
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: "GET", Path: paths[i%len(paths)], Host: "bookinfo", Scheme: "http", Protocol: "HTTP/1.1", Headers: h,
			}},
		}}
	}
	return reqs
}

// BenchmarkVersusOPAEnvoy runs nexus-authz and opa-envoy-plugin
// (OPA_ENVOY_BIN) as processes on the same policy and traffic, through the
// same driver and connections, one after the other: server CPU per check
// and latency under an open-loop load, sequential latency, and resident
// memory after the load. opa-envoy-plugin logs no decisions (its default);
// nexus-authz runs with its decision cache off and its decision log off
// (like for like), then with its hash-chained decision log to a file, then
// with the cache on as well.
// The floor is nexus-authz's gRPC health service over the same driver.
func BenchmarkVersusOPAEnvoy(b *testing.B) {
	opaBin := os.Getenv("OPA_ENVOY_BIN")
	if opaBin == "" {
		b.Skip("OPA_ENVOY_BIN is not set: no opa-envoy-plugin to compare with")
	}
	dir := b.TempDir()
	bin := filepath.Join(dir, "nexus-authz")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/nexus-authz").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	policyDir, err := filepath.Abs(versusPolicy)
	if err != nil {
		b.Fatal(err)
	}
	reqs := versusMix(20000)
	servers := []struct {
		name string
		cmd  func(grpcAddr, httpAddr string) *exec.Cmd
	}{
		{"opa-envoy-plugin", func(grpcAddr, httpAddr string) *exec.Cmd {
			cfg := filepath.Join(b.TempDir(), "opa.yaml")
			body := fmt.Sprintf("plugins:\n  envoy_ext_authz_grpc:\n    addr: %s\n    path: istio/authz/allow\n", grpcAddr)
			if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
				b.Fatal(err)
			}
			return exec.Command(opaBin, "run", "--server", "--addr", httpAddr, "--diagnostic-addr", freeAddr(b),
				"--log-level", "error", "--config-file", cfg, policyDir)
		}},
		{"nexus-authz/cache=0", func(grpcAddr, httpAddr string) *exec.Cmd {
			return exec.Command(bin, "--policies", policyDir, "--query", "istio/authz/allow", "--addr", grpcAddr, "--http-addr", httpAddr,
				"--decision-cache-size", "0", "--decision-log", filepath.Join(b.TempDir(), "decisions.log"))
		}},
		// Like for like: no decision log, as opa-envoy-plugin above.
		{"nexus-authz/cache=0/log=off", func(grpcAddr, httpAddr string) *exec.Cmd {
			return exec.Command(bin, "--policies", policyDir, "--query", "istio/authz/allow", "--addr", grpcAddr, "--http-addr", httpAddr,
				"--decision-cache-size", "0", "--decision-log", "off")
		}},
		{"nexus-authz/cache=10000", func(grpcAddr, httpAddr string) *exec.Cmd {
			return exec.Command(bin, "--policies", policyDir, "--query", "istio/authz/allow", "--addr", grpcAddr, "--http-addr", httpAddr,
				"--decision-cache-size", "10000", "--decision-log", filepath.Join(b.TempDir(), "decisions.log"))
		}},
	}
	for _, s := range servers {
		b.Run(s.name, func(b *testing.B) {
			grpcAddr, httpAddr := freeAddr(b), freeAddr(b)
			cmd := s.cmd(grpcAddr, httpAddr)
			if strings.HasPrefix(s.name, "nexus-authz") {
				// NEXUS_AUTHZ_BENCH_ARGS adds flags (--gc-percent 100, …).
				cmd.Args = append(cmd.Args, strings.Fields(os.Getenv("NEXUS_AUTHZ_BENCH_ARGS"))...)
			}
			p := startAny(b, cmd, grpcAddr, httpAddr, reqs[0])
			b.Run("sequential", func(b *testing.B) {
				sequential(b, p, func(i int) error {
					_, err := p.clients[0].Check(context.Background(), reqs[i%len(reqs)])
					return err
				})
			})
			if s.name == "nexus-authz/cache=0" {
				b.Run("sequential/floor=grpc-health", func(b *testing.B) {
					sequential(b, p, func(int) error {
						_, err := p.health[0].Check(context.Background(), &healthpb.HealthCheckRequest{})
						return err
					})
				})
			}
			for _, rate := range []int{1000, 2000} {
				b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) {
					driveLoad(b, p, rate, nil, func(i int) error {
						_, err := p.clients[i%4].Check(context.Background(), reqs[i%len(reqs)])
						return err
					})
				})
			}
		})
	}
}

// sequential sends one check at a time for 3 s and reports the latency
// percentiles a single Envoy worker would see.
func sequential(b *testing.B, p *process, call func(i int) error) {
	for b.Loop() {
		var lat []float64
		cpu0 := procCPU(b, p.pid)
		end := time.Now().Add(3 * time.Second)
		for i := 0; time.Now().Before(end); i++ {
			t0 := time.Now()
			if err := call(i); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, float64(time.Since(t0).Nanoseconds())/1000)
		}
		cpu := procCPU(b, p.pid) - cpu0
		slices.Sort(lat)
		b.ReportMetric(lat[len(lat)/2], "µs-p50")
		b.ReportMetric(lat[len(lat)*99/100], "µs-p99")
		b.ReportMetric(cpu.Seconds()*1e6/float64(len(lat)), "µs-server-cpu/check")
	}
}

// startAny starts a server process, waits until it answers a check and
// warms it up (connections, stacks, caches).
func startAny(b *testing.B, cmd *exec.Cmd, grpcAddr, httpAddr string, probe *authv3.CheckRequest) *process {
	b.Helper()
	if cmd.Stdout == nil {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	p := &process{pid: cmd.Process.Pid, metrics: "http://" + httpAddr + "/metrics"}
	for i := 0; i < 4; i++ {
		conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { conn.Close() })
		p.clients = append(p.clients, authv3.NewAuthorizationClient(conn))
		p.health = append(p.health, healthpb.NewHealthClient(conn))
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := p.clients[0].Check(context.Background(), probe)
		if err == nil && resp.GetStatus() != nil {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("server not ready: %v %v", resp, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := 0; i < 2000; i++ {
		_, _ = p.clients[i%4].Check(context.Background(), probe)
	}
	return p
}

// procMem reads a process's resident set and its peak, in MiB.
func procMem(tb testing.TB, pid int) (rss, peak float64) {
	tb.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return rss, peak
}

//go:build jaeger

package e2e

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/structpb"
)

// jaegerCalls is how many calls, each its own trace, the load sends.
const jaegerCalls = 30

// TestJaeger runs a real Jaeger v2 (in JAEGER_BIN, built and cached by
// scripts/jaeger-build.sh) with in-memory storage as the trace store of
// nexus-authz and both nexus-backend versions, which export to it over
// OTLP/gRPC as deployed. It drives a mixed load, allowed and denied callers
// across v1 and v2, one trace per call through authz (as the model
// sidecar's ext_authz call) and a backend (as its router), stops the
// services so they flush, and checks through Jaeger's own query API that
// every call's trace is complete: the authz Check span and the backend's
// GenAI span under one trace id, the backend span naming the version that
// served it. Jaeger listens only on the loopback endpoints it is given.
func TestJaeger(t *testing.T) {
	jaegerBin := os.Getenv("JAEGER_BIN")
	if jaegerBin == "" {
		t.Fatal("JAEGER_BIN is not set: run make e2e, which builds and caches Jaeger v2 (scripts/jaeger-build.sh)")
	}
	// The directory scripts/jaeger-build.sh prints, or the binary itself
	// (as make run takes it).
	jaegerExe := jaegerBin
	if fi, err := os.Stat(jaegerBin); err == nil && fi.IsDir() {
		jaegerExe = filepath.Join(jaegerBin, "jaeger")
	}
	if _, err := os.Stat(jaegerExe); err != nil {
		t.Fatalf("JAEGER_BIN=%s: %v", jaegerBin, err)
	}
	bin := binaries(t)

	addr := func() string { return "127.0.0.1:" + itoa(freePort(t)) }
	otlpGRPC, otlpHTTP, queryHTTP, queryGRPC := addr(), addr(), addr(), addr()
	dir := t.TempDir()
	// Every endpoint is set, on loopback: the collector would otherwise
	// serve its own metrics on the fixed 127.0.0.1:8888, which telemetry
	// level none turns off. No health check, pprof or sampling extension
	// is configured, so none listens.
	cfg := fmt.Sprintf(`receivers:
  otlp:
    protocols:
      grpc: {endpoint: %q}
      http: {endpoint: %q}
processors:
  batch: {timeout: 100ms}
exporters:
  jaeger_storage_exporter:
    trace_storage: mem
extensions:
  jaeger_storage:
    backends:
      mem:
        memory: {max_traces: 10000}
  jaeger_query:
    storage: {traces: mem}
    enable_tracing: false
    http: {endpoint: %q}
    grpc: {endpoint: %q}
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics: {level: none}
    logs: {level: info}
`, otlpGRPC, otlpHTTP, queryHTTP, queryGRPC)
	cfgFile := filepath.Join(dir, "jaeger.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	jaeger := start(t, jaegerExe, "--config", cfgFile)
	waitHTTP(t, "http://"+queryHTTP+"/api/services")
	waitTCP(t, otlpGRPC)

	// The services export traces to Jaeger as deployed; Jaeger stores
	// traces only, so their metrics stay on /metrics.
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+otlpGRPC)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	t.Setenv("OTEL_EXPORTER_OTLP_INSECURE", "true")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
	t.Setenv("OTEL_METRICS_EXPORTER", "none")

	m := writeMesh(t)
	health1, health2 := addr(), addr()
	authzAddr, authzHTTP := addr(), addr()
	procs := []*proc{
		start(t, filepath.Join(bin, "nexus-backend"), "--model", "triage", "--version", "v1", "--addr", m.backend1, "--health-addr", health1),
		start(t, filepath.Join(bin, "nexus-backend"), "--model", "triage", "--version", "v2", "--addr", m.backend2, "--health-addr", health2),
		start(t, filepath.Join(bin, "nexus-authz"), "--policies", "../policies", "--addr", authzAddr, "--http-addr", authzHTTP),
	}
	waitHTTP(t, "http://"+health1+"/readyz")
	waitHTTP(t, "http://"+health2+"/readyz")
	waitHTTP(t, "http://"+authzHTTP+"/readyz")

	conn, err := grpc.NewClient(authzAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	authz := authv3.NewAuthorizationClient(conn)

	// The load: call i is its own trace. Every third caller is not one the
	// policy allows; odd calls go to v2, even ones to v1.
	version := map[string]string{} // trace id → the version that served it
	var order []string
	allowed, denied := 0, 0
	for i := range jaegerCalls {
		trace := randomHex(16)
		body, _ := json.Marshal(map[string]any{"model": "triage", "messages": []map[string]string{{"role": "user", "content": "a question about dosage, number " + itoa(i)}}})
		caller := "spiffe://nexus.local/ns/clinic/sa/frontdesk"
		if i%3 == 2 {
			caller = "spiffe://nexus.local/ns/other/sa/x"
		}
		md, _ := structpb.NewStruct(map[string]any{"findings": map[string]any{}})
		ctx := metadata.AppendToOutgoingContext(context.Background(), "traceparent", "00-"+trace+"-"+randomHex(8)+"-01")
		resp, err := authz.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Source: &authv3.AttributeContext_Peer{Principal: caller},
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: "POST", Path: "/v1/chat/completions", Host: "triage.models.nexus.local",
				Headers: map[string]string{"content-type": "application/json", "x-nexus-purpose": "treatment"},
				Body:    string(body),
			}},
			ContextExtensions: map[string]string{"model": "triage", "policy": "nexus.models.triage"},
			MetadataContext:   &core.Metadata{FilterMetadata: map[string]*structpb.Struct{"piiguard": md}},
		}})
		if err != nil {
			t.Fatalf("Check %d: %v", i, err)
		}
		if resp.GetStatus().GetCode() == 0 {
			allowed++
		} else {
			denied++
		}
		backend, v := m.backend1, "v1"
		if i%2 == 1 {
			backend, v = m.backend2, "v2"
		}
		req, _ := http.NewRequest("POST", "http://"+backend+"/v1/chat/completions", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("traceparent", "00-"+trace+"-"+randomHex(8)+"-01")
		hresp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("completion %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, hresp.Body)
		hresp.Body.Close()
		if hresp.StatusCode != http.StatusOK {
			t.Fatalf("completion %d on %s: %s", i, v, hresp.Status)
		}
		version[trace] = v
		order = append(order, trace)
	}
	if allowed == 0 || denied == 0 {
		t.Fatalf("the load is not mixed: %d allowed, %d denied", allowed, denied)
	}

	// Jaeger listens on the four endpoints configured and nowhere else.
	if runtime.GOOS == "linux" {
		want := map[string]bool{otlpGRPC: true, otlpHTTP: true, queryHTTP: true, queryGRPC: true}
		got := listeners(t, jaeger.cmd.Process.Pid)
		for _, l := range got {
			if !want[l] {
				t.Errorf("jaeger listens on %s, not one of its configured endpoints %v", l, []string{otlpGRPC, otlpHTTP, queryHTTP, queryGRPC})
			}
		}
		if len(got) != len(want) {
			t.Errorf("jaeger listens on %v, want %v", got, []string{otlpGRPC, otlpHTTP, queryHTTP, queryGRPC})
		}
	}

	// Stop the services so their exporters flush what is still batched.
	for _, p := range procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range procs {
		_ = p.cmd.Wait()
	}

	// Jaeger's query API answers with each trace once it is stored.
	deadline := time.Now().Add(30 * time.Second)
	versions := map[string]int{}
	for _, id := range order {
		var missing string
		for {
			spans, err := jaegerTrace(queryHTTP, id)
			missing = ""
			if err != nil {
				missing = err.Error()
			} else {
				missing = traceMissing(spans, version[id])
			}
			if missing == "" {
				versions[version[id]]++
				break
			}
			if time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if missing != "" {
			t.Errorf("trace %s (%s) is not complete in Jaeger: %s", id, version[id], missing)
		}
	}
	if versions["v1"] == 0 || versions["v2"] == 0 {
		t.Errorf("complete traces per backend version: %v, want both v1 and v2", versions)
	}
	t.Logf("%d complete traces in Jaeger (%d allowed, %d denied; %v)", versions["v1"]+versions["v2"], allowed, denied, versions)

	// The services are found by name as an operator would search.
	var svc struct{ Data []string }
	if err := json.Unmarshal([]byte(get(t, "http://"+queryHTTP+"/api/services", "")), &svc); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"nexus-authz", "nexus-backend"} {
		found := false
		for _, s := range svc.Data {
			found = found || s == want
		}
		if !found {
			t.Errorf("Jaeger's services %v do not include %s", svc.Data, want)
		}
	}
}

// jaegerSpan is a span as Jaeger's query API (/api/traces/{id}) shows it,
// with its process's service name filled in.
type jaegerSpan struct {
	Service, Operation string
	Tags               map[string]string
}

// jaegerTrace fetches one trace from Jaeger's HTTP query API.
func jaegerTrace(addr, id string) ([]jaegerSpan, error) {
	resp, err := http.Get("http://" + addr + "/api/traces/" + id)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("not found")
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("%s: %s", resp.Status, b)
	}
	var r struct {
		Data []struct {
			TraceID string
			Spans   []struct {
				TraceID       string
				OperationName string
				ProcessID     string
				Tags          []struct {
					Key   string
					Value any
				}
			}
			Processes map[string]struct{ ServiceName string }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	var spans []jaegerSpan
	for _, tr := range r.Data {
		for _, s := range tr.Spans {
			if s.TraceID != id {
				return nil, fmt.Errorf("asked for trace %s, got a span of %s", id, s.TraceID)
			}
			sp := jaegerSpan{Service: tr.Processes[s.ProcessID].ServiceName, Operation: s.OperationName, Tags: map[string]string{}}
			for _, tag := range s.Tags {
				sp.Tags[tag.Key] = fmt.Sprint(tag.Value)
			}
			spans = append(spans, sp)
		}
	}
	return spans, nil
}

// traceMissing says what a complete call's trace lacks: the authz Check
// span and the backend's chat span from the given version.
func traceMissing(spans []jaegerSpan, version string) string {
	check, chat := false, false
	var seen []string
	for _, s := range spans {
		seen = append(seen, s.Service+" "+s.Operation)
		switch {
		case s.Service == "nexus-authz" && s.Operation == "envoy.service.auth.v3.Authorization/Check":
			check = true
		case s.Service == "nexus-backend" && s.Operation == "chat triage" && s.Tags["nexus.model.version"] == version:
			chat = true
		}
	}
	var missing []string
	if !check {
		missing = append(missing, "no nexus-authz envoy.service.auth.v3.Authorization/Check span")
	}
	if !chat {
		missing = append(missing, "no nexus-backend chat triage span tagged nexus.model.version="+version)
	}
	if len(missing) == 0 {
		return ""
	}
	return strings.Join(missing, "; ") + fmt.Sprintf(" (spans: %v)", seen)
}

func waitTCP(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s does not accept connections", addr)
}

// listeners returns the addresses process pid listens on, TCP listeners
// and bound UDP sockets alike: the sockets it holds (/proc/pid/fd) looked
// up in the kernel's tables (/proc/pid/net).
func listeners(t *testing.T, pid int) []string {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	var addrs []string
	for _, table := range []string{"tcp", "tcp6", "udp", "udp6"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || !inodes[fields[9]] {
				continue
			}
			// TCP: only listeners (state 0A); UDP: every bound socket.
			if strings.HasPrefix(table, "tcp") && fields[3] != "0A" {
				continue
			}
			ip, port := procAddr(fields[1])
			a := net.JoinHostPort(ip.String(), itoa(port))
			if strings.HasPrefix(table, "udp") {
				a = "udp " + a
			}
			addrs = append(addrs, a)
		}
		f.Close()
	}
	return addrs
}

// procAddr decodes an address of /proc/net/{tcp,udp}{,6}: hex, each
// 32-bit word in host byte order, then the port.
func procAddr(s string) (net.IP, int) {
	host, portHex, ok := strings.Cut(s, ":")
	if !ok {
		return nil, 0
	}
	b, err := hex.DecodeString(host)
	if err != nil || len(b)%4 != 0 {
		return nil, 0
	}
	for i := 0; i < len(b); i += 4 {
		binary.BigEndian.PutUint32(b[i:], binary.NativeEndian.Uint32(b[i:]))
	}
	port, _ := strconv.ParseUint(portHex, 16, 16)
	return net.IP(b), int(port)
}

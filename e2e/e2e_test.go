// Package e2e starts the real Nexus binaries as processes and drives them
// the way an operator and a sidecar would: the admin API over HTTP and xDS
// through go-control-plane's ADS client. Where an Envoy binary is installed
// (ENVOY_BIN or PATH), it also starts a real sidecar from the control
// plane's bootstrap and checks it connects and ACKs.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	sotw "github.com/envoyproxy/go-control-plane/pkg/client/sotw/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// binaries returns the directory of the commands: NEXUS_BIN when it is set
// (make e2e builds them there), otherwise the one build this test binary
// makes for all its tests. Under -race they are built with -race too, so
// they reuse the packages the other modules' race tests compiled instead
// of compiling every dependency a second time, and a race in a real
// process fails the test that drove it.
func binaries(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("NEXUS_BIN"); dir != "" {
		return dir
	}
	dir, err := buildBinaries()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

var buildBinaries = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "nexus-e2e-bin-")
	if err != nil {
		return "", err
	}
	builtDir.Store(&dir)
	for _, pkg := range []string{"../controlplane/cmd/nexus-controlplane", "../controlplane/cmd/nexusctl", "../inference-backend/cmd/nexus-backend", "../authz/cmd/nexus-authz"} {
		args := []string{"build", "-o", dir + "/"}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "./"+filepath.Base(pkg))...)
		cmd.Dir = filepath.Dir(pkg)
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("build %s: %v\n%s", pkg, err, out)
		}
	}
	return dir, nil
})

// builtDir is where buildBinaries put the commands, for TestMain to
// remove once every test is done.
var builtDir atomic.Pointer[string]

func TestMain(m *testing.M) {
	flag.Parse()
	// These tests spend their time waiting on processes and clocks
	// (rollout intervals, Prometheus scrapes), not on the CPU, so more of
	// them run at once than -parallel's default of one per CPU, unless
	// -parallel is given.
	parallelSet := false
	flag.Visit(func(f *flag.Flag) { parallelSet = parallelSet || f.Name == "test.parallel" })
	if !parallelSet {
		_ = flag.Set("test.parallel", "8")
	}
	code := m.Run()
	if dir := builtDir.Load(); dir != nil {
		_ = os.RemoveAll(*dir)
	}
	os.Exit(code)
}

// freePort returns a port on 127.0.0.1 that a server started next can
// bind. It is picked below Linux's ephemeral range (32768–60999): a port
// the kernel hands out for ":0" can be taken as the source port of any
// outgoing connection in the time a process takes to start and bind it,
// which once made a CI run's nexus-authz fail with "address already in
// use". A port is handed out once per test binary: ports picked at once
// (a mesh's, or several scenarios' laid out ahead) are not bound until
// their processes start, and two of them could otherwise be the same.
func freePort(t *testing.T) int {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 200 {
		port := 20000 + rand.IntN(12000)
		if handedOut.ports[port] {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+itoa(port))
		if err != nil {
			continue
		}
		l.Close()
		handedOut.ports[port] = true
		return port
	}
	t.Fatal("no free port on 127.0.0.1 in 20000–31999")
	return 0
}

var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

type proc struct {
	cmd *exec.Cmd
	log *lockedBuffer
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func start(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	log := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, log: log}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if strings.Contains(log.String(), "WARNING: DATA RACE") {
			t.Errorf("%s reported a data race", filepath.Base(bin))
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", filepath.Base(bin), log.String())
		}
	})
	return p
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not come up", url)
}

type mesh struct {
	dir, file          string
	xds, admin         string
	backend1, backend2 string
}

func writeMesh(t *testing.T) mesh {
	t.Helper()
	dir := t.TempDir()
	m := mesh{
		dir:      dir,
		file:     filepath.Join(dir, "mesh.yaml"),
		xds:      fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		admin:    fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		backend1: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		backend2: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
	}
	doc := fmt.Sprintf(`trustDomain: nexus.local
controlPlane: {address: %s}
piiGuard: {wasm: piiguard.wasm}
services:
  - {name: frontdesk, appPort: %d, inbound: 127.0.0.1:%d, outbound: 127.0.0.1:%d}
models:
  - name: triage
    hosts: [triage.models.nexus.local]
    sidecar: 127.0.0.1:%d
    policy: nexus.models.triage
    pii: {EMAIL: tokenize}
    versions:
      - {name: v1, weight: 90, endpoints: [%s]}
      - {name: v2, weight: 10, endpoints: [%s]}
`, m.xds, freePort(t), freePort(t), freePort(t), freePort(t), m.backend1, m.backend2)
	if err := os.WriteFile(m.file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return m
}

func (m mesh) startControlPlane(t *testing.T, bin string, extra ...string) (*proc, string) {
	t.Helper()
	data := filepath.Join(m.dir, "data")
	p := start(t, filepath.Join(bin, "nexus-controlplane"), append([]string{"--config", m.file, "--data-dir", data, "--xds-addr", m.xds, "--admin-addr", m.admin}, extra...)...)
	waitHTTP(t, "http://"+m.admin+"/api/v1/openapi.json")
	tok, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	return p, strings.TrimSpace(string(tok))
}

// xdsConn dials xDS as node's sidecar would from its bootstrap: TLS that
// checks the control plane's SPIFFE id against bundle.pem, and the node
// credential the control plane wrote for it.
func (m mesh) xdsConn(t *testing.T, node string) *grpc.ClientConn {
	t.Helper()
	data := filepath.Join(m.dir, "data")
	bundle, err := x509bundle.Load(spiffeid.RequireTrustDomainFromString("nexus.local"), filepath.Join(data, "bundle.pem"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := os.ReadFile(filepath.Join(data, "nodes", node+".token"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := tlsconfig.TLSClientConfig(bundle, tlsconfig.AuthorizeID(spiffeid.RequireFromString("spiffe://nexus.local/nexus/controlplane")))
	conn, err := grpc.NewClient(m.xds, grpc.WithTransportCredentials(credentials.NewTLS(cfg)),
		grpc.WithPerRPCCredentials(bearer(strings.TrimSpace(string(tok)))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}
func (bearer) RequireTransportSecurity() bool { return true }

func api(t *testing.T, method, url, token, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

func routeWeights(t *testing.T, r *sotw.Response) map[string]uint32 {
	t.Helper()
	rc := &route.RouteConfiguration{}
	if err := r.Resources[0].UnmarshalTo(rc); err != nil {
		t.Fatal(err)
	}
	got := map[string]uint32{}
	for _, rt := range rc.GetVirtualHosts()[0].GetRoutes() {
		for _, c := range rt.GetRoute().GetWeightedClusters().GetClusters() {
			got[c.GetName()] = c.GetWeight().GetValue()
		}
	}
	return got
}

// TestTrafficShiftEndToEnd: real backends and control plane as processes;
// a sidecar-like ADS client follows a traffic shift made through the admin
// API, the shift survives a kill -9 of the control plane, and the backends
// answer as the versions they are.
func TestTrafficShiftEndToEnd(t *testing.T) {
	t.Parallel()
	bin := binaries(t)
	m := writeMesh(t)
	start(t, filepath.Join(bin, "nexus-backend"), "--model", "triage", "--version", "v1", "--addr", m.backend1)
	start(t, filepath.Join(bin, "nexus-backend"), "--model", "triage", "--version", "v2", "--addr", m.backend2)
	waitHTTP(t, "http://"+m.backend1+"/readyz")
	waitHTTP(t, "http://"+m.backend2+"/readyz")
	cp, token := m.startControlPlane(t, bin)

	for addr, version := range map[string]string{m.backend1: "v1", m.backend2: "v2"} {
		resp, err := http.Post("http://"+addr+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"triage","messages":[{"role":"user","content":"fever"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("x-nexus-model-version") != version {
			t.Fatalf("backend %s answered %d as %q", addr, resp.StatusCode, resp.Header.Get("x-nexus-model-version"))
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn := m.xdsConn(t, "model~triage")
	ads := sotw.NewADSClient(ctx, &core.Node{Id: "model~triage", Cluster: "nexus"}, resourcev3.RouteType)
	if err := ads.InitConnect(conn); err != nil {
		t.Fatal(err)
	}
	first, err := ads.Fetch()
	if err != nil {
		t.Fatal(err)
	}
	if w := routeWeights(t, first); w["model|triage|v1"] != 90 || w["model|triage|v2"] != 10 {
		t.Fatalf("initial weights = %v", w)
	}
	if err := ads.Ack(); err != nil {
		t.Fatal(err)
	}

	if code := api(t, "PUT", "http://"+m.admin+"/api/v1/admin/models/triage/traffic", token, `{"weights":{"v1":25,"v2":75}}`, nil); code != 200 {
		t.Fatalf("traffic PUT = %d", code)
	}
	next, err := ads.Fetch()
	if err != nil {
		t.Fatal(err)
	}
	if w := routeWeights(t, next); w["model|triage|v1"] != 25 || w["model|triage|v2"] != 75 {
		t.Fatalf("pushed weights = %v", w)
	}
	if err := ads.Ack(); err != nil {
		t.Fatal(err)
	}
	var nodes struct {
		Nodes []struct {
			ID        string            `json:"id"`
			Connected bool              `json:"connected"`
			Acked     map[string]string `json:"acked"`
			Published map[string]string `json:"published"`
		} `json:"nodes"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		api(t, "GET", "http://"+m.admin+"/api/v1/admin/nodes", token, "", &nodes)
		n := nodes.Nodes[0]
		if n.ID == "model~triage" && n.Connected && n.Acked["routes"] == n.Published["routes"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node status never showed the ACK: %+v", nodes)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// kill -9 the control plane; a new one serves the shifted weights and
	// the audit chain still verifies.
	_ = cp.cmd.Process.Kill()
	_ = cp.cmd.Wait()
	_, token = m.startControlPlane(t, bin)
	var models struct {
		Models []struct {
			Versions []struct {
				Name   string `json:"name"`
				Weight int    `json:"weight"`
			} `json:"versions"`
		} `json:"models"`
	}
	api(t, "GET", "http://"+m.admin+"/api/v1/admin/models", token, "", &models)
	if v := models.Models[0].Versions; v[0].Weight != 25 || v[1].Weight != 75 {
		t.Fatalf("weights after kill -9 = %+v", v)
	}
	var verify struct {
		OK      bool `json:"ok"`
		Records int  `json:"records"`
	}
	api(t, "GET", "http://"+m.admin+"/api/v1/admin/audit/verify", token, "", &verify)
	if !verify.OK || verify.Records != 1 {
		t.Fatalf("audit verify after restart = %+v", verify)
	}
}

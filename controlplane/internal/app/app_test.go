package app_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	sotw "github.com/envoyproxy/go-control-plane/pkg/client/sotw/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/secureai-nexus/nexus/controlplane/internal/app"
)

const exampleMesh = "../../../examples/mesh.yaml"

func TestRunServesXDSAndAdmin(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan app.Ready, 1)
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() {
		done <- app.Run(ctx, log, app.Config{MeshFile: exampleMesh, DataDir: dir, XDSAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0"}, ready)
	}()
	var r app.Ready
	select {
	case r = <-ready:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("control plane did not start")
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	tok, err := os.ReadFile(r.AdminTokenPath)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://"+r.AdminAddr+"/api/v1/admin/nodes", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var nodes struct {
		Nodes []struct{ ID string } `json:"nodes"`
	}
	err = json.NewDecoder(resp.Body).Decode(&nodes)
	resp.Body.Close()
	if err != nil || len(nodes.Nodes) != 2 {
		t.Fatalf("nodes = %+v, %v", nodes, err)
	}

	// Plaintext xDS gets nothing.
	plain, err := grpc.NewClient(r.XDSAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	pc := sotw.NewADSClient(ctx, &core.Node{Id: "model~triage"}, resourcev3.ListenerType)
	if err := pc.InitConnect(plain); err == nil {
		if _, err := pc.Fetch(); err == nil {
			t.Fatal("a plaintext xDS client was served")
		}
	}

	// A sidecar as its bootstrap says: TLS checking the control plane's
	// SPIFFE id against bundle.pem, and its node credential.
	bundle, err := x509bundle.Load(spiffeid.RequireTrustDomainFromString("nexus.local"), filepath.Join(dir, "bundle.pem"))
	if err != nil {
		t.Fatal(err)
	}
	nodeTok, err := os.ReadFile(filepath.Join(dir, "nodes", "model~triage.token"))
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(filepath.Join(dir, "nodes", "model~triage.token")); st.Mode().Perm() != 0o600 {
		t.Errorf("node credential mode %04o, want 0600", st.Mode().Perm())
	}
	tlsCfg := tlsconfig.TLSClientConfig(bundle, tlsconfig.AuthorizeID(spiffeid.RequireFromString("spiffe://nexus.local/nexus/controlplane")))
	conn, err := grpc.NewClient(r.XDSAddr, grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)),
		grpc.WithPerRPCCredentials(bearer(strings.TrimSpace(string(nodeTok)))))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := sotw.NewADSClient(ctx, &core.Node{Id: "model~triage"}, resourcev3.ListenerType)
	if err := c.InitConnect(conn); err != nil {
		t.Fatal(err)
	}
	got, err := c.Fetch()
	if err != nil || len(got.Resources) != 1 {
		t.Fatalf("listeners = %v, %v", got, err)
	}
	for _, n := range r.Nodes {
		if _, err := os.Stat(filepath.Join(r.BootstrapDir, n.ID+".json")); err != nil {
			t.Errorf("no bootstrap for %s: %v", n.ID, err)
		}
	}
}

type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}
func (bearer) RequireTransportSecurity() bool { return true }

func TestRunRefuses(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("trustDomain: x\nmodels: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  app.Config
		want string
	}{
		{"invalid mesh", app.Config{MeshFile: bad}, "models: at least one model is required"},
		{"non-loopback admin without TLS", app.Config{MeshFile: exampleMesh, AdminAddr: "0.0.0.0:0"}, "needs --admin-tls-cert"},
		{"non-loopback admin without OIDC", app.Config{MeshFile: exampleMesh, AdminAddr: "0.0.0.0:0", AdminTLSCert: "c", AdminTLSKey: "k"}, "configure --oidc-issuer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.DataDir = t.TempDir()
			tt.cfg.XDSAddr = "127.0.0.1:0"
			err := app.Run(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)), tt.cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestMeshFileReload: a valid edit is served; an invalid one is refused
// and the last good mesh keeps serving.
func TestMeshFileReload(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "mesh.yaml")
	orig, err := os.ReadFile(exampleMesh)
	if err != nil {
		t.Fatal(err)
	}
	// Paths in the example are relative to examples/.
	doc := strings.Replace(string(orig), "../filters/piiguard.wasm", "/opt/piiguard.wasm", 1)
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan app.Ready, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, slog.New(slog.NewTextHandler(logs, nil)), app.Config{
			MeshFile: file, DataDir: filepath.Join(dir, "data"), XDSAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", ReloadInterval: 20 * time.Millisecond,
		}, ready)
	}()
	r := <-ready
	defer func() { cancel(); <-done }()
	tok, _ := os.ReadFile(r.AdminTokenPath)
	weightOfV2 := func() float64 {
		req, _ := http.NewRequest("GET", "http://"+r.AdminAddr+"/api/v1/admin/models/triage", nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m struct {
			Versions []struct {
				Weight float64 `json:"weight"`
			} `json:"versions"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return m.Versions[1].Weight
	}
	waitUntil := func(what string, cond func() bool) {
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out: %s\nlogs:\n%s", what, logs.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	good := strings.Replace(strings.Replace(doc, "weight: 90", "weight: 60", 1), "weight: 10", "weight: 40", 1)
	if err := os.WriteFile(file, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	waitUntil("valid edit served", func() bool { return weightOfV2() == 40 })

	bad := strings.Replace(good, "weight: 40", "weight: 400", 1)
	if err := os.WriteFile(file, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	waitUntil("invalid edit logged", func() bool {
		return strings.Contains(logs.String(), "mesh file rejected") && strings.Contains(logs.String(), "models[0].versions[1].weight: must be 0..100, got 400")
	})
	if w := weightOfV2(); w != 40 {
		t.Errorf("after a rejected edit v2 weight = %v, want the last good 40", w)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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

//go:build spire

package e2e

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	sotw "github.com/envoyproxy/go-control-plane/pkg/client/sotw/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
)

// TestSPIRE runs a real SPIRE server and agent from spire/ (join token
// attestation), registers the example mesh from spire/entries.json, runs
// the control plane in SPIRE mode, and proves that:
//   - the control plane takes its SVID from the agent and serves xDS with it;
//   - every SDS secret name Nexus's SPIRE-mode Envoy config asks for is
//     served by the agent's SDS API (envoy.service.secret.v3), SVIDs chaining
//     to the served bundle;
//   - go-spiffe fetches SVIDs from the agent's Workload API and its watch
//     sees a registration made while it runs.
func TestSPIRE(t *testing.T) {
	spireBin := os.Getenv("SPIRE_BIN")
	if spireBin == "" {
		t.Fatal("SPIRE_BIN is not set: run make e2e-spire, which builds and caches SPIRE")
	}
	bin := binaries(t)
	// Unix socket paths are limited to 108 bytes: keep the state dir short.
	dir, err := os.MkdirTemp("", "nexus-spire-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	env := append(os.Environ(), "SPIRE_DIR="+dir, fmt.Sprintf("SPIRE_SERVER_PORT=%d", freePort(t)))
	serverSock := filepath.Join(dir, "server", "api.sock")
	agentSock := filepath.Join(dir, "agent", "agent.sock")
	spire := func(tool string, args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(spireBin, tool), args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	for _, d := range []string{"server/data", "agent/data"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}

	server := exec.Command(filepath.Join(spireBin, "spire-server"), "run", "-config", "../spire/server.conf", "-expandEnv")
	server.Env = env
	startCmd(t, server, "spire-server")
	waitFor("spire-server", func() bool {
		c := exec.Command(filepath.Join(spireBin, "spire-server"), "healthcheck", "-socketPath", serverSock)
		return c.Run() == nil
	})
	if err := os.WriteFile(filepath.Join(dir, "bootstrap.crt"), []byte(spire("spire-server", "bundle", "show", "-socketPath", serverSock)), 0o644); err != nil {
		t.Fatal(err)
	}
	tokOut := spire("spire-server", "token", "generate", "-socketPath", serverSock, "-ttl", "600")
	var token string
	for _, line := range strings.Split(tokOut, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Token:"); ok {
			token = strings.TrimSpace(v)
		}
	}
	if token == "" {
		t.Fatalf("no token in spire-server's answer: %q", tokOut)
	}
	parent := "spiffe://nexus.local/spire/agent/join_token/" + token

	// Everything here runs as one user, so every entry selects this uid;
	// in production each workload runs as its own user.
	uid := fmt.Sprintf("uid:%d", os.Getuid())
	raw, err := os.ReadFile("../spire/entries.json")
	if err != nil {
		t.Fatal(err)
	}
	entries := os.Expand(string(raw), func(k string) string {
		if k == "PARENT_ID" {
			return parent
		}
		return uid
	})
	entriesFile := filepath.Join(dir, "entries.json")
	if err := os.WriteFile(entriesFile, []byte(entries), 0o600); err != nil {
		t.Fatal(err)
	}
	spire("spire-server", "entry", "create", "-socketPath", serverSock, "-data", entriesFile)

	agent := exec.Command(filepath.Join(spireBin, "spire-agent"), "run", "-config", "../spire/agent.conf", "-expandEnv", "-joinToken", token)
	agent.Env = env
	startCmd(t, agent, "spire-agent")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	client, err := workloadapi.New(ctx, workloadapi.WithAddr("unix://"+agentSock))
	waitFor("the agent socket", func() bool {
		if err != nil {
			client, err = workloadapi.New(ctx, workloadapi.WithAddr("unix://"+agentSock))
			return false
		}
		return true
	})
	defer client.Close()
	ids := func() map[string]bool {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		x, err := client.FetchX509Context(c)
		out := map[string]bool{}
		if err != nil {
			return out
		}
		for _, s := range x.SVIDs {
			out[s.ID.String()] = true
		}
		return out
	}
	waitFor("the example mesh's SVIDs from the Workload API", func() bool {
		got := ids()
		return got["spiffe://nexus.local/model/triage"] && got["spiffe://nexus.local/nexus/controlplane"]
	})

	// The control plane in SPIRE mode, on the example mesh.
	meshRaw, err := os.ReadFile("../spire/mesh.yaml")
	if err != nil {
		t.Fatal(err)
	}
	xdsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	adminAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	mesh := strings.NewReplacer("/run/spire/agent/agent.sock", agentSock, "127.0.0.1:18000", xdsAddr, "../filters/piiguard.wasm", "piiguard.wasm").Replace(string(meshRaw))
	meshFile := filepath.Join(dir, "mesh.yaml")
	if err := os.WriteFile(meshFile, []byte(mesh), 0o600); err != nil {
		t.Fatal(err)
	}
	start(t, filepath.Join(bin, "nexus-controlplane"), "--config", meshFile, "--data-dir", filepath.Join(dir, "cp"), "--xds-addr", xdsAddr, "--admin-addr", adminAddr)
	waitHTTP(t, "http://"+adminAddr+"/api/v1/openapi.json")

	// The model sidecar's view, over mTLS with its SPIRE SVID.
	sidecar, err := workloadapi.NewX509Source(ctx, workloadapi.WithClientOptions(workloadapi.WithAddr("unix://"+agentSock)),
		workloadapi.WithDefaultX509SVIDPicker(func(s []*x509svid.SVID) *x509svid.SVID {
			for _, v := range s {
				if v.ID.String() == "spiffe://nexus.local/model/triage" {
					return v
				}
			}
			return s[0]
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer sidecar.Close()
	cpID := spiffeid.RequireFromString("spiffe://nexus.local/nexus/controlplane")
	conn, err := grpc.NewClient(xdsAddr, grpc.WithTransportCredentials(credentials.NewTLS(tlsconfig.MTLSClientConfig(sidecar, sidecar, tlsconfig.AuthorizeID(cpID)))))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	names := map[string]bool{}
	for _, typ := range []string{resourcev3.ListenerType, resourcev3.ClusterType} {
		ads := sotw.NewADSClient(ctx, &corev3.Node{Id: "model~triage"}, typ)
		if err := ads.InitConnect(conn); err != nil {
			t.Fatal(err)
		}
		resp, err := ads.Fetch()
		if err != nil {
			t.Fatalf("xDS from the SPIRE-mode control plane: %v", err)
		}
		for _, r := range resp.Resources {
			var m proto.Message = &listenerv3.Listener{}
			if typ == resourcev3.ClusterType {
				m = &clusterv3.Cluster{}
			}
			if err := r.UnmarshalTo(m); err != nil {
				t.Fatal(err)
			}
			collectSDSNames(t, m, names)
		}
	}
	if len(names) < 2 {
		t.Fatalf("SPIRE-mode config names %d SDS secrets: %v", len(names), names)
	}

	// Ask the agent's SDS for exactly those names, as Envoy would.
	sdsConn, err := grpc.NewClient("unix://"+agentSock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer sdsConn.Close()
	stream, err := secretv3.NewSecretDiscoveryServiceClient(sdsConn).StreamSecrets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]string, 0, len(names))
	for n := range names {
		want = append(want, n)
	}
	if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: &corev3.Node{Id: "model~triage"}, TypeUrl: resourcev3.SecretType, ResourceNames: want}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("SPIRE agent SDS: %v", err)
	}
	got := map[string]*tlsv3.Secret{}
	for _, r := range resp.Resources {
		s := &tlsv3.Secret{}
		if err := r.UnmarshalTo(s); err != nil {
			t.Fatal(err)
		}
		got[s.Name] = s
	}
	for _, n := range want {
		if got[n] == nil {
			t.Errorf("SPIRE agent SDS did not serve %q (served %d secrets)", n, len(got))
		}
	}
	vc := got["spiffe://nexus.local"].GetValidationContext()
	bundle := vc.GetTrustedCa().GetInlineBytes()
	if len(bundle) == 0 && vc.GetCustomValidatorConfig() != nil {
		// SPIRE serves Envoy's SPIFFE certificate validator (per trust
		// domain bundles) rather than a plain trusted CA.
		sv := &tlsv3.SPIFFECertValidatorConfig{}
		if err := vc.GetCustomValidatorConfig().GetTypedConfig().UnmarshalTo(sv); err != nil {
			t.Fatal(err)
		}
		for _, td := range sv.GetTrustDomains() {
			if td.GetName() == "nexus.local" {
				bundle = td.GetTrustBundle().GetInlineBytes()
			}
		}
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(bundle) {
		t.Fatal("SDS bundle holds no certificates")
	}
	svid := got["spiffe://nexus.local/model/triage"].GetTlsCertificate()
	leaf, _ := pem.Decode(svid.GetCertificateChain().GetInlineBytes())
	if leaf == nil {
		t.Fatal("SDS SVID has no certificate")
	}
	cert, err := x509.ParseCertificate(leaf.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("SDS SVID does not chain to the SDS bundle: %v", err)
	}

	// go-spiffe's watch sees a registration made while it runs.
	seen := make(chan struct{}, 1)
	go func() {
		_ = client.WatchX509Context(ctx, watcherFunc(func(x *workloadapi.X509Context) {
			for _, s := range x.SVIDs {
				if s.ID.String() == "spiffe://nexus.local/ns/e2e/sa/late" {
					select {
					case seen <- struct{}{}:
					default:
					}
				}
			}
		}))
	}()
	spire("spire-server", "entry", "create", "-socketPath", serverSock, "-parentID", parent,
		"-spiffeID", "spiffe://nexus.local/ns/e2e/sa/late", "-selector", "unix:"+uid)
	select {
	case <-seen:
	case <-time.After(60 * time.Second):
		t.Fatal("go-spiffe's watch never saw the new SVID")
	}
}

type watcherFunc func(*workloadapi.X509Context)

func (f watcherFunc) OnX509ContextUpdate(x *workloadapi.X509Context) { f(x) }
func (watcherFunc) OnX509ContextWatchError(error)                    {}

// collectSDSNames finds every SdsSecretConfig in m and checks it points at
// the SPIRE agent's cluster.
func collectSDSNames(t *testing.T, m proto.Message, names map[string]bool) {
	t.Helper()
	walk(m.ProtoReflect(), func(s *tlsv3.SdsSecretConfig) {
		if c := s.GetSdsConfig().GetApiConfigSource().GetGrpcServices(); len(c) != 1 || c[0].GetEnvoyGrpc().GetClusterName() != "spire_agent" {
			t.Errorf("secret %q is not fetched from the spire_agent cluster", s.GetName())
		}
		names[s.GetName()] = true
	})
}

// walk calls fn on every SdsSecretConfig under m, looking inside packed
// typed configs whose types are linked in.
func walk(m protoreflect.Message, fn func(*tlsv3.SdsSecretConfig)) {
	if s, ok := m.Interface().(*tlsv3.SdsSecretConfig); ok {
		fn(s)
		return
	}
	if a, ok := m.Interface().(*anypb.Any); ok {
		inner, err := a.UnmarshalNew()
		if err == nil {
			walk(inner.ProtoReflect(), fn)
		}
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				walk(v.List().Get(i).Message(), fn)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				walk(mv.Message(), fn)
				return true
			})
		case fd.Message() != nil && !fd.IsList() && !fd.IsMap():
			walk(v.Message(), fn)
		}
		return true
	})
}

func startCmd(t *testing.T, cmd *exec.Cmd, name string) {
	t.Helper()
	log := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s log:\n%s", name, log.String())
		}
	})
}

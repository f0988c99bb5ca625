package xds_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	sotw "github.com/envoyproxy/go-control-plane/pkg/client/sotw/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/secureai-nexus/nexus/controlplane/internal/ca"
	"github.com/secureai-nexus/nexus/controlplane/internal/identity"
	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
	"github.com/secureai-nexus/nexus/controlplane/internal/xds"
)

// newAuthority is a real built-in CA for the canary mesh's trust domain.
func newAuthority(t *testing.T, m *mesh.Mesh) *identity.Authority {
	t.Helper()
	dir := t.TempDir()
	st, err := store.OpenSQLite(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a, err := identity.Open(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)),
		spiffeid.RequireTrustDomainFromString(m.TrustDomain), st, identity.Config{
			CAPath: filepath.Join(dir, "ca.sealed"), KEK: ca.FileKEK{Path: filepath.Join(dir, "kek")},
		})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

type secureServer struct {
	m      *mesh.Mesh
	a      *identity.Authority
	addr   string
	tokens map[string]string
	logs   *syncBuffer
}

func startSecure(t *testing.T) *secureServer {
	t.Helper()
	m, err := mesh.LoadFile("../translate/testdata/canary.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a := newAuthority(t, m)
	logs := &syncBuffer{}
	srv := xds.NewServer(slog.New(slog.NewTextHandler(logs, nil)))
	srv.SetSecretSource(a)
	tokens := map[string]string{}
	for _, n := range m.Nodes() {
		tokens[n.ID] = "token-of-" + n.ID
	}
	srv.EnableAuth(tokens)
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Publish(ctx, m); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	td := spiffeid.RequireTrustDomainFromString(m.TrustDomain)
	cpID := spiffeid.RequireFromString(m.ControlPlane.SPIFFEID)
	done := make(chan error, 1)
	go func() {
		done <- srv.Serve(ctx, lis, grpc.Creds(credentials.NewTLS(xds.ServerTLS(a.Source(cpID), a, td))))
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return &secureServer{m: m, a: a, addr: lis.Addr().String(), tokens: tokens, logs: logs}
}

type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}
func (bearer) RequireTransportSecurity() bool { return true }

// dial connects as a sidecar would: TLS checking the control plane's id,
// then either a node credential or a client SVID.
func (s *secureServer) dial(t *testing.T, token string, svid *x509svid.SVID) *grpc.ClientConn {
	t.Helper()
	cpID := spiffeid.RequireFromString(s.m.ControlPlane.SPIFFEID)
	cfg := tlsconfig.TLSClientConfig(s.a, tlsconfig.AuthorizeID(cpID))
	if svid != nil {
		cfg = tlsconfig.MTLSClientConfig(staticSVID{svid}, s.a, tlsconfig.AuthorizeID(cpID))
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(cfg))}
	if token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearer(token)))
	}
	conn, err := grpc.NewClient(s.addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

type staticSVID struct{ s *x509svid.SVID }

func (s staticSVID) GetX509SVID() (*x509svid.SVID, error) { return s.s, nil }

// try subscribes to listeners as node on a raw ADS stream and returns the
// first response's status code. (A send on a stream the server already
// closed fails with io.EOF; the status that says why comes with Recv.)
func try(t *testing.T, conn *grpc.ClientConn, node string) codes.Code {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return status.Code(err)
	}
	_ = stream.Send(&discovery.DiscoveryRequest{Node: &core.Node{Id: node}, TypeUrl: resourcev3.ListenerType})
	_, err = stream.Recv()
	return status.Code(err)
}

func TestStreamsAreBoundToTheirNode(t *testing.T) {
	s := startSecure(t)
	svidOf := func(id string) *x509svid.SVID {
		svid, err := s.a.SVID(spiffeid.RequireFromString(id))
		if err != nil {
			t.Fatal(err)
		}
		return svid
	}
	var model, service mesh.Node
	for _, n := range s.m.Nodes() {
		if n.Role == mesh.RoleModel {
			model = n
		} else {
			service = n
		}
	}
	other, _ := ca.New(spiffeid.RequireTrustDomainFromString(s.m.TrustDomain), ca.Options{})
	forged, _ := other.NewX509SVID(spiffeid.RequireFromString(model.SPIFFEID))

	tests := []struct {
		name  string
		token string
		svid  *x509svid.SVID
		node  string
		want  codes.Code
	}{
		{"node credential, own node", s.tokens[model.ID], nil, model.ID, codes.OK},
		{"node credential, another node", s.tokens[model.ID], nil, service.ID, codes.PermissionDenied},
		{"no credential at all", "", nil, model.ID, codes.Unauthenticated},
		{"unknown node credential", "guess", nil, model.ID, codes.Unauthenticated},
		{"SVID, own node", "", svidOf(model.SPIFFEID), model.ID, codes.OK},
		{"SVID, another node", "", svidOf(model.SPIFFEID), service.ID, codes.PermissionDenied},
		{"valid SVID of no node in the mesh", "", svidOf("spiffe://" + s.m.TrustDomain + "/ns/x/sa/stranger"), model.ID, codes.PermissionDenied},
		{"SVID from another CA", "", forged, model.ID, codes.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := try(t, s.dial(t, tt.token, tt.svid), tt.node); got != tt.want {
				t.Errorf("code = %s, want %s", got, tt.want)
			}
		})
	}
	for _, want := range []string{"xDS request for another node refused", "xDS stream refused"} {
		if !strings.Contains(s.logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, s.logs.String())
		}
	}
}

func TestPlaintextClientRefused(t *testing.T) {
	s := startSecure(t)
	conn, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// An HTTP/2 preface in the clear is not a TLS ClientHello.
	_, _ = conn.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, _ := conn.Read(buf)
	if n > 0 && !strings.Contains(string(buf[:n]), "\x15") {
		t.Errorf("plaintext got an answer other than a TLS alert: %q", buf[:n])
	}
}

// TestSDSServesTheNodesOwnSVID: the secrets a node's listeners name arrive
// over ADS, the certificate is the node's own and chains to the bundle.
func TestSDSServesTheNodesOwnSVID(t *testing.T) {
	s := startSecure(t)
	var model mesh.Node
	for _, n := range s.m.Nodes() {
		if n.Role == mesh.RoleModel {
			model = n
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := sotw.NewADSClient(ctx, &core.Node{Id: model.ID}, resourcev3.SecretType)
	if err := c.InitConnect(s.dial(t, s.tokens[model.ID], nil)); err != nil {
		t.Fatal(err)
	}
	resp, err := c.Fetch()
	if err != nil {
		t.Fatal(err)
	}
	var certPEM, keyPEM, bundlePEM []byte
	for _, r := range resp.Resources {
		sec := &tlsv3.Secret{}
		if err := r.UnmarshalTo(sec); err != nil {
			t.Fatal(err)
		}
		if err := sec.ValidateAll(); err != nil {
			t.Errorf("secret %s: %v", sec.Name, err)
		}
		switch {
		case sec.GetTlsCertificate() != nil:
			if sec.Name != model.SPIFFEID {
				t.Errorf("node %s was served the SVID %s", model.ID, sec.Name)
			}
			certPEM = sec.GetTlsCertificate().GetCertificateChain().GetInlineBytes()
			keyPEM = sec.GetTlsCertificate().GetPrivateKey().GetInlineBytes()
		case sec.GetValidationContext() != nil:
			bundlePEM = sec.GetValidationContext().GetTrustedCa().GetInlineBytes()
		}
	}
	svid, err := x509svid.Parse(certPEM, keyPEM)
	if err != nil {
		t.Fatalf("served SVID: %v", err)
	}
	if svid.ID.String() != model.SPIFFEID {
		t.Errorf("SVID id %s, want %s", svid.ID, model.SPIFFEID)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(bundlePEM) {
		t.Fatal("served bundle holds no certificates")
	}
	inter := x509.NewCertPool()
	for _, c := range svid.Certificates[1:] {
		inter.AddCert(c)
	}
	if _, err := svid.Certificates[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("SVID does not chain to the served bundle: %v", err)
	}
	if err := c.Ack(); err != nil {
		t.Fatal(err)
	}
	_ = tls.VersionTLS12
}

// TestRotationMovesOnlySDS: a root rotation changes the bundle every node
// holds; RefreshSecrets pushes it as a new SDS version and leaves every
// other type's version alone, so Envoy drains no listener.
func TestRotationMovesOnlySDS(t *testing.T) {
	m, err := mesh.LoadFile("../translate/testdata/canary.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a := newAuthority(t, m)
	srv := xds.NewServer(slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv.SetSecretSource(a)
	ctx := context.Background()
	if err := srv.Publish(ctx, m); err != nil {
		t.Fatal(err)
	}
	before := srv.Versions("model~triage")
	if before["secrets"] == "" {
		t.Fatal("no secrets version published")
	}
	if _, err := a.RotateRoot(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	if err := srv.RefreshSecrets(ctx); err != nil {
		t.Fatal(err)
	}
	after := srv.Versions("model~triage")
	for typ, v := range before {
		switch {
		case typ == "secrets" && after[typ] == v:
			t.Error("the bundle changed but the SDS version did not")
		case typ != "secrets" && after[typ] != v:
			t.Errorf("%s version moved on a secret rotation: %s → %s", typ, v, after[typ])
		}
	}
}

package identity_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/secureai-nexus/nexus/controlplane/internal/agent"
	"github.com/secureai-nexus/nexus/controlplane/internal/ca"
	"github.com/secureai-nexus/nexus/controlplane/internal/identity"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
	"github.com/secureai-nexus/nexus/controlplane/internal/xds"
)

var (
	td       = spiffeid.RequireTrustDomainFromString("nexus.local")
	cpID     = spiffeid.RequireFromPath(td, "/nexus/controlplane")
	clientID = spiffeid.RequireFromPath(td, "/ns/clinic/sa/frontdesk")
	serverID = spiffeid.RequireFromPath(td, "/ns/models/sa/triage")
)

// controlPlane is the identity half of a real control plane: the
// Authority behind the xDS port's TLS and identity service.
type controlPlane struct {
	a    *identity.Authority
	st   store.Store
	addr string
}

func startControlPlane(t *testing.T, ctx context.Context, ttl time.Duration) *controlPlane {
	t.Helper()
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a, err := identity.Open(ctx, log, td, st, identity.Config{
		CAPath: filepath.Join(dir, "ca.sealed"),
		KEK:    ca.FileKEK{Path: filepath.Join(dir, "ca.kek")},
		CA:     ca.Options{SVIDTTL: ttl},
	})
	if err != nil {
		t.Fatal(err)
	}
	go a.Run(ctx, ttl/20)
	xs := xds.NewServer(log)
	xs.EnableAuth(nil)
	xs.Register((&identity.Service{A: a}).Register)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	creds := credentials.NewTLS(xds.ServerTLS(a.Source(cpID), a, td))
	done := make(chan struct{})
	go func() { _ = xs.Serve(ctx, lis, grpc.Creds(creds)); close(done) }()
	t.Cleanup(func() { <-done })
	return &controlPlane{a: a, st: st, addr: lis.Addr().String()}
}

func (cp *controlPlane) join(t *testing.T, ctx context.Context, id spiffeid.ID, socket string) *agent.Agent {
	t.Helper()
	tok, _, err := cp.a.MintJoinToken(ctx, "test", id, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ag, err := agent.Join(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), agent.Config{
		Server: cp.addr, ControlPlaneID: cpID, Bundle: cp.a.Bundle(), JoinToken: tok, Socket: socket,
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = ag.Run(ctx) }()
	return ag
}

func x509Source(t *testing.T, ctx context.Context, socket string) *workloadapi.X509Source {
	t.Helper()
	src, err := workloadapi.NewX509Source(ctx, workloadapi.WithClientOptions(workloadapi.WithAddr("unix://"+socket)))
	if err != nil {
		t.Fatalf("go-spiffe X509Source on %s: %v", socket, err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// TestRotationWithoutDroppedRequests runs a go-spiffe mTLS client and
// server, each fed by its own agent over the Workload API, exchanging
// requests while SVIDs rotate every second and the root rotates once.
func TestRotationWithoutDroppedRequests(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const ttl = 2 * time.Second
	cp := startControlPlane(t, ctx, ttl)
	dir := t.TempDir()
	cp.join(t, ctx, serverID, filepath.Join(dir, "server", "agent.sock"))
	cp.join(t, ctx, clientID, filepath.Join(dir, "client", "agent.sock"))
	serverSrc := x509Source(t, ctx, filepath.Join(dir, "server", "agent.sock"))
	clientSrc := x509Source(t, ctx, filepath.Join(dir, "client", "agent.sock"))

	lis, err := spiffetls.ListenWithMode(ctx, "tcp", "127.0.0.1:0",
		spiffetls.MTLSServerWithSource(tlsconfig.AuthorizeID(clientID), serverSrc))
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	var seenByServer certsSeen
	go func() {
		for {
			conn, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				tc := conn.(interface {
					Handshake() error
					ConnectionState() tls.ConnectionState
				})
				if err := tc.Handshake(); err != nil {
					return
				}
				seenByServer.add(tc.ConnectionState().PeerCertificates)
				_, _ = io.Copy(conn, conn)
			}()
		}
	}()

	var seenByClient certsSeen
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	payload := bytes.Repeat([]byte("x"), 1024)
	stop := time.Now().Add(4*ttl + ttl/2)
	rotated := false
	for time.Now().Before(stop) {
		if !rotated && time.Until(stop) < 3*ttl {
			if _, err := cp.a.RotateRoot(ctx, "test"); err != nil {
				t.Fatal(err)
			}
			rotated = true
		}
		if err := echo(ctx, lis.Addr().String(), clientSrc, payload, &seenByClient); err != nil {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, err)
		} else {
			ok.Add(1)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("%d requests, %d failed; server saw %d client SVIDs under %d intermediates, client saw %d server SVIDs under %d intermediates",
		ok.Load()+failed.Load(), failed.Load(), seenByServer.leaves(), seenByServer.issuers(), seenByClient.leaves(), seenByClient.issuers())
	if failed.Load() > 0 {
		t.Fatalf("%d of %d requests failed during rotation; first: %v", failed.Load(), ok.Load()+failed.Load(), firstErr.Load())
	}
	if seenByServer.leaves() < 3 || seenByClient.leaves() < 3 {
		t.Errorf("rotation not seen: server saw %d client SVIDs, client saw %d server SVIDs", seenByServer.leaves(), seenByClient.leaves())
	}
	if seenByServer.issuers() < 2 || seenByClient.issuers() < 2 {
		t.Errorf("root rotation not seen: %d and %d signing chains", seenByServer.issuers(), seenByClient.issuers())
	}
}

func echo(ctx context.Context, addr string, src *workloadapi.X509Source, payload []byte, seen *certsSeen) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := spiffetls.DialWithMode(ctx, "tcp", addr, spiffetls.MTLSClientWithSource(tlsconfig.AuthorizeID(serverID), src))
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write(payload); err != nil {
		return err
	}
	got := make([]byte, len(payload))
	if _, err := io.ReadFull(conn, got); err != nil {
		return err
	}
	if !bytes.Equal(got, payload) {
		return errors.New("echo mismatch")
	}
	seen.add(conn.(interface{ ConnectionState() tls.ConnectionState }).ConnectionState().PeerCertificates)
	return nil
}

type certsSeen struct {
	mu      sync.Mutex
	serials map[string]bool
	issuer  map[string]bool
}

func (c *certsSeen) add(chain []*x509.Certificate) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.serials == nil {
		c.serials, c.issuer = map[string]bool{}, map[string]bool{}
	}
	c.serials[chain[0].SerialNumber.String()] = true
	if len(chain) > 1 {
		c.issuer[string(chain[1].AuthorityKeyId)] = true
	}
}
func (c *certsSeen) leaves() int  { c.mu.Lock(); defer c.mu.Unlock(); return len(c.serials) }
func (c *certsSeen) issuers() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.issuer) }

// TestRefusals covers each way to be refused, with its reason.
func TestRefusals(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cp := startControlPlane(t, ctx, time.Hour)
	dir := t.TempDir()
	joinWith := func(tok string) error {
		_, err := agent.Join(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), agent.Config{
			Server: cp.addr, ControlPlaneID: cpID, Bundle: cp.a.Bundle(), JoinToken: tok, Socket: filepath.Join(dir, "x.sock"),
		})
		return err
	}

	t.Run("replayed join token", func(t *testing.T) {
		tok, _, _ := cp.a.MintJoinToken(ctx, "test", clientID, time.Minute)
		if err := joinWith(tok); err != nil {
			t.Fatal(err)
		}
		err := joinWith(tok)
		if err == nil || !strings.Contains(err.Error(), "already used") || strings.Contains(err.Error(), "rpc error") {
			t.Fatalf("err = %v, want a replay refusal", err)
		}
	})
	t.Run("revoked join token", func(t *testing.T) {
		tok, _, _ := cp.a.MintJoinToken(ctx, "test", clientID, time.Minute)
		if err := cp.a.RevokeJoinToken(ctx, "test", tok); err != nil {
			t.Fatal(err)
		}
		if err := joinWith(tok); err == nil || !strings.Contains(err.Error(), "revoked") {
			t.Fatalf("err = %v, want a revocation refusal", err)
		}
	})
	t.Run("unknown join token", func(t *testing.T) {
		if err := joinWith(identity.JoinTokenPrefix + "AAAA"); err == nil || !strings.Contains(err.Error(), "unknown") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("token for another trust domain", func(t *testing.T) {
		_, _, err := cp.a.MintJoinToken(ctx, "test", spiffeid.RequireFromString("spiffe://evil.example/x"), time.Minute)
		if !errors.Is(err, ca.ErrWrongTrustDomain) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("control plane with the wrong id", func(t *testing.T) {
		tok, _, _ := cp.a.MintJoinToken(ctx, "test", clientID, time.Minute)
		_, err := agent.Join(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), agent.Config{
			Server: cp.addr, ControlPlaneID: spiffeid.RequireFromPath(td, "/impostor"), Bundle: cp.a.Bundle(), JoinToken: tok,
		})
		if err == nil || !strings.Contains(err.Error(), "unexpected ID") {
			t.Fatalf("err = %v, want the control plane's id refused", err)
		}
	})
	t.Run("control plane from another trust domain's bundle", func(t *testing.T) {
		other, _ := ca.New(spiffeid.RequireTrustDomainFromString("nexus.local"), ca.Options{})
		tok, _, _ := cp.a.MintJoinToken(ctx, "test", clientID, time.Minute)
		_, err := agent.Join(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), agent.Config{
			Server: cp.addr, ControlPlaneID: cpID, Bundle: x509bundle.FromX509Authorities(td, other.Bundle().X509Authorities()), JoinToken: tok,
		})
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("err = %v, want an untrusted-certificate refusal", err)
		}
	})

	recs, err := cp.st.Audit(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var refused []string
	for _, r := range recs {
		if r.Action == "identity.join.refused" {
			refused = append(refused, string(r.After))
		}
	}
	if len(refused) != 3 {
		t.Errorf("audited refusals = %q, want 3 (replay, revoked, unknown)", refused)
	}
}

func TestKeepDropsSVIDsOfRemovedWorkloads(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cp := startControlPlane(t, ctx, time.Hour)
	first, err := cp.a.SVID(clientID)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := cp.a.SVID(clientID); again != first {
		t.Fatal("SVID not cached")
	}
	cp.a.Keep([]spiffeid.ID{serverID})
	if again, _ := cp.a.SVID(clientID); again == first {
		t.Error("the SVID of a removed workload was kept")
	}
}

package workloadapi_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	goworkload "github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/secureai-nexus/nexus/controlplane/internal/ca"
	"github.com/secureai-nexus/nexus/controlplane/internal/notify"
	"github.com/secureai-nexus/nexus/controlplane/internal/workloadapi"
)

var id = spiffeid.RequireFromString("spiffe://nexus.local/ns/clinic/sa/frontdesk")

// source hands out SVIDs from a real CA and rotates on demand.
type source struct {
	ca      *ca.CA
	changes notify.Hub
	mu      sync.Mutex
	svid    *x509svid.SVID
}

func newSource(t testing.TB) *source {
	t.Helper()
	c, err := ca.New(id.TrustDomain(), ca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := &source{ca: c}
	s.rotate(t)
	return s
}

func (s *source) rotate(t testing.TB) {
	svid, err := s.ca.NewX509SVID(id)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.svid = svid
	s.mu.Unlock()
	s.changes.Notify()
}

func (s *source) Current() (*x509svid.SVID, *x509bundle.Bundle, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.svid, s.ca.Bundle(), nil
}

func (s *source) Subscribe() (<-chan struct{}, func()) { return s.changes.Subscribe() }

func serve(t testing.TB, src *source) (string, context.Context) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sock := filepath.Join(t.TempDir(), "agent.sock")
	done := make(chan error, 1)
	go func() {
		done <- (&workloadapi.Server{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Source: src}).Serve(ctx, sock)
	}()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := goworkload.New(ctx, goworkload.WithAddr("unix://"+sock))
		if err == nil {
			cctx, ccancel := context.WithTimeout(ctx, time.Second)
			_, err = c.FetchX509SVID(cctx)
			ccancel()
			c.Close()
			if err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Workload API did not come up: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return sock, ctx
}

func TestGoSPIFFEClientFetchesAndWatches(t *testing.T) {
	src := newSource(t)
	sock, ctx := serve(t, src)
	c, err := goworkload.New(ctx, goworkload.WithAddr("unix://"+sock))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	svid, err := c.FetchX509SVID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if svid.ID != id {
		t.Errorf("id = %s", svid.ID)
	}
	bundles, err := c.FetchX509Bundles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := bundles.GetX509BundleForTrustDomain(id.TrustDomain()); err != nil || len(b.X509Authorities()) != 1 {
		t.Errorf("bundle: %v", err)
	}
	updates := make(chan string, 8)
	go func() {
		_ = c.WatchX509Context(ctx, watcher(func(x *goworkload.X509Context) {
			updates <- x.DefaultSVID().Certificates[0].SerialNumber.String()
		}))
	}()
	first := <-updates
	src.rotate(t)
	select {
	case next := <-updates:
		if next == first {
			t.Error("watch delivered the same SVID after a rotation")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not deliver the rotated SVID")
	}
}

func TestSecurityHeaderRequired(t *testing.T) {
	sock, ctx := serve(t, newSource(t))
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stream, err := workload.NewSpiffeWorkloadAPIClient(conn).FetchX509SVID(ctx, &workload.X509SVIDRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("without the workload.spiffe.io header: %v, want InvalidArgument", err)
	}
}

type watcher func(*goworkload.X509Context)

func (w watcher) OnX509ContextUpdate(x *goworkload.X509Context) { w(x) }
func (watcher) OnX509ContextWatchError(error)                   {}

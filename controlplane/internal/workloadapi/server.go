// Package workloadapi serves the SPIFFE Workload API (the gRPC service in
// go-spiffe's proto/spiffe/workload) on a Unix socket, so workloads that
// are not Envoy get and watch their X.509-SVID and trust bundle with any
// SPIFFE library, go-spiffe's workloadapi client among them.
package workloadapi

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Source is what the socket hands out, and says when it changed.
type Source interface {
	// Current returns the SVID and the bundle of its trust domain.
	Current() (*x509svid.SVID, *x509bundle.Bundle, error)
	// Subscribe returns a channel that receives (coalesced) on every change.
	Subscribe() (<-chan struct{}, func())
}

// Server implements the Workload API for one identity: whoever can open
// the socket is that workload, so the socket's directory permissions are
// the access control, as with a per-pod Istio agent socket.
type Server struct {
	workload.UnimplementedSpiffeWorkloadAPIServer
	Log    *slog.Logger
	Source Source
}

// Serve listens on the Unix socket at path (0600 in a 0700 directory)
// until ctx ends.
func (s *Server) Serve(ctx context.Context, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	lis, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		lis.Close()
		return err
	}
	gs := grpc.NewServer()
	workload.RegisterSpiffeWorkloadAPIServer(gs, s)
	go func() {
		<-ctx.Done()
		gs.Stop()
	}()
	err = gs.Serve(lis)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// The Workload API spec requires this header so a browser or an SSRF
// cannot reach the API by accident.
func checkHeader(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("workload.spiffe.io"); len(v) != 1 || v[0] != "true" {
		return status.Error(codes.InvalidArgument, "security header missing from request")
	}
	return nil
}

// FetchX509SVID streams the SVID now and after every rotation.
func (s *Server) FetchX509SVID(_ *workload.X509SVIDRequest, stream grpc.ServerStreamingServer[workload.X509SVIDResponse]) error {
	return s.watch(stream.Context(), func(svid *x509svid.SVID, b *x509bundle.Bundle) error {
		key, err := x509.MarshalPKCS8PrivateKey(svid.PrivateKey)
		if err != nil {
			return status.Errorf(codes.Internal, "marshal key: %v", err)
		}
		return stream.Send(&workload.X509SVIDResponse{Svids: []*workload.X509SVID{{
			SpiffeId:    svid.ID.String(),
			X509Svid:    concat(svid.Certificates),
			X509SvidKey: key,
			Bundle:      concat(b.X509Authorities()),
		}}})
	})
}

// FetchX509Bundles streams the trust bundle now and after every change.
func (s *Server) FetchX509Bundles(_ *workload.X509BundlesRequest, stream grpc.ServerStreamingServer[workload.X509BundlesResponse]) error {
	return s.watch(stream.Context(), func(_ *x509svid.SVID, b *x509bundle.Bundle) error {
		return stream.Send(&workload.X509BundlesResponse{Bundles: map[string][]byte{
			b.TrustDomain().IDString(): concat(b.X509Authorities()),
		}})
	})
}

func (s *Server) watch(ctx context.Context, send func(*x509svid.SVID, *x509bundle.Bundle) error) error {
	if err := checkHeader(ctx); err != nil {
		return err
	}
	changed, cancel := s.Source.Subscribe()
	defer cancel()
	for {
		svid, b, err := s.Source.Current()
		if err != nil {
			s.Log.Warn("Workload API has no SVID to hand out", "error", err)
			return status.Errorf(codes.Unavailable, "no SVID yet: %v", err)
		}
		if err := send(svid, b); err != nil {
			s.Log.Debug("Workload API client went away", "error", err)
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}

func concat(certs []*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, c.Raw...)
	}
	return out
}

// Package agent is the workload-side half of the built-in identity
// provider, like a SPIRE agent for one workload: it exchanges a join token
// for an SVID (the key never leaves the agent), serves it on a Workload
// API socket, renews it over mTLS at half its life, and keeps the trust
// bundle current so a root rotation reaches the workload before it
// matters.
package agent

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/secureai-nexus/nexus/controlplane/internal/identity"
	"github.com/secureai-nexus/nexus/controlplane/internal/notify"
	"github.com/secureai-nexus/nexus/controlplane/internal/workloadapi"
)

// Config configures an agent.
type Config struct {
	// Server is the control plane's xDS/identity address (host:port).
	Server string
	// ControlPlaneID is the SPIFFE id the control plane must present.
	ControlPlaneID spiffeid.ID
	// Bundle is the trust bundle to start from (the control plane's
	// bundle.pem); it is replaced by the control plane's as it changes.
	Bundle *x509bundle.Bundle
	// JoinToken is spent on the first request.
	JoinToken string
	// Socket is where the Workload API is served.
	Socket string
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Agent holds one workload's identity.
type Agent struct {
	log *slog.Logger
	cfg Config

	changes notify.Hub

	mu     sync.RWMutex
	svid   *x509svid.SVID
	bundle *x509bundle.Bundle
}

// Join spends the join token and returns an agent holding its first SVID.
func Join(ctx context.Context, log *slog.Logger, cfg Config) (*Agent, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Bundle == nil {
		return nil, errors.New("agent: a trust bundle is required to verify the control plane")
	}
	a := &Agent{log: log, cfg: cfg, bundle: cfg.Bundle}
	svid, err := a.sign(ctx, identity.MethodJoin, cfg.JoinToken)
	if err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	a.svid = svid
	if err := a.refreshBundle(ctx); err != nil {
		return nil, err
	}
	log.Info("joined", "spiffe_id", svid.ID.String(), "expires", svid.Certificates[0].NotAfter)
	return a, nil
}

// Current implements workloadapi.Source.
func (a *Agent) Current() (*x509svid.SVID, *x509bundle.Bundle, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.svid, a.bundle, nil
}

// GetX509SVID implements x509svid.Source.
func (a *Agent) GetX509SVID() (*x509svid.SVID, error) {
	s, _, _ := a.Current()
	return s, nil
}

// GetX509BundleForTrustDomain implements x509bundle.Source.
func (a *Agent) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	_, b, _ := a.Current()
	return b.GetX509BundleForTrustDomain(td)
}

// Subscribe implements workloadapi.Source.
func (a *Agent) Subscribe() (<-chan struct{}, func()) { return a.changes.Subscribe() }

// Run serves the Workload API and renews until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() {
		errc <- (&workloadapi.Server{Log: a.log, Source: a}).Serve(ctx, a.cfg.Socket)
	}()
	a.log.Info("serving the Workload API", "socket", a.cfg.Socket)
	for {
		wait := a.untilRenewal()
		select {
		case <-ctx.Done():
			return <-errc
		case err := <-errc:
			return err
		case <-time.After(wait):
		}
		if err := a.Renew(ctx); err != nil {
			a.log.Error("renewal failed; retrying", "error", err)
			select {
			case <-ctx.Done():
				return <-errc
			case <-time.After(time.Second):
			}
		}
	}
}

// untilRenewal is the time left until half the SVID's life.
func (a *Agent) untilRenewal() time.Duration {
	s, _, _ := a.Current()
	c := s.Certificates[0]
	half := c.NotBefore.Add(c.NotAfter.Sub(c.NotBefore) / 2)
	return max(half.Sub(a.cfg.Now()), 0)
}

// Renew gets a new SVID over mTLS with the current one, and the bundle.
func (a *Agent) Renew(ctx context.Context) error {
	svid, err := a.sign(ctx, identity.MethodRenew, "")
	if err != nil {
		return fmt.Errorf("renew: %w", err)
	}
	a.mu.Lock()
	a.svid = svid
	a.mu.Unlock()
	a.changes.Notify()
	a.log.Debug("renewed", "spiffe_id", svid.ID.String(), "expires", svid.Certificates[0].NotAfter)
	return a.refreshBundle(ctx)
}

func (a *Agent) refreshBundle(ctx context.Context) error {
	conn, err := a.dial(false)
	if err != nil {
		return err
	}
	defer conn.Close()
	out := new(wrapperspb.BytesValue)
	if err := conn.Invoke(ctx, identity.MethodBundle, &emptypb.Empty{}, out); err != nil {
		return fmt.Errorf("fetch bundle: %w", err)
	}
	roots, err := x509.ParseCertificates(out.GetValue())
	if err != nil || len(roots) == 0 {
		return fmt.Errorf("fetch bundle: bad bundle: %v", err)
	}
	b := x509bundle.FromX509Authorities(a.cfg.ControlPlaneID.TrustDomain(), roots)
	a.mu.Lock()
	changed := !b.Equal(a.bundle)
	if changed {
		a.bundle = b
	}
	a.mu.Unlock()
	if changed {
		a.changes.Notify()
		a.log.Info("trust bundle changed", "roots", len(roots))
	}
	return nil
}

// sign makes a fresh key, sends its CSR to method and returns the SVID.
func (a *Agent) sign(ctx context.Context, method, bearer string) (*x509svid.SVID, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		return nil, err
	}
	conn, err := a.dial(method == identity.MethodRenew)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var opts []grpc.CallOption
	if bearer != "" {
		opts = append(opts, grpc.PerRPCCredentials(bearerCreds(bearer)))
	}
	out := new(wrapperspb.BytesValue)
	if err := conn.Invoke(ctx, method, wrapperspb.Bytes(csr), out, opts...); err != nil {
		// The control plane's refusal ("join token already used") is the
		// message; the gRPC wrapping around it is not.
		if st, ok := status.FromError(err); ok && st.Code() != codes.Unavailable && st.Code() != codes.DeadlineExceeded {
			return nil, fmt.Errorf("refused by the control plane: %s", st.Message())
		}
		return nil, err
	}
	chain, err := x509.ParseCertificates(out.GetValue())
	if err != nil || len(chain) == 0 {
		return nil, fmt.Errorf("bad certificate chain from the control plane: %v", err)
	}
	id, err := x509svid.IDFromCert(chain[0])
	if err != nil {
		return nil, err
	}
	return &x509svid.SVID{ID: id, Certificates: chain, PrivateKey: key}, nil
}

// dial connects to the control plane, verifying it is ControlPlaneID;
// with mtls it presents the current SVID.
func (a *Agent) dial(mtls bool) (*grpc.ClientConn, error) {
	authz := tlsconfig.AuthorizeID(a.cfg.ControlPlaneID)
	cfg := tlsconfig.TLSClientConfig(a, authz)
	if mtls {
		cfg = tlsconfig.MTLSClientConfig(a, a, authz)
	}
	return grpc.NewClient(a.cfg.Server, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
}

type bearerCreds string

func (b bearerCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}
func (bearerCreds) RequireTransportSecurity() bool { return true }

// Package identity gives nexus-authz its SPIFFE identity from a Workload
// API socket (Nexus's agent or a SPIRE agent) and builds the mTLS it
// speaks: a gRPC listener that accepts only the SPIFFE ids allowed, and an
// HTTP client for policy bundle pulls that accepts only the control plane.
package identity

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc/credentials"
)

// Config says where the SVID comes from and whom to trust.
type Config struct {
	// Socket is the Workload API address, e.g. unix:///run/nexus/authz.sock.
	Socket string
	// TrustDomain admits any workload of it when AllowedIDs is empty.
	TrustDomain string
	// AllowedIDs, when set, are the only callers accepted (the sidecars).
	AllowedIDs []string
}

// Identity is a live SVID and bundle from the Workload API.
type Identity struct {
	log   *slog.Logger
	src   *workloadapi.X509Source
	authz tlsconfig.Authorizer
}

// Open connects to the Workload API and waits for the first SVID.
func Open(ctx context.Context, log *slog.Logger, cfg Config) (*Identity, error) {
	var authz tlsconfig.Authorizer
	switch {
	case len(cfg.AllowedIDs) > 0:
		ids := make([]spiffeid.ID, 0, len(cfg.AllowedIDs))
		for _, s := range cfg.AllowedIDs {
			id, err := spiffeid.FromString(s)
			if err != nil {
				return nil, fmt.Errorf("--allow-spiffe-id %q: %w", s, err)
			}
			ids = append(ids, id)
		}
		authz = tlsconfig.AuthorizeOneOf(ids...)
	case cfg.TrustDomain != "":
		td, err := spiffeid.TrustDomainFromString(cfg.TrustDomain)
		if err != nil {
			return nil, fmt.Errorf("--trust-domain: %w", err)
		}
		authz = tlsconfig.AuthorizeMemberOf(td)
	default:
		return nil, fmt.Errorf("mTLS needs --trust-domain or --allow-spiffe-id to know whom to accept")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	src, err := workloadapi.NewX509Source(ctx, workloadapi.WithClientOptions(workloadapi.WithAddr(cfg.Socket)))
	if err != nil {
		return nil, fmt.Errorf("no SVID from the Workload API at %s: %w", cfg.Socket, err)
	}
	svid, _ := src.GetX509SVID()
	log.Info("SPIFFE identity", "spiffe_id", svid.ID.String(), "expires", svid.Certificates[0].NotAfter)
	return &Identity{log: log, src: src, authz: authz}, nil
}

// Close stops watching the Workload API.
func (i *Identity) Close() error { return i.src.Close() }

// logged wraps an authorizer so every refused peer is logged: a valid
// certificate with the wrong SPIFFE id is an event an operator wants.
func (i *Identity) logged(what string, a tlsconfig.Authorizer) tlsconfig.Authorizer {
	return func(id spiffeid.ID, chains [][]*x509.Certificate) error {
		if err := a(id, chains); err != nil {
			i.log.Warn("mTLS peer refused", "channel", what, "spiffe_id", id.String(), "reason", err)
			return err
		}
		return nil
	}
}

// ServerCreds is the gRPC listener's mTLS.
func (i *Identity) ServerCreds() credentials.TransportCredentials {
	cfg := tlsconfig.MTLSServerConfig(i.src, i.src, i.logged("ext_authz", i.authz))
	cfg.MinVersion = tls.VersionTLS12
	return credentials.NewTLS(cfg)
}

// BundleClient is an HTTP client for policy bundle pulls that presents
// the SVID and accepts only serverID.
func (i *Identity) BundleClient(serverID string) (*http.Client, error) {
	id, err := spiffeid.FromString(serverID)
	if err != nil {
		return nil, fmt.Errorf("--bundle-server-id: %w", err)
	}
	cfg := tlsconfig.MTLSClientConfig(i.src, i.src, i.logged("bundle pull", tlsconfig.AuthorizeID(id)))
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}}, nil
}

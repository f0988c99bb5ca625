// Package identity serves nexus-backend over mTLS with the SVID from a
// SPIFFE Workload API socket (Nexus's agent or a SPIRE agent), admitting
// only the model sidecar's SPIFFE id: the last hop of a model call is as
// authenticated as the others.
package identity

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// ServerTLS waits for the first SVID from socket and returns a TLS config
// that presents it (rotating) and accepts only the allowed SPIFFE ids, or
// any member of trustDomain when none is listed. Close the returned
// source when done.
func ServerTLS(ctx context.Context, log *slog.Logger, socket string, allowed []string, trustDomain string) (*tls.Config, *workloadapi.X509Source, error) {
	var authz tlsconfig.Authorizer
	switch {
	case len(allowed) > 0:
		ids := make([]spiffeid.ID, 0, len(allowed))
		for _, a := range allowed {
			id, err := spiffeid.FromString(a)
			if err != nil {
				return nil, nil, fmt.Errorf("--allow-spiffe-id %q: %w", a, err)
			}
			ids = append(ids, id)
		}
		authz = tlsconfig.AuthorizeOneOf(ids...)
	case trustDomain != "":
		td, err := spiffeid.TrustDomainFromString(trustDomain)
		if err != nil {
			return nil, nil, fmt.Errorf("--trust-domain: %w", err)
		}
		authz = tlsconfig.AuthorizeMemberOf(td)
	default:
		return nil, nil, errors.New("mTLS needs --allow-spiffe-id or --trust-domain to know whom to accept")
	}
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	src, err := workloadapi.NewX509Source(wait, workloadapi.WithClientOptions(workloadapi.WithAddr(socket)))
	if err != nil {
		return nil, nil, fmt.Errorf("no SVID from the Workload API at %s: %w", socket, err)
	}
	logged := func(id spiffeid.ID, chains [][]*x509.Certificate) error {
		if err := authz(id, chains); err != nil {
			log.Warn("mTLS peer refused", "spiffe_id", id.String(), "reason", err)
			return err
		}
		return nil
	}
	cfg := tlsconfig.MTLSServerConfig(src, src, logged)
	cfg.MinVersion = tls.VersionTLS12
	cfg.NextProtos = []string{"h2", "http/1.1"}
	if svid, err := src.GetX509SVID(); err == nil {
		log.Info("SPIFFE identity", "spiffe_id", svid.ID.String())
	}
	return cfg, src, nil
}
